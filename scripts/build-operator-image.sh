#!/usr/bin/env bash
# Build the operator image locally, without a registry: FROM scratch with the
# turnout binary, the shared libraries it links (as `ldd` lists them) and the
# host's CA bundle. The image runs what manifests/03-deployment.yaml runs;
# the Dockerfile at the top of the repository builds the same for a
# registry (it needs rust and debian base images).
#
# Usage: scripts/build-operator-image.sh [BINARY] [TAG]
#   BINARY  default target/release/turnout (built if missing)
#   TAG     default turnout/operator:dev
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${1:-$root/target/release/turnout}
tag=${2:-turnout/operator:dev}

log() { printf 'build-operator-image: %s\n' "$*"; }
die() { printf 'build-operator-image: ERROR: %s\n' "$*" >&2; exit 1; }

if [ ! -x "$bin" ]; then
    [ "$bin" = "$root/target/release/turnout" ] || die "$bin is not an executable"
    log "building $bin"
    (cd "$root" && cargo build --release --locked -p turnout)
fi
command -v docker >/dev/null || die "docker not found; run scripts/ensure-docker.sh"
command -v ldd >/dev/null || die "ldd not found (Debian package libc-bin)"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/tmp"
cp "$bin" "$ctx/rootfs/usr/local/bin/turnout"
# Every library the binary links, at the path the loader expects it.
ldd "$bin" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$ctx/rootfs$lib"
done
[ -e "$ctx/rootfs/lib64/ld-linux-x86-64.so.2" ] || [ -n "$(find "$ctx/rootfs" -name 'ld-linux*' -print -quit)" ] ||
    die "the dynamic loader was not found in ldd's output"
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
fi
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENTRYPOINT ["/usr/local/bin/turnout"]
CMD ["run"]
DOCKERFILE
log "building $tag from $bin"
if ! out=$(docker build -q -t "$tag" "$ctx" 2>&1); then
    printf '%s\n' "$out" >&2
    die "docker build failed"
fi
log "built $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"

#!/usr/bin/env bash
# Build a real Kubernetes 1.20.2 from Debian's `kubernetes` source package,
# for the operator's integration tests. See docs/kube-test-server.md.
#
# Usage: scripts/kube-build.sh [server|node|all]     (default: all)
#   server  kube-apiserver, kube-controller-manager (scripts/kube-up.sh)
#   node    kubelet, kube-scheduler (scripts/kube-node-up.sh), and server
#   all     the same as node: everything `make test` runs
# kubectl is built too if none is on PATH.
#
# Idempotent: a binary already in the cache is never rebuilt; if all the
# requested ones are there it only makes sure the run-time packages
# (etcd-server, openssl, curl) are installed and exits. Whatever is missing of the
# requested set is built in one `make`, so a cold machine compiles the shared
# Kubernetes packages once for all four binaries.
#   cache:   ${TURNOUT_KUBE_CACHE:-/var/cache/turnout/kube}   (outside the checkout)
#   binaries: $CACHE/bin/{kube-apiserver,kube-controller-manager,kubelet,kube-scheduler}
#             (+ $CACHE/bin/kubectl, only if no kubectl is on PATH)
#   sources:  $CACHE/src (deleted after a successful build unless
#             TURNOUT_KUBE_KEEP_SRC=1)
#
# What a build does (about 6 minutes for the server pair alone, 9-10 for all
# four, measured on 2 cores; see docs/kube-test-server.md):
#   1. adds a deb-src entry for the already-configured Debian mirror (derived
#      from apt's own configuration, no host is hard-coded) if none exists;
#   2. apt-get installs golang-go, build tools, rsync, dpkg-dev and Debian's
#      golang-github-modern-go-reflect2-dev (1.0.2);
#   3. `apt-get source kubernetes` (1.20.2);
#   4. replaces vendor/github.com/modern-go/reflect2 (1.0.1, which breaks on
#      current Go) with Debian's 1.0.2;
#   5. edits the kubelet so that it runs on a shared machine without changing
#      it (each edit is checked; a source that no longer matches fails the
#      build):
#      a. dockershim's sandbox oom_score_adj -998 -> 0 and Guaranteed pods'
#         -997 -> 0 (pkg/kubelet/dockershim/docker_sandbox.go,
#         pkg/kubelet/qos/policy.go; Burstable pods keep their floor of 3).
#         A negative oom_score_adj needs CAP_SYS_RESOURCE, which these
#         machines' bounding set lacks, so runc fails every pod with "can't
#         get final child's PID from pipe: EOF";
#      b. kernel.panic, kernel.panic_on_oops, vm.overcommit_memory, ... are
#         only warned about, never rewritten, when the kubelet starts
#         (KernelTunableModify -> KernelTunableWarn in
#         pkg/kubelet/cm/container_manager_linux.go);
#      c. dockershim never touches the Docker daemon's and containerd's
#         processes (their oom_score_adj set to -999 every 5 minutes, in
#         pkg/kubelet/dockershim/cm/container_manager_linux.go);
#      d. the "no network plugin" plugin does not modprobe br-netfilter or
#         set net.bridge.bridge-nf-call-ip{,6}tables (the test pods use the
#         host's network; pkg/kubelet/dockershim/network/plugins.go);
#   6. make WHAT="cmd/..." for the missing binaries, with the KUBE_GIT_*
#      version variables set (there is no .git in the source).
# Must run as root (apt-get). Serialised with flock on $CACHE/build.lock.
set -euo pipefail

log() { printf 'kube-build: %s\n' "$*"; }
die() { printf 'kube-build: ERROR: %s\n' "$*" >&2; exit 1; }

CACHE=${TURNOUT_KUBE_CACHE:-/var/cache/turnout/kube}
BIN=$CACHE/bin
SRC=$CACHE/src
KUBE_VERSION=1.20.2

if [ "$(id -u)" -ne 0 ]; then
    die "must run as root (needs apt-get)"
fi

export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
apt_updated=0
apt_update() {
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
}
apt_install() {
    apt_update
    log "apt-get install -y $*"
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
# Packages (among "$@") that are not installed.
missing_pkgs() {
    local p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            printf '%s\n' "$p"
        fi
    done
}
ensure_pkgs() {
    local m
    m=$(missing_pkgs "$@")
    if [ -n "$m" ]; then
        # shellcheck disable=SC2086
        apt_install $m
    fi
}

mkdir -p "$CACHE"
exec 9>"$CACHE/build.lock"
if ! flock -n 9; then
    log "another kube-build is running; waiting for $CACHE/build.lock"
    flock 9
fi

# Run-time needs of scripts/kube-up.sh and kube-node-up.sh.
ensure_pkgs etcd-server openssl ca-certificates curl

case "${1:-all}" in
    server) need=(kube-apiserver kube-controller-manager) ;;
    node | all) need=(kube-apiserver kube-controller-manager kubelet kube-scheduler) ;;
    *) die "usage: $0 [server|node|all]" ;;
esac
[ $# -le 1 ] || die "usage: $0 [server|node|all]"
if ! command -v kubectl >/dev/null 2>&1; then
    need+=(kubectl)
fi
todo=()
for b in "${need[@]}"; do
    if [ ! -x "$BIN/$b" ]; then
        todo+=("$b")
    fi
done
if [ "${#todo[@]}" -eq 0 ]; then
    log "cached: $("$BIN/kube-apiserver" --version) in $BIN (${need[*]})"
    exit 0
fi

started=$(date +%s)
case "${#todo[@]}" in
    1 | 2) minutes=6 ;;
    *) minutes=10 ;;
esac
log "building ${todo[*]} (Kubernetes $KUBE_VERSION) into $BIN; about $minutes minutes on 2 cores (longer on a busy machine)"

# --- 1. deb-src for the configured mirror ------------------------------------
# shellcheck disable=SC1091
. /etc/os-release
codename=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
# shellcheck disable=SC2016 # apt's own $(FIELD) placeholders
has_src() {
    apt-get indextargets --format '$(TARGET_OF) $(RELEASE)' 2>/dev/null |
        grep -qx "deb-src $codename"
}
if ! has_src; then
    # The URI of the configured "deb" source for <codename> main, whatever
    # format (one-line .list or deb822 .sources) it was written in.
    # shellcheck disable=SC2016
    uri=$(apt-get indextargets --format '$(TARGET_OF) $(RELEASE) $(COMPONENT) $(REPO_URI)' 2>/dev/null |
        awk -v c="$codename" '$1 == "deb" && $2 == c && $3 == "main" { print $4; exit }')
    [ -n "$uri" ] || die "no 'deb' source for $codename main is configured in /etc/apt; cannot derive a deb-src line"
    f=/etc/apt/sources.list.d/turnout-deb-src.sources
    log "adding deb-src for $uri $codename main ($f)"
    {
        echo "# Added by turnout scripts/kube-build.sh (source of the kubernetes package)"
        echo "Types: deb-src"
        echo "URIs: $uri"
        echo "Suites: $codename"
        echo "Components: main"
        if [ -r /usr/share/keyrings/debian-archive-keyring.gpg ]; then
            echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
        fi
    } >"$f"
    apt_updated=0
fi

# --- 2. build dependencies ----------------------------------------------------
ensure_pkgs golang-go golang-github-modern-go-reflect2-dev rsync dpkg-dev \
    build-essential make gcc libc6-dev findutils coreutils sed gawk
# `apt-get source` needs fresh source indexes.
apt_update

reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
[ -f "$reflect2/reflect2.go" ] || die "$reflect2/reflect2.go missing after installing golang-github-modern-go-reflect2-dev"
log "$(go version)"

# --- 3. source ------------------------------------------------------------------
rm -rf "$SRC"
mkdir -p "$SRC"
log "apt-get source kubernetes in $SRC"
(cd "$SRC" && apt-get source -qq kubernetes >"$SRC/apt-source.log" 2>&1) ||
    { tail -n 30 "$SRC/apt-source.log" >&2; die "apt-get source kubernetes failed"; }
tree=$(find "$SRC" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
{ [ -n "$tree" ] && [ -f "$tree/Makefile" ]; } || die "no unpacked kubernetes-* source tree with a Makefile in $SRC"
log "source tree: $tree"
[ -d "$tree/vendor/github.com/modern-go/reflect2" ] ||
    die "$tree has no vendor/github.com/modern-go/reflect2; the source package changed"

# --- 4. reflect2 1.0.1 -> Debian's 1.0.2 -------------------------------------------
log "replacing vendor/github.com/modern-go/reflect2 with $reflect2"
rm -rf "$tree/vendor/github.com/modern-go/reflect2"
mkdir -p "$tree/vendor/github.com/modern-go/reflect2"
# -L: Debian's gocode tree may hold symlinks; copy real files, no tests.
rsync -aL --exclude='*_test.go' --exclude='/test*/' "$reflect2/" "$tree/vendor/github.com/modern-go/reflect2/"
# vendor/modules.txt keeps saying v1.0.1: it must match go.mod, and the
# version string is not checked against the files.

# --- 5. edits for a shared machine -------------------------------------------------
# edit FILE PERL_SUBSTITUTION CHECK: applies the substitution, then requires
# CHECK (a fixed string) in FILE, so a changed source fails here, loudly.
edit() {
    local file=$tree/$1
    [ -f "$file" ] || die "$1 is missing; the source package changed, review the edits in $0"
    perl -0pi -e "$2" "$file"
    grep -qF -- "$3" "$file" || die "edit of $1 did not apply ($3); the source package changed, review the edits in $0"
}
log "editing the kubelet for a shared machine (oom_score_adj, sysctls, the Docker daemon)"
edit pkg/kubelet/dockershim/docker_sandbox.go \
    's/defaultSandboxOOMAdj int = -998/defaultSandboxOOMAdj int = 0/' \
    'defaultSandboxOOMAdj int = 0'
edit pkg/kubelet/qos/policy.go \
    's/guaranteedOOMScoreAdj int = -997/guaranteedOOMScoreAdj int = 0/; s/\(1000 \+ guaranteedOOMScoreAdj\)/(3)/g' \
    'guaranteedOOMScoreAdj int = 0'
if grep -qF '1000 + guaranteedOOMScoreAdj' "$tree/pkg/kubelet/qos/policy.go"; then
    die "pkg/kubelet/qos/policy.go still uses 1000 + guaranteedOOMScoreAdj; review the edits in $0"
fi
edit pkg/kubelet/cm/container_manager_linux.go \
    's/b := KernelTunableModify\n/b := KernelTunableWarn \/\/ turnout: never rewrite the machine\x27s sysctls\n/' \
    'b := KernelTunableWarn'
edit pkg/kubelet/dockershim/cm/container_manager_linux.go \
    's/(func \(m \*containerManager\) doWork\(\) \{\n)/$1\treturn \/\/ turnout: leave the shared Docker daemon\x27s processes alone\n/' \
    'return // turnout: leave the shared Docker daemon'
edit pkg/kubelet/dockershim/network/plugins.go \
    's/(func \(plugin \*NoopNetworkPlugin\) Init\([^\n]*\{\n)/$1\treturn nil \/\/ turnout: no modprobe, no bridge sysctls\n/' \
    'return nil // turnout: no modprobe, no bridge sysctls'

# --- 6. build ---------------------------------------------------------------------
export KUBE_GIT_VERSION=v$KUBE_VERSION KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20 \
    KUBE_GIT_TREE_STATE=clean KUBE_GIT_COMMIT=0000000000000000000000000000000000000000
what=""
for b in "${todo[@]}"; do what="$what cmd/$b"; done
what=${what# }
buildlog=$CACHE/build.log
log "make WHAT=\"$what\" (log: $buildlog)"
if ! (cd "$tree" && nice -n 10 make WHAT="$what" >"$buildlog" 2>&1); then
    tail -n 40 "$buildlog" >&2
    die "make failed; full log in $buildlog, sources kept in $tree"
fi

# --- install -------------------------------------------------------------------------
mkdir -p "$BIN"
for b in "${todo[@]}"; do
    out=$(find "$tree/_output" -type f -name "$b" -path '*/bin/*' | head -n 1)
    [ -n "$out" ] || die "make succeeded but no _output/.../bin/$b in $tree"
    install -m 0755 "$out" "$BIN/.$b.tmp"
    mv -f "$BIN/.$b.tmp" "$BIN/$b"
    log "installed $BIN/$b"
done
for b in "${todo[@]}"; do
    [ "$b" = kubectl ] && continue
    v=$("$BIN/$b" --version 2>&1)
    case "$v" in
        *"v$KUBE_VERSION"*) ;;
        *) die "unexpected $b version: $v" ;;
    esac
done
v=$("$BIN/kube-apiserver" --version)

if [ "${TURNOUT_KUBE_KEEP_SRC:-0}" != 1 ]; then
    log "removing build tree $SRC (set TURNOUT_KUBE_KEEP_SRC=1 to keep it)"
    rm -rf "$SRC"
fi
log "done in $(( $(date +%s) - started )) s: $v"

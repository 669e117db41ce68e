#!/usr/bin/env bash
# Build the demo container images turnout's tests use, entirely locally
# (no registry, no pulls):
#
#   turnout/busybox:demo   FROM scratch + Debian's static /bin/busybox
#                          (+ tini as PID 1)
#   turnout/db-base:demo   Debian bookworm rootfs (debootstrap minbase +
#                          mariadb-server, postgresql-15, redis-server),
#                          imported with `docker import`; base of:
#   turnout/mariadb:demo   MariaDB server     0.0.0.0:3306
#   turnout/postgres:demo  PostgreSQL 15      0.0.0.0:5432
#   turnout/redis:demo     redis-server       0.0.0.0:6379
#
# Usage: scripts/build-images.sh [--force] [--refresh-rootfs] [IMAGE...]
#   IMAGE           busybox, mariadb, postgres, redis (default: all)
#   --force         rebuild the images even if they are up to date
#   --refresh-rootfs  also re-run debootstrap instead of using the cached
#                   rootfs in /var/cache/turnout/rootfs
#
# Idempotent: an image that exists and carries the label of the current
# recipe (hash of these scripts' inputs) is skipped. The debootstrap'ed
# rootfs is cached, keyed by mirror + package list, so re-imports are quick.
# Needs root, a running docker daemon, busybox-static, tini, debootstrap:
# run scripts/ensure-docker.sh first. Details: docs/images.md.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGES_DIR=$SCRIPT_DIR/images
CACHE_DIR=${TURNOUT_CACHE_DIR:-/var/cache/turnout}
ROOTFS=$CACHE_DIR/rootfs
SUITE=bookworm
# Bump when the rootfs preparation below changes in a way the key misses.
ROOTFS_RECIPE=4
DB_PACKAGES=(mariadb-server mariadb-client postgresql-15 postgresql-client-15 redis-server redis-tools)

TINI=/usr/bin/tini-static
IMG_BUSYBOX=turnout/busybox:demo
IMG_BASE=turnout/db-base:demo
declare -A IMG=([busybox]=$IMG_BUSYBOX [mariadb]=turnout/mariadb:demo
                [postgres]=turnout/postgres:demo [redis]=turnout/redis:demo)

# The legacy builder resolves FROM against local images only and works with
# the docker.io 20.10 daemon; BuildKit/buildx is not needed (nor installed).
export DOCKER_BUILDKIT=0

log() { printf 'build-images: %s\n' "$*"; }
die() { printf 'build-images: ERROR: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

FORCE=0
REFRESH_ROOTFS=0
WANT=()
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        --refresh-rootfs) REFRESH_ROOTFS=1; FORCE=1 ;;
        -h|--help) usage; exit 0 ;;
        busybox|mariadb|postgres|redis) WANT+=("$arg") ;;
        *) usage >&2; die "unknown argument: $arg" ;;
    esac
done
[ "${#WANT[@]}" -gt 0 ] || WANT=(busybox mariadb postgres redis)

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"
command -v docker >/dev/null 2>&1 || die "docker not found; run scripts/ensure-docker.sh first"
docker info >/dev/null 2>&1 || die "docker daemon not reachable; run scripts/ensure-docker.sh first"

T0=$(date +%s)
TMP=$(mktemp -d /tmp/turnout-build.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/build.lock"
flock 9 || die "cannot lock $CACHE_DIR/build.lock"

hash_stdin() { sha256sum | cut -c1-16; }
# Hash of the relative names + contents of the files under the given paths
# (relative to scripts/images). Modes are left out on purpose: they depend
# on the checkout's umask, and the Dockerfiles/build set them explicitly.
hash_files() {
    (cd "$IMAGES_DIR" && find "$@" -type f -print0 | LC_ALL=C sort -z \
        | xargs -0 sh -c 'for f; do printf "%s\n" "$f"; cat "$f"; done' sh) | hash_stdin
}
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
image_label() { docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
image_id() { docker image inspect -f '{{.Id}}' "$1"; }

# Run a noisy command with its output in a log file; show the log on failure.
quiet() {
    local name=$1; shift
    local logf=$TMP/$name.log
    if ! "$@" >"$logf" 2>&1; then
        echo "---- $name failed; last lines of its output ----" >&2
        tail -n 40 "$logf" >&2
        return 1
    fi
}

# --- Debian mirror of this host ---------------------------------------------
# Prints "<main mirror URI> <security URI or ->" from /etc/apt/sources.list
# and /etc/apt/sources.list.d/*.{list,sources}. Override with
# TURNOUT_DEBIAN_MIRROR / TURNOUT_DEBIAN_SECURITY_MIRROR.
detect_mirrors() {
    local files=()
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    local f
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ "${#files[@]}" -gt 0 ] || { echo "- -"; return; }
    awk -v suite="$SUITE" '
        function consider(uri, suites,   n, i, s) {
            n = split(suites, s, /[ \t]+/)
            for (i = 1; i <= n; i++) {
                if (s[i] == suite && main == "") main = uri
                if (s[i] == suite "-security" && sec == "") sec = uri
            }
        }
        function flush() {
            if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled !~ /^[Nn]o/ && uris != "") {
                nu = split(uris, u, /[ \t]+/)
                for (j = 1; j <= nu; j++) if (u[j] != "") consider(u[j], suites)
            }
            types = ""; uris = ""; suites = ""; enabled = ""
        }
        FNR == 1 { flush() }
        FILENAME ~ /\.sources$/ {
            if ($0 ~ /^[ \t]*$/) { flush(); next }
            if ($0 ~ /^#/) next
            line = $0; key = tolower(line); sub(/:.*/, "", key)
            val = line; sub(/^[^:]*:[ \t]*/, "", val)
            if (key == "types") types = val
            else if (key == "uris") uris = val
            else if (key == "suites") suites = val
            else if (key == "enabled") enabled = val
            next
        }
        $1 == "deb" {
            i = 2
            if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
            consider($i, $(i + 1))
        }
        END { flush(); print (main == "" ? "-" : main), (sec == "" ? "-" : sec) }
    ' "${files[@]}"
}

# --- rootfs (debootstrap) -----------------------------------------------------
mounts_under() { awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts; }

safe_rm_tree() {
    local d=$1
    [ -e "$d" ] || return 0
    if [ -n "$(mounts_under "$d")" ]; then
        die "refusing to delete $d: something is mounted below it ($(mounts_under "$d" | tr '\n' ' '))"
    fi
    rm -rf --one-file-system "$d"
}

build_rootfs() {
    local mirror=$1 security=$2 new=$CACHE_DIR/rootfs.new
    safe_rm_tree "$new"
    mkdir -p "$CACHE_DIR/debs"
    log "debootstrap --variant=minbase $SUITE from $mirror"
    quiet debootstrap debootstrap --variant=minbase --components=main \
        --cache-dir="$CACHE_DIR/debs" "$SUITE" "$new" "$mirror"

    {
        echo "deb $mirror $SUITE main"
        echo "deb $mirror $SUITE-updates main"
        [ "$security" = - ] || echo "deb $security $SUITE-security main"
    } >"$new/etc/apt/sources.list"
    # The host's apt proxy settings, if any, so apt inside the chroot works too.
    apt-config dump 2>/dev/null | grep -i '^Acquire::[a-z]*::Proxy' \
        >"$new/etc/apt/apt.conf.d/00turnout-proxy" || rm -f "$new/etc/apt/apt.conf.d/00turnout-proxy"
    # Never start services while installing (no init in the chroot/container).
    printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
    chmod 0755 "$new/usr/sbin/policy-rc.d"
    # Keep docs/man pages out of this and any later installs.
    cat >"$new/etc/dpkg/dpkg.cfg.d/01turnout-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
EOF
    cat >"$new/etc/apt/apt.conf.d/01turnout-no-recommends" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF

    log "installing ${DB_PACKAGES[*]} into the rootfs"
    quiet apt-update chroot "$new" apt-get update
    quiet apt-install chroot "$new" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${DB_PACKAGES[@]}"
    chroot "$new" apt-get clean

    log "trimming the rootfs"
    # Package-created data that must not end up in the image (a fresh named
    # volume is pre-filled from the image, which would skip our init).
    find "$new/var/lib/mysql" -mindepth 1 -delete 2>/dev/null || true
    rm -rf "$new/etc/postgresql/15/main" "$new/var/lib/postgresql/15"
    find "$new/var/lib/redis" -mindepth 1 -delete 2>/dev/null || true
    mkdir -p "$new/var/lib/mysql" "$new/var/lib/postgresql/data" "$new/data"
    chroot "$new" chown mysql:mysql /var/lib/mysql
    chroot "$new" chown postgres:postgres /var/lib/postgresql /var/lib/postgresql/data
    chmod 0700 "$new/var/lib/postgresql/data"
    chroot "$new" chown redis:redis /data
    # PostgreSQL's LLVM JIT provider drags in libLLVM + libz3 (~130 MB); the
    # server runs fine without it (jit is switched off by the entrypoint, and
    # postgres silently skips JIT when the provider cannot be loaded).
    rm -rf "$new"/usr/lib/postgresql/15/lib/llvmjit*.so "$new"/usr/lib/postgresql/15/lib/bitcode \
        "$new"/usr/lib/x86_64-linux-gnu/libLLVM-14.so* "$new"/usr/lib/x86_64-linux-gnu/libz3.so*
    # Offline repair/debug tools of MariaDB's Aria/MyISAM engines (~5 MB each).
    rm -f "$new"/usr/bin/aria_* "$new"/usr/bin/myisamchk "$new"/usr/bin/myisampack \
        "$new"/usr/bin/myisam_ftdump "$new"/usr/bin/myisamlog "$new"/usr/bin/mariadb-slap \
        "$new"/usr/bin/mysqlslap
    # Lists, caches, docs, logs, host-specific files.
    rm -rf "$new"/var/lib/apt/lists/* "$new"/var/cache/apt/* "$new"/var/cache/debconf/*-old \
        "$new"/var/lib/dpkg/*-old "$new"/usr/share/man/* "$new"/usr/share/info/* \
        "$new"/usr/share/lintian "$new"/tmp/* "$new"/var/tmp/* "$new"/root/.bash_history
    find "$new/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
    find "$new/usr/share/doc" -mindepth 1 -type d -empty -delete
    find "$new/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    find "$new/var/log" -type f -delete
    rm -f "$new/etc/resolv.conf" "$new/etc/hostname"
    : >"$new/etc/machine-id"

    safe_rm_tree "$ROOTFS"
    mv "$new" "$ROOTFS"
    log "rootfs ready: $(du -sh --one-file-system "$ROOTFS" | cut -f1) in $ROOTFS"
}

ensure_base() {
    local mirror security key
    read -r mirror security < <(detect_mirrors)
    mirror=${TURNOUT_DEBIAN_MIRROR:-$mirror}
    security=${TURNOUT_DEBIAN_SECURITY_MIRROR:-$security}
    [ "$mirror" != - ] || die "no Debian $SUITE mirror found in /etc/apt/sources.list*; set TURNOUT_DEBIAN_MIRROR"
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap not installed; run scripts/ensure-docker.sh first"
    key=$(printf '%s\n' "$ROOTFS_RECIPE" "$SUITE" "$mirror" "$security" "${DB_PACKAGES[*]}" | hash_stdin)

    if [ "$REFRESH_ROOTFS" -eq 1 ] || [ ! -f "$CACHE_DIR/rootfs.key" ] \
            || [ "$(cat "$CACHE_DIR/rootfs.key")" != "$key" ] || [ ! -x "$ROOTFS/usr/sbin/mariadbd" ]; then
        rm -f "$CACHE_DIR/rootfs.key"
        build_rootfs "$mirror" "$security"
        echo "$key" >"$CACHE_DIR/rootfs.key"
    else
        log "using cached rootfs $ROOTFS"
    fi

    # --force alone keeps an up-to-date base (re-importing would only give the
    # same layer a new image ID); --refresh-rootfs re-imports it.
    if [ "$REFRESH_ROOTFS" -eq 0 ] && image_exists "$IMG_BASE" && [ "$(image_label "$IMG_BASE" turnout.rootfs-key)" = "$key" ]; then
        log "$IMG_BASE is up to date"
        return
    fi
    log "importing $ROOTFS as $IMG_BASE"
    remember_old "$IMG_BASE"
    tar --numeric-owner --sort=name --one-file-system -C "$ROOTFS" -c . \
        | docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/lib/postgresql/15/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change "LABEL turnout.rootfs-key=$key" \
            --change 'CMD ["/bin/bash"]' \
            --message "turnout debootstrap $SUITE rootfs ($key)" \
            - "$IMG_BASE" >/dev/null
}

# Image IDs that lost their tag to a rebuild; removed at the end (with their
# untagged parent chain) unless a container still uses them.
OLD_IDS=()
remember_old() { image_exists "$1" && OLD_IDS+=("$(image_id "$1")") || true; }

# --- image builds -------------------------------------------------------------
# build_image NAME TAG CONTEXT RECIPE
build_image() {
    local name=$1 tag=$2 ctx=$3 recipe=$4
    log "docker build $tag"
    remember_old "$tag"
    local nocache=(); [ "$FORCE" -eq 1 ] && nocache=(--no-cache)
    quiet "build-$name" docker build --pull=false "${nocache[@]}" --label "turnout.recipe=$recipe" -t "$tag" "$ctx"
}

needs_build() { # TAG RECIPE
    [ "$FORCE" -eq 1 ] && return 0
    image_exists "$1" || return 0
    [ "$(image_label "$1" turnout.recipe)" = "$2" ] && return 1
    return 0
}

build_busybox() {
    local bb=/bin/busybox recipe ctx=$TMP/ctx-busybox
    dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' \
        || die "busybox-static is not installed (its static /bin/busybox is needed); run scripts/ensure-docker.sh first"
    [ -x "$bb" ] || bb=/usr/bin/busybox
    [ -x "$TINI" ] || die "$TINI missing (package tini); run scripts/ensure-docker.sh first"
    recipe=$( { hash_files busybox; sha256sum <"$bb"; sha256sum <"$TINI"; } | hash_stdin)
    if ! needs_build "$IMG_BUSYBOX" "$recipe"; then
        log "$IMG_BUSYBOX is up to date"
        return
    fi
    mkdir -p "$ctx"
    cp "$bb" "$ctx/busybox"
    cp "$TINI" "$ctx/tini"
    cp "$IMAGES_DIR/busybox/Dockerfile" "$ctx/"
    cp -a "$IMAGES_DIR/busybox/rootfs" "$ctx/rootfs"
    build_image busybox "$IMG_BUSYBOX" "$ctx" "$recipe"
    # Smoke test: the applets the tests rely on.
    docker run --rm "$IMG_BUSYBOX" sh -c 'for a in sh httpd nc wget sleep; do command -v $a >/dev/null || { echo "missing $a"; exit 1; }; done' \
        || die "$IMG_BUSYBOX smoke test failed"
}

build_service() {
    local svc=$1 recipe ctx=$TMP/ctx-$1
    recipe=$( { hash_files db "$svc"; image_id "$IMG_BASE"; } | hash_stdin)
    if ! needs_build "${IMG[$svc]}" "$recipe"; then
        log "${IMG[$svc]} is up to date"
        return
    fi
    mkdir -p "$ctx"
    cp -a "$IMAGES_DIR/db/bin" "$ctx/bin"
    chmod 0755 "$ctx"/bin/*
    cp "$IMAGES_DIR/$svc/Dockerfile" "$ctx/"
    build_image "$svc" "${IMG[$svc]}" "$ctx" "$recipe"
}

base_done=0
for w in "${WANT[@]}"; do
    case "$w" in
        busybox) build_busybox ;;
        *)
            if [ "$base_done" -eq 0 ]; then ensure_base; base_done=1; fi
            build_service "$w"
            ;;
    esac
done

for ((i = ${#OLD_IDS[@]} - 1; i >= 0; i--)); do
    id=${OLD_IDS[i]}
    # Skip if the rebuild produced the very same image, or it is still tagged.
    [ -z "$(docker image inspect -f '{{join .RepoTags " "}}' "$id" 2>/dev/null)" ] || continue
    docker rmi "$id" >/dev/null 2>&1 && log "removed superseded image ${id#sha256:}" || true
done

T1=$(date +%s)
log "done in $((T1 - T0))s. Images:"
docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}\t{{.ID}}' \
    | grep '^turnout/' | sort | awk -F'\t' '{ printf "  %-24s %9s  %s\n", $1, $2, $3 }'
log "(mariadb/postgres/redis share the db-base layer; their sizes overlap)"

#!/usr/bin/env bash
# Make sure a usable Docker daemon is present and running on this (Debian)
# host, plus the host tools scripts/build-images.sh needs.
#
# Idempotent: on a machine that already has everything it only checks.
#   - installs docker.io via apt if `docker` or `dockerd` is missing
#   - installs busybox-static, tini and debootstrap if missing
#   - starts dockerd in the background (detached, outlives this script,
#     log: /var/log/turnout-dockerd.log) if `docker info` fails, and waits
#     up to 60 s for it to answer.
# Must run as root (apt-get, dockerd).
set -euo pipefail

log() { printf 'ensure-docker: %s\n' "$*"; }
die() { printf 'ensure-docker: ERROR: %s\n' "$*" >&2; exit 1; }

DOCKERD_LOG=/var/log/turnout-dockerd.log
started_pid=
WAIT_SECS=${TURNOUT_DOCKERD_WAIT_SECS:-60}

if [ "$(id -u)" -ne 0 ]; then
    die "must run as root (needs apt-get and dockerd)"
fi

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
    log "apt-get install -y $*"
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- packages ---------------------------------------------------------------
missing=()
if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
    missing+=(docker.io)
fi
# busybox-static: the static /bin/busybox copied into turnout/busybox:demo
# (a dynamically linked busybox would not run in a FROM scratch image).
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
    missing+=(busybox-static)
fi
# tini: its static binary is PID 1 of turnout/busybox:demo (docker.io
# depends on it, but docker may have come from elsewhere).
if [ ! -x /usr/bin/tini-static ]; then
    missing+=(tini)
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    missing+=(debootstrap)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
else
    log "packages present (docker, dockerd, busybox-static, tini, debootstrap)"
fi

command -v docker >/dev/null 2>&1 || die "docker CLI still missing after install"
command -v dockerd >/dev/null 2>&1 || die "dockerd still missing after install"

# --- daemon -----------------------------------------------------------------
if docker info >/dev/null 2>&1; then
    log "docker daemon is running ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
    exit 0
fi

# Is a dockerd already running (e.g. still starting up)? Avoid pgrep: procps
# is not guaranteed on a minimal machine.
dockerd_running() {
    local p comm
    for p in /proc/[0-9]*; do
        comm=$(cat "$p/comm" 2>/dev/null) || continue
        [ "$comm" = dockerd ] && return 0
    done
    return 1
}

if dockerd_running; then
    log "dockerd process exists but 'docker info' fails; waiting for it"
else
    # A stale pid file from a crashed daemon makes dockerd refuse to start.
    if [ -f /var/run/docker.pid ]; then
        log "removing stale /var/run/docker.pid"
        rm -f /var/run/docker.pid
    fi
    log "starting dockerd (log: $DOCKERD_LOG)"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    # setsid + nohup + closed stdin: fully detached, survives this script
    # and the calling shell/CI step.
    setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    started_pid=$!
    disown || true
fi

# True while the dockerd we started is alive (not exited / a zombie).
started_alive() {
    [ -n "${started_pid:-}" ] || return 0
    [ -r "/proc/$started_pid/status" ] || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$started_pid/status"
}

for ((i = 0; i < WAIT_SECS; i++)); do
    if docker info >/dev/null 2>&1; then
        log "docker daemon is up after ${i}s ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
        exit 0
    fi
    if ! started_alive; then
        echo "---- last lines of $DOCKERD_LOG ----" >&2
        tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
        die "dockerd exited during startup (see $DOCKERD_LOG)"
    fi
    sleep 1
done

echo "---- last lines of $DOCKERD_LOG ----" >&2
tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
die "docker daemon did not become ready within ${WAIT_SECS}s (see $DOCKERD_LOG)"

#!/usr/bin/env bash
# A second Docker engine on this machine, standing in for another host: its
# own socket, data root, exec root, pid file, containerd namespace and
# bridge, no iptables. Ports it publishes go through the userland proxy, so
# containers on it publish on another loopback address (say 127.0.0.2)
# while the machine's usual engine keeps 127.0.0.1 for the same port
# numbers. Fleet tests use it as "host b"; anything that needs a second
# engine (a copy between hosts, over its socket or reached otherwise) can.
#
# Usage: scripts/second-engine.sh start [IMAGE...]
#        scripts/second-engine.sh stop
#        scripts/second-engine.sh status
#
#   start   creates the bridge (if this script has not already), starts
#           dockerd detached and waits until it answers, then loads each
#           IMAGE from the usual engine (docker save | docker -H ... load),
#           skipping those already there with the same image id. Running
#           it again on a running engine only loads images.
#   stop    stops that dockerd (SIGTERM; it stops its containers; SIGKILL
#           after TURNOUT_ENGINE2_STOP_SECS), then whatever it left behind
#           (its containerd, shims and proxies), unmounts what it left
#           mounted, and deletes the bridge if this script created it.
#           Stopping a stopped engine is not an error.
#   status  prints what runs (KEY=VALUE lines); exit 0 when running, 3 when not.
#
# Configuration (environment; defaults in brackets):
#   TURNOUT_ENGINE2_NAME       [turnout-second] names everything below
#   TURNOUT_ENGINE2_SOCKET     [/run/$NAME.sock]
#   TURNOUT_ENGINE2_DATA_ROOT  [/var/lib/$NAME]  kept by stop: images stay loaded
#   TURNOUT_ENGINE2_EXEC_ROOT  [/run/$NAME]
#   TURNOUT_ENGINE2_PIDFILE    [/run/$NAME.pid]
#   TURNOUT_ENGINE2_LOG        [/var/log/$NAME.log]
#   TURNOUT_ENGINE2_BRIDGE     [tsecond0]         at most 15 characters
#   TURNOUT_ENGINE2_SUBNET     [172.31.250.1/24]  the bridge's address; must
#                              not overlap any route on the machine
#   TURNOUT_ENGINE2_GROUP      [docker if it exists, else root] owns the socket
#   TURNOUT_ENGINE2_EXTRA_ARGS []    more dockerd arguments, split on
#                              whitespace (say a TLS listener:
#                              --host tcp://127.0.0.2:2376 --tlsverify ...)
#   TURNOUT_ENGINE2_WAIT_SECS  [60]  how long start waits for the engine
#   TURNOUT_ENGINE2_STOP_SECS  [30]  how long stop waits before SIGKILL
# The usual engine images are read from is the one the docker CLI uses
# (DOCKER_HOST, else the default socket).
#
# Must run as root (dockerd, ip). Only processes this engine started are
# ever signalled: the pid in the pid file if it still is dockerd serving
# this socket, its descendants, and processes whose command line names
# this exec root.
set -euo pipefail

log() { printf 'second-engine: %s\n' "$*" >&2; }
die() { printf 'second-engine: ERROR: %s\n' "$*" >&2; exit 1; }

NAME=${TURNOUT_ENGINE2_NAME:-turnout-second}
case "$NAME" in
    '' | *[!A-Za-z0-9_.-]* | [.-]*) die "TURNOUT_ENGINE2_NAME must be letters, digits, '.', '_' or '-': $NAME" ;;
esac
SOCKET=${TURNOUT_ENGINE2_SOCKET:-/run/$NAME.sock}
DATA_ROOT=${TURNOUT_ENGINE2_DATA_ROOT:-/var/lib/$NAME}
EXEC_ROOT=${TURNOUT_ENGINE2_EXEC_ROOT:-/run/$NAME}
PIDFILE=${TURNOUT_ENGINE2_PIDFILE:-/run/$NAME.pid}
LOGFILE=${TURNOUT_ENGINE2_LOG:-/var/log/$NAME.log}
BRIDGE=${TURNOUT_ENGINE2_BRIDGE:-tsecond0}
SUBNET=${TURNOUT_ENGINE2_SUBNET:-172.31.250.1/24}
read -r -a EXTRA_ARGS <<<"${TURNOUT_ENGINE2_EXTRA_ARGS:-}"
WAIT_SECS=${TURNOUT_ENGINE2_WAIT_SECS:-60}
STOP_SECS=${TURNOUT_ENGINE2_STOP_SECS:-30}
if [ -n "${TURNOUT_ENGINE2_GROUP:-}" ]; then
    GROUP=$TURNOUT_ENGINE2_GROUP
elif getent group docker >/dev/null 2>&1; then
    GROUP=docker
else
    GROUP=root
fi
# Records that this script created the bridge, so stop never deletes one it did not.
BRIDGE_MARK=$EXEC_ROOT.bridge
LOCK=$EXEC_ROOT.lock
ENGINE=unix://$SOCKET

for p in "$SOCKET" "$DATA_ROOT" "$EXEC_ROOT" "$PIDFILE" "$LOGFILE"; do
    case "$p" in
        /*) ;;
        *) die "paths must be absolute: $p" ;;
    esac
    case "$p" in
        *[[:space:]]* | *..*) die "paths must not contain whitespace or '..': $p" ;;
    esac
done
case "$BRIDGE" in
    '' | *[!A-Za-z0-9_-]*) die "TURNOUT_ENGINE2_BRIDGE must be letters, digits, '_' or '-': $BRIDGE" ;;
esac
[ "${#BRIDGE}" -le 15 ] || die "TURNOUT_ENGINE2_BRIDGE is longer than 15 characters: $BRIDGE"
[[ "$SUBNET" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$ ]] ||
    die "TURNOUT_ENGINE2_SUBNET must be an IPv4 address with a prefix length (172.31.250.1/24): $SUBNET"
[[ "$WAIT_SECS" =~ ^[0-9]+$ && "$STOP_SECS" =~ ^[0-9]+$ ]] ||
    die "TURNOUT_ENGINE2_WAIT_SECS and TURNOUT_ENGINE2_STOP_SECS must be whole seconds"

# --- which processes are this engine's ----------------------------------------

# The dockerd in the pid file, if it still is dockerd serving $SOCKET.
engine_pid() {
    local pid exe
    [ -f "$PIDFILE" ] || return 1
    pid=$(tr -dc '0-9' <"$PIDFILE")
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
    [ "$(basename "${exe% (deleted)}")" = dockerd ] || return 1
    tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qxF "unix://$SOCKET" || return 1
    echo "$pid"
}

# Every descendant of pid $1, from one pass over /proc (a process's parent
# pid is the second field after its command name, which may hold spaces).
descendants() {
    local root=$1 d stat fields queue pid
    local -A children=()
    for d in /proc/[0-9]*; do
        read -r stat 2>/dev/null <"$d/stat" || continue
        read -r -a fields <<<"${stat##*) }"
        children[${fields[1]}]+=" ${d#/proc/}"
    done
    queue=${children[$root]:-}
    while [ -n "${queue// /}" ]; do
        read -r pid queue <<<"$queue"
        echo "$pid"
        queue="$queue ${children[$pid]:-}"
    done
}

# The engine's containerd, shims and runc: they name the exec root on their
# command line and outlive a dockerd that was killed.
exec_root_users() {
    local d exe
    for d in /proc/[0-9]*; do
        exe=$(readlink "$d/exe" 2>/dev/null) || continue
        case "$(basename "${exe% (deleted)}")" in
            containerd* | runc | docker-*) ;;
            *) continue ;;
        esac
        tr '\0' '\n' 2>/dev/null <"$d/cmdline" | grep -qF "$EXEC_ROOT/" && echo "${d#/proc/}"
    done
    return 0
}

alive() { [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

answers() { timeout 10 docker -H "$ENGINE" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# --- the bridge ---------------------------------------------------------------

# Routes (other than our bridge's own) that overlap $SUBNET.
overlapping_routes() {
    {
        ip -o -4 route show root "$SUBNET"
        ip -o -4 route show match "$SUBNET" | grep -v '^default '
    } | grep -v " dev $BRIDGE " || true
}

ensure_bridge() {
    if ip link show dev "$BRIDGE" >/dev/null 2>&1; then
        if [ ! -f "$BRIDGE_MARK" ] || [ "$(cat "$BRIDGE_MARK")" != "$BRIDGE" ]; then
            die "a network interface $BRIDGE exists that this script did not create; pick another TURNOUT_ENGINE2_BRIDGE"
        fi
    else
        local clash
        clash=$(overlapping_routes)
        [ -z "$clash" ] || die "subnet $SUBNET overlaps routes on this machine ($clash); pick another TURNOUT_ENGINE2_SUBNET"
        ip link add "$BRIDGE" type bridge
        echo "$BRIDGE" >"$BRIDGE_MARK"
        log "created bridge $BRIDGE"
    fi
    ip -o -4 addr show dev "$BRIDGE" | grep -qF " $SUBNET " || ip addr add "$SUBNET" dev "$BRIDGE"
    ip link set "$BRIDGE" up
}

remove_bridge() {
    [ -f "$BRIDGE_MARK" ] || return 0
    local br
    br=$(cat "$BRIDGE_MARK")
    if ip link show dev "$br" >/dev/null 2>&1; then
        ip link del "$br"
        log "deleted bridge $br"
    fi
    rm -f "$BRIDGE_MARK"
}

# --- commands -----------------------------------------------------------------

start_engine() {
    local pid started
    if pid=$(engine_pid) && answers; then
        log "running (pid $pid, $ENGINE)"
        return 0
    fi
    if pid=$(engine_pid); then
        log "dockerd (pid $pid) is up but does not answer yet; waiting"
    else
        [ -z "$(exec_root_users)" ] ||
            die "processes from an earlier engine under $EXEC_ROOT are still running; run: $0 stop"
        ensure_bridge
        mkdir -p "$DATA_ROOT" "$EXEC_ROOT" "$(dirname "$LOGFILE")"
        rm -f "$PIDFILE"
        log "starting dockerd on $ENGINE (bridge $BRIDGE $SUBNET, log $LOGFILE)"
        # Detached (setsid, closed stdin): outlives this script and the caller's process group.
        setsid nohup dockerd \
            --host "$ENGINE" --group "$GROUP" \
            --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" --pidfile "$PIDFILE" \
            --containerd-namespace "$NAME" --containerd-plugins-namespace "$NAME-plugins" \
            --bridge "$BRIDGE" --iptables=false --ip-masq=false "${EXTRA_ARGS[@]}" \
            >>"$LOGFILE" 2>&1 </dev/null 9>&- &
        started=$!
        disown || true
    fi
    local i
    for ((i = 0; i < WAIT_SECS * 5; i++)); do
        if engine_pid >/dev/null && answers; then
            log "running after $((i / 5)) s (pid $(engine_pid), $ENGINE)"
            return 0
        fi
        if [ -n "${started:-}" ] && ! alive "$started"; then
            tail -n 25 "$LOGFILE" >&2 || true
            stop_engine
            die "dockerd exited while starting (log above, in $LOGFILE)"
        fi
        sleep 0.2
    done
    tail -n 25 "$LOGFILE" >&2 || true
    stop_engine
    die "dockerd did not answer on $ENGINE within $WAIT_SECS s (log above, in $LOGFILE)"
}

load_images() {
    local image id there
    for image in "$@"; do
        id=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null) ||
            die "image $image is not on the usual engine; build it first (scripts/build-images.sh)"
        there=$(docker -H "$ENGINE" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
        if [ "$there" = "$id" ]; then
            log "image $image already loaded"
            continue
        fi
        log "loading $image"
        docker save "$image" | docker -H "$ENGINE" load >/dev/null ||
            die "could not copy image $image into the engine on $ENGINE"
        there=$(docker -H "$ENGINE" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
        [ "$there" = "$id" ] || die "image $image was loaded but its id differs ($there, not $id)"
    done
}

# SIGTERM to every pid given, SIGKILL to those left after $STOP_SECS.
terminate() {
    local pid i left
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    for ((i = 0; i < STOP_SECS * 10; i++)); do
        left=
        for pid in "$@"; do alive "$pid" && left="$left $pid"; done
        [ -n "$left" ] || return 0
        sleep 0.1
    done
    log "still running after $STOP_SECS s:$left; SIGKILL"
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
    sleep 0.5
}

stop_engine() {
    local pid children leftovers mnt
    if pid=$(engine_pid); then
        children=$(descendants "$pid")
        log "stopping dockerd (pid $pid)"
        terminate "$pid"
        # Left behind only if dockerd was killed: its proxies and containerd.
        leftovers=
        for p in $children; do alive "$p" && leftovers="$leftovers $p"; done
        # shellcheck disable=SC2086
        terminate $leftovers
    fi
    # shellcheck disable=SC2046
    terminate $(exec_root_users)
    for pid in $(exec_root_users); do
        die "process $pid under $EXEC_ROOT did not stop"
    done
    # Mounts a killed engine left (its overlays, network namespaces), deepest first.
    # The paths were checked for whitespace above.
    # shellcheck disable=SC2013
    for mnt in $(awk -v a="$DATA_ROOT/" -v b="$EXEC_ROOT/" \
        'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/self/mounts | sort -r); do
        umount -l "$mnt" 2>/dev/null || true
    done
    # dockerd bind-mounts its data root onto itself when that is not a shared
    # mount, and leaves this file saying so; a clean shutdown undoes both.
    if [ -f "$EXEC_ROOT/unmount-on-shutdown" ]; then
        if mountpoint -q "$DATA_ROOT"; then umount -l "$DATA_ROOT" 2>/dev/null || true; fi
        rm -f "$EXEC_ROOT/unmount-on-shutdown"
    fi
    rm -f "$PIDFILE" "$SOCKET"
    remove_bridge
    log "stopped"
}

status_engine() {
    local pid running=1
    if pid=$(engine_pid) && answers; then
        echo "STATE=running"
        echo "PID=$pid"
        running=0
    else
        echo "STATE=stopped"
    fi
    echo "DOCKER_HOST=$ENGINE"
    echo "BRIDGE=$BRIDGE"
    echo "SUBNET=$SUBNET"
    echo "DATA_ROOT=$DATA_ROOT"
    echo "EXEC_ROOT=$EXEC_ROOT"
    echo "LOG=$LOGFILE"
    return "$running"
}

[ $# -ge 1 ] || die "usage: $0 start [IMAGE...] | stop | status"
cmd=$1
shift
case "$cmd" in
    start | stop) ;;
    status)
        [ $# -eq 0 ] || die "usage: $0 status"
        status_engine || exit 3
        exit 0
        ;;
    *) die "usage: $0 start [IMAGE...] | stop | status" ;;
esac
[ "$(id -u)" -eq 0 ] || die "must run as root (dockerd, ip)"
command -v dockerd >/dev/null || die "dockerd not found; run scripts/ensure-docker.sh"
if ! command -v ip >/dev/null; then
    log "apt-get install iproute2 (for ip)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null; } ||
        die "ip not found and iproute2 could not be installed"
fi
mkdir -p "$(dirname "$LOCK")"
exec 9>"$LOCK"
flock -w 120 9 || die "another $0 holds $LOCK"
case "$cmd" in
    start)
        start_engine
        load_images "$@"
        ;;
    stop)
        [ $# -eq 0 ] || die "usage: $0 stop"
        stop_engine
        ;;
esac

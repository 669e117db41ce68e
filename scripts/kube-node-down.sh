#!/usr/bin/env bash
# Stop the node that scripts/kube-node-up.sh RUN_DIR started, and leave the
# machine as it was. Run it before scripts/kube-down.sh RUN_DIR (it asks the
# API server to delete the node's pods); it still cleans up if the API
# server is gone.
#
# Usage: scripts/kube-node-down.sh RUN_DIR
#
# In order:
#   1. stops the node's controllers and the scheduler (nothing re-creates or
#      places a pod any more), then deletes every pod bound to the node and
#      waits (TURNOUT_KUBE_NODE_DRAIN_SECS, default 150) until the kubelet
#      has stopped and removed their containers and unmounted their volumes
#      (the API server drops a pod only then);
#   2. stops the kubelet, the scheduler and the node's controller manager by
#      pid, each only if it still is that program started from RUN_DIR
#      (SIGTERM, SIGKILL after 15 s);
#   3. removes the containers the kubelet left (labelled
#      io.kubernetes.docker.type, which only a kubelet sets; kube-node-up.sh
#      refused to start next to any), unless another node holds the
#      machine's node lock;
#   4. unmounts what the kubelet mounted under RUN_DIR/kubelet (its pods'
#      volumes, and the root directory it bind-mounts onto itself);
#   5. removes the machine paths the kubelet created (RUN_DIR/node-created:
#      /var/lib/kubelet, /var/log/pods, /var/log/containers when they did not
#      exist before);
#   6. checks the kubelet's log: it must never have removed an image.
# Logs stay in RUN_DIR. Running it twice is fine. Exit 1 if something could
# not be stopped or removed, or the kubelet removed an image.
set -euo pipefail

log() { printf 'kube-node-down: %s\n' "$*"; }
die() { printf 'kube-node-down: ERROR: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 RUN_DIR"
[ -d "$1" ] || die "no such directory: $1"
RUN=$(cd "$1" && pwd)
CACHE=${TURNOUT_KUBE_CACHE:-/var/cache/turnout/kube}
BIN=$CACHE/bin
NODE=localhost
DRAIN_SECS=${TURNOUT_KUBE_NODE_DRAIN_SECS:-150}
LOCK=${TURNOUT_KUBE_NODE_LOCK:-/run/lock/turnout-kube-node.lock}
KUBECTL=$(command -v kubectl || true)
[ -n "$KUBECTL" ] || KUBECTL=$BIN/kubectl
admin() { "$KUBECTL" --kubeconfig "$RUN/kubeconfig" --request-timeout=10s "$@"; }
status=0

exe_of() { # NAME: the program behind a pid file's name
    case "$1" in
        kube-controller-manager-node) echo kube-controller-manager ;;
        *) echo "$1" ;;
    esac
}
ours() { # NAME PID: is PID that program, started from RUN_DIR?
    local exe
    [ -d "/proc/$2" ] || return 1
    exe=$(readlink "/proc/$2/exe" 2>/dev/null || true)
    exe=${exe% (deleted)}
    [ "$(basename "$exe")" = "$(exe_of "$1")" ] || return 1
    tr '\0' '\n' <"/proc/$2/cmdline" 2>/dev/null | grep -qF "$RUN"
}
pid_of() { # NAME: its pid if it runs from RUN_DIR, else nothing
    local pid
    [ -f "$RUN/$1.pid" ] || return 0
    pid=$(tr -dc '0-9' <"$RUN/$1.pid")
    if [ -n "$pid" ] && ours "$1" "$pid"; then echo "$pid"; fi
}
stop() { # NAME
    local pid
    pid=$(pid_of "$1")
    if [ -z "$pid" ]; then
        rm -f "$RUN/$1.pid"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
        ours "$1" "$pid" || break
        sleep 0.1
    done
    if ours "$1" "$pid"; then
        log "$1: pid $pid ignored SIGTERM for 15 s; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    if ours "$1" "$pid"; then
        log "$1: pid $pid still running"
        status=1
    else
        log "stopped $1 (pid $pid)"
        rm -f "$RUN/$1.pid"
    fi
}
kubelet_containers() {
    docker ps -aq --filter label=io.kubernetes.docker.type 2>/dev/null || true
}

# --- 1. the node's pods -------------------------------------------------------------
stop kube-controller-manager-node
stop kube-scheduler
pods_on_node() {
    admin get pods --all-namespaces --field-selector "spec.nodeName=$NODE" \
        -o 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}'
}
if [ -n "$(pid_of kubelet)" ] && admin get --raw /readyz >/dev/null 2>&1; then
    pods=$(pods_on_node || true)
    if [ -n "$pods" ]; then
        log "deleting the pods on $NODE: ${pods//$'\n'/ }"
        admin delete pods --all-namespaces --field-selector "spec.nodeName=$NODE" --wait=false >/dev/null || true
        deadline=$(( $(date +%s) + DRAIN_SECS ))
        while [ -n "$(pods_on_node 2>/dev/null || echo failed)" ]; do
            if [ "$(date +%s)" -ge "$deadline" ]; then
                log "pods still on $NODE after ${DRAIN_SECS}s: $(pods_on_node 2>/dev/null | tr '\n' ' '); stopping the kubelet anyway"
                break
            fi
            sleep 1
        done
    fi
fi

# --- 2. processes --------------------------------------------------------------------
stop kubelet

# --- 3. what the kubelet left on the engine ------------------------------------------
exec 8>"$LOCK"
# A kubelet that just exited may hold it for a moment longer.
if flock -w 10 8; then
    left=$(kubelet_containers)
    if [ -n "$left" ]; then
        log "removing containers the kubelet left: $(docker ps -a --filter label=io.kubernetes.docker.type --format '{{.Names}}' | tr '\n' ' ')"
        # shellcheck disable=SC2086 # ids, one per word
        docker rm -f $left >/dev/null || status=1
    fi
    if [ -n "$(kubelet_containers)" ]; then
        log "containers labelled io.kubernetes.docker.type remain on the engine"
        status=1
    fi
else
    log "another node holds $LOCK: the kubelet containers on the engine are its own; left alone"
fi

# --- 4. mounts ------------------------------------------------------------------------
if [ -d "$RUN/kubelet" ]; then
    # Deepest first; the kubelet's root may be mounted onto itself more than once.
    findmnt -rn -o TARGET | awk -v p="$RUN/kubelet/" 'index($0, p) == 1' | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "cannot unmount $m"
    done
    for _ in $(seq 1 10); do
        mountpoint -q "$RUN/kubelet" || break
        umount "$RUN/kubelet" 2>/dev/null || umount -l "$RUN/kubelet" 2>/dev/null || break
    done
    if findmnt -rn -o TARGET | grep -qF "$RUN/kubelet"; then
        log "mounts under $RUN/kubelet remain: $(findmnt -rn -o TARGET | grep -F "$RUN/kubelet" | tr '\n' ' ')"
        status=1
    fi
fi

# --- 5. machine paths ---------------------------------------------------------------------
if [ -f "$RUN/node-created" ] && [ -z "$(pid_of kubelet)" ]; then
    if flock -n 8; then
        while read -r p; do
            case "$p" in
                /var/lib/kubelet | /var/log/pods | /var/log/containers) ;;
                *) log "ignoring unexpected path in node-created: $p"; continue ;;
            esac
            if [ -e "$p" ]; then
                if findmnt -rn -o TARGET | grep -q "^$p"; then
                    log "$p holds mounts; left in place"
                    status=1
                    continue
                fi
                rm -rf "$p" && log "removed $p"
            fi
        done <"$RUN/node-created"
        rm -f "$RUN/node-created"
    fi
fi
exec 8>&-

# --- 6. images ---------------------------------------------------------------------------
if [ -f "$RUN/kubelet.log" ] && grep -q 'imageGCManager\]: Removing image' "$RUN/kubelet.log"; then
    log "the kubelet removed images (see $RUN/kubelet.log):"
    grep 'imageGCManager\]: Removing image' "$RUN/kubelet.log" >&2
    status=1
fi
log "logs left in $RUN"
exit "$status"

#!/usr/bin/env bash
# Stop the test Kubernetes API server started by scripts/kube-up.sh RUN_DIR.
#
# Usage: scripts/kube-down.sh RUN_DIR
#
# Stops only the processes whose pids are in RUN_DIR/{kube-controller-manager,
# kube-apiserver,etcd}.pid, and only if each pid still is that program started
# from RUN_DIR (its executable has the expected name and its command line
# mentions RUN_DIR), so a stale pid file never kills an unrelated process.
# SIGTERM, then SIGKILL after 15 s. Removes the pid files; keeps logs, etcd
# data, keys and kubeconfigs for inspection (delete RUN_DIR to throw them
# away). Stopping something that is not running is not an error.
set -euo pipefail

log() { printf 'kube-down: %s\n' "$*"; }
die() { printf 'kube-down: ERROR: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 RUN_DIR"
[ -d "$1" ] || die "no such directory: $1"
RUN=$(cd "$1" && pwd)

ours() { # NAME PID: is PID the NAME process started from RUN_DIR?
    local exe
    [ -d "/proc/$2" ] || return 1
    exe=$(readlink "/proc/$2/exe" 2>/dev/null || true)
    exe=${exe% (deleted)}
    [ "$(basename "$exe")" = "$1" ] || return 1
    tr '\0' '\n' <"/proc/$2/cmdline" 2>/dev/null | grep -qF "$RUN"
}

status=0
# Reverse start order: clients first, etcd last.
for name in kube-controller-manager kube-apiserver etcd; do
    pidfile=$RUN/$name.pid
    [ -f "$pidfile" ] || continue
    pid=$(tr -dc '0-9' <"$pidfile")
    if [ -z "$pid" ]; then
        log "$name: empty pid file, removed"
        rm -f "$pidfile"
        continue
    fi
    if ! ours "$name" "$pid"; then
        log "$name: pid $pid is not running (or is no longer $name from $RUN); nothing to stop"
        rm -f "$pidfile"
        continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
        ours "$name" "$pid" || break
        sleep 0.1
    done
    if ours "$name" "$pid"; then
        log "$name: pid $pid ignored SIGTERM for 15 s; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    if ours "$name" "$pid"; then
        log "$name: pid $pid still running"
        status=1
    else
        log "stopped $name (pid $pid)"
        rm -f "$pidfile"
    fi
done
log "data, logs and kubeconfigs left in $RUN"
exit "$status"

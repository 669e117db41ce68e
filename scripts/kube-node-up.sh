#!/usr/bin/env bash
# Turn the test API server of scripts/kube-up.sh RUN_DIR into a one-node
# cluster whose pods run on the local Docker engine:
#   kubelet 1.20 (dockershim, node "localhost")
#   kube-scheduler
#   a second kube-controller-manager with the node-lifecycle, daemonset,
#   deployment and replicaset controllers
# all on 127.0.0.1, detached from this shell, built by scripts/kube-build.sh
# (with its edits for a shared machine). See docs/kube-test-server.md.
#
# Usage: scripts/kube-node-up.sh RUN_DIR    (after scripts/kube-up.sh RUN_DIR;
#        stop with scripts/kube-node-down.sh RUN_DIR, before kube-down.sh)
#
# The engine is shared with other users, so the kubelet is told to leave it
# alone: image garbage collection never triggers (--image-gc-high-threshold
# 100), eviction watches memory only (no disk signal, so no image or
# container is ever deleted to free disk), and dockershim only ever lists
# the containers a kubelet labelled. No pod-level cgroups are made
# (--cgroups-per-qos=false), no iptables chains, no sysctl is written and no
# negative oom_score_adj asked for (the source edits of kube-build.sh).
# Pods pull nothing: the pause image is built here from Debian's static
# busybox (TURNOUT_KUBE_PAUSE_IMAGE, default turnout/pause:local) and
# workloads must use local images with `imagePullPolicy: Never`.
#
# A kubelet stops every pod container on its engine that it does not know,
# so there is one such node per machine at a time (a lock on
# TURNOUT_KUBE_NODE_LOCK, default /run/lock/turnout-kube-node.lock, held by
# the kubelet), and it refuses to start while the engine holds containers of
# another kubelet.
#
# Writes into RUN_DIR:
#   node.env          KEY=VALUE lines: node name, ports, pause image (sourceable)
#   node-created      the machine paths the kubelet creates that did not
#                     exist before (kube-node-down.sh removes exactly these)
#   kubelet/ dockershim/ kubelet-*/   the kubelet's directories
#   {kubelet,kube-scheduler,kube-controller-manager-node}.{log,pid}
#
# TURNOUT_KUBE_NODE_WAIT_SECS (default 180): how long to wait for the node
# to be Ready and untainted. On failure it prints why and the logs' tails,
# stops what it started (kube-node-down.sh) and exits 1.
set -euo pipefail

log() { printf 'kube-node-up: %s\n' "$*"; }
die() { printf 'kube-node-up: ERROR: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 RUN_DIR"
[ "$(id -u)" -eq 0 ] || die "must run as root (kubelet, mounts, apt-get)"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -d "$1" ] || die "no such directory: $1; start the API server first: scripts/kube-up.sh $1"
RUN=$(cd "$1" && pwd)
CACHE=${TURNOUT_KUBE_CACHE:-/var/cache/turnout/kube}
BIN=$CACHE/bin
NODE=localhost
WAIT_SECS=${TURNOUT_KUBE_NODE_WAIT_SECS:-180}
PAUSE_IMAGE=${TURNOUT_KUBE_PAUSE_IMAGE:-turnout/pause:local}
LOCK=${TURNOUT_KUBE_NODE_LOCK:-/run/lock/turnout-kube-node.lock}
PKI=$RUN/pki
NAMES=(kube-controller-manager-node kube-scheduler kubelet)

[ -s "$RUN/env" ] || die "no $RUN/env: start the API server first: scripts/kube-up.sh $RUN"
for f in node.kubeconfig scheduler.kubeconfig controller-manager.kubeconfig pki/ca.crt; do
    [ -s "$RUN/$f" ] || die "$RUN/$f is missing: restart the API server with this checkout's scripts/kube-up.sh"
done
KUBECTL=$(command -v kubectl || true)
[ -n "$KUBECTL" ] || KUBECTL=$BIN/kubectl
[ -x "$KUBECTL" ] || die "no kubectl on PATH and none in $BIN"
admin() { "$KUBECTL" --kubeconfig "$RUN/kubeconfig" --request-timeout=10s "$@"; }
admin get --raw /readyz >/dev/null 2>&1 ||
    die "the API server of $RUN does not answer; start it with scripts/kube-up.sh $RUN"

for name in "${NAMES[@]}"; do
    if [ -f "$RUN/$name.pid" ]; then
        pid=$(tr -dc '0-9' <"$RUN/$name.pid")
        if [ -n "$pid" ] && [ -d "/proc/$pid" ] &&
            tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$RUN"; then
            die "$name is already running from $RUN (pid $pid); run scripts/kube-node-down.sh $RUN first"
        fi
        rm -f "$RUN/$name.pid"
    fi
done

t0=$(date +%s)
"$here/kube-build.sh" node
t_built=$(date +%s)
for b in kubelet kube-scheduler kube-controller-manager; do
    [ -x "$BIN/$b" ] || die "$BIN/$b missing after kube-build.sh node"
done
command -v docker >/dev/null || die "docker not found; run scripts/ensure-docker.sh"
driver=$(docker info --format '{{.CgroupDriver}}' 2>/dev/null) ||
    die "the Docker engine does not answer; run scripts/ensure-docker.sh"
[ "$driver" = cgroupfs ] || die "the engine's cgroup driver is $driver; this node is set up for cgroupfs"
command -v curl >/dev/null || die "curl not found (Debian package curl)"

# --- one node per machine ---------------------------------------------------------
mkdir -p "$(dirname "$LOCK")"
exec 8>"$LOCK"
flock -n 8 || die "another node of scripts/kube-node-up.sh runs on this machine (its kubelet holds $LOCK); stop it with scripts/kube-node-down.sh ITS_RUN_DIR"
theirs=$(docker ps -a --filter label=io.kubernetes.docker.type --format '{{.Names}}' | sed -n 1,5p)
[ -z "$theirs" ] || die "the engine holds containers of another kubelet (${theirs//$'\n'/, } ...); a kubelet stops pod containers it does not know, so none starts next to them. Stop that kubelet (scripts/kube-node-down.sh RUN_DIR removes what its kubelet left) or remove them yourself once you know whose they are"

# --- pause image ----------------------------------------------------------------------
if ! docker image inspect "$PAUSE_IMAGE" >/dev/null 2>&1; then
    busybox=/bin/busybox
    if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
        log "apt-get install busybox-static"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
    fi
    ldd "$busybox" >/dev/null 2>&1 && die "$busybox is not static (Debian package busybox-static)"
    ctx=$(mktemp -d)
    trap 'rm -rf "$ctx"' EXIT
    mkdir -p "$ctx/rootfs/bin"
    cp "$busybox" "$ctx/rootfs/bin/busybox"
    ln -s busybox "$ctx/rootfs/bin/sh"
    ln -s busybox "$ctx/rootfs/bin/sleep"
    # Sleeps until SIGTERM and then exits 0 at once (a pod's deletion waits
    # for its sandbox to stop).
    cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
LABEL dev.turnout.role="kubelet pause image (scripts/kube-node-up.sh)"
ENTRYPOINT ["/bin/sh", "-c", "trap 'kill $! 2>/dev/null; exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"]
DOCKERFILE
    log "building the pause image $PAUSE_IMAGE"
    out=$(DOCKER_BUILDKIT=0 docker build -q -t "$PAUSE_IMAGE" "$ctx" 2>&1) ||
        { printf '%s\n' "$out" >&2; die "docker build of $PAUSE_IMAGE failed"; }
    rm -rf "$ctx"
    trap - EXIT
fi

# --- paths the kubelet hard-codes ---------------------------------------------------
# 1.20 creates these whatever --root-dir says; remember which are new so
# kube-node-down.sh removes exactly those (and keep what an earlier run
# that was never torn down recorded).
touch "$RUN/node-created"
for p in /var/lib/kubelet /var/log/pods /var/log/containers; do
    if [ ! -e "$p" ] && ! grep -qxF "$p" "$RUN/node-created"; then
        echo "$p" >>"$RUN/node-created"
    fi
done

# --- ports ------------------------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
picked=" "
pick_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        case "$picked" in *" $p "*) continue ;; esac
        port_busy "$p" || { echo "$p"; return 0; }
    done
    die "no free loopback port found"
}
KUBELET_PORT=$(pick_port); picked="$picked$KUBELET_PORT "
HEALTHZ_PORT=$(pick_port); picked="$picked$HEALTHZ_PORT "
SCHED_PORT=$(pick_port); picked="$picked$SCHED_PORT "
NCM_PORT=$(pick_port)
log "ports: kubelet $KUBELET_PORT (healthz $HEALTHZ_PORT), kube-scheduler $SCHED_PORT, node controllers $NCM_PORT"
cat >"$RUN/node.env" <<EOF
TURNOUT_KUBE_NODE_NAME=$NODE
TURNOUT_KUBE_KUBELET_PORT=$KUBELET_PORT
TURNOUT_KUBE_KUBELET_HEALTHZ_PORT=$HEALTHZ_PORT
TURNOUT_KUBE_SCHEDULER_PORT=$SCHED_PORT
TURNOUT_KUBE_NODE_CM_PORT=$NCM_PORT
TURNOUT_KUBE_PAUSE_IMAGE=$PAUSE_IMAGE
EOF

# --- start ------------------------------------------------------------------------------
started=()
fail() { # MESSAGE
    local name
    printf 'kube-node-up: ERROR: %s\n' "$1" >&2
    for name in "${NAMES[@]}"; do
        if [ -f "$RUN/$name.log" ]; then
            printf '\n---- last lines of %s ----\n' "$RUN/$name.log" >&2
            tail -n 25 "$RUN/$name.log" >&2
        fi
    done
    printf '\n' >&2
    exec 8>&-
    "$here/kube-node-down.sh" "$RUN" >&2 || true
    exit 1
}
# start NAME CMD...: detached (own session), log and pid file in RUN_DIR.
# Only the kubelet keeps fd 8, the machine's node lock, open.
start() {
    local name=$1
    shift
    if [ "$name" = kubelet ]; then
        setsid "$@" </dev/null >"$RUN/$name.log" 2>&1 &
    else
        setsid "$@" </dev/null >"$RUN/$name.log" 2>&1 8>&- &
    fi
    echo $! >"$RUN/$name.pid"
    started+=("$name")
    log "started $name (pid $!, log $RUN/$name.log)"
}
alive() { kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
deadline=$(( $(date +%s) + WAIT_SECS ))
wait_for() { # WHAT CHECK-CMD...
    local what=$1 name
    shift
    while ! "$@" >/dev/null 2>&1; do
        for name in "${started[@]}"; do
            alive "$name" || fail "$name exited while waiting for $what"
        done
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${WAIT_SECS}s waiting for $what"
        sleep 0.5
    done
}
healthy() { [ "$(curl -sk --max-time 5 "$1")" = ok ]; }

start kube-controller-manager-node "$BIN/kube-controller-manager" \
    --kubeconfig="$RUN/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$RUN/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$RUN/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$NCM_PORT" --port=0 \
    --cert-dir="$PKI/controller-manager-node" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --controllers=nodelifecycle,daemonset,deployment,replicaset \
    --profiling=false --v=1
start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig="$RUN/scheduler.kubeconfig" \
    --authentication-kubeconfig="$RUN/scheduler.kubeconfig" \
    --authorization-kubeconfig="$RUN/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --port=0 \
    --cert-dir="$PKI/scheduler" \
    --leader-elect=false --profiling=false --v=1
mkdir -p "$RUN/kubelet" "$RUN/dockershim" "$RUN/kubelet-pki" "$RUN/kubelet-seccomp" "$RUN/kubelet-volume-plugins"
start kubelet "$BIN/kubelet" \
    --kubeconfig="$RUN/node.kubeconfig" \
    --hostname-override="$NODE" \
    --address=127.0.0.1 --port="$KUBELET_PORT" --read-only-port=0 \
    --healthz-bind-address=127.0.0.1 --healthz-port="$HEALTHZ_PORT" \
    --anonymous-auth=false --client-ca-file="$PKI/ca.crt" \
    --authentication-token-webhook --authorization-mode=Webhook \
    --container-runtime=docker \
    --container-runtime-endpoint="unix://$RUN/dockershim.sock" \
    --experimental-dockershim-root-directory="$RUN/dockershim" \
    --pod-infra-container-image="$PAUSE_IMAGE" \
    --root-dir="$RUN/kubelet" --cert-dir="$RUN/kubelet-pki" \
    --seccomp-profile-root="$RUN/kubelet-seccomp" \
    --volume-plugin-dir="$RUN/kubelet-volume-plugins" \
    --cgroup-driver=cgroupfs --cgroups-per-qos=false --enforce-node-allocatable= \
    --fail-swap-on=false --make-iptables-util-chains=false --hairpin-mode=none \
    --oom-score-adj=0 --cluster-domain=cluster.local \
    --image-gc-high-threshold=100 --image-gc-low-threshold=99 \
    '--eviction-hard=memory.available<50Mi' \
    --v=1
exec 8>&-

wait_for "kubelet /healthz" healthy "http://127.0.0.1:$HEALTHZ_PORT/healthz"
wait_for "kube-scheduler /healthz" healthy "https://127.0.0.1:$SCHED_PORT/healthz"
wait_for "node controllers /healthz" healthy "https://127.0.0.1:$NCM_PORT/healthz"
node_ready() {
    [ "$(admin get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
wait_for "node $NODE Ready" node_ready
# The node-lifecycle controller lifts node.kubernetes.io/not-ready once it
# has seen the node Ready; until then nothing is scheduled there.
untainted() { [ -z "$(admin get node "$NODE" -o 'jsonpath={.spec.taints}')" ]; }
wait_for "node $NODE without taints" untainted
t_ready=$(date +%s)
log "node $NODE ready in $((t_ready - t0)) s (build check $((t_built - t0)) s)"
log "stop: $here/kube-node-down.sh $RUN (before kube-down.sh)"

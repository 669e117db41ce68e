#!/usr/bin/env bash
# Start a throw-away Kubernetes API server (1.20.2, built by
# scripts/kube-build.sh) for the operator's integration tests:
#   etcd (Debian's etcd-server) -> kube-apiserver (TLS, token auth, RBAC)
#   -> kube-controller-manager (garbage collector, namespace deletion,
#      service accounts and their tokens)
# all on 127.0.0.1, in the background, detached from this shell.
#
# Usage: scripts/kube-up.sh RUN_DIR          (stop with scripts/kube-down.sh RUN_DIR)
#
# Writes into RUN_DIR:
#   kubeconfig                 admin (user "admin", group system:masters)
#   operator.kubeconfig        user "turnout-operator", no groups, no RBAC
#                              bindings: Forbidden until a test binds it
#   node.kubeconfig, scheduler.kubeconfig
#                              users "system:node:localhost" (group
#                              system:nodes) and "system:kube-scheduler",
#                              for scripts/kube-node-up.sh
#   env                        KEY=VALUE lines: ports, URL, paths (sourceable)
#   pki/                       CA, serving cert, service-account key pair,
#                              the client cert it shows kubelets
#   tokens.csv                 static token file of kube-apiserver
#   etcd/                      etcd data
#   {etcd,kube-apiserver,kube-controller-manager}.{log,pid}
# A RUN_DIR that was used before is reused: its keys and tokens are kept,
# the etcd data too (so objects survive a down/up).
#
# Ports: TURNOUT_KUBE_API_PORT, TURNOUT_KUBE_ETCD_PORT,
# TURNOUT_KUBE_ETCD_PEER_PORT, TURNOUT_KUBE_CM_PORT if set, else free
# loopback ports picked at random.
# TURNOUT_KUBE_WAIT_SECS (default 120): how long to wait for readiness.
set -euo pipefail

log() { printf 'kube-up: %s\n' "$*"; }
die() { printf 'kube-up: ERROR: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 RUN_DIR"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$1"
RUN=$(cd "$1" && pwd)
case "$RUN" in
    *[[:space:]]*) die "RUN_DIR must not contain whitespace: $RUN" ;;
esac
WAIT_SECS=${TURNOUT_KUBE_WAIT_SECS:-120}
CACHE=${TURNOUT_KUBE_CACHE:-/var/cache/turnout/kube}
BIN=$CACHE/bin

# Refuse to start a second set into the same RUN_DIR.
for name in etcd kube-apiserver kube-controller-manager; do
    if [ -f "$RUN/$name.pid" ]; then
        pid=$(cat "$RUN/$name.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && [ -d "/proc/$pid" ] &&
            tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$RUN"; then
            die "$name is already running from $RUN (pid $pid); run scripts/kube-down.sh $RUN first"
        fi
        rm -f "$RUN/$name.pid"
    fi
done

t0=$(date +%s)
# Everything the tests use, in one build on a cold machine (the node
# binaries too: scripts/kube-node-up.sh).
"$here/kube-build.sh" all
t_built=$(date +%s)

KUBECTL=$(command -v kubectl || true)
[ -n "$KUBECTL" ] || KUBECTL=$BIN/kubectl
[ -x "$KUBECTL" ] || die "no kubectl on PATH and none in $BIN"
for b in kube-apiserver kube-controller-manager; do
    [ -x "$BIN/$b" ] || die "$BIN/$b missing after kube-build.sh"
done
ETCD=$(command -v etcd || true)
[ -n "$ETCD" ] || die "etcd not found (Debian package etcd-server)"
command -v openssl >/dev/null || die "openssl not found"

# --- ports --------------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
picked=" "
pick_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        case "$picked" in *" $p "*) continue ;; esac
        if ! port_busy "$p"; then
            picked="$picked$p "
            echo "$p"
            return 0
        fi
    done
    die "no free loopback port found"
}
use_port() { # VAR_NAME
    local v=${!1:-}
    if [ -n "$v" ]; then
        port_busy "$v" && die "$1=$v: something already listens on 127.0.0.1:$v"
        picked="$picked$v "
        echo "$v"
    else
        pick_port
    fi
}
ETCD_PORT=$(use_port TURNOUT_KUBE_ETCD_PORT)
picked="$picked$ETCD_PORT "
ETCD_PEER_PORT=$(use_port TURNOUT_KUBE_ETCD_PEER_PORT)
picked="$picked$ETCD_PEER_PORT "
API_PORT=$(use_port TURNOUT_KUBE_API_PORT)
picked="$picked$API_PORT "
CM_PORT=$(use_port TURNOUT_KUBE_CM_PORT)
SERVER=https://127.0.0.1:$API_PORT
log "ports: etcd $ETCD_PORT (peer $ETCD_PEER_PORT), kube-apiserver $API_PORT, kube-controller-manager $CM_PORT"

# --- keys, certificates, tokens -------------------------------------------------------
PKI=$RUN/pki
mkdir -p "$PKI"
chmod 700 "$PKI"
if [ ! -s "$PKI/ca.crt" ] || [ ! -s "$PKI/apiserver.crt" ] || [ ! -s "$PKI/sa.key" ]; then
    log "creating CA, serving certificate and service-account keys in $PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
        -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=turnout-test-ca" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 \
        -keyout "$PKI/apiserver.key" -out "$PKI/apiserver.csr" -subj "/CN=kube-apiserver" 2>/dev/null
    cat >"$PKI/apiserver.ext" <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    openssl x509 -req -in "$PKI/apiserver.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
        -CAcreateserial -days 3650 -sha256 -extfile "$PKI/apiserver.ext" \
        -out "$PKI/apiserver.crt" 2>/dev/null
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
fi
# The client certificate kube-apiserver shows a kubelet (logs, exec): the
# kubelet of scripts/kube-node-up.sh trusts only this CA and asks the API
# server whether the user may (group system:masters: yes).
if [ ! -s "$PKI/apiserver-kubelet-client.crt" ]; then
    openssl req -newkey rsa:2048 -nodes -sha256 \
        -keyout "$PKI/apiserver-kubelet-client.key" -out "$PKI/apiserver-kubelet-client.csr" \
        -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' \
        >"$PKI/apiserver-kubelet-client.ext"
    openssl x509 -req -in "$PKI/apiserver-kubelet-client.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
        -CAcreateserial -days 3650 -sha256 -extfile "$PKI/apiserver-kubelet-client.ext" \
        -out "$PKI/apiserver-kubelet-client.crt" 2>/dev/null
fi
if [ ! -s "$RUN/tokens.csv" ]; then
    # token,user,uid,"groups"
    umask 077
    {
        echo "$(openssl rand -hex 24),admin,admin,\"system:masters\""
        echo "$(openssl rand -hex 24),turnout-operator,turnout-operator"
        echo "$(openssl rand -hex 24),system:kube-controller-manager,system:kube-controller-manager"
    } >"$RUN/tokens.csv"
    umask 022
fi
token_of() { awk -F, -v u="$1" '$2 == u { print $1 }' "$RUN/tokens.csv"; }
# The node's and the scheduler's (scripts/kube-node-up.sh), added to a
# RUN_DIR made before they existed: kube-apiserver reads the file at start.
add_token() { # USER [GROUP]
    [ -n "$(token_of "$1")" ] && return 0
    umask 077
    if [ $# -gt 1 ]; then
        echo "$(openssl rand -hex 24),$1,$1,\"$2\"" >>"$RUN/tokens.csv"
    else
        echo "$(openssl rand -hex 24),$1,$1" >>"$RUN/tokens.csv"
    fi
    umask 022
}
add_token system:node:localhost system:nodes
add_token system:kube-scheduler

write_kubeconfig() { # FILE USER
    local tok
    tok=$(token_of "$2")
    [ -n "$tok" ] || die "no token for $2 in $RUN/tokens.csv"
    umask 077
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: turnout-test
  cluster:
    server: $SERVER
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $2
  user:
    token: $tok
contexts:
- name: $2@turnout-test
  context:
    cluster: turnout-test
    user: $2
    namespace: default
current-context: $2@turnout-test
EOF
    umask 022
}
write_kubeconfig "$RUN/kubeconfig" admin
write_kubeconfig "$RUN/operator.kubeconfig" turnout-operator
write_kubeconfig "$RUN/controller-manager.kubeconfig" system:kube-controller-manager
write_kubeconfig "$RUN/node.kubeconfig" system:node:localhost
write_kubeconfig "$RUN/scheduler.kubeconfig" system:kube-scheduler

cat >"$RUN/env" <<EOF
TURNOUT_KUBE_API_PORT=$API_PORT
TURNOUT_KUBE_ETCD_PORT=$ETCD_PORT
TURNOUT_KUBE_ETCD_PEER_PORT=$ETCD_PEER_PORT
TURNOUT_KUBE_CM_PORT=$CM_PORT
TURNOUT_KUBE_SERVER=$SERVER
TURNOUT_KUBE_CA=$PKI/ca.crt
TURNOUT_KUBE_RUN_DIR=$RUN
KUBECONFIG=$RUN/kubeconfig
TURNOUT_KUBE_OPERATOR_KUBECONFIG=$RUN/operator.kubeconfig
EOF

# --- start ----------------------------------------------------------------------
started=()
fail() { # MESSAGE (prints the log tails, stops what this run started)
    local name
    printf 'kube-up: ERROR: %s\n' "$1" >&2
    for name in etcd kube-apiserver kube-controller-manager; do
        if [ -f "$RUN/$name.log" ]; then
            printf '\n---- last lines of %s ----\n' "$RUN/$name.log" >&2
            tail -n 25 "$RUN/$name.log" >&2
        fi
    done
    printf '\n' >&2
    "$here/kube-down.sh" "$RUN" >&2 || true
    exit 1
}
# start NAME CMD...: detached (own session, so the caller's Ctrl-C or
# process-group kill does not reach it), log and pid file in RUN_DIR.
start() {
    local name=$1
    shift
    # Not a process-group leader here, so setsid execs in place: $! is the
    # daemon's own pid.
    setsid "$@" </dev/null >"$RUN/$name.log" 2>&1 &
    echo $! >"$RUN/$name.pid"
    started+=("$name")
    log "started $name (pid $!, log $RUN/$name.log)"
}
alive() { kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
deadline=$(( $(date +%s) + WAIT_SECS ))
# wait_for WHAT CHECK-CMD...: poll until CHECK-CMD succeeds, a started
# process dies, or the deadline passes.
wait_for() {
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

start etcd "$ETCD" --name turnout-test --data-dir "$RUN/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "turnout-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster-state new --logger zap --log-level warn
etcd_healthy() { ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$ETCD_PORT" endpoint health; }
if command -v etcdctl >/dev/null; then
    wait_for "etcd" etcd_healthy
else
    wait_for "etcd" port_busy "$ETCD_PORT"
fi

start kube-apiserver "$BIN/kube-apiserver" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --token-auth-file="$RUN/tokens.csv" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --authorization-mode=Node,RBAC \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range=10.0.0.0/24 \
    --profiling=false --v=1
api_ready() { "$KUBECTL" --kubeconfig "$RUN/kubeconfig" --request-timeout=5s get --raw /readyz; }
wait_for "kube-apiserver /readyz" api_ready
t_api=$(date +%s)

# 1.20's own bootstrap controller creates default, kube-system, kube-public
# and kube-node-lease; make sure of "default" anyway.
if ! "$KUBECTL" --kubeconfig "$RUN/kubeconfig" get namespace default >/dev/null 2>&1; then
    "$KUBECTL" --kubeconfig "$RUN/kubeconfig" create namespace default >/dev/null 2>&1 || true
fi
ns_default() { "$KUBECTL" --kubeconfig "$RUN/kubeconfig" get namespace default; }
wait_for "namespace default" ns_default

start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$RUN/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$RUN/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$RUN/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$CM_PORT" --port=0 \
    --cert-dir="$PKI/controller-manager" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --controllers=garbagecollector,namespace,serviceaccount,serviceaccount-token,clusterrole-aggregation \
    --service-account-private-key-file="$PKI/sa.key" \
    --root-ca-file="$PKI/ca.crt" \
    --profiling=false --v=1
# Ready when the serviceaccount controller has made "default" in namespace
# default and the token controller has given it its token secret (proves
# the controller manager is talking to the API with working credentials).
cm_ready() {
    local s
    s=$("$KUBECTL" --kubeconfig "$RUN/kubeconfig" --request-timeout=5s -n default \
        get serviceaccount default -o 'jsonpath={.secrets[0].name}') && [ -n "$s" ]
}
wait_for "kube-controller-manager (default service account token)" cm_ready
t_cm=$(date +%s)

log "ready in $((t_cm - t0)) s (build check $((t_built - t0)) s, kube-apiserver ready $((t_api - t_built)) s later, controller manager $((t_cm - t_api)) s after that)"
log "admin:    kubectl --kubeconfig $RUN/kubeconfig ..."
log "operator: kubectl --kubeconfig $RUN/operator.kubeconfig ...  (user turnout-operator, no RBAC)"
log "env:      $RUN/env; stop: $here/kube-down.sh $RUN"

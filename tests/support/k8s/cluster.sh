#!/usr/bin/env bash
# A real kube-apiserver + etcd on loopback for the integration tests.
#   cluster.sh start   build (cached) and start; idempotent; prints the admin kubeconfig path
#   cluster.sh stop    stop both (data kept)
#   cluster.sh reset   stop and wipe the data: no controller-manager runs, so nothing else
#                      cleans up (namespaces never finish deleting)
#   cluster.sh status  exit 0 when ready
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
STATE="${INFRASAGE_K8S_STATE:-${TMPDIR:-/tmp}/infrasage-readiness-k8s}"
API_PORT="${INFRASAGE_K8S_API_PORT:-16443}"
ETCD_PORT="${INFRASAGE_K8S_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${INFRASAGE_K8S_ETCD_PEER_PORT:-23800}"
KUBECONFIG_OUT="$STATE/admin.kubeconfig"

alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

ready() {
  [ -f "$STATE/admin.token" ] || return 1
  curl -sk --max-time 2 -H "Authorization: Bearer $(cat "$STATE/admin.token")" \
    "https://127.0.0.1:$API_PORT/readyz" 2>/dev/null | grep -qx ok
}

stop_one() {
  local name=$1
  if alive "$name"; then
    local pid; pid=$(cat "$STATE/$name.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/$name.pid"
}

start() {
  if alive kube-apiserver && alive etcd && ready; then
    echo "$KUBECONFIG_OUT"
    return
  fi
  stop_one kube-apiserver
  stop_one etcd
  local bin; bin=$("$here/build.sh")
  mkdir -p "$STATE/certs" "$STATE/etcd"
  if [ ! -f "$STATE/sa.key" ]; then
    openssl genrsa -out "$STATE/sa.key" 2048 2>/dev/null
    openssl rsa -in "$STATE/sa.key" -pubout -out "$STATE/sa.pub" 2>/dev/null
    openssl rand -hex 24 > "$STATE/admin.token"
    printf '%s,admin,admin-uid,"system:masters"\n' "$(cat "$STATE/admin.token")" > "$STATE/tokens.csv"
  fi
  setsid "$bin/etcd" --name test --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "test=http://127.0.0.1:$ETCD_PEER_PORT" --log-level warn \
    >"$STATE/etcd.log" 2>&1 < /dev/null &
  echo $! > "$STATE/etcd.pid"
  setsid "$bin/kube-apiserver" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$API_PORT" --cert-dir="$STATE/certs" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --authorization-mode=RBAC --token-auth-file="$STATE/tokens.csv" --anonymous-auth=false \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$STATE/sa.pub" \
    --service-account-signing-key-file="$STATE/sa.key" --service-cluster-ip-range=10.0.0.0/24 \
    --endpoint-reconciler-type=none --disable-admission-plugins=ServiceAccount \
    >"$STATE/kube-apiserver.log" 2>&1 < /dev/null &
  echo $! > "$STATE/kube-apiserver.pid"
  for _ in $(seq 1 600); do
    if ready; then break; fi
    if ! alive kube-apiserver || ! alive etcd; then
      echo "cluster.sh: a process died; see $STATE/*.log" >&2
      tail -20 "$STATE/kube-apiserver.log" "$STATE/etcd.log" >&2 || true
      exit 1
    fi
    sleep 0.1
  done
  ready || { echo "cluster.sh: not ready within 60 s; see $STATE/kube-apiserver.log" >&2; exit 1; }
  # The self-signed CA is the second certificate of apiserver.crt; rustls needs it, not the leaf.
  local ca
  ca=$(awk '/BEGIN CERT/{n++} n==2' "$STATE/certs/apiserver.crt" | base64 -w0)
  cat > "$KUBECONFIG_OUT" <<KC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: { server: "https://127.0.0.1:$API_PORT", certificate-authority-data: "$ca" }
users:
- name: admin
  user: { token: "$(cat "$STATE/admin.token")" }
contexts:
- name: test
  context: { cluster: test, user: admin }
current-context: test
KC
  echo "$KUBECONFIG_OUT"
}

case "${1:-}" in
  start) start ;;
  stop) stop_one kube-apiserver; stop_one etcd ;;
  reset) stop_one kube-apiserver; stop_one etcd; rm -rf "$STATE" ;;
  status) alive kube-apiserver && alive etcd && ready ;;
  bin) "$here/build.sh" ;;
  *) echo "usage: $0 start|stop|reset|status|bin" >&2; exit 2 ;;
esac

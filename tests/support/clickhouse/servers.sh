#!/usr/bin/env bash
# Test ClickHouse servers on loopback, for the ClickHouse integration tests:
#   127.0.0.1:18123  current engine (chdb) behind shim.py; `default` has a password
#   127.0.0.1:18125  the same chdb data, a second user table where `default` has none and
#                    clickhouse/clickhouse logs in (the "left at defaults" server)
#   127.0.0.1:18124  Debian clickhouse-server 18.16 (tcp 19100); `default` has a password;
#                    also HTTPS on 127.0.0.1:18443 with a certificate from $STATE/tls/ca.crt
#   127.0.0.1:18126  a second 18.16 (tcp 19101) where `default` has no password
# Each 18.16 knows a cluster `loopback` of itself, for Distributed tables.
# Every server knows the exporter's own user `infrasage` (password in $STATE/infrasage.pw).
# start|stop|reset|status; idempotent. State under $INFRASAGE_CH_STATE (default /tmp).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
CHDB_VERSION=26.9.0
CACHE="$HOME/.cache/infrasage-readiness/chdb-$CHDB_VERSION"
STATE="${INFRASAGE_CH_STATE:-/tmp/infrasage-readiness-clickhouse}"
PY="$CACHE/venv/bin/python"
EXPORTER_PW="exporter-pw-7Qx9"
DEFAULT_PW="default-pw-3Kd2"

ensure_chdb() {
  if ! "$PY" -c 'import chdb.session' >/dev/null 2>&1; then
    echo "servers.sh: creating the chdb $CHDB_VERSION venv under $CACHE" >&2
    mkdir -p "$CACHE"
    python3 -m venv "$CACHE/venv"
    "$CACHE/venv/bin/pip" install -q "chdb-core==$CHDB_VERSION"
  fi
}

users_json() { # $1: whether default keeps its password
  if [ "$1" = secure ]; then
    printf '{"default":"%s","infrasage":"%s"}' "$DEFAULT_PW" "$EXPORTER_PW"
  else
    printf '{"default":"","clickhouse":"clickhouse","infrasage":"%s"}' "$EXPORTER_PW"
  fi
}

# A test CA and a server certificate for 127.0.0.1 signed by it (rustls wants the IP SAN).
make_tls() {
  local t="$STATE/tls"
  [ -f "$t/server.crt" ] && return 0
  mkdir -p "$t"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=infrasage test CA" \
    -keyout "$t/ca.key" -out "$t/ca.crt" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$t/server.key" -out "$t/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$t/ext.cnf"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial -days 30 \
    -extfile "$t/ext.cnf" -out "$t/server.crt" >/dev/null 2>&1
}

write_1816_config() { # $1 name, $2 http port, $3 tcp port, $4 secure|open
  local d="$STATE/$1"
  mkdir -p "$d/data" "$d/tmp" "$d/log"
  local default_pw="" tls=""
  if [ "$4" = secure ]; then
    default_pw="$DEFAULT_PW"
    tls="<https_port>18443</https_port>
  <openSSL><server><certificateFile>$STATE/tls/server.crt</certificateFile><privateKeyFile>$STATE/tls/server.key</privateKeyFile><verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile><disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols><preferServerCiphers>true</preferServerCiphers></server></openSSL>"
  fi
  cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$d/log/server.log</log><errorlog>$d/log/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$2</http_port>
  <tcp_port>$3</tcp_port>
  $tls
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <users_config>$d/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>500</flush_interval_milliseconds></query_log>
  <remote_servers><loopback><shard><replica><host>127.0.0.1</host><port>$3</port></replica></shard></loopback></remote_servers>
</yandex>
XML
  cat >"$d/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><log_queries>1</log_queries></default></profiles>
  <users>
    <default><password>$default_pw</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
$( [ "$4" = open ] && echo "    <clickhouse><password>clickhouse</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></clickhouse>")
    <infrasage><password>$EXPORTER_PW</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></infrasage>
  </users>
  <quotas><default></default></quotas>
</yandex>
XML
}

up() { curl -fsS -m 1 "http://127.0.0.1:$1/ping" >/dev/null 2>&1; }

wait_up() {
  for _ in $(seq 1 100); do up "$1" && return 0; sleep 0.1; done
  echo "servers.sh: nothing answers /ping on 127.0.0.1:$1" >&2
  return 1
}

start() {
  if ! command -v clickhouse-server >/dev/null 2>&1; then
    echo "servers.sh: clickhouse-server is not installed (scripts/install-deps.sh)" >&2
    exit 1
  fi
  ensure_chdb
  mkdir -p "$STATE"
  make_tls
  printf '%s' "$EXPORTER_PW" >"$STATE/infrasage.pw"
  printf '%s' "$DEFAULT_PW" >"$STATE/default.pw"
  if ! up 18123; then
    users_json secure >"$STATE/users-secure.json"
    users_json open >"$STATE/users-open.json"
    setsid "$PY" "$here/shim.py" --data "$STATE/chdb" \
      --listen "18123=$STATE/users-secure.json" --listen "18125=$STATE/users-open.json" \
      >"$STATE/shim.log" 2>&1 </dev/null &
    echo $! >"$STATE/shim.pid"
  fi
  for spec in "ch1816:18124:19100:secure" "ch1816open:18126:19101:open"; do
    IFS=: read -r name http tcp mode <<<"$spec"
    if ! up "$http"; then
      write_1816_config "$name" "$http" "$tcp" "$mode"
      setsid clickhouse-server --config-file="$STATE/$name/config.xml" \
        >"$STATE/$name/log/stdout.log" 2>&1 </dev/null &
      echo $! >"$STATE/$name/pid"
    fi
  done
  for p in 18123 18125 18124 18126; do wait_up "$p"; done
}

stop() {
  for f in "$STATE/shim.pid" "$STATE/ch1816/pid" "$STATE/ch1816open/pid"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  reset) stop; rm -rf "$STATE" ;;
  status)
    for p in 18123 18125 18124 18126; do
      if up "$p"; then echo "127.0.0.1:$p up"; else echo "127.0.0.1:$p down"; fi
    done ;;
  *) echo "usage: $0 start|stop|reset|status" >&2; exit 2 ;;
esac

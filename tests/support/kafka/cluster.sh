#!/usr/bin/env bash
# A real 3-node Apache Kafka 4.3.1 KRaft cluster (combined broker+controller) on loopback.
#   cluster.sh start         fetch the jars (cached), format (once), start the stopped nodes,
#                            wait until every broker reports all three; idempotent
#   cluster.sh stop          stop every node (data kept)
#   cluster.sh reset         stop and wipe the data
#   cluster.sh status        exit 0 when every broker reports all three
#   cluster.sh stop-node N   stop node N (1-3) gracefully
#   cluster.sh start-node N  start node N and wait until all three brokers are back
# Clients: 127.0.0.1:19092-19094 (PLAINTEXT). Node 1 also has SASL_PLAINTEXT on 19095
# (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; user readiness / password in $STATE/sasl.password);
# node 2 also has SSL on 19096 requiring a client certificate (CA, client cert and key as PEM
# in $STATE/tls/: ca.pem, client.pem, client.key).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
VERSION=4.3.1
CACHE="${INFRASAGE_CACHE:-$HOME/.cache/infrasage-readiness}/kafka-$VERSION"
STATE="${INFRASAGE_KAFKA_STATE:-${TMPDIR:-/tmp}/infrasage-readiness-kafka}"
NODES=(1 2 3)

alive() { [ -f "$STATE/node-$1.pid" ] && kill -0 "$(cat "$STATE/node-$1.pid")" 2>/dev/null; }

jars() {
  if [ ! -f "$CACHE/.complete" ]; then
    mkdir -p "$CACHE"
    cp "$here/pom.xml" "$CACHE/pom.xml"
    (cd "$CACHE" && mvn -q -B dependency:copy-dependencies -DoutputDirectory=lib -DincludeScope=runtime >&2)
    touch "$CACHE/.complete"
  fi
}

# Small heaps and the serial GC: three brokers share a small machine with the tests.
JAVA=(java -Xms64m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=64m
  -XX:MaxMetaspaceSize=128m -Dlog4j2.configurationFile="$here/log4j2.properties" -cp "$CACHE/lib/*")
kjava() { "${JAVA[@]}" "$@"; }

properties() {
  local n=$1 port=$((19091 + $1)) cport=$((19191 + $1))
  local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
  local advertised="PLAINTEXT://127.0.0.1:$port"
  if [ "$n" = 1 ]; then
    listeners="$listeners,SASL_PLAINTEXT://127.0.0.1:19095"
    advertised="$advertised,SASL_PLAINTEXT://127.0.0.1:19095"
  fi
  if [ "$n" = 2 ]; then
    listeners="$listeners,SSL://127.0.0.1:19096"
    advertised="$advertised,SSL://127.0.0.1:19096"
  fi
  cat <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=1@127.0.0.1:19192,2@127.0.0.1:19193,3@127.0.0.1:19194
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$STATE/data/$n
offsets.topic.replication.factor=3
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
min.insync.replicas=2
# Two spellings of the default retention: the broker's precedence (minutes over hours) makes
# it 7 days, and the exporter must report what the broker applies, not either line.
log.retention.hours=1
log.retention.minutes=10080
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
background.threads=4
auto.create.topics.enable=false
# A stopped broker leaves the metadata quickly, so the broker-stop tests stay short.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_readiness="$(cat "$STATE/sasl.password")";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$STATE/tls/broker.keystore.pem
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$STATE/tls/ca.pem
listener.name.ssl.ssl.client.auth=required
PROPS
}

# A test CA, a broker certificate for 127.0.0.1 and a client certificate, all PEM.
certs() {
  [ -f "$STATE/tls/client.key" ] && return
  local d="$STATE/tls"
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=infrasage test CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  for who in broker client; do
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$who" -keyout "$d/$who.raw.key" -out "$d/$who.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$d/$who.ext"
    openssl x509 -req -in "$d/$who.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
      -extfile "$d/$who.ext" -out "$d/$who.pem" 2>/dev/null
    # PKCS#8: what Kafka's PEM keystore and rustls both read.
    openssl pkcs8 -topk8 -nocrypt -in "$d/$who.raw.key" -out "$d/$who.key"
  done
  cat "$d/broker.key" "$d/broker.pem" > "$d/broker.keystore.pem"
}

format() {
  [ -f "$STATE/.formatted" ] && return
  mkdir -p "$STATE/data"
  [ -f "$STATE/sasl.password" ] || openssl rand -hex 12 > "$STATE/sasl.password"
  local id pw; id=$(kjava kafka.tools.StorageTool random-uuid); pw=$(cat "$STATE/sasl.password")
  for n in "${NODES[@]}"; do
    properties "$n" > "$STATE/server-$n.properties"
    kjava kafka.tools.StorageTool format --ignore-formatted -t "$id" -c "$STATE/server-$n.properties" \
      --add-scram "SCRAM-SHA-256=[name=readiness,password=$pw]" \
      --add-scram "SCRAM-SHA-512=[name=readiness,password=$pw]" >"$STATE/format-$n.log" 2>&1 &
  done
  wait
  touch "$STATE/.formatted"
}

start_node() {
  local n=$1
  alive "$n" && return
  # Written at every start, so a changed listener layout needs no reset.
  certs
  properties "$n" > "$STATE/server-$n.properties"
  setsid "${JAVA[@]}" kafka.Kafka "$STATE/server-$n.properties" >"$STATE/node-$n.log" 2>&1 < /dev/null &
  echo $! > "$STATE/node-$n.pid"
}

stop_node() {
  local n=$1
  if alive "$n"; then
    local pid; pid=$(cat "$STATE/node-$n.pid")
    kill -TERM "$pid" 2>/dev/null || true
    # A controlled shutdown takes ~7 s; without a quorum it can hang, hence the KILL.
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/node-$n.pid"
}

# Ready = every running broker, asked alone, reports every running broker.
ready() {
  local want=() n
  for n in "${NODES[@]}"; do alive "$n" && want+=("$n"); done
  [ ${#want[@]} -gt 0 ] || return 1
  for n in "${want[@]}"; do
    [ "$(python3 "$here/brokers.py" "127.0.0.1:$((19091 + n))" 2>/dev/null)" = "${want[*]}" ] || return 1
  done
}

wait_ready() {
  for _ in $(seq 1 120); do ready && return; sleep 0.5; done
  echo "kafka: not ready after 60 s; see $STATE/node-*.log" >&2
  exit 1
}

case "${1:-}" in
  start)
    jars
    format
    for n in "${NODES[@]}"; do start_node "$n"; done
    wait_ready
    echo "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
    ;;
  stop)
    for n in "${NODES[@]}"; do stop_node "$n" & done
    wait
    ;;
  reset)
    for n in "${NODES[@]}"; do stop_node "$n" & done
    wait
    rm -rf "$STATE"
    ;;
  status)
    for n in "${NODES[@]}"; do alive "$n" || exit 1; done
    ready
    ;;
  stop-node) stop_node "${2:?node 1-3}" ;;
  start-node)
    start_node "${2:?node 1-3}"
    wait_ready
    ;;
  *)
    echo "usage: $0 start|stop|reset|status|stop-node N|start-node N" >&2
    exit 2
    ;;
esac

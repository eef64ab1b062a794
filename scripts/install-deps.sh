#!/usr/bin/env bash
# Installs what the tests need from the package registries, idempotently: a second run on the
# same machine installs nothing. Debian 12 (root, or sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Real Prometheus and Alertmanager (and promtool, amtool): the tests start their own on loopback.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  echo "install-deps: installing Debian's prometheus and prometheus-alertmanager"
  apt_install prometheus prometheus-alertmanager
  # The packages may enable system services on :9090/:9093; nothing here uses them.
  $SUDO systemctl disable --now prometheus prometheus-alertmanager >/dev/null 2>&1 || true
fi

# ClickHouse test servers (tests/support/clickhouse/servers.sh): Debian's clickhouse-server
# 18.16, a real old server, and the current engine from PyPI (chdb-core) in a venv of its own.
if ! command -v clickhouse-server >/dev/null 2>&1; then
  echo "install-deps: installing Debian's clickhouse-server"
  apt_install clickhouse-server clickhouse-client
  # The package may enable a system service on :8123/:9000; the tests start their own.
  $SUDO systemctl disable --now clickhouse-server >/dev/null 2>&1 || true
fi
CHDB_VERSION=26.9.0
chdb_venv="$HOME/.cache/infrasage-readiness/chdb-$CHDB_VERSION/venv"
if ! "$chdb_venv/bin/python" -c 'import chdb.session' >/dev/null 2>&1; then
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_install python3-venv
  echo "install-deps: installing chdb-core $CHDB_VERSION into $chdb_venv"
  python3 -m venv "$chdb_venv"
  "$chdb_venv/bin/pip" install -q "chdb-core==$CHDB_VERSION"
fi
# Grafana's own dashboard schema (npm @grafana/schema) and TypeScript, for the dashboards'
# schema check in tests/bundle.rs; cached per version, so a second run installs nothing.
grafana_schema="$HOME/.cache/infrasage-readiness/grafana-schema-13.2.3"
if [ ! -x "$grafana_schema/node_modules/.bin/tsc" ] || [ ! -d "$grafana_schema/node_modules/@grafana/schema" ]; then
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  echo "install-deps: installing @grafana/schema 13.2.3 and typescript 5 under $grafana_schema"
  mkdir -p "$grafana_schema"
  echo '{"name":"infrasage-grafana-schema-check","private":true}' > "$grafana_schema/package.json"
  npm install --prefix "$grafana_schema" --no-audit --no-fund --silent @grafana/schema@13.2.3 typescript@5
fi

# The test API server's scripts need these (most machines have them already).
for tool in openssl curl; do
  command -v "$tool" >/dev/null 2>&1 || apt_install "$tool"
done
# kube-apiserver v1.34 and etcd v3.6 are built from the Go module proxy (go >= 1.24).
if ! command -v go >/dev/null 2>&1; then
  echo "install-deps: go (>= 1.24) is required to build the test API server" >&2
  exit 1
fi

# The test Kafka cluster: Apache Kafka's jars come from Maven Central through the pom in
# tests/support/kafka (cached by cluster.sh); Java 17 runs them, python3 probes readiness.
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  echo "install-deps: installing Debian's openjdk-17-jre-headless and maven"
  apt_install openjdk-17-jre-headless maven
fi
command -v python3 >/dev/null 2>&1 || apt_install python3

if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo is not on PATH; install Rust (rustup) first" >&2
  exit 1
fi
echo "install-deps: ok"

#!/usr/bin/env bash
# Collection time of the ClickHouse source on the test chdb server (tests/support/clickhouse)
# holding 1,000 MergeTree tables and 250 Buffers over them: the median of 5 `check` runs of
# the source's duration, naming 4 tables, all 1,000, or the 250 Buffers (followed to their
# tables). Usage: scripts/bench-clickhouse.sh [binary]  (default: the debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-${CARGO_TARGET_DIR:-target}/debug/infrasage-readiness}"
tests/support/clickhouse/servers.sh start
state="${INFRASAGE_CH_STATE:-/tmp/infrasage-readiness-clickhouse}"
pw="$state/infrasage.pw"
sql() { curl -fsS -m 30 -H "X-ClickHouse-User: infrasage" -H "X-ClickHouse-Key: $(cat "$pw")" --data-binary "$1" http://127.0.0.1:18123/ >/dev/null; }
if ! curl -fsS -H "X-ClickHouse-User: infrasage" -H "X-ClickHouse-Key: $(cat "$pw")" \
    --data-binary "SELECT count() FROM system.tables WHERE database = 'bench1k'" http://127.0.0.1:18123/ | grep -qx 1250; then
  sql "DROP DATABASE IF EXISTS bench1k"
  sql "CREATE DATABASE bench1k"
  for i in $(seq 0 999); do
    sql "CREATE TABLE bench1k.t$i (ts DateTime, v UInt64) ENGINE = MergeTree ORDER BY ts TTL ts + INTERVAL $((i % 400 + 1)) DAY"
  done
  for i in $(seq 0 249); do
    sql "CREATE TABLE bench1k.b$i AS bench1k.t$i ENGINE = Buffer(bench1k, t$i, 1, 10, 100, 1000, 100000, 1000000, 10000000)"
  done
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
config() { # $1: table name prefix, $2: count
  local tables
  tables=$(for i in $(seq 0 $(($2 - 1))); do printf 'k%s: bench1k.%s%s, ' "$i" "$1" "$i"; done)
  printf "clickhouse: { url: 'http://127.0.0.1:18123', user: infrasage, password_file: %s, timeout: 30s }\nchecks:\n  retention_per_telemetry_type: { params: { tables: { %s } } }\n" \
    "$pw" "${tables%, }" >"$work/config.yaml"
}
measure() { # $1: label
  local runs=()
  for _ in 1 2 3 4 5; do
    # The gate fails (only ClickHouse is configured): its exit code is not the point here.
    runs+=("$({ "$bin" check --config "$work/config.yaml" --output json || true; } | python3 -c \
      'import json,sys; print(next(s["duration_seconds"] for s in json.load(sys.stdin)["sources"] if s["source"] == "clickhouse"))')")
  done
  printf '%-34s median %s s  (runs: %s)\n' "$1" "$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p)" "${runs[*]}"
}
config t 4; measure "4 named MergeTree tables"
config t 1000; measure "1,000 named MergeTree tables"
config b 250; measure "250 named Buffers (followed)"

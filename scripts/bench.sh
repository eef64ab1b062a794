#!/usr/bin/env bash
# The figures of BENCHMARKS.md: wall time and peak RSS of `check --manifests` on the examples
# and on a 100-namespace copy (release build, /usr/bin/time -v), then the in-process bench.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/infrasage-readiness"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

namespaces=()
for i in $(seq -w 0 99); do
  ns="infrasage-$i"
  mkdir -p "$work/copy/$ns"
  for f in examples/manifests/*.yaml; do
    sed "s/namespace: infrasage\$/namespace: $ns/" "$f" > "$work/copy/$ns/$(basename "$f")"
  done
  namespaces+=("$ns")
done
printf 'kubernetes:\n  manifests: [copy]\n  namespaces: [%s]\n' "$(IFS=,; echo "${namespaces[*]}")" > "$work/config.yaml"

measure() {
  local name=$1; shift
  /usr/bin/time -v "$bin" "$@" >/dev/null 2>"$work/time.txt" || true
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$work/time.txt" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$work/time.txt" | awk '{print $NF}')
  printf '%-40s wall %s  peak RSS %s KiB\n' "$name" "$wall" "$rss"
}
measure "check --manifests examples/manifests" check --manifests examples/manifests
measure "check, 100-namespace copy ($(find "$work/copy" -name '*.yaml' | wc -l) files)" check --config "$work/config.yaml"
cargo bench --quiet --bench evaluate
cargo bench --quiet --bench http_sources
# One ClickHouse collection against the chdb test server with 1,000 tables (starts
# tests/support/clickhouse/servers.sh itself).
cargo bench --quiet --bench clickhouse

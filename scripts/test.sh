#!/usr/bin/env bash
# Runs every test, as CI does: installs what the tests need, then formatting, lints, unit
# tests (no services) and integration tests. Services the tests need are started and stopped
# by the scripts under tests/support/, called from here.
set -euo pipefail
cd "$(dirname "$0")/.."

# Builds are cached outside the clone so a second run on this machine is quick.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/infrasage-readiness/target}"
# Tests that need an outside tool fail instead of skipping when it is missing.
export INFRASAGE_TEST_REQUIRE_TOOLS=1

./scripts/install-deps.sh

# The services the integration tests need, one script each with start|stop|reset: started
# fresh for this run, stopped at the end. The tests call the same scripts, so one suite can
# also be run alone. (kube-apiserver + etcd are built once per machine and cached.)
services=(
  tests/support/k8s/cluster.sh
  tests/support/clickhouse/servers.sh
  tests/support/kafka/cluster.sh
)
log=$(mktemp)
stop_services() {
  rm -f "$log"
  for s in "${services[@]}"; do "$s" reset >/dev/null 2>&1 || true; done
}
trap stop_services EXIT
for s in "${services[@]}"; do
  "$s" reset >/dev/null 2>&1 || true
  "$s" start >/dev/null
done

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
echo "== monitoring bundle: promtool check/test of alerts/ (fast fail)"
# The full bundle checks (Grafana schema, dashboard grid and queries, deploy/ render and drift,
# the API server, the Prometheus + Alertmanager end-to-end) are the Rust suites bundle, deploy
# and e2e_monitoring, run by cargo test below.
promtool check rules alerts/rules.yaml
(cd alerts && promtool test rules rules_test.yaml)
echo "== cargo test"
# No doctests: the crate has none, and a trailing "0 passed" would hide the real count.
set +e
cargo test --lib --bins --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"

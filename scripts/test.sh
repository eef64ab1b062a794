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

# The real kube-apiserver + etcd of the live-Kubernetes tests: built once per machine (cached),
# started fresh for this run, stopped at the end. The tests call the same script.
k8s=tests/support/k8s/cluster.sh
log=$(mktemp)
trap 'rm -f "$log"; $k8s reset' EXIT
$k8s reset
$k8s start >/dev/null

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
echo "== cargo test"
# No doctests: the crate has none, and a trailing "0 passed" would hide the real count.
cargo test --lib --bins --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"

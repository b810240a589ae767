#!/usr/bin/env bash
# Runs every test of the project from a fresh clone: installs what the tests
# need, builds all binaries, then runs lints and the whole suite.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_TERM_COLOR=never

echo "== prerequisites"
if ! command -v cargo-nextest >/dev/null 2>&1 && ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
missing=()
for cmd in python3 gcc tar; do command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv gcc tar
fi
# The web UIs' browser tests drive a headless Chromium through Debian's
# chromedriver (crates/webui/src/harness.rs; $CHROMEDRIVER overrides).
if [ ! -x "${CHROMEDRIVER:-/usr/bin/chromedriver}" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi
# The high-availability tests start their own ZooKeeper ensembles from
# Debian's package (crates/mesos-coord/src/zk/testing.rs).
if [ ! -e /usr/share/java/zookeeper.jar ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper
fi
bash scripts/python-clients.sh
export MESOS_TEST_PYTHON="$root/target/venv/bin/python"

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== build"
cargo build --workspace --bins --quiet

echo "== tests"
cargo nextest run --workspace --no-fail-fast

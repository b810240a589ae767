#!/usr/bin/env bash
# Builds the release binaries and starts a local cluster: a master on
# 127.0.0.1:5050 and two agents (flags are passed on to mesos-local, e.g.
# --num_agents=3 --work_dir=/tmp/mesos-local --port=5050).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo build --release --workspace --bins --quiet
exec "$root/target/release/mesos-local" "$@"

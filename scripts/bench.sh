#!/usr/bin/env bash
# Runs the benchmarks and rewrites docs/BENCHMARKS.md from their results.
# P1/P2: criterion over the pure allocator. P6: mesos-bench (release build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mkdir -p target/bench
cargo bench -p mesos-master --bench allocator
cargo build --release --workspace --bins --quiet
./target/release/mesos-bench --scenario=launch --tasks=2000 --concurrency=16 --json=target/bench/p6.json
./target/release/mesos-bench --scenario=launch --tasks=500 --concurrency=1 --json=target/bench/p6_serial.json
python3 scripts/bench_report.py > target/bench/BENCHMARKS.generated.md
echo "table written to target/bench/BENCHMARKS.generated.md; merge it into docs/BENCHMARKS.md"

#!/usr/bin/env bash
# Runs every benchmark and writes docs/BENCHMARKS.md from the results
# (scripts/bench_report.py; the analysis text comes from
# docs/benchmarks-notes.md). Takes ~15 minutes on 2 cores.
#   ./scripts/bench.sh            everything, then rewrite docs/BENCHMARKS.md
#   BENCH_ONLY="p4 p8" ./scripts/bench.sh   just those (others keep their last JSON)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out=target/bench
mkdir -p "$out"
# Simulated agents hold one connection each (two descriptors across the
# bench and master processes): take the whole hard limit.
ulimit -n "$(ulimit -Hn)" || true
only="${BENCH_ONLY:-p1 p3 p4 p5 p6 p8 p9 p10 p11}"
want() { [[ " $only " == *" $1 "* ]]; }

cargo build --release --workspace --bins --quiet
bench=./target/release/mesos-bench

# P1, P2: criterion over the pure allocator (clock injected).
if want p1; then cargo bench -p mesos-master --bench allocator; fi
# P3: 10k simulated agents x 10 running tasks, master in its own process,
# in-memory and durable registry.
if want p3; then $bench --scenario=register --agents=10000 --master_process --registry=both --json=$out/p3.json; fi
# P4: a 10 s probe task in a full cluster churned by 200 frameworks.
if want p4; then $bench --scenario=probe --agents=10000 --frameworks=200 --master_process --probes=60 --probe_interval=500ms \
    "--agent_resources=cpus:2;mem:256" "--task_resources=cpus:1;mem:128" --task_min=10s --task_max=60s \
    --max_inflight=1000000 --warmup=20s --json=$out/p4.json; fi
# P5: sustained offer -> accept -> RUNNING-acked rate at 10k agents.
if want p5; then $bench --scenario=throughput --agents=10000 --master_process --max_inflight=1500 --duration=30s --json=$out/p5.json; fi
# P6: real /bin/true tasks through master + agent + executor.
if want p6; then
  $bench --scenario=launch --tasks=2000 --concurrency=16 --json=$out/p6.json
  $bench --scenario=launch --tasks=500 --concurrency=1 --json=$out/p6_serial.json
fi
# P8: SIGKILL the leader of three masters on a ZooKeeper ensemble; and
# SIGKILL the master and restart it on its redb registry.
if want p8; then
  $bench --scenario=failover --ha --agents=1000 --json=$out/p8_ha_1k.json
  $bench --scenario=failover --ha --agents=10000 --json=$out/p8_ha_10k.json
  $bench --scenario=failover --agents=1000 --json=$out/p8_1k.json
  $bench --scenario=failover --agents=10000 --json=$out/p8_10k.json
fi
# P9: 10 silenced agents among 1,000, both cores kept busy.
if want p9; then $bench --scenario=detect --agents=1000 --silenced=10 --ping_timeout=1s --max_ping_timeouts=3 --json=$out/p9.json; fi
# P10: 1,000 registrations/s, paced, in memory vs durable.
if want p10; then $bench --scenario=register --agents=3000 --master_process --registry=both --register_rate=1000 \
    --register_concurrency=1000 --rounds=5 --json=$out/p10.json; fi
# P11: /master/state at 10k agents, 100k running + 100k completed tasks.
if want p11; then
  cargo bench -p mesos-master --bench state
  $bench --scenario=state --agents=10000 --running=100000 --completed=100000 --master_process --json=$out/p11.json
fi
python3 scripts/bench_report.py > docs/BENCHMARKS.md
echo "docs/BENCHMARKS.md rewritten"

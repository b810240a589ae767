"""Writes docs/BENCHMARKS.md (to stdout) from target/criterion and target/bench."""
import datetime
import json
import os
import platform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def criterion(group, name):
    p = os.path.join(ROOT, "target", "criterion", group, name, "new", "estimates.json")
    with open(p) as f:
        e = json.load(f)
    return e["median"]["point_estimate"] / 1e6, e["mean"]["point_estimate"] / 1e6


def bench(name):
    with open(os.path.join(ROOT, "target", "bench", name)) as f:
        return {x["name"]: x for x in json.load(f)}


def verdict(ok):
    return "met" if ok else "**missed**"


rows = []
for shape, target, anchor in [("1000x100", 10, "Mesos 1.8 ~100 ms"), ("10000x1000", 100, "Mesos 1.8 ~1.1 s"), ("20000x2000", 400, "Mesos 1.8 ~3.8 s")]:
    med, mean = criterion("p1_cycle", shape)
    rows.append(("P1", f"allocation cycle, {shape.replace('x', ' agents x ')} frameworks", f"<= {target} ms", f"{med:.1f} ms (mean {mean:.1f})", anchor, verdict(med <= target),
                 "`cargo bench -p mesos-master --bench allocator -- p1_cycle`"))
med, mean = criterion("p2_all_declined", "10000x1000")
rows.append(("P2", "cycle after every offer declined with an infinite filter, 10k agents x 1k frameworks", "<= 20 ms", f"{med:.2f} ms (mean {mean:.2f})",
             "Mesos DeclineOffers shape", verdict(med <= 20), "`cargo bench -p mesos-master --bench allocator -- p2_all_declined`"))
p6 = bench("p6.json")
p6s = bench("p6_serial.json")
rate = p6["p6_launch_rate"]
ratio = rate["value"] / rate["reference"]
rows.append(("P6", "`/bin/true` tasks through master + agent + executor (2,000 tasks, 16 in flight)", ">= 50% of raw spawn+reap",
             f"{rate['value']:.0f} tasks/s vs raw {rate['reference']:.0f} spawns/s = {ratio:.2f}", "Mesos ~33/s per agent", verdict(ratio >= 0.5),
             "`mesos-bench --scenario=launch --tasks=2000 --concurrency=16`"))
p99 = p6["p6_launch_to_running_p99"]["value"]
p99s = p6s["p6_launch_to_running_p99"]["value"]
rows.append(("P6", "launch -> TASK_RUNNING p99 (16 in flight / 1 in flight)", "<= 20 ms", f"{p99:.1f} ms / {p99s:.1f} ms", "-", verdict(p99 <= 20) + " / " + verdict(p99s <= 20),
             "`mesos-bench --scenario=launch --tasks=500 --concurrency=1`"))

print("# Benchmarks")
print()
print(f"Measured {datetime.date.today()} on this project's machine ({os.cpu_count()} cores, {platform.system()} {platform.release()}), "
      "release builds. Targets are from `shared/BENCHMARKS.md`. Regenerate everything with `./scripts/bench.sh`.")
print()
print("| id | what | target | ours | anchor | verdict | command |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print(open(os.path.join(ROOT, "docs", "benchmarks-notes.md")).read().rstrip())  # analysis kept in docs/

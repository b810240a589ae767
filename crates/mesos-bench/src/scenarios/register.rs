//! Scenario `register` (P3): N simulated agents, each reporting
//! `--tasks_per_agent` running tasks, register concurrently. Reports the
//! time until `/metrics/snapshot` shows them all active, the registration
//! rate, RSS (before/after, per agent, per task) and CPU of the process
//! holding the master, and descriptor use against the limit. With
//! `--registry=both` the replicated-log run is printed against the
//! in-memory one; `--rounds=N` alternates them N times and compares the
//! medians (P10).

use super::{Args, MasterUnderTest, fd_figures, http_client, metric, metrics, reregister_agents};
use crate::report::{Figure, percentile, quantile_figures};
use crate::sim::{SimConfig, SimPool};
use mesos_types::agent_protocol::AgentTask;
use mesos_types::*;
use std::time::Duration;
use tokio::time::Instant;

/// Framework ids the pre-existing tasks belong to.
const FRAMEWORKS: usize = 10;

/// The running tasks agent `i` reports: `k` tasks of `cpus:0.1;mem:32`.
pub fn running_tasks(i: usize, k: usize, resources: &[Resource]) -> Vec<AgentTask> {
    (0..k)
        .map(|j| {
            let id = format!("sim-{i}-t{j}");
            AgentTask {
                framework_id: FrameworkID::new(format!("bench-framework-{}", (i + j) % FRAMEWORKS)),
                task: TaskInfo {
                    name: id.clone(),
                    task_id: TaskID::new(id),
                    resources: resources.to_vec(),
                    command: Some(CommandInfo {
                        value: Some("true".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                state: TaskState::TASK_RUNNING,
                status_update_state: None,
            }
        })
        .collect()
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Figure>> {
    let registries: Vec<&str> = match args.registry.as_str() {
        "both" => vec!["in_memory", "replicated_log"],
        r => vec![r],
    };
    let mut figures = Vec::new();
    let mut reference = None;
    // Per registry, each round's registration latencies (p50, p99).
    let mut quantiles: Vec<Vec<(f64, f64)>> = vec![Vec::new(); registries.len()];
    for round in 0..args.rounds.max(1) {
        for (i, registry) in registries.iter().enumerate() {
            let (mut f, secs, q) = run_once(args, registry, reference).await?;
            // The detailed figures are those of the first round.
            if round == 0 {
                figures.append(&mut f);
            }
            reference.get_or_insert(secs);
            quantiles[i].push(q);
        }
    }
    // P10: what durability adds to a registration (redb, group commit)
    // over the same load in memory, as medians over the rounds.
    if let [mem, durable] = &quantiles[..] {
        let median = |v: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| {
            let mut xs: Vec<f64> = v.iter().map(pick).collect();
            xs.sort_by(f64::total_cmp);
            percentile(&xs, 0.5)
        };
        let p50 = |q: &(f64, f64)| q.0;
        let p99 = |q: &(f64, f64)| q.1;
        figures.push(Figure::new("p10_rounds", mem.len() as f64, "rounds"));
        for (name, v) in [("in_memory", mem), ("replicated_log", durable)] {
            figures.push(Figure::new(
                format!("p10_{name}_latency_p50_median"),
                median(v, p50),
                "ms",
            ));
            figures.push(Figure::new(
                format!("p10_{name}_latency_p99_median"),
                median(v, p99),
                "ms",
            ));
        }
        figures.push(
            Figure::new(
                "p10_added_registration_latency_p99",
                median(durable, p99) - median(mem, p99),
                "ms",
            )
            .against(10.0, "ms target"),
        );
    }
    Ok(figures)
}

async fn run_once(
    args: &Args,
    registry: &str,
    reference: Option<f64>,
) -> anyhow::Result<(Vec<Figure>, f64, (f64, f64))> {
    let dir = tempfile::tempdir()?;
    let mut extra = vec![format!("--registry={registry}")];
    if registry == "replicated_log" {
        extra.push(format!("--work_dir={}", dir.path().display()));
    }
    extra.extend(args.master_flag.iter().cloned());
    let master = MasterUnderTest::start(&extra, args.master_process).await?;
    let http = http_client()?;
    let pool = SimPool::new(master.addr(), SimConfig::default())?;
    let task_resources = Resources::parse("cpus:0.1;mem:32", "*")?.to_wire(false);
    let rss0 = master.rss().unwrap_or(0);
    let cpu0 = master.cpu().unwrap_or(0.0);
    let bench_rss0 = crate::sys::rss_bytes(None).unwrap_or(0);
    let bench_cpu0 = crate::sys::cpu_secs(None).unwrap_or(0.0);

    let n = args.agents;
    let k = args.tasks_per_agent;
    let start = Instant::now();
    let reg = reregister_agents(
        &pool,
        (0..n).map(|i| (i, None)).collect(),
        args.register_concurrency,
        Some(args.register_rate),
        |i| running_tasks(i, k, &task_resources),
    )
    .await;
    let ok = reg.agents.len();
    let active = super::wait_metric(
        &http,
        master.addr(),
        "master/slaves_active",
        ok as f64,
        Duration::from_millis(100),
        Duration::from_secs(120),
    )
    .await;
    let total = start.elapsed().as_secs_f64();
    let snapshot = metrics(&http, master.addr()).await.unwrap_or_default();
    let rss1 = master.rss().unwrap_or(0);
    let cpu1 = master.cpu().unwrap_or(0.0);
    let bench_rss1 = crate::sys::rss_bytes(None).unwrap_or(0);
    let bench_cpu1 = crate::sys::cpu_secs(None).unwrap_or(0.0);

    let p = format!("p3_{registry}");
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let grown = rss1.saturating_sub(rss0) as f64;
    let tasks_running = metric(&snapshot, "master/tasks_running");
    let mut figures = vec![
        Figure::new(format!("{p}_agents_registered"), ok as f64, "agents")
            .against(n as f64, "agents requested"),
        Figure::new(format!("{p}_tasks_running"), tasks_running, "tasks")
            .against((n * k) as f64, "tasks reported"),
    ];
    let time = Figure::new(format!("{p}_time_to_all_active"), total, "s");
    figures.push(match reference {
        Some(r) => time.against(r, "s in_memory"),
        None => time,
    });
    figures.push(Figure::new(
        format!("{p}_time_to_all_registered"),
        reg.elapsed.as_secs_f64(),
        "s",
    ));
    figures.push(Figure::new(
        format!("{p}_registration_rate"),
        ok as f64 / total.max(1e-9),
        "agents/s",
    ));
    figures.extend(quantile_figures(
        &format!("{p}_registration_latency"),
        reg.latencies_ms.clone(),
        "ms",
    ));
    let (what, rss_name) = if master.in_process() {
        ("process (master + simulator)", "process_rss")
    } else {
        ("master process", "master_rss")
    };
    figures.push(Figure::new(
        format!("{p}_{rss_name}_before"),
        mib(rss0),
        "MiB",
    ));
    figures.push(Figure::new(
        format!("{p}_{rss_name}_after"),
        mib(rss1),
        "MiB",
    ));
    figures.push(Figure::new(
        format!("{p}_{rss_name}_per_agent"),
        grown / ok.max(1) as f64 / 1024.0,
        "KiB",
    ));
    if k > 0 {
        figures.push(Figure::new(
            format!("{p}_{rss_name}_per_task"),
            grown / (ok * k).max(1) as f64,
            "bytes",
        ));
    }
    figures.push(Figure::new(
        format!(
            "{p}_{}_cpu",
            if master.in_process() {
                "process"
            } else {
                "master"
            }
        ),
        cpu1 - cpu0,
        "cpu-s",
    ));
    if !master.in_process() {
        figures.push(Figure::new(
            format!("{p}_bench_rss_after"),
            mib(bench_rss1),
            "MiB",
        ));
        figures.push(Figure::new(
            format!("{p}_bench_rss_per_agent"),
            bench_rss1.saturating_sub(bench_rss0) as f64 / ok.max(1) as f64 / 1024.0,
            "KiB",
        ));
        figures.push(Figure::new(
            format!("{p}_bench_cpu"),
            bench_cpu1 - bench_cpu0,
            "cpu-s",
        ));
    }
    figures.extend(fd_figures(&p, &master));
    eprintln!("[{registry}] RSS figures are of the {what}");
    if let Some(e) = &reg.first_error {
        eprintln!(
            "[{registry}] stopped at {ok} of {n} agents ({} registrations failed); first error: {e}",
            reg.failures
        );
    }
    if let Err(last) = active {
        eprintln!("[{registry}] master/slaves_active reached only {last} of {ok} in 120 s");
    }
    drop(reg.agents);
    let _ = tokio::time::timeout(Duration::from_secs(30), master.stop()).await;
    let mut sorted = reg.latencies_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let quantiles = (percentile(&sorted, 0.5), percentile(&sorted, 0.99));
    Ok((figures, total, quantiles))
}

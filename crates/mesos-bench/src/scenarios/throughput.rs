//! Scenario `throughput` (P5): `--frameworks` simulated frameworks launch
//! small no-op tasks on `--agents` simulated agents (RUNNING, then FINISHED
//! after a random `--task_min`..`--task_max`), acknowledging every update,
//! with at most `--max_inflight` tasks launched and not ended. After a
//! warm-up, reports the sustained rate of TASK_RUNNING updates whose
//! acknowledgement the master accepted, and offer -> RUNNING latency.

use super::{Args, MasterUnderTest, fd_figures, http_client, metric, metrics, register_agents};
use crate::report::{Figure, quantile_figures};
use crate::sim::SimPool;
use crate::sim::framework::{ChurnConfig, ChurnStats, run_churn};
use mesos_scheduler::{SchedulerError, Subscription};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// `--frameworks` churning frameworks sharing `--max_inflight` tasks.
pub(super) struct Churn {
    pub stats: Vec<Arc<ChurnStats>>,
    stop: watch::Sender<bool>,
    runs: Vec<tokio::task::JoinHandle<Result<Subscription, SchedulerError>>>,
}

impl Churn {
    pub fn start(endpoint: &str, args: &Args) -> Churn {
        let m = args.frameworks.max(1);
        let (stop, stop_rx) = watch::channel(false);
        let mut stats = Vec::new();
        let mut runs = Vec::new();
        for i in 0..m {
            let s = Arc::new(ChurnStats::default());
            let cfg = ChurnConfig {
                name: format!("churn{i}"),
                tasks_per_offer: args.tasks_per_offer,
                max_inflight: (args.max_inflight / m).max(1),
                task_resources: args.task_resources.clone(),
                ..Default::default()
            };
            let endpoint = endpoint.to_string();
            let (s2, rx) = (s.clone(), stop_rx.clone());
            runs.push(tokio::spawn(async move {
                run_churn(&endpoint, cfg, s2, rx).await
            }));
            stats.push(s);
        }
        Churn { stats, stop, runs }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for r in self.runs {
            let _ = tokio::time::timeout(Duration::from_secs(30), r).await;
        }
    }
}

/// Sums a counter over every framework.
pub(super) fn total(stats: &[Arc<ChurnStats>], f: impl Fn(&ChurnStats) -> u64) -> u64 {
    stats.iter().map(|s| f(s)).sum()
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Figure>> {
    let master = MasterUnderTest::start(&args.master_flag, args.master_process).await?;
    let http = http_client()?;
    let pool = SimPool::new(master.addr(), super::churn_sim_config(args)?)?;
    let reg = register_agents(&pool, 0..args.agents, args.register_concurrency, |_| vec![]).await;
    reg.require_all(args.agents)?;
    eprintln!(
        "{} agents registered in {:.1} s",
        reg.agents.len(),
        reg.elapsed.as_secs_f64()
    );

    let m = args.frameworks.max(1);
    let churn = Churn::start(&master.endpoint(), args);
    let stats = &churn.stats;
    tokio::time::sleep(args.warmup).await;

    let cpu0 = master.cpu().unwrap_or(0.0);
    let bench_cpu0 = crate::sys::cpu_secs(None).unwrap_or(0.0);
    let m0 = metrics(&http, master.addr()).await.unwrap_or_default();
    for s in stats {
        s.take_latencies();
        s.measuring.store(true, Ordering::Relaxed);
    }
    let acked0 = total(stats, |s| ChurnStats::get(&s.running_acked));
    let launched0 = total(stats, |s| ChurnStats::get(&s.launched));
    let finished0 = total(stats, |s| ChurnStats::get(&s.finished));
    let start = Instant::now();
    tokio::time::sleep(args.duration).await;
    let secs = start.elapsed().as_secs_f64();
    let acked = total(stats, |s| ChurnStats::get(&s.running_acked)) - acked0;
    let launched = total(stats, |s| ChurnStats::get(&s.launched)) - launched0;
    let finished = total(stats, |s| ChurnStats::get(&s.finished)) - finished0;
    let m1 = metrics(&http, master.addr()).await.unwrap_or_default();
    let cpu = master.cpu().unwrap_or(0.0) - cpu0;
    let bench_cpu = crate::sys::cpu_secs(None).unwrap_or(0.0) - bench_cpu0;
    let mut latencies = Vec::new();
    for s in stats {
        s.measuring.store(false, Ordering::Relaxed);
        latencies.append(&mut s.take_latencies());
    }
    let failed = total(stats, |s| ChurnStats::get(&s.failed));
    let calls_failed = total(stats, |s| ChurnStats::get(&s.calls_failed));
    churn.stop().await;

    let runs_delta = metric(&m1, "allocator/mesos/allocation_runs")
        - metric(&m0, "allocator/mesos/allocation_runs");
    let mut figures = vec![
        Figure::new("p5_running_acked_rate", acked as f64 / secs, "tasks/s")
            .against(2000.0, "tasks/s target"),
        Figure::new("p5_launch_rate", launched as f64 / secs, "tasks/s"),
        Figure::new("p5_finish_rate", finished as f64 / secs, "tasks/s"),
    ];
    figures.extend(quantile_figures("p5_offer_to_running", latencies, "ms"));
    figures.push(Figure::new(
        "p5_allocation_runs_rate",
        runs_delta / secs,
        "runs/s",
    ));
    let who = if master.in_process() {
        "process"
    } else {
        "master"
    };
    figures.push(
        Figure::new(
            format!("p5_{who}_cpu_per_task"),
            cpu / acked.max(1) as f64 * 1e3,
            "cpu-ms",
        )
        .against(cpu / secs, "cores busy"),
    );
    if !master.in_process() {
        figures.push(Figure::new(
            "p5_bench_cpu_per_task",
            bench_cpu / acked.max(1) as f64 * 1e3,
            "cpu-ms",
        ));
    }
    figures.extend(fd_figures("p5", &master));
    eprintln!(
        "shape: {} agents, {m} frameworks, max {} in flight, {} per offer, tasks {:?}..{:?}; window {:.1} s; {failed} tasks ended other than FINISHED, {calls_failed} framework calls failed, {} agent calls failed, {} update retries",
        reg.agents.len(),
        args.max_inflight,
        args.tasks_per_offer,
        args.task_min,
        args.task_max,
        secs,
        pool.stats.calls_failed.load(Ordering::Relaxed),
        pool.stats.update_retries.load(Ordering::Relaxed),
    );
    drop(reg.agents);
    let _ = tokio::time::timeout(Duration::from_secs(30), master.stop()).await;
    Ok(figures)
}

//! Scenario `probe` (P4): the extra delay of a fixed-length task in a
//! churning cluster, as in the Mesos paper's scalability experiment.
//!
//! `--agents` simulated agents and `--frameworks` churning frameworks (the
//! `throughput` load, usually 200 of them) run while a probe framework
//! submits one task of `--probe_task` length every `--probe_interval`, up
//! to `--probes` tasks. A submission REVIVEs the probe (it SUPPRESSes while
//! it wants nothing, like a well-behaved framework), the task is launched
//! on the first offer, and its extra delay is
//! `(TASK_FINISHED received - submitted) - --probe_task`: waiting for an
//! offer, the launch, and the three status updates with their acks.
//!
//! As in the paper, the churning frameworks keep the cluster full: size
//! `--agent_resources` and `--task_resources` so that agents hold whole
//! tasks and nothing else (e.g. `cpus:2;mem:256` and `cpus:1;mem:128`), and
//! let tasks run long enough (`--task_min=10s --task_max=60s`) for the
//! master to keep up with the churn. Offers then come from tasks ending, not
//! from idle agents circulating among 200 frameworks that decline them
//! (that storm is a property of the offer model on an idle cluster, which
//! frameworks avoid with SUPPRESS and long filters). The run reports the
//! cluster's CPU use so a half-empty cluster is visible.

use super::throughput::Churn;
use super::{Args, MasterUnderTest, register_agents};
use crate::report::{Figure, quantile_figures};
use crate::sim::SimPool;
use crate::sim::framework::framework_info;
use mesos_types::scheduler::EventType;
use mesos_types::*;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// What the probe framework measured.
#[derive(Debug, Default)]
struct ProbeResults {
    /// Extra delay of each finished probe task, ms.
    extra_ms: Vec<f64>,
    /// Submission -> TASK_RUNNING, ms.
    to_running_ms: Vec<f64>,
    /// Probe tasks that ended other than TASK_FINISHED, or never ended.
    failed: usize,
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Figure>> {
    let master = MasterUnderTest::start(&args.master_flag, args.master_process).await?;
    let pool = SimPool::new(master.addr(), super::churn_sim_config(args)?)?;
    let reg = register_agents(&pool, 0..args.agents, args.register_concurrency, |_| vec![]).await;
    reg.require_all(args.agents)?;
    eprintln!(
        "{} agents registered in {:.1} s",
        reg.agents.len(),
        reg.elapsed.as_secs_f64()
    );
    let churn = Churn::start(&master.endpoint(), args);
    tokio::time::sleep(args.warmup).await;
    let churned0 = super::throughput::total(&churn.stats, |s| {
        s.finished.load(std::sync::atomic::Ordering::Relaxed)
    });
    let http = super::http_client()?;
    let used = super::metrics(&http, master.addr())
        .await
        .map(|m| super::metric(&m, "master/cpus_percent") * 100.0)
        .unwrap_or(0.0);
    let started = Instant::now();
    let results = probe(&master.endpoint(), args).await?;
    let churned = super::throughput::total(&churn.stats, |s| {
        s.finished.load(std::sync::atomic::Ordering::Relaxed)
    }) - churned0;
    let secs = started.elapsed().as_secs_f64();
    churn.stop().await;

    let mut figures = quantile_figures("p4_probe_extra_delay", results.extra_ms.clone(), "ms");
    for f in &mut figures {
        let target = if f.name.ends_with("p99") { 200.0 } else { 50.0 };
        if f.name.ends_with("p50") || f.name.ends_with("p99") {
            *f = f.clone().against(target, "ms target");
        }
    }
    figures.extend(quantile_figures(
        "p4_probe_to_running",
        results.to_running_ms,
        "ms",
    ));
    figures.push(Figure::new("p4_cluster_cpus_used", used, "percent"));
    figures.push(Figure::new(
        "p4_churn_task_rate",
        churned as f64 / secs,
        "tasks/s",
    ));
    eprintln!(
        "shape: {} agents, {} churning frameworks (max {} tasks in flight, tasks {:?}..{:?}), {} probe tasks of {:?} every {:?}; {} probes failed",
        reg.agents.len(),
        args.frameworks,
        args.max_inflight,
        args.task_min,
        args.task_max,
        results.extra_ms.len(),
        args.probe_task,
        args.probe_interval,
        results.failed,
    );
    drop(reg.agents);
    let _ = tokio::time::timeout(Duration::from_secs(30), master.stop()).await;
    Ok(figures)
}

/// Runs the probe framework until every probe task ended (or a generous
/// deadline passed: those count as failed).
async fn probe(endpoint: &str, args: &Args) -> anyhow::Result<ProbeResults> {
    let mut sub = mesos_scheduler::subscribe(endpoint, framework_info("probe")).await?;
    let caller = sub.caller.clone();
    let each = Resources::parse(&args.task_resources, "*")?.to_wire(false);
    let command = format!("sleep {}", args.probe_task.as_secs_f64());
    let probes = args.probes.max(1);
    let deadline = Instant::now()
        + args.probe_interval * probes as u32
        + args.probe_task
        + Duration::from_secs(120);
    let mut ticker = tokio::time::interval(args.probe_interval);
    let mut waiting: VecDeque<Instant> = VecDeque::new();
    let mut launched: HashMap<TaskID, Instant> = HashMap::new();
    let mut submitted = 0usize;
    let mut suppressed = false;
    let mut out = ProbeResults::default();
    while out.extra_ms.len() + out.failed < probes {
        tokio::select! {
            _ = ticker.tick(), if submitted < probes => {
                waiting.push_back(Instant::now());
                submitted += 1;
                if suppressed {
                    caller.revive().await?;
                    suppressed = false;
                }
            }
            e = sub.events.recv() => {
                let Some(e) = e else { anyhow::bail!("the probe's subscription ended") };
                match e.kind {
                    EventType::OFFERS => {
                        let mut unused = Vec::new();
                        for offer in e.offers.map(|o| o.offers).unwrap_or_default() {
                            let Some(t0) = waiting.pop_front() else {
                                unused.push(offer.id);
                                continue;
                            };
                            let id = TaskID::new(format!("probe-{}", launched.len() + out.extra_ms.len() + out.failed));
                            launched.insert(id.clone(), t0);
                            let task = TaskInfo {
                                name: id.value.clone(),
                                task_id: id,
                                agent_id: offer.agent_id.clone(),
                                resources: each.clone(),
                                command: Some(CommandInfo {
                                    value: Some(command.clone()),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            };
                            caller.launch(vec![offer.id], vec![task], None).await?;
                        }
                        if !unused.is_empty() {
                            // REVIVE clears these filters when the next probe is due.
                            caller
                                .decline(unused, Some(Filters { refuse_seconds: MAX_REFUSE_SECONDS }))
                                .await?;
                        }
                        if waiting.is_empty() && !suppressed {
                            caller.suppress().await?;
                            suppressed = true;
                        }
                    }
                    EventType::UPDATE => {
                        let Some(status) = e.update.map(|u| u.status) else { continue };
                        if status.uuid.is_some() {
                            caller.acknowledge(&status).await?;
                        }
                        let Some(t0) = launched.get(&status.task_id).copied() else { continue };
                        let ms = t0.elapsed().as_secs_f64() * 1e3;
                        match status.state {
                            TaskState::TASK_RUNNING => out.to_running_ms.push(ms),
                            TaskState::TASK_FINISHED => {
                                launched.remove(&status.task_id);
                                out.extra_ms.push(ms - args.probe_task.as_secs_f64() * 1e3);
                            }
                            s if mesos_types::task_state::is_terminal(s) => {
                                launched.remove(&status.task_id);
                                out.failed += 1;
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                out.failed += probes - out.extra_ms.len() - out.failed;
            }
        }
    }
    let _ = caller.teardown().await;
    Ok(out)
}

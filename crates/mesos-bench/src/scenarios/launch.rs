//! Scenario `launch` (P6 in shared/BENCHMARKS.md): N real `/bin/true` tasks
//! through an in-process master and agent, each in its own
//! `mesos-executor` process, next to the raw spawn+reap rate of `/bin/true`
//! measured in the same run.

use super::Args;
use crate::report::{Figure, percentile};
use clap::Parser;
use mesos_types::scheduler::EventType;
use mesos_types::task_state::is_terminal;
use mesos_types::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Raw reference: spawn and reap `/bin/true` one after another.
fn raw_spawn_rate(n: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        let _ = std::process::Command::new("/bin/true").status();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Figure>> {
    let raw = raw_spawn_rate(args.tasks.min(2000));
    let dir = tempfile::tempdir()?;
    let mflags = <mesos_master::MasterFlags as Parser>::try_parse_from([
        "mesos-master",
        "--port=0",
        "--registry=in_memory",
        "--allocation_interval=100ms",
    ])?;
    let master = mesos_master::start(mflags, Default::default()).await?;
    let cpus = (args.concurrency as f64 * 0.01).max(0.01);
    let aflags = <mesos_agent::AgentFlags as Parser>::try_parse_from([
        "mesos-agent".to_string(),
        format!("--master={}", master.addr),
        "--port=0".into(),
        format!("--work_dir={}", dir.path().display()),
        format!(
            "--resources=cpus:{cpus};mem:{};disk:1000;ports:[31000-32000]",
            args.concurrency * 32
        ),
    ])?;
    let agent = mesos_agent::start(aflags, Default::default()).await?;
    agent.registered().await;

    let info = FrameworkInfo {
        user: "root".into(),
        name: "mesos-bench launch".into(),
        ..Default::default()
    };
    let mut sub = mesos_scheduler::subscribe(&master.endpoint(), info).await?;
    let caller = sub.caller.clone();
    let mut launched_at: HashMap<String, Instant> = HashMap::new();
    let mut to_running: Vec<f64> = Vec::new();
    let mut next = 0usize;
    let mut done = 0usize;
    let mut failed = 0usize;
    let start = Instant::now();
    let no_filter = Some(Filters {
        refuse_seconds: 0.0,
    });
    while done < args.tasks {
        let Some(event) = tokio::time::timeout(Duration::from_secs(60), sub.events.recv()).await?
        else {
            anyhow::bail!("event stream ended")
        };
        match event.kind {
            EventType::OFFERS => {
                for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
                    let avail = Resources::from_wire(offer.resources.clone());
                    let mut fit = (avail.scalar("cpus") / 0.01).floor() as usize;
                    fit = fit
                        .min((avail.scalar("mem") / 32.0).floor() as usize)
                        .min(args.tasks - next);
                    let mut tasks = Vec::with_capacity(fit);
                    for _ in 0..fit {
                        let id = format!("t{next}");
                        next += 1;
                        tasks.push(TaskInfo {
                            name: id.clone(),
                            task_id: TaskID::new(id.clone()),
                            agent_id: offer.agent_id.clone(),
                            resources: Resources::parse("cpus:0.01;mem:32", "*")
                                .unwrap_or_default()
                                .to_wire(false),
                            command: Some(CommandInfo {
                                value: Some("/bin/true".into()),
                                shell: false,
                                arguments: vec!["true".into()],
                                ..Default::default()
                            }),
                            ..Default::default()
                        });
                        launched_at.insert(id, Instant::now());
                    }
                    if tasks.is_empty() {
                        caller.decline(vec![offer.id], no_filter).await?;
                    } else {
                        caller.launch(vec![offer.id], tasks, no_filter).await?;
                    }
                }
            }
            EventType::UPDATE => {
                let Some(s) = event.update.map(|u| u.status) else {
                    continue;
                };
                if s.state == TaskState::TASK_RUNNING
                    && let Some(t) = launched_at.get(&s.task_id.value)
                {
                    to_running.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                caller.acknowledge(&s).await?;
                if is_terminal(s.state) {
                    done += 1;
                    if s.state != TaskState::TASK_FINISHED {
                        failed += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = caller.teardown().await;
    agent.shutdown().await;
    master.stop().await;
    to_running.sort_by(f64::total_cmp);
    if failed > 0 {
        eprintln!(
            "warning: {failed} of {} tasks did not finish cleanly",
            args.tasks
        );
    }
    Ok(vec![
        Figure::new("p6_launch_rate", args.tasks as f64 / elapsed, "tasks/s")
            .against(raw, "spawns/s"),
        Figure::new(
            "p6_launch_to_running_p50",
            percentile(&to_running, 0.5),
            "ms",
        ),
        Figure::new(
            "p6_launch_to_running_p99",
            percentile(&to_running, 0.99),
            "ms",
        ),
    ])
}

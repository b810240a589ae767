//! Scenario `failover` (P8, with the embedded store until the ZooKeeper
//! issue lands): `--agents` simulated agents, each with
//! `--tasks_per_agent` running tasks, register with a master process on a
//! durable registry (`--registry=replicated_log`, redb under a temporary
//! `--work_dir`). The master is SIGKILLed and started again on the same
//! port and work directory; every agent then re-registers under its id
//! with its tasks, as `mesos-agent` does when its master connection drops.
//!
//! Reported: the restarted master's start time (process spawn to listening,
//! which includes reading the registry), the time from listening to every
//! agent re-registered, their sum (kill -> all back, the P8 figure), and
//! the tasks the master knows as running afterwards (nothing may be lost).
//! Not included: a real agent's randomized re-registration backoff
//! (`--registration_backoff_factor`, up to 1 s by default), which spreads
//! the same registrations over that second.

use super::{
    Args, MasterUnderTest, http_client, metric, metrics, register_agents, reregister_agents,
    running_tasks,
};
use crate::report::Figure;
use crate::sim::{SimConfig, SimPool};
use mesos_types::Resources;
use std::time::Duration;
use tokio::time::Instant;

pub async fn run(args: &Args) -> anyhow::Result<Vec<Figure>> {
    let dir = tempfile::tempdir()?;
    let mut flags = vec![
        "--registry=replicated_log".to_string(),
        format!("--work_dir={}", dir.path().display()),
    ];
    flags.extend(args.master_flag.iter().cloned());
    let master = MasterUnderTest::start(&flags, true).await?;
    let addr = master.addr();
    let http = http_client()?;
    let task_resources = Resources::parse("cpus:0.1;mem:32", "*")?.to_wire(false);
    let k = args.tasks_per_agent;
    let tasks = |i| running_tasks(i, k, &task_resources);

    let pool = SimPool::new(addr, SimConfig::default())?;
    let reg = register_agents(&pool, 0..args.agents, args.register_concurrency, tasks).await;
    reg.require_all(args.agents)?;
    eprintln!(
        "{} agents with {} tasks registered in {:.1} s",
        reg.agents.len(),
        reg.agents.len() * k,
        reg.elapsed.as_secs_f64()
    );
    let before = metric(&metrics(&http, addr).await?, "master/tasks_running");
    let ids: Vec<(usize, Option<mesos_types::AgentID>)> = reg
        .agents
        .iter()
        .map(|a| (a.index, Some(a.id.clone())))
        .collect();

    let killed = Instant::now();
    master.kill().await;
    drop(reg.agents); // their streams ended with the master
    flags.push(format!("--port={}", addr.port()));
    let master = MasterUnderTest::start(&flags, true).await?;
    let listening = killed.elapsed();
    let rereg = reregister_agents(&pool, ids, args.register_concurrency, None, tasks).await;
    let all_back = killed.elapsed();
    let snapshot = metrics(&http, master.addr()).await?;
    let after = metric(&snapshot, "master/tasks_running");
    let active = metric(&snapshot, "master/slaves_active");
    if let Some(e) = &rereg.first_error {
        eprintln!(
            "{} re-registrations failed; first error: {e}",
            rereg.failures
        );
    }
    eprintln!(
        "shape: {} agents x {k} tasks, master on redb (replicated_log) in its own process",
        args.agents
    );
    let figures = vec![
        Figure::new("p8_master_restart", listening.as_secs_f64(), "s"),
        Figure::new(
            "p8_time_to_all_reregistered",
            (all_back - listening).as_secs_f64(),
            "s",
        ),
        Figure::new("p8_failover_total", all_back.as_secs_f64(), "s").against(2.0, "s target"),
        Figure::new("p8_agents_active_after", active, "agents")
            .against(args.agents as f64, "agents before"),
        Figure::new("p8_tasks_running_after", after, "tasks").against(before, "tasks before"),
    ];
    drop(rereg.agents);
    let _ = tokio::time::timeout(Duration::from_secs(30), master.stop()).await;
    Ok(figures)
}

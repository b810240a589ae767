//! Scenario `failover` (P8): `--agents` simulated agents, each with
//! `--tasks_per_agent` running tasks, register with a master on a durable
//! registry; the master is SIGKILLed, and every agent re-registers under
//! its id with its tasks, as `mesos-agent` does when its master
//! connection drops. Two ways back:
//!
//! * [`restart`] (default): the one master is started again on its
//!   embedded store (redb).
//! * [`ha`] (`--ha`): three masters on a ZooKeeper ensemble; the leader is
//!   killed and one of the others is elected and takes the agents.
//!
//! This module holds what both share: the fleet of agents and their tasks,
//! and the figures of what the master knows afterwards (nothing may be
//! lost).

mod ha;
mod restart;

use super::{Args, Registered, metric, metrics, register_agents, reregister_agents, running_tasks};
use crate::report::Figure;
use crate::sim::{SimAgent, SimPool};
use mesos_types::agent_protocol::AgentTask;
use mesos_types::{AgentID, Resource, Resources};
use std::net::SocketAddr;
use std::sync::Arc;

/// P8's target, kill -> every agent re-registered (`shared/BENCHMARKS.md`).
const TARGET_SECS: f64 = 2.0;

/// Runs the variant `args` asks for.
pub async fn run(args: &Args) -> anyhow::Result<Vec<Figure>> {
    if args.ha {
        ha::run(args).await
    } else {
        restart::run(args).await
    }
}

/// The simulated agents and the tasks each reports.
struct Fleet {
    agents: usize,
    tasks_per_agent: usize,
    task_resources: Vec<Resource>,
    concurrency: usize,
}

/// The fleet registered with the master about to be killed.
struct Before {
    /// Their event streams; they end with the master.
    agents: Vec<SimAgent>,
    /// `(index, id)` of every agent, to re-register under.
    ids: Vec<(usize, Option<AgentID>)>,
    /// `master/tasks_running` once all had registered.
    tasks_running: f64,
}

impl Fleet {
    fn new(args: &Args) -> anyhow::Result<Fleet> {
        Ok(Fleet {
            agents: args.agents,
            tasks_per_agent: args.tasks_per_agent,
            task_resources: Resources::parse("cpus:0.1;mem:32", "*")?.to_wire(false),
            concurrency: args.register_concurrency,
        })
    }

    fn tasks(&self, i: usize) -> Vec<AgentTask> {
        running_tasks(i, self.tasks_per_agent, &self.task_resources)
    }

    /// Registers every agent with `pool`'s master; fails unless all did.
    async fn register(
        &self,
        pool: &Arc<SimPool>,
        http: &reqwest::Client,
    ) -> anyhow::Result<Before> {
        let reg = register_agents(pool, 0..self.agents, self.concurrency, |i| self.tasks(i)).await;
        reg.require_all(self.agents)?;
        eprintln!(
            "{} agents with {} tasks registered in {:.1} s",
            reg.agents.len(),
            reg.agents.len() * self.tasks_per_agent,
            reg.elapsed.as_secs_f64()
        );
        let tasks_running = metric(&metrics(http, pool.master()).await?, "master/tasks_running");
        let ids = reg
            .agents
            .iter()
            .map(|a| (a.index, Some(a.id.clone())))
            .collect();
        Ok(Before {
            agents: reg.agents,
            ids,
            tasks_running,
        })
    }

    /// Re-registers every agent under its id with `pool`'s master.
    async fn reregister(
        &self,
        pool: &Arc<SimPool>,
        ids: Vec<(usize, Option<AgentID>)>,
    ) -> Registered {
        reregister_agents(pool, ids, self.concurrency, None, |i| self.tasks(i)).await
    }
}

/// What the master at `master` knows after the failover, against before:
/// `<prefix>_agents_active_after` and `<prefix>_tasks_running_after`.
async fn outcome(
    prefix: &str,
    fleet: &Fleet,
    before: f64,
    rereg: &Registered,
    http: &reqwest::Client,
    master: SocketAddr,
) -> anyhow::Result<Vec<Figure>> {
    if let Some(e) = &rereg.first_error {
        eprintln!(
            "{} re-registrations failed; first error: {e}",
            rereg.failures
        );
    }
    let snapshot = metrics(http, master).await?;
    Ok(vec![
        Figure::new(
            format!("{prefix}_agents_active_after"),
            metric(&snapshot, "master/slaves_active"),
            "agents",
        )
        .against(fleet.agents as f64, "agents before"),
        Figure::new(
            format!("{prefix}_tasks_running_after"),
            metric(&snapshot, "master/tasks_running"),
            "tasks",
        )
        .against(before, "tasks before"),
    ])
}

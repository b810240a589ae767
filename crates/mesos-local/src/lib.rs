//! `mesos-local`: a master and `--num_agents` agents in one process, the
//! registry on the embedded store under `--work_dir`. Executors are still
//! separate processes (`mesos-executor` next to this binary), as on a real
//! cluster, so tasks behave exactly as they would there.

use clap::Parser;
use mesos_agent::{AgentFlags, AgentHandle};
use mesos_daemon::logging::Logging;
use mesos_master::{MasterFlags, MasterHandle};
use std::collections::BTreeMap;

#[derive(Parser, Debug, Clone)]
#[command(name = "mesos-local", version = mesos_types::MESOS_VERSION, args_override_self = true, rename_all = "snake_case")]
pub struct LocalFlags {
    /// IP the master and agents listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub ip: String,
    /// Master port (agents take free ports).
    #[arg(long, default_value_t = 5050)]
    pub port: u16,
    /// Number of agents.
    #[arg(long, alias = "num_slaves", default_value_t = 2)]
    pub num_agents: usize,
    /// Where the registry and the agents' sandboxes live.
    #[arg(long, default_value = "/tmp/mesos-local")]
    pub work_dir: String,
    /// Resources of each agent (default: detected from the machine).
    #[arg(long)]
    pub resources: Option<String>,
    /// Master allocation interval.
    #[arg(long, default_value = "1secs")]
    pub allocation_interval: mesos_flags::Duration,
}

/// A running local cluster.
pub struct LocalCluster {
    pub master: MasterHandle,
    pub agents: Vec<AgentHandle>,
}

fn effective(args: &[String]) -> BTreeMap<String, String> {
    args.iter()
        .filter_map(|a| a.strip_prefix("--"))
        .map(|a| {
            let (k, v) = a.split_once('=').unwrap_or((a, "true"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

impl LocalCluster {
    /// Starts the cluster without the process's logging (SET_LOGGING_LEVEL
    /// only records the level).
    pub async fn start(flags: &LocalFlags) -> anyhow::Result<LocalCluster> {
        Self::start_with_logging(flags, Logging::detached()).await
    }

    /// Starts the cluster with the process's logging, shared by the master
    /// and every agent: they are one process, so SET_LOGGING_LEVEL on any
    /// of them changes the verbosity of all.
    pub async fn start_with_logging(
        flags: &LocalFlags,
        logging: Logging,
    ) -> anyhow::Result<LocalCluster> {
        if flags.num_agents == 0 {
            anyhow::bail!("--num_agents must be at least 1");
        }
        let master_args: Vec<String> = vec![
            format!("--ip={}", flags.ip),
            format!("--port={}", flags.port),
            format!("--work_dir={}/master", flags.work_dir),
            "--registry=replicated_log".into(),
            format!("--allocation_interval={}", flags.allocation_interval),
        ];
        let mf = MasterFlags::try_parse_from(
            std::iter::once("mesos-master".to_string()).chain(master_args.iter().cloned()),
        )?;
        let master =
            mesos_master::start_with_logging(mf, effective(&master_args), logging.clone()).await?;
        let mut agents = Vec::with_capacity(flags.num_agents);
        for i in 0..flags.num_agents {
            let mut args: Vec<String> = vec![
                format!("--master={}", master.addr),
                format!("--ip={}", flags.ip),
                "--port=0".into(),
                format!("--work_dir={}/agents/{i}", flags.work_dir),
            ];
            if let Some(r) = &flags.resources {
                args.push(format!("--resources={r}"));
            }
            let af = AgentFlags::try_parse_from(
                std::iter::once("mesos-agent".to_string()).chain(args.iter().cloned()),
            )?;
            agents.push(
                mesos_agent::start_with_logging(af, effective(&args), logging.clone()).await?,
            );
        }
        for a in &agents {
            a.registered().await;
        }
        Ok(LocalCluster { master, agents })
    }

    pub async fn stop(self) {
        for a in self.agents {
            a.shutdown().await;
        }
        self.master.stop().await;
    }
}

//! The benchmarks. Each scenario returns its figures; the binary prints them.
//!
//! * `launch` (P6): real `/bin/true` tasks through a real agent.
//! * `register` (P3): N simulated agents with running tasks register.
//! * `probe` (P4): extra delay of a fixed-length task in a churning cluster.
//! * `throughput` (P5): offer -> accept -> RUNNING acknowledged, sustained.
//! * `state` (P11): `/master/state` and allocation latency at scale.
//! * `detect` (P9): silenced agents found unreachable by health checking
//!   with both cores busy; no healthy agent removed.
//! * `failover` (P8): SIGKILL the master, restart it on its embedded
//!   store, time until every agent re-registered with its tasks; with
//!   `--ha`, SIGKILL the leader of three masters on a ZooKeeper ensemble
//!   and time the election and the re-registration with the new leader.
//! * `static` (internal): serves one file's bytes, P11's reference.
//! * `master` (internal): serves a master in this process for the others'
//!   `--master_process` mode, so master and simulator each get their own
//!   descriptor budget and the master's RSS and CPU are its own.

mod detect;
mod failover;
mod launch;
mod master;
mod probe;
mod register;
mod state;
mod throughput;

pub use master::{MasterUnderTest, serve_master, serve_static, spawn_server};
pub use register::running_tasks;

use crate::report::Figure;
use crate::sim::{SimAgent, SimConfig, SimError, SimPool};
use clap::Parser;
use futures::StreamExt;
use mesos_types::agent_protocol::AgentTask;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Command-line flags of `mesos-bench`.
#[derive(Parser, Debug, Clone)]
#[command(name = "mesos-bench", rename_all = "snake_case")]
pub struct Args {
    /// Scenario: launch, register, probe, throughput, state, failover,
    /// detect (or master: internal).
    #[arg(long, default_value = "launch")]
    pub scenario: String,
    /// launch: number of real tasks.
    #[arg(long, default_value_t = 2000)]
    pub tasks: usize,
    /// launch: tasks in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Simulated agents.
    #[arg(long, default_value_t = 1000)]
    pub agents: usize,
    /// register: running tasks each agent reports when it registers.
    #[arg(long, default_value_t = 10)]
    pub tasks_per_agent: usize,
    /// register: registrations per second, paced (0: as fast as
    /// `--register_concurrency` allows).
    #[arg(long, default_value_t = 0.0)]
    pub register_rate: f64,
    /// Registrations in flight at once.
    #[arg(long, default_value_t = 256)]
    pub register_concurrency: usize,
    /// register: in_memory, replicated_log, or both (the second run is
    /// printed against the first).
    #[arg(long, default_value = "in_memory")]
    pub registry: String,
    /// register with `--registry=both`: alternate the two registries this
    /// many times; P10 compares the medians of the rounds (one run's p99
    /// is mostly scheduling noise at this scale).
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Run the master in a child process (its own descriptor limit, RSS and CPU).
    #[arg(long, default_value_t = false)]
    pub master_process: bool,
    /// Extra master flag (repeatable), e.g. `--master_flag=--allocation_interval=1secs`.
    #[arg(long, allow_hyphen_values = true)]
    pub master_flag: Vec<String>,
    /// throughput/state: simulated frameworks launching tasks.
    #[arg(long, default_value_t = 1)]
    pub frameworks: usize,
    /// throughput: measured window (e.g. 30s, 500ms, 2mins).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// throughput: unmeasured warm-up before the window.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Shortest run time of a no-op task.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub task_min: Duration,
    /// Longest run time of a no-op task.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub task_max: Duration,
    /// throughput/probe: each simulated agent's resources.
    #[arg(
        long,
        default_value = "cpus:8;mem:32768;disk:100000;ports:[31000-32000]"
    )]
    pub agent_resources: String,
    /// throughput/probe: each churn task's resources (the probe task's too).
    #[arg(long, default_value = "cpus:0.01;mem:32")]
    pub task_resources: String,
    /// Tasks launched and not yet ended, over all frameworks.
    #[arg(long, default_value_t = 4000)]
    pub max_inflight: usize,
    /// Most tasks a framework launches on one offer.
    #[arg(long, default_value_t = 10)]
    pub tasks_per_offer: usize,
    /// state: running tasks (spread over the agents at registration).
    #[arg(long, default_value_t = 100_000)]
    pub running: usize,
    /// state: completed tasks (launched and finished through a framework).
    #[arg(long, default_value_t = 100_000)]
    pub completed: usize,
    /// state: sequential `/master/state` requests measured.
    #[arg(long, default_value_t = 20)]
    pub gets: usize,
    /// static (internal): the file whose bytes it serves.
    #[arg(long)]
    pub static_body: Option<String>,
    /// state: concurrent `/master/state` pollers in the loaded phase.
    #[arg(long, default_value_t = 10)]
    pub pollers: usize,
    /// state: agents registered before the completed tasks are built (the
    /// rest register afterwards).
    #[arg(long, default_value_t = 1000)]
    pub build_agents: usize,
    /// state: tasks in flight while measuring (the framework keeps launching).
    #[arg(long, default_value_t = 100)]
    pub launch_inflight: usize,
    /// state: allocation probe rounds per phase; probe: probe tasks.
    #[arg(long, default_value_t = 30)]
    pub probes: usize,
    /// probe: how long each probe task runs.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub probe_task: Duration,
    /// probe: a probe task is submitted this often.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub probe_interval: Duration,
    /// detect: agents silenced.
    #[arg(long, default_value_t = 10)]
    pub silenced: usize,
    /// detect: the master's `--agent_ping_timeout`.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub ping_timeout: Duration,
    /// detect: the master's `--max_agent_ping_timeouts`.
    #[arg(long, default_value_t = 3)]
    pub max_ping_timeouts: u32,
    /// failover: three masters on a throwaway 3-server ZooKeeper ensemble
    /// (`--zk`, `--quorum=2`); the leader is SIGKILLed and another takes
    /// over, instead of one master restarted on its embedded store.
    #[arg(long, default_value_t = false)]
    pub ha: bool,
    /// failover --ha: the masters' `--zk_session_timeout` (ZooKeeper notices
    /// the killed leader only when its session expires).
    #[arg(long, default_value = "2secs", value_parser = parse_duration)]
    pub zk_session_timeout: Duration,
    /// failover --ha: pause before a simulated agent sends its registration
    /// again when the master answers 503 (no leader yet, or the new leader
    /// still reading the registry).
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub register_retry: Duration,
    /// detect: threads spinning to keep every core busy (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub busy_threads: usize,
    /// Write the figures as JSON here.
    #[arg(long)]
    pub json: Option<String>,
}

/// `30s`, `500ms`, `2mins`, `1.5secs`, `10m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid duration '{s}'"))?;
    let secs = match unit {
        "ms" => n / 1e3,
        "" | "s" | "sec" | "secs" => n,
        "m" | "min" | "mins" => n * 60.0,
        "h" | "hrs" => n * 3600.0,
        _ => return Err(format!("invalid duration '{s}': unknown unit '{unit}'")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration '{s}': {e}"))
}

/// The simulated agents of `throughput` and `probe`.
pub fn churn_sim_config(args: &Args) -> anyhow::Result<SimConfig> {
    Ok(SimConfig {
        resources: mesos_types::Resources::parse(&args.agent_resources, "*")
            .map_err(|e| anyhow::anyhow!("--agent_resources: {e}"))?
            .to_wire(true),
        task_duration: Some((args.task_min, args.task_max.max(args.task_min))),
        ..Default::default()
    })
}

/// Runs the scenario named in `args`.
pub async fn run(args: &Args) -> anyhow::Result<Vec<Figure>> {
    match args.scenario.as_str() {
        "launch" => launch::run(args).await,
        "register" => register::run(args).await,
        "probe" => probe::run(args).await,
        "throughput" => throughput::run(args).await,
        "state" => state::run(args).await,
        "failover" => failover::run(args).await,
        "detect" => detect::run(args).await,
        other => {
            anyhow::bail!(
                "unknown scenario '{other}' (available: launch, register, probe, throughput, state, failover, detect)"
            )
        }
    }
}

/// How long one registration may take (a master out of descriptors
/// leaves connections waiting in its accept queue).
const REGISTER_TIMEOUT: Duration = Duration::from_secs(60);

/// Outcome of registering many agents.
pub struct Registered {
    pub agents: Vec<SimAgent>,
    /// Time until every registration was answered (REGISTERED or error).
    pub elapsed: Duration,
    pub failures: usize,
    pub first_error: Option<String>,
    /// Request -> REGISTERED of each successful registration, ms.
    pub latencies_ms: Vec<f64>,
}

impl Registered {
    /// Fails the scenario unless all `wanted` agents registered.
    pub fn require_all(&self, wanted: usize) -> anyhow::Result<()> {
        match &self.first_error {
            Some(e) => anyhow::bail!(
                "only {} of {wanted} agents registered: {e}",
                self.agents.len()
            ),
            None => Ok(()),
        }
    }
}

/// Registers agents `indices` with at most `concurrency` registrations in
/// flight; `tasks(i)` are the running tasks agent `i` reports.
pub async fn register_agents(
    pool: &Arc<SimPool>,
    indices: std::ops::Range<usize>,
    concurrency: usize,
    tasks: impl Fn(usize) -> Vec<AgentTask>,
) -> Registered {
    let agents = indices.map(|i| (i, None)).collect();
    reregister_agents(pool, agents, concurrency, None, tasks).await
}

/// Registers agents `(index, previous id)`: with an id, the agent
/// re-registers under it (after a master restart). With `rate`, the k-th
/// registration is sent at `k / rate` seconds (open loop: latency is
/// measured from that moment, so queueing in the master counts).
pub async fn reregister_agents(
    pool: &Arc<SimPool>,
    agents: Vec<(usize, Option<mesos_types::AgentID>)>,
    concurrency: usize,
    rate: Option<f64>,
    tasks: impl Fn(usize) -> Vec<AgentTask>,
) -> Registered {
    let start = Instant::now();
    let n = agents.len();
    let mut results = futures::stream::iter(agents.into_iter().enumerate())
        .map(|(k, (i, id))| {
            let register = SimAgent::register_as(pool, i, id, tasks(i));
            let due = rate
                .filter(|r| *r > 0.0)
                .map(|r| start + Duration::from_secs_f64(k as f64 / r));
            async move {
                if let Some(due) = due {
                    tokio::time::sleep_until(due).await;
                }
                let sent = due.unwrap_or_else(Instant::now);
                tokio::time::timeout(REGISTER_TIMEOUT, register)
                    .await
                    .unwrap_or_else(|_| Err(SimError::Protocol("no REGISTERED in time".into())))
                    .map(|a| (a, sent.elapsed().as_secs_f64() * 1e3))
            }
        })
        .buffer_unordered(concurrency.max(1));
    let mut agents = Vec::with_capacity(n);
    let mut latencies_ms = Vec::with_capacity(n);
    let mut failures = 0;
    let mut first_error = None;
    while let Some(r) = results.next().await {
        match r {
            Ok((a, ms)) => {
                agents.push(a);
                latencies_ms.push(ms);
            }
            Err(e) => {
                failures += 1;
                first_error.get_or_insert_with(|| format!("{e:?}"));
            }
        }
    }
    Registered {
        agents,
        elapsed: start.elapsed(),
        failures,
        first_error,
        latencies_ms,
    }
}

/// `GET /metrics/snapshot`.
pub async fn metrics(
    http: &reqwest::Client,
    master: std::net::SocketAddr,
) -> anyhow::Result<serde_json::Value> {
    Ok(http
        .get(format!("http://{master}/metrics/snapshot"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// One metric as a number (0 if absent).
pub fn metric(v: &serde_json::Value, key: &str) -> f64 {
    v.get(key).and_then(|x| x.as_f64()).unwrap_or(0.0)
}

/// Polls `/metrics/snapshot` every `poll` until `key >= target`; returns
/// the time waited or the last value seen when `timeout` passes.
pub async fn wait_metric(
    http: &reqwest::Client,
    master: std::net::SocketAddr,
    key: &str,
    target: f64,
    poll: Duration,
    timeout: Duration,
) -> Result<Duration, f64> {
    let start = Instant::now();
    let mut last = 0.0;
    while start.elapsed() < timeout {
        if let Ok(m) = metrics(http, master).await {
            last = metric(&m, key);
            if last >= target {
                return Ok(start.elapsed());
            }
        }
        tokio::time::sleep(poll).await;
    }
    Err(last)
}

/// A plain client for the benchmark's own reads (`/metrics`, `/state`).
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().build()?)
}

/// Descriptor figures and a one-line diagnosis for runs that hit a limit.
pub fn fd_figures(prefix: &str, master: &MasterUnderTest) -> Vec<Figure> {
    let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap_or((0, 0));
    let mut v = vec![
        Figure::new(
            format!("{prefix}_bench_fds"),
            crate::sys::open_fds(None) as f64,
            "fds",
        )
        .against(soft as f64, "fd limit"),
    ];
    if let Some(pid) = master.pid() {
        v.push(
            Figure::new(
                format!("{prefix}_master_fds"),
                crate::sys::open_fds(Some(pid)) as f64,
                "fds",
            )
            .against(soft as f64, "fd limit"),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2mins"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("5parsecs").is_err());
    }
}

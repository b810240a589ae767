//! Simulated agents and frameworks.
//!
//! A [`SimAgent`] is an agent without processes: it registers with
//! `POST /master/api/v1/agent` exactly as `mesos-agent` does, keeps the
//! RecordIO event stream open on its own connection, answers `PING` with
//! `PONG`, and runs tasks under a no-op executor model: on `RUN_TASK` it
//! reports `TASK_STARTING` and `TASK_RUNNING`, then `TASK_FINISHED` after a
//! configured time or on command, and `TASK_KILLED` on `KILL_TASK`. Status
//! updates go through the real agent's status update manager
//! ([`mesos_agent::core::updates::UpdateManager`]): per task an ordered
//! queue whose head is re-sent until the master relays the scheduler's
//! `ACKNOWLEDGE`. Calls from one agent are sent one at a time, in order, as
//! the real agent's call sender does.
//!
//! Many agents share one [`SimPool`]: one tokio runtime, one
//! `reqwest::Client` (the connection pool for calls; each agent's event
//! stream holds a connection of its own) and a semaphore bounding the calls
//! in flight. Source ports are left to `connect()`, which shares the local
//! port range per destination: binding them explicitly (`bind(0)`) takes a
//! port from the whole range and is slow once thousands are in use.
//!
//! [`framework`] holds scheduler-side helpers on the Rust SDK.

mod agent;
pub mod framework;

pub use agent::{AgentView, SimAgent};

use mesos_types::Resource;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Failures of a simulated agent's registration.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("HTTP error: {0}")]
    Http(#[from] reqwest::Error),
    #[error("master answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("event stream ended before REGISTERED")]
    NotRegistered,
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// How the simulated agents behave.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Every agent's total resources, in wire form.
    pub resources: Vec<Resource>,
    /// A task finishes after a uniformly random time in this range; `None`:
    /// tasks run until killed or finished by [`SimAgent::finish`].
    pub task_duration: Option<(Duration, Duration)>,
    /// Re-send period of an unacknowledged status update (agent flag
    /// `--status_update_retry_interval`, 10 s).
    pub retry_interval: Duration,
    /// Calls (not streams) in flight across the whole pool.
    pub max_calls_in_flight: usize,
    /// A registration the master cannot take yet (503: no leader, or the
    /// leader is still recovering; or no connection) is sent again after
    /// this pause, as `mesos-agent` keeps trying. `None`: it fails.
    pub register_retry: Option<Duration>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            resources: mesos_types::Resources::parse(
                "cpus:8;mem:32768;disk:100000;ports:[31000-32000]",
                "*",
            )
            .map(|r| r.to_wire(true))
            .unwrap_or_default(),
            task_duration: None,
            retry_interval: Duration::from_secs(10),
            max_calls_in_flight: 256,
            register_retry: None,
        }
    }
}

/// Counters shared by every agent of a pool.
#[derive(Debug, Default)]
pub struct SimStats {
    pub registered: AtomicU64,
    /// Registrations sent again after a 503 or a refused connection.
    pub register_retries: AtomicU64,
    pub streams_closed: AtomicU64,
    pub tasks_launched: AtomicU64,
    pub tasks_live: AtomicU64,
    pub tasks_killed: AtomicU64,
    pub updates_sent: AtomicU64,
    pub update_retries: AtomicU64,
    pub calls_failed: AtomicU64,
    pub acks_received: AtomicU64,
    pub pings: AtomicU64,
}

impl SimStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// What many simulated agents share: config, HTTP clients, call budget, counters.
pub struct SimPool {
    master: SocketAddr,
    url: String,
    client: reqwest::Client,
    calls: Arc<Semaphore>,
    pub config: SimConfig,
    pub stats: SimStats,
}

impl SimPool {
    /// A pool talking to the master at `master`.
    pub fn new(master: SocketAddr, config: SimConfig) -> Result<Arc<SimPool>, SimError> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(config.max_calls_in_flight.max(1))
            .pool_idle_timeout(Duration::from_secs(90))
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .build()?;
        Ok(Arc::new(SimPool {
            master,
            url: format!("http://{master}/master/api/v1/agent"),
            client,
            calls: Arc::new(Semaphore::new(config.max_calls_in_flight.max(1))),
            config,
            stats: SimStats::default(),
        }))
    }

    /// The master this pool talks to.
    pub fn master(&self) -> SocketAddr {
        self.master
    }

    /// The agent API URL (`http://<master>/master/api/v1/agent`).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

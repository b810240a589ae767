//! The Mesos agent (`mesos-agent` / `mesos-slave`), as a library so that
//! `mesos-local` can run several agents inside one process.
//!
//! Embedding: build [`AgentFlags`] (e.g. with [`flags::load`] or
//! `AgentFlags::try_parse_from`), call [`start`], and keep the returned
//! [`AgentHandle`]; `--port=0` picks a free port, reported in
//! [`AgentHandle::addr`]. [`AgentHandle::shutdown`] kills the agent's
//! executors and stops it; [`AgentHandle::shutdown_keep_checkpointed`] (the
//! binary on SIGTERM/SIGINT) leaves executors of checkpointing frameworks
//! running for the next agent on the same `--work_dir` to recover.
//!
//! Recovery (`--recover=reconnect`): [`checkpoint`] reads `<work_dir>/meta`,
//! [`core::Core::recover`] rebuilds the state; registration with the master
//! (with the checkpointed agent id) waits until the recovered executors have
//! re-subscribed or `--executor_reregistration_timeout` has passed.
//!
//! Layering (sans-IO core, I/O at the edge):
//! * [`core`] — all bookkeeping and protocol decisions as a synchronous
//!   state machine returning [`core::Effect`]s; unit-tested without I/O.
//! * [`runtime`] — performs effects (master calls, executor streams, process
//!   launch/kill, timers) and feeds results back into the core.
//! * [`master_link`] — registration with the leading master (a fixed one,
//!   or the one a `zk://` group elects, followed as it changes) and the
//!   call sender.
//! * [`http`] — routing and endpoints (executor API, state, files, ...).
//! * Leaf modules: [`flags`], [`detect`] (resources), [`paths`] (sandbox
//!   layout), [`launcher`], [`fetcher`], [`proc_tree`] (killing process
//!   trees), [`monitor`] (resource usage of executors from `/proc`),
//!   [`host`] (the blocking side effects, behind a trait). The `/files`
//!   logic, system metrics, logging control and build facts are shared
//!   with the master in `mesos-daemon`.

pub mod checkpoint;
pub mod cli;
pub mod core;
pub mod detect;
pub mod error;
pub mod fetcher;
pub mod flags;
pub mod host;
pub mod http;
pub mod launcher;
pub mod master_link;
pub mod monitor;
pub mod paths;
pub mod proc_tree;
pub mod runtime;

pub use flags::AgentFlags;

use anyhow::Context;
use mesos_types::{AgentID, AgentInfo, Attribute};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// The program name of the log file (`<log_dir>/mesos-agent.INFO`).
pub const LOG_PROGRAM: &str = "mesos-agent";

/// How often the core re-sends due status updates.
const TICK: Duration = Duration::from_secs(1);

/// A running agent.
pub struct AgentHandle {
    /// The address the HTTP server is bound to.
    pub addr: SocketAddr,
    /// The address reported to the master and executors.
    pub advertised_addr: SocketAddr,
    shared: Arc<runtime::Shared>,
    /// The checkpoint directory (`meta/` under `--work_dir`).
    meta_dir: std::path::PathBuf,
    agent_id: watch::Receiver<Option<AgentID>>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl AgentHandle {
    /// The agent id, once registered.
    pub fn agent_id(&self) -> Option<AgentID> {
        self.agent_id.borrow().clone()
    }

    /// A watch on the agent id (None until registered).
    pub fn agent_id_watch(&self) -> watch::Receiver<Option<AgentID>> {
        self.agent_id.clone()
    }

    /// Waits until the agent has registered with the master.
    pub async fn registered(&self) -> AgentID {
        first_value(self.agent_id.clone()).await
    }

    /// Resolves when the master orders this agent to shut down (it was
    /// marked gone), with the master's reason. The owner then calls
    /// [`AgentHandle::shutdown_for_good`].
    pub async fn shut_down_by_master(&self) -> String {
        first_value(self.shared.shutdown_by_master()).await
    }

    /// Kills every executor, stops, and deletes the checkpoint (`meta/`
    /// under `--work_dir`), so that an agent started again on this
    /// `--work_dir` registers as a new agent: what Mesos does when the
    /// master shuts an agent down.
    pub async fn shutdown_for_good(self) {
        let (shared, meta_dir) = (self.shared.clone(), self.meta_dir.clone());
        self.shutdown_with(false).await;
        shared.remove_checkpoint_for_good(&meta_dir);
    }

    /// Kills all executors, disconnects from the master and stops the HTTP server.
    pub async fn shutdown(self) {
        self.shutdown_with(false).await
    }

    /// Like [`AgentHandle::shutdown`], but executors of checkpointing
    /// frameworks keep running (an agent restarted on the same work_dir
    /// recovers them).
    pub async fn shutdown_keep_checkpointed(self) {
        self.shutdown_with(true).await
    }

    async fn shutdown_with(mut self, keep_checkpointed: bool) {
        // Checkpoints still queued (a pid, an update) are written first:
        // the next agent on this work_dir recovers from them.
        let drained = self.shared.drained();
        if tokio::time::timeout(Duration::from_secs(5), drained)
            .await
            .is_err()
        {
            warn!("Stopping with effects still queued");
        }
        self.stop(keep_checkpointed);
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    fn stop(&mut self, keep_checkpointed: bool) {
        self.shared.shutdown(keep_checkpointed);
        for t in self.tasks.drain(..) {
            t.abort();
        }
        let _ = self.shutdown.send(true);
    }
}

impl Drop for AgentHandle {
    fn drop(&mut self) {
        if !*self.shutdown.borrow() {
            self.stop(false);
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Starts an agent: binds the HTTP server, then registers with the master
/// and serves in the background. `effective_flags` is what `/flags` and
/// `state.flags` report. The agent does not own the process's logging
/// (it may be one of several in `mesos-local`): SET_LOGGING_LEVEL only
/// records the level; see [`start_with_logging`].
pub async fn start(
    flags: AgentFlags,
    effective_flags: BTreeMap<String, String>,
) -> anyhow::Result<AgentHandle> {
    start_with_logging(
        flags,
        effective_flags,
        mesos_daemon::logging::Logging::detached(),
    )
    .await
}

/// [`start`], with the process's logging (the `mesos-agent` binary), which
/// SET_LOGGING_LEVEL changes.
pub async fn start_with_logging(
    flags: AgentFlags,
    effective_flags: BTreeMap<String, String>,
    logging: mesos_daemon::logging::Logging,
) -> anyhow::Result<AgentHandle> {
    let validated = flags.validate()?;
    if flags
        .containerizers
        .split(',')
        .any(|c| c.trim() == "docker")
    {
        warn!(
            "The docker containerizer is not available in this build; using the mesos containerizer only"
        );
    }
    std::fs::create_dir_all(&flags.work_dir)
        .with_context(|| format!("Failed to create --work_dir '{}'", flags.work_dir.display()))?;
    let work_dir = flags
        .work_dir
        .canonicalize()
        .context("Failed to resolve --work_dir")?;
    let machine = detect::probe(&work_dir);
    let resources =
        detect::agent_resources(&machine, flags.resources.as_deref(), &flags.default_role)
            .map_err(|e| anyhow::anyhow!("Invalid --resources: {e}"))?;
    let attributes = match &flags.attributes {
        Some(text) => {
            Attribute::parse_list(text).map_err(|e| anyhow::anyhow!("Invalid --attributes: {e}"))?
        }
        None => Vec::new(),
    };

    let listener = tokio::net::TcpListener::bind((flags.ip, flags.port))
        .await
        .with_context(|| format!("Failed to bind {}:{}", flags.ip, flags.port))?;
    let addr = listener.local_addr()?;
    let advertise_ip = match flags.advertise_ip {
        Some(ip) => ip,
        None if !flags.ip.is_unspecified() => flags.ip,
        None => outbound_ip(&validated.master)
            .await
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    let advertised_addr =
        SocketAddr::new(advertise_ip, flags.advertise_port.unwrap_or(addr.port()));
    let hostname = match &flags.hostname {
        Some(h) => h.clone(),
        None if flags.hostname_lookup => {
            system_hostname().unwrap_or_else(|| advertise_ip.to_string())
        }
        None => advertise_ip.to_string(),
    };
    let launcher_dir = flags.launcher_dir();
    if !launcher_dir.join("mesos-executor").exists() {
        warn!(
            "No mesos-executor in '{}': command tasks will fail (set --launcher_dir)",
            launcher_dir.display()
        );
    }

    let info = AgentInfo {
        hostname,
        port: i32::from(advertised_addr.port()),
        resources: resources.into_vec(),
        attributes,
        id: None,
        domain: None,
    };
    let recovered = match flags.recover.as_str() {
        "cleanup" => {
            let found = checkpoint::recover(&work_dir, false)?;
            for ex in found.frameworks.iter().flat_map(|f| &f.executors) {
                if let (true, Some(pid)) = (ex.alive, ex.pid) {
                    info!(pid, "--recover=cleanup: killing a recovered executor");
                    proc_tree::kill_tree(pid);
                }
            }
            let meta = checkpoint::meta_dir(&work_dir);
            if meta.exists() {
                std::fs::remove_dir_all(&meta)
                    .with_context(|| format!("Failed to remove '{}'", meta.display()))?;
            }
            core::Recovered::default()
        }
        _ => checkpoint::recover(&work_dir, flags.strict)?,
    };
    let meta_dir = checkpoint::meta_dir(&work_dir);
    let config = core::CoreConfig {
        work_dir,
        launcher_dir,
        ip: advertised_addr.ip(),
        port: advertised_addr.port(),
        executor_registration_timeout: flags.executor_registration_timeout.get(),
        executor_shutdown_grace_period: flags.executor_shutdown_grace_period.get(),
        executor_reregistration_timeout: flags.executor_reregistration_timeout.get(),
        recovery_timeout: flags.recovery_timeout.get(),
        status_update_retry_interval: flags.status_update_retry_interval.get(),
        executor_environment: validated.executor_environment,
        checkpoint: true,
        fetch_limits: fetcher::FetchLimits {
            stall_timeout: flags.fetcher_stall_timeout.get(),
            max_size: flags.fetcher_max_size.0,
        },
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        // Below the servers' 30 s idle cut-off (mesos-http), so a kept-alive
        // connection is never reused just as the master closes it.
        .pool_idle_timeout(std::time::Duration::from_secs(15))
        .build()
        .context("Failed to create the HTTP client")?;
    let (calls_tx, calls_rx) = mpsc::unbounded_channel();
    // `/slave/log` exists whenever --log_dir is set, even before the first
    // line is written (and when embedded, where nothing writes it).
    let log_file = match &flags.log_dir {
        Some(dir) => {
            let path = mesos_daemon::logging::log_file(dir, LOG_PROGRAM);
            mesos_daemon::logging::open_log_file(&path)
                .with_context(|| format!("Failed to open the log file '{}'", path.display()))?;
            Some(path)
        }
        None => None,
    };
    let facts = runtime::Facts {
        flags: effective_flags,
        log_file,
        logging,
        start_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
        pid: format!("slave(1)@{advertised_addr}"),
    };
    let shared = runtime::Shared::new(core::Core::new(config, info), facts, client, calls_tx);
    shared.handle(|c| c.recover(recovered, tokio::time::Instant::now()));
    let agent_id = shared.agent_id();

    let (shutdown, mut shutdown_rx) = watch::channel(false);
    let app = http::router(shared.clone());
    let server = tokio::spawn(async move {
        let stop = async move {
            while !*shutdown_rx.borrow_and_update() {
                if shutdown_rx.changed().await.is_err() {
                    return;
                }
            }
        };
        if let Err(e) = mesos_http::serve(listener, app, stop, Default::default()).await {
            warn!("HTTP server failed: {e}");
        }
    });
    let link = Arc::new(master_link::Link::default());
    let backoff = flags.registration_backoff_factor.get();
    let leader = validated.master.detect(flags.zk_session_timeout.get());
    if let mesos_coord::MasterLocation::ZooKeeper(url) = &validated.master {
        info!("Detecting the leading master in {url}");
    }
    let tasks = vec![
        tokio::spawn({
            let shared = shared.clone();
            let link = link.clone();
            async move {
                // Recovered executors re-subscribe before we re-register.
                while shared.read(|c| c.recovering()) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                master_link::run_registration(shared, link, leader, backoff).await
            }
        }),
        tokio::spawn(master_link::run_call_sender(shared.clone(), link, calls_rx)),
        tokio::spawn(tick_loop(shared.clone())),
    ];
    info!("Agent listening on {addr} (advertised as {advertised_addr})");
    Ok(AgentHandle {
        addr,
        advertised_addr,
        shared,
        meta_dir,
        agent_id,
        shutdown,
        server: Some(server),
        tasks,
    })
}

/// The first value the watch holds. If its sender goes away first (the
/// agent stopped) this never resolves, as for an agent that never got it.
async fn first_value<T: Clone>(mut rx: watch::Receiver<Option<T>>) -> T {
    loop {
        if let Some(v) = rx.borrow_and_update().clone() {
            return v;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Status update retries every second; executor heartbeats every 30 s.
async fn tick_loop(shared: Arc<runtime::Shared>) {
    let mut interval = tokio::time::interval(TICK);
    let mut last_heartbeat = tokio::time::Instant::now();
    loop {
        let now = interval.tick().await;
        shared.handle(|c| c.tick(now));
        if now.duration_since(last_heartbeat) >= runtime::EXECUTOR_HEARTBEAT_INTERVAL {
            last_heartbeat = now;
            shared.heartbeat_executors();
        }
    }
}

/// The local address used to reach the master (no packet is sent). With
/// ZooKeeper, the route to its first server stands in for the route to
/// masters not known yet.
async fn outbound_ip(master: &mesos_coord::MasterLocation) -> Option<IpAddr> {
    let route_to = match master {
        mesos_coord::MasterLocation::Direct { host, port } => mesos_coord::host_port(host, *port),
        mesos_coord::MasterLocation::ZooKeeper(url) => url.servers.first()?.clone(),
    };
    let target = tokio::net::lookup_host(route_to).await.ok()?.next()?;
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().ok()?
    } else {
        "[::]:0".parse().ok()?
    };
    let socket = std::net::UdpSocket::bind(bind).ok()?;
    socket.connect(target).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

fn system_hostname() -> Option<String> {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let h = h.trim();
    (!h.is_empty()).then(|| h.to_string())
}

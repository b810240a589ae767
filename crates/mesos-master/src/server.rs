//! Wiring: opens the registry, binds the listener, runs the HTTP server and
//! the allocation/timer loop. Used by the `mesos-master` binary and by
//! `mesos-local` (which embeds a master in its own process).

use crate::flags::MasterFlags;
use crate::leadership::MasterRole;
use crate::master::registry::{
    AGENT_PREFIX, GONE_PREFIX, QUOTA_PREFIX, REMOVED_FRAMEWORK_PREFIX, UNREACHABLE_PREFIX,
    WEIGHT_PREFIX,
};
use crate::master::{Master, MasterConfig, now_secs};
use anyhow::Context;
use mesos_coord::zk::SessionProbe;
use mesos_coord::{LocalStore, MemoryStore, Store};
use mesos_daemon::logging::Logging;
use mesos_types::policy::{QuotaConfig, WeightInfo};
use mesos_types::{Address, AgentID, MESOS_VERSION, MasterInfo, ipv4_to_master_ip};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, watch};

/// State shared by every handler and loop.
pub struct Shared {
    master: Mutex<Master>,
    /// Woken when the book wants an allocation before the next interval.
    pub wake: Notify,
    /// Woken when the book queued durable changes for the registrar.
    registry_wake: Notify,
    /// Where this master stands (see [`crate::leadership`]).
    role: watch::Sender<MasterRole>,
    /// The ZooKeeper session's health, with `--zk`.
    zk_probe: Mutex<Option<SessionProbe>>,
    pub flags: MasterFlags,
    pub effective_flags: BTreeMap<String, String>,
    /// The master's log file (`--log_dir`), served as `/master/log`.
    pub log_file: Option<std::path::PathBuf>,
    /// The logging verbosity (GET_/SET_LOGGING_LEVEL).
    pub logging: mesos_daemon::logging::Logging,
    /// Moves when a write changed what the web UI shows (by a cheap
    /// fingerprint of the book): open pages then refresh.
    pub changes: webui::live::ChangeFeed,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Master> {
        // A panic while holding the lock would be a bug; keep serving with
        // the state as it was rather than poisoning every later request.
        self.master.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a mutation with the current time; wakes the allocator if needed.
    pub fn write<R>(&self, f: impl FnOnce(&mut Master, f64) -> R) -> R {
        let mut m = self.lock();
        let r = f(&mut m, now_secs());
        self.changes.observe(crate::ui::fingerprint(&m));
        if m.allocation_wanted {
            self.wake.notify_one();
        }
        if m.registry_wanted() {
            self.registry_wake.notify_one();
        }
        r
    }

    pub fn read<R>(&self, f: impl FnOnce(&Master) -> R) -> R {
        f(&self.lock())
    }

    /// Where this master stands now.
    pub fn role(&self) -> MasterRole {
        self.role.borrow().clone()
    }

    /// The role as it changes.
    pub fn watch_role(&self) -> watch::Receiver<MasterRole> {
        self.role.subscribe()
    }

    /// Records the role, and in the book who leads and since when.
    pub(crate) fn set_role(&self, role: MasterRole) {
        self.write(|m, now| match &role {
            // Elected (`master/elected` 1) from the moment it won, as in
            // Mesos; it answers 503 until the registry is read.
            MasterRole::Recovering | MasterRole::Leading => {
                m.elected_time.get_or_insert(now);
                m.leader = Some(m.info.clone());
            }
            MasterRole::Standby { leader } => {
                m.elected_time = None;
                m.leader = leader.clone();
            }
            MasterRole::Lost(_) => {
                m.elected_time = None;
                m.leader = None;
            }
        });
        self.role.send_replace(role);
    }

    pub(crate) fn set_zk_probe(&self, probe: SessionProbe) {
        *self.zk_probe.lock().unwrap_or_else(|p| p.into_inner()) = Some(probe);
    }

    /// Why the leader cannot make changes right now (ZooKeeper unreachable),
    /// if it cannot.
    pub fn paused_reason(&self) -> Option<String> {
        crate::leadership::paused_reason(
            self.zk_probe
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref(),
        )
    }

    /// Replaces the (empty) book of a newly elected master with the one the
    /// registry describes. Blocking: the registry is read here.
    pub(crate) fn recover(&self, store: &dyn Store) -> anyhow::Result<()> {
        let (info, config, start_time) =
            self.read(|m| (m.info.clone(), m.config.clone(), m.start_time));
        let mut book = recover_book(store, info, config, now_secs())?;
        book.start_time = start_time;
        self.write(|m, _| {
            book.elected_time = m.elected_time;
            book.leader = m.leader.clone();
            *m = book;
        });
        Ok(())
    }

    /// Starts what only the leader runs: allocation, timers and the
    /// registrar writing to `store`. They stop when the result is dropped.
    pub(crate) fn start_leading(self: Arc<Self>, store: Arc<dyn Store>) -> TaskGroup {
        let interval = self
            .flags
            .allocation_interval
            .get()
            .max(std::time::Duration::from_millis(1));
        // Timers and agent health have their own beat: tied to
        // --allocation_interval they were as coarse as that interval (an
        // operator's 10 s batch meant dead agents and expired failover
        // timeouts noticed up to 10 s late). A scan of every agent and
        // framework is microseconds, so once a second (or once per ping, if
        // pings are faster) costs nothing.
        let timer_period = self
            .flags
            .agent_ping_timeout
            .get()
            .min(std::time::Duration::from_secs(1))
            .max(std::time::Duration::from_millis(10));
        TaskGroup {
            _tasks: vec![
                AbortOnDrop(tokio::spawn(allocation_loop(self.clone(), interval))),
                AbortOnDrop(tokio::spawn(timer_loop(self.clone(), timer_period))),
                AbortOnDrop(tokio::spawn(registrar_loop(self, store))),
            ],
        }
    }
}

/// Background tasks, aborted together when dropped.
pub(crate) struct TaskGroup {
    _tasks: Vec<AbortOnDrop>,
}

/// A running master.
pub struct MasterHandle {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl MasterHandle {
    /// `host:port` to give agents and schedulers.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Resolves with the reason once this master has lost its leadership
    /// (with `--zk`); never for a standalone master. The `mesos-master`
    /// binary exits then, as Mesos does.
    pub async fn lost(&self) -> String {
        let mut role = self.shared.watch_role();
        match role.wait_for(|r| matches!(r, MasterRole::Lost(_))).await {
            Ok(r) => match &*r {
                MasterRole::Lost(why) => why.clone(),
                other => format!("{other:?}"),
            },
            Err(_) => std::future::pending().await,
        }
    }

    /// Stops accepting requests and ends the server. Event streams never end
    /// by themselves, so after a short grace period the remaining
    /// connections are dropped.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(std::time::Duration::from_secs(1), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
            let _ = (&mut self.task).await;
        }
    }
}

/// Starts a master; `--port=0` picks a free port (see [`MasterHandle::addr`]).
/// The master does not own the process's logging here (it may be embedded,
/// as in `mesos-local`): SET_LOGGING_LEVEL only records the level; see
/// [`start_with_logging`].
pub async fn start(
    flags: MasterFlags,
    effective_flags: BTreeMap<String, String>,
) -> anyhow::Result<MasterHandle> {
    start_with_logging(flags, effective_flags, Logging::detached()).await
}

/// [`start`], with the process's logging (the `mesos-master` binary),
/// which SET_LOGGING_LEVEL changes.
pub async fn start_with_logging(
    flags: MasterFlags,
    effective_flags: BTreeMap<String, String>,
    logging: Logging,
) -> anyhow::Result<MasterHandle> {
    flags.validate().map_err(anyhow::Error::msg)?;
    let registry = match flags.zk_url().map_err(anyhow::Error::msg)? {
        Some(url) => Registry::ZooKeeper(url),
        None => Registry::Local(open_registry(&flags)?),
    };
    start_inner(flags, effective_flags, registry, logging).await
}

/// Where the registry lives.
enum Registry {
    /// This process's own store; the master leads from the start.
    Local(Arc<dyn Store>),
    /// In ZooKeeper, read by whichever master is elected.
    ZooKeeper(mesos_coord::zk::ZkUrl),
}

/// The program name of the log file (`<log_dir>/mesos-master.INFO`).
pub const LOG_PROGRAM: &str = "mesos-master";

/// The registry `--registry` and `--work_dir` name.
fn open_registry(flags: &MasterFlags) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match flags.registry.as_str() {
        "in_memory" => Arc::new(MemoryStore::default()),
        _ => {
            let dir = flags.work_dir.clone().context("--work_dir is required")?;
            let path = std::path::Path::new(&dir).join("registry.redb");
            Arc::new(
                LocalStore::open(&path)
                    .with_context(|| format!("opening registry {}", path.display()))?,
            )
        }
    })
}

/// Starts a master on the given registry (tests pass a store they control).
pub async fn start_with_store(
    flags: MasterFlags,
    effective_flags: BTreeMap<String, String>,
    store: Arc<dyn Store>,
) -> anyhow::Result<MasterHandle> {
    start_inner(
        flags,
        effective_flags,
        Registry::Local(store),
        Logging::detached(),
    )
    .await
}

async fn start_inner(
    flags: MasterFlags,
    effective_flags: BTreeMap<String, String>,
    registry: Registry,
    logging: Logging,
) -> anyhow::Result<MasterHandle> {
    flags.validate().map_err(anyhow::Error::msg)?;
    // `/master/log` exists whenever --log_dir is set, even before the
    // first line is written (and when embedded, where nothing writes it).
    let log_file = match &flags.log_dir {
        Some(dir) => {
            let path = mesos_daemon::logging::log_file(std::path::Path::new(dir), LOG_PROGRAM);
            mesos_daemon::logging::open_log_file(&path)
                .with_context(|| format!("opening the log file {}", path.display()))?;
            Some(path)
        }
        None => None,
    };
    let bind: SocketAddr = format!("{}:{}", flags.ip, flags.port)
        .parse()
        .context("--ip/--port")?;
    let listener = listen(bind).with_context(|| format!("binding {bind}"))?;
    let addr = listener.local_addr()?;
    let adv_ip = flags.advertise_ip.clone().unwrap_or_else(|| {
        if addr.ip().is_unspecified() {
            "127.0.0.1".into()
        } else {
            addr.ip().to_string()
        }
    });
    if flags.zk.is_some() && flags.advertise_ip.is_none() && addr.ip().is_unspecified() {
        tracing::warn!(
            "Listening on {addr} without --advertise_ip: this master announces 127.0.0.1 in ZooKeeper, which only clients on this host can reach; set --ip or --advertise_ip"
        );
    }
    let adv_port = flags.advertise_port.unwrap_or(addr.port());
    let hostname = flags.hostname.clone().unwrap_or_else(|| adv_ip.clone());
    let id = uuid::Uuid::new_v4().to_string();
    let info = MasterInfo {
        id: id.clone(),
        ip: adv_ip.parse().map(ipv4_to_master_ip).unwrap_or(0),
        port: adv_port as u32,
        pid: Some(format!("master@{adv_ip}:{adv_port}")),
        hostname: Some(hostname.clone()),
        version: Some(MESOS_VERSION.into()),
        address: Some(Address {
            hostname: Some(hostname),
            ip: Some(adv_ip),
            port: adv_port as i32,
        }),
        capabilities: ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"]
            .iter()
            .map(|c| serde_json::json!({"type": c}))
            .collect(),
    };
    let config = MasterConfig {
        roles: flags.roles.as_ref().map(|r| {
            r.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        }),
        weights: flags
            .parse_weights()
            .map_err(anyhow::Error::msg)?
            .into_iter()
            .collect(),
        max_completed_frameworks: flags.max_completed_frameworks,
        max_completed_tasks_per_framework: flags.max_completed_tasks_per_framework,
        max_operator_subscribers: flags.max_operator_event_stream_subscribers,
        offer_timeout: flags.offer_timeout.map(|d| d.get().as_secs_f64()),
        agent_health_timeout: flags.agent_ping_timeout.get().as_secs_f64()
            * flags.max_agent_ping_timeouts.max(1) as f64,
        agent_reregister_timeout: flags.agent_reregister_timeout.get().as_secs_f64(),
    };
    let info_json = serde_json::to_vec(&info).context("encoding MasterInfo")?;
    let (master, store, election) = match registry {
        Registry::Local(store) => (
            recover_book(store.as_ref(), info, config, now_secs())?,
            Some(store),
            None,
        ),
        Registry::ZooKeeper(url) => (
            Master::new(info, config, now_secs()),
            None,
            Some(crate::leadership::ZkElection {
                url,
                session_timeout: flags.zk_session_timeout.get(),
                info_json,
                persistent: flags.registry != "in_memory",
            }),
        ),
    };
    let role = match store {
        Some(_) => MasterRole::Leading,
        None => MasterRole::Standby { leader: None },
    };
    let shared = Arc::new(Shared {
        master: Mutex::new(master),
        wake: Notify::new(),
        registry_wake: Notify::new(),
        role: watch::Sender::new(MasterRole::Standby { leader: None }),
        zk_probe: Mutex::new(None),
        flags,
        effective_flags,
        log_file,
        logging,
        changes: Default::default(),
    });
    shared.set_role(role);

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = crate::http::router(shared.clone());
    // Ends the leader's loops (or the election) with the server task,
    // however that task ends.
    let background: TaskGroup = match (store, election) {
        (Some(store), _) => shared.clone().start_leading(store),
        (None, Some(election)) => TaskGroup {
            _tasks: vec![AbortOnDrop(tokio::spawn(crate::leadership::run_election(
                shared.clone(),
                election,
            )))],
        },
        (None, None) => anyhow::bail!("a master needs a registry"),
    };
    let task = tokio::spawn(async move {
        let stop = async move {
            let _ = stop_rx.await;
        };
        if let Err(e) = mesos_http::serve(listener, app, stop, Default::default()).await {
            tracing::error!("master HTTP server failed: {e}");
        }
        drop(background);
    });
    tracing::info!(%addr, master_id = %id, "master started");
    Ok(MasterHandle {
        addr,
        shared,
        shutdown: Some(stop_tx),
        task,
    })
}

/// The book the registry in `store` describes: admitted agents (awaiting
/// re-registration), unreachable and gone marks, removed frameworks,
/// weights, quota, maintenance, drain states and agent resources.
fn recover_book(
    store: &dyn Store,
    info: MasterInfo,
    config: MasterConfig,
    now: f64,
) -> anyhow::Result<Master> {
    let admitted: HashSet<AgentID> = store
        .list(AGENT_PREFIX)
        .context("reading the registry")?
        .into_iter()
        .filter_map(|(k, _)| k.strip_prefix(AGENT_PREFIX).map(AgentID::new))
        .collect();
    let mut master = Master::new(info, config, now);
    master.unreachable_agents = agent_marks(store, UNREACHABLE_PREFIX)?;
    master.gone_agents = agent_marks(store, GONE_PREFIX)?;
    master.removed_frameworks = marks(store, REMOVED_FRAMEWORK_PREFIX)?
        .into_keys()
        .map(mesos_types::FrameworkID::new)
        .collect();
    master.recover_policy(recovered_weights(store)?, recovered_quotas(store)?);
    if let Some(v) = store
        .get(crate::master::maintenance::MAINTENANCE_KEY)
        .context("reading the registry")?
    {
        master.recover_maintenance(
            serde_json::from_slice(&v.value).context("the registry's maintenance record")?,
        );
    }
    master.recover_agent_states(recovered_per_agent(
        store,
        crate::master::drain::AGENT_STATE_PREFIX,
        "an agent state",
    )?);
    master.recover_agent_resources(recovered_per_agent(
        store,
        crate::master::reservations::AGENT_RESOURCES_PREFIX,
        "a resource list",
    )?);
    let gone = &master.gone_agents;
    master
        .unreachable_agents
        .retain(|a, _| !gone.contains_key(a));
    master.admitted_agents = admitted.clone();
    master.recovering_agents = admitted
        .into_iter()
        .filter(|a| {
            !master.unreachable_agents.contains_key(a) && !master.gone_agents.contains_key(a)
        })
        .collect();
    Ok(master)
}

/// Allocates every `--allocation_interval`, and early when the book asks
/// (new framework, new agent, freed resources) so launches do not wait for
/// the next batch.
async fn allocation_loop(shared: Arc<Shared>, interval: std::time::Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let full = tokio::select! {
            _ = tick.tick() => true,
            _ = shared.wake.notified() => false,
        };
        // A leader cut off from ZooKeeper makes no offers: it may no
        // longer lead.
        if shared.paused_reason().is_some() {
            continue;
        }
        if full {
            shared.write(|m, now| m.allocate(now));
        } else {
            shared.write(|m, now| m.allocate_changed(now));
        }
    }
}

/// Every `period`: expires offer and failover timeouts, and marks the
/// agents silent past the health timeout (and the registry's agents that
/// never re-registered) unreachable. Durable changes go through the
/// registrar.
async fn timer_loop(shared: Arc<Shared>, period: std::time::Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let secs = period.as_secs_f64();
    loop {
        tick.tick().await;
        // Nor does it time agents out while it cannot know it still leads.
        if shared.paused_reason().is_some() {
            continue;
        }
        shared.write(|m, now| {
            m.tick(now);
            m.silent_agents(now, secs);
        });
    }
}

/// The registrar: the one writer of the registry. Takes the durable
/// changes the book queued, in order, writes them in one batch (one
/// fsync; changes queued meanwhile form the next batch), and feeds the
/// outcome back so the book acts only on what is durable.
async fn registrar_loop(shared: Arc<Shared>, store: Arc<dyn Store>) {
    loop {
        shared.registry_wake.notified().await;
        while let Some(batch) = shared.write(|m, _| m.take_registry_batch()) {
            let writes: Vec<(String, Vec<u8>)> =
                batch.ops.iter().flat_map(|op| op.records()).collect();
            let store = store.clone();
            let result = tokio::task::spawn_blocking(move || store.write_batch(&writes))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            let failed = result.is_err();
            shared.write(|m, now| m.registry_written(batch.last, result, now));
            if failed {
                // A broken store fails every batch: do not spin on it.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
}

/// The ids the registry marks under `prefix`, with the time of the mark.
/// Other values (an unreachable agent that came back is `reachable`) are
/// not marks.
fn marks(store: &dyn Store, prefix: &str) -> anyhow::Result<HashMap<String, f64>> {
    Ok(store
        .list(prefix)
        .context("reading the registry")?
        .into_iter()
        .filter_map(|(k, v)| {
            let t: f64 = std::str::from_utf8(&v.value).ok()?.parse().ok()?;
            Some((k.strip_prefix(prefix)?.to_string(), t))
        })
        .collect())
}

fn agent_marks(store: &dyn Store, prefix: &str) -> anyhow::Result<HashMap<AgentID, f64>> {
    Ok(marks(store, prefix)?
        .into_iter()
        .map(|(id, t)| (AgentID::new(id), t))
        .collect())
}

/// Weights the registry records (they override `--weights`, as in Mesos
/// once weights were updated through the API).
fn recovered_weights(store: &dyn Store) -> anyhow::Result<Vec<WeightInfo>> {
    Ok(marks(store, WEIGHT_PREFIX)?
        .into_iter()
        .map(|(role, weight)| WeightInfo { role, weight })
        .collect())
}

fn recovered_quotas(store: &dyn Store) -> anyhow::Result<Vec<QuotaConfig>> {
    store
        .list(QUOTA_PREFIX)
        .context("reading the registry")?
        .into_iter()
        .map(|(k, v)| {
            serde_json::from_slice(&v.value)
                .with_context(|| format!("registry record '{k}' is not a quota config"))
        })
        .collect()
}

/// Per-agent JSON records under `prefix` (`<prefix><agent id>`); `what`
/// names them when one does not parse.
fn recovered_per_agent<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    prefix: &str,
    what: &str,
) -> anyhow::Result<Vec<(AgentID, T)>> {
    store
        .list(prefix)
        .context("reading the registry")?
        .into_iter()
        .map(|(k, v)| {
            let id = AgentID::new(k.trim_start_matches(prefix));
            let record = serde_json::from_slice(&v.value)
                .with_context(|| format!("registry record '{k}' is not {what}"))?;
            Ok((id, record))
        })
        .collect()
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Binds the master's listener with the deepest accept queue the kernel
/// allows (it caps the request at `net.core.somaxconn`). tokio's `bind`
/// asks for 1,024: when thousands of agents (re)connect at once, as after
/// a master failover, a full queue drops SYNs and each dropped agent waits
/// a second for the retransmit.
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(65_535)
}

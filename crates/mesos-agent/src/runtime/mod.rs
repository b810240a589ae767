//! The I/O shell around [`Core`]: performs its effects and feeds results
//! (processes that started or exited, timers, streams that closed) back in.
//!
//! The core sits behind one mutex, held only for the core's own synchronous
//! work. Each input's effects are queued, still under the lock (so batches
//! keep the order the core produced them), to one effect worker task that
//! performs them in that order without the lock. Blocking effects
//! (checkpoint writes and fsyncs, directory removal, `/proc` walks) run on
//! blocking threads through [`Host`] and are awaited, so an update's
//! checkpoint is written before anything queued after it is sent. An
//! executor's update whose checkpoint failed is neither acknowledged nor
//! forwarded ([`NotDurable`]); the core forgets it and the executor re-sends it.

use crate::core::{CheckpointGuard, Core, Effect, ExitInfo, UpdateGuard};
use crate::error::ApiError;
use crate::host::{Host, System};
use crate::launcher::{self, LaunchSpec};
use crate::proc_tree;
use bytes::Bytes;
use mesos_types::agent_protocol::AgentCall;
use mesos_types::executor::{Event, Subscribe};
use mesos_types::{AgentID, ContainerID, ExecutorEventType, ExecutorID, FrameworkID};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// How often executors get a HEARTBEAT event.
pub const EXECUTOR_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);

/// How many failed executor updates [`NotDurable`] remembers.
const MAX_NOT_DURABLE: usize = 1024;

struct Inner {
    core: Core,
    streams: HashMap<u64, UnboundedSender<Event>>,
    /// Launches in progress (sandbox, fetch) and not yet forked, by
    /// container id. Checked under this lock after every core input: one
    /// the core no longer wants is cancelled and removed at once.
    launches: HashMap<String, Launching>,
}

/// A launch in progress, cancellable until its executor is forked.
struct Launching {
    framework_id: FrameworkID,
    executor_id: ExecutorID,
    container_id: ContainerID,
    cancel: watch::Sender<bool>,
}

impl Inner {
    /// Cancels the launches the core gave up on (registration timeout,
    /// kill, framework shutdown, failed checkpoint, agent shutdown).
    fn cancel_unwanted_launches(&mut self) {
        let Inner { core, launches, .. } = self;
        launches.retain(|_, l| {
            let wanted = core.wants_launch(&l.framework_id, &l.executor_id, &l.container_id);
            if !wanted {
                l.cancel.send_replace(true);
            }
            wanted
        });
    }
}

/// Static facts the read-only endpoints report.
#[derive(Debug, Clone)]
pub struct Facts {
    /// Effective flags (`/flags`, `state.flags`).
    pub flags: BTreeMap<String, String>,
    /// Epoch seconds when the agent started.
    pub start_time: f64,
    /// `slave(1)@ip:port`.
    pub pid: String,
    /// The agent's log file (`--log_dir`), served as `/slave/log`.
    pub log_file: Option<PathBuf>,
    /// The logging verbosity (GET_/SET_LOGGING_LEVEL).
    pub logging: mesos_daemon::logging::Logging,
}

/// State shared by the HTTP server, the master link and spawned tasks.
pub struct Shared {
    inner: Mutex<Inner>,
    host: Arc<dyn Host>,
    /// Off once the checkpoint was deleted for good (the master shut the
    /// agent down): late effects of dying executors must not recreate it.
    /// Held across each write so that the deletion cannot interleave.
    checkpointing: Mutex<bool>,
    effects: UnboundedSender<Job>,
    pub client: reqwest::Client,
    pub facts: Facts,
    master_calls: UnboundedSender<AgentCall>,
    agent_id: watch::Sender<Option<AgentID>>,
    /// Set (with the master's reason) when the master shuts the agent down.
    shutdown_by_master: watch::Sender<Option<String>>,
}

/// What the effect worker is given, in order.
enum Job {
    Effects(Vec<Effect>),
    /// Signalled once everything queued before it was performed.
    Drained(tokio::sync::oneshot::Sender<()>),
}

/// Executor updates (task id, uuid) whose checkpoint failed and that were
/// not written since: their ACKNOWLEDGED and forwards, including those
/// queued before the core forgot them, are dropped. Likewise tasks whose
/// `task.info` failed (uuid empty): their LAUNCH events are dropped.
#[derive(Default)]
struct NotDurable(VecDeque<(String, String)>);

impl NotDurable {
    fn contains(&self, task_id: &str, uuid: &str) -> bool {
        self.0.iter().any(|(t, u)| t == task_id && u == uuid)
    }

    /// The key of a guard whose effects can be dropped, if any.
    fn key(guard: &CheckpointGuard) -> Option<(String, String)> {
        match guard {
            CheckpointGuard::Update(UpdateGuard { task_id, uuid, .. }) => {
                Some((task_id.value.clone(), uuid.clone()))
            }
            CheckpointGuard::Launch {
                task_id: Some(task_id),
                ..
            } => Some((task_id.value.clone(), String::new())),
            _ => None,
        }
    }

    fn insert(&mut self, guard: &CheckpointGuard) {
        let Some(key) = Self::key(guard) else { return };
        if self.0.len() >= MAX_NOT_DURABLE {
            self.0.pop_front();
        }
        self.0.push_back(key);
    }

    fn remove(&mut self, guard: &CheckpointGuard) {
        if let Some(key) = Self::key(guard) {
            self.0.retain(|k| *k != key);
        }
    }
}

impl Shared {
    /// Wraps `core`; calls for the master go to `master_calls`.
    pub fn new(
        core: Core,
        facts: Facts,
        client: reqwest::Client,
        master_calls: UnboundedSender<AgentCall>,
    ) -> Arc<Shared> {
        Shared::with_host(core, facts, client, master_calls, Arc::new(System))
    }

    /// Like [`Shared::new`], with the blocking side effects performed by
    /// `host`. Starts the effect worker (needs a tokio runtime).
    pub fn with_host(
        core: Core,
        facts: Facts,
        client: reqwest::Client,
        master_calls: UnboundedSender<AgentCall>,
        host: Arc<dyn Host>,
    ) -> Arc<Shared> {
        let (agent_id, _) = watch::channel(core.agent_id().cloned());
        let (effects, queue) = unbounded_channel();
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                core,
                streams: HashMap::new(),
                launches: HashMap::new(),
            }),
            host,
            checkpointing: Mutex::new(true),
            effects,
            client,
            facts,
            master_calls,
            agent_id,
            shutdown_by_master: watch::channel(None).0,
        });
        tokio::spawn(perform_effects(Arc::downgrade(&shared), queue));
        shared
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the core and queues the effects it returns.
    pub fn with_core<T>(self: &Arc<Self>, f: impl FnOnce(&mut Core) -> (T, Vec<Effect>)) -> T {
        let mut inner = self.lock();
        let (value, effects) = f(&mut inner.core);
        inner.cancel_unwanted_launches();
        let id = inner.core.agent_id().cloned();
        self.agent_id.send_if_modified(|cur| {
            let changed = *cur != id;
            *cur = id.clone();
            changed
        });
        self.enqueue(&inner, effects);
        value
    }

    /// Like [`Shared::with_core`] for inputs that only produce effects.
    pub fn handle(self: &Arc<Self>, f: impl FnOnce(&mut Core) -> Vec<Effect>) {
        self.with_core(|c| ((), f(c)));
    }

    /// Read-only access to the core.
    pub fn read<T>(&self, f: impl FnOnce(&Core) -> T) -> T {
        f(&self.lock().core)
    }

    /// Watches the agent id (set once registered).
    pub fn agent_id(&self) -> watch::Receiver<Option<AgentID>> {
        self.agent_id.subscribe()
    }

    /// Watches for the master's order to shut down (its reason once given).
    pub fn shutdown_by_master(&self) -> watch::Receiver<Option<String>> {
        self.shutdown_by_master.subscribe()
    }

    /// Hands a batch to the effect worker. Takes the lock guard as proof
    /// that batches are queued in the order the core produced them.
    fn enqueue(&self, _order: &MutexGuard<'_, Inner>, effects: Vec<Effect>) {
        if !effects.is_empty() && self.effects.send(Job::Effects(effects)).is_err() {
            debug!("Dropping effects: the effect worker has stopped");
        }
    }

    /// Resolves once every effect queued so far was performed.
    pub async fn drained(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        let queued = {
            let _order = self.lock();
            self.effects.send(Job::Drained(done)).is_ok()
        };
        if queued {
            let _ = wait.await;
        }
    }

    /// Performs one effect; blocking ones on a blocking thread.
    async fn perform(self: &Arc<Self>, effect: Effect, not_durable: &mut NotDurable) {
        match effect {
            Effect::Master(call) => {
                if let AgentCall::Update { status, .. } = &*call
                    && let Some(uuid) = &status.uuid
                    && not_durable.contains(&status.task_id.value, uuid)
                {
                    debug!(task = %status.task_id, uuid, "Not forwarding an update that was not checkpointed");
                    return;
                }
                let _ = self.master_calls.send(*call);
            }
            Effect::Executor { connection, event } => {
                if let Some(ack) = &event.acknowledged
                    && not_durable.contains(&ack.task_id.value, &ack.uuid)
                {
                    debug!(task = %ack.task_id, uuid = ack.uuid, "Not acknowledging an update that was not checkpointed");
                    return;
                }
                if let Some(launch) = &event.launch
                    && not_durable.contains(&launch.task.task_id.value, "")
                {
                    debug!(task = %launch.task.task_id, "Not launching a task that was not checkpointed");
                    return;
                }
                match self.lock().streams.get(&connection) {
                    Some(sender) => {
                        let _ = sender.send(*event);
                    }
                    None => debug!(connection, "Dropping event for a closed executor stream"),
                }
            }
            Effect::CloseStream { connection } => {
                self.lock().streams.remove(&connection);
            }
            Effect::Launch(spec) => {
                // A checkpoint it needs may have failed, or the launch been
                // given up, since the effect was queued.
                let (fid, eid, cid) = (&spec.framework_id, &spec.executor_id, &spec.container_id);
                let cancelled = {
                    let mut inner = self.lock();
                    if !inner.core.wants_launch(fid, eid, cid) {
                        debug!(%fid, %eid, "Not launching an executor that is no longer wanted");
                        return;
                    }
                    let (cancel, cancelled) = watch::channel(false);
                    let launching = Launching {
                        framework_id: fid.clone(),
                        executor_id: eid.clone(),
                        container_id: cid.clone(),
                        cancel,
                    };
                    inner.launches.insert(cid.value.clone(), launching);
                    cancelled
                };
                tokio::spawn(run_executor(self.clone(), *spec, cancelled));
            }
            Effect::Destroy { pid } => {
                let host = self.host.clone();
                blocking(move || host.kill_tree(pid)).await;
            }
            Effect::KillContainers { sandboxes } => {
                let host = self.host.clone();
                blocking(move || host.kill_containers(&sandboxes)).await;
            }
            Effect::Volumes { create, remove } => {
                let host = self.host.clone();
                blocking(move || {
                    for dir in &create {
                        if let Err(e) = host.create_dir_all(dir) {
                            warn!("Failed to create volume '{}': {e}", dir.display());
                        }
                    }
                    for dir in &remove {
                        info!("Removing destroyed volume '{}'", dir.display());
                        match host.remove_dir_all(dir) {
                            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                                warn!("Failed to remove volume '{}': {e}", dir.display())
                            }
                            _ => {}
                        }
                    }
                })
                .await;
            }
            Effect::Checkpoint {
                path,
                data,
                append,
                sync,
                guard,
            } => {
                let shared = self.clone();
                let shown = path.display().to_string();
                let written =
                    blocking(move || shared.write_checkpoint(&path, &data, append, sync)).await;
                match (written, guard) {
                    (Some(Ok(())), Some(guard)) => not_durable.remove(&guard),
                    (Some(Ok(())), None) => {}
                    (failed, guard) => {
                        let error = match failed {
                            Some(Err(e)) => e.to_string(),
                            _ => "the writer panicked".into(),
                        };
                        warn!("Failed to checkpoint '{shown}': {error}");
                        match guard {
                            Some(CheckpointGuard::Update(update)) => {
                                not_durable.insert(&CheckpointGuard::Update(update.clone()));
                                self.handle(|c| {
                                    c.update_not_checkpointed(&update);
                                    Vec::new()
                                });
                            }
                            Some(guard) => {
                                not_durable.insert(&guard);
                                let error = format!("could not write '{shown}': {error}");
                                self.handle(|c| {
                                    c.launch_not_checkpointed(&guard, &error, Instant::now())
                                });
                            }
                            None => {}
                        }
                    }
                }
            }
            Effect::RemoveCheckpoint { path } => {
                let host = self.host.clone();
                let shown = path.display().to_string();
                match blocking(move || host.remove_dir_all(&path)).await {
                    Some(Err(e)) if e.kind() != std::io::ErrorKind::NotFound => {
                        warn!("Failed to remove checkpoint '{shown}': {e}")
                    }
                    _ => {}
                }
            }
            Effect::ShutdownAgent { message } => {
                self.shutdown_by_master.send_replace(Some(message));
            }
            Effect::Watch {
                framework_id,
                executor_id,
                container_id,
                pid,
                start_time,
            } => {
                tokio::spawn(watch_executor(
                    self.clone(),
                    framework_id,
                    executor_id,
                    container_id,
                    pid,
                    start_time,
                ));
            }
            Effect::Schedule { after, timer } => {
                let shared = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    shared.handle(|c| c.timer_fired(timer, Instant::now()));
                });
            }
        }
    }

    /// Blocking: one checkpoint write, unless checkpointing stopped for good.
    fn write_checkpoint(
        &self,
        path: &Path,
        data: &[u8],
        append: bool,
        sync: bool,
    ) -> std::io::Result<()> {
        let on = self
            .checkpointing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !*on {
            return Ok(());
        }
        self.host.checkpoint(path, data, append, sync)
    }

    /// Opens an executor subscription: returns the RecordIO body stream, which
    /// starts with SUBSCRIBED. Dropping the stream tells the core.
    pub fn subscribe_executor(
        self: &Arc<Self>,
        framework_id: FrameworkID,
        executor_id: ExecutorID,
        subscribe: Subscribe,
        content_type: mesos_proto::ContentType,
    ) -> Result<
        impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static,
        ApiError,
    > {
        let (sender, mut receiver) = unbounded_channel::<Event>();
        let mut inner = self.lock();
        let connection = inner.core.next_connection();
        inner.streams.insert(connection, sender);
        match inner.core.subscribe(
            &framework_id,
            &executor_id,
            subscribe,
            connection,
            Instant::now(),
        ) {
            Ok(effects) => {
                inner.cancel_unwanted_launches();
                self.enqueue(&inner, effects)
            }
            Err(e) => {
                inner.streams.remove(&connection);
                return Err(e);
            }
        }
        drop(inner);
        let guard = StreamGuard {
            shared: self.clone(),
            framework_id,
            executor_id,
            connection,
        };
        Ok(futures::stream::poll_fn(move |cx| {
            let _keep = &guard;
            receiver.poll_recv(cx).map(|event| {
                event.map(|e| {
                    // Our own events always encode; were one not to, it is
                    // logged and skipped rather than breaking the stream.
                    let record = content_type
                        .record(mesos_proto::Message::ExecutorEvent, &e)
                        .unwrap_or_else(|err| {
                            tracing::error!("dropping an executor event: {err}");
                            Vec::new()
                        });
                    Ok(Bytes::from(record))
                })
            })
        }))
    }

    /// Sends HEARTBEAT to every subscribed executor.
    pub fn heartbeat_executors(&self) {
        for sender in self.lock().streams.values() {
            let _ = sender.send(Event::bare(ExecutorEventType::HEARTBEAT));
        }
    }

    /// Destroys every executor and closes every stream (agent shutdown).
    /// `keep_checkpointed`: executors of checkpointing frameworks keep running.
    /// Kills right here, not through the effect worker: this also runs
    /// when the agent is dropped, maybe with no runtime left to run it.
    pub fn shutdown(self: &Arc<Self>, keep_checkpointed: bool) {
        let mut inner = self.lock();
        let effects = inner.core.shutdown_all(keep_checkpointed);
        inner.cancel_unwanted_launches();
        inner.streams.clear();
        drop(inner);
        for effect in effects {
            match effect {
                Effect::Destroy { pid } => self.host.kill_tree(pid),
                Effect::KillContainers { sandboxes } => self.host.kill_containers(&sandboxes),
                _ => {}
            }
        }
    }

    /// Deletes the checkpoint directory `meta` for good: nothing is
    /// checkpointed after this.
    pub fn remove_checkpoint_for_good(&self, meta: &Path) {
        let mut on = self
            .checkpointing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *on = false;
        if let Err(e) = self.host.remove_dir_all(meta)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            warn!("Failed to remove the checkpoint '{}': {e}", meta.display());
        }
    }
}

/// Performs the queued effect batches in order, until the agent is gone.
async fn perform_effects(shared: Weak<Shared>, mut queue: UnboundedReceiver<Job>) {
    let mut not_durable = NotDurable::default();
    while let Some(job) = queue.recv().await {
        let batch = match job {
            Job::Effects(batch) => batch,
            Job::Drained(done) => {
                let _ = done.send(());
                continue;
            }
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        for effect in batch {
            shared.perform(effect, &mut not_durable).await;
        }
    }
}

/// Runs blocking work on a blocking thread; `None` if it panicked.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// Tells the core when an executor's subscription stream goes away.
struct StreamGuard {
    shared: Arc<Shared>,
    framework_id: FrameworkID,
    executor_id: ExecutorID,
    connection: u64,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.streams.remove(&self.connection);
        inner
            .core
            .executor_disconnected(&self.framework_id, &self.executor_id, self.connection);
        inner.cancel_unwanted_launches();
    }
}

/// Launches one executor and follows it until it exits. The launch stops,
/// its download included, as soon as `cancelled` turns true (the core gave
/// up on the container); nothing is forked after that.
async fn run_executor(shared: Arc<Shared>, spec: LaunchSpec, mut cancelled: watch::Receiver<bool>) {
    let (fid, eid, cid) = (
        spec.framework_id.clone(),
        spec.executor_id.clone(),
        spec.container_id.clone(),
    );
    let prepared = tokio::select! {
        biased;
        // Closed (the agent is gone) counts as cancelled too.
        _ = cancelled.wait_for(|c| *c) => {
            debug!(%fid, %eid, "Launch cancelled: the executor is no longer wanted");
            return;
        }
        prepared = launcher::prepare(&spec, &shared.client) => prepared,
    };
    let forked = prepared.and_then(|prepared| {
        // Checked and forked under the core's lock: the core cannot give
        // up on the container in between.
        let mut inner = shared.lock();
        let ours = inner.launches.remove(&cid.value).is_some();
        if !ours || !inner.core.wants_launch(&fid, &eid, &cid) {
            return Ok(None);
        }
        let child = prepared.spawn()?;
        inner.core.fork_recorded(&fid, &eid, &cid);
        Ok(Some(child))
    });
    let child = match forked {
        Ok(Some(child)) => child,
        Ok(None) => {
            debug!(%fid, %eid, "Launch cancelled before the fork");
            return;
        }
        Err(error) => {
            shared.lock().launches.remove(&cid.value);
            shared.handle(|c| c.launch_failed(&fid, &eid, &cid, &error, Instant::now()));
            return;
        }
    };
    let Some(pid) = child.id() else {
        warn!(%fid, %eid, "Executor exited before its pid was known");
        return;
    };
    // Read while the child is unreaped, so the pid cannot have been reused.
    let start_time = blocking(move || proc_tree::live_start_time(pid))
        .await
        .flatten();
    shared.handle(|c| c.executor_launched(&fid, &eid, &cid, pid, start_time));
    let on_exit = |pid, status| {
        let shared = shared.clone();
        let (fid, eid, cid) = (fid.clone(), eid.clone(), cid.clone());
        async move {
            // Whatever the executor left in its process group goes with it,
            // and any kill of its tree queued before the core learns of the
            // exit is performed, all before the pid can be reused.
            proc_tree::kill_group(pid);
            let exit = exit_info(status);
            shared.handle(|c| c.executor_exited(&fid, &eid, &cid, &exit, Instant::now()));
            shared.drained().await;
        }
    };
    if let Err(e) = launcher::wait_then_reap(child, on_exit).await {
        let exit = ExitInfo {
            wait_status: -1,
            description: format!("could not be waited for: {e}"),
        };
        shared.handle(|c| c.executor_exited(&fid, &eid, &cid, &exit, Instant::now()));
    }
}

/// Follows a recovered executor (a child of a previous agent process) by
/// polling its pid.
async fn watch_executor(
    shared: Arc<Shared>,
    fid: FrameworkID,
    eid: ExecutorID,
    cid: mesos_types::ContainerID,
    pid: u32,
    start_time: Option<u64>,
) {
    let same = move || proc_tree::is_same_live_process(pid, start_time);
    while blocking(same).await.unwrap_or(false) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Linux keeps a pid unused while a process group of that id has members,
    // so a pid already reused means the executor's group is gone: killing
    // that group id now would hit the newcomer's group.
    if blocking(move || proc_tree::live_start_time(pid))
        .await
        .flatten()
        .is_none()
    {
        proc_tree::kill_group(pid);
    }
    let exit = ExitInfo {
        wait_status: -1,
        description: "exited (recovered executor; exit status unknown)".into(),
    };
    shared.handle(|c| c.executor_exited(&fid, &eid, &cid, &exit, Instant::now()));
}

/// Describes an exit status for task messages.
pub fn exit_info(status: std::process::ExitStatus) -> ExitInfo {
    use std::os::unix::process::ExitStatusExt;
    let description = if let Some(code) = status.code() {
        format!("exited with status {code}")
    } else if let Some(sig) = status.signal() {
        let name = nix::sys::signal::Signal::try_from(sig)
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|_| sig.to_string());
        format!("terminated with signal {name}")
    } else {
        "exited".to_string()
    };
    ExitInfo {
        wait_status: status.into_raw(),
        description,
    }
}

#[cfg(test)]
mod tests;

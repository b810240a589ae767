//! The I/O shell around [`Core`]: performs its effects and feeds results
//! (processes that started or exited, timers, streams that closed) back in.
//!
//! The core sits behind one mutex. Effects are applied while the lock is
//! still held; they only push onto channels or spawn tasks, so this is cheap
//! and keeps every stream's events in the order the core produced them.

use crate::core::{Core, Effect, ExitInfo};
use crate::error::ApiError;
use crate::launcher::{self, LaunchSpec};
use crate::proc_tree;
use bytes::Bytes;
use mesos_types::agent_protocol::AgentCall;
use mesos_types::executor::{Event, Subscribe};
use mesos_types::{AgentID, ExecutorEventType, ExecutorID, FrameworkID, recordio};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, warn};

/// How often executors get a HEARTBEAT event.
pub const EXECUTOR_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);

struct Inner {
    core: Core,
    streams: HashMap<u64, UnboundedSender<Event>>,
    /// Off once the checkpoint was deleted for good (the master shut the
    /// agent down): late effects of dying executors must not recreate it.
    checkpointing: bool,
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
}

/// State shared by the HTTP server, the master link and spawned tasks.
pub struct Shared {
    inner: Mutex<Inner>,
    pub client: reqwest::Client,
    pub facts: Facts,
    master_calls: UnboundedSender<AgentCall>,
    agent_id: watch::Sender<Option<AgentID>>,
    /// Set (with the master's reason) when the master shuts the agent down.
    shutdown_by_master: watch::Sender<Option<String>>,
}

impl Shared {
    /// Wraps `core`; calls for the master go to `master_calls`.
    pub fn new(
        core: Core,
        facts: Facts,
        client: reqwest::Client,
        master_calls: UnboundedSender<AgentCall>,
    ) -> Arc<Shared> {
        let (agent_id, _) = watch::channel(core.agent_id().cloned());
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                core,
                streams: HashMap::new(),
                checkpointing: true,
            }),
            client,
            facts,
            master_calls,
            agent_id,
            shutdown_by_master: watch::channel(None).0,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the core and performs the effects it returns.
    pub fn with_core<T>(self: &Arc<Self>, f: impl FnOnce(&mut Core) -> (T, Vec<Effect>)) -> T {
        let mut inner = self.lock();
        let (value, effects) = f(&mut inner.core);
        let id = inner.core.agent_id().cloned();
        self.agent_id.send_if_modified(|cur| {
            let changed = *cur != id;
            *cur = id.clone();
            changed
        });
        self.apply(&mut inner, effects);
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

    fn apply(self: &Arc<Self>, inner: &mut Inner, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Master(call) => {
                    let _ = self.master_calls.send(*call);
                }
                Effect::Executor { connection, event } => match inner.streams.get(&connection) {
                    Some(sender) => {
                        let _ = sender.send(*event);
                    }
                    None => debug!(connection, "Dropping event for a closed executor stream"),
                },
                Effect::CloseStream { connection } => {
                    inner.streams.remove(&connection);
                }
                Effect::Launch(spec) => {
                    tokio::spawn(run_executor(self.clone(), *spec));
                }
                Effect::Destroy { pid } => proc_tree::kill_tree(pid),
                Effect::Checkpoint { .. } if !inner.checkpointing => {}
                Effect::Checkpoint {
                    path,
                    data,
                    append,
                    sync,
                } => {
                    let result = if append {
                        crate::checkpoint::append(&path, &data, sync)
                    } else {
                        crate::checkpoint::write_atomic(&path, &data, sync)
                    };
                    if let Err(e) = result {
                        warn!("Failed to checkpoint '{}': {e}", path.display());
                    }
                }
                Effect::RemoveCheckpoint { path } => {
                    if let Err(e) = std::fs::remove_dir_all(&path)
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        warn!("Failed to remove checkpoint '{}': {e}", path.display());
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
    }

    /// Opens an executor subscription: returns the RecordIO body stream, which
    /// starts with SUBSCRIBED. Dropping the stream tells the core.
    pub fn subscribe_executor(
        self: &Arc<Self>,
        framework_id: FrameworkID,
        executor_id: ExecutorID,
        subscribe: Subscribe,
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
            Ok(effects) => self.apply(&mut inner, effects),
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
                    let json = serde_json::to_vec(&e).unwrap_or_default();
                    Ok(Bytes::from(recordio::encode(&json)))
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
    pub fn shutdown(self: &Arc<Self>, keep_checkpointed: bool) {
        self.handle(|c| c.shutdown_all(keep_checkpointed));
        self.lock().streams.clear();
    }

    /// Deletes the checkpoint directory `meta` for good: nothing is
    /// checkpointed after this.
    pub fn remove_checkpoint_for_good(&self, meta: &std::path::Path) {
        let mut inner = self.lock();
        inner.checkpointing = false;
        if let Err(e) = std::fs::remove_dir_all(meta)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            warn!("Failed to remove the checkpoint '{}': {e}", meta.display());
        }
    }
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
    }
}

/// Launches one executor and follows it until it exits.
async fn run_executor(shared: Arc<Shared>, spec: LaunchSpec) {
    let (fid, eid, cid) = (
        spec.framework_id.clone(),
        spec.executor_id.clone(),
        spec.container_id.clone(),
    );
    let mut child = match launcher::launch(&spec, &shared.client).await {
        Ok(child) => child,
        Err(error) => {
            shared.handle(|c| c.launch_failed(&fid, &eid, &cid, &error, Instant::now()));
            return;
        }
    };
    let Some(pid) = child.id() else {
        warn!(%fid, %eid, "Executor exited before its pid was known");
        return;
    };
    // Read while the child is unreaped, so the pid cannot have been reused.
    let start_time = proc_tree::live_start_time(pid);
    shared.handle(|c| c.executor_launched(&fid, &eid, &cid, pid, start_time));
    let exit = match child.wait().await {
        Ok(status) => exit_info(status),
        Err(e) => ExitInfo {
            wait_status: -1,
            description: format!("could not be waited for: {e}"),
        },
    };
    // Whatever the executor left in its process group goes with it.
    proc_tree::kill_group(pid);
    shared.handle(|c| c.executor_exited(&fid, &eid, &cid, &exit, Instant::now()));
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
    while proc_tree::is_same_live_process(pid, start_time) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Linux keeps a pid unused while a process group of that id has members,
    // so a pid already reused means the executor's group is gone: killing
    // that group id now would hit the newcomer's group.
    if proc_tree::live_start_time(pid).is_none() {
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
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn exit_descriptions() {
        let e = exit_info(std::process::ExitStatus::from_raw(2 << 8));
        assert_eq!(
            (e.wait_status, e.description.as_str()),
            (512, "exited with status 2")
        );
        let e = exit_info(std::process::ExitStatus::from_raw(9));
        assert_eq!(e.description, "terminated with signal SIGKILL");
    }
}

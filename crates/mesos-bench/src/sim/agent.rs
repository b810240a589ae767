//! One simulated agent: registration, the event loop, the no-op executor
//! model and the ordered call sender. See the parent module for the model.

use super::{SimError, SimPool, SimStats};
use base64::Engine;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use mesos_agent::core::updates::{Acked, Pushed, UpdateManager};
use mesos_types::agent_protocol::{AgentCall, AgentEvent, AgentTask};
use mesos_types::recordio::Decoder;
use mesos_types::task_state::is_terminal;
use mesos_types::*;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, warn};

const STREAM_ID: &str = "Mesos-Stream-Id";

/// How long one call may take before it counts as failed (as `mesos-agent`).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

type EventStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;
type CallFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A registered simulated agent. Dropping it closes its event stream, which
/// the master sees as a disconnected agent.
#[derive(Debug)]
pub struct SimAgent {
    pub index: usize,
    pub id: AgentID,
    pub stream_id: String,
    cmds: mpsc::UnboundedSender<Command>,
}

/// A snapshot of one agent's state (tests and diagnostics).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentView {
    /// Tasks running under the no-op executor, sorted.
    pub live_tasks: Vec<(FrameworkID, TaskID)>,
    /// `ACKNOWLEDGE` events received (each matched its task's queue head).
    pub acks: u64,
    /// Updates still queued, unacknowledged, summed over the given tasks.
    pub pending_updates: usize,
    /// The event stream is still open.
    pub connected: bool,
}

#[derive(Debug)]
enum Command {
    Finish {
        framework_id: FrameworkID,
        task_id: TaskID,
        state: TaskState,
    },
    Query {
        tasks: Vec<(FrameworkID, TaskID)>,
        reply: oneshot::Sender<AgentView>,
    },
    /// Go silent: keep the connection but answer nothing (a hung host or
    /// a partition that drops packets).
    Silence,
}

impl SimAgent {
    /// Registers agent number `index` as `sim-<index>` with the pool's
    /// resources, reporting `tasks` as already running (as an agent does
    /// after a master failover), and starts its event loop.
    pub async fn register(
        pool: &Arc<SimPool>,
        index: usize,
        tasks: Vec<AgentTask>,
    ) -> Result<SimAgent, SimError> {
        SimAgent::register_as(pool, index, None, tasks).await
    }

    /// Registers agent number `index`; with `id`, re-registers under the id
    /// it was given before (after a master restart), as `mesos-agent` does.
    pub async fn register_as(
        pool: &Arc<SimPool>,
        index: usize,
        id: Option<AgentID>,
        tasks: Vec<AgentTask>,
    ) -> Result<SimAgent, SimError> {
        let info = AgentInfo {
            hostname: format!("sim-{index}"),
            port: 5051,
            resources: pool.config.resources.clone(),
            id,
            ..Default::default()
        };
        SimAgent::register_with(pool, index, info, tasks).await
    }

    /// Registers with an explicit `AgentInfo` (e.g. an invalid one, to check
    /// the master's validation).
    pub async fn register_with(
        pool: &Arc<SimPool>,
        index: usize,
        info: AgentInfo,
        tasks: Vec<AgentTask>,
    ) -> Result<SimAgent, SimError> {
        let live: HashMap<TaskID, FrameworkID> = tasks
            .iter()
            .filter(|t| !is_terminal(t.state))
            .map(|t| (t.task.task_id.clone(), t.framework_id.clone()))
            .collect();
        let call = AgentCall::Register {
            agent_info: info,
            version: MESOS_VERSION.into(),
            tasks,
            frameworks: vec![],
            checkpointed_resources: vec![],
        };
        // The same request `mesos-agent` sends (master_link::run_registration);
        // a 307 from a master that does not lead is followed by the client.
        let body =
            Bytes::from(serde_json::to_vec(&call).map_err(|e| SimError::Protocol(e.to_string()))?);
        let resp = loop {
            let sent = pool
                .client()
                .post(pool.url())
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "application/json")
                .body(body.clone())
                .send()
                .await;
            let not_yet = match &sent {
                Ok(r) => r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE,
                Err(e) => e.is_connect(),
            };
            match pool.config.register_retry {
                Some(pause) if not_yet => {
                    if let Ok(r) = sent {
                        let _ = r.bytes().await; // keeps the connection reusable
                    }
                    SimStats::bump(&pool.stats.register_retries);
                    tokio::time::sleep(pause).await;
                }
                _ => break sent?,
            }
        };
        if resp.status() != reqwest::StatusCode::OK {
            return Err(SimError::Status {
                status: resp.status().as_u16(),
                body: resp.text().await.unwrap_or_default(),
            });
        }
        let stream_id = resp
            .headers()
            .get(STREAM_ID)
            .cloned()
            .ok_or_else(|| SimError::Protocol("no Mesos-Stream-Id header".into()))?;
        let mut body: EventStream = Box::pin(resp.bytes_stream());
        let mut decoder = Decoder::new(64 << 20);
        let mut early = VecDeque::new();
        let id = loop {
            if let Some(event) = next_event(&mut decoder)? {
                match event {
                    AgentEvent::Registered { agent_id, .. } => break agent_id,
                    other => {
                        return Err(SimError::Protocol(format!(
                            "expected REGISTERED first, got {other:?}"
                        )));
                    }
                }
            }
            match body.next().await {
                Some(Ok(chunk)) => decoder.feed(&chunk),
                Some(Err(e)) => return Err(e.into()),
                None => return Err(SimError::NotRegistered),
            }
        };
        while let Some(e) = next_event(&mut decoder)? {
            early.push_back(e);
        }
        SimStats::bump(&pool.stats.registered);
        pool.stats
            .tasks_live
            .fetch_add(live.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let seed = (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let state = AgentState {
            pool: pool.clone(),
            id: id.clone(),
            stream_id: stream_id.clone(),
            updates: UpdateManager::default(),
            live,
            timers: BinaryHeap::new(),
            outbox: VecDeque::new(),
            rng: seed | 1,
            acks: 0,
            silent: false,
        };
        tokio::spawn(state.run(body, decoder, early, rx));
        Ok(SimAgent {
            index,
            id,
            stream_id: stream_id.to_str().unwrap_or_default().to_string(),
            cmds: tx,
        })
    }

    /// Ends a running task with `state` (e.g. `TASK_FINISHED`), as its
    /// executor would; no-op if the task is not running here.
    pub fn finish(&self, framework_id: &FrameworkID, task_id: &TaskID, state: TaskState) {
        let _ = self.cmds.send(Command::Finish {
            framework_id: framework_id.clone(),
            task_id: task_id.clone(),
            state,
        });
    }

    /// Stops answering the master (PONGs and every other call) while
    /// keeping the connection open, so only health checking can notice.
    pub fn silence(&self) {
        let _ = self.cmds.send(Command::Silence);
    }

    /// The agent's current state; `tasks` selects whose pending updates count.
    pub async fn view(&self, tasks: Vec<(FrameworkID, TaskID)>) -> AgentView {
        let (reply, rx) = oneshot::channel();
        if self.cmds.send(Command::Query { tasks, reply }).is_err() {
            return AgentView::default();
        }
        rx.await.unwrap_or_default()
    }
}

fn next_event(decoder: &mut Decoder) -> Result<Option<AgentEvent>, SimError> {
    loop {
        match decoder.next_record() {
            Ok(Some(rec)) => match serde_json::from_slice::<AgentEvent>(&rec) {
                Ok(e) => return Ok(Some(e)),
                Err(e) => warn!("ignoring undecodable master event: {e}"),
            },
            Ok(None) => return Ok(None),
            Err(e) => return Err(SimError::Protocol(format!("corrupt event stream: {e}"))),
        }
    }
}

/// A scheduled task end of the no-op executor.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: Instant,
    task_id: TaskID,
    framework_id: FrameworkID,
}

/// What woke the event loop.
enum Step {
    Chunk(Option<reqwest::Result<Bytes>>),
    Command(Option<Command>),
    CallDone,
    Retry,
    Timer,
}

struct AgentState {
    pool: Arc<SimPool>,
    id: AgentID,
    stream_id: HeaderValue,
    updates: UpdateManager,
    /// Tasks "running" under the no-op executor (executor id = task id).
    live: HashMap<TaskID, FrameworkID>,
    timers: BinaryHeap<Reverse<Timer>>,
    /// Calls waiting for the one in flight (sent one at a time, in order).
    outbox: VecDeque<AgentCall>,
    rng: u64,
    acks: u64,
    /// Silenced: nothing is sent any more.
    silent: bool,
}

impl AgentState {
    async fn run(
        mut self,
        mut body: EventStream,
        mut decoder: Decoder,
        early: VecDeque<AgentEvent>,
        mut cmds: mpsc::UnboundedReceiver<Command>,
    ) {
        for e in early {
            self.on_event(e);
        }
        let retry_every = self.pool.config.retry_interval;
        let mut retry = tokio::time::interval_at(Instant::now() + retry_every, retry_every);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let sleep = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(sleep);
        let mut inflight: Option<CallFuture> = None;
        let mut connected = true;
        loop {
            if self.silent {
                self.outbox.clear();
            }
            if inflight.is_none()
                && let Some(call) = self.outbox.pop_front()
            {
                inflight = Some(Box::pin(send_call(
                    self.pool.clone(),
                    self.stream_id.clone(),
                    call,
                )));
            }
            let next_timer = self.timers.peek().map(|Reverse(t)| t.at);
            if let Some(at) = next_timer
                && sleep.deadline() != at
            {
                sleep.as_mut().reset(at);
            }
            let step = tokio::select! {
                chunk = body.next(), if connected => Step::Chunk(chunk),
                cmd = cmds.recv() => Step::Command(cmd),
                _ = async { inflight.as_mut().expect("guarded").await }, if inflight.is_some() => Step::CallDone,
                _ = retry.tick() => Step::Retry,
                _ = &mut sleep, if next_timer.is_some() => Step::Timer,
            };
            match step {
                Step::Chunk(Some(Ok(chunk))) => {
                    decoder.feed(&chunk);
                    loop {
                        match next_event(&mut decoder) {
                            Ok(Some(e)) => self.on_event(e),
                            Ok(None) => break,
                            Err(e) => {
                                warn!(agent = %self.id, "{e}");
                                connected = false;
                                break;
                            }
                        }
                    }
                }
                Step::Chunk(_) => {
                    // The master closed the stream (or the connection broke).
                    debug!(agent = %self.id, "event stream ended");
                    connected = false;
                    SimStats::bump(&self.pool.stats.streams_closed);
                    self.outbox.clear();
                    inflight = None;
                }
                Step::Command(None) => break,
                Step::Command(Some(Command::Finish {
                    framework_id,
                    task_id,
                    state,
                })) => self.end_task(&framework_id, &task_id, state),
                Step::Command(Some(Command::Silence)) => {
                    self.silent = true;
                    self.outbox.clear();
                }
                Step::Command(Some(Command::Query { tasks, reply })) => {
                    let mut live_tasks: Vec<(FrameworkID, TaskID)> = self
                        .live
                        .iter()
                        .map(|(t, f)| (f.clone(), t.clone()))
                        .collect();
                    live_tasks.sort();
                    let pending_updates =
                        tasks.iter().map(|(f, t)| self.updates.pending(f, t)).sum();
                    let _ = reply.send(AgentView {
                        live_tasks,
                        acks: self.acks,
                        pending_updates,
                        connected,
                    });
                }
                Step::CallDone => inflight = None,
                Step::Retry => {
                    if connected {
                        for (fid, status) in self.updates.due(Instant::now(), retry_every) {
                            SimStats::bump(&self.pool.stats.update_retries);
                            self.send_update(fid, status);
                        }
                    }
                }
                Step::Timer => {
                    let now = Instant::now();
                    while let Some(Reverse(t)) = self.timers.peek() {
                        if t.at > now {
                            break;
                        }
                        let Some(Reverse(t)) = self.timers.pop() else {
                            break;
                        };
                        self.end_task(&t.framework_id, &t.task_id, TaskState::TASK_FINISHED);
                    }
                }
            }
        }
        let stats = &self.pool.stats;
        stats
            .tasks_live
            .fetch_sub(self.live.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    fn on_event(&mut self, event: AgentEvent) {
        match event {
            AgentEvent::Registered { agent_id, .. } => self.id = agent_id,
            AgentEvent::RunTask {
                framework_info,
                task,
            } => match framework_info.id {
                Some(fid) => {
                    let fixed = task
                        .command
                        .as_ref()
                        .and_then(|c| c.value.as_deref())
                        .and_then(sleep_duration);
                    self.run_task(fid, task.task_id, fixed)
                }
                None => warn!(agent = %self.id, "RUN_TASK without a framework id ignored"),
            },
            AgentEvent::RunTaskGroup {
                framework_info,
                task_group,
                ..
            } => match framework_info.id {
                Some(fid) => {
                    for t in task_group.tasks {
                        self.run_task(fid.clone(), t.task_id, None);
                    }
                }
                None => warn!(agent = %self.id, "RUN_TASK_GROUP without a framework id ignored"),
            },
            AgentEvent::KillTask {
                framework_id,
                task_id,
                ..
            } => self.end_task(&framework_id, &task_id, TaskState::TASK_KILLED),
            AgentEvent::ShutdownExecutor {
                framework_id,
                executor_id,
            } => {
                // Command tasks: executor id = task id.
                let tid = TaskID::new(executor_id.value);
                self.end_task(&framework_id, &tid, TaskState::TASK_KILLED);
            }
            AgentEvent::ShutdownFramework { framework_id } => {
                // As `mesos-agent`: executors go, updates of a terminating
                // framework are dropped.
                let before = self.live.len();
                self.live.retain(|_, f| f != &framework_id);
                self.pool.stats.tasks_live.fetch_sub(
                    (before - self.live.len()) as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
                self.updates.remove_framework(&framework_id);
            }
            AgentEvent::Acknowledge {
                framework_id,
                task_id,
                uuid,
            } => {
                match self
                    .updates
                    .acknowledge(&framework_id, &task_id, &uuid, true, Instant::now())
                {
                    Acked::Done { next, .. } => {
                        self.acks += 1;
                        SimStats::bump(&self.pool.stats.acks_received);
                        if let Some(next) = next {
                            self.send_update(framework_id, *next);
                        }
                    }
                    Acked::Unexpected => {
                        debug!(agent = %self.id, task = %task_id, "unexpected acknowledgement ignored")
                    }
                }
            }
            // Simulated agents hold no reservations or volumes.
            AgentEvent::Message { .. } | AgentEvent::CheckpointResources { .. } => {}
            AgentEvent::Ping { nonce } => {
                SimStats::bump(&self.pool.stats.pings);
                self.outbox.push_back(AgentCall::Pong {
                    agent_id: self.id.clone(),
                    nonce,
                });
            }
            AgentEvent::Error { message } => warn!(agent = %self.id, "master error: {message}"),
            // Benchmarks never mark agents gone; a simulated agent just says so.
            AgentEvent::Shutdown { message } => {
                warn!(agent = %self.id, "master asked this simulated agent to shut down: {message}")
            }
        }
    }

    /// Starts a no-op task: it runs for `fixed` if given, else for the
    /// pool's random task duration, else until killed or finished.
    fn run_task(&mut self, fid: FrameworkID, tid: TaskID, fixed: Option<Duration>) {
        if self.live.contains_key(&tid) {
            warn!(agent = %self.id, task = %tid, "duplicate RUN_TASK ignored");
            return;
        }
        let stats = &self.pool.stats;
        SimStats::bump(&stats.tasks_launched);
        SimStats::bump(&stats.tasks_live);
        self.live.insert(tid.clone(), fid.clone());
        self.push_update(&fid, &tid, TaskState::TASK_STARTING);
        self.push_update(&fid, &tid, TaskState::TASK_RUNNING);
        let run_for = fixed.or_else(|| {
            let (lo, hi) = self.pool.config.task_duration?;
            let span = hi.saturating_sub(lo).as_nanos() as u64;
            let extra = if span == 0 { 0 } else { self.random() % span };
            Some(lo + Duration::from_nanos(extra))
        });
        if let Some(run_for) = run_for {
            self.timers.push(Reverse(Timer {
                at: Instant::now() + run_for,
                task_id: tid,
                framework_id: fid,
            }));
        }
    }

    fn end_task(&mut self, fid: &FrameworkID, tid: &TaskID, state: TaskState) {
        if self.live.get(tid) != Some(fid) {
            debug!(agent = %self.id, task = %tid, "end of a task not running here ignored");
            return;
        }
        self.live.remove(tid);
        let stats = &self.pool.stats;
        stats
            .tasks_live
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        if state == TaskState::TASK_KILLED {
            SimStats::bump(&stats.tasks_killed);
        }
        self.push_update(fid, tid, state);
    }

    /// Queues an executor update in the status update manager; sends it if
    /// it became its task's head.
    fn push_update(&mut self, fid: &FrameworkID, tid: &TaskID, state: TaskState) {
        let mut s = TaskStatus::new(tid.clone(), state);
        s.source = Some(Source::SOURCE_EXECUTOR);
        s.executor_id = Some(ExecutorID::new(tid.value.clone()));
        s.agent_id = Some(self.id.clone());
        s.uuid = Some(new_uuid());
        s.timestamp = Some(mesos_master::master::now_secs());
        match self.updates.push(fid, s, true, Instant::now()) {
            Pushed::Queued { send: Some(head) } => self.send_update(fid.clone(), *head),
            Pushed::Queued { send: None } => {}
            other => debug!(agent = %self.id, task = %tid, "update not queued: {other:?}"),
        }
    }

    fn send_update(&mut self, framework_id: FrameworkID, status: TaskStatus) {
        SimStats::bump(&self.pool.stats.updates_sent);
        self.outbox.push_back(AgentCall::Update {
            agent_id: self.id.clone(),
            framework_id,
            status,
        });
    }

    fn random(&mut self) -> u64 {
        // xorshift64: plenty for spreading task durations.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// A fresh status update uuid: 16 random bytes, base64 (as Mesos renders `bytes`).
pub(crate) fn new_uuid() -> String {
    base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes())
}

/// Sends one agent call (the request `mesos-agent`'s call sender makes).
async fn send_call(pool: Arc<SimPool>, stream_id: HeaderValue, call: AgentCall) {
    let Ok(_permit) = pool.calls.clone().acquire_owned().await else {
        return;
    };
    let body = match serde_json::to_vec(&call) {
        Ok(b) => b,
        Err(e) => {
            warn!("unencodable agent call: {e}");
            return;
        }
    };
    let result = pool
        .client()
        .post(pool.url())
        .header(CONTENT_TYPE, "application/json")
        .header(STREAM_ID, stream_id)
        .timeout(CALL_TIMEOUT)
        .body(body)
        .send()
        .await;
    match result {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            SimStats::bump(&pool.stats.calls_failed);
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            warn!("master refused agent call: {status} {text}");
        }
        Err(e) => {
            SimStats::bump(&pool.stats.calls_failed);
            warn!("agent call failed: {e}");
        }
    }
}

/// The no-op executor model's one command: `sleep <seconds>` runs the task
/// for that long (the probe's fixed-length task); anything else uses the
/// pool's task duration.
fn sleep_duration(command: &str) -> Option<Duration> {
    let secs: f64 = command.trim().strip_prefix("sleep ")?.trim().parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

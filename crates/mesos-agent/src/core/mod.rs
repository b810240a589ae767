//! The agent core: all bookkeeping and protocol decisions, without I/O.
//!
//! Every input (an event from the master, a call from an executor, a
//! process that started or exited, a timer) is a method call that mutates
//! [`Core`] and returns the [`Effect`]s to perform: messages to the master,
//! events on executor streams, processes to launch or destroy, timers to arm.
//! `runtime` performs the effects; the unit tests in `tests.rs` drive the
//! core directly.
//!
//! This file holds the master-facing half and the status update path;
//! `launch.rs` turns RUN_TASK into an executor launch; `executors.rs` is the
//! executor-facing half (subscriptions, updates, process life cycle);
//! `updates.rs` the per-task status update streams; `model.rs` the records.

mod executors;
mod launch;
pub mod model;
mod recovery;
mod resources;
pub mod updates;

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;

pub use launch::command_executor_info;
pub use model::*;
pub use recovery::{Recovered, RecoveredExecutor, RecoveredFramework, RecoveredTask};

use crate::launcher::{self, EnvParams, LaunchSpec};
use crate::paths;
use mesos_types::agent_protocol::{AgentCall, AgentEvent, AgentTask};
use mesos_types::executor::{self as exec, Event};
use mesos_types::task_state::{for_framework, is_terminal};
use mesos_types::{
    AgentID, AgentInfo, CommandInfo, ContainerID, ContainerStatus, ExecutorEventType, ExecutorID,
    ExecutorInfo, FrameworkCapability, FrameworkID, FrameworkInfo, KillPolicy, MasterInfo, Reason,
    Source, TaskID, TaskInfo, TaskState, TaskStatus,
};
use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{debug, info, warn};
use updates::{Acked, Pushed, UpdateManager};

/// Settings the core needs (derived from the flags).
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub work_dir: PathBuf,
    pub launcher_dir: PathBuf,
    /// Advertised address of the agent's HTTP server.
    pub ip: IpAddr,
    pub port: u16,
    pub executor_registration_timeout: Duration,
    pub executor_shutdown_grace_period: Duration,
    pub executor_reregistration_timeout: Duration,
    pub recovery_timeout: Duration,
    pub status_update_retry_interval: Duration,
    /// Replaces the inherited executor environment when set.
    pub executor_environment: Option<BTreeMap<String, String>>,
    /// Write checkpoints under `<work_dir>/meta` ([`Effect::Checkpoint`]).
    pub checkpoint: bool,
    /// Bounds on fetching an executor's URIs.
    pub fetch_limits: crate::fetcher::FetchLimits,
}

impl CoreConfig {
    /// `ip:port` as executors reach the agent.
    pub fn endpoint(&self) -> String {
        std::net::SocketAddr::new(self.ip, self.port).to_string()
    }
}

/// Timers the core arms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    /// The executor must have subscribed by now.
    RegistrationTimeout {
        framework_id: FrameworkID,
        executor_id: ExecutorID,
        container_id: ContainerID,
    },
    /// A recovered executor must have re-subscribed by now.
    ReregistrationTimeout {
        framework_id: FrameworkID,
        executor_id: ExecutorID,
        container_id: ContainerID,
    },
    /// The executor must have exited after SHUTDOWN by now.
    ShutdownTimeout {
        framework_id: FrameworkID,
        executor_id: ExecutorID,
        container_id: ContainerID,
    },
}

/// Something for the runtime to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a call to the master.
    Master(Box<AgentCall>),
    /// Send an event on an executor's subscription stream.
    Executor { connection: u64, event: Box<Event> },
    /// End an executor's subscription stream.
    CloseStream { connection: u64 },
    /// Create the sandbox, fetch, fork; report back `executor_launched` or `launch_failed`.
    Launch(Box<LaunchSpec>),
    /// SIGKILL the process tree of this executor process.
    Destroy { pid: u32 },
    /// SIGKILL whatever is left of these containers (by sandbox), also
    /// processes that escaped their executor's tree.
    KillContainers { sandboxes: Vec<PathBuf> },
    /// Call `timer_fired` after `after`.
    Schedule { after: Duration, timer: Timer },
    /// Persist before performing the following effects: replace `path` with
    /// one record holding `data` (`append` = add a record to `path` instead;
    /// `sync` = fsync). With a `guard`, a failed write must stop what
    /// depends on it (see [`CheckpointGuard`]). Unguarded records (the
    /// agent id, ACK records, the agent's own updates) are only logged: a
    /// lost ACK record means the update is sent once more after a restart,
    /// which at-least-once delivery allows.
    Checkpoint {
        path: PathBuf,
        data: Vec<u8>,
        append: bool,
        sync: bool,
        guard: Option<CheckpointGuard>,
    },
    /// Delete a checkpoint directory that is no longer needed.
    RemoveCheckpoint { path: PathBuf },
    /// Follow a recovered executor process (not our child) by polling its
    /// pid; report its exit through `executor_exited`.
    Watch {
        framework_id: FrameworkID,
        executor_id: ExecutorID,
        container_id: ContainerID,
        pid: u32,
        /// The process's start time when it was forked, if recorded: a
        /// different start time means the pid was reused.
        start_time: Option<u64>,
    },
    /// Make these persistent volume directories (kept across tasks) and
    /// remove those (destroyed volumes).
    Volumes {
        create: Vec<PathBuf>,
        remove: Vec<PathBuf>,
    },
    /// The master will never take this agent back (it was marked gone):
    /// the agent kills every executor, forgets its checkpoint and stops.
    ShutdownAgent { message: String },
}

/// What a checkpoint write guards: on failure the runtime drops the
/// effects that depend on it and tells the core.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CheckpointGuard {
    /// An executor's update: not acknowledged nor forwarded
    /// ([`Core::update_not_checkpointed`]).
    Update(UpdateGuard),
    /// A record a launch needs to be recovered after a restart
    /// (`framework.info`, `executor.info`, or `task.info` of `task_id`): what
    /// it covers is not launched ([`Core::launch_not_checkpointed`]).
    Launch {
        framework_id: FrameworkID,
        executor_id: ExecutorID,
        container_id: ContainerID,
        task_id: Option<TaskID>,
    },
    /// `forked.pid`: without it a restarted agent cannot find the executor,
    /// so it is destroyed ([`Core::launch_not_checkpointed`]).
    Pid {
        framework_id: FrameworkID,
        executor_id: ExecutorID,
        container_id: ContainerID,
        pid: u32,
    },
}

/// An executor's status update whose checkpoint write it depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UpdateGuard {
    pub framework_id: FrameworkID,
    pub task_id: TaskID,
    pub uuid: String,
}

/// How an executor process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    /// Raw wait status (reported to the master in EXECUTOR_EXITED).
    pub wait_status: i32,
    /// `exited with status 1`, `terminated with signal SIGKILL`.
    pub description: String,
}

/// A sandbox the files endpoints may serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    pub framework_id: FrameworkID,
    pub executor_id: ExecutorID,
    pub directory: PathBuf,
}

/// The agent's state.
pub struct Core {
    config: CoreConfig,
    info: AgentInfo,
    master: Option<MasterInfo>,
    connected: bool,
    frameworks: BTreeMap<FrameworkID, Framework>,
    completed_frameworks: VecDeque<Framework>,
    updates: UpdateManager,
    next_connection: u64,
    wall_clock: fn() -> f64,
    /// Recovered executors that have not re-subscribed yet.
    reregistering: std::collections::BTreeSet<(FrameworkID, ExecutorID)>,
    /// Dynamic reservations and persistent volumes the master asked this
    /// agent to keep (see [`Core::checkpoint_resources`]).
    checkpointed_resources: Vec<mesos_types::Resource>,
    counters: Counters,
}

fn system_time() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn new_uuid() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes())
}

/// Executor event with one payload set.
fn exec_event(kind: ExecutorEventType, fill: impl FnOnce(&mut Event)) -> Box<Event> {
    let mut e = Event::bare(kind);
    fill(&mut e);
    Box::new(e)
}

impl Core {
    /// A core for an agent described by `info` (hostname, port, resources,
    /// attributes; `id` once registered).
    pub fn new(config: CoreConfig, info: AgentInfo) -> Core {
        Core {
            config,
            info,
            master: None,
            connected: false,
            frameworks: BTreeMap::new(),
            completed_frameworks: VecDeque::new(),
            updates: UpdateManager::default(),
            next_connection: 1,
            wall_clock: system_time,
            reregistering: Default::default(),
            checkpointed_resources: Vec::new(),
            counters: Counters::default(),
        }
    }

    /// The reservations and volumes this agent keeps.
    pub fn checkpointed_resources(&self) -> &[mesos_types::Resource] {
        &self.checkpointed_resources
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    pub fn info(&self) -> &AgentInfo {
        &self.info
    }

    pub fn agent_id(&self) -> Option<&AgentID> {
        self.info.id.as_ref()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn master(&self) -> Option<&MasterInfo> {
        self.master.as_ref()
    }

    /// Registered on the current master stream.
    pub fn is_registered(&self) -> bool {
        self.connected && self.info.id.is_some()
    }

    pub fn frameworks(&self) -> impl Iterator<Item = &Framework> {
        self.frameworks.values()
    }

    pub fn completed_frameworks(&self) -> impl Iterator<Item = &Framework> {
        self.completed_frameworks.iter()
    }

    /// A fresh id for an executor subscription stream.
    pub fn next_connection(&mut self) -> u64 {
        self.next_connection += 1;
        self.next_connection
    }

    /// Every executor sandbox, live or finished.
    pub fn sandboxes(&self) -> Vec<Sandbox> {
        let fws = self
            .frameworks
            .values()
            .chain(self.completed_frameworks.iter());
        fws.flat_map(|f| f.executors.values().chain(f.completed_executors.iter()))
            .map(|e| Sandbox {
                framework_id: e.framework_id.clone(),
                executor_id: e.id.clone(),
                directory: e.directory.clone(),
            })
            .collect()
    }

    /// The REGISTER call: our info (with the previous id when re-registering),
    /// the tasks we run and their frameworks.
    pub fn register_call(&self) -> AgentCall {
        let mut tasks = Vec::new();
        let mut frameworks = Vec::new();
        for fw in self.frameworks.values().filter(|f| !f.terminating) {
            frameworks.push(fw.info.clone());
            for ex in fw.executors.values() {
                for t in &ex.queued_tasks {
                    let state = TaskState::TASK_STAGING;
                    tasks.push(AgentTask {
                        framework_id: fw.id.clone(),
                        task: t.clone(),
                        state,
                        status_update_state: None,
                    });
                }
            }
            // Terminal tasks still held (also by exited executors) have
            // unacknowledged updates: a restarted master must know them, or
            // it would answer reconciliation with TASK_LOST before their
            // update lands.
            for ex in fw.executors.values().chain(fw.completed_executors.iter()) {
                for t in ex.tasks.values() {
                    tasks.push(AgentTask {
                        framework_id: fw.id.clone(),
                        task: t.info.clone(),
                        state: t.state,
                        status_update_state: self.updates.head_state(&fw.id, &t.info.task_id),
                    });
                }
            }
        }
        AgentCall::Register {
            agent_info: self.info.clone(),
            version: mesos_types::MESOS_VERSION.to_string(),
            tasks,
            frameworks,
            checkpointed_resources: self.checkpointed_resources.clone(),
        }
    }

    /// The master stream broke.
    pub fn disconnected(&mut self) {
        self.connected = false;
    }

    /// Handles one event from the master.
    pub fn handle_event(&mut self, event: AgentEvent, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        match event {
            AgentEvent::Registered {
                agent_id,
                master_info,
            } => self.registered(agent_id, master_info, now, &mut fx),
            AgentEvent::RunTask {
                framework_info,
                task,
            } => self.run_task(framework_info, task, now, &mut fx),
            AgentEvent::RunTaskGroup {
                framework_info,
                executor,
                task_group,
            } => {
                let Some(fid) = framework_info.id else {
                    return fx;
                };
                for t in task_group.tasks {
                    let msg = "LAUNCH_GROUP failed: task groups are not supported yet";
                    let reason = Some(Reason::REASON_CONTAINER_LAUNCH_FAILED);
                    let eid = Some(&executor.executor_id);
                    self.agent_update(
                        &fid,
                        eid,
                        &t.task_id,
                        TaskState::TASK_FAILED,
                        reason,
                        msg,
                        now,
                        &mut fx,
                    );
                }
            }
            AgentEvent::KillTask {
                framework_id,
                task_id,
                kill_policy,
            } => self.kill_task(&framework_id, &task_id, kill_policy, now, &mut fx),
            AgentEvent::Acknowledge {
                framework_id,
                task_id,
                uuid,
            } => self.acknowledge(&framework_id, &task_id, &uuid, now, &mut fx),
            AgentEvent::ShutdownFramework { framework_id } => {
                self.shutdown_framework(&framework_id, &mut fx)
            }
            AgentEvent::ShutdownExecutor {
                framework_id,
                executor_id,
            } => self.shutdown_executor(&framework_id, &executor_id, &mut fx),
            AgentEvent::Message {
                framework_id,
                executor_id,
                data,
            } => {
                match self
                    .live_executor_mut(&framework_id, &executor_id)
                    .and_then(|e| e.connection)
                {
                    Some(connection) => fx.push(Effect::Executor {
                        connection,
                        event: exec_event(ExecutorEventType::MESSAGE, |e| {
                            e.message = Some(exec::DataMessage { data })
                        }),
                    }),
                    None => {
                        warn!(%framework_id, %executor_id, "Dropping framework message: executor not subscribed")
                    }
                }
            }
            AgentEvent::Ping { nonce } => {
                if let Some(agent_id) = self.info.id.clone() {
                    fx.push(Effect::Master(Box::new(AgentCall::Pong {
                        agent_id,
                        nonce,
                    })));
                }
            }
            AgentEvent::Error { message } => warn!("Master reported an error: {message}"),
            AgentEvent::CheckpointResources { resources } => {
                self.checkpoint_resources(resources, &mut fx)
            }
            AgentEvent::Shutdown { message } => {
                warn!("Agent asked to shut down by the master: {message}");
                fx.push(Effect::ShutdownAgent { message });
            }
        }
        fx
    }

    /// Periodic work: re-send status updates the master has not acknowledged.
    pub fn tick(&mut self, now: Instant) -> Vec<Effect> {
        if !self.is_registered() {
            return Vec::new();
        }
        let due = self
            .updates
            .due(now, self.config.status_update_retry_interval);
        due.into_iter()
            .map(|(fid, s)| self.forward(&fid, s))
            .collect()
    }

    fn registered(
        &mut self,
        agent_id: AgentID,
        master: MasterInfo,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        match &self.info.id {
            Some(old) if *old != agent_id => {
                warn!(%old, new = %agent_id, "Master assigned a new agent id")
            }
            Some(_) => info!(%agent_id, "Re-registered with master {}", master.id),
            None => info!(%agent_id, "Registered with master {}", master.id),
        }
        self.info.id = Some(agent_id);
        self.master = Some(master);
        self.connected = true;
        self.cp_agent_id(fx);
        let heads = self.updates.all_heads(now);
        fx.extend(heads.into_iter().map(|(fid, s)| self.forward(&fid, s)));
    }

    fn forward(&self, framework_id: &FrameworkID, status: TaskStatus) -> Effect {
        let agent_id = self.info.id.clone().unwrap_or_default();
        Effect::Master(Box::new(AgentCall::Update {
            agent_id,
            framework_id: framework_id.clone(),
            status,
        }))
    }

    fn kill_task(
        &mut self,
        fid: &FrameworkID,
        tid: &TaskID,
        policy: Option<KillPolicy>,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let Some(fw) = self.frameworks.get_mut(fid) else {
            warn!(%fid, %tid, "Ignoring KILL_TASK for an unknown framework");
            return;
        };
        let partition_aware = fw.info.has_capability(FrameworkCapability::PARTITION_AWARE);
        // Not delivered to the executor yet: kill it here.
        if let Some(ex) = fw
            .executors
            .values_mut()
            .find(|e| e.queued_tasks.iter().any(|t| &t.task_id == tid))
        {
            let eid = ex.id.clone();
            ex.dequeue(tid);
            if ex.queued_tasks.is_empty()
                && ex.live_task_ids().len() <= 1
                && ex.state != ExecutorState::Running
            {
                // Nothing else for this executor to do.
                ex.state = ExecutorState::Terminating;
                if let Some(pid) = ex.pid {
                    fx.push(Effect::Destroy { pid });
                }
            }
            let reason = Some(Reason::REASON_TASK_KILLED_DURING_LAUNCH);
            let msg = "Killed before delivery to the executor";
            self.agent_update(
                fid,
                Some(&eid),
                tid,
                TaskState::TASK_KILLED,
                reason,
                msg,
                now,
                fx,
            );
            return;
        }
        if let Some(ex) = fw
            .executors
            .values()
            .find(|e| e.tasks.get(tid).is_some_and(|t| !is_terminal(t.state)))
        {
            match (ex.state, ex.connection) {
                (ExecutorState::Running | ExecutorState::Terminating, Some(connection)) => {
                    let kill = exec::KillEvent {
                        task_id: tid.clone(),
                        kill_policy: policy,
                    };
                    fx.push(Effect::Executor {
                        connection,
                        event: exec_event(ExecutorEventType::KILL, |e| e.kill = Some(kill)),
                    });
                }
                _ => warn!(%fid, %tid, "Cannot deliver KILL: executor is not subscribed"),
            }
            return;
        }
        if fw.knows_task(tid) {
            debug!(%fid, %tid, "Ignoring KILL_TASK for a finished task");
            return;
        }
        let state = for_framework(TaskState::TASK_DROPPED, partition_aware);
        self.agent_update(
            fid,
            None,
            tid,
            state,
            None,
            "Attempted to kill an unknown task",
            now,
            fx,
        );
    }

    fn acknowledge(
        &mut self,
        fid: &FrameworkID,
        tid: &TaskID,
        uuid: &str,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        match self
            .updates
            .acknowledge(fid, tid, uuid, self.is_registered(), now)
        {
            Acked::Unexpected => debug!(%fid, %tid, uuid, "Ignoring unexpected acknowledgement"),
            Acked::Done { terminal, next } => {
                if let Some((eid, cid)) = self.run_of_task(fid, tid) {
                    let record = crate::checkpoint::UpdateRecord::Ack(uuid.to_string());
                    self.cp_update(fid, &eid, &cid, tid, &record, fx);
                }
                if let Some(next) = next {
                    fx.push(self.forward(fid, *next));
                }
                if terminal {
                    let mut finished_command_executor = None;
                    if let Some(ex) = self
                        .frameworks
                        .get_mut(fid)
                        .and_then(|f| f.executor_with_task_mut(tid))
                    {
                        ex.complete_task(tid);
                        let idle = ex.queued_tasks.is_empty() && ex.live_task_ids().is_empty();
                        if ex.command_executor && ex.is_live() && idle {
                            finished_command_executor = Some(ex.id.clone());
                        }
                    }
                    // A command executor runs one task: once its end is
                    // acknowledged the container goes, whether or not the
                    // executor exits by itself (it may have claimed an end
                    // its processes did not reach).
                    if let Some(eid) = finished_command_executor {
                        self.shutdown_executor(fid, &eid, fx);
                    }
                    self.maybe_remove_framework(fid, fx);
                }
            }
        }
    }

    fn shutdown_framework(&mut self, fid: &FrameworkID, fx: &mut Vec<Effect>) {
        let Some(fw) = self.frameworks.get_mut(fid) else {
            return;
        };
        info!(%fid, "Shutting down framework");
        fw.terminating = true;
        for ex in fw.completed_executors.iter_mut() {
            for tid in ex.tasks.keys().cloned().collect::<Vec<_>>() {
                ex.complete_task(&tid);
            }
        }
        // Whatever its executors' tasks claimed, nothing of the framework
        // may outlive it: what exited executors left behind goes now, the
        // live executors after their grace period (ShutdownTimeout).
        let sandboxes: Vec<PathBuf> = fw
            .completed_executors
            .iter()
            .map(|e| e.directory.clone())
            .collect();
        if !sandboxes.is_empty() {
            fx.push(Effect::KillContainers { sandboxes });
        }
        let eids: Vec<ExecutorID> = fw.executors.keys().cloned().collect();
        self.updates.remove_framework(fid);
        for eid in eids {
            self.shutdown_executor(fid, &eid, fx);
        }
        self.maybe_remove_framework(fid, fx);
    }

    /// Sends SHUTDOWN (then SIGKILL after the grace period), or destroys an
    /// executor that has not subscribed.
    pub(crate) fn shutdown_executor(
        &mut self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        fx: &mut Vec<Effect>,
    ) {
        let config = self.config.clone();
        let Some(ex) = self.live_executor_mut(fid, eid) else {
            return;
        };
        info!(%fid, %eid, "Shutting down executor");
        match (ex.state, ex.connection) {
            (ExecutorState::Terminating | ExecutorState::Terminated, _) => {}
            (ExecutorState::Running, Some(connection)) => {
                ex.state = ExecutorState::Terminating;
                fx.push(Effect::Executor {
                    connection,
                    event: Box::new(Event::bare(ExecutorEventType::SHUTDOWN)),
                });
                let timer = Timer::ShutdownTimeout {
                    framework_id: fid.clone(),
                    executor_id: eid.clone(),
                    container_id: ex.container_id.clone(),
                };
                fx.push(Effect::Schedule {
                    after: launch::shutdown_grace(&ex.info, &config),
                    timer,
                });
            }
            _ => {
                ex.state = ExecutorState::Terminating;
                if let Some(pid) = ex.pid {
                    fx.push(Effect::Destroy { pid });
                }
            }
        }
    }

    /// A status update generated by the agent itself (SOURCE_AGENT).
    #[allow(clippy::too_many_arguments)]
    fn agent_update(
        &mut self,
        fid: &FrameworkID,
        eid: Option<&ExecutorID>,
        tid: &TaskID,
        state: TaskState,
        reason: Option<Reason>,
        message: impl Into<String>,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let mut s = TaskStatus::new(tid.clone(), state);
        s.source = Some(Source::SOURCE_AGENT);
        s.reason = reason;
        s.message = Some(message.into());
        s.uuid = Some(new_uuid());
        s.timestamp = Some((self.wall_clock)());
        s.executor_id = eid.cloned();
        self.record_update(fid, eid, s, now, fx);
    }

    /// Queues an update (from an executor or the agent) for the master,
    /// after filling `agent_id`, `executor_id` and `container_status`.
    fn record_update(
        &mut self,
        fid: &FrameworkID,
        eid: Option<&ExecutorID>,
        mut status: TaskStatus,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        if self.frameworks.get(fid).is_some_and(|f| f.terminating) {
            debug!(%fid, task = %status.task_id, "Dropping update of a terminating framework");
            return;
        }
        status.agent_id = self.info.id.clone();
        if status.executor_id.is_none() {
            status.executor_id = eid.cloned();
        }
        let ip = self.config.ip;
        let connected = self.is_registered();
        let executor = eid.and_then(|e| self.executor_mut(fid, e));
        if let Some(ex) = &executor {
            let cs = status
                .container_status
                .get_or_insert_with(ContainerStatus::default);
            cs.container_id
                .get_or_insert_with(|| ex.container_id.clone());
            if cs.executor_pid.is_none() {
                cs.executor_pid = ex.pid;
            }
            if cs.network_infos.is_empty() {
                cs.network_infos.push(network_info(ip));
            }
        }
        match self.updates.push(fid, status.clone(), connected, now) {
            Pushed::Duplicate => {
                self.counters.valid_status_updates += 1;
                debug!(%fid, task = %status.task_id, "Duplicate status update")
            }
            Pushed::AfterTerminal => {
                self.counters.invalid_status_updates += 1;
                warn!(%fid, task = %status.task_id, state = %status.state, "Ignoring update after a terminal update")
            }
            Pushed::Queued { send } => {
                self.counters.valid_status_updates += 1;
                if is_terminal(status.state) {
                    *self.counters.tasks_ended.entry(status.state).or_default() += 1;
                }
                if let Some(task) = eid
                    .and_then(|e| self.executor_mut(fid, e))
                    .and_then(|ex| ex.tasks.get_mut(&status.task_id))
                {
                    task.state = status.state;
                    task.statuses.push(status.clone());
                }
                if let Some((eid, cid)) = self.run_of_task(fid, &status.task_id) {
                    let record = crate::checkpoint::UpdateRecord::Update(Box::new(status.clone()));
                    self.cp_update(fid, &eid, &cid, &status.task_id, &record, fx);
                }
                if let Some(s) = send {
                    fx.push(self.forward(fid, *s));
                }
            }
        }
    }

    /// A live executor, else the most recent exited one with that id.
    fn executor_mut(&mut self, fid: &FrameworkID, eid: &ExecutorID) -> Option<&mut Executor> {
        let fw = self.frameworks.get_mut(fid)?;
        if fw.executors.contains_key(eid) {
            return fw.executors.get_mut(eid);
        }
        fw.completed_executors
            .iter_mut()
            .rev()
            .find(|e| &e.id == eid)
    }

    fn live_executor_mut(&mut self, fid: &FrameworkID, eid: &ExecutorID) -> Option<&mut Executor> {
        self.frameworks.get_mut(fid)?.executors.get_mut(eid)
    }

    /// Moves a framework with nothing left to run or report to the completed list.
    fn maybe_remove_framework(&mut self, fid: &FrameworkID, fx: &mut Vec<Effect>) {
        if !self.frameworks.get(fid).is_some_and(Framework::is_idle) {
            return;
        }
        if let Some(fw) = self.frameworks.remove(fid) {
            info!(%fid, "Framework has no executors left");
            self.cp_remove_framework(fid, fx);
            self.completed_frameworks.push_back(fw);
            while self.completed_frameworks.len() > MAX_COMPLETED_FRAMEWORKS {
                self.completed_frameworks.pop_front();
            }
        }
    }
}

/// `NetworkInfo` with the agent's address, for `ContainerStatus.network_infos`.
fn network_info(ip: IpAddr) -> serde_json::Value {
    let protocol = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    serde_json::json!({"ip_addresses": [{"protocol": protocol, "ip_address": ip.to_string()}]})
}

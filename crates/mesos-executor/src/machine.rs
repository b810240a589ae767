//! The command executor as a pure state machine.
//!
//! [`Machine::handle`] takes one [`Input`] (an event from the agent, the
//! result of forking the command, its exit, a timer) and returns the
//! [`Action`]s to perform (calls to send, processes to signal, timers to arm,
//! when to exit). It never does I/O itself, so every protocol rule of spec
//! §4.5 is unit-tested here; `driver` is the thin shell that performs the
//! actions.

use crate::config::Config;
use crate::status::{Termination, terminal_update};
use base64::Engine;
use mesos_types::executor::{Call, Event, Subscribe, UnacknowledgedUpdate, UpdateCall};
use mesos_types::{
    ExecutorCallType, ExecutorEventType, FrameworkCapability, FrameworkInfo, KillPolicy, Source,
    TaskID, TaskInfo, TaskState, TaskStatus,
};
use std::path::PathBuf;
use std::time::Duration;

/// Grace period between SIGTERM and SIGKILL when no kill policy says otherwise.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(3);

const MULTIPLE_TASKS: &str = "Attempted to run multiple tasks using a \"command\" executor";

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// An event read from the subscription stream.
    Event(Box<Event>),
    /// SUBSCRIBE could not be established. `fatal` = the agent refused it (4xx).
    SubscribeFailed { fatal: bool, reason: String },
    /// The subscription stream ended.
    Disconnected,
    /// The command was forked.
    Spawned { pid: u32 },
    /// The command could not be forked.
    SpawnFailed(String),
    /// The command's main process ended. The driver has killed the rest of
    /// its process group, and reaps it once this input was handled.
    Exited(Termination),
    /// A timer armed with [`Action::Schedule`] fired.
    Timer(Timer),
    /// Periodic tick: re-send updates that stayed unacknowledged.
    RetryTick,
}

/// Timers the machine arms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The kill grace period ended: escalate to SIGKILL.
    Escalation,
    /// Try to subscribe again (checkpointed executors only).
    Resubscribe,
    /// Give up re-subscribing; the number identifies the disconnection.
    Recovery(u64),
}

/// Signals the executor sends to the task's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    Term,
    Kill,
}

/// What to run for the task.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    pub program: String,
    pub args: Vec<String>,
    /// `argv[0]` when it differs from `program` (shell=false with arguments).
    pub arg0: Option<String>,
    /// Added to the inherited environment.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

/// Something to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open the subscription stream with this SUBSCRIBE call.
    Subscribe(Box<Call>),
    /// POST this call (UPDATE, MESSAGE), in order.
    Send(Box<Call>),
    /// Fork the command in its own process group; report [`Input::Spawned`].
    Spawn(CommandSpec),
    /// Signal the process group led by `pid`.
    SignalGroup { pid: u32, signal: Sig },
    /// Feed [`Input::Timer`] back after `after`.
    Schedule { after: Duration, timer: Timer },
    /// A line for the executor's log (sandbox `stderr`).
    Log(String),
    /// Exit the executor process with this code.
    Exit(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    Subscribing,
    Subscribed,
    Disconnected,
}

#[derive(Debug, Clone)]
struct Pending {
    status: TaskStatus,
    /// Sent since the last retry tick (not yet due for a resend).
    fresh: bool,
}

/// Source of the 16-byte update uuids and of timestamps (injected for tests).
pub struct Entropy {
    pub uuid: Box<dyn FnMut() -> [u8; 16] + Send>,
    pub now: Box<dyn FnMut() -> f64 + Send>,
}

impl Entropy {
    /// Random v4 uuids and the wall clock.
    pub fn system() -> Entropy {
        Entropy {
            uuid: Box::new(|| *uuid::Uuid::new_v4().as_bytes()),
            now: Box::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0)
            }),
        }
    }
}

/// The command executor's state.
pub struct Machine {
    config: Config,
    entropy: Entropy,
    connection: Connection,
    recovering: bool,
    recovery_generation: u64,
    framework: Option<FrameworkInfo>,
    task: Option<TaskInfo>,
    /// An update of `task` was acknowledged, so it is no longer "unacknowledged".
    task_acked: bool,
    pid: Option<u32>,
    /// Grace period of a requested kill.
    kill: Option<Duration>,
    signaled: bool,
    exited: bool,
    /// The terminal update of `task` has been generated.
    terminated: bool,
    shutting_down: bool,
    unacked: Vec<Pending>,
}

impl Machine {
    pub fn new(config: Config, entropy: Entropy) -> Machine {
        Machine {
            config,
            entropy,
            connection: Connection::Subscribing,
            recovering: false,
            recovery_generation: 0,
            framework: None,
            task: None,
            task_acked: false,
            pid: None,
            kill: None,
            signaled: false,
            exited: false,
            terminated: false,
            shutting_down: false,
            unacked: Vec::new(),
        }
    }

    /// The first actions: subscribe.
    pub fn start(&mut self) -> Vec<Action> {
        self.connection = Connection::Subscribing;
        vec![Action::Subscribe(Box::new(self.subscribe_call()))]
    }

    /// Feeds one input, returns what to do.
    pub fn handle(&mut self, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Event(event) => self.on_event(*event, &mut out),
            Input::SubscribeFailed { fatal, reason } => {
                out.push(Action::Log(format!(
                    "Failed to subscribe with the agent: {reason}"
                )));
                // A refusal while re-subscribing after a disconnection is not
                // final: until the recovery timeout, whatever answers at the
                // agent's address may not be our agent yet (a restarting
                // agent's port briefly held by another process). The
                // recovered agent either takes us back or shuts us down.
                if fatal && !self.recovering {
                    self.abort(&mut out);
                } else {
                    self.on_disconnected(&mut out);
                }
            }
            Input::Disconnected => self.on_disconnected(&mut out),
            Input::Spawned { pid } => self.on_spawned(pid, &mut out),
            Input::SpawnFailed(error) => {
                if !self.terminated {
                    self.terminated = true;
                    let msg = format!("Failed to launch command: {error}");
                    out.push(Action::Log(msg.clone()));
                    self.send_update(TaskState::TASK_FAILED, Some(msg), &mut out);
                }
            }
            Input::Exited(term) => self.on_exited(term, &mut out),
            Input::Timer(Timer::Escalation) => {
                if let (Some(pid), false) = (self.pid, self.exited) {
                    out.push(Action::Log(format!(
                        "Process group {pid} did not exit within the grace period, sending SIGKILL"
                    )));
                    out.push(Action::SignalGroup {
                        pid,
                        signal: Sig::Kill,
                    });
                }
            }
            Input::Timer(Timer::Resubscribe) => {
                if self.connection == Connection::Disconnected {
                    self.connection = Connection::Subscribing;
                    out.push(Action::Subscribe(Box::new(self.subscribe_call())));
                }
            }
            Input::Timer(Timer::Recovery(generation)) => {
                if self.connection != Connection::Subscribed
                    && generation == self.recovery_generation
                {
                    out.push(Action::Log(format!(
                        "Could not re-subscribe with the agent within {}",
                        mesos_flags::Duration(self.config.recovery_timeout)
                    )));
                    self.abort(&mut out);
                }
            }
            Input::RetryTick => {
                if self.connection == Connection::Subscribed {
                    let calls: Vec<Call> = self
                        .unacked
                        .iter_mut()
                        .filter_map(|p| {
                            let due = !p.fresh;
                            p.fresh = false;
                            due.then(|| p.status.clone())
                        })
                        .map(|s| update_call(&self.config, s))
                        .collect();
                    out.extend(calls.into_iter().map(|c| Action::Send(Box::new(c))));
                }
            }
        }
        out
    }

    fn on_event(&mut self, event: Event, out: &mut Vec<Action>) {
        match event.kind {
            ExecutorEventType::SUBSCRIBED => {
                out.push(Action::Log("Received SUBSCRIBED event".into()));
                self.connection = Connection::Subscribed;
                self.recovering = false;
                self.recovery_generation += 1;
                if let Some(s) = event.subscribed {
                    out.push(Action::Log(format!(
                        "Subscribed executor on {}",
                        s.agent_info.hostname
                    )));
                    self.framework = Some(s.framework_info);
                }
            }
            ExecutorEventType::LAUNCH => {
                out.push(Action::Log("Received LAUNCH event".into()));
                if let Some(l) = event.launch {
                    self.on_launch(l.task, out);
                }
            }
            ExecutorEventType::LAUNCH_GROUP => {
                out.push(Action::Log("Received LAUNCH_GROUP event".into()));
                for t in event
                    .launch_group
                    .map(|g| g.task_group.tasks)
                    .unwrap_or_default()
                {
                    let msg = "LAUNCH_GROUP is not supported by the command executor".to_string();
                    self.send_update_for(t.task_id, TaskState::TASK_FAILED, Some(msg), out);
                }
            }
            ExecutorEventType::KILL => {
                out.push(Action::Log("Received KILL event".into()));
                if let Some(k) = event.kill {
                    self.on_kill(&k.task_id, k.kill_policy.as_ref(), out);
                }
            }
            ExecutorEventType::ACKNOWLEDGED => {
                if let Some(a) = event.acknowledged {
                    self.on_acknowledged(&a.task_id, &a.uuid, out);
                }
            }
            ExecutorEventType::SHUTDOWN => {
                out.push(Action::Log("Received SHUTDOWN event".into()));
                self.on_shutdown(out);
            }
            ExecutorEventType::MESSAGE => out.push(Action::Log("Received MESSAGE event".into())),
            ExecutorEventType::ERROR => {
                let msg = event.error.map(|e| e.message).unwrap_or_default();
                out.push(Action::Log(format!("Received ERROR event: {msg}")));
            }
            ExecutorEventType::HEARTBEAT | ExecutorEventType::UNKNOWN => {}
        }
    }

    fn on_launch(&mut self, task: TaskInfo, out: &mut Vec<Action>) {
        if self.task.is_some() {
            out.push(Action::Log(format!(
                "{MULTIPLE_TASKS}: rejecting task {}",
                task.task_id
            )));
            self.send_update_for(
                task.task_id,
                TaskState::TASK_FAILED,
                Some(MULTIPLE_TASKS.into()),
                out,
            );
            return;
        }
        out.push(Action::Log(format!("Starting task {}", task.task_id)));
        let spec = command_spec(&task, &self.config.sandbox);
        self.task = Some(task);
        self.send_update(TaskState::TASK_STARTING, None, out);
        match spec {
            Ok(spec) => out.push(Action::Spawn(spec)),
            Err(msg) => {
                self.terminated = true;
                self.send_update(TaskState::TASK_FAILED, Some(msg), out);
            }
        }
    }

    fn on_spawned(&mut self, pid: u32, out: &mut Vec<Action>) {
        self.pid = Some(pid);
        out.push(Action::Log(format!("Forked command at {pid}")));
        self.send_update(TaskState::TASK_RUNNING, None, out);
        if let (Some(grace), false) = (self.kill, self.signaled) {
            self.signal_term(grace, out);
        }
    }

    fn on_exited(&mut self, term: Termination, out: &mut Vec<Action>) {
        // The driver killed what the command left in its process group
        // before reporting the exit, while the leader was still unreaped;
        // it reaps it after this input. From here on the group id may be
        // reused, so it is never signalled again.
        self.exited = true;
        if let Some(pid) = self.pid {
            out.push(Action::Log(format!(
                "Command {} (pid: {pid})",
                term.describe()
            )));
        }
        if !self.terminated {
            self.terminated = true;
            let (state, message) = terminal_update(term, self.kill.is_some());
            self.send_update(state, Some(message), out);
        }
    }

    fn on_kill(&mut self, task_id: &TaskID, policy: Option<&KillPolicy>, out: &mut Vec<Action>) {
        let Some(task) = &self.task else {
            out.push(Action::Log(format!(
                "Ignoring KILL for task {task_id}: no task is running"
            )));
            return;
        };
        if &task.task_id != task_id {
            out.push(Action::Log(format!(
                "Ignoring KILL for unknown task {task_id}"
            )));
            return;
        }
        let grace = grace_period(policy)
            .or_else(|| grace_period(task.kill_policy.as_ref()))
            .unwrap_or(DEFAULT_KILL_GRACE);
        self.begin_kill(grace, out);
    }

    fn on_shutdown(&mut self, out: &mut Vec<Action>) {
        self.shutting_down = true;
        match &self.task {
            Some(task) if !self.terminated => {
                let grace = grace_period(task.kill_policy.as_ref())
                    .unwrap_or(DEFAULT_KILL_GRACE)
                    .min(self.config.shutdown_grace_period);
                self.begin_kill(grace, out);
            }
            _ => self.maybe_exit(out),
        }
    }

    fn begin_kill(&mut self, grace: Duration, out: &mut Vec<Action>) {
        if self.terminated || self.kill.is_some() {
            return;
        }
        self.kill = Some(grace);
        let killing = self
            .framework
            .as_ref()
            .is_some_and(|f| f.has_capability(FrameworkCapability::TASK_KILLING_STATE));
        if killing {
            self.send_update(TaskState::TASK_KILLING, None, out);
        }
        if self.pid.is_some() {
            self.signal_term(grace, out);
        }
    }

    fn signal_term(&mut self, grace: Duration, out: &mut Vec<Action>) {
        if let (Some(pid), false) = (self.pid, self.exited) {
            self.signaled = true;
            out.push(Action::Log(format!(
                "Sending SIGTERM to process group {pid}"
            )));
            out.push(Action::SignalGroup {
                pid,
                signal: Sig::Term,
            });
            out.push(Action::Schedule {
                after: grace,
                timer: Timer::Escalation,
            });
        }
    }

    fn on_acknowledged(&mut self, task_id: &TaskID, uuid: &str, out: &mut Vec<Action>) {
        let before = self.unacked.len();
        self.unacked
            .retain(|p| !(p.status.task_id == *task_id && p.status.uuid.as_deref() == Some(uuid)));
        if self.unacked.len() == before {
            out.push(Action::Log(format!(
                "Ignoring acknowledgement {uuid} of task {task_id}: no such update"
            )));
            return;
        }
        if self.task.as_ref().is_some_and(|t| t.task_id == *task_id) {
            self.task_acked = true;
        }
        self.maybe_exit(out);
    }

    /// Exits once nothing is left to report: the task ended (or never came
    /// during a shutdown) and every update was acknowledged.
    fn maybe_exit(&mut self, out: &mut Vec<Action>) {
        let done = self.terminated || (self.task.is_none() && self.shutting_down);
        if done && self.unacked.is_empty() {
            out.push(Action::Exit(0));
        }
    }

    fn on_disconnected(&mut self, out: &mut Vec<Action>) {
        self.connection = Connection::Disconnected;
        if !self.config.checkpoint {
            out.push(Action::Log(
                "Disconnected from the agent and not checkpointing: killing the task and exiting"
                    .into(),
            ));
            self.abort(out);
            return;
        }
        if !self.recovering {
            self.recovering = true;
            self.recovery_generation += 1;
            out.push(Action::Log(
                "Disconnected from the agent; trying to re-subscribe".into(),
            ));
            out.push(Action::Schedule {
                after: self.config.recovery_timeout,
                timer: Timer::Recovery(self.recovery_generation),
            });
        }
        let backoff = self
            .config
            .subscription_backoff_max
            .min(Duration::from_secs(1))
            .max(Duration::from_millis(100));
        out.push(Action::Schedule {
            after: backoff,
            timer: Timer::Resubscribe,
        });
    }

    /// Kills what is still running and exits non-zero.
    fn abort(&mut self, out: &mut Vec<Action>) {
        if let (Some(pid), false) = (self.pid, self.exited) {
            out.push(Action::SignalGroup {
                pid,
                signal: Sig::Kill,
            });
        }
        out.push(Action::Exit(1));
    }

    fn send_update(&mut self, state: TaskState, message: Option<String>, out: &mut Vec<Action>) {
        if let Some(task_id) = self.task.as_ref().map(|t| t.task_id.clone()) {
            self.send_update_for(task_id, state, message, out);
        }
    }

    fn send_update_for(
        &mut self,
        task_id: TaskID,
        state: TaskState,
        message: Option<String>,
        out: &mut Vec<Action>,
    ) {
        let mut status = TaskStatus::new(task_id, state);
        status.message = message;
        status.source = Some(Source::SOURCE_EXECUTOR);
        status.executor_id = Some(self.config.executor_id.clone());
        status.timestamp = Some((self.entropy.now)());
        status.uuid = Some(base64::engine::general_purpose::STANDARD.encode((self.entropy.uuid)()));
        self.unacked.push(Pending {
            status: status.clone(),
            fresh: true,
        });
        out.push(Action::Send(Box::new(update_call(&self.config, status))));
    }

    fn subscribe_call(&self) -> Call {
        let unacknowledged_tasks = match &self.task {
            Some(t) if !self.task_acked => vec![t.clone()],
            _ => vec![],
        };
        let unacknowledged_updates = self
            .unacked
            .iter()
            .map(|p| UnacknowledgedUpdate {
                status: p.status.clone(),
            })
            .collect();
        let mut call = base_call(&self.config, ExecutorCallType::SUBSCRIBE);
        call.subscribe = Some(Subscribe {
            unacknowledged_tasks,
            unacknowledged_updates,
        });
        call
    }
}

fn base_call(config: &Config, kind: ExecutorCallType) -> Call {
    Call {
        executor_id: Some(config.executor_id.clone()),
        framework_id: Some(config.framework_id.clone()),
        kind,
        subscribe: None,
        update: None,
        message: None,
    }
}

fn update_call(config: &Config, status: TaskStatus) -> Call {
    let mut call = base_call(config, ExecutorCallType::UPDATE);
    call.update = Some(UpdateCall { status });
    call
}

fn grace_period(policy: Option<&KillPolicy>) -> Option<Duration> {
    let ns = policy?.grace_period?.nanoseconds;
    Some(Duration::from_nanos(ns.max(0) as u64))
}

/// How to run the task's `CommandInfo`: `/bin/sh -c <value>` for shell
/// commands, else `value` with `arguments` as the full argv.
pub fn command_spec(task: &TaskInfo, sandbox: &std::path::Path) -> Result<CommandSpec, String> {
    let command = task
        .command
        .as_ref()
        .ok_or_else(|| "Task has no CommandInfo".to_string())?;
    let value = command
        .value
        .clone()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| "Task command has no 'value'".to_string())?;
    let env = command
        .environment
        .iter()
        .flat_map(|e| e.variables.iter())
        .filter_map(|v| {
            v.value
                .as_ref()
                .map(|value| (v.name.clone(), value.clone()))
        })
        .collect();
    let (program, args, arg0) = if command.shell {
        ("/bin/sh".to_string(), vec!["-c".to_string(), value], None)
    } else {
        let args = command.arguments.iter().skip(1).cloned().collect();
        (value, args, command.arguments.first().cloned())
    };
    Ok(CommandSpec {
        program,
        args,
        arg0,
        env,
        cwd: sandbox.to_path_buf(),
    })
}

#[cfg(test)]
mod tests;

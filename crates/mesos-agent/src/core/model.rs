//! The agent's bookkeeping objects: frameworks, executors and tasks.

use mesos_types::task_state::is_terminal;
use mesos_types::{
    ContainerID, ExecutorID, ExecutorInfo, FrameworkID, FrameworkInfo, TaskID, TaskInfo, TaskState,
    TaskStatus,
};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

/// How many finished executors a framework keeps for the endpoints.
pub const MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK: usize = 150;
/// How many finished tasks an executor keeps.
pub const MAX_COMPLETED_TASKS_PER_EXECUTOR: usize = 200;
/// How many removed frameworks the agent keeps.
pub const MAX_COMPLETED_FRAMEWORKS: usize = 50;

/// A framework with executors on this agent.
#[derive(Debug, Clone)]
pub struct Framework {
    pub id: FrameworkID,
    pub info: FrameworkInfo,
    /// SHUTDOWN_FRAMEWORK arrived: no more updates are sent for it.
    pub terminating: bool,
    /// Live executors (launching, registering, running, terminating).
    pub executors: BTreeMap<ExecutorID, Executor>,
    /// Exited executors, newest last. They keep tasks whose terminal update
    /// is not acknowledged yet in `tasks`.
    pub completed_executors: VecDeque<Executor>,
}

impl Framework {
    pub fn new(id: FrameworkID, mut info: FrameworkInfo) -> Framework {
        info.id = Some(id.clone());
        Framework {
            id,
            info,
            terminating: false,
            executors: BTreeMap::new(),
            completed_executors: VecDeque::new(),
        }
    }

    /// The executor (live or exited) holding task `task_id` in `tasks`.
    pub fn executor_with_task_mut(&mut self, task_id: &TaskID) -> Option<&mut Executor> {
        let live = self.executors.values_mut();
        let done = self.completed_executors.iter_mut();
        live.chain(done).find(|e| e.tasks.contains_key(task_id))
    }

    /// Whether any executor (live or exited) knows task `task_id`.
    pub fn knows_task(&self, task_id: &TaskID) -> bool {
        self.executors
            .values()
            .chain(self.completed_executors.iter())
            .any(|e| e.knows_task(task_id))
    }

    /// True when nothing is left to run or report.
    pub fn is_idle(&self) -> bool {
        self.executors.is_empty() && self.completed_executors.iter().all(|e| e.tasks.is_empty())
    }

    pub fn push_completed(&mut self, executor: Executor) {
        self.completed_executors.push_back(executor);
        while self.completed_executors.len() > MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK {
            if let Some(pos) = self
                .completed_executors
                .iter()
                .position(|e| e.tasks.is_empty())
            {
                self.completed_executors.remove(pos);
            } else {
                break;
            }
        }
    }
}

/// Executor life cycle on the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorState {
    /// Sandbox, fetch and fork in progress.
    Launching,
    /// Forked; waiting for SUBSCRIBE.
    Registering,
    /// Subscribed.
    Running,
    /// Being shut down or destroyed; waiting for the process to exit.
    Terminating,
    /// The process exited.
    Terminated,
}

/// One executor run (one container).
#[derive(Debug, Clone)]
pub struct Executor {
    pub id: ExecutorID,
    pub framework_id: FrameworkID,
    pub info: ExecutorInfo,
    /// Synthesized for a command task (runs `mesos-executor`).
    pub command_executor: bool,
    pub container_id: ContainerID,
    pub directory: PathBuf,
    pub state: ExecutorState,
    pub pid: Option<u32>,
    /// Its process exists: forked (maybe not yet reported with its pid),
    /// or recovered. Only then may it subscribe.
    pub forked: bool,
    /// The subscription stream currently open, if any.
    pub connection: Option<u64>,
    /// Tasks waiting for the executor to subscribe.
    pub queued_tasks: Vec<TaskInfo>,
    /// Tasks handed to the executor (or failed by the agent) whose terminal
    /// update has not been acknowledged yet.
    pub tasks: BTreeMap<TaskID, Task>,
    pub completed_tasks: VecDeque<Task>,
}

impl Executor {
    pub fn knows_task(&self, task_id: &TaskID) -> bool {
        self.tasks.contains_key(task_id)
            || self.queued_tasks.iter().any(|t| &t.task_id == task_id)
            || self
                .completed_tasks
                .iter()
                .any(|t| &t.info.task_id == task_id)
    }

    /// Moves a queued task to `tasks` (it is being launched, or failed).
    pub fn dequeue(&mut self, task_id: &TaskID) -> Option<&mut Task> {
        let pos = self
            .queued_tasks
            .iter()
            .position(|t| &t.task_id == task_id)?;
        let info = self.queued_tasks.remove(pos);
        let task = Task::new(info, self.framework_id.clone(), self.id.clone());
        let id = task.info.task_id.clone();
        self.tasks.insert(id.clone(), task);
        self.tasks.get_mut(&id)
    }

    /// Tasks whose latest state is not terminal.
    pub fn live_task_ids(&self) -> Vec<TaskID> {
        self.tasks
            .values()
            .filter(|t| !is_terminal(t.state))
            .map(|t| t.info.task_id.clone())
            .collect()
    }

    pub fn complete_task(&mut self, task_id: &TaskID) {
        if let Some(task) = self.tasks.remove(task_id) {
            self.completed_tasks.push_back(task);
            while self.completed_tasks.len() > MAX_COMPLETED_TASKS_PER_EXECUTOR {
                self.completed_tasks.pop_front();
            }
        }
    }

    pub fn is_live(&self) -> bool {
        !matches!(
            self.state,
            ExecutorState::Terminating | ExecutorState::Terminated
        )
    }
}

/// A task handed to an executor.
#[derive(Debug, Clone)]
pub struct Task {
    pub info: TaskInfo,
    pub framework_id: FrameworkID,
    pub executor_id: ExecutorID,
    /// Latest state (updated when an update arrives, not when it is acknowledged).
    pub state: TaskState,
    pub statuses: Vec<TaskStatus>,
}

impl Task {
    pub fn new(info: TaskInfo, framework_id: FrameworkID, executor_id: ExecutorID) -> Task {
        Task {
            info,
            framework_id,
            executor_id,
            state: TaskState::TASK_STAGING,
            statuses: Vec::new(),
        }
    }
}

/// Monotonic counters for `/metrics/snapshot`. Terminal task counts are
/// counted as updates are taken, not from the task lists, so pruning
/// completed tasks (and frameworks) never lowers them, as in Mesos.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Tasks that reached each terminal state.
    pub tasks_ended: BTreeMap<TaskState, u64>,
    /// Status updates taken (new or duplicate).
    pub valid_status_updates: u64,
    /// Status updates refused (after the task's terminal update).
    pub invalid_status_updates: u64,
    /// Executors that exited (or were destroyed).
    pub executors_terminated: u64,
    /// Executors whose launch (sandbox, fetch, fork) failed.
    pub container_launch_errors: u64,
}

impl Counters {
    pub fn ended(&self, state: TaskState) -> u64 {
        self.tasks_ended.get(&state).copied().unwrap_or(0)
    }
}

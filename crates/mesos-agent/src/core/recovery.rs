//! Checkpointing decisions (which records to write, as [`Effect::Checkpoint`])
//! and rebuilding the state from a checkpoint read at start-up.

use super::*;
use crate::checkpoint::{self as ckpt, ExecutorRecord, UpdateRecord};

/// What `checkpoint::recover` read back.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    pub agent_id: Option<AgentID>,
    pub frameworks: Vec<RecoveredFramework>,
    /// The reservations and volumes last checkpointed.
    pub checkpointed_resources: Vec<mesos_types::Resource>,
}

#[derive(Debug, Clone)]
pub struct RecoveredFramework {
    pub info: FrameworkInfo,
    pub executors: Vec<RecoveredExecutor>,
}

#[derive(Debug, Clone)]
pub struct RecoveredExecutor {
    pub record: ExecutorRecord,
    pub pid: Option<u32>,
    /// When that process started (clock ticks since boot), if recorded.
    pub start_time: Option<u64>,
    /// The pid still names a live process, the one that was forked.
    pub alive: bool,
    pub tasks: Vec<RecoveredTask>,
}

#[derive(Debug, Clone)]
pub struct RecoveredTask {
    pub info: TaskInfo,
    /// Updates and acknowledgements in the order they were written.
    pub updates: Vec<UpdateRecord>,
}

/// Only an executor's own updates are guarded: the executor keeps one that
/// was not acknowledged and sends it again. An update the agent generated
/// has no one to re-send it, so it stays queued even if its write failed.
fn update_guard(fid: &FrameworkID, tid: &TaskID, record: &UpdateRecord) -> Option<UpdateGuard> {
    match record {
        UpdateRecord::Update(status) if status.source == Some(Source::SOURCE_EXECUTOR) => {
            Some(UpdateGuard {
                framework_id: fid.clone(),
                task_id: tid.clone(),
                uuid: status.uuid.clone()?,
            })
        }
        _ => None,
    }
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

impl Core {
    fn meta_run_dir(&self, fid: &FrameworkID, eid: &ExecutorID, cid: &ContainerID) -> PathBuf {
        let aid = self
            .info
            .id
            .as_ref()
            .map(|a| a.value.as_str())
            .unwrap_or("");
        ckpt::run_dir(
            &self.config.work_dir,
            aid,
            &fid.value,
            &eid.value,
            &cid.value,
        )
    }

    fn framework_checkpoints(&self, fid: &FrameworkID) -> bool {
        self.frameworks.get(fid).is_some_and(|f| f.info.checkpoint)
    }

    pub(super) fn cp_agent_id(&self, fx: &mut Vec<Effect>) {
        if let (true, Some(id)) = (self.config.checkpoint, &self.info.id) {
            fx.push(Effect::Checkpoint {
                path: ckpt::latest_agent(&self.config.work_dir),
                data: json(id),
                append: false,
                sync: true,
                guard: None,
            });
        }
    }

    /// framework.info + executor.info + the first task of a new executor.
    pub(super) fn cp_new_executor(&self, fid: &FrameworkID, ex: &Executor, fx: &mut Vec<Effect>) {
        if !self.config.checkpoint {
            return;
        }
        let Some(fw) = self.frameworks.get(fid) else {
            return;
        };
        let aid = self
            .info
            .id
            .as_ref()
            .map(|a| a.value.as_str())
            .unwrap_or("");
        let guard = CheckpointGuard::Launch {
            framework_id: fid.clone(),
            executor_id: ex.id.clone(),
            container_id: ex.container_id.clone(),
            task_id: None,
        };
        fx.push(Effect::Checkpoint {
            path: ckpt::framework_dir(&self.config.work_dir, aid, &fid.value)
                .join("framework.info"),
            data: json(&fw.info),
            append: false,
            sync: fw.info.checkpoint,
            guard: Some(guard.clone()),
        });
        let record = ExecutorRecord {
            info: ex.info.clone(),
            container_id: ex.container_id.clone(),
            directory: ex.directory.clone(),
            command_executor: ex.command_executor,
        };
        fx.push(Effect::Checkpoint {
            path: self
                .meta_run_dir(fid, &ex.id, &ex.container_id)
                .join("executor.info"),
            data: json(&record),
            append: false,
            sync: fw.info.checkpoint,
            guard: Some(guard),
        });
    }

    /// Nothing is left to run or report for the framework: its checkpoint goes.
    pub(super) fn cp_remove_framework(&self, fid: &FrameworkID, fx: &mut Vec<Effect>) {
        if let (true, Some(aid)) = (self.config.checkpoint, &self.info.id) {
            fx.push(Effect::RemoveCheckpoint {
                path: ckpt::framework_dir(&self.config.work_dir, &aid.value, &fid.value),
            });
        }
    }

    pub(super) fn cp_pid(
        &self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        cid: &ContainerID,
        forked: ckpt::ForkedPid,
        fx: &mut Vec<Effect>,
    ) {
        if self.config.checkpoint {
            fx.push(Effect::Checkpoint {
                path: self.meta_run_dir(fid, eid, cid).join("forked.pid"),
                data: json(&forked),
                append: false,
                sync: self.framework_checkpoints(fid),
                guard: Some(CheckpointGuard::Pid {
                    framework_id: fid.clone(),
                    executor_id: eid.clone(),
                    container_id: cid.clone(),
                    pid: forked.pid(),
                }),
            });
        }
    }

    pub(super) fn cp_task(
        &self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        cid: &ContainerID,
        task: &TaskInfo,
        fx: &mut Vec<Effect>,
    ) {
        if self.config.checkpoint {
            fx.push(Effect::Checkpoint {
                path: self
                    .meta_run_dir(fid, eid, cid)
                    .join("tasks")
                    .join(&task.task_id.value)
                    .join("task.info"),
                data: json(task),
                append: false,
                sync: self.framework_checkpoints(fid),
                guard: Some(CheckpointGuard::Launch {
                    framework_id: fid.clone(),
                    executor_id: eid.clone(),
                    container_id: cid.clone(),
                    task_id: Some(task.task_id.clone()),
                }),
            });
        }
    }

    /// Appends to `task.updates` of the executor run holding `tid`.
    pub(super) fn cp_update(
        &self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        cid: &ContainerID,
        tid: &TaskID,
        record: &UpdateRecord,
        fx: &mut Vec<Effect>,
    ) {
        if self.config.checkpoint {
            fx.push(Effect::Checkpoint {
                path: self
                    .meta_run_dir(fid, eid, cid)
                    .join("tasks")
                    .join(&tid.value)
                    .join("task.updates"),
                data: json(record),
                append: true,
                sync: self.framework_checkpoints(fid),
                guard: update_guard(fid, tid, record).map(CheckpointGuard::Update),
            });
        }
    }

    /// The (executor id, container id) of the executor run that holds `tid`.
    pub(super) fn run_of_task(
        &self,
        fid: &FrameworkID,
        tid: &TaskID,
    ) -> Option<(ExecutorID, ContainerID)> {
        let fw = self.frameworks.get(fid)?;
        fw.executors
            .values()
            .chain(fw.completed_executors.iter().rev())
            .find(|e| e.knows_task(tid))
            .map(|e| (e.id.clone(), e.container_id.clone()))
    }

    /// Recovered executors are still expected to re-subscribe.
    pub fn recovering(&self) -> bool {
        !self.reregistering.is_empty()
    }

    /// Rebuilds the state from a checkpoint (before registering). Live
    /// executors of checkpointing frameworks get
    /// `executor_reregistration_timeout` to re-subscribe; the others are
    /// destroyed and their unfinished tasks fail.
    pub fn recover(&mut self, state: Recovered, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        if state.agent_id.is_some() {
            self.info.id = state.agent_id;
        }
        self.checkpointed_resources = state.checkpointed_resources;
        for rf in state.frameworks {
            let Some(fid) = rf.info.id.clone() else {
                continue;
            };
            let checkpointing = rf.info.checkpoint;
            let mut fw = Framework::new(fid.clone(), rf.info);
            let mut to_fail: Vec<(ExecutorID, TaskID, Reason, String)> = Vec::new();
            let mut watch = Vec::new();
            for re in rf.executors {
                let r = re.record;
                let eid = r.info.executor_id.clone();
                let mut ex = Executor {
                    id: eid.clone(),
                    framework_id: fid.clone(),
                    info: r.info,
                    command_executor: r.command_executor,
                    container_id: r.container_id,
                    directory: r.directory,
                    state: ExecutorState::Registering,
                    pid: re.pid,
                    connection: None,
                    forked: true,
                    queued_tasks: Vec::new(),
                    tasks: BTreeMap::new(),
                    completed_tasks: VecDeque::new(),
                };
                for rt in re.tasks {
                    let tid = rt.info.task_id.clone();
                    let mut task = Task::new(rt.info, fid.clone(), eid.clone());
                    let mut done = false;
                    for u in rt.updates {
                        match u {
                            UpdateRecord::Update(s) => {
                                if let Pushed::Queued { .. } =
                                    self.updates.push(&fid, (*s).clone(), false, now)
                                {
                                    task.state = s.state;
                                    task.statuses.push(*s);
                                }
                            }
                            UpdateRecord::Ack(uuid) => {
                                if let Acked::Done { terminal: true, .. } =
                                    self.updates.acknowledge(&fid, &tid, &uuid, false, now)
                                {
                                    done = true;
                                }
                            }
                        }
                    }
                    ex.tasks.insert(tid.clone(), task);
                    if done {
                        ex.complete_task(&tid);
                    }
                }
                let live_tasks = ex.live_task_ids();
                let unreported = !ex.tasks.is_empty();
                if re.alive && checkpointing && ex.pid.is_some() {
                    info!(%fid, %eid, pid = ?ex.pid, "Recovered a running executor; waiting for it to re-subscribe");
                    watch.push((
                        eid.clone(),
                        ex.container_id.clone(),
                        ex.pid.unwrap_or(0),
                        re.start_time,
                    ));
                    self.reregistering.insert((fid.clone(), eid.clone()));
                    fx.push(Effect::Schedule {
                        after: self.config.executor_reregistration_timeout,
                        timer: Timer::ReregistrationTimeout {
                            framework_id: fid.clone(),
                            executor_id: eid.clone(),
                            container_id: ex.container_id.clone(),
                        },
                    });
                    fw.executors.insert(eid, ex);
                    continue;
                }
                if re.alive
                    && let Some(pid) = ex.pid
                {
                    info!(%fid, %eid, pid, "Killing an executor of a non-checkpointing framework left by the previous agent");
                    fx.push(Effect::Destroy { pid });
                }
                let (reason, message) = if checkpointing {
                    (
                        Reason::REASON_EXECUTOR_TERMINATED,
                        "Executor exited while the agent was down",
                    )
                } else {
                    (
                        Reason::REASON_AGENT_RESTARTED,
                        "The agent restarted and the framework does not checkpoint",
                    )
                };
                for tid in live_tasks {
                    to_fail.push((eid.clone(), tid, reason, message.to_string()));
                }
                ex.state = ExecutorState::Terminated;
                if unreported || re.alive {
                    fw.push_completed(ex);
                }
            }
            if fw.executors.is_empty() && fw.is_idle() {
                self.cp_remove_framework(&fid, &mut fx);
                continue;
            }
            self.frameworks.insert(fid.clone(), fw);
            for (eid, cid, pid, start_time) in watch {
                fx.push(Effect::Watch {
                    framework_id: fid.clone(),
                    executor_id: eid,
                    container_id: cid,
                    pid,
                    start_time,
                });
            }
            for (eid, tid, reason, message) in to_fail {
                self.agent_update(
                    &fid,
                    Some(&eid),
                    &tid,
                    TaskState::TASK_FAILED,
                    Some(reason),
                    message,
                    now,
                    &mut fx,
                );
            }
            self.maybe_remove_framework(&fid, &mut fx);
        }
        fx
    }

    /// A recovered executor re-subscribed: tasks the previous agent had
    /// accepted but never delivered (no update, not reported by the
    /// executor) are lost; a command executor left without a task is shut
    /// down.
    pub(super) fn after_resubscribe(
        &mut self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        reported: &[TaskID],
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let Some(fw) = self.frameworks.get(fid) else {
            return;
        };
        let partition_aware = fw.info.has_capability(FrameworkCapability::PARTITION_AWARE);
        let Some(ex) = fw.executors.get(eid) else {
            return;
        };
        let undelivered: Vec<TaskID> = ex
            .tasks
            .values()
            .filter(|t| t.state == TaskState::TASK_STAGING && t.statuses.is_empty())
            .map(|t| t.info.task_id.clone())
            .filter(|tid| !reported.contains(tid))
            .collect();
        let command_executor = ex.command_executor;
        for tid in undelivered {
            warn!(%fid, %eid, %tid, "Task was never delivered to its executor before the agent restarted");
            self.agent_update(
                fid,
                Some(eid),
                &tid,
                for_framework(TaskState::TASK_DROPPED, partition_aware),
                Some(Reason::REASON_AGENT_RESTARTED),
                "The agent restarted before the task reached its executor",
                now,
                fx,
            );
        }
        if command_executor
            && self
                .frameworks
                .get(fid)
                .and_then(|f| f.executors.get(eid))
                .is_some_and(|e| e.live_task_ids().is_empty())
        {
            self.shutdown_executor(fid, eid, fx);
        }
    }

    /// The re-registration window of a recovered executor ended.
    pub(super) fn reregistration_timeout(
        &mut self,
        fid: FrameworkID,
        eid: ExecutorID,
        cid: ContainerID,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        if !self.reregistering.remove(&(fid.clone(), eid.clone())) {
            return;
        }
        let timeout = mesos_flags::Duration(self.config.executor_reregistration_timeout);
        let Some(ex) = self
            .live_executor_mut(&fid, &eid)
            .filter(|e| e.container_id == cid && e.state == ExecutorState::Registering)
        else {
            return;
        };
        warn!(%fid, %eid, "Recovered executor did not re-subscribe within {timeout}; destroying it");
        ex.state = ExecutorState::Terminating;
        if let Some(pid) = ex.pid {
            fx.push(Effect::Destroy { pid });
        }
        let message = format!("Executor did not re-register within {timeout}");
        for tid in ex.live_task_ids() {
            self.agent_update(
                &fid,
                Some(&eid),
                &tid,
                TaskState::TASK_FAILED,
                Some(Reason::REASON_EXECUTOR_REREGISTRATION_TIMEOUT),
                message.clone(),
                now,
                fx,
            );
        }
    }
}

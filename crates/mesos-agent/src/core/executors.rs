//! The executor-facing half of the core: executor API calls (already parsed
//! and validated by the HTTP layer) and executor process life cycle.

use super::*;
use crate::error::ApiError;

impl Core {
    /// SUBSCRIBE from executor `eid` on stream `connection`: answers
    /// SUBSCRIBED, replays the executor's unacknowledged updates, then
    /// delivers queued tasks.
    pub fn subscribe(
        &mut self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        subscribe: exec::Subscribe,
        connection: u64,
        now: Instant,
    ) -> Result<Vec<Effect>, ApiError> {
        let agent_info = self.info.clone();
        let fw = self
            .frameworks
            .get_mut(fid)
            .ok_or_else(|| ApiError::bad_request("Framework cannot be found"))?;
        let framework_info = fw.info.clone();
        let terminating = fw.terminating;
        let ex = fw
            .executors
            .get_mut(eid)
            .ok_or_else(|| ApiError::bad_request("Executor cannot be found"))?;
        if terminating || !ex.is_live() {
            return Err(ApiError::forbidden("Executor is terminating"));
        }
        if !ex.forked {
            // Nothing was started yet: whoever this is, it is not the
            // executor, and taking it would cancel the real launch.
            return Err(ApiError::bad_request(
                "Executor has not been launched yet; it cannot subscribe",
            ));
        }
        info!(%fid, %eid, "Executor subscribed");
        let recovered = self.reregistering.remove(&(fid.clone(), eid.clone()));
        let reported: Vec<TaskID> = subscribe
            .unacknowledged_tasks
            .iter()
            .map(|t| t.task_id.clone())
            .collect();
        let mut fx = Vec::new();
        if let Some(old) = ex.connection.replace(connection) {
            fx.push(Effect::CloseStream { connection: old });
        }
        ex.state = ExecutorState::Running;
        let subscribed = exec::Subscribed {
            executor_info: ex.info.clone(),
            framework_info,
            agent_info,
            container_id: Some(ex.container_id.clone()),
        };
        fx.push(Effect::Executor {
            connection,
            event: exec_event(ExecutorEventType::SUBSCRIBED, |e| {
                e.subscribed = Some(subscribed)
            }),
        });
        for task in subscribe.unacknowledged_tasks {
            // Its id would name a checkpoint directory.
            if let Err(e) = crate::paths::validate_id("task id", &task.task_id.value) {
                warn!(%fid, %eid, "Ignoring an unacknowledged task: {e}");
                continue;
            }
            if !ex.knows_task(&task.task_id) {
                let id = task.task_id.clone();
                ex.tasks
                    .insert(id, Task::new(task, fid.clone(), eid.clone()));
            }
        }
        for task in std::mem::take(&mut ex.queued_tasks) {
            let launch = exec_event(ExecutorEventType::LAUNCH, |e| {
                e.launch = Some(exec::LaunchEvent { task: task.clone() })
            });
            ex.tasks.insert(
                task.task_id.clone(),
                Task::new(task, fid.clone(), eid.clone()),
            );
            fx.push(Effect::Executor {
                connection,
                event: launch,
            });
        }
        for update in subscribe.unacknowledged_updates {
            self.accept_update(fid, eid, connection, update.status, now, &mut fx);
        }
        if recovered {
            self.after_resubscribe(fid, eid, &reported, now, &mut fx);
        }
        Ok(fx)
    }

    /// UPDATE from a subscribed executor: queued for the master, then
    /// ACKNOWLEDGED on the executor's stream with the same uuid.
    pub fn executor_update(
        &mut self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        status: TaskStatus,
        now: Instant,
    ) -> Result<Vec<Effect>, ApiError> {
        let connection = self.subscribed_connection(fid, eid)?;
        let mut fx = Vec::new();
        self.accept_update(fid, eid, connection, status, now, &mut fx);
        Ok(fx)
    }

    /// MESSAGE from a subscribed executor: forwarded to the master.
    pub fn executor_message(
        &mut self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        data: String,
    ) -> Result<Vec<Effect>, ApiError> {
        self.subscribed_connection(fid, eid)?;
        match self.info.id.clone().filter(|_| self.connected) {
            Some(agent_id) => Ok(vec![Effect::Master(Box::new(AgentCall::Message {
                agent_id,
                framework_id: fid.clone(),
                executor_id: eid.clone(),
                data,
            }))]),
            None => {
                warn!(%fid, %eid, "Dropping executor message: not connected to a master");
                Ok(Vec::new())
            }
        }
    }

    /// HEARTBEAT: accepted from any known executor.
    pub fn executor_heartbeat(
        &mut self,
        fid: &FrameworkID,
        eid: &ExecutorID,
    ) -> Result<(), ApiError> {
        let fw = self
            .frameworks
            .get(fid)
            .ok_or_else(|| ApiError::bad_request("Framework cannot be found"))?;
        fw.executors
            .get(eid)
            .ok_or_else(|| ApiError::bad_request("Executor cannot be found"))?;
        Ok(())
    }

    /// The subscription stream `connection` of an executor ended.
    pub fn executor_disconnected(&mut self, fid: &FrameworkID, eid: &ExecutorID, connection: u64) {
        if let Some(ex) = self.live_executor_mut(fid, eid)
            && ex.connection == Some(connection)
        {
            info!(%fid, %eid, "Executor disconnected");
            ex.connection = None;
        }
    }

    /// The executor process of container `cid` was forked as `pid`.
    pub fn executor_launched(
        &mut self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        cid: &ContainerID,
        pid: u32,
        start_time: Option<u64>,
    ) -> Vec<Effect> {
        let Some(ex) = self
            .live_executor_mut(fid, eid)
            .filter(|e| &e.container_id == cid)
        else {
            return vec![Effect::Destroy { pid }];
        };
        ex.pid = Some(pid);
        ex.forked = true;
        let mut fx = Vec::new();
        match ex.state {
            ExecutorState::Terminating => {
                fx.push(Effect::Destroy { pid });
                return fx;
            }
            // The registration timer runs since the launch was accepted.
            ExecutorState::Launching => ex.state = ExecutorState::Registering,
            // A quick executor can subscribe before its launch is reported.
            _ => {}
        }
        // Checkpointed in every live state, the early subscriber's too:
        // without its pid a restarted agent takes the executor for dead.
        let forked = crate::checkpoint::ForkedPid::new(pid, start_time);
        let mut cp = Vec::new();
        self.cp_pid(fid, eid, cid, forked, &mut cp);
        // The pid is durable before the timer (or anything else) acts on it.
        cp.append(&mut fx);
        cp
    }

    /// The container of `cid` could not be started: its tasks fail with
    /// REASON_CONTAINER_LAUNCH_FAILED.
    pub fn launch_failed(
        &mut self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        cid: &ContainerID,
        error: &str,
        now: Instant,
    ) -> Vec<Effect> {
        warn!(%fid, %eid, "Failed to launch executor: {error}");
        self.counters.container_launch_errors += 1;
        let exit = ExitInfo {
            wait_status: 1 << 8,
            description: "failed to launch".into(),
        };
        let reason = Reason::REASON_CONTAINER_LAUNCH_FAILED;
        self.executor_gone(fid, eid, cid, &exit, reason, error, now)
    }

    /// The executor process of `cid` exited: remaining tasks fail with
    /// REASON_EXECUTOR_TERMINATED and the master learns about it.
    pub fn executor_exited(
        &mut self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        cid: &ContainerID,
        exit: &ExitInfo,
        now: Instant,
    ) -> Vec<Effect> {
        info!(%fid, %eid, "Executor {}", exit.description);
        let message = format!("Executor {}", exit.description);
        self.executor_gone(
            fid,
            eid,
            cid,
            exit,
            Reason::REASON_EXECUTOR_TERMINATED,
            &message,
            now,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn executor_gone(
        &mut self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        cid: &ContainerID,
        exit: &ExitInfo,
        reason: Reason,
        message: &str,
        now: Instant,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        let Some(fw) = self.frameworks.get_mut(fid) else {
            return fx;
        };
        if fw.executors.get(eid).is_none_or(|e| &e.container_id != cid) {
            return fx;
        }
        let Some(mut ex) = fw.executors.remove(eid) else {
            return fx;
        };
        self.reregistering.remove(&(fid.clone(), eid.clone()));
        self.counters.executors_terminated += 1;
        if let Some(connection) = ex.connection.take() {
            fx.push(Effect::CloseStream { connection });
        }
        ex.state = ExecutorState::Terminated;
        for tid in ex
            .queued_tasks
            .iter()
            .map(|t| t.task_id.clone())
            .collect::<Vec<_>>()
        {
            ex.dequeue(&tid);
        }
        let live = ex.live_task_ids();
        let custom = !ex.command_executor;
        // What the executor left behind (in other process groups, now
        // reparented) goes with it.
        fx.push(Effect::KillContainers {
            sandboxes: vec![ex.directory.clone()],
        });
        let terminating = fw.terminating;
        if terminating {
            for tid in ex.tasks.keys().cloned().collect::<Vec<_>>() {
                ex.complete_task(&tid);
            }
        }
        fw.push_completed(ex);
        if !terminating {
            for tid in live {
                self.agent_update(
                    fid,
                    Some(eid),
                    &tid,
                    TaskState::TASK_FAILED,
                    Some(reason),
                    message,
                    now,
                    &mut fx,
                );
            }
        }
        if let (true, Some(agent_id), true) = (custom, self.info.id.clone(), self.connected) {
            fx.push(Effect::Master(Box::new(AgentCall::ExecutorExited {
                agent_id,
                framework_id: fid.clone(),
                executor_id: eid.clone(),
                status: exit.wait_status,
            })));
        }
        self.maybe_remove_framework(fid, &mut fx);
        fx
    }

    /// A timer armed through [`Effect::Schedule`] fired.
    pub fn timer_fired(&mut self, timer: Timer, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        match timer {
            Timer::RegistrationTimeout {
                framework_id: fid,
                executor_id: eid,
                container_id: cid,
            } => {
                let timeout = mesos_flags::Duration(self.config.executor_registration_timeout);
                let Some(ex) = self
                    .live_executor_mut(&fid, &eid)
                    .filter(|e| e.container_id == cid)
                else {
                    return fx;
                };
                if !matches!(
                    ex.state,
                    ExecutorState::Launching | ExecutorState::Registering
                ) {
                    return fx;
                }
                warn!(%fid, %eid, "Executor did not register within {timeout}; destroying it");
                ex.state = ExecutorState::Terminating;
                if let Some(pid) = ex.pid {
                    fx.push(Effect::Destroy { pid });
                }
                let queued: Vec<TaskID> =
                    ex.queued_tasks.iter().map(|t| t.task_id.clone()).collect();
                for tid in &queued {
                    ex.dequeue(tid);
                }
                let message = format!("Executor did not register within {timeout}");
                let reason = Some(Reason::REASON_EXECUTOR_REGISTRATION_TIMEOUT);
                for tid in queued {
                    self.agent_update(
                        &fid,
                        Some(&eid),
                        &tid,
                        TaskState::TASK_FAILED,
                        reason,
                        message.clone(),
                        now,
                        &mut fx,
                    );
                }
            }
            Timer::ReregistrationTimeout {
                framework_id: fid,
                executor_id: eid,
                container_id: cid,
            } => self.reregistration_timeout(fid, eid, cid, now, &mut fx),
            Timer::ShutdownTimeout {
                framework_id: fid,
                executor_id: eid,
                container_id: cid,
            } => {
                if let Some(ex) = self
                    .live_executor_mut(&fid, &eid)
                    .filter(|e| e.container_id == cid)
                {
                    warn!(%fid, %eid, "Executor did not exit after SHUTDOWN; killing it");
                    if let Some(pid) = ex.pid {
                        fx.push(Effect::Destroy { pid });
                    }
                    fx.push(Effect::KillContainers {
                        sandboxes: vec![ex.directory.clone()],
                    });
                }
            }
        }
        fx
    }

    /// The checkpoint of an executor's update could not be written: the
    /// runtime dropped its acknowledgement and forward; forget it, so that
    /// the executor's re-send is taken as new.
    pub fn update_not_checkpointed(&mut self, guard: &UpdateGuard) {
        let UpdateGuard {
            framework_id: fid,
            task_id: tid,
            uuid,
        } = guard;
        warn!(%fid, %tid, uuid, "Status update could not be checkpointed; the executor will re-send it");
        if !self.updates.forget(fid, tid, uuid) {
            return;
        }
        let task = self
            .frameworks
            .get_mut(fid)
            .and_then(|f| f.executor_with_task_mut(tid))
            .and_then(|e| e.tasks.get_mut(tid));
        if let Some(task) = task {
            // Taken back: the executor's re-send is counted again.
            for s in task
                .statuses
                .iter()
                .filter(|s| s.uuid.as_deref() == Some(uuid))
            {
                let c = &mut self.counters;
                c.valid_status_updates = c.valid_status_updates.saturating_sub(1);
                if is_terminal(s.state)
                    && let Some(n) = c.tasks_ended.get_mut(&s.state)
                {
                    *n = n.saturating_sub(1);
                }
            }
            task.statuses.retain(|s| s.uuid.as_deref() != Some(uuid));
            task.state = task
                .statuses
                .last()
                .map_or(TaskState::TASK_STAGING, |s| s.state);
        }
    }

    /// A checkpoint write a launch depends on failed (`error` names the
    /// file): what it covers is not launched, or is destroyed if it already
    /// runs, since a restarted agent could not recover it. Its tasks fail;
    /// that update may not be checkpointed either, in which case it is
    /// still sent and only the failure logged.
    pub fn launch_not_checkpointed(
        &mut self,
        guard: &CheckpointGuard,
        error: &str,
        now: Instant,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        let (fid, eid, cid) = match guard {
            CheckpointGuard::Update(_) => return fx,
            CheckpointGuard::Launch {
                framework_id,
                executor_id,
                container_id,
                ..
            }
            | CheckpointGuard::Pid {
                framework_id,
                executor_id,
                container_id,
                ..
            } => (framework_id, executor_id, container_id),
        };
        let Some(ex) = self
            .live_executor_mut(fid, eid)
            .filter(|e| &e.container_id == cid)
        else {
            return fx;
        };
        warn!(%fid, %eid, "{error}");
        let message = format!("Agent failed to checkpoint: {error}");
        let reason = Reason::REASON_CONTAINER_LAUNCH_FAILED;
        if let CheckpointGuard::Launch {
            task_id: Some(tid), ..
        } = guard
        {
            // Not handed to the executor: the runtime drops its LAUNCH.
            let live = ex.dequeue(tid).is_some()
                || ex.tasks.get(tid).is_some_and(|t| !is_terminal(t.state));
            let unused = ex.queued_tasks.is_empty()
                && ex.live_task_ids().iter().all(|t| t == tid)
                && matches!(
                    ex.state,
                    ExecutorState::Launching | ExecutorState::Registering
                );
            if live {
                self.agent_update(
                    fid,
                    Some(eid),
                    tid,
                    TaskState::TASK_FAILED,
                    Some(reason),
                    message.clone(),
                    now,
                    &mut fx,
                );
            }
            if !unused {
                return fx;
            }
            // The executor was started for this task alone: it goes too.
        }
        let pid = match guard {
            CheckpointGuard::Pid { pid, .. } => Some(*pid),
            _ => self.live_executor_mut(fid, eid).and_then(|e| e.pid),
        };
        if let Some(pid) = pid {
            fx.push(Effect::Destroy { pid });
        }
        let exit = ExitInfo {
            wait_status: 1 << 8,
            description: "destroyed: its checkpoint could not be written".into(),
        };
        let (fid, eid, cid) = (fid.clone(), eid.clone(), cid.clone());
        fx.extend(self.executor_gone(&fid, &eid, &cid, &exit, reason, &message, now));
        fx
    }

    /// The runtime forked container `cid`'s executor (its pid follows in
    /// [`Core::executor_launched`]): it may subscribe from now on.
    pub fn fork_recorded(&mut self, fid: &FrameworkID, eid: &ExecutorID, cid: &ContainerID) {
        if let Some(ex) = self
            .live_executor_mut(fid, eid)
            .filter(|e| &e.container_id == cid)
        {
            ex.forked = true;
        }
    }

    /// Whether the container `cid` still waits for its `Effect::Launch`:
    /// it may have failed (a checkpoint, the registration timeout) or been
    /// killed since the effect was queued.
    pub fn wants_launch(&self, fid: &FrameworkID, eid: &ExecutorID, cid: &ContainerID) -> bool {
        self.frameworks
            .get(fid)
            .and_then(|f| f.executors.get(eid))
            .is_some_and(|e| &e.container_id == cid && e.state == ExecutorState::Launching)
    }

    /// The agent is stopping: close every stream and destroy every executor
    /// (`keep_checkpointed`: except those of checkpointing frameworks, which
    /// keep running for the next agent to recover).
    pub fn shutdown_all(&mut self, keep_checkpointed: bool) -> Vec<Effect> {
        let mut fx = Vec::new();
        for ex in self
            .frameworks
            .values_mut()
            .filter(|f| !(keep_checkpointed && f.info.checkpoint))
            .flat_map(|f| f.executors.values_mut())
        {
            ex.state = ExecutorState::Terminating;
            if let Some(connection) = ex.connection.take() {
                fx.push(Effect::CloseStream { connection });
            }
            if let Some(pid) = ex.pid {
                fx.push(Effect::Destroy { pid });
            }
        }
        fx
    }

    fn subscribed_connection(&self, fid: &FrameworkID, eid: &ExecutorID) -> Result<u64, ApiError> {
        let fw = self
            .frameworks
            .get(fid)
            .ok_or_else(|| ApiError::bad_request("Framework cannot be found"))?;
        let ex = fw
            .executors
            .get(eid)
            .ok_or_else(|| ApiError::bad_request("Executor cannot be found"))?;
        ex.connection
            .ok_or_else(|| ApiError::forbidden("Executor is not subscribed"))
    }

    fn accept_update(
        &mut self,
        fid: &FrameworkID,
        eid: &ExecutorID,
        connection: u64,
        status: TaskStatus,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let ack = exec::Acknowledged {
            task_id: status.task_id.clone(),
            uuid: status.uuid.clone().unwrap_or_default(),
        };
        self.record_update(fid, Some(eid), status, now, fx);
        fx.push(Effect::Executor {
            connection,
            event: exec_event(ExecutorEventType::ACKNOWLEDGED, |e| {
                e.acknowledged = Some(ack)
            }),
        });
    }

    /// KILL_CONTAINER (with SIGKILL): destroys the executor running in
    /// container `cid`, its whole process tree and whatever escaped it.
    /// Its exit is then handled as any executor's (live tasks fail with
    /// `REASON_EXECUTOR_TERMINATED`).
    pub fn kill_container(&mut self, cid: &ContainerID) -> Result<Vec<Effect>, ApiError> {
        let ex = self
            .frameworks
            .values_mut()
            .flat_map(|f| f.executors.values_mut())
            .find(|e| e.container_id.value == cid.value)
            .ok_or_else(|| {
                ApiError::not_found(format!("Container {} cannot be found", cid.value))
            })?;
        let Some(pid) = ex.pid else {
            // Nothing forked yet: there is no process to kill, and the
            // launch may still fork one.
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                format!("Container {} is still being launched", cid.value),
            ));
        };
        info!(framework = %ex.framework_id, executor = %ex.id, container = %cid.value, "Killing the container as the operator asked");
        ex.state = ExecutorState::Terminating;
        Ok(vec![
            Effect::Destroy { pid },
            Effect::KillContainers {
                sandboxes: vec![ex.directory.clone()],
            },
        ])
    }

    /// The pid of the live executor in container `cid`, for signals other
    /// than SIGKILL (sent to the container's init process, as in Mesos).
    pub fn container_pid(&self, cid: &ContainerID) -> Option<u32> {
        self.frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .find(|e| e.container_id.value == cid.value && e.is_live())
            .and_then(|e| e.pid)
    }
}

//! Launching tasks: choosing or synthesizing the executor, creating its
//! sandbox and launch spec, or queueing the task on an existing executor.

use super::*;

impl Core {
    pub(super) fn run_task(
        &mut self,
        framework_info: FrameworkInfo,
        task: TaskInfo,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let task_id = task.task_id.clone();
        let Some(fid) = framework_info.id.clone() else {
            warn!(%task_id, "Ignoring RUN_TASK without a framework id");
            return;
        };
        let Some(agent_id) = self.info.id.clone() else {
            warn!(%task_id, "Ignoring RUN_TASK received before registration");
            return;
        };
        let (executor_info, command_executor) = match self.executor_info_for(&fid, &task) {
            Ok(x) => x,
            Err(message) => {
                let reason = Some(Reason::REASON_TASK_INVALID);
                self.agent_update(
                    &fid,
                    None,
                    &task_id,
                    TaskState::TASK_ERROR,
                    reason,
                    message,
                    now,
                    fx,
                );
                return;
            }
        };
        let eid = executor_info.executor_id.clone();
        let fw = self
            .frameworks
            .entry(fid.clone())
            .or_insert_with(|| Framework::new(fid.clone(), framework_info.clone()));
        if fw.terminating {
            warn!(%fid, %task_id, "Ignoring RUN_TASK for a terminating framework");
            return;
        }
        fw.info = FrameworkInfo {
            id: Some(fid.clone()),
            ..framework_info
        };
        if fw.executors.values().any(|e| {
            e.tasks.contains_key(&task_id) || e.queued_tasks.iter().any(|t| t.task_id == task_id)
        }) {
            warn!(%fid, %task_id, "Ignoring RUN_TASK for a task that is already running");
            return;
        }
        let partition_aware = fw.info.has_capability(FrameworkCapability::PARTITION_AWARE);
        info!(%fid, %task_id, executor = %eid, "Running task");
        match fw.executors.get_mut(&eid) {
            None => {
                self.create_executor(&agent_id, &fid, executor_info, command_executor, task, fx)
            }
            Some(ex) if command_executor || ex.command_executor => {
                let msg = format!("Executor '{eid}' of a command task is still running");
                let reason = Some(Reason::REASON_CONTAINER_LAUNCH_FAILED);
                self.agent_update(
                    &fid,
                    None,
                    &task_id,
                    TaskState::TASK_FAILED,
                    reason,
                    msg,
                    now,
                    fx,
                );
            }
            Some(ex) => match (ex.state, ex.connection) {
                (ExecutorState::Running, Some(connection)) => {
                    let launch = exec_event(ExecutorEventType::LAUNCH, |e| {
                        e.launch = Some(exec::LaunchEvent { task: task.clone() })
                    });
                    let cid = ex.container_id.clone();
                    ex.tasks
                        .insert(task_id, Task::new(task.clone(), fid.clone(), eid.clone()));
                    self.cp_task(&fid, &eid, &cid, &task, fx);
                    fx.push(Effect::Executor {
                        connection,
                        event: launch,
                    });
                }
                (
                    ExecutorState::Launching | ExecutorState::Registering | ExecutorState::Running,
                    _,
                ) => {
                    let cid = ex.container_id.clone();
                    ex.queued_tasks.push(task.clone());
                    self.cp_task(&fid, &eid, &cid, &task, fx);
                }
                (ExecutorState::Terminating | ExecutorState::Terminated, _) => {
                    let state = for_framework(TaskState::TASK_DROPPED, partition_aware);
                    let reason = Some(Reason::REASON_EXECUTOR_TERMINATED);
                    self.agent_update(
                        &fid,
                        Some(&eid),
                        &task_id,
                        state,
                        reason,
                        "Executor is terminating",
                        now,
                        fx,
                    );
                }
            },
        }
    }

    /// The executor a task runs under: its own ExecutorInfo, or a synthesized
    /// command executor. Errors are TASK_ERROR messages.
    fn executor_info_for(
        &self,
        fid: &FrameworkID,
        task: &TaskInfo,
    ) -> Result<(ExecutorInfo, bool), String> {
        paths::validate_id("framework id", &fid.value).map_err(|e| e.to_string())?;
        // The task id names its checkpoint directory.
        paths::validate_id("task id", &task.task_id.value).map_err(|e| e.to_string())?;
        let (info, command) = match (&task.command, &task.executor) {
            (Some(_), None) => (command_executor_info(&self.config.launcher_dir, fid, task), true),
            (None, Some(e)) => {
                if e.command.is_none() {
                    return Err("ExecutorInfo has no CommandInfo: only CUSTOM executors are supported".into());
                }
                (ExecutorInfo { framework_id: Some(fid.clone()), ..e.clone() }, false)
            }
            _ => return Err("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present".into()),
        };
        paths::validate_id("executor id", &info.executor_id.value).map_err(|e| e.to_string())?;
        Ok((info, command))
    }

    fn create_executor(
        &mut self,
        agent_id: &AgentID,
        fid: &FrameworkID,
        info: ExecutorInfo,
        command_executor: bool,
        task: TaskInfo,
        fx: &mut Vec<Effect>,
    ) {
        let Some(fw) = self.frameworks.get_mut(fid) else {
            return;
        };
        let eid = info.executor_id.clone();
        let container_id = ContainerID {
            value: uuid::Uuid::new_v4().to_string(),
            parent: None,
        };
        let (aid, f, e, c) = (&agent_id.value, &fid.value, &eid.value, &container_id.value);
        let directory = paths::run_dir(&self.config.work_dir, aid, f, e, c);
        let command = info.command.clone().unwrap_or_default();
        let uris = if command_executor {
            task.command
                .as_ref()
                .map(|c| c.uris.clone())
                .unwrap_or_default()
        } else {
            command.uris.clone()
        };
        let mut env = self.config.executor_environment.clone().unwrap_or_default();
        env.extend(launcher::executor_env(&EnvParams {
            framework_id: f,
            executor_id: e,
            agent_id: aid,
            directory: &directory,
            agent_endpoint: &self.config.endpoint(),
            checkpoint: fw.info.checkpoint,
            http_command_executor: command_executor,
            shutdown_grace_period: shutdown_grace(&info, &self.config),
            recovery_timeout: self.config.recovery_timeout,
            subscription_backoff_max: self.config.executor_reregistration_timeout,
        }));
        env.extend(launcher::command_env(&command));
        let spec = LaunchSpec {
            framework_id: fid.clone(),
            executor_id: eid.clone(),
            container_id: container_id.clone(),
            directory: directory.clone(),
            latest: paths::latest_link(&self.config.work_dir, aid, f, e),
            command,
            env,
            inherit_env: self.config.executor_environment.is_none(),
            uris,
            fetch_limits: self.config.fetch_limits,
            volumes: volume_links(&self.config.work_dir, &task, &info),
        };
        let executor = Executor {
            id: eid.clone(),
            framework_id: fid.clone(),
            info,
            command_executor,
            container_id: container_id.clone(),
            directory,
            state: ExecutorState::Launching,
            pid: None,
            connection: None,
            forked: false,
            queued_tasks: vec![task.clone()],
            tasks: BTreeMap::new(),
            completed_tasks: VecDeque::new(),
        };
        fw.executors.insert(eid.clone(), executor);
        if let Some(ex) = self.frameworks.get(fid).and_then(|f| f.executors.get(&eid)) {
            self.cp_new_executor(fid, ex, fx);
            self.cp_task(fid, &eid, &ex.container_id, &task, fx);
        }
        fx.push(Effect::Launch(Box::new(spec)));
        // Armed now, not at the fork: the sandbox and the fetch count
        // against it, so a stalled fetch cannot keep the task in STAGING.
        fx.push(Effect::Schedule {
            after: self.config.executor_registration_timeout,
            timer: Timer::RegistrationTimeout {
                framework_id: fid.clone(),
                executor_id: eid,
                container_id,
            },
        });
    }
}

/// `ExecutorInfo.shutdown_grace_period`, else `--executor_shutdown_grace_period`.
pub(super) fn shutdown_grace(info: &ExecutorInfo, config: &CoreConfig) -> Duration {
    match info.shutdown_grace_period {
        Some(d) if d.nanoseconds > 0 => Duration::from_nanos(d.nanoseconds as u64),
        _ => config.executor_shutdown_grace_period,
    }
}

/// Shortens a command for the executor name: more than 15 characters become
/// the first 12 followed by `...`.
fn abbreviate(s: &str) -> String {
    if s.chars().count() > 15 {
        format!("{}...", s.chars().take(12).collect::<String>())
    } else {
        s.to_string()
    }
}

/// The ExecutorInfo of the command executor that runs `task`.
pub fn command_executor_info(
    launcher_dir: &Path,
    fid: &FrameworkID,
    task: &TaskInfo,
) -> ExecutorInfo {
    let tc = task.command.clone().unwrap_or_default();
    let value = tc.value.clone().unwrap_or_default();
    let shown = if tc.shell {
        format!("sh -c '{}'", abbreviate(&value))
    } else {
        let mut parts = vec![value];
        parts.extend(tc.arguments.iter().cloned());
        format!("[{}]", abbreviate(&parts.join(", ")))
    };
    let program = launcher_dir.join("mesos-executor");
    ExecutorInfo {
        executor_id: ExecutorID::new(task.task_id.value.clone()),
        framework_id: Some(fid.clone()),
        command: Some(CommandInfo {
            shell: false,
            value: Some(program.display().to_string()),
            arguments: vec![
                "mesos-executor".into(),
                format!("--launcher_dir={}", launcher_dir.display()),
            ],
            ..Default::default()
        }),
        resources: task.resources.clone(),
        name: Some(format!(
            "Command Executor (Task: {}) (Command: {shown})",
            task.task_id
        )),
        source: Some(task.task_id.value.clone()),
        container: task.container.clone(),
        ..Default::default()
    }
}

/// The persistent volumes a task (and its executor) use: each volume's
/// directory and where it appears in the sandbox, once each.
fn volume_links(work_dir: &Path, task: &TaskInfo, info: &ExecutorInfo) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = task
        .resources
        .iter()
        .chain(info.resources.iter())
        .filter_map(|r| {
            let id = mesos_types::conversions::persistence_id(r)?;
            let path = mesos_types::conversions::container_path(r)?;
            let role = r.clone().normalized();
            let dir = paths::volume_dir(work_dir, role.reservation_role(), id).ok()?;
            Some((dir, path.to_string()))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

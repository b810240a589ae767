//! ACCEPT: offer validation, task validation and launch.
//!
//! Validation failures never fail the call: as in Mesos, bad offers turn the
//! tasks into TASK_LOST/TASK_DROPPED (`REASON_INVALID_OFFERS`) and bad tasks
//! into TASK_ERROR (`REASON_TASK_INVALID`), each with a message.

use super::{Master, TaskEntry};
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::scheduler::{Accept, Event};
use mesos_types::task_state::is_terminal;
use mesos_types::*;
use std::collections::HashSet;

impl Master {
    pub fn accept(&mut self, fid: &FrameworkID, accept: Accept, now: f64) {
        let refuse = accept
            .filters
            .unwrap_or_default()
            .refuse_seconds
            .clamp(0.0, MAX_REFUSE_SECONDS);
        let invalid = self.validate_offers(fid, &accept.offer_ids);

        // Take the valid offers of this framework off the book either way.
        let mut taken: Vec<(AgentID, String, Resources)> = Vec::new();
        for oid in &accept.offer_ids {
            if self.offers.get(oid).is_some_and(|o| &o.framework_id == fid) {
                let o = self.remove_offer(oid).expect("present");
                taken.push((o.agent_id, o.role, o.resources));
            }
        }

        if let Some(reason) = invalid {
            let pa = self
                .frameworks
                .get(fid)
                .is_some_and(|f| f.partition_aware());
            let state = if pa {
                TaskState::TASK_DROPPED
            } else {
                TaskState::TASK_LOST
            };
            for op in &accept.operations {
                for t in launched_tasks(op) {
                    self.counters.tasks_ended.count(state);
                    self.master_update(
                        fid,
                        t.task_id.clone(),
                        Some(t.agent_id.clone()),
                        state,
                        Reason::REASON_INVALID_OFFERS,
                        format!("Task launched with invalid offers: {reason}"),
                        now,
                    );
                }
            }
            // Each offer goes back under its own role and agent: they may
            // be what made the offers invalid.
            for (aid, role, res) in &taken {
                self.allocator.hand_back(fid, aid, role, res, None, now);
            }
            return;
        }
        // Validated: at least one offer, all of one agent and one role.
        let (agent, role) = match taken.first() {
            Some((a, r, _)) => (a.clone(), r.clone()),
            None => return,
        };
        let mut remaining = Resources::new();
        for (_, _, res) in &taken {
            remaining.add(res);
        }

        for op in accept.operations {
            match op.kind {
                Some(OperationType::LAUNCH) => {
                    for task in op.launch.map(|l| l.task_infos).unwrap_or_default() {
                        match self.validate_task(fid, &agent, &role, &task, &remaining, false) {
                            Ok((task_res, exec_res)) => {
                                remaining.subtract(&task_res);
                                remaining.subtract(&exec_res);
                                self.launch_task(fid, &agent, &role, task, task_res, exec_res, now);
                            }
                            Err(msg) => {
                                self.counters.tasks_ended.count(TaskState::TASK_ERROR);
                                self.master_update(
                                    fid,
                                    task.task_id.clone(),
                                    Some(agent.clone()),
                                    TaskState::TASK_ERROR,
                                    Reason::REASON_TASK_INVALID,
                                    msg,
                                    now,
                                )
                            }
                        }
                    }
                }
                Some(OperationType::LAUNCH_GROUP) => {
                    let Some(group) = op.launch_group else {
                        continue;
                    };
                    match self.validate_group(fid, &agent, &role, &group, &remaining) {
                        Ok((all, exec_res)) => {
                            remaining.subtract(&all);
                            remaining.subtract(&exec_res);
                            self.launch_group(fid, &agent, &role, group, exec_res, now);
                        }
                        Err(msg) => {
                            for t in &group.task_group.tasks {
                                self.counters.tasks_ended.count(TaskState::TASK_ERROR);
                                self.master_update(
                                    fid,
                                    t.task_id.clone(),
                                    Some(agent.clone()),
                                    TaskState::TASK_ERROR,
                                    Reason::REASON_TASK_GROUP_INVALID,
                                    msg.clone(),
                                    now,
                                );
                            }
                        }
                    }
                }
                Some(
                    kind @ (OperationType::RESERVE
                    | OperationType::UNRESERVE
                    | OperationType::CREATE
                    | OperationType::DESTROY),
                ) => {
                    use super::reservations::ConversionKind as K;
                    let mut source = Vec::new();
                    let (ck, list) = match kind {
                        OperationType::RESERVE => {
                            let r = op.reserve.unwrap_or_default();
                            source = r.source;
                            (K::Reserve, r.resources)
                        }
                        OperationType::UNRESERVE => (
                            K::Unreserve,
                            op.unreserve.map(|r| r.resources).unwrap_or_default(),
                        ),
                        OperationType::CREATE => {
                            (K::Create, op.create.map(|c| c.volumes).unwrap_or_default())
                        }
                        _ => (
                            K::Destroy,
                            op.destroy.map(|d| d.volumes).unwrap_or_default(),
                        ),
                    };
                    // As Mesos: an invalid operation is dropped (the
                    // framework sees its effect missing from the next
                    // offer); the rest of the ACCEPT goes on.
                    let lists = (source.as_slice(), list.as_slice());
                    let result =
                        self.offer_conversion(fid, &agent, &role, ck, lists, &mut remaining);
                    if let Err(e) = &result {
                        tracing::warn!(framework = %fid, agent = %agent, operation = ?kind, "dropping an invalid offer operation: {e}");
                    }
                    // An operation with an id is answered, as Mesos does:
                    // FINISHED once booked, ERROR with the reason if not.
                    if let Some(id) = op.id {
                        let (state, message) = match result {
                            Ok(()) => (OperationState::OPERATION_FINISHED, None),
                            Err(e) => (OperationState::OPERATION_ERROR, Some(e)),
                        };
                        let status = mesos_types::scheduler::OperationStatus {
                            operation_id: Some(id),
                            state,
                            message,
                            converted_resources: Vec::new(),
                            agent_id: Some(agent.clone()),
                        };
                        self.send_to_framework(fid, Event::update_operation_status(status));
                    }
                }
                other => {
                    tracing::warn!(framework = %fid, operation = ?other, "offer operation not supported; ignored");
                }
            }
        }
        self.allocator
            .hand_back(fid, &agent, &role, &remaining, Some(refuse), now);
    }

    /// `None` if every offer id is valid for `fid` and all share one agent
    /// and one allocation role (Mesos's order and messages).
    fn validate_offers(&self, fid: &FrameworkID, ids: &[OfferID]) -> Option<String> {
        if ids.is_empty() {
            return Some("No offers specified".into());
        }
        let mut seen = HashSet::new();
        let mut agent = None;
        let mut role: Option<&str> = None;
        for oid in ids {
            if !seen.insert(oid) {
                return Some(format!("Offer {oid} appears more than once"));
            }
            let Some(o) = self.offers.get(oid) else {
                return Some(format!("Offer {oid} is no longer valid"));
            };
            if &o.framework_id != fid {
                return Some(format!(
                    "Offer {oid} has invalid framework {} while framework {fid} is expected",
                    o.framework_id
                ));
            }
            let first = *role.get_or_insert(&o.role);
            if first != o.role {
                return Some(format!(
                    "Aggregated offers must be allocated to the same role. Offer {oid} uses role '{}' but another is using role '{first}'",
                    o.role
                ));
            }
            if agent.get_or_insert(&o.agent_id) != &&o.agent_id {
                return Some("Aggregated offers must belong to one single agent".into());
            }
        }
        None
    }

    /// Checks one task against the framework's live tasks and what is left of
    /// the offers; returns (task resources, new executor resources).
    fn validate_task(
        &self,
        fid: &FrameworkID,
        agent: &AgentID,
        role: &str,
        t: &TaskInfo,
        remaining: &Resources,
        in_group: bool,
    ) -> Result<(Resources, Resources), String> {
        let fw = self
            .frameworks
            .get(fid)
            .ok_or("Framework cannot be found")?;
        // Ids name directories in the agent's work dir: '..' or '/' would
        // escape the sandbox.
        validate_id(&t.task_id.value)?;
        if fw
            .tasks
            .get(&t.task_id)
            .is_some_and(|x| !is_terminal(x.state))
        {
            return Err(format!("Task has duplicate ID: {}", t.task_id));
        }
        if &t.agent_id != agent {
            return Err(format!(
                "Task uses agent {} which differs from the offer's agent {agent}",
                t.agent_id
            ));
        }
        if in_group {
            if t.executor.is_some() {
                return Err("'TaskInfo.executor' must not be set for tasks in a task group".into());
            }
        } else if t.command.is_some() == t.executor.is_some() {
            return Err("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present".into());
        }
        if let Some(g) = t.kill_policy.as_ref().and_then(|k| k.grace_period)
            && g.nanoseconds < 0
        {
            return Err("Task's 'kill_policy.grace_period' must be non-negative".into());
        }
        if t.max_completion_time.is_some_and(|d| d.nanoseconds < 0) {
            return Err("Task's 'max_completion_time' must be non-negative".into());
        }
        // The agent runs the command as this account: a NUL can name none.
        let users = [
            t.command.as_ref(),
            t.executor.as_ref().and_then(|e| e.command.as_ref()),
        ];
        if users
            .iter()
            .flatten()
            .filter_map(|c| c.user.as_deref())
            .any(|u| u.contains('\0'))
        {
            return Err("'CommandInfo.user' must not contain NUL characters".into());
        }
        let task_res = self
            .tagged(&t.resources, role)
            .map_err(|e| format!("Task uses invalid resources: {e}"))?;
        if task_res.is_empty() {
            return Err("Task uses no resources".into());
        }
        let mut exec_res = Resources::new();
        if let Some(e) = &t.executor {
            validate_id(&e.executor_id.value)?;
            if e.command.is_none() {
                return Err("ExecutorInfo of a custom executor must have a CommandInfo".into());
            }
            let known = fw
                .executors
                .get(agent)
                .is_some_and(|m| m.contains_key(&e.executor_id));
            if !known {
                exec_res = self
                    .tagged(&e.resources, role)
                    .map_err(|e| format!("Executor uses invalid resources: {e}"))?;
            }
        }
        let need = task_res.plus(&exec_res);
        if !remaining.contains(&need) {
            return Err(format!(
                "Task uses more resources {} than available {}",
                serde_json::Value::Object(need.to_map()),
                serde_json::Value::Object(remaining.to_map())
            ));
        }
        Ok((task_res, exec_res))
    }

    fn validate_group(
        &self,
        fid: &FrameworkID,
        agent: &AgentID,
        role: &str,
        g: &mesos_types::LaunchGroup,
        remaining: &Resources,
    ) -> Result<(Resources, Resources), String> {
        if g.task_group.tasks.is_empty() {
            return Err("Task group is empty".into());
        }
        validate_id(&g.executor.executor_id.value)?;
        if g.executor.kind != Some(ExecutorType::DEFAULT) {
            return Err("Task group executor must be of type DEFAULT".into());
        }
        if g.executor.command.is_some() {
            return Err("DEFAULT executor must not have a CommandInfo".into());
        }
        let known = self
            .frameworks
            .get(fid)
            .and_then(|f| f.executors.get(agent))
            .is_some_and(|m| m.contains_key(&g.executor.executor_id));
        let exec_res = if known {
            Resources::new()
        } else {
            self.tagged(&g.executor.resources, role)
                .map_err(|e| format!("Executor uses invalid resources: {e}"))?
        };
        let mut left = remaining.minus(&exec_res);
        if !remaining.contains(&exec_res) {
            return Err("Executor uses more resources than available".into());
        }
        let mut all = Resources::new();
        let mut ids = HashSet::new();
        for t in &g.task_group.tasks {
            if !ids.insert(&t.task_id) {
                return Err(format!("Duplicate task {} in task group", t.task_id));
            }
            let (r, _) = self.validate_task(fid, agent, role, t, &left, true)?;
            left.subtract(&r);
            all.add(&r);
        }
        Ok((all, exec_res))
    }

    /// Validates wire resources and tags them with the offer's role.
    fn tagged(&self, list: &[Resource], role: &str) -> Result<Resources, String> {
        for r in list {
            r.validate().map_err(|e| e.to_string())?;
            if let Some(other) = r.allocation_info.as_ref().and_then(|a| a.role.as_deref())
                && other != role
            {
                return Err(format!(
                    "resource '{}' is allocated to role '{other}', not the offer's role '{role}'",
                    r.name
                ));
            }
        }
        Ok(Resources::from_wire(list.iter().cloned()).allocated_to(role))
    }

    #[allow(clippy::too_many_arguments)]
    fn launch_task(
        &mut self,
        fid: &FrameworkID,
        agent: &AgentID,
        role: &str,
        mut task: TaskInfo,
        res: Resources,
        exec_res: Resources,
        now: f64,
    ) {
        let Some(fw) = self.frameworks.get_mut(fid) else {
            return;
        };
        task.resources = res.clone().into_vec();
        if let Some(e) = task.executor.as_mut() {
            e.framework_id = Some(fid.clone());
            if !exec_res.is_empty()
                || !fw
                    .executors
                    .get(agent)
                    .is_some_and(|m| m.contains_key(&e.executor_id))
            {
                fw.executors.entry(agent.clone()).or_default().insert(
                    e.executor_id.clone(),
                    (e.clone(), exec_res, role.to_string()),
                );
            }
        }
        let framework_info = fw.info.clone();
        let user = task
            .command
            .as_ref()
            .and_then(|c| c.user.clone())
            .or_else(|| Some(framework_info.user.clone()));
        fw.tasks.insert(
            task.task_id.clone(),
            TaskEntry::new(
                task.clone(),
                fid.clone(),
                agent.clone(),
                TaskState::TASK_STAGING,
                role.to_string(),
                res,
                user,
            ),
        );
        self.operator_task_added(fid, &task.task_id);
        if let Some(a) = self.agents.get_mut(agent) {
            a.tasks.insert((fid.clone(), task.task_id.clone()));
        }
        self.counters.launched_tasks += 1;
        let tid = task.task_id.clone();
        if !self.send_to_agent(
            agent,
            AgentEvent::RunTask {
                framework_info,
                task,
            },
        ) {
            let pa = self
                .frameworks
                .get(fid)
                .is_some_and(|f| f.partition_aware());
            self.task_failed_by_master(
                fid,
                &tid,
                if pa {
                    TaskState::TASK_DROPPED
                } else {
                    TaskState::TASK_LOST
                },
                Reason::REASON_AGENT_DISCONNECTED,
                "Agent is not connected".into(),
                now,
            );
        }
    }

    fn launch_group(
        &mut self,
        fid: &FrameworkID,
        agent: &AgentID,
        role: &str,
        mut g: mesos_types::LaunchGroup,
        exec_res: Resources,
        now: f64,
    ) {
        let Some(fw) = self.frameworks.get_mut(fid) else {
            return;
        };
        g.executor.framework_id = Some(fid.clone());
        fw.executors
            .entry(agent.clone())
            .or_default()
            .entry(g.executor.executor_id.clone())
            .or_insert((g.executor.clone(), exec_res, role.to_string()));
        let framework_info = fw.info.clone();
        for t in g.task_group.tasks.iter_mut() {
            let res = Resources::from_wire(t.resources.clone()).allocated_to(role);
            t.resources = res.clone().into_vec();
            fw.tasks.insert(
                t.task_id.clone(),
                TaskEntry::new(
                    t.clone(),
                    fid.clone(),
                    agent.clone(),
                    TaskState::TASK_STAGING,
                    role.to_string(),
                    res,
                    Some(framework_info.user.clone()),
                ),
            );
        }
        let ids: Vec<TaskID> = g
            .task_group
            .tasks
            .iter()
            .map(|t| t.task_id.clone())
            .collect();
        if let Some(a) = self.agents.get_mut(agent) {
            for id in &ids {
                a.tasks.insert((fid.clone(), id.clone()));
            }
        }
        for id in &ids {
            self.operator_task_added(fid, id);
        }
        self.counters.launched_tasks += ids.len() as u64;
        if !self.send_to_agent(
            agent,
            AgentEvent::RunTaskGroup {
                framework_info,
                executor: g.executor,
                task_group: g.task_group,
            },
        ) {
            for tid in ids {
                self.task_failed_by_master(
                    fid,
                    &tid,
                    TaskState::TASK_LOST,
                    Reason::REASON_AGENT_DISCONNECTED,
                    "Agent is not connected".into(),
                    now,
                );
            }
        }
    }

    /// Sends a master-generated update (no uuid, needs no ack).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn master_update(
        &self,
        fid: &FrameworkID,
        task_id: TaskID,
        agent_id: Option<AgentID>,
        state: TaskState,
        reason: Reason,
        message: String,
        now: f64,
    ) {
        let pa = self
            .frameworks
            .get(fid)
            .is_some_and(|f| f.partition_aware());
        let s = super::master_status(
            task_id,
            mesos_types::task_state::for_framework(state, pa),
            reason,
            message,
            agent_id,
            now,
        );
        self.send_to_framework(fid, Event::update(s));
    }
}

fn launched_tasks(op: &Operation) -> Vec<&TaskInfo> {
    let mut v: Vec<&TaskInfo> = Vec::new();
    if let Some(l) = &op.launch {
        v.extend(l.task_infos.iter());
    }
    if let Some(g) = &op.launch_group {
        v.extend(g.task_group.tasks.iter());
    }
    v
}

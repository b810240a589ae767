//! Status updates and the calls around tasks: agent UPDATE, ACKNOWLEDGE,
//! KILL, RECONCILE, MESSAGE, SHUTDOWN and executor exits.

use super::Master;
use crate::error::ApiError;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::scheduler::{Event, Failure, Message, ReconcileTask};
use mesos_types::task_state::{for_framework, is_terminal};
use mesos_types::*;

impl Master {
    /// An update forwarded by an agent. Reliable ones (with uuid) are
    /// forwarded to the scheduler every time they arrive (the agent retries
    /// until acknowledged, so duplicates are expected); state changes once.
    pub fn agent_update(
        &mut self,
        aid: &AgentID,
        fid: &FrameworkID,
        mut status: TaskStatus,
        now: f64,
    ) -> Result<(), ApiError> {
        if status.state == TaskState::TASK_STAGING {
            self.counters.invalid_status_updates += 1;
            return Err(ApiError::BadRequest(
                "TASK_STAGING is not a valid status update".into(),
            ));
        }
        if status
            .uuid
            .as_deref()
            .is_some_and(|u| !super::is_valid_uuid_b64(u))
        {
            self.counters.invalid_status_updates += 1;
            return Err(ApiError::BadRequest(
                "'status.uuid' must be 16 bytes".into(),
            ));
        }
        status.agent_id = Some(aid.clone());
        // A missing or non-finite time ("Infinity" is valid JSON input for
        // a double) is the master's receipt time: JSON cannot render it.
        if !status.timestamp.is_some_and(f64::is_finite) {
            status.timestamp = Some(now);
        }
        let Some(fw) = self.frameworks.get_mut(fid) else {
            tracing::warn!(framework = %fid, task = %status.task_id, "update for unknown framework dropped");
            self.counters.invalid_status_updates += 1;
            return Ok(());
        };
        let pa = fw.partition_aware();
        // An agent speaks only for its own tasks.
        let elsewhere = fw
            .tasks
            .get(&status.task_id)
            .or_else(|| {
                fw.completed_tasks
                    .iter()
                    .find(|t| t.info.task_id == status.task_id)
            })
            .map(|t| &t.agent_id)
            .filter(|owner| *owner != aid)
            .cloned();
        if let Some(owner) = elsewhere {
            self.counters.invalid_status_updates += 1;
            return Err(ApiError::BadRequest(format!(
                "Task {} of framework {fid} runs on agent {owner}, not on agent {aid}",
                status.task_id
            )));
        }
        // The framework was already told this task ended (the master
        // decided it, e.g. TASK_LOST while the agent was unreachable): a
        // later live state or a different terminal state would contradict
        // that, so the master acknowledges the update to the agent itself
        // and keeps it. (A repeat of the same terminal state is forwarded:
        // duplicates are expected and harmless.)
        if !fw.tasks.contains_key(&status.task_id)
            && let Some(done) = fw
                .completed_tasks
                .iter()
                .find(|t| t.info.task_id == status.task_id)
            && (!is_terminal(status.state)
                || for_framework(done.state, pa) != for_framework(status.state, pa))
        {
            tracing::warn!(task = %status.task_id, reported = %status.state, known = %done.state, "absorbing a late update that contradicts the terminal state already sent");
            if let Some(uuid) = status.uuid.clone() {
                self.send_to_agent(
                    aid,
                    AgentEvent::Acknowledge {
                        framework_id: fid.clone(),
                        task_id: status.task_id.clone(),
                        uuid,
                    },
                );
            }
            return Ok(());
        }
        let mut release = None;
        let mut booked = None;
        if let Some(t) = fw.tasks.get_mut(&status.task_id) {
            let duplicate =
                status.uuid.is_some() && t.statuses.iter().any(|s| s.uuid == status.uuid);
            if !duplicate {
                let before = t.state;
                if !is_terminal(t.state) {
                    t.set_state(status.state, &mut self.counters.tasks_ended);
                }
                t.status_update_state = Some(status.state);
                t.status_update_uuid = status.uuid.clone();
                t.statuses.push(status.clone());
                t.changed();
                // Operators hear of transitions, as in Mesos.
                if t.state != before {
                    booked = Some(t.state);
                }
                if is_terminal(status.state) && !t.resources_released {
                    t.resources_released = true;
                    release = Some((t.agent_id.clone(), t.role.clone(), t.resources.clone()));
                }
            }
        }
        if let Some(state) = booked {
            self.operator_task_updated(fid, &status, state);
        }
        let no_ack_needed = status.uuid.is_none() && is_terminal(status.state);
        self.counters.valid_status_updates += 1;
        if let Some((agent, role, res)) = release {
            self.allocator.recover(fid, &agent, &role, &res, None, now);
            self.allocation_wanted = true;
            self.check_drained(&agent, now);
        }
        if no_ack_needed {
            self.complete_task(fid, &status.task_id);
        }
        let mut out = status;
        out.state = for_framework(out.state, pa);
        self.send_to_framework(fid, Event::update(out));
        Ok(())
    }

    /// Moves a task to the framework's completed list.
    pub(crate) fn complete_task(&mut self, fid: &FrameworkID, tid: &TaskID) {
        let max = self.config.max_completed_tasks_per_framework;
        let Some(fw) = self.frameworks.get_mut(fid) else {
            return;
        };
        if let Some(t) = fw.tasks.remove(tid) {
            if let Some(a) = self.agents.get_mut(&t.agent_id) {
                a.tasks.remove(&(fid.clone(), tid.clone()));
            }
            fw.push_completed(t, max);
        }
    }

    /// A task ends without reaching its agent (master-generated, no uuid).
    pub(crate) fn task_failed_by_master(
        &mut self,
        fid: &FrameworkID,
        tid: &TaskID,
        state: TaskState,
        reason: Reason,
        message: String,
        now: f64,
    ) {
        let mut release = None;
        let mut agent_id = None;
        let mut booked = None;
        if let Some(t) = self
            .frameworks
            .get_mut(fid)
            .and_then(|f| f.tasks.get_mut(tid))
        {
            let s = super::master_status(
                tid.clone(),
                state,
                reason,
                message.clone(),
                Some(t.agent_id.clone()),
                now,
            );
            t.set_state(state, &mut self.counters.tasks_ended);
            t.statuses.push(s.clone());
            t.changed();
            booked = Some(s);
            agent_id = Some(t.agent_id.clone());
            if !t.resources_released {
                t.resources_released = true;
                release = Some((t.agent_id.clone(), t.role.clone(), t.resources.clone()));
            }
        }
        if let Some(s) = booked {
            self.operator_task_updated(fid, &s, state);
        }
        if let Some((a, role, res)) = release {
            self.allocator.recover(fid, &a, &role, &res, None, now);
            self.allocation_wanted = true;
        }
        self.complete_task(fid, tid);
        self.master_update(fid, tid.clone(), agent_id, state, reason, message, now);
    }

    /// ACKNOWLEDGE: forwarded to the agent, which then sends the next update.
    pub fn acknowledge(
        &mut self,
        fid: &FrameworkID,
        aid: &AgentID,
        tid: &TaskID,
        uuid: &str,
    ) -> Result<(), ApiError> {
        if !super::is_valid_uuid_b64(uuid) {
            self.counters.invalid_acks += 1;
            return Err(ApiError::BadRequest("Failed to validate scheduler::Call: 'acknowledge.uuid' must be a base64 encoded 16-byte UUID".into()));
        }
        let terminal_acked = self
            .frameworks
            .get(fid)
            .and_then(|f| f.tasks.get(tid))
            .is_some_and(|t| {
                t.status_update_uuid.as_deref() == Some(uuid)
                    && t.status_update_state.is_some_and(is_terminal)
            });
        if self.send_to_agent(
            aid,
            AgentEvent::Acknowledge {
                framework_id: fid.clone(),
                task_id: tid.clone(),
                uuid: uuid.to_string(),
            },
        ) {
            self.counters.valid_acks += 1;
        } else {
            tracing::warn!(agent = %aid, task = %tid, "acknowledgement for an unknown or disconnected agent dropped");
            self.counters.invalid_acks += 1;
        }
        if terminal_acked {
            self.complete_task(fid, tid);
        }
        Ok(())
    }

    /// KILL: forwarded to the task's agent; unknown tasks get a
    /// reconciliation answer so the scheduler learns their fate.
    pub fn kill(
        &mut self,
        fid: &FrameworkID,
        tid: &TaskID,
        kill_policy: Option<KillPolicy>,
        now: f64,
    ) {
        let live = self
            .frameworks
            .get(fid)
            .and_then(|f| f.tasks.get(tid))
            .filter(|t| !is_terminal(t.state))
            .map(|t| t.agent_id.clone());
        match live {
            Some(aid) => {
                if !self.send_to_agent(
                    &aid,
                    AgentEvent::KillTask {
                        framework_id: fid.clone(),
                        task_id: tid.clone(),
                        kill_policy,
                    },
                ) {
                    tracing::warn!(task = %tid, agent = %aid, "kill for a task on a disconnected agent; it will be retried by reconciliation");
                }
            }
            None => self.reconcile(
                fid,
                &[ReconcileTask {
                    task_id: tid.clone(),
                    agent_id: None,
                }],
                now,
            ),
        }
    }

    /// RECONCILE (spec 3.3): implicit when `tasks` is empty.
    pub fn reconcile(&mut self, fid: &FrameworkID, tasks: &[ReconcileTask], now: f64) {
        let Some(fw) = self.frameworks.get(fid) else {
            return;
        };
        let pa = fw.partition_aware();
        let answer = |t: &super::TaskEntry| {
            let mut s = super::master_status(
                t.info.task_id.clone(),
                for_framework(t.status_update_state.unwrap_or(t.state), pa),
                Reason::REASON_RECONCILIATION,
                "Reconciliation: Latest task state",
                Some(t.agent_id.clone()),
                now,
            );
            s.executor_id = t.info.executor.as_ref().map(|e| e.executor_id.clone());
            s.healthy = t.statuses.last().and_then(|x| x.healthy);
            s
        };
        if tasks.is_empty() {
            // One queue slot for all the answers: a framework with more
            // tasks than its queue holds must not be cut off for asking.
            let Some(s) = &fw.subscription else {
                return;
            };
            if s.tx.batch_pending() {
                // Checked first: a scheduler repeating RECONCILE must not
                // cost O(tasks) each time for answers that are dropped.
                tracing::info!(framework = %fid, "implicit reconciliation while the previous answers are still being delivered; those answer it");
                return;
            }
            let answers: Vec<Event> = fw
                .tasks
                .values()
                .map(|t| Event::update(answer(t)))
                .collect();
            s.tx.send_batch(answers);
            return;
        }
        let mut lost = Vec::new();
        for rt in tasks {
            if let Some(t) = fw.tasks.get(&rt.task_id) {
                self.send_to_framework(fid, Event::update(answer(t)));
                continue;
            }
            let recovering = match &rt.agent_id {
                Some(a) => self.recovering_agents.contains(a),
                None => !self.recovering_agents.is_empty(),
            };
            if recovering {
                continue; // the agent may still report it; answer later
            }
            let (state, msg) = match &rt.agent_id {
                Some(a) if self.gone_agents.contains_key(a) => (
                    TaskState::TASK_GONE_BY_OPERATOR,
                    "Reconciliation: Task is gone",
                ),
                Some(a) if self.unreachable_agents.contains_key(a) => (
                    TaskState::TASK_UNREACHABLE,
                    "Reconciliation: Task is unreachable",
                ),
                Some(a) if self.agents.contains_key(a) => (
                    TaskState::TASK_GONE,
                    "Reconciliation: Task is unknown to the agent",
                ),
                _ => (TaskState::TASK_UNKNOWN, "Reconciliation: Task is unknown"),
            };
            let s = super::master_status(
                rt.task_id.clone(),
                for_framework(state, pa),
                Reason::REASON_RECONCILIATION,
                msg,
                rt.agent_id.clone(),
                now,
            );
            if state == TaskState::TASK_UNREACHABLE
                && !pa
                && let Some(aid) = &rt.agent_id
            {
                lost.push((aid.clone(), s.clone()));
            }
            self.send_to_framework(fid, Event::update(s));
        }
        for (aid, s) in lost {
            self.remember_lost_by_reconciliation(&aid, fid, &s);
        }
    }

    /// Records a TASK_LOST answer for a task of unreachable agent `aid`
    /// (see [`Master::lost_by_reconciliation`]). Bounded per agent, since
    /// a scheduler may reconcile any task ids it likes.
    fn remember_lost_by_reconciliation(
        &mut self,
        aid: &AgentID,
        fid: &FrameworkID,
        s: &TaskStatus,
    ) {
        const MAX_PER_AGENT: usize = 10_000;
        let lost = self.lost_by_reconciliation.entry(aid.clone()).or_default();
        if lost.len() >= MAX_PER_AGENT && !lost.contains_key(&s.task_id) {
            tracing::warn!(agent = %aid, task = %s.task_id, "too many tasks reported lost by reconciliation for one agent; not recording this one");
            return;
        }
        lost.insert(s.task_id.clone(), (fid.clone(), s.clone()));
    }

    /// MESSAGE scheduler -> executor (best effort).
    pub fn framework_message(&self, fid: &FrameworkID, m: Message) -> Result<(), ApiError> {
        if !self.agents.contains_key(&m.agent_id) {
            return Err(ApiError::BadRequest(format!(
                "Agent {} is not registered",
                m.agent_id
            )));
        }
        self.send_to_agent(
            &m.agent_id,
            AgentEvent::Message {
                framework_id: fid.clone(),
                executor_id: m.executor_id,
                data: m.data,
            },
        );
        Ok(())
    }

    /// SHUTDOWN of a custom executor.
    pub fn shutdown_executor(
        &self,
        fid: &FrameworkID,
        aid: &AgentID,
        eid: &ExecutorID,
    ) -> Result<(), ApiError> {
        if !self.agents.contains_key(aid) {
            return Err(ApiError::BadRequest(format!(
                "Agent {aid} is not registered"
            )));
        }
        self.send_to_agent(
            aid,
            AgentEvent::ShutdownExecutor {
                framework_id: fid.clone(),
                executor_id: eid.clone(),
            },
        );
        Ok(())
    }

    /// MESSAGE executor -> scheduler, relayed by the agent.
    pub fn executor_message(
        &self,
        aid: &AgentID,
        fid: &FrameworkID,
        eid: ExecutorID,
        data: String,
    ) {
        self.send_to_framework(
            fid,
            Event::message(Message {
                agent_id: aid.clone(),
                executor_id: eid,
                data,
            }),
        );
    }

    /// A custom executor exited: its resources return and the scheduler gets FAILURE.
    pub fn executor_exited(
        &mut self,
        aid: &AgentID,
        fid: &FrameworkID,
        eid: &ExecutorID,
        status: i32,
        now: f64,
    ) {
        let removed = self
            .frameworks
            .get_mut(fid)
            .and_then(|f| f.executors.get_mut(aid))
            .and_then(|m| m.remove(eid));
        if let Some((_, res, role)) = removed {
            self.allocator.recover(fid, aid, &role, &res, None, now);
            self.allocation_wanted = true;
        }
        self.send_to_framework(
            fid,
            Event::failure(Failure {
                agent_id: Some(aid.clone()),
                executor_id: Some(eid.clone()),
                status: Some(status),
            }),
        );
    }
}

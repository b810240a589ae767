//! Agents an operator marked gone (`MARK_AGENT_GONE`): gone for good. The
//! registry records them before the master acts; a gone agent is shut down
//! if connected and refused if it ever tries to register again; its tasks
//! end as TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks that are not
//! partition-aware) with REASON_AGENT_REMOVED_BY_OPERATOR.

use super::Master;
use crate::error::ApiError;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::scheduler::Event;
use mesos_types::*;

/// What the agent is told, and the message of its tasks' updates (Mesos's words).
pub const GONE_MESSAGE: &str = "Agent has been marked gone";

/// Whether a `MARK_AGENT_GONE` may go ahead.
#[derive(Debug, PartialEq, Eq)]
pub enum GoneCheck {
    /// Known (registered, unreachable or still recovering): record it.
    Proceed,
    /// Already gone: nothing to do (the call still succeeds, as in Mesos).
    AlreadyGone,
}

/// Why the master will not admit an agent now.
#[derive(Debug, PartialEq, Eq)]
pub enum AgentRefusal {
    /// Marked gone: it is told to shut down, for good.
    Gone,
    /// Its gone mark is being written: a registration error it retries.
    BeingMarkedGone,
    /// Its machine is DOWN for maintenance: it is told to shut down.
    MachineDown,
}

impl AgentRefusal {
    /// What the agent is told when it is shut down.
    pub fn message(&self) -> &'static str {
        match self {
            AgentRefusal::MachineDown => super::maintenance::MACHINE_DOWN_MESSAGE,
            AgentRefusal::Gone | AgentRefusal::BeingMarkedGone => GONE_MESSAGE,
        }
    }
}

impl Master {
    /// Whether the agent may register: not gone and not being marked gone.
    pub fn refuses_agent(&self, aid: &AgentID) -> Option<AgentRefusal> {
        if self.gone_agents.contains_key(aid) {
            Some(AgentRefusal::Gone)
        } else if self.marking_gone.contains(aid) {
            Some(AgentRefusal::BeingMarkedGone)
        } else {
            None
        }
    }

    /// Checks a `MARK_AGENT_GONE` for `aid`; on `Proceed` the agent is
    /// reserved as being marked until [`Master::mark_gone`] or
    /// [`Master::mark_gone_failed`].
    pub fn begin_mark_gone(&mut self, aid: &AgentID) -> Result<GoneCheck, ApiError> {
        if self.gone_agents.contains_key(aid) {
            return Ok(GoneCheck::AlreadyGone);
        }
        if self.marking_gone.contains(aid) {
            return Err(ApiError::Unavailable(format!(
                "Agent '{aid}' is already being marked gone"
            )));
        }
        let known = self.agents.contains_key(aid)
            || self.unreachable_agents.contains_key(aid)
            || self.recovering_agents.contains(aid);
        if !known {
            return Err(ApiError::NotFound(format!("Agent '{aid}' not found")));
        }
        self.marking_gone.insert(aid.clone());
        Ok(GoneCheck::Proceed)
    }

    /// The registry write failed: the agent stays as it was.
    pub fn mark_gone_failed(&mut self, aid: &AgentID) {
        self.marking_gone.remove(aid);
    }

    /// Acts on a gone agent the registry already records.
    pub fn mark_gone(&mut self, aid: &AgentID, now: f64) {
        self.marking_gone.remove(aid);
        self.gone_agents.insert(aid.clone(), now);
        self.recovering_agents.remove(aid);
        self.lost_by_reconciliation.remove(aid);
        self.marking_unreachable.remove(aid);
        self.reachable_on_pong.remove(aid);
        if let Some(agent) = self.agents.remove(aid) {
            tracing::warn!(agent = %aid, hostname = %agent.info.hostname, "agent marked gone by the operator; shutting it down");
            if let Some(s) = &agent.subscription {
                s.send(AgentEvent::Shutdown {
                    message: GONE_MESSAGE.into(),
                });
            }
            self.counters.agent_removals += 1;
            self.remove_agent(
                agent,
                TaskState::TASK_GONE_BY_OPERATOR,
                Reason::REASON_AGENT_REMOVED_BY_OPERATOR,
                GONE_MESSAGE,
                now,
            );
            return;
        }
        if self.unreachable_agents.remove(aid).is_some() {
            tracing::warn!(agent = %aid, "unreachable agent marked gone by the operator");
            self.end_unreachable_tasks(aid, now);
        }
    }

    /// The tasks partition-aware frameworks still hold as TASK_UNREACHABLE
    /// on `aid` will never come back: they end as TASK_GONE_BY_OPERATOR.
    /// (Mesos leaves them for reconciliation to answer; telling the
    /// framework at once lets it replace them without polling.)
    fn end_unreachable_tasks(&mut self, aid: &AgentID, now: f64) {
        let mut ended = Vec::new();
        for fw in self.frameworks.values_mut() {
            for (tid, t) in fw.tasks.iter_mut() {
                if &t.agent_id != aid || t.state != TaskState::TASK_UNREACHABLE {
                    continue;
                }
                let s = super::master_status(
                    tid.clone(),
                    TaskState::TASK_GONE_BY_OPERATOR,
                    Reason::REASON_AGENT_REMOVED_BY_OPERATOR,
                    GONE_MESSAGE,
                    Some(aid.clone()),
                    now,
                );
                t.set_state(
                    TaskState::TASK_GONE_BY_OPERATOR,
                    &mut self.counters.tasks_ended,
                );
                t.statuses.push(s.clone());
                t.changed();
                if let Some(sub) = &fw.subscription {
                    sub.send(Event::update(s.clone()));
                }
                self.operator_subscribers
                    .publish(|| crate::operator::OperatorEvent::TaskUpdated {
                        framework_id: fw.id.clone(),
                        status: std::sync::Arc::new(s),
                        state: TaskState::TASK_GONE_BY_OPERATOR,
                    });
                ended.push((fw.id.clone(), tid.clone()));
            }
        }
        for (fid, tid) in ended {
            self.complete_task(&fid, &tid);
        }
    }
}

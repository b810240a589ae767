//! Agent deactivation and draining (DEACTIVATE_AGENT, REACTIVATE_AGENT,
//! DRAIN_AGENT). A deactivated agent keeps its tasks but gets no offers
//! (those outstanding are rescinded). Draining deactivates it and kills
//! every task on it, each with its kill policy's grace period capped by
//! the drain's `max_grace_period`; once no task is left the agent is
//! DRAINED, and marked gone if the drain asked for it.
//!
//! Each agent's state is a registry record (`agent_state/<id>`) written
//! before it takes effect; an agent that re-registers (or a master that
//! restarts) picks it up again, and a draining agent that comes back with
//! tasks has them killed again.

use super::Master;
use super::policy::Reply;
use super::registry::{RegistryOp, Then};
use crate::error::ApiError;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::policy::{DrainConfig, DrainInfo, DrainState};
use mesos_types::task_state::is_terminal;
use mesos_types::*;
use serde::{Deserialize, Serialize};

/// Registry keys `agent_state/<id>`: an [`AgentOperatorState`]; the
/// default one is a cleared state (the store has no deletes).
pub const AGENT_STATE_PREFIX: &str = "agent_state/";

/// What an operator made of an agent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentOperatorState {
    #[serde(default)]
    pub deactivated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_info: Option<DrainInfo>,
}

impl AgentOperatorState {
    pub fn is_default(&self) -> bool {
        !self.deactivated && self.drain_info.is_none()
    }

    fn draining(&self) -> Option<&DrainConfig> {
        self.drain_info
            .as_ref()
            .filter(|d| d.state == DrainState::DRAINING)
            .map(|d| &d.config)
    }
}

impl Master {
    /// An agent an operator may change now: known, and no earlier change
    /// of its state still being recorded.
    fn known_agent(&self, aid: &AgentID) -> Result<(), ApiError> {
        if aid.value.is_empty() {
            return Err(ApiError::BadRequest("'agent_id' must not be empty".into()));
        }
        if !self.agents.contains_key(aid) {
            return Err(ApiError::NotFound(format!("Agent '{aid}' not found")));
        }
        if self.recording_agent_states.contains(aid) {
            return Err(ApiError::Unavailable(format!(
                "A change of agent '{aid}' is being recorded; retry"
            )));
        }
        Ok(())
    }

    fn queue_agent_state(
        &mut self,
        aid: &AgentID,
        state: AgentOperatorState,
        reply: Option<Reply>,
    ) {
        self.recording_agent_states.insert(aid.clone());
        self.queue_write(
            RegistryOp::SetAgentState {
                id: aid.clone(),
                state: Box::new(state),
            },
            Then::Apply { reply },
        );
    }

    /// DRAIN_AGENT.
    pub fn request_drain_agent(&mut self, aid: &AgentID, config: DrainConfig, reply: Reply) {
        if let Err(e) = self.known_agent(aid) {
            let _ = reply.send(Err(e));
            return;
        }
        if config.max_grace_period.is_some_and(|d| d.nanoseconds < 0) {
            let _ = reply.send(Err(ApiError::BadRequest(
                "'max_grace_period' must not be negative".into(),
            )));
            return;
        }
        let state = AgentOperatorState {
            deactivated: true,
            drain_info: Some(DrainInfo {
                state: DrainState::DRAINING,
                config,
            }),
        };
        self.queue_agent_state(aid, state, Some(reply));
    }

    /// DEACTIVATE_AGENT.
    pub fn request_deactivate_agent(&mut self, aid: &AgentID, reply: Reply) {
        if let Err(e) = self.known_agent(aid) {
            let _ = reply.send(Err(e));
            return;
        }
        let mut state = self.agent_states.get(aid).cloned().unwrap_or_default();
        if state.deactivated {
            let _ = reply.send(Ok(()));
            return;
        }
        state.deactivated = true;
        self.queue_agent_state(aid, state, Some(reply));
    }

    /// REACTIVATE_AGENT: offers again; a drain in progress stops.
    pub fn request_reactivate_agent(&mut self, aid: &AgentID, reply: Reply) {
        if let Err(e) = self.known_agent(aid) {
            let _ = reply.send(Err(e));
            return;
        }
        if !self.agent_states.get(aid).is_some_and(|s| s.deactivated) {
            let _ = reply.send(Err(ApiError::BadRequest(format!(
                "Agent '{aid}' is not deactivated"
            ))));
            return;
        }
        self.queue_agent_state(aid, AgentOperatorState::default(), Some(reply));
    }

    /// Applies a written agent state.
    pub(crate) fn apply_agent_state(
        &mut self,
        aid: &AgentID,
        state: &AgentOperatorState,
        now: f64,
    ) {
        tracing::info!(agent = %aid, ?state, "agent state updated");
        if state.is_default() {
            self.agent_states.remove(aid);
        } else {
            self.agent_states.insert(aid.clone(), state.clone());
        }
        if let Some(a) = self.agents.get_mut(aid) {
            a.changed();
        }
        self.resume_agent_state(aid, now);
    }

    /// Makes the book match the agent's recorded state: after a change,
    /// and whenever the agent (re-)registers.
    pub(crate) fn resume_agent_state(&mut self, aid: &AgentID, now: f64) {
        let state = self.agent_states.get(aid).cloned().unwrap_or_default();
        self.allocator.set_agent_active(aid, !state.deactivated);
        if state.deactivated {
            let offers: Vec<OfferID> = self
                .agents
                .get(aid)
                .map(|a| a.offers.iter().cloned().collect())
                .unwrap_or_default();
            for id in offers {
                self.rescind_offer(&id, now);
            }
        } else {
            self.allocation_wanted = true;
        }
        if let Some(config) = state.draining() {
            let max = config.max_grace_period;
            for (fid, tid, policy) in self.live_tasks_on(aid) {
                let kill_policy = match (policy.and_then(|p| p.grace_period), max) {
                    (Some(g), Some(m)) if m.nanoseconds < g.nanoseconds => Some(KillPolicy {
                        grace_period: Some(m),
                    }),
                    (Some(g), _) => Some(KillPolicy {
                        grace_period: Some(g),
                    }),
                    (None, _) => None,
                };
                self.send_to_agent(
                    aid,
                    AgentEvent::KillTask {
                        framework_id: fid,
                        task_id: tid,
                        kill_policy,
                    },
                );
            }
            self.check_drained(aid, now);
        }
    }

    /// Live tasks on `aid`, with their kill policies.
    fn live_tasks_on(&self, aid: &AgentID) -> Vec<(FrameworkID, TaskID, Option<KillPolicy>)> {
        let Some(agent) = self.agents.get(aid) else {
            return Vec::new();
        };
        let mut out: Vec<_> = agent
            .tasks
            .iter()
            .filter_map(|(fid, tid)| {
                let t = self.frameworks.get(fid)?.tasks.get(tid)?;
                (!is_terminal(t.state))
                    .then(|| (fid.clone(), tid.clone(), t.info.kill_policy.clone()))
            })
            .collect();
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out
    }

    /// A draining agent with no live task left is DRAINED (recorded), and
    /// marked gone if the drain asked for it.
    pub(crate) fn check_drained(&mut self, aid: &AgentID, now: f64) {
        let Some(state) = self.agent_states.get(aid) else {
            return;
        };
        let Some(config) = state.draining().cloned() else {
            return;
        };
        // A change being recorded is acted on (and this checked again)
        // once written.
        if !self.live_tasks_on(aid).is_empty() || self.recording_agent_states.contains(aid) {
            return;
        }
        tracing::info!(agent = %aid, "agent drained");
        let drained = AgentOperatorState {
            deactivated: true,
            drain_info: Some(DrainInfo {
                state: DrainState::DRAINED,
                config: config.clone(),
            }),
        };
        self.queue_agent_state(aid, drained, None);
        if config.mark_gone {
            // Answered to nobody: the operator asked for the drain.
            let (reply, _) = tokio::sync::oneshot::channel();
            self.request_mark_gone(aid, reply, now);
        }
    }

    /// Agent states from the registry (at start).
    pub fn recover_agent_states(&mut self, states: Vec<(AgentID, AgentOperatorState)>) {
        for (id, s) in states {
            if !s.is_default() {
                self.agent_states.insert(id, s);
            }
        }
    }
}

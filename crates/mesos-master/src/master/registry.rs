//! The book's side of the registrar: every durable change the master makes
//! is a [`RegistryOp`] the book queues together with what to do once it is
//! written (a [`Then`]). One registrar task (`crate::registrar`) takes the
//! queued ops in order, writes them to the `Store` in one batch (one
//! fsync), and feeds the outcome back through [`Master::registry_written`];
//! only then does the book act. No handler or timer writes to the store.
//!
//! Ops are applied in the order they were queued, so a later op for the
//! same key always wins (an agent that answered while its unreachable mark
//! was being written gets a `MarkReachable` queued after the mark).
//!
//! Marks that make the master more careful are written before it acts. The
//! one op that makes it less careful, `MarkReachable` for an agent whose
//! tasks were reported lost, is written only once the agent has provably
//! heard what the mark implies (the kills of those tasks): until then a
//! restarted master still treats it as back from unreachable.

use super::{AgentRefusal, Master, Registration};
use crate::error::ApiError;
use crate::event_queue::EventSender;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::policy::{QuotaConfig, WeightInfo};
use mesos_types::*;
use std::collections::VecDeque;
use tokio::sync::oneshot;

/// Registry keys (`<prefix><id>`). Marks hold the epoch seconds of the mark;
/// an unreachable agent that came back holds [`REACHABLE`].
pub const AGENT_PREFIX: &str = "agents/";
pub const UNREACHABLE_PREFIX: &str = "unreachable/";
pub const GONE_PREFIX: &str = "gone/";
pub const REMOVED_FRAMEWORK_PREFIX: &str = "frameworks/removed/";
pub const WEIGHT_PREFIX: &str = "weights/";
/// `quota/<role>`: a `QuotaConfig`; one with no guarantee or limit is a
/// removed quota (the store has no deletes).
pub const QUOTA_PREFIX: &str = "quota/";
pub const REACHABLE: &[u8] = b"reachable";

/// A durable change, as the registry stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryOp {
    AdmitAgent {
        id: AgentID,
        info: Box<AgentInfo>,
    },
    MarkUnreachable {
        id: AgentID,
        time: f64,
    },
    MarkReachable {
        id: AgentID,
    },
    MarkGone {
        id: AgentID,
        time: f64,
    },
    RemoveFramework {
        id: FrameworkID,
        time: f64,
    },
    SetWeights(Vec<WeightInfo>),
    SetQuotas(Vec<QuotaConfig>),
    SetMaintenance(Box<super::maintenance::MaintenanceRecord>),
    SetAgentState {
        id: AgentID,
        state: Box<super::drain::AgentOperatorState>,
    },
    SetAgentResources {
        id: AgentID,
        resources: Vec<Resource>,
    },
}

impl RegistryOp {
    /// The keys and values this op writes.
    pub fn records(&self) -> Vec<(String, Vec<u8>)> {
        match self {
            RegistryOp::SetWeights(infos) => infos
                .iter()
                .map(|w| {
                    (
                        format!("{WEIGHT_PREFIX}{}", w.role),
                        w.weight.to_string().into_bytes(),
                    )
                })
                .collect(),
            RegistryOp::SetQuotas(configs) => configs
                .iter()
                .map(|c| {
                    (
                        format!("{QUOTA_PREFIX}{}", c.role),
                        serde_json::to_vec(c).unwrap_or_default(),
                    )
                })
                .collect(),
            other => other.record().into_iter().collect(),
        }
    }

    /// The key and value of an op that writes one record.
    fn record(&self) -> Option<(String, Vec<u8>)> {
        Some(match self {
            RegistryOp::AdmitAgent { id, info } => (
                format!("{AGENT_PREFIX}{}", id.value),
                serde_json::to_vec(info).unwrap_or_default(),
            ),
            RegistryOp::MarkUnreachable { id, time } => (
                format!("{UNREACHABLE_PREFIX}{}", id.value),
                time.to_string().into_bytes(),
            ),
            RegistryOp::MarkReachable { id } => (
                format!("{UNREACHABLE_PREFIX}{}", id.value),
                REACHABLE.to_vec(),
            ),
            RegistryOp::MarkGone { id, time } => (
                format!("{GONE_PREFIX}{}", id.value),
                time.to_string().into_bytes(),
            ),
            RegistryOp::RemoveFramework { id, time } => (
                format!("{REMOVED_FRAMEWORK_PREFIX}{}", id.value),
                time.to_string().into_bytes(),
            ),
            RegistryOp::SetMaintenance(r) => (
                super::maintenance::MAINTENANCE_KEY.to_string(),
                serde_json::to_vec(r).unwrap_or_default(),
            ),
            RegistryOp::SetAgentState { id, state } => (
                format!("{}{}", super::drain::AGENT_STATE_PREFIX, id.value),
                serde_json::to_vec(state).unwrap_or_default(),
            ),
            RegistryOp::SetAgentResources { id, resources } => (
                format!(
                    "{}{}",
                    super::reservations::AGENT_RESOURCES_PREFIX,
                    id.value
                ),
                serde_json::to_vec(resources).unwrap_or_default(),
            ),
            RegistryOp::SetWeights(_) | RegistryOp::SetQuotas(_) => return None,
        })
    }
}

/// How an agent's registration ended.
#[derive(Debug)]
pub enum AgentAdmission {
    /// On the book; its event stream carries this id.
    Admitted {
        agent_id: AgentID,
        stream_id: String,
    },
    Refused(AgentRefusal),
    /// The registry could not record it (the agent retries).
    Failed(String),
}

/// What the book does once an op is written (`Ok`) or failed (`Err`).
#[derive(Debug)]
pub(crate) enum Then {
    /// The registry records the agent (`agents/<id>`).
    Admitted(AgentID),
    Admit {
        id: AgentID,
        reg: Box<Registration>,
        tx: EventSender<AgentEvent>,
        reply: oneshot::Sender<AgentAdmission>,
    },
    Unreachable(AgentID),
    /// A `MarkReachable` that must land (retried on failure).
    Reachable(AgentID),
    Gone {
        id: AgentID,
        reply: Option<oneshot::Sender<Result<(), ApiError>>>,
    },
    RemoveFramework {
        id: FrameworkID,
        /// Every TEARDOWN waiting for this removal.
        replies: Vec<oneshot::Sender<Result<(), ApiError>>>,
    },
    /// An operator's policy change: applied once written, then answered.
    Apply {
        reply: Option<super::policy::Reply>,
    },
    /// An offer operation's checkpointed resources: sent to the agent once
    /// written (written again if the write failed).
    Checkpoint {
        id: AgentID,
    },
    /// An operator's conversion: offered and answered once written,
    /// undone if the write failed.
    Converted {
        id: AgentID,
        conversion: Box<mesos_types::conversions::Conversion>,
        reply: super::policy::Reply,
    },
}

/// An op queued or being written. `op: None` writes nothing: its `then`
/// runs once everything queued before it is written (ordering only).
#[derive(Debug)]
pub(crate) struct PendingWrite {
    seq: u64,
    op: Option<RegistryOp>,
    then: Then,
}

/// Ops in the order they were queued; those up to `taken` are being written.
#[derive(Debug, Default)]
pub struct RegistryQueue {
    pending: VecDeque<PendingWrite>,
    next_seq: u64,
    taken: u64,
}

/// A batch the registrar writes: its ops and the last sequence number.
#[derive(Debug)]
pub struct RegistryBatch {
    pub ops: Vec<RegistryOp>,
    pub last: u64,
}

impl RegistryQueue {
    /// Ops queued or being written (`registrar/queued_operations`).
    pub fn queued_operations(&self) -> usize {
        self.pending.iter().filter(|p| p.op.is_some()).count()
    }

    /// Whether ops wait to be taken by the registrar.
    pub fn has_untaken(&self) -> bool {
        self.pending.back().is_some_and(|p| p.seq > self.taken)
    }

    /// Whether any queued or in-flight op concerns agent `id`.
    fn concerns_agent(&self, id: &AgentID) -> bool {
        self.pending.iter().any(|p| match &p.op {
            Some(
                RegistryOp::AdmitAgent { id: a, .. }
                | RegistryOp::MarkUnreachable { id: a, .. }
                | RegistryOp::MarkReachable { id: a }
                | RegistryOp::MarkGone { id: a, .. },
            ) => a == id,
            Some(
                RegistryOp::RemoveFramework { .. }
                | RegistryOp::SetWeights(_)
                | RegistryOp::SetQuotas(_)
                | RegistryOp::SetMaintenance(_)
                | RegistryOp::SetAgentState { .. }
                | RegistryOp::SetAgentResources { .. },
            ) => false,
            None => matches!(&p.then, Then::Admit { id: a, .. } if a == id),
        })
    }
}

impl Master {
    pub(crate) fn queue_write(&mut self, op: RegistryOp, then: Then) {
        self.queue(Some(op), then);
    }

    /// Queues `then` to run after everything queued so far is written.
    pub(crate) fn queue_after_writes(&mut self, then: Then) {
        self.queue(None, then);
    }

    fn queue(&mut self, op: Option<RegistryOp>, then: Then) {
        let q = &mut self.registry;
        q.next_seq += 1;
        q.pending.push_back(PendingWrite {
            seq: q.next_seq,
            op,
            then,
        });
    }

    /// The ops queued since the last batch (the registrar writes them
    /// next); `None` when nothing waits.
    pub fn take_registry_batch(&mut self) -> Option<RegistryBatch> {
        if !self.registry.has_untaken() {
            return None;
        }
        let q = &mut self.registry;
        let taken = q.taken;
        let ops: Vec<RegistryOp> = q
            .pending
            .iter()
            .filter(|p| p.seq > taken)
            .filter_map(|p| p.op.clone())
            .collect();
        q.taken = q.next_seq;
        Some(RegistryBatch {
            ops,
            last: q.next_seq,
        })
    }

    /// Whether the registrar has work (checked after every book change).
    pub fn registry_wanted(&self) -> bool {
        self.registry.has_untaken()
    }

    /// The registrar wrote (or failed to write) every op up to `last`: the
    /// book acts on each, in order.
    pub fn registry_written(&mut self, last: u64, result: Result<(), String>, now: f64) {
        while self.registry.pending.front().is_some_and(|p| p.seq <= last) {
            let Some(p) = self.registry.pending.pop_front() else {
                break;
            };
            if let Err(e) = &result {
                tracing::error!(op = ?p.op, "registry write failed: {e}");
            }
            self.written(p.op, p.then, result.clone(), now);
        }
    }

    fn written(
        &mut self,
        op: Option<RegistryOp>,
        then: Then,
        result: Result<(), String>,
        now: f64,
    ) {
        match then {
            Then::Admitted(id) => {
                if result.is_ok() {
                    self.admitted_agents.insert(id);
                }
            }
            Then::Admit { id, reg, tx, reply } => {
                // The registry must now record the agent, with no unreachable
                // mark being written. Anything else (a write that failed, a
                // new mark begun meanwhile) and the agent retries.
                let outcome = match result {
                    Err(e) => AgentAdmission::Failed(e),
                    Ok(())
                        if self.admitted_agents.contains(&id)
                            && !self.marking_unreachable.contains(&id) =>
                    {
                        self.finish_admission(id, *reg, tx, &reply, now)
                    }
                    Ok(()) => AgentAdmission::Failed(
                        "the registry changed for this agent meanwhile; retry".into(),
                    ),
                };
                let _ = reply.send(outcome);
            }
            Then::Unreachable(id) => match result {
                Ok(()) => {
                    if !self.mark_unreachable(&id, now) && !self.reachable_on_pong.contains_key(&id)
                    {
                        // It spoke up while the mark was being written, and
                        // nothing was reported lost: the registry must not
                        // keep calling it unreachable. (One still to prove
                        // it heard the kills of an earlier return keeps
                        // waiting for that PONG.)
                        self.queue_reachable(&id);
                    }
                }
                Err(_) => {
                    // Tried again on the next health round.
                    self.counters.unreachable_canceled += 1;
                    self.marking_unreachable.remove(&id);
                }
            },
            Then::Reachable(id) => {
                if result.is_err() {
                    // A stale unreachable mark would get a healthy agent's
                    // tasks killed after the next master restart: retry.
                    self.queue(op, Then::Reachable(id));
                }
            }
            Then::Gone { id, reply } => {
                let answer = match result {
                    Ok(()) => {
                        self.mark_gone(&id, now);
                        Ok(())
                    }
                    Err(e) => {
                        self.mark_gone_failed(&id);
                        Err(ApiError::Unavailable(format!(
                            "Failed to record agent '{id}' as gone in the registry ({e}); retry"
                        )))
                    }
                };
                if let Some(r) = reply {
                    let _ = r.send(answer);
                }
            }
            Then::Apply { reply } => {
                if let Some(op) = &op {
                    self.recorded(op);
                }
                let answer = match (&result, op) {
                    (Ok(()), Some(op)) => {
                        self.apply_op(&op, now);
                        Ok(())
                    }
                    (Ok(()), None) => Ok(()),
                    (Err(e), op) => {
                        if let Some(RegistryOp::SetAgentState { id, .. }) = &op {
                            // A drained state the master wrote itself is
                            // tried again; an operator's change is answered.
                            self.check_drained(id, now);
                        }
                        Err(ApiError::Unavailable(format!(
                            "Failed to record the change in the registry ({e}); retry"
                        )))
                    }
                };
                if let Some(r) = reply {
                    let _ = r.send(answer);
                }
            }
            Then::Checkpoint { id } => {
                if let Some(RegistryOp::SetAgentResources { resources, .. }) = &op
                    && result.is_ok()
                {
                    self.agent_resources_written(&id, resources);
                    self.send_checkpoint(&id);
                } else if self.agents.contains_key(&id) {
                    // The book already acts on it: it must land.
                    self.record_agent_resources(&id, Then::Checkpoint { id: id.clone() });
                }
            }
            Then::Converted {
                id,
                conversion,
                reply,
            } => {
                if let Some(RegistryOp::SetAgentResources { resources, .. }) = &op
                    && result.is_ok()
                {
                    self.agent_resources_written(&id, resources);
                }
                self.finish_conversion(&id, &conversion, result.is_ok());
                let _ = reply.send(result.clone().map_err(|e| {
                    ApiError::Unavailable(format!(
                        "Failed to record the agent's resources in the registry ({e}); retry"
                    ))
                }));
            }
            Then::RemoveFramework { id, replies } => {
                let recorded = result.is_ok();
                self.finish_remove_framework(&id, recorded, now);
                for r in replies {
                    let _ = r.send(result.clone().map_err(|e| {
                        ApiError::Unavailable(format!(
                            "Failed to record the framework's removal in the registry ({e}); retry"
                        ))
                    }));
                }
            }
        }
    }

    /// A record that allows one change at a time is free again (written or not).
    fn recorded(&mut self, op: &RegistryOp) {
        match op {
            RegistryOp::SetMaintenance(_) => self.maintenance.recording = false,
            RegistryOp::SetAgentState { id, .. } => {
                self.recording_agent_states.remove(id);
            }
            _ => {}
        }
    }

    /// Acts on a written policy op.
    fn apply_op(&mut self, op: &RegistryOp, now: f64) {
        match op {
            RegistryOp::SetWeights(w) => self.apply_weights(w, now),
            RegistryOp::SetQuotas(q) => self.apply_quotas(q, now),
            RegistryOp::SetMaintenance(r) => self.apply_maintenance(r, now),
            RegistryOp::SetAgentState { id, state } => self.apply_agent_state(id, state, now),
            other => tracing::error!(op = ?other, "not a policy op; nothing applied"),
        }
    }

    /// Queues a `MarkReachable` for an agent whose unreachable mark the
    /// registry holds (or is writing).
    pub(crate) fn queue_reachable(&mut self, id: &AgentID) {
        self.queue_write(
            RegistryOp::MarkReachable { id: id.clone() },
            Then::Reachable(id.clone()),
        );
    }

    /// An agent asks to (re-)register. Answered on `reply` at once when the
    /// registry already records what is needed, otherwise once it does:
    /// a new agent is admitted (`agents/<id>`), a returning unreachable one
    /// marked reachable, before the book takes it in.
    pub fn register_agent(
        &mut self,
        reg: Registration,
        tx: EventSender<AgentEvent>,
        reply: oneshot::Sender<AgentAdmission>,
        now: f64,
    ) {
        let id = match &reg.info.id {
            Some(id) => id.clone(),
            None => self.ids.agent(),
        };
        if let Some(refusal) = self.refuses_agent(&id) {
            let _ = reply.send(AgentAdmission::Refused(refusal));
            return;
        }
        if self.machine_is_down(&reg.info.hostname, &reg.ip) {
            let _ = reply.send(AgentAdmission::Refused(AgentRefusal::MachineDown));
            return;
        }
        let admitted = self.admitted_agents.contains(&id);
        // An unreachable mark being written, or other writes of this agent
        // in flight: act after them. (An agent back from unreachable is
        // taken in at once; its mark is cleared only once it has heard what
        // the mark implies: see `Master::agent_ponged`.)
        let busy = self.registry.concerns_agent(&id) || self.marking_unreachable.contains(&id);
        if admitted && !busy {
            let outcome = self.finish_admission(id, reg, tx, &reply, now);
            let _ = reply.send(outcome);
            return;
        }
        if !admitted {
            let mut info = reg.info.clone();
            info.id = Some(id.clone());
            self.queue_write(
                RegistryOp::AdmitAgent {
                    id: id.clone(),
                    info: Box::new(info),
                },
                Then::Admitted(id.clone()),
            );
        }
        // Acted on once everything queued before it (this agent's writes
        // included) is in the registry.
        self.queue_after_writes(Then::Admit {
            id: id.clone(),
            reg: Box::new(reg),
            tx,
            reply,
        });
    }

    /// Takes an agent whose registration the registry records into the book.
    fn finish_admission(
        &mut self,
        id: AgentID,
        reg: Registration,
        tx: EventSender<AgentEvent>,
        reply: &oneshot::Sender<AgentAdmission>,
        now: f64,
    ) -> AgentAdmission {
        // Checked again: an operator may have marked it gone meanwhile.
        if let Some(refusal) = self.refuses_agent(&id) {
            return AgentAdmission::Refused(refusal);
        }
        if reply.is_closed() {
            // The agent gave up waiting (its connection is gone): taking it
            // in would show an agent connected to nobody. It retries, and
            // the registry now needs no write for it.
            tracing::info!(agent = %id, "agent went away while its registration was being recorded");
            return AgentAdmission::Failed("agent went away".into());
        }
        let stream_id = self.admit_agent(id.clone(), reg, tx, now);
        self.resume_agent_state(&id, now);
        AgentAdmission::Admitted {
            agent_id: id,
            stream_id,
        }
    }

    /// MARK_AGENT_GONE: answered on `reply` once the registry records it.
    pub fn request_mark_gone(
        &mut self,
        aid: &AgentID,
        reply: oneshot::Sender<Result<(), ApiError>>,
        now: f64,
    ) {
        match self.begin_mark_gone(aid) {
            Err(e) => {
                let _ = reply.send(Err(e));
            }
            Ok(super::GoneCheck::AlreadyGone) => {
                tracing::warn!(agent = %aid, "not marking the agent gone: it already is");
                let _ = reply.send(Ok(()));
            }
            Ok(super::GoneCheck::Proceed) => self.queue_write(
                RegistryOp::MarkGone {
                    id: aid.clone(),
                    time: now,
                },
                Then::Gone {
                    id: aid.clone(),
                    reply: Some(reply),
                },
            ),
        }
    }

    /// TEARDOWN (with `reply`) or failover timeout (without): the framework
    /// is removed once the registry records it, whether or not anyone still
    /// waits for the answer.
    pub fn request_remove_framework(
        &mut self,
        fid: &FrameworkID,
        reply: Option<oneshot::Sender<Result<(), ApiError>>>,
        now: f64,
    ) {
        if !self.begin_remove_framework(fid) {
            // Its removal is already being written: answered with it.
            let pending = self
                .registry
                .pending
                .iter_mut()
                .find_map(|p| match &mut p.then {
                    Then::RemoveFramework { id, replies } if id == fid => Some(replies),
                    _ => None,
                });
            match (pending, reply) {
                (Some(replies), Some(r)) => replies.push(r),
                // Unknown: nothing to remove.
                (None, Some(r)) => {
                    let _ = r.send(Ok(()));
                }
                (_, None) => {}
            }
            return;
        }
        self.queue_write(
            RegistryOp::RemoveFramework {
                id: fid.clone(),
                time: now,
            },
            Then::RemoveFramework {
                id: fid.clone(),
                replies: reply.into_iter().collect(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_the_registry_formats() {
        let id = AgentID::new("A");
        assert_eq!(
            RegistryOp::MarkUnreachable {
                id: id.clone(),
                time: 12.5
            }
            .records(),
            vec![("unreachable/A".to_string(), b"12.5".to_vec())]
        );
        assert_eq!(
            RegistryOp::MarkReachable { id }.records(),
            vec![("unreachable/A".to_string(), b"reachable".to_vec())]
        );
        assert_eq!(
            RegistryOp::RemoveFramework {
                id: FrameworkID::new("F"),
                time: 1.0
            }
            .records()[0]
                .0,
            "frameworks/removed/F"
        );
    }
}

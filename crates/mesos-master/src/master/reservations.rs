//! Dynamic reservations and persistent volumes: the RESERVE, UNRESERVE,
//! CREATE and DESTROY offer operations, and the operator's
//! RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES and
//! DESTROY_VOLUMES (also `/reserve`, `/unreserve`, `/create-volumes`,
//! `/destroy-volumes`).
//!
//! Each changes an agent's total (see `mesos_types::conversions`): the
//! book changes it, the registry records the agent's resulting
//! checkpointed resources (`agent_resources/<id>`), and once that is
//! written the agent is sent the whole set to checkpoint
//! (`CHECKPOINT_RESOURCES`). An operator's conversion holds the resources
//! it consumes out of offers until it is written, and only then offers
//! what it made and answers; an offer operation acts at once (the
//! framework's next LAUNCH in the same ACCEPT may use what it reserved,
//! as in Mesos) and is written right after. After a master restart the
//! registry's record is what an agent's total is rebuilt from; an agent
//! that checkpointed something else is sent the registry's.

use super::Master;
use super::policy::Reply;
use super::registry::{RegistryOp, Then};
use crate::error::ApiError;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::conversions::{self, Conversion};
use mesos_types::*;

/// Registry keys `agent_resources/<id>`: the agent's checkpointed
/// resources (a JSON list of `Resource`).
pub const AGENT_RESOURCES_PREFIX: &str = "agent_resources/";

/// Which conversion an operation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversionKind {
    Reserve,
    Unreserve,
    Create,
    Destroy,
}

impl ConversionKind {
    /// The conversion of `resources` (`source`: RESERVE's optional
    /// statement of what it reserves from; `role`: the role an offer
    /// operation must reserve for, `None` for an operator).
    pub fn of(
        self,
        source: &[Resource],
        resources: &[Resource],
        role: Option<&str>,
    ) -> Result<Conversion, String> {
        match self {
            ConversionKind::Reserve => conversions::reserve_from(source, resources, role),
            ConversionKind::Unreserve => conversions::unreserve(resources),
            ConversionKind::Create => conversions::create(resources),
            ConversionKind::Destroy => conversions::destroy(resources),
        }
    }
}

impl Master {
    /// A RESERVE/UNRESERVE/CREATE/DESTROY offer operation of `fid` on
    /// `remaining` (what is left of its offers on `aid`, allocated to
    /// `role`): applied to both, or refused with the reason (nothing
    /// changed).
    pub(crate) fn offer_conversion(
        &mut self,
        fid: &FrameworkID,
        aid: &AgentID,
        role: &str,
        kind: ConversionKind,
        (source, resources): (&[Resource], &[Resource]),
        remaining: &mut Resources,
    ) -> Result<(), String> {
        let conv = kind.of(source, resources, Some(role))?;
        if kind == ConversionKind::Create {
            self.check_new_volumes(aid, &conv)?;
        }
        let plain = remaining.unallocated();
        let converted = conv.apply(&plain)?;
        let Some(agent) = self.agents.get_mut(aid) else {
            return Err(format!("agent {aid} is gone"));
        };
        let total = conv.apply(&agent.total)?;
        tracing::info!(framework = %fid, agent = %aid, ?kind, "applying an offer operation");
        agent.total = total.clone();
        agent.changed();
        *remaining = converted.allocated_to(role);
        self.allocator.set_agent_total(aid, total);
        self.record_agent_resources(aid, Then::Checkpoint { id: aid.clone() });
        Ok(())
    }

    /// An operator's conversion on `aid`'s free resources: answered once
    /// recorded. Outstanding offers of the agent are rescinded first, so
    /// that what they hold can be converted.
    pub fn request_conversion(
        &mut self,
        aid: &AgentID,
        kind: ConversionKind,
        (source, resources): (&[Resource], &[Resource]),
        reply: Reply,
        now: f64,
    ) {
        let result = self.begin_conversion(aid, kind, (source, resources), now);
        match result {
            Ok(conv) => self.record_agent_resources(
                aid,
                Then::Converted {
                    id: aid.clone(),
                    conversion: Box::new(conv),
                    reply,
                },
            ),
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn begin_conversion(
        &mut self,
        aid: &AgentID,
        kind: ConversionKind,
        (source, resources): (&[Resource], &[Resource]),
        now: f64,
    ) -> Result<Conversion, ApiError> {
        if aid.value.is_empty() {
            return Err(ApiError::BadRequest("'agent_id' must not be empty".into()));
        }
        let Some(agent) = self.agents.get(aid) else {
            return Err(ApiError::NotFound(format!("Agent '{aid}' not found")));
        };
        if self.converting.contains_key(aid) {
            return Err(ApiError::Unavailable(format!(
                "A change of agent '{aid}''s resources is being recorded; retry"
            )));
        }
        let conv = kind
            .of(source, resources, None)
            .map_err(|e| ApiError::BadRequest(format!("Invalid {kind:?} request: {e}")))?;
        for r in conv.converted.iter() {
            let role = r.reservation_role();
            if role != "*" {
                super::frameworks::validate_role(role).map_err(ApiError::BadRequest)?;
            }
        }
        if kind == ConversionKind::Create {
            self.check_new_volumes(aid, &conv)
                .map_err(ApiError::BadRequest)?;
        }
        if !agent.total.contains(&conv.consumed) {
            return Err(ApiError::Conflict(format!(
                "Agent '{aid}' does not have the resources to {kind:?}: {}",
                conv.apply(&agent.total).err().unwrap_or_default()
            )));
        }
        // Free what outstanding offers hold, then hold what is consumed.
        let offers: Vec<OfferID> = agent.offers.iter().cloned().collect();
        for id in offers {
            self.rescind_offer(&id, now);
        }
        if !self.allocator.take_free(aid, &conv.consumed) {
            return Err(ApiError::Conflict(format!(
                "Resources to {kind:?} on agent '{aid}' are in use by tasks or executors"
            )));
        }
        // The book's total changes once the record is written; meanwhile
        // what it consumes is held out of offers, and records written for
        // this agent (offer operations) already include it.
        self.converting.insert(aid.clone(), conv.clone());
        tracing::info!(agent = %aid, ?kind, "operator conversion being recorded");
        Ok(conv)
    }

    /// A volume's persistence id must be new on the agent.
    /// (The operator's conversion being recorded counts: its volumes exist
    /// once it is written.)
    fn check_new_volumes(&self, aid: &AgentID, conv: &Conversion) -> Result<(), String> {
        let Some(total) = self.projected_total(aid) else {
            return Ok(());
        };
        for v in conv.converted.iter() {
            if let Some(id) = conversions::persistence_id(v)
                && total
                    .iter()
                    .any(|r| conversions::persistence_id(r) == Some(id))
            {
                return Err(format!(
                    "persistence id '{id}' already exists on agent {aid}"
                ));
            }
        }
        Ok(())
    }

    /// The agent's total with the operator's conversion being recorded
    /// (if any) applied: what the next record must hold.
    fn projected_total(&self, aid: &AgentID) -> Option<Resources> {
        let total = &self.agents.get(aid)?.total;
        Some(match self.converting.get(aid) {
            Some(c) => c.apply(total).unwrap_or_else(|_| total.clone()),
            None => total.clone(),
        })
    }

    /// Queues the agent's checkpointed resources for the registry.
    pub(crate) fn record_agent_resources(&mut self, aid: &AgentID, then: Then) {
        let resources = self
            .projected_total(aid)
            .map(|t| conversions::checkpointed(&t).into_vec())
            .unwrap_or_default();
        self.queue_write(
            RegistryOp::SetAgentResources {
                id: aid.clone(),
                resources,
            },
            then,
        );
    }

    /// The registry recorded `resources` as `aid`'s checkpointed set.
    pub(crate) fn agent_resources_written(&mut self, aid: &AgentID, resources: &[Resource]) {
        self.agent_resources.insert(aid.clone(), resources.to_vec());
    }

    /// Sends the agent the checkpointed resources of its current total.
    pub(crate) fn send_checkpoint(&self, aid: &AgentID) {
        if let Some(a) = self.agents.get(aid) {
            let resources = conversions::checkpointed(&a.total).into_vec();
            self.send_to_agent(aid, AgentEvent::CheckpointResources { resources });
        }
    }

    /// An operator's conversion was written (`ok`) or failed: offer what
    /// it made (and tell the agent), or undo it.
    pub(crate) fn finish_conversion(&mut self, aid: &AgentID, conv: &Conversion, ok: bool) {
        self.converting.remove(aid);
        let Some(agent) = self.agents.get_mut(aid) else {
            return;
        };
        if ok {
            match conv.apply(&agent.total) {
                Ok(total) => {
                    agent.total = total.clone();
                    agent.changed();
                    self.allocator.set_agent_total(aid, total);
                    self.allocator.give_free(aid, &conv.converted);
                    self.send_checkpoint(aid);
                }
                Err(e) => {
                    tracing::error!(agent = %aid, "a recorded conversion no longer applies: {e}")
                }
            }
        } else {
            self.allocator.give_free(aid, &conv.consumed);
            // Records queued meanwhile (offer operations) held this
            // conversion: one more without it, so the registry ends right.
            self.record_agent_resources(aid, Then::Checkpoint { id: aid.clone() });
        }
        self.allocation_wanted = true;
    }

    /// An agent's total as it (re-)registers: its static resources with
    /// the checkpointed ones the registry records (or, if the registry has
    /// none for it, those the agent reports). Returns the total and
    /// whether the agent must be sent the registry's set.
    pub(crate) fn registered_total(
        &self,
        aid: &AgentID,
        info: &AgentInfo,
        reported: &[Resource],
    ) -> (Resources, bool) {
        let static_total = Resources::from_wire(
            info.resources
                .iter()
                .filter(|r| !conversions::is_checkpointed(r))
                .cloned(),
        );
        let (source, resend) = match self.agent_resources.get(aid) {
            Some(recorded) => {
                let same = Resources::from_wire(recorded.iter().cloned())
                    == Resources::from_wire(reported.iter().cloned());
                (recorded.as_slice(), !same)
            }
            None => (reported, false),
        };
        let (total, dropped) = conversions::with_checkpointed(&static_total, source);
        for d in dropped {
            tracing::warn!(agent = %aid, resource = ?d, "the agent no longer has what a checkpointed resource was made of; dropping it");
        }
        (total, resend)
    }

    /// Checkpointed resources from the registry (at start).
    pub fn recover_agent_resources(&mut self, records: Vec<(AgentID, Vec<Resource>)>) {
        self.agent_resources.extend(records);
    }
}

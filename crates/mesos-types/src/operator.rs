//! The v1 operator API (`POST /api/v1` on the master): calls are
//! `{"type": "X", "x": {...}}` like the scheduler API's. Only the payloads
//! of the calls we serve are typed (unknown payload fields are ignored, as
//! Mesos's JSON parser does); a known-but-unserved call gets a clear 501.

use crate::enums::OperatorCallType;
use crate::ids::{AgentID, FrameworkID};
use crate::messages::DurationInfo;
use crate::policy::{MachineID, QuotaConfig, QuotaRequest, Schedule, WeightInfo};
use crate::resources::Resource;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatorCall {
    #[serde(rename = "type")]
    pub kind: OperatorCallType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_agent_gone: Option<MarkAgentGone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<Teardown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_weights: Option<UpdateWeights>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_quota: Option<UpdateQuota>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_quota: Option<SetQuota>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_quota: Option<RemoveQuota>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_maintenance_schedule: Option<UpdateMaintenanceSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_maintenance: Option<Machines>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_maintenance: Option<Machines>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_agent: Option<DrainAgent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivate_agent: Option<AgentRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactivate_agent: Option<AgentRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_resources: Option<AgentResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreserve_resources: Option<AgentResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_volumes: Option<AgentVolumes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroy_volumes: Option<AgentVolumes>,
}

/// RESERVE_RESOURCES / UNRESERVE_RESOURCES (`source` is accepted and the
/// reservations on `resources` decide, as for the offer operation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentResources {
    pub agent_id: AgentID,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<Resource>,
    #[serde(default)]
    pub resources: Vec<Resource>,
}

/// CREATE_VOLUMES / DESTROY_VOLUMES.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentVolumes {
    pub agent_id: AgentID,
    #[serde(default)]
    pub volumes: Vec<Resource>,
}

impl OperatorCall {
    /// A call of `kind` with no payload.
    pub fn new(kind: OperatorCallType) -> OperatorCall {
        OperatorCall {
            kind,
            mark_agent_gone: None,
            teardown: None,
            update_weights: None,
            update_quota: None,
            set_quota: None,
            remove_quota: None,
            update_maintenance_schedule: None,
            start_maintenance: None,
            stop_maintenance: None,
            drain_agent: None,
            deactivate_agent: None,
            reactivate_agent: None,
            reserve_resources: None,
            unreserve_resources: None,
            create_volumes: None,
            destroy_volumes: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateWeights {
    #[serde(default)]
    pub weight_infos: Vec<WeightInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateQuota {
    #[serde(default, deserialize_with = "crate::json::de::scalar")]
    pub force: bool,
    #[serde(default)]
    pub quota_configs: Vec<QuotaConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetQuota {
    pub quota_request: QuotaRequest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoveQuota {
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateMaintenanceSchedule {
    pub schedule: Schedule,
}

/// START_MAINTENANCE / STOP_MAINTENANCE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machines {
    #[serde(default)]
    pub machines: Vec<MachineID>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrainAgent {
    pub agent_id: AgentID,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_grace_period: Option<DurationInfo>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub mark_gone: Option<bool>,
}

/// DEACTIVATE_AGENT / REACTIVATE_AGENT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRef {
    pub agent_id: AgentID,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Teardown {
    pub framework_id: FrameworkID,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkAgentGone {
    pub agent_id: AgentID,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_agent_gone_parses_and_other_payloads_are_ignored() {
        let c: OperatorCall = serde_json::from_str(
            r#"{"type":"MARK_AGENT_GONE","mark_agent_gone":{"agent_id":{"value":"S1"}}}"#,
        )
        .unwrap();
        assert_eq!(c.kind, OperatorCallType::MARK_AGENT_GONE);
        assert_eq!(c.mark_agent_gone.unwrap().agent_id.value, "S1");
        let c: OperatorCall =
            serde_json::from_str(r#"{"type":"GET_QUOTA","get_quota":{}}"#).unwrap();
        assert_eq!(c.kind, OperatorCallType::GET_QUOTA);
        let c: OperatorCall = serde_json::from_str(
            r#"{"type":"TEARDOWN","teardown":{"framework_id":{"value":"F1"}}}"#,
        )
        .unwrap();
        assert_eq!(c.teardown.unwrap().framework_id.value, "F1");
        assert!(serde_json::from_str::<OperatorCall>(r#"{"type":"NO_SUCH"}"#).is_err());
    }
}

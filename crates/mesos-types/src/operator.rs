//! The v1 operator API (`POST /api/v1` on the master and on the agent):
//! calls are `{"type": "X", "x": {...}}` like the scheduler API's. Only the
//! payloads of the calls we serve are typed (unknown payload fields are
//! ignored, as Mesos's JSON parser does); a known-but-unserved call gets a
//! clear 501. The logging and files payloads are the same message on both
//! daemons (`mesos.v1.master.Call` and `mesos.v1.agent.Call` share them).

use crate::enums::{AgentCallType, OperatorCallType};
use crate::ids::{AgentID, ContainerID, FrameworkID};
use crate::messages::DurationInfo;
use crate::policy::{MachineID, QuotaConfig, QuotaRequest, Schedule, WeightInfo};
use crate::resources::Resource;
use serde::{Deserialize, Serialize};

/// `mesos.v1.master.Call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatorCall {
    #[serde(rename = "type")]
    pub kind: OperatorCallType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_agent_gone: Option<MarkAgentGone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<Teardown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_logging_level: Option<SetLoggingLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_files: Option<ListFiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_file: Option<ReadFile>,
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
            set_logging_level: None,
            list_files: None,
            read_file: None,
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

/// DRAIN_AGENT. Its `max_grace_period` is a `google.protobuf.Duration`
/// (`{"seconds": s, "nanos": n}`, what the DC/OS UI sends); the
/// `DurationInfo` form (`{"nanoseconds": n}`) of `DrainConfig` is accepted
/// too. `mark_gone` may come wrapped as `{"value": b}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrainAgent {
    pub agent_id: AgentID,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "grace_period",
        serialize_with = "as_protobuf_duration"
    )]
    pub max_grace_period: Option<DurationInfo>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wrapped_bool"
    )]
    pub mark_gone: Option<bool>,
}

fn grace_period<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<DurationInfo>, D::Error> {
    use serde::de::Error;
    let v = Option::<serde_json::Value>::deserialize(d)?;
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let int = |key: &str| -> Result<i64, D::Error> {
        match v.get(key) {
            None | Some(serde_json::Value::Null) => Ok(0),
            Some(x) => crate::json::from_value::<ScalarI64>(serde_json::json!({ "v": x }))
                .map(|s| s.v)
                .map_err(|e| D::Error::custom(format!("'{key}': {e}"))),
        }
    };
    if v.get("nanoseconds").is_some() {
        return Ok(Some(DurationInfo {
            nanoseconds: int("nanoseconds")?,
        }));
    }
    let (secs, sub) = (int("seconds")?, int("nanos")?);
    let nanos = secs
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(sub))
        .ok_or_else(|| D::Error::custom("'max_grace_period' is out of range"))?;
    Ok(Some(DurationInfo { nanoseconds: nanos }))
}

#[derive(Deserialize)]
struct ScalarI64 {
    #[serde(deserialize_with = "crate::json::de::scalar")]
    v: i64,
}

fn as_protobuf_duration<S: serde::Serializer>(
    d: &Option<DurationInfo>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let n = d.map(|d| d.nanoseconds).unwrap_or(0);
    serde_json::json!({"seconds": n / 1_000_000_000, "nanos": n % 1_000_000_000}).serialize(s)
}

fn wrapped_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    use serde::de::Error;
    let v = Option::<serde_json::Value>::deserialize(d)?;
    let v = match v {
        Some(serde_json::Value::Object(mut o)) => o.remove("value"),
        other => other,
    };
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(b)),
        Some(serde_json::Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(other) => Err(D::Error::custom(format!("expected a boolean, got {other}"))),
    }
}

/// DEACTIVATE_AGENT / REACTIVATE_AGENT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRef {
    pub agent_id: AgentID,
}

/// `mesos.v1.agent.Call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentOperatorCall {
    #[serde(rename = "type")]
    pub kind: AgentCallType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_logging_level: Option<SetLoggingLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_files: Option<ListFiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_file: Option<ReadFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_containers: Option<GetContainers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_container: Option<KillContainer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Teardown {
    pub framework_id: FrameworkID,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkAgentGone {
    pub agent_id: AgentID,
}

/// `SetLoggingLevel { required uint32 level; required DurationInfo duration; }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetLoggingLevel {
    #[serde(deserialize_with = "crate::json::de::scalar")]
    pub level: u32,
    pub duration: DurationInfo,
}

/// `ListFiles { required string path; }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListFiles {
    pub path: String,
}

/// `ReadFile { required string path; required uint64 offset; optional uint64 length; }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadFile {
    pub path: String,
    #[serde(deserialize_with = "crate::json::de::scalar")]
    pub offset: u64,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub length: Option<u64>,
}

/// `GetContainers { optional bool show_nested; optional bool show_standalone; }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetContainers {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub show_nested: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub show_standalone: Option<bool>,
}

/// `KillContainer { required ContainerID container_id; optional int32 signal; }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KillContainer {
    pub container_id: ContainerID,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub signal: Option<i32>,
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

    #[test]
    fn agent_calls_parse_leniently() {
        let c: AgentOperatorCall = crate::json::from_slice(
            br#"{"type":"READ_FILE","read_file":{"path":"/slave/log","offset":"5","length":null}}"#,
        )
        .unwrap();
        assert_eq!(c.kind, AgentCallType::READ_FILE);
        let r = c.read_file.unwrap();
        assert_eq!(
            (r.path.as_str(), r.offset, r.length),
            ("/slave/log", 5, None)
        );
        let c: AgentOperatorCall = serde_json::from_str(
            r#"{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":2,"duration":{"nanoseconds":"1000"}}}"#,
        )
        .unwrap();
        let s = c.set_logging_level.unwrap();
        assert_eq!((s.level, s.duration.nanoseconds), (2, 1000));
        let c: AgentOperatorCall = serde_json::from_str(
            r#"{"type":"KILL_CONTAINER","kill_container":{"container_id":{"value":"c1"},"signal":15}}"#,
        )
        .unwrap();
        assert_eq!(c.kill_container.unwrap().signal, Some(15));
        // A negative offset is not a uint64.
        assert!(
            serde_json::from_str::<AgentOperatorCall>(
                r#"{"type":"READ_FILE","read_file":{"path":"/x","offset":-1}}"#
            )
            .is_err()
        );
        assert!(serde_json::from_str::<AgentOperatorCall>(r#"{"type":"GET_AGENTS"}"#).is_err());
    }
}

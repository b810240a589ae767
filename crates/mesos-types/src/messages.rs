//! Core `mesos.v1` messages: FrameworkInfo, TaskInfo, TaskStatus, Offer, ...
//!
//! Unknown JSON keys are ignored (serde's default), as Mesos ignores them.
//! Rarely inspected sub-messages (ContainerInfo, HealthCheck, Labels, ...)
//! are kept as raw JSON so they pass through unchanged.

use crate::enums::{
    EnvVarType, ExecutorType, FrameworkCapability, OperationType, Reason, Source, TaskState,
    ValueType, lenient,
};
use crate::ids::*;
use crate::resources::Resource;
use crate::values::{Ranges, Scalar, Set, Text};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Capability {
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::deserialize"
    )]
    pub kind: Option<FrameworkCapability>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FrameworkInfo {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<FrameworkID>,
    #[serde(default, deserialize_with = "crate::json::de::scalar")]
    pub failover_timeout: f64,
    #[serde(default, deserialize_with = "crate::json::de::scalar")]
    pub checkpoint: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webui_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Capability>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_filters: Option<Json>,
}

impl FrameworkInfo {
    pub fn has_capability(&self, c: FrameworkCapability) -> bool {
        self.capabilities.iter().any(|x| x.kind == Some(c))
    }

    /// The roles this framework subscribes with (`roles` for MULTI_ROLE, else `role` or `*`).
    pub fn effective_roles(&self) -> Vec<String> {
        if self.has_capability(FrameworkCapability::MULTI_ROLE) {
            self.roles.clone()
        } else {
            vec![self.role.clone().unwrap_or_else(|| "*".into())]
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct URI {
    pub value: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub executable: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub extract: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub cache: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EnvVariable {
    pub name: String,
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::deserialize"
    )]
    pub kind: Option<EnvVarType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Json>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Environment {
    #[serde(default)]
    pub variables: Vec<EnvVariable>,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandInfo {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<URI>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(default = "default_true", deserialize_with = "crate::json::de::scalar")]
    pub shell: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl Default for CommandInfo {
    fn default() -> Self {
        CommandInfo {
            uris: vec![],
            environment: None,
            shell: true,
            value: None,
            arguments: vec![],
            user: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct DurationInfo {
    #[serde(deserialize_with = "crate::json::de::scalar")]
    pub nanoseconds: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct KillPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<DurationInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ExecutorInfo {
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::deserialize"
    )]
    pub kind: Option<ExecutorType>,
    pub executor_id: ExecutorID,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_id: Option<FrameworkID>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Json>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_grace_period: Option<DurationInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Json>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TaskInfo {
    #[serde(default)]
    pub name: String,
    pub task_id: TaskID,
    #[serde(default)]
    pub agent_id: AgentID,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_policy: Option<KillPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_time: Option<DurationInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Json>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TaskGroupInfo {
    #[serde(default)]
    pub tasks: Vec<TaskInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ContainerStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<ContainerID>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_infos: Vec<Json>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub executor_pid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStatus {
    pub task_id: TaskID,
    pub state: TaskState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::deserialize"
    )]
    pub source: Option<Source>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::deserialize"
    )]
    pub reason: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentID>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<ExecutorID>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub timestamp: Option<f64>,
    /// Base64 of 16 random bytes; present only on reliable (agent-stream) updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub healthy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_status: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_status: Option<ContainerStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_time: Option<Json>,
}

impl TaskStatus {
    pub fn new(task_id: TaskID, state: TaskState) -> TaskStatus {
        TaskStatus {
            task_id,
            state,
            message: None,
            source: None,
            reason: None,
            data: None,
            agent_id: None,
            executor_id: None,
            timestamp: None,
            uuid: None,
            healthy: None,
            check_status: None,
            labels: None,
            container_status: None,
            unreachable_time: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(deserialize_with = "crate::json::de::scalar")]
    pub port: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct URL {
    pub scheme: String,
    pub address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ValueType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalar: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Ranges>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Set>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
}

impl Attribute {
    /// Parses `rack:r1;zone:2;ids:[1-5]`: numbers are scalars, `[..]` ranges, the rest text.
    pub fn parse_list(text: &str) -> Result<Vec<Attribute>, String> {
        let mut out = Vec::new();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once(':')
                .ok_or_else(|| format!("invalid attribute '{part}': expected name:value"))?;
            let (name, value) = (name.trim().to_string(), value.trim());
            let mut a = Attribute {
                name,
                kind: ValueType::TEXT,
                scalar: None,
                ranges: None,
                set: None,
                text: None,
            };
            if let Ok(v) = value.parse::<f64>() {
                a.kind = ValueType::SCALAR;
                a.scalar = Some(Scalar { value: v });
            } else if value.starts_with('[') {
                let r = crate::resources::Resources::parse(&format!("x:{value}"), "*")
                    .map_err(|e| e.to_string())?;
                a.kind = ValueType::RANGES;
                a.ranges = r.iter().next().and_then(|x| x.ranges.clone());
            } else if value.starts_with('{') {
                return Err(format!("invalid attribute '{part}': sets are not allowed"));
            } else {
                a.text = Some(Text {
                    value: value.to_string(),
                });
            }
            out.push(a);
        }
        Ok(out)
    }

    /// Value as the legacy endpoints render it.
    pub fn json_value(&self) -> Json {
        match self.kind {
            ValueType::SCALAR => Json::from(self.scalar.map(|s| s.value).unwrap_or(0.0)),
            ValueType::RANGES => Json::from(self.ranges.clone().unwrap_or_default().render()),
            ValueType::SET => Json::from(self.set.clone().unwrap_or_default().render()),
            ValueType::TEXT => Json::from(self.text.clone().unwrap_or_default().value),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AgentInfo {
    pub hostname: String,
    #[serde(
        default = "default_agent_port",
        deserialize_with = "crate::json::de::scalar"
    )]
    pub port: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<AgentID>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Json>,
}

fn default_agent_port() -> i32 {
    5051
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MasterInfo {
    pub id: String,
    /// IPv4 in network byte order read as a little-endian integer.
    #[serde(deserialize_with = "crate::json::de::scalar")]
    pub ip: u32,
    #[serde(deserialize_with = "crate::json::de::scalar")]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Json>,
}

/// `MasterInfo.ip`: the address bytes in network order, read little-endian.
pub fn ipv4_to_master_ip(ip: std::net::Ipv4Addr) -> u32 {
    u32::from_le_bytes(ip.octets())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct OfferAllocationInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub id: OfferID,
    pub framework_id: FrameworkID,
    pub agent_id: AgentID,
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<URL>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub executor_ids: Vec<ExecutorID>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_info: Option<OfferAllocationInfo>,
    /// When the agent's machine is scheduled for maintenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailability: Option<crate::policy::Unavailability>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Launch {
    #[serde(default)]
    pub task_infos: Vec<TaskInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LaunchGroup {
    pub executor: ExecutorInfo,
    pub task_group: TaskGroupInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Operation {
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::deserialize"
    )]
    pub kind: Option<OperationType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<OperationID>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<Launch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_group: Option<LaunchGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve: Option<ReserveOp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreserve: Option<ResourcesOp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<VolumesOp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroy: Option<VolumesOp>,
}

/// `Offer.Operation.Reserve` (`source` is the pre-refinement form Mesos
/// also accepts; the reservations on `resources` say what is reserved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReserveOp {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<Resource>,
    #[serde(default)]
    pub resources: Vec<Resource>,
}

/// `Offer.Operation.Unreserve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ResourcesOp {
    #[serde(default)]
    pub resources: Vec<Resource>,
}

/// `Offer.Operation.Create` / `Destroy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct VolumesOp {
    #[serde(default)]
    pub volumes: Vec<Resource>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Filters {
    #[serde(
        default = "default_refuse",
        deserialize_with = "crate::json::de::scalar"
    )]
    pub refuse_seconds: f64,
}

impl Default for Filters {
    fn default() -> Self {
        Filters {
            refuse_seconds: default_refuse(),
        }
    }
}

fn default_refuse() -> f64 {
    5.0
}

/// One year: Mesos caps `refuse_seconds` there (pymesos sends 2^32-1 for "forever").
pub const MAX_REFUSE_SECONDS: f64 = 31_536_000.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Labels {
    #[serde(default)]
    pub labels: Vec<Label>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Label {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framework_info_defaults_and_unknown_keys() {
        let f: FrameworkInfo = serde_json::from_str(r#"{"user":"root","name":"x","bogus":1,"capabilities":[{"type":"NOPE"},{"type":"PARTITION_AWARE"}]}"#).unwrap();
        assert_eq!(f.failover_timeout, 0.0);
        assert!(f.has_capability(FrameworkCapability::PARTITION_AWARE));
        assert_eq!(f.effective_roles(), vec!["*".to_string()]);
    }

    #[test]
    fn command_shell_defaults_true() {
        let c: CommandInfo = serde_json::from_str(r#"{"value":"echo hi"}"#).unwrap();
        assert!(c.shell);
    }

    #[test]
    fn master_ip_is_little_endian_of_network_order() {
        assert_eq!(ipv4_to_master_ip("10.0.0.1".parse().unwrap()), 16777226);
    }

    #[test]
    fn attributes_parse() {
        let a = Attribute::parse_list("rack:r1;zone:2;ids:[1-5]").unwrap();
        assert_eq!(a[0].json_value(), "r1");
        assert_eq!(a[1].json_value(), 2.0);
        assert_eq!(a[2].json_value(), "[1-5]");
        assert!(Attribute::parse_list("x:{a}").is_err());
    }
}

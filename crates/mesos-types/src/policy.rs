//! What operators set on the master and the registry keeps: role weights,
//! quota (`mesos.v1.quota`), maintenance schedules and machine states
//! (`mesos.v1.maintenance`, `mesos.v1.allocator`), inverse offers and agent
//! draining. JSON names follow the Mesos protobufs.

use crate::ids::{AgentID, FrameworkID, OfferID};
use crate::messages::{DurationInfo, URL};
use crate::resources::Resource;
use crate::values::Scalar;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Defines a plain enum that (de)serialises as its variant name, like the
/// crate's `wire_enum!` but without an "unknown value" fallback: an
/// operator's misspelled state must be refused, not guessed.
macro_rules! wire_enum_local {
    ($(#[$m:meta])* $name:ident { $($v:ident),* $(,)? }) => {
        $(#[$m])*
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($v),* }
    };
}

/// `mesos.v1.WeightInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightInfo {
    #[serde(deserialize_with = "crate::json::de::scalar")]
    pub weight: f64,
    #[serde(default)]
    pub role: String,
}

/// `mesos.v1.QuotaConfig` (quota v2): per resource name, what a role is
/// guaranteed and the most it may hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct QuotaConfig {
    pub role: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub guarantees: BTreeMap<String, Scalar>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Scalar>,
}

impl QuotaConfig {
    /// Quota of nothing: the role's default (no guarantee, no limit).
    pub fn is_default(&self) -> bool {
        self.guarantees.is_empty() && self.limits.is_empty()
    }
}

/// `mesos.v1.quota.QuotaRequest` (legacy `POST /quota`, SET_QUOTA): the
/// guarantee is also the limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct QuotaRequest {
    #[serde(default, deserialize_with = "crate::json::de::scalar")]
    pub force: bool,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub guarantee: Vec<Resource>,
}

/// `mesos.v1.quota.QuotaInfo` (the v1 view of a quota, in `QuotaStatus.infos`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct QuotaInfo {
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(default)]
    pub guarantee: Vec<Resource>,
}

/// `mesos.v1.quota.QuotaStatus`: what `GET /quota` and GET_QUOTA answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct QuotaStatus {
    #[serde(default)]
    pub infos: Vec<QuotaInfo>,
    #[serde(default)]
    pub configs: Vec<QuotaConfig>,
}

/// `mesos.v1.MachineID`: a machine is named by hostname, IP or both.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct MachineID {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// `mesos.v1.TimeInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct TimeInfo {
    #[serde(deserialize_with = "crate::json::de::scalar")]
    pub nanoseconds: i64,
}

/// `mesos.v1.Unavailability`: from `start`, for `duration` (none = forever).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Unavailability {
    pub start: TimeInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<DurationInfo>,
}

/// `mesos.v1.maintenance.Window`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Window {
    #[serde(default)]
    pub machine_ids: Vec<MachineID>,
    pub unavailability: Unavailability,
}

/// `mesos.v1.maintenance.Schedule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Schedule {
    #[serde(default)]
    pub windows: Vec<Window>,
}

wire_enum_local!(
    /// `mesos.v1.allocator.InverseOfferStatus.Status`.
    InverseOfferState { UNKNOWN, ACCEPT, DECLINE }
);

/// `mesos.v1.allocator.InverseOfferStatus`: a framework's answer about one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InverseOfferStatus {
    pub status: InverseOfferState,
    pub framework_id: FrameworkID,
    pub timestamp: TimeInfo,
}

/// `mesos.v1.maintenance.ClusterStatus.DrainingMachine`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DrainingMachine {
    pub id: MachineID,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<InverseOfferStatus>,
}

/// `mesos.v1.maintenance.ClusterStatus`: `GET /maintenance/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ClusterStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub draining_machines: Vec<DrainingMachine>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub down_machines: Vec<MachineID>,
}

/// `mesos.v1.InverseOffer`: the master asks a framework to give an agent
/// back by `unavailability.start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InverseOffer {
    pub id: OfferID,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<URL>,
    pub framework_id: FrameworkID,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentID>,
    pub unavailability: Unavailability,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
}

wire_enum_local!(
    /// `mesos.v1.DrainState`.
    DrainState { UNKNOWN, DRAINING, DRAINED }
);

/// `mesos.v1.DrainConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DrainConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_grace_period: Option<DurationInfo>,
    #[serde(default, deserialize_with = "crate::json::de::scalar")]
    pub mark_gone: bool,
}

/// `mesos.v1.DrainInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrainInfo {
    pub state: DrainState,
    pub config: DrainConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_and_quota_parse_as_the_mesos_docs_write_them() {
        let s: Schedule = crate::json::from_slice(
            br#"{"windows":[{"machine_ids":[{"hostname":"h1","ip":"10.0.0.1"}],
                 "unavailability":{"start":{"nanoseconds":1443830400000000000},
                                   "duration":{"nanoseconds":3600000000000}}}]}"#,
        )
        .unwrap();
        assert_eq!(s.windows[0].machine_ids[0].hostname.as_deref(), Some("h1"));
        assert_eq!(
            s.windows[0].unavailability.start.nanoseconds,
            1_443_830_400_000_000_000
        );
        let q: QuotaConfig = crate::json::from_slice(
            br#"{"role":"dev","guarantees":{"cpus":{"value":1}},"limits":{"cpus":{"value":2.5}}}"#,
        )
        .unwrap();
        assert_eq!(q.limits["cpus"].value, 2.5);
        let r: QuotaRequest = crate::json::from_slice(
            br#"{"role":"dev","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}"#,
        )
        .unwrap();
        assert_eq!(r.guarantee[0].name, "cpus");
        assert!(serde_json::from_str::<DrainState>(r#""DRAINNG""#).is_err());
    }
}

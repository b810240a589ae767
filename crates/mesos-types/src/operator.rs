//! The v1 operator API (`POST /api/v1` on the master): calls are
//! `{"type": "X", "x": {...}}` like the scheduler API's. Only the payloads
//! of the calls we serve are typed; the others are accepted as any JSON
//! so that a known-but-unserved call gets a clear 501, not a parse error.

use crate::enums::OperatorCallType;
use crate::ids::{AgentID, FrameworkID};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatorCall {
    #[serde(rename = "type")]
    pub kind: OperatorCallType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_agent_gone: Option<MarkAgentGone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<Teardown>,
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

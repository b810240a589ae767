//! `mesos.v1.scheduler.Call` and `Event`: the scheduler HTTP API.
//!
//! The payload of a call or event sits under the lowercase name of its type
//! (`{"type":"ACCEPT","accept":{...}}`); pymesos dispatches on exactly that.

use crate::enums::lenient;
use crate::ids::*;
use crate::messages::*;
use crate::policy::InverseOffer;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

pub use crate::enums::{CallType, EventType};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Subscribe {
    pub framework_info: FrameworkInfo,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed_roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Accept {
    #[serde(default)]
    pub offer_ids: Vec<OfferID>,
    #[serde(default)]
    pub operations: Vec<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Decline {
    #[serde(default)]
    pub offer_ids: Vec<OfferID>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Roles {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Kill {
    pub task_id: TaskID,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentID>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_policy: Option<KillPolicy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Shutdown {
    pub executor_id: ExecutorID,
    pub agent_id: AgentID,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Acknowledge {
    pub agent_id: AgentID,
    pub task_id: TaskID,
    pub uuid: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReconcileTask {
    pub task_id: TaskID,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentID>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Reconcile {
    #[serde(default)]
    pub tasks: Vec<ReconcileTask>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Message {
    pub agent_id: AgentID,
    pub executor_id: ExecutorID,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_id: Option<FrameworkID>,
    #[serde(rename = "type")]
    pub kind: CallType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<Subscribe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<Accept>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline: Option<Decline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revive: Option<Roles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress: Option<Roles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<Kill>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<Shutdown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge: Option<Acknowledge>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile: Option<Reconcile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_inverse_offers: Option<InverseOfferReply>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_inverse_offers: Option<InverseOfferReply>,
}

impl Call {
    pub fn new(kind: CallType, framework_id: Option<FrameworkID>) -> Call {
        Call {
            framework_id,
            kind,
            subscribe: None,
            accept: None,
            decline: None,
            revive: None,
            suppress: None,
            kill: None,
            shutdown: None,
            acknowledge: None,
            reconcile: None,
            message: None,
            request: None,
            accept_inverse_offers: None,
            decline_inverse_offers: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscribed {
    pub framework_id: FrameworkID,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub heartbeat_interval_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_info: Option<MasterInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Offers {
    #[serde(default)]
    pub offers: Vec<Offer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InverseOffers {
    #[serde(default)]
    pub inverse_offers: Vec<InverseOffer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateOperationStatus {
    pub status: OperationStatus,
}

/// `mesos.v1.OperationStatus`: what became of an offer operation that
/// carried an `id`. Sent by the master without a `uuid`: nothing to
/// acknowledge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<OperationID>,
    #[serde(deserialize_with = "lenient_operation_state")]
    pub state: crate::enums::OperationState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub converted_resources: Vec<crate::resources::Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentID>,
}

fn lenient_operation_state<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<crate::enums::OperationState, D::Error> {
    Ok(lenient::deserialize(d)?.unwrap_or(crate::enums::OperationState::OPERATION_UNKNOWN))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescindInverseOffer {
    pub inverse_offer_id: OfferID,
}

/// ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct InverseOfferReply {
    #[serde(default)]
    pub inverse_offer_ids: Vec<OfferID>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rescind {
    pub offer_id: OfferID,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    pub status: TaskStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Failure {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentID>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<ExecutorID>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::de::opt"
    )]
    pub status: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorMessage {
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type", deserialize_with = "lenient_event_type")]
    pub kind: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed: Option<Subscribed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offers: Option<Offers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverse_offers: Option<InverseOffers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescind: Option<Rescind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescind_inverse_offer: Option<RescindInverseOffer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_operation_status: Option<UpdateOperationStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Update>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorMessage>,
}

fn lenient_event_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<EventType, D::Error> {
    Ok(lenient::deserialize(d)?.unwrap_or(EventType::UNKNOWN))
}

impl Event {
    fn bare(kind: EventType) -> Event {
        Event {
            kind,
            subscribed: None,
            offers: None,
            inverse_offers: None,
            rescind: None,
            rescind_inverse_offer: None,
            update_operation_status: None,
            update: None,
            message: None,
            failure: None,
            error: None,
        }
    }
    pub fn heartbeat() -> Event {
        Event::bare(EventType::HEARTBEAT)
    }
    pub fn subscribed(s: Subscribed) -> Event {
        Event {
            subscribed: Some(s),
            ..Event::bare(EventType::SUBSCRIBED)
        }
    }
    pub fn offers(offers: Vec<Offer>) -> Event {
        Event {
            offers: Some(Offers { offers }),
            ..Event::bare(EventType::OFFERS)
        }
    }
    pub fn inverse_offers(inverse_offers: Vec<InverseOffer>) -> Event {
        Event {
            inverse_offers: Some(InverseOffers { inverse_offers }),
            ..Event::bare(EventType::INVERSE_OFFERS)
        }
    }
    pub fn rescind_inverse_offer(inverse_offer_id: OfferID) -> Event {
        Event {
            rescind_inverse_offer: Some(RescindInverseOffer { inverse_offer_id }),
            ..Event::bare(EventType::RESCIND_INVERSE_OFFER)
        }
    }
    pub fn update_operation_status(status: OperationStatus) -> Event {
        Event {
            update_operation_status: Some(UpdateOperationStatus { status }),
            ..Event::bare(EventType::UPDATE_OPERATION_STATUS)
        }
    }
    pub fn rescind(offer_id: OfferID) -> Event {
        Event {
            rescind: Some(Rescind { offer_id }),
            ..Event::bare(EventType::RESCIND)
        }
    }
    pub fn update(status: TaskStatus) -> Event {
        Event {
            update: Some(Update { status }),
            ..Event::bare(EventType::UPDATE)
        }
    }
    pub fn message(m: Message) -> Event {
        Event {
            message: Some(m),
            ..Event::bare(EventType::MESSAGE)
        }
    }
    pub fn failure(f: Failure) -> Event {
        Event {
            failure: Some(f),
            ..Event::bare(EventType::FAILURE)
        }
    }
    pub fn error(message: impl Into<String>) -> Event {
        Event {
            error: Some(ErrorMessage {
                message: message.into(),
            }),
            ..Event::bare(EventType::ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pymesos_style_calls_parse() {
        let c: Call =
            serde_json::from_str(r#"{"type":"REVIVE","framework_id":{"value":"f"}}"#).unwrap();
        assert_eq!(c.kind, CallType::REVIVE);
        let c: Call = serde_json::from_str(
            r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","failover_timeout":100,"command.environment":{}}}}"#,
        )
        .unwrap();
        assert_eq!(c.subscribe.unwrap().framework_info.failover_timeout, 100.0);
        assert!(serde_json::from_str::<Call>(r#"{"type":"BOGUS"}"#).is_err());
    }

    #[test]
    fn events_carry_lowercase_payload_key() {
        let e = serde_json::to_value(Event::error("x")).unwrap();
        assert_eq!(e["type"], "ERROR");
        assert_eq!(e["error"]["message"], "x");
        let h = serde_json::to_string(&Event::heartbeat()).unwrap();
        assert_eq!(h, r#"{"type":"HEARTBEAT"}"#);
    }
}

//! `application/x-protobuf` for the Mesos v1 HTTP APIs, as a codec at the
//! edges: the serde types of `mesos-types` stay the only model, and
//! protobuf bytes are transcoded to and from the JSON those types read and
//! write.
//!
//! * `proto/` holds our own proto2 definitions of the v1 messages (packages
//!   `mesos.v1`, `mesos.v1.scheduler`, `.executor`, `.master`, `.agent`,
//!   ...), compiled at build time by protox into a descriptor set
//!   ([`pool`]).
//! * [`transcode`] walks a message's descriptor to turn JSON into a
//!   protobuf message and back with Mesos's JSON conventions (stout's, spec
//!   0.0 and 0.2): proto field names, enums by name, 64-bit integers as
//!   numbers, bytes as base64, unknown keys ignored, `null` unset.
//! * [`ContentType`] is what handlers use: it is picked from the request's
//!   `Content-Type` ([`ContentType::from_content_type`]) or `Accept`
//!   ([`ContentType::negotiate`]), and decodes calls and encodes
//!   responses and RecordIO event records in either encoding.
//!
//! Handlers change only at their edges: where they parsed JSON they call
//! [`ContentType::decode`], where they wrote JSON, [`ContentType::encode`]
//! or [`ContentType::record`]. A v1 handler (here the agent's operator
//! API, whose messages are defined too) looks like this:
//!
//! ```
//! use mesos_proto::{CodecError, ContentType, Message};
//! use serde_json::{Value, json};
//!
//! fn handle(content_type: Option<&str>, accept: Option<&str>, body: &[u8])
//!     -> Result<(ContentType, Vec<u8>), CodecError> // status: CodecError::status()
//! {
//!     let call: Value = ContentType::from_content_type(content_type)? // 400 / 415
//!         .decode(Message::AgentCall, body)?; // 400 naming what was wrong
//!     let answer = ContentType::negotiate(accept, &[])?; // 406
//!     assert_eq!(call["type"], "GET_HEALTH");
//!     let response = json!({"type": "GET_HEALTH", "get_health": {"healthy": true}});
//!     Ok((answer, answer.encode(Message::AgentResponse, &response)?))
//! }
//!
//! let call = ContentType::Protobuf
//!     .encode(Message::AgentCall, &json!({"type": "GET_HEALTH"}))
//!     .unwrap();
//! let (ct, body) = handle(Some("application/x-protobuf"), Some("application/x-protobuf"), &call)
//!     .unwrap();
//! assert_eq!((ct.mime(), body), ("application/x-protobuf", b"\x08\x01\x12\x02\x08\x01".to_vec()));
//! ```

mod media;
pub mod transcode;

pub use media::{CodecError, ContentType};

use prost_reflect::{DescriptorPool, MessageDescriptor};
use std::sync::LazyLock;

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    // Built by build.rs from the crate's own files; a unit test loads it,
    // so a bad set fails the build's tests, never a request.
    DescriptorPool::decode(&include_bytes!(concat!(env!("OUT_DIR"), "/mesos_v1.bin"))[..])
        .expect("the embedded descriptor set is valid")
});

/// Every message our `.proto` files define.
pub fn pool() -> &'static DescriptorPool {
    &POOL
}

/// The top-level messages of the v1 HTTP APIs: what a request body, a
/// response body or one RecordIO record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Message {
    SchedulerCall,
    SchedulerEvent,
    ExecutorCall,
    ExecutorEvent,
    MasterCall,
    MasterResponse,
    MasterEvent,
    AgentCall,
    AgentResponse,
}

impl Message {
    pub const ALL: [Message; 9] = [
        Message::SchedulerCall,
        Message::SchedulerEvent,
        Message::ExecutorCall,
        Message::ExecutorEvent,
        Message::MasterCall,
        Message::MasterResponse,
        Message::MasterEvent,
        Message::AgentCall,
        Message::AgentResponse,
    ];

    /// The protobuf full name, e.g. `mesos.v1.scheduler.Call`.
    pub fn full_name(self) -> &'static str {
        match self {
            Message::SchedulerCall => "mesos.v1.scheduler.Call",
            Message::SchedulerEvent => "mesos.v1.scheduler.Event",
            Message::ExecutorCall => "mesos.v1.executor.Call",
            Message::ExecutorEvent => "mesos.v1.executor.Event",
            Message::MasterCall => "mesos.v1.master.Call",
            Message::MasterResponse => "mesos.v1.master.Response",
            Message::MasterEvent => "mesos.v1.master.Event",
            Message::AgentCall => "mesos.v1.agent.Call",
            Message::AgentResponse => "mesos.v1.agent.Response",
        }
    }

    /// The name Mesos uses in its error messages (`scheduler::Call`, ...).
    pub fn short_name(self) -> &'static str {
        match self {
            Message::SchedulerCall => "scheduler::Call",
            Message::SchedulerEvent => "scheduler::Event",
            Message::ExecutorCall => "executor::Call",
            Message::ExecutorEvent => "executor::Event",
            Message::MasterCall => "master::Call",
            Message::MasterResponse => "master::Response",
            Message::MasterEvent => "master::Event",
            Message::AgentCall => "agent::Call",
            Message::AgentResponse => "agent::Response",
        }
    }

    pub fn descriptor(self) -> MessageDescriptor {
        match pool().get_message_by_name(self.full_name()) {
            Some(d) => d,
            // Every name above is defined in proto/ (tested).
            None => unreachable!("{} is defined in proto/", self.full_name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_top_level_message_is_defined() {
        for m in Message::ALL {
            assert_eq!(m.descriptor().full_name(), m.full_name());
        }
        assert!(pool().get_message_by_name("mesos.v1.TaskStatus").is_some());
    }
}

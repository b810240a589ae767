//! The operator API's SUBSCRIBE (spec 5.1, 5.4): a RecordIO stream of
//! `mesos.v1.master.Event`, SUBSCRIBED with the whole state first, then
//! the book's events as they happen and HEARTBEAT every 15 s; records are
//! JSON or protobuf as the subscriber's `Accept` asked.
//!
//! The subscriber is added and the state copied in one hold of the lock,
//! so the stream misses nothing and repeats nothing; the SUBSCRIBED event
//! is rendered after the lock is released, while later events wait in the
//! subscriber's bounded queue.

use super::stream::{Record, event_body_after, frame};
use crate::error::ApiError;
use crate::master::HEARTBEAT_INTERVAL_SECS;
use crate::operator::{OPERATOR_QUEUE_CAPACITY, OperatorEvent, Parts, SharedEvent, StateView};
use crate::server::Shared;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use mesos_proto::{ContentType, Message};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

impl Record for SharedEvent {
    fn record(&self, ct: ContentType) -> Bytes {
        match ct {
            ContentType::Json => frame(ct, Message::MasterEvent, self),
            ContentType::Protobuf => self.protobuf_record(),
        }
    }
}

pub async fn subscribe(shared: Arc<Shared>, ct: ContentType) -> Result<Response, ApiError> {
    let (tx, rx) = crate::event_queue::event_queue(OPERATOR_QUEUE_CAPACITY);
    // The state is copied whole: one of the bounded rendering slots, held
    // until SUBSCRIBED is rendered.
    let _slot = crate::state_json::rendering_slot().await?;
    let view = shared.write(|m, _| {
        m.operator_subscribers.add(tx);
        StateView::take(m, Parts::ALL)
    });
    let first = tokio::task::spawn_blocking(move || {
        frame(
            ct,
            Message::MasterEvent,
            &json!({
                "type": "SUBSCRIBED",
                "subscribed": {
                    "get_state": view.state_json(),
                    "heartbeat_interval_seconds": HEARTBEAT_INTERVAL_SECS,
                }
            }),
        )
    })
    .await
    .map_err(|e| ApiError::Internal(format!("Failed to render the state: {e}")))?;
    let every = Duration::from_secs_f64(HEARTBEAT_INTERVAL_SECS);
    let heartbeat = SharedEvent::new(OperatorEvent::Heartbeat);
    let body = event_body_after(ct, first, rx, every, heartbeat);
    let mut r = Response::new(body);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct.mime()));
    Ok(r)
}

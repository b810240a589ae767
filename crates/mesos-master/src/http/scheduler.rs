//! `POST /api/v1/scheduler` (spec section 1). Calls arrive as JSON or
//! protobuf (`Content-Type`); the SUBSCRIBE stream is written in the
//! encoding `Accept` asks for (spec 0.2).

use super::stream::{CloseGuard, event_body};
use super::{parse_v1_call, response_content_type, stream_id_header};
use crate::error::ApiError;
use crate::master::{HEARTBEAT_INTERVAL_SECS, SubscribeOutcome};
use crate::server::Shared;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesos_proto::{ContentType, Message};
use mesos_types::scheduler::{Call, CallType, Event};
use std::sync::Arc;
use std::time::Duration;

use super::STREAM_ID;

pub async fn handle(
    shared: Arc<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (call, _): (Call, _) = parse_v1_call(
        &method,
        &headers,
        body,
        shared.flags.max_request_body_bytes,
        Message::SchedulerCall,
    )
    .await?;
    let stream_header = stream_id_header(&headers);

    if call.kind == CallType::SUBSCRIBE {
        return subscribe(shared, call, stream_header, &headers);
    }
    let fid = call
        .framework_id
        .clone()
        .ok_or_else(|| ApiError::BadRequest("Expecting 'framework_id' to be present".into()))?;
    if call.kind == CallType::TEARDOWN {
        // Durable before acknowledged: a torn-down framework stays refused
        // after a master restart. The removal completes once the registry
        // records it, whether or not this client is still waiting.
        let (reply, answer) = tokio::sync::oneshot::channel();
        shared.write(|m, now| {
            m.check_stream(&fid, stream_header.as_deref())?;
            m.counters.scheduler_call(CallType::TEARDOWN);
            m.request_remove_framework(&fid, Some(reply), now);
            Ok::<(), ApiError>(())
        })?;
        answer
            .await
            .map_err(|_| ApiError::Unavailable("The master is stopping".into()))??;
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let missing = |what: &str| ApiError::BadRequest(format!("Expecting '{what}' to be present"));
    shared.write(|m, now| {
        m.check_stream(&fid, stream_header.as_deref())?;
        m.counters.scheduler_call(call.kind);
        match call.kind {
            CallType::ACCEPT => m.accept(&fid, call.accept.ok_or_else(|| missing("accept"))?, now),
            CallType::DECLINE => {
                let d = call.decline.ok_or_else(|| missing("decline"))?;
                m.decline(&fid, &d.offer_ids, d.filters, now)
            }
            CallType::REVIVE => m.revive(&fid, &call.revive.map(|r| r.roles).unwrap_or_default()),
            CallType::SUPPRESS => {
                m.suppress(&fid, &call.suppress.map(|r| r.roles).unwrap_or_default())
            }
            CallType::KILL => {
                let k = call.kill.ok_or_else(|| missing("kill"))?;
                m.kill(&fid, &k.task_id, k.kill_policy, now)
            }
            CallType::SHUTDOWN => {
                let s = call.shutdown.ok_or_else(|| missing("shutdown"))?;
                m.shutdown_executor(&fid, &s.agent_id, &s.executor_id)?
            }
            CallType::ACKNOWLEDGE => {
                let a = call.acknowledge.ok_or_else(|| missing("acknowledge"))?;
                m.acknowledge(&fid, &a.agent_id, &a.task_id, &a.uuid)?
            }
            CallType::RECONCILE => m.reconcile(
                &fid,
                &call.reconcile.map(|r| r.tasks).unwrap_or_default(),
                now,
            ),
            CallType::MESSAGE => {
                m.framework_message(&fid, call.message.ok_or_else(|| missing("message"))?)?
            }
            CallType::ACCEPT_INVERSE_OFFERS | CallType::DECLINE_INVERSE_OFFERS => {
                let accept = call.kind == CallType::ACCEPT_INVERSE_OFFERS;
                let reply = if accept {
                    call.accept_inverse_offers
                } else {
                    call.decline_inverse_offers
                };
                let reply = reply.ok_or_else(|| {
                    missing(if accept {
                        "accept_inverse_offers"
                    } else {
                        "decline_inverse_offers"
                    })
                })?;
                let refuse = reply.filters.map(|f| f.refuse_seconds);
                m.answer_inverse_offers(&fid, &reply.inverse_offer_ids, accept, refuse, now);
            }
            // No operations exist yet; REQUEST is ignored by the default
            // allocator in Mesos too.
            CallType::REQUEST
            | CallType::ACKNOWLEDGE_OPERATION_STATUS
            | CallType::RECONCILE_OPERATIONS => {}
            CallType::UPDATE_FRAMEWORK => {
                return Err(ApiError::NotImplemented(
                    "UPDATE_FRAMEWORK is not implemented yet".into(),
                ));
            }
            // SUBSCRIBE and TEARDOWN were handled above.
            CallType::UNKNOWN | CallType::SUBSCRIBE | CallType::TEARDOWN => {
                return Err(ApiError::NotImplemented("Received an UNKNOWN call".into()));
            }
        }
        Ok::<(), ApiError>(())
    })?;
    Ok(StatusCode::ACCEPTED.into_response())
}

fn subscribe(
    shared: Arc<Shared>,
    call: Call,
    stream_header: Option<String>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if stream_header.is_some() {
        return Err(ApiError::BadRequest(
            "Subscribe calls should not include the 'Mesos-Stream-Id' header".into(),
        ));
    }
    let ct: ContentType = response_content_type(headers)?;
    let sub = call
        .subscribe
        .ok_or_else(|| ApiError::BadRequest("Expecting 'subscribe' to be present".into()))?;
    let (tx, rx) = crate::event_queue::event_queue(crate::event_queue::FRAMEWORK_QUEUE_CAPACITY);
    let outcome = shared.write(|m, now| {
        m.counters.scheduler_call(CallType::SUBSCRIBE);
        m.subscribe(sub, call.framework_id, tx.clone(), now)
    })?;
    let every = Duration::from_secs_f64(HEARTBEAT_INTERVAL_SECS);
    let (body, stream_id) = match outcome {
        SubscribeOutcome::Subscribed {
            framework_id,
            stream_id,
        } => {
            let weak = Arc::downgrade(&shared);
            let sid = stream_id.clone();
            let guard = CloseGuard::new(move || {
                if let Some(s) = weak.upgrade() {
                    s.write(|m, now| m.framework_disconnected(&framework_id, &sid, now));
                }
            });
            drop(tx);
            (
                event_body(ct, rx, every, Event::heartbeat(), Some(guard)),
                Some(stream_id),
            )
        }
        SubscribeOutcome::Refused(message) => {
            tracing::warn!("framework subscription refused: {message}");
            tx.send(Event::error(message));
            drop(tx); // the stream ends after the ERROR event
            (event_body(ct, rx, every, Event::heartbeat(), None), None)
        }
    };
    let mut r = Response::new(body);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct.mime()));
    if let Some(id) = stream_id.and_then(|s| HeaderValue::from_str(&s).ok()) {
        r.headers_mut().insert(STREAM_ID, id);
    }
    Ok(r)
}

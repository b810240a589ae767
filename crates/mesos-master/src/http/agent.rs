//! `POST /master/api/v1/agent`: our master<->agent protocol (docs/protocol.md).

use super::stream::{CloseGuard, event_body};
use super::{parse_json_call, stream_id_header};
use crate::error::ApiError;
use crate::master::{AgentAdmission, AgentRefusal, agents_registration};
use crate::server::Shared;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesos_types::agent_protocol::{AgentCall, AgentEvent};
use mesos_types::{AgentID, AgentInfo};
use std::net::SocketAddr;
use std::sync::Arc;

use super::STREAM_ID;

pub async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let call: AgentCall = parse_json_call(
        &method,
        &headers,
        body,
        shared.flags.max_request_body_bytes,
        "AgentCall",
    )
    .await?;
    let stream_header = stream_id_header(&headers);
    match call {
        AgentCall::Register {
            agent_info,
            version,
            tasks,
            frameworks,
            checkpointed_resources,
        } => {
            let reported = Reported {
                tasks,
                frameworks,
                checkpointed_resources,
            };
            register(shared, peer, agent_info, version, reported).await
        }
        AgentCall::Update {
            agent_id,
            framework_id,
            status,
        } => {
            shared.write(|m, now| {
                m.check_agent_stream(&agent_id, stream_header.as_deref())?;
                m.agent_seen(&agent_id, now);
                m.agent_update(&agent_id, &framework_id, status, now)
            })?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        AgentCall::Message {
            agent_id,
            framework_id,
            executor_id,
            data,
        } => {
            shared.write(|m, _| {
                m.check_agent_stream(&agent_id, stream_header.as_deref())?;
                m.executor_message(&agent_id, &framework_id, executor_id, data);
                Ok::<(), ApiError>(())
            })?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        AgentCall::ExecutorExited {
            agent_id,
            framework_id,
            executor_id,
            status,
        } => {
            shared.write(|m, now| {
                m.check_agent_stream(&agent_id, stream_header.as_deref())?;
                m.executor_exited(&agent_id, &framework_id, &executor_id, status, now);
                Ok::<(), ApiError>(())
            })?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        AgentCall::Pong { agent_id, nonce } => {
            shared.write(|m, now| {
                m.check_agent_stream(&agent_id, stream_header.as_deref())?;
                m.agent_ponged(&agent_id, nonce, now);
                Ok::<(), ApiError>(())
            })?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
    }
}

fn validate_info(info: &AgentInfo) -> Result<(), ApiError> {
    if info.hostname.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "'agent_info.hostname' must not be empty".into(),
        ));
    }
    if !(1..=65535).contains(&info.port) {
        return Err(ApiError::BadRequest(format!(
            "'agent_info.port' {} is not a valid port",
            info.port
        )));
    }
    for r in &info.resources {
        r.validate()
            .map_err(|e| ApiError::BadRequest(format!("Invalid agent resources: {e}")))?;
    }
    Ok(())
}

/// What a registering agent reports it holds.
struct Reported {
    tasks: Vec<mesos_types::agent_protocol::AgentTask>,
    frameworks: Vec<mesos_types::FrameworkInfo>,
    checkpointed_resources: Vec<mesos_types::Resource>,
}

async fn register(
    shared: Arc<Shared>,
    peer: SocketAddr,
    info: AgentInfo,
    version: String,
    reported: Reported,
) -> Result<Response, ApiError> {
    let Reported {
        tasks,
        frameworks,
        checkpointed_resources,
    } = reported;
    for r in &checkpointed_resources {
        r.validate()
            .map_err(|e| ApiError::BadRequest(format!("Invalid checkpointed resources: {e}")))?;
    }
    let agent_id = info.id.clone();
    validate_info(&info)?;
    let reregister = info.id.is_some();
    let (tx, rx) = crate::event_queue::event_queue(crate::event_queue::AGENT_QUEUE_CAPACITY);
    let mut reg = agents_registration(
        info,
        peer.ip().to_string(),
        version,
        tasks,
        frameworks,
        reregister,
    );
    reg.checkpointed = checkpointed_resources;
    // Durable before acknowledged: the book answers once the registry
    // records the agent (at once when it already does).
    let (reply, answer) = tokio::sync::oneshot::channel();
    shared.write(|m, now| m.register_agent(reg, tx, reply, now));
    let admission = answer
        .await
        .map_err(|_| ApiError::Unavailable("The master is stopping".into()))?;
    let (id, stream_id) = match admission {
        AgentAdmission::Admitted {
            agent_id,
            stream_id,
        } => (agent_id, stream_id),
        AgentAdmission::Refused(refusal) => {
            let id = agent_id.unwrap_or_default();
            return refuse_agent(&id, refusal);
        }
        AgentAdmission::Failed(e) => {
            return Err(ApiError::Unavailable(format!(
                "Failed to persist agent in the registry: {e}"
            )));
        }
    };
    let weak = Arc::downgrade(&shared);
    let sid = stream_id.clone();
    let aid = id.clone();
    let guard = CloseGuard::new(move || {
        if let Some(s) = weak.upgrade() {
            s.write(|m, now| m.agent_disconnected(&aid, &sid, now));
        }
    });
    let body = event_body(
        mesos_proto::ContentType::Json,
        rx,
        shared.flags.agent_ping_timeout.get(),
        AgentEvent::Ping { nonce: None },
        Some(guard),
    );
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&stream_id) {
        r.headers_mut().insert(STREAM_ID, v);
    }
    Ok(r)
}

/// A gone agent is told to shut down on the stream it asked for (one
/// SHUTDOWN event, then the stream ends), as Mesos answers its
/// registration with a `ShutdownMessage`; one being marked gone gets an
/// error it retries.
fn refuse_agent(id: &AgentID, refusal: AgentRefusal) -> Result<Response, ApiError> {
    if refusal == AgentRefusal::BeingMarkedGone {
        return Err(ApiError::Unavailable(format!(
            "Agent '{id}' is being marked gone"
        )));
    }
    let message = refusal.message().to_string();
    tracing::warn!(agent = %id, "refusing an agent's registration ({message}); telling it to shut down");
    let event = serde_json::to_vec(&AgentEvent::Shutdown { message })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut r = Response::new(Body::from(mesos_types::recordio::encode(&event)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

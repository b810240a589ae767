//! `POST /master/api/v1/agent`: our master<->agent protocol (docs/protocol.md).

use super::stream::{CloseGuard, event_body};
use super::{parse_v1_call, stream_id_header};
use crate::error::ApiError;
use crate::master::{AgentRefusal, GONE_MESSAGE, agents_registration};
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
    let call: AgentCall = parse_v1_call(
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
            frameworks: _,
        } => register(shared, peer, agent_info, version, tasks).await,
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
        AgentCall::Pong { agent_id } => {
            shared.write(|m, now| {
                m.check_agent_stream(&agent_id, stream_header.as_deref())?;
                m.agent_seen(&agent_id, now);
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

async fn register(
    shared: Arc<Shared>,
    peer: SocketAddr,
    info: AgentInfo,
    version: String,
    tasks: Vec<mesos_types::agent_protocol::AgentTask>,
) -> Result<Response, ApiError> {
    validate_info(&info)?;
    let reregister = info.id.is_some();
    let id: AgentID = match &info.id {
        Some(id) => id.clone(),
        None => shared.write(|m, _| m.ids.agent()),
    };
    if let Some(refusal) = shared.read(|m| m.refuses_agent(&id)) {
        return refuse_agent(&id, refusal);
    }
    // Durable before acknowledged: the registry entry is written (outside
    // the book's lock) before REGISTERED is sent.
    let store = shared.store.clone();
    let key = format!("agents/{}", id.value);
    let record = serde_json::to_vec(&info).map_err(|e| ApiError::Internal(e.to_string()))?;
    let unreachable_key = format!("{}{}", crate::server::UNREACHABLE_PREFIX, id.value);
    tokio::task::spawn_blocking(move || {
        let persist = |e: mesos_coord::StoreError| {
            ApiError::Unavailable(format!("Failed to persist agent in the registry: {e}"))
        };
        // An agent the registry already admitted (re-registering, as every
        // agent does after a master failover) needs no write: a read is
        // enough, and it spares the group-commit writer a transaction.
        let admitted = reregister && store.get(&key).map_err(persist)?.is_some();
        if !admitted {
            match store.put(&key, &record, 0) {
                Ok(_) | Err(mesos_coord::StoreError::Conflict { .. }) => {}
                Err(e) => return Err(persist(e)),
            }
        }
        // Back from unreachable: the registry must say so before we act on it.
        if let Some(v) = store.get(&unreachable_key).map_err(persist)?
            && v.value != b"reachable"
        {
            store
                .put(&unreachable_key, b"reachable", v.version)
                .map_err(persist)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;

    let (tx, rx) = crate::event_queue::event_queue(crate::event_queue::AGENT_QUEUE_CAPACITY);
    let reg = agents_registration(info, peer.ip().to_string(), version, tasks, reregister);
    // Checked again under the lock: an operator may have marked the agent
    // gone while its registration was being written.
    let admitted = shared.write(|m, now| match m.refuses_agent(&id) {
        Some(refusal) => Err(refusal),
        None => Ok(m.admit_agent(id.clone(), reg, tx, now)),
    });
    let stream_id = match admitted {
        Ok(stream_id) => stream_id,
        Err(refusal) => return refuse_agent(&id, refusal),
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
        rx,
        shared.flags.agent_ping_timeout.get(),
        AgentEvent::Ping,
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
    tracing::warn!(agent = %id, "refusing the registration of an agent marked gone; telling it to shut down");
    let message = GONE_MESSAGE.to_string();
    let event = serde_json::to_vec(&AgentEvent::Shutdown { message })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut r = Response::new(Body::from(mesos_types::recordio::encode(&event)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

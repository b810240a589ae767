//! `POST /api/v1` (also `/api/v1/operator`, where pymesos posts): the v1
//! operator API. Served: `MARK_AGENT_GONE`. Every other call of
//! `mesos.v1.master.Call` is recognised and answered 501 with its name.

use super::parse_v1_call;
use crate::error::ApiError;
use crate::master::GoneCheck;
use crate::server::{GONE_PREFIX, Shared, record_mark};
use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mesos_types::operator::OperatorCall;
use mesos_types::{AgentID, OperatorCallType};
use std::sync::Arc;

pub async fn handle(
    shared: Arc<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let call: OperatorCall = parse_v1_call(
        &method,
        &headers,
        body,
        shared.flags.max_request_body_bytes,
        "master::Call",
    )
    .await?;
    match call.kind {
        OperatorCallType::MARK_AGENT_GONE => {
            let Some(payload) = call.mark_agent_gone else {
                return Err(ApiError::BadRequest(
                    "Expecting 'mark_agent_gone' to be present".into(),
                ));
            };
            mark_agent_gone(shared, payload.agent_id).await
        }
        other => Err(ApiError::NotImplemented(format!(
            "Operator call '{other}' is not implemented yet"
        ))),
    }
}

/// Records the agent as gone in the registry, then acts on it: durable
/// before acknowledged, so a master restarted right after the 200 still
/// refuses the agent.
async fn mark_agent_gone(shared: Arc<Shared>, aid: AgentID) -> Result<Response, ApiError> {
    if aid.value.is_empty() {
        return Err(ApiError::BadRequest(
            "'mark_agent_gone.agent_id.value' must not be empty".into(),
        ));
    }
    tracing::info!(agent = %aid, "operator asked to mark the agent gone");
    if shared.write(|m, _| m.begin_mark_gone(&aid))? == GoneCheck::AlreadyGone {
        tracing::warn!(agent = %aid, "not marking the agent gone: it already is");
        return Ok(StatusCode::OK.into_response());
    }
    match record_mark(shared.store.clone(), GONE_PREFIX, &aid.value).await {
        Ok(()) => {
            shared.write(|m, now| m.mark_gone(&aid, now));
            Ok(StatusCode::OK.into_response())
        }
        Err(e) => {
            shared.write(|m, _| m.mark_gone_failed(&aid));
            tracing::error!(agent = %aid, "could not record the agent as gone: {e}");
            Err(ApiError::Unavailable(format!(
                "Failed to record agent '{aid}' as gone in the registry; retry"
            )))
        }
    }
}

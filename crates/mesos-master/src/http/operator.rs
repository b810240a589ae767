//! `POST /api/v1` (also `/api/v1/operator`, where pymesos posts): the v1
//! operator API. Served: `MARK_AGENT_GONE`. Every other call of
//! `mesos.v1.master.Call` is recognised and answered 501 with its name.

use super::parse_v1_call;
use crate::error::ApiError;
use crate::server::Shared;
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
    let (reply, answer) = tokio::sync::oneshot::channel();
    shared.write(|m, now| m.request_mark_gone(&aid, reply, now));
    answer
        .await
        .map_err(|_| ApiError::Unavailable("The master is stopping".into()))??;
    Ok(StatusCode::OK.into_response())
}

//! Reservations and volumes as an operator makes them: the legacy form
//! endpoints `POST /reserve`, `/unreserve` (`slaveId=<id>&resources=<JSON
//! list>`), `/create-volumes`, `/destroy-volumes` (`slaveId=<id>&volumes=
//! <JSON list>`), and the operator calls RESERVE_RESOURCES,
//! UNRESERVE_RESOURCES, CREATE_VOLUMES, DESTROY_VOLUMES. Answered 202 once
//! the registry records the agent's new resources (`master::reservations`).

use super::policy::change;
use crate::error::ApiError;
use crate::master::reservations::ConversionKind;
use crate::server::Shared;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mesos_types::{AgentID, Resource};
use std::sync::Arc;

/// Runs a conversion and answers 202 once it is recorded.
pub(super) async fn convert(
    shared: &Shared,
    aid: AgentID,
    kind: ConversionKind,
    source: Vec<Resource>,
    resources: Vec<Resource>,
) -> Result<Response, ApiError> {
    tracing::info!(agent = %aid, ?kind, "operator converts agent resources");
    change(shared, |m, reply, now| {
        m.request_conversion(&aid, kind, (&source, &resources), reply, now)
    })
    .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST /reserve` and friends (form bodies, as Mesos's endpoints take).
pub async fn legacy(
    shared: Arc<Shared>,
    method: Method,
    body: Body,
    kind: ConversionKind,
) -> Result<Response, ApiError> {
    let mut q = super::legacy::read_form(&shared, &method, body).await?;
    let aid = q
        .remove("slaveId")
        .filter(|s| !s.is_empty())
        .map(AgentID::new)
        .ok_or_else(|| ApiError::BadRequest("Missing 'slaveId' in the request body".into()))?;
    let field = match kind {
        ConversionKind::Reserve | ConversionKind::Unreserve => "resources",
        ConversionKind::Create | ConversionKind::Destroy => "volumes",
    };
    let text = q
        .remove(field)
        .ok_or_else(|| ApiError::BadRequest(format!("Missing '{field}' in the request body")))?;
    let list: Vec<Resource> = mesos_types::json::from_slice(text.as_bytes()).map_err(|e| {
        ApiError::BadRequest(format!(
            "Failed to parse '{field}' as a JSON list of Resource: {e}"
        ))
    })?;
    convert(&shared, aid, kind, Vec::new(), list).await
}

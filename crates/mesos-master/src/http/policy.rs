//! What operators set per role, over the legacy endpoints and the v1
//! operator API: `/weights` (GET, PUT) and UPDATE_WEIGHTS; `/quota` (GET,
//! POST, `DELETE /quota/<role>`) and GET_QUOTA, SET_QUOTA, UPDATE_QUOTA,
//! REMOVE_QUOTA. A change is answered 200 only once the registry records
//! it (see `master::policy`); a refused one changes nothing.

use super::{read_body, to_vec};
use crate::error::ApiError;
use crate::master::Master;
use crate::master::policy::Reply;
use crate::server::Shared;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mesos_types::policy::{QuotaRequest, WeightInfo};
use std::sync::Arc;

/// Runs `request` on the book and waits until its change is recorded (or refused).
pub(super) async fn change(
    shared: &Shared,
    request: impl FnOnce(&mut Master, Reply, f64),
) -> Result<(), ApiError> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    shared.write(|m, now| request(m, reply, now));
    answer
        .await
        .map_err(|_| ApiError::Unavailable("The master is stopping".into()))?
}

/// Parses a JSON body the way Mesos's endpoints do (nulls unset, scalars
/// from strings), naming what was expected when it fails.
pub(super) async fn json_body<T: serde::de::DeserializeOwned>(
    shared: &Shared,
    body: Body,
    what: &str,
) -> Result<T, ApiError> {
    let bytes = read_body(body, shared.flags.max_request_body_bytes).await?;
    mesos_types::json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("Failed to parse the body as {what}: {e}")))
}

/// `/weights`: GET lists the weights set (`--weights` or the API); PUT
/// takes a JSON array of `WeightInfo` and answers once it is recorded.
pub async fn weights(shared: Arc<Shared>, method: Method, body: Body) -> Result<Vec<u8>, ApiError> {
    match method {
        Method::GET | Method::HEAD => {
            let w = shared.read(crate::state_json::weights);
            Ok(serde_json::to_vec(&w).unwrap_or_else(|_| b"[]".to_vec()))
        }
        Method::PUT => {
            let infos: Vec<WeightInfo> = json_body(&shared, body, "a list of WeightInfo").await?;
            change(&shared, |m, reply, _| {
                m.request_update_weights(infos, reply)
            })
            .await?;
            Ok(Vec::new())
        }
        _ => Err(ApiError::MethodNotAllowed(format!(
            "Expecting 'GET' or 'PUT', received '{method}'"
        ))),
    }
}

/// `/quota` and `/quota/<role>`: GET the status, POST a `QuotaRequest`,
/// DELETE a role's quota.
pub async fn quota(
    shared: Arc<Shared>,
    method: Method,
    role: Option<String>,
    body: Body,
) -> Result<Response, ApiError> {
    match (method, role) {
        (Method::GET | Method::HEAD, None) => {
            let status = shared.read(|m| m.quota_status());
            Ok(super::bytes_response(
                StatusCode::OK,
                to_vec(&serde_json::to_value(status).unwrap_or_default()),
                None,
            ))
        }
        (Method::POST, None) => {
            let req: QuotaRequest = json_body(&shared, body, "a QuotaRequest").await?;
            tracing::info!(role = %req.role, "operator sets quota");
            change(&shared, |m, reply, _| m.request_set_quota(req, reply)).await?;
            Ok(StatusCode::OK.into_response())
        }
        (Method::DELETE, Some(role)) if !role.is_empty() && !role.contains('/') => {
            tracing::info!(role = %role, "operator removes quota");
            change(&shared, |m, reply, _| m.request_remove_quota(&role, reply)).await?;
            Ok(StatusCode::OK.into_response())
        }
        (Method::DELETE, _) => Err(ApiError::BadRequest(
            "Failed to parse request path: expecting 'DELETE /quota/<role>'".into(),
        )),
        (m, Some(_)) if m != Method::DELETE => Err(ApiError::NotFound(
            "Expecting '/quota' for GET and POST".into(),
        )),
        (m, _) => Err(ApiError::MethodNotAllowed(format!(
            "Expecting 'GET', 'POST' or 'DELETE', received '{m}'"
        ))),
    }
}

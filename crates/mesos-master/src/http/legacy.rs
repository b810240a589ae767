//! `POST /master/teardown`, the legacy form of TEARDOWN. (The read-only
//! legacy views are in `crate::state_json`; weights, quota and maintenance
//! in `super::policy` and `super::maintenance`.)

use super::{parse_query, read_body};
use crate::error::ApiError;
use crate::server::Shared;
use axum::body::Body;
use axum::http::Method;
use axum::response::Response;
use mesos_types::FrameworkID;
use std::sync::Arc;

/// `POST /master/teardown` with the form body `frameworkId=<id>`: removes
/// the framework through the registrar, as the scheduler's TEARDOWN does,
/// and answers 200 only once the registry records the removal (a restarted
/// master then still refuses the id). An id the master does not hold as a
/// framework is a 400, with nothing changed.
pub async fn teardown(
    shared: Arc<Shared>,
    method: Method,
    body: Body,
) -> Result<Response, ApiError> {
    let fid = read_form(&shared, &method, body)
        .await?
        .remove("frameworkId")
        .map(FrameworkID::new)
        .ok_or_else(|| {
            ApiError::BadRequest("Missing 'frameworkId' query parameter in the request body".into())
        })?;
    super::operator::teardown(shared, fid).await
}

/// The `application/x-www-form-urlencoded` body of a legacy POST endpoint.
pub(super) async fn read_form(
    shared: &Shared,
    method: &Method,
    body: Body,
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed(format!(
            "Expecting 'POST', received '{method}'"
        )));
    }
    let bytes = read_body(body, shared.flags.max_request_body_bytes).await?;
    let form = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::BadRequest("Unable to decode the form body: not UTF-8".into()))?;
    Ok(parse_query(Some(form)))
}

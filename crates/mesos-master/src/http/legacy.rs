//! The legacy (pre-v1) operator endpoints that change or configure the
//! master: `POST /master/teardown` and `/master/weights`. (The read-only
//! legacy views are in `crate::state_json`.)

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
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed(format!(
            "Expecting 'POST', received '{method}'"
        )));
    }
    let bytes = read_body(body, shared.flags.max_request_body_bytes).await?;
    let form = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::BadRequest("Unable to decode query string: not UTF-8".into()))?;
    let fid = parse_query(Some(form))
        .remove("frameworkId")
        .map(FrameworkID::new)
        .ok_or_else(|| {
            ApiError::BadRequest("Missing 'frameworkId' query parameter in the request body".into())
        })?;
    super::operator::teardown(shared, fid).await
}

/// `/master/weights`: GET lists the non-default weights (from `--weights`).
/// PUT would change them, but weights must survive a master restart and
/// the registrar does not keep them yet: until it does (issue 10), PUT
/// answers 501 and changes nothing.
pub fn weights(shared: &Shared, method: &Method) -> Result<Vec<u8>, ApiError> {
    match *method {
        Method::GET | Method::HEAD => {
            let w = shared.read(crate::state_json::weights);
            Ok(serde_json::to_vec(&w).unwrap_or_else(|_| b"[]".to_vec()))
        }
        Method::PUT => Err(ApiError::NotImplemented(
            "Updating weights is not supported yet (issue 10: the registrar does not keep \
             weights); set them with --weights"
                .into(),
        )),
        _ => Err(ApiError::MethodNotAllowed(format!(
            "Expecting 'GET' or 'PUT', received '{method}'"
        ))),
    }
}

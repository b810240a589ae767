//! The executor HTTP API (spec §4.2–4.3): `POST /api/v1/executor`.
//!
//! [`parse_call`] turns a request into a validated [`Call`] or an
//! [`ApiError`] (pure, unit-tested); [`handle`] hands the call to the core
//! and renders the result: a RecordIO stream for SUBSCRIBE, 202 otherwise,
//! plain-text reasons for 4xx. Calls are JSON or protobuf
//! (`Content-Type`), the SUBSCRIBE stream's records are in the encoding
//! `Accept` asks for (spec 0.2).

use super::text_error;
use crate::error::ApiError;
use crate::runtime::Shared;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use mesos_proto::{CodecError, ContentType, Message};
use mesos_types::executor::Call;
use mesos_types::{ExecutorCallType, Source, TaskState, TaskStatus};
use std::sync::Arc;
use tracing::{debug, warn};

/// Largest accepted request body.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Checks method, content type and body, and validates the call (src/common/validation.cpp).
pub fn parse_call(method: &Method, headers: &HeaderMap, body: &[u8]) -> Result<Call, ApiError> {
    if method != Method::POST {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Expecting a POST request",
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("<not text>"));
    let call: Call = ContentType::from_content_type(content_type)
        .and_then(|ct| ct.decode(Message::ExecutorCall, body))
        .map_err(codec_error)?;
    let executor_id = call
        .executor_id
        .as_ref()
        .ok_or_else(|| ApiError::bad_request("Expecting 'executor_id' to be present"))?;
    if call.framework_id.is_none() {
        return Err(ApiError::bad_request(
            "Expecting 'framework_id' to be present",
        ));
    }
    match call.kind {
        ExecutorCallType::SUBSCRIBE if call.subscribe.is_none() => {
            Err(ApiError::bad_request("Expecting 'subscribe' to be present"))
        }
        ExecutorCallType::UPDATE => {
            let update = call
                .update
                .as_ref()
                .ok_or_else(|| ApiError::bad_request("Expecting 'update' to be present"))?;
            validate_status(&update.status, &executor_id.value)?;
            Ok(call)
        }
        ExecutorCallType::MESSAGE if call.message.is_none() => {
            Err(ApiError::bad_request("Expecting 'message' to be present"))
        }
        ExecutorCallType::UNKNOWN => Err(ApiError::bad_request("Expecting 'type' to be present")),
        _ => Ok(call),
    }
}

/// Rules for an executor's TaskStatus: 16-byte base64 uuid, SOURCE_EXECUTOR,
/// a task id that is a safe path component, not TASK_STAGING, and the
/// caller's executor id.
pub fn validate_status(status: &TaskStatus, executor_id: &str) -> Result<(), ApiError> {
    let uuid = status
        .uuid
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("Expecting 'uuid' to be present"))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(uuid)
        .map_err(|_| ApiError::bad_request(format!("'uuid' is not valid base64: '{uuid}'")))?;
    if raw.len() != 16 {
        return Err(ApiError::bad_request(format!(
            "'uuid' must be 16 bytes, got {}",
            raw.len()
        )));
    }
    if status.source != Some(Source::SOURCE_EXECUTOR) {
        return Err(ApiError::bad_request(
            "Received Call from executor with an invalid status 'source'; expecting SOURCE_EXECUTOR",
        ));
    }
    // The task id names a checkpoint directory.
    crate::paths::validate_id("task id", &status.task_id.value)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if status.state == TaskState::TASK_STAGING {
        return Err(ApiError::bad_request(
            "Received TASK_STAGING from executor which is not allowed",
        ));
    }
    if let Some(e) = &status.executor_id
        && e.value != executor_id
    {
        return Err(ApiError::bad_request(format!(
            "ExecutorID in Call: '{executor_id}' does not match ExecutorID in TaskStatus: '{}'",
            e.value
        )));
    }
    Ok(())
}

pub(super) fn codec_error(e: CodecError) -> ApiError {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    ApiError::new(status, e.to_string())
}

/// The SUBSCRIBE stream's encoding from `Accept`: JSON if acceptable
/// (absent, `*/*`, `application/*`, `application/json`, or
/// `application/recordio`, whose records are then JSON), else protobuf,
/// else 406.
fn stream_content_type(headers: &HeaderMap) -> Result<ContentType, ApiError> {
    let accept = headers
        .get(header::ACCEPT)
        .map(|v| v.to_str().unwrap_or("<not text>"));
    ContentType::negotiate(accept, &["application/recordio"]).map_err(codec_error)
}

/// A v1 call's body, at most [`MAX_BODY`] bytes (413 beyond, the rest
/// drained as `mesos_http::read_body_limited` does).
pub(super) async fn read_body(body: axum::body::Body) -> Result<bytes::Bytes, ApiError> {
    mesos_http::read_body_limited(body, MAX_BODY)
        .await
        .map_err(|e| match e {
            mesos_http::BodyError::TooLarge { .. } => {
                let msg = format!("Request body exceeds {} MiB", MAX_BODY / (1024 * 1024));
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, msg)
            }
            e @ mesos_http::BodyError::Read(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
            }
        })
}

/// Serves one executor call.
pub async fn handle(shared: Arc<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return text_error(&e),
    };
    let call = match parse_call(&parts.method, &parts.headers, &body) {
        Ok(c) => c,
        Err(e) => {
            debug!("Rejected executor call: {e}");
            let mut r = text_error(&e);
            if e.status == StatusCode::METHOD_NOT_ALLOWED {
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            return r;
        }
    };
    let (Some(fid), Some(eid)) = (call.framework_id.clone(), call.executor_id.clone()) else {
        return text_error(&ApiError::bad_request(
            "Expecting 'framework_id' and 'executor_id' to be present",
        ));
    };
    let now = tokio::time::Instant::now();
    let result = match call.kind {
        ExecutorCallType::SUBSCRIBE => {
            let ct = match stream_content_type(&parts.headers) {
                Ok(ct) => ct,
                Err(e) => return text_error(&e),
            };
            let mut subscribe = call.subscribe.unwrap_or_default();
            subscribe.unacknowledged_updates.retain(|u| {
                match validate_status(&u.status, &eid.value) {
                    Ok(()) => true,
                    Err(e) => {
                        warn!(%fid, %eid, "Dropping invalid unacknowledged update: {}", e.message);
                        false
                    }
                }
            });
            return match shared.subscribe_executor(fid, eid, subscribe, ct) {
                Ok(stream) => Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, ct.mime())
                    .body(Body::from_stream(stream))
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
                Err(e) => text_error(&e),
            };
        }
        ExecutorCallType::UPDATE => {
            let Some(update) = call.update else {
                return text_error(&ApiError::bad_request("Expecting 'update' to be present"));
            };
            shared.with_core(
                |c| match c.executor_update(&fid, &eid, update.status, now) {
                    Ok(fx) => (Ok(()), fx),
                    Err(e) => (Err(e), Vec::new()),
                },
            )
        }
        ExecutorCallType::MESSAGE => {
            let data = call.message.map(|m| m.data).unwrap_or_default();
            shared.with_core(|c| match c.executor_message(&fid, &eid, data) {
                Ok(fx) => (Ok(()), fx),
                Err(e) => (Err(e), Vec::new()),
            })
        }
        ExecutorCallType::HEARTBEAT => {
            shared.with_core(|c| (c.executor_heartbeat(&fid, &eid), Vec::new()))
        }
        ExecutorCallType::UNKNOWN => Err(ApiError::bad_request("Expecting 'type' to be present")),
    };
    match result {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => text_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(content_type: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = content_type {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        h
    }

    fn update_body(status: serde_json::Value) -> Vec<u8> {
        json!({"type": "UPDATE", "executor_id": {"value": "e"}, "framework_id": {"value": "f"}, "update": {"status": status}})
            .to_string()
            .into_bytes()
    }

    const UUID16: &str = "AAECAwQFBgcICQoLDA0ODw==";

    #[test]
    fn content_type_and_method_rules() {
        let body =
            br#"{"type":"HEARTBEAT","executor_id":{"value":"e"},"framework_id":{"value":"f"}}"#;
        assert!(parse_call(&Method::POST, &headers(Some("application/json")), body).is_ok());
        assert!(
            parse_call(
                &Method::POST,
                &headers(Some("application/json; charset=utf-8")),
                body
            )
            .is_ok()
        );
        assert_eq!(
            parse_call(&Method::GET, &headers(Some("application/json")), body)
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(
            parse_call(&Method::POST, &headers(None), body)
                .unwrap_err()
                .status,
            400
        );
        // The same call in protobuf: type HEARTBEAT (4), the two ids.
        let proto = b"\x0a\x03\x0a\x01e\x12\x03\x0a\x01f\x18\x04";
        let call = parse_call(
            &Method::POST,
            &headers(Some("application/x-protobuf")),
            proto,
        )
        .unwrap();
        assert_eq!(call.kind, ExecutorCallType::HEARTBEAT);
        assert_eq!(call.executor_id.unwrap().value, "e");
        let garbage = parse_call(
            &Method::POST,
            &headers(Some("application/x-protobuf")),
            &proto[..proto.len() - 4],
        )
        .unwrap_err();
        assert_eq!(garbage.status, 400);
        assert!(garbage.message.contains("executor::Call"), "{garbage}");
        assert_eq!(
            parse_call(&Method::POST, &headers(Some("text/plain")), body)
                .unwrap_err()
                .status,
            415
        );
        assert_eq!(
            parse_call(
                &Method::POST,
                &headers(Some("application/json")),
                b"{not json"
            )
            .unwrap_err()
            .status,
            400
        );
        let no_eid = br#"{"type":"HEARTBEAT","framework_id":{"value":"f"}}"#;
        assert!(
            parse_call(&Method::POST, &headers(Some("application/json")), no_eid)
                .unwrap_err()
                .message
                .contains("executor_id")
        );
    }

    #[test]
    fn update_validation() {
        let h = headers(Some("application/json"));
        let ok = json!({"task_id": {"value": "t"}, "state": "TASK_RUNNING", "source": "SOURCE_EXECUTOR", "uuid": UUID16});
        assert!(parse_call(&Method::POST, &h, &update_body(ok.clone())).is_ok());
        let cases = [
            ("uuid", json!("AAEC")),
            ("uuid", json!("not base64!")),
            ("source", json!("SOURCE_AGENT")),
            ("state", json!("TASK_STAGING")),
            ("executor_id", json!({"value": "other"})),
            ("task_id", json!({"value": "../../t"})),
        ];
        for (key, value) in cases {
            let mut s = ok.clone();
            s[key] = value.clone();
            let e = parse_call(&Method::POST, &h, &update_body(s)).unwrap_err();
            assert_eq!(e.status, 400, "{key}={value}: {e}");
        }
        let mut no_source = ok.clone();
        no_source.as_object_mut().unwrap().remove("source");
        assert_eq!(
            parse_call(&Method::POST, &h, &update_body(no_source))
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn accept_header() {
        let mut h = HeaderMap::new();
        let ct = |h: &HeaderMap| stream_content_type(h).map_err(|e| e.status);
        assert_eq!(ct(&h), Ok(ContentType::Json));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/x-protobuf"),
        );
        assert_eq!(ct(&h), Ok(ContentType::Protobuf));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/x-protobuf, application/json;q=0.5"),
        );
        assert_eq!(ct(&h), Ok(ContentType::Json));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/recordio"),
        );
        assert_eq!(ct(&h), Ok(ContentType::Json));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert_eq!(ct(&h), Err(StatusCode::NOT_ACCEPTABLE));
    }
}

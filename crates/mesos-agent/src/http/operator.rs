//! The agent's v1 operator API (spec §5.3): `POST /api/v1` (also under
//! `/slave(1)/`; longest-prefix routing makes `/api/v1/operator`, where
//! pymesos posts, land here too).
//!
//! [`parse_call`] checks method, content type, `Accept` and body and gives a
//! typed [`AgentOperatorCall`] or an [`ApiError`] (pure, unit-tested);
//! [`handle`] answers it. Served: GET_HEALTH, GET_FLAGS, GET_VERSION,
//! GET_METRICS, GET_LOGGING_LEVEL, SET_LOGGING_LEVEL, LIST_FILES,
//! READ_FILE, GET_STATE, GET_CONTAINERS, GET_FRAMEWORKS, GET_EXECUTORS,
//! GET_OPERATIONS and GET_RESOURCE_PROVIDERS (none exist here), GET_TASKS,
//! GET_AGENT and KILL_CONTAINER. The container-launch, nested-container,
//! attach, resource-provider and image calls are recognised and answered
//! 501 naming the call. Answers are `mesos.v1.agent.Response` JSON:
//! `{"type": "X", "x": {...}}`; calls that change something answer 200
//! with an empty body, as Mesos does.

use super::executor_api::{codec_error, read_body};
use super::{json_error, v1};
use crate::error::ApiError;
use crate::runtime::Shared;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesos_daemon::files::http as files;
use mesos_proto::{ContentType, Message};
use mesos_types::AgentCallType as T;
use mesos_types::operator::AgentOperatorCall;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Checks method, content type (JSON or protobuf), `Accept` (spec §0.2:
/// JSON when acceptable, else protobuf, else 406) and parses the body;
/// returns the call and the encoding of the answer.
pub fn parse_call(
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(AgentOperatorCall, ContentType), ApiError> {
    if method != Method::POST {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Expecting 'POST', received '{method}'"),
        ));
    }
    let text = |h| {
        headers
            .get(h)
            .map(|v: &HeaderValue| v.to_str().unwrap_or("<not text>"))
    };
    let call: AgentOperatorCall = ContentType::from_content_type(text(header::CONTENT_TYPE))
        .and_then(|ct| ct.decode(Message::AgentCall, body))
        .map_err(codec_error)?;
    let answer = ContentType::negotiate(text(header::ACCEPT), &[]).map_err(codec_error)?;
    Ok((call, answer))
}

fn missing(what: &str) -> ApiError {
    ApiError::bad_request(format!("Expecting '{what}' to be present"))
}

/// `{"type": "<KIND>", "<kind>": payload}`.
fn response(kind: T, payload: Value) -> Value {
    let mut body = Map::new();
    body.insert("type".into(), json!(kind.as_str()));
    body.insert(kind.as_str().to_ascii_lowercase(), payload);
    Value::Object(body)
}

pub async fn handle(shared: Arc<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return json_error(&e),
    };
    let result = match parse_call(&parts.method, &parts.headers, &body) {
        Ok((call, ct)) => answer(&shared, call, ct).await,
        Err(e) => Err(e),
    };
    result.unwrap_or_else(|e| {
        let mut r = json_error(&e);
        if e.status == StatusCode::METHOD_NOT_ALLOWED {
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        r
    })
}

async fn answer(
    shared: &Arc<Shared>,
    call: AgentOperatorCall,
    ct: ContentType,
) -> Result<Response, ApiError> {
    let kind = call.kind;
    let payload = match kind {
        T::GET_HEALTH => json!({"healthy": true}),
        T::GET_FLAGS => {
            let flags: Vec<Value> = shared
                .facts
                .flags
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect();
            json!({ "flags": flags })
        }
        T::GET_VERSION => json!({ "version_info": mesos_daemon::build_info::version() }),
        T::GET_METRICS => {
            let metrics: Vec<Value> = super::metrics_snapshot(shared)
                .await
                .into_iter()
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect();
            json!({ "metrics": metrics })
        }
        T::GET_LOGGING_LEVEL => json!({"level": shared.facts.logging.level()}),
        T::SET_LOGGING_LEVEL => {
            let s = call
                .set_logging_level
                .ok_or_else(|| missing("set_logging_level"))?;
            let nanos = u64::try_from(s.duration.nanoseconds).map_err(|_| {
                ApiError::bad_request("'set_logging_level.duration' must not be negative")
            })?;
            shared
                .facts
                .logging
                .set_for(s.level, Duration::from_nanos(nanos));
            return Ok(StatusCode::OK.into_response());
        }
        T::LIST_FILES => {
            let l = call.list_files.ok_or_else(|| missing("list_files"))?;
            files::list_files(super::files::roots(shared), &l.path).await?
        }
        T::READ_FILE => {
            let r = call.read_file.ok_or_else(|| missing("read_file"))?;
            files::read_file(super::files::roots(shared), &r.path, r.offset, r.length).await?
        }
        T::GET_STATE => shared.read(v1::get_state),
        T::GET_FRAMEWORKS => shared.read(v1::get_frameworks),
        T::GET_EXECUTORS => shared.read(v1::get_executors),
        T::GET_TASKS => shared.read(v1::get_tasks),
        T::GET_AGENT => shared.read(v1::get_agent),
        T::GET_CONTAINERS => crate::monitor::render_v1(&crate::monitor::collect(shared).await),
        // Operations and resource providers do not exist on this agent.
        T::GET_OPERATIONS | T::GET_RESOURCE_PROVIDERS => json!({}),
        T::KILL_CONTAINER => {
            let k = call
                .kill_container
                .ok_or_else(|| missing("kill_container"))?;
            kill_container(shared, k)?;
            return Ok(StatusCode::OK.into_response());
        }
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                format!("Operator call '{other}' is not supported by this agent"),
            ));
        }
    };
    let body = ct
        .encode(Message::AgentResponse, &response(kind, payload))
        .map_err(codec_error)?;
    Ok(([(header::CONTENT_TYPE, ct.mime())], body).into_response())
}

/// SIGKILL (the default) destroys the container through the core, as an
/// executor that must go; any other signal goes to the executor process
/// (the container's init process, as Mesos sends it).
fn kill_container(
    shared: &Arc<Shared>,
    k: mesos_types::operator::KillContainer,
) -> Result<(), ApiError> {
    use nix::sys::signal::{Signal, kill};
    let signal = match k.signal {
        None => Signal::SIGKILL,
        Some(n) => Signal::try_from(n)
            .map_err(|_| ApiError::bad_request(format!("'{n}' is not a valid signal")))?,
    };
    if signal == Signal::SIGKILL {
        return shared.with_core(|c| match c.kill_container(&k.container_id) {
            Ok(fx) => (Ok(()), fx),
            Err(e) => (Err(e), Vec::new()),
        });
    }
    // Under the core's lock, so the executor cannot be reaped (and its pid
    // reused) between the look-up and the signal; kill(2) does not block.
    shared.read(|c| {
        let pid = c.container_pid(&k.container_id).ok_or_else(|| {
            ApiError::not_found(format!(
                "Container {} cannot be found",
                k.container_id.value
            ))
        })?;
        let pid = i32::try_from(pid)
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "bad pid"))?;
        kill(nix::unistd::Pid::from_raw(pid), signal).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Failed to signal the container: {e}"),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn requests_are_checked_before_anything_is_done() {
        let json = headers(&[("content-type", "application/json")]);
        let ok = br#"{"type":"GET_HEALTH"}"#;
        assert_eq!(
            parse_call(&Method::POST, &json, ok).unwrap().0.kind,
            T::GET_HEALTH
        );
        let status = |m: &Method, h: &HeaderMap, b: &[u8]| parse_call(m, h, b).unwrap_err().status;
        assert_eq!(
            status(&Method::GET, &json, ok),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            status(&Method::POST, &headers(&[]), ok),
            StatusCode::BAD_REQUEST
        );
        let text = headers(&[("content-type", "text/plain")]);
        assert_eq!(
            status(&Method::POST, &text, ok),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            status(&Method::POST, &json, br#"{"type":"NO_SUCH_CALL"}"#),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(status(&Method::POST, &json, b"{"), StatusCode::BAD_REQUEST);
        assert_eq!(
            status(
                &Method::POST,
                &json,
                br#"{"type":"READ_FILE","read_file":{"path":"/x","offset":-1}}"#
            ),
            StatusCode::BAD_REQUEST
        );
        let proto_only = headers(&[
            ("content-type", "application/json"),
            ("accept", "application/x-protobuf"),
        ]);
        assert_eq!(
            parse_call(&Method::POST, &proto_only, ok).unwrap().1,
            ContentType::Protobuf,
            "answered in protobuf when only that is acceptable"
        );
        let neither = headers(&[
            ("content-type", "application/json"),
            ("accept", "text/html"),
        ]);
        assert_eq!(
            status(&Method::POST, &neither, ok),
            StatusCode::NOT_ACCEPTABLE
        );
        // A protobuf GET_HEALTH call (type = field 1, GET_HEALTH = 1).
        let proto = headers(&[("content-type", "application/x-protobuf")]);
        assert_eq!(
            parse_call(&Method::POST, &proto, &[8, 1]).unwrap().0.kind,
            T::GET_HEALTH
        );
        assert_eq!(
            status(&Method::POST, &proto, &[0xff, 0xff, 0xff]),
            StatusCode::BAD_REQUEST,
            "garbage protobuf"
        );
        let any = headers(&[
            ("content-type", "application/json; charset=utf-8"),
            ("accept", "application/x-protobuf, */*;q=0.1"),
        ]);
        assert!(parse_call(&Method::POST, &any, ok).is_ok());
    }

    #[test]
    fn responses_name_their_type() {
        assert_eq!(
            response(T::GET_HEALTH, json!({"healthy": true})),
            json!({"type": "GET_HEALTH", "get_health": {"healthy": true}})
        );
    }
}

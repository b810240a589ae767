//! The master's HTTP shell: libprocess-style routing (`/master/X` == `/X`,
//! trailing `/` ignored), request parsing and response encoding. Handlers
//! lock the book only for synchronous work and never across I/O.

mod agent;
mod files;
mod legacy;
mod maintenance;
mod operator;
mod operator_stream;
mod policy;
mod reservations;
mod scheduler;
pub mod stream;

/// The master log's virtual path, and the master's `/files` roots (for the web UI).
pub(crate) use files::{LOG_VIRTUAL_PATH as MASTER_LOG_PATH, roots as master_file_roots};

use crate::error::ApiError;
use crate::server::Shared;
use crate::state_json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use mesos_proto::{CodecError, ContentType, Message};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

pub fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(shared)
}

/// Maps a request path to the master's route, as libprocess delegation does.
pub fn route_of(path: &str) -> String {
    let p = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    match p.strip_prefix("/master") {
        Some("") => "/".to_string(),
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => p.to_string(),
    }
}

async fn dispatch(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let route = route_of(uri.path());
    let ui = crate::ui::owns(&route) && route != "/ui/version";
    if (ui || crate::leadership::needs_leader(&route))
        && let Some(answer) = leader_gate(&shared, &route, &uri, ui)
    {
        return answer;
    }
    if crate::ui::owns(&route) {
        return crate::ui::serve(shared, &method, &route, &uri, &headers).await;
    }
    let query = parse_query(uri.query());
    let jsonp = query.get("jsonp").cloned();
    let result = match route.as_str() {
        "/api/v1/scheduler" => {
            return scheduler::handle(shared, method, headers, body)
                .await
                .unwrap_or_else(error_response);
        }
        "/api/v1/agent" => {
            return agent::handle(shared, peer, method, headers, body)
                .await
                .unwrap_or_else(error_response);
        }
        // 503 while this master cannot do its job: a leader cut off from
        // ZooKeeper (no changes are made then) or one that lost its
        // leadership. Followers are healthy.
        "/health" => {
            return match health_problem(&shared) {
                None => StatusCode::OK.into_response(),
                Some(why) => error_response(ApiError::Unavailable(why)),
            };
        }
        "/version" => get_only(&method).map(|_| to_vec(&state_json::version())),
        "/flags" => get_only(&method).map(|_| to_vec(&json!({"flags": shared.effective_flags}))),
        // Snapshot under the lock, written outside it (state_json::serve).
        "/state" | "/state.json" => match get_only(&method) {
            Ok(()) => return state_json::serve_state(&shared, jsonp.as_deref()).await,
            Err(e) => Err(e),
        },
        "/frameworks" => match get_only(&method) {
            Ok(()) => {
                state_json::serve_frameworks(&shared, query.get("framework_id").cloned()).await
            }
            Err(e) => Err(e),
        },
        "/slaves" => match get_only(&method) {
            Ok(()) => state_json::serve_agents(&shared, query.get("slave_id").cloned()).await,
            Err(e) => Err(e),
        },
        "/tasks" | "/tasks.json" => match get_only(&method) {
            Ok(()) => state_json::serve_tasks(&shared, &query).await,
            Err(e) => Err(e),
        },
        "/state-summary" => match get_only(&method) {
            Ok(()) => state_json::serve_summary(&shared).await,
            Err(e) => Err(e),
        },
        "/roles" | "/roles.json" => match get_only(&method) {
            Ok(()) => state_json::serve_roles(&shared).await,
            Err(e) => Err(e),
        },
        "/weights" => policy::weights(shared, method.clone(), body).await,
        "/maintenance/schedule" => maintenance::schedule(shared, method.clone(), body).await,
        "/maintenance/status" => maintenance::status(&shared, &method),
        "/machine/down" => maintenance::machines(shared, method.clone(), body, true).await,
        "/machine/up" => maintenance::machines(shared, method.clone(), body, false).await,
        "/reserve" | "/unreserve" | "/create-volumes" | "/destroy-volumes" => {
            use crate::master::reservations::ConversionKind as K;
            let kind = match route.as_str() {
                "/reserve" => K::Reserve,
                "/unreserve" => K::Unreserve,
                "/create-volumes" => K::Create,
                _ => K::Destroy,
            };
            return reservations::legacy(shared, method.clone(), body, kind)
                .await
                .unwrap_or_else(error_response);
        }
        "/quota" => {
            return policy::quota(shared, method.clone(), None, body)
                .await
                .unwrap_or_else(|e| with_allow(error_response(e), "GET, HEAD, POST"));
        }
        r if r.starts_with("/quota/") => {
            let role = r.trim_start_matches("/quota/").to_string();
            return policy::quota(shared, method.clone(), Some(role), body)
                .await
                .unwrap_or_else(|e| with_allow(error_response(e), "DELETE"));
        }
        "/teardown" => {
            return legacy::teardown(shared, method, body)
                .await
                .unwrap_or_else(error_response);
        }
        "/metrics/snapshot" => match get_only(&method) {
            Ok(()) => Ok(to_vec(&Json::Object(metrics_snapshot(&shared).await))),
            Err(e) => Err(e),
        },
        // Prometheus text (our addition).
        "/metrics" => match get_only(&method) {
            Ok(()) => {
                let text = mesos_daemon::prometheus::render(&metrics_snapshot(&shared).await);
                return (
                    [(header::CONTENT_TYPE, mesos_daemon::prometheus::CONTENT_TYPE)],
                    text,
                )
                    .into_response();
            }
            Err(e) => Err(e),
        },
        "/files/browse"
        | "/files/browse.json"
        | "/files/read"
        | "/files/read.json"
        | "/files/download"
        | "/files/download.json"
        | "/files/debug"
        | "/files/debug.json" => {
            return files::serve(&shared, &route, &method, &query).await;
        }
        // Always to the leader, without a path (bookmarks of the UI).
        "/redirect" => {
            return match shared.read(|m| m.leader.clone()) {
                Some(l) => redirect(&crate::leadership::leader_authority(&l)),
                None => error_response(ApiError::Unavailable("No leader elected".into())),
            };
        }
        "/api/v1" | "/api/v1/operator" => {
            return operator::handle(shared, method, headers, body)
                .await
                .unwrap_or_else(error_response);
        }
        // A browser gets the UI's friendly page, a client the JSON error.
        r if crate::ui::wants_html(&headers) => return crate::ui::not_found_page(&shared, r),
        r => Err(ApiError::NotFound(format!("No endpoint at '{r}'"))),
    };
    match result {
        Ok(v) => bytes_response(StatusCode::OK, v, jsonp.as_deref()),
        Err(e) => {
            // Every route answered here is read-only, but for `/weights`.
            let allow = matches!(e, ApiError::MethodNotAllowed(_)).then(|| match route.as_str() {
                "/weights" => "GET, HEAD, PUT",
                "/maintenance/schedule" => "GET, HEAD, POST",
                "/machine/down" | "/machine/up" => "POST",
                _ => "GET, HEAD",
            });
            let r = error_response(e);
            match allow {
                Some(a) => with_allow(r, a),
                None => r,
            }
        }
    }
}

/// What a master that cannot serve `route` itself answers: 307 to the
/// leader, or 503 saying why (no leader, recovering, cut off from
/// ZooKeeper). `None`: serve it.
fn leader_gate(shared: &Shared, route: &str, uri: &Uri, ui: bool) -> Option<Response> {
    use crate::leadership::Gate;
    let asked = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let gate = match crate::leadership::gate(&shared.role(), route, asked, ui) {
        Gate::Serve => match shared.paused_reason() {
            Some(why) => Gate::Unavailable(why),
            None => return None,
        },
        g => g,
    };
    Some(match gate {
        Gate::Redirect(location) => redirect(&location),
        // Expected around every election (clients retry): not logged per
        // request, which at 10k agents re-registering floods the log.
        Gate::Unavailable(why) => {
            tracing::debug!("503 for {route}: {why}");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"message": why}),
                None,
            )
        }
        Gate::Serve => return None,
    })
}

/// Why `/master/health` is not OK, if it is not.
fn health_problem(shared: &Shared) -> Option<String> {
    match shared.role() {
        crate::leadership::MasterRole::Lost(why) => {
            Some(format!("Master is no longer the leader: {why}"))
        }
        crate::leadership::MasterRole::Leading | crate::leadership::MasterRole::Recovering => {
            shared.paused_reason()
        }
        crate::leadership::MasterRole::Standby { .. } => None,
    }
}

fn redirect(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::TEMPORARY_REDIRECT)
        .header(header::LOCATION, location)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Sets the `Allow` header of a 405 answer (other answers are left alone).
fn with_allow(mut r: Response, allow: &'static str) -> Response {
    if r.status() == StatusCode::METHOD_NOT_ALLOWED {
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    r
}

/// Every metric, as `/metrics/snapshot`, `/metrics` and GET_METRICS show them.
pub(crate) async fn metrics_snapshot(shared: &Shared) -> serde_json::Map<String, Json> {
    // `/proc` is read without the book's lock, on a blocking thread.
    let mut all = tokio::task::spawn_blocking(state_json::system_metrics)
        .await
        .unwrap_or_default();
    all.extend(shared.read(|m| state_json::metrics(m, crate::master::now_secs())));
    all
}

pub(super) fn get_only(m: &Method) -> Result<(), ApiError> {
    if m == Method::GET || m == Method::HEAD {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed(format!(
            "Expecting 'GET', received '{m}'"
        )))
    }
}

pub fn parse_query(q: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(percent_decode(k), percent_decode(v));
    }
    out
}

/// Query strings are tiny; a full URL crate is not worth a dependency.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn to_vec(v: &Json) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec())
}

/// JSON (or JSONP when `?jsonp=cb` is given).
pub fn json_response(status: StatusCode, v: &Json, jsonp: Option<&str>) -> Response {
    bytes_response(status, to_vec(v), jsonp)
}

/// Already-serialized JSON (or JSONP when `?jsonp=cb` is given).
pub fn bytes_response(status: StatusCode, body: Vec<u8>, jsonp: Option<&str>) -> Response {
    let (ctype, body) = match jsonp.filter(|cb| {
        !cb.is_empty()
            && cb
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$')
    }) {
        Some(cb) => {
            let mut wrapped = Vec::with_capacity(body.len() + cb.len() + 3);
            wrapped.extend_from_slice(cb.as_bytes());
            wrapped.push(b'(');
            wrapped.extend_from_slice(&body);
            wrapped.extend_from_slice(b");");
            ("text/javascript", wrapped)
        }
        None => ("application/json", body),
    };
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

pub fn error_response(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), "{e}");
    } else {
        tracing::warn!(status = status.as_u16(), "rejected request: {e}");
    }
    let mut r = json_response(status, &json!({"message": e.to_string()}), None);
    if matches!(e, ApiError::MethodNotAllowed(_)) {
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    r
}

impl From<CodecError> for ApiError {
    fn from(e: CodecError) -> ApiError {
        match e.status() {
            400 => ApiError::BadRequest(e.to_string()),
            406 => ApiError::NotAcceptable(e.to_string()),
            415 => ApiError::UnsupportedMediaType(e.to_string()),
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

/// The request body's encoding, from `Content-Type` (spec 0.2).
pub fn request_content_type(headers: &HeaderMap) -> Result<ContentType, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("<not text>"));
    Ok(ContentType::from_content_type(ct)?)
}

/// The answer's encoding, from `Accept` (spec 0.2: JSON if acceptable,
/// else protobuf, else 406).
pub fn response_content_type(headers: &HeaderMap) -> Result<ContentType, ApiError> {
    let accept = headers
        .get(header::ACCEPT)
        .map(|v| v.to_str().unwrap_or("<not text>"));
    Ok(ContentType::negotiate(accept, &[])?)
}

/// A 200 answer of `body`, already encoded as `ct`.
pub fn encoded_response(ct: ContentType, body: Vec<u8>) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct.mime()));
    r
}

/// The header carrying a subscription's stream id.
pub const STREAM_ID: &str = "Mesos-Stream-Id";

pub fn stream_id_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(STREAM_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The common front of the v1 POST endpoints: method, content type, body
/// size, and the body decoded (JSON or protobuf) into `T`. Returns the
/// body's encoding too.
pub async fn parse_v1_call<T: serde::de::DeserializeOwned>(
    method: &Method,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    msg: Message,
) -> Result<(T, ContentType), ApiError> {
    post_only(method)?;
    let ct = request_content_type(headers)?;
    let bytes = read_body(body, limit).await?;
    Ok((ct.decode(msg, &bytes)?, ct))
}

/// [`parse_v1_call`] for our own agent protocol, which is JSON only.
pub async fn parse_json_call<T: serde::de::DeserializeOwned>(
    method: &Method,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    what: &str,
) -> Result<T, ApiError> {
    post_only(method)?;
    if request_content_type(headers)? != ContentType::Json {
        return Err(ApiError::UnsupportedMediaType(
            "The agent protocol is spoken in 'application/json' only".into(),
        ));
    }
    let bytes = read_body(body, limit).await?;
    mesos_types::json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("Failed to parse body into {what}: {e}")))
}

fn post_only(method: &Method) -> Result<(), ApiError> {
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed(format!(
            "Expecting 'POST', received '{method}'"
        )));
    }
    Ok(())
}

/// The body, at most `limit` bytes; a larger one gets 413 and is drained
/// so that the client sees the answer ([`mesos_http::read_body_limited`]).
pub async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    mesos_http::read_body_limited(body, limit)
        .await
        .map_err(|e| match e {
            mesos_http::BodyError::TooLarge { .. } => ApiError::PayloadTooLarge(format!(
                "Request body exceeds the limit of {limit} bytes"
            )),
            mesos_http::BodyError::Read(e) => {
                ApiError::BadRequest(format!("Request body could not be read: {e}"))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libprocess_delegation() {
        assert_eq!(route_of("/master/state"), "/state");
        assert_eq!(route_of("/state/"), "/state");
        assert_eq!(route_of("/master/api/v1/scheduler"), "/api/v1/scheduler");
        assert_eq!(route_of("/master"), "/");
        assert_eq!(route_of("/masterx"), "/masterx");
        assert_eq!(route_of("/"), "/");
    }

    #[test]
    fn query_decoding() {
        let q = parse_query(Some("jsonp=cb&path=%2Ftmp%2Fx+y&bad=%zz"));
        assert_eq!(q["path"], "/tmp/x y");
        assert_eq!(q["bad"], "%zz");
    }
}

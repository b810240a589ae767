//! The agent's HTTP server: libprocess-style routing and the endpoints.
//!
//! Every request goes through [`route`], a pure function that strips the
//! `/slave(1)` process prefix and a trailing `/`, then finds the endpoint by
//! longest prefix (libprocess semantics, spec §0.1). Handlers live in the
//! submodules: `executor_api` (the executor API), `operator` and `v1` (the
//! v1 operator API), `state` (`/state`, `/flags`, `/metrics/snapshot`),
//! `files` (the `/files` roots). Errors are `{"message": ...}` JSON on the
//! JSON endpoints and plain text on the executor API. Every JSON GET
//! endpoint honours `?jsonp=`.

mod executor_api;
pub mod files;
mod operator;
mod state;
mod v1;

pub use executor_api::{parse_call, validate_status};
pub use state::{render_flags, render_metrics, render_state, render_version};

use crate::error::ApiError;
use crate::runtime::Shared;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// The endpoints the agent serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ExecutorApi,
    OperatorApi,
    /// `/api/v1/resource_provider`: recognised so that it is not taken
    /// for an operator call (longest prefix), answered 501.
    ResourceProviderApi,
    Prometheus,
    State,
    Flags,
    Health,
    Version,
    MetricsSnapshot,
    MonitorStatistics,
    Containers,
    FilesBrowse,
    FilesRead,
    FilesDownload,
    FilesDebug,
}

const ROUTES: &[(&str, Endpoint)] = &[
    ("/api/v1/executor", Endpoint::ExecutorApi),
    ("/api/v1", Endpoint::OperatorApi),
    ("/api/v1/resource_provider", Endpoint::ResourceProviderApi),
    ("/metrics", Endpoint::Prometheus),
    ("/state", Endpoint::State),
    ("/state.json", Endpoint::State),
    ("/flags", Endpoint::Flags),
    ("/health", Endpoint::Health),
    ("/version", Endpoint::Version),
    ("/metrics/snapshot", Endpoint::MetricsSnapshot),
    ("/monitor/statistics", Endpoint::MonitorStatistics),
    ("/monitor/statistics.json", Endpoint::MonitorStatistics),
    ("/containers", Endpoint::Containers),
    ("/files/browse", Endpoint::FilesBrowse),
    ("/files/browse.json", Endpoint::FilesBrowse),
    ("/files/read", Endpoint::FilesRead),
    ("/files/read.json", Endpoint::FilesRead),
    ("/files/download", Endpoint::FilesDownload),
    ("/files/download.json", Endpoint::FilesDownload),
    ("/files/debug", Endpoint::FilesDebug),
    ("/files/debug.json", Endpoint::FilesDebug),
];

/// Maps a request path to an endpoint (spec §0.1 routing rules).
pub fn route(path: &str) -> Option<Endpoint> {
    let path = path.replace("%28", "(").replace("%29", ")");
    let mut p = path.trim_end_matches('/');
    if let Some(rest) = p.strip_prefix("/slave(1)")
        && (rest.is_empty() || rest.starts_with('/'))
    {
        p = rest;
    }
    let mut candidate = p.to_string();
    loop {
        if let Some((_, e)) = ROUTES.iter().find(|(r, _)| *r == candidate) {
            return Some(*e);
        }
        match candidate.rfind('/') {
            Some(0) | None => return None,
            Some(i) => candidate.truncate(i),
        }
    }
}

/// The agent's router (no master needed: useful in tests).
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let Some(endpoint) = route(request.uri().path()) else {
        return json_error(&ApiError::not_found(format!(
            "No endpoint at '{}'",
            request.uri().path()
        )));
    };
    match endpoint {
        Endpoint::ExecutorApi => return executor_api::handle(shared, request).await,
        Endpoint::OperatorApi => return operator::handle(shared, request).await,
        Endpoint::ResourceProviderApi => {
            return json_error(&ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "The resource provider API is not supported by this agent",
            ));
        }
        _ => {}
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut r = json_error(&ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Expecting a GET request",
        ));
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let query = match axum::extract::Query::<HashMap<String, String>>::try_from_uri(request.uri()) {
        Ok(q) => q.0,
        Err(e) => return json_error(&ApiError::bad_request(format!("Malformed query: {e}"))),
    };
    let value = match endpoint {
        Endpoint::Health => return StatusCode::OK.into_response(),
        Endpoint::State => shared.read(|c| render_state(c, &shared.facts)),
        Endpoint::Flags => render_flags(&shared.facts),
        Endpoint::Version => render_version(),
        Endpoint::MetricsSnapshot => Value::Object(metrics_snapshot(&shared).await),
        Endpoint::Prometheus => {
            let text = mesos_daemon::prometheus::render(&metrics_snapshot(&shared).await);
            return (
                [(header::CONTENT_TYPE, mesos_daemon::prometheus::CONTENT_TYPE)],
                text,
            )
                .into_response();
        }
        Endpoint::MonitorStatistics => {
            crate::monitor::render_statistics(&crate::monitor::collect(&shared).await)
        }
        Endpoint::Containers => {
            crate::monitor::render_containers(&crate::monitor::collect(&shared).await)
        }
        Endpoint::FilesBrowse
        | Endpoint::FilesRead
        | Endpoint::FilesDebug
        | Endpoint::FilesDownload => return files::serve(endpoint, &shared, &query).await,
        Endpoint::ExecutorApi | Endpoint::OperatorApi | Endpoint::ResourceProviderApi => {
            unreachable!("handled above")
        }
    };
    json_response(&value, query.get("jsonp").map(String::as_str))
}

/// Every metric, as `/metrics/snapshot`, `/metrics` and GET_METRICS show
/// them: the agent's under the core's lock, `system/*` read from `/proc`
/// on a blocking thread without it.
pub async fn metrics_snapshot(shared: &Shared) -> serde_json::Map<String, Value> {
    let mut all = tokio::task::spawn_blocking(mesos_daemon::system::system)
        .await
        .unwrap_or_default();
    all.extend(shared.read(|c| render_metrics(c, &shared.facts)));
    all
}

/// A JSON body, or `callback(<json>)` as text/javascript for `?jsonp=`.
pub fn json_response(value: &Value, jsonp: Option<&str>) -> Response {
    let json = value.to_string();
    match jsonp {
        Some(cb) if !is_valid_callback(cb) => {
            json_error(&ApiError::bad_request("Invalid 'jsonp' callback name"))
        }
        Some(cb) => (
            [(header::CONTENT_TYPE, "text/javascript")],
            format!("{cb}({json});"),
        )
            .into_response(),
        None => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
    }
}

/// JavaScript identifiers and dotted paths only (no markup injection).
fn is_valid_callback(cb: &str) -> bool {
    !cb.is_empty()
        && cb.len() <= 128
        && cb
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$')
}

/// `{"message": ...}` with the error's status.
pub fn json_error(e: &ApiError) -> Response {
    let body = serde_json::json!({"message": e.message}).to_string();
    (
        e.status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

/// A plain-text error (executor API).
pub fn text_error(e: &ApiError) -> Response {
    (
        e.status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        e.message.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_follows_libprocess() {
        assert_eq!(route("/state"), Some(Endpoint::State));
        assert_eq!(route("/slave(1)/state"), Some(Endpoint::State));
        assert_eq!(route("/slave%281%29/state.json"), Some(Endpoint::State));
        assert_eq!(route("/state/"), Some(Endpoint::State));
        assert_eq!(
            route("/slave(1)/api/v1/executor"),
            Some(Endpoint::ExecutorApi)
        );
        assert_eq!(route("/api/v1/executor/extra"), Some(Endpoint::ExecutorApi));
        assert_eq!(route("/files/read.json"), Some(Endpoint::FilesRead));
        assert_eq!(route("/files"), None);
        assert_eq!(route("/api/v1"), Some(Endpoint::OperatorApi));
        assert_eq!(route("/slave(1)/api/v1"), Some(Endpoint::OperatorApi));
        assert_eq!(route("/api/v1/operator"), Some(Endpoint::OperatorApi));
        assert_eq!(
            route("/slave(1)/api/v1/resource_provider"),
            Some(Endpoint::ResourceProviderApi)
        );
        assert_eq!(route("/metrics"), Some(Endpoint::Prometheus));
        assert_eq!(route("/metrics/snapshot"), Some(Endpoint::MetricsSnapshot));
        assert_eq!(route("/"), None);
        assert_eq!(route("/slave(2)/state"), None);
        assert_eq!(route("/slave(1)x/state"), None);
    }

    #[test]
    fn jsonp_callbacks_are_checked() {
        assert!(is_valid_callback("angular.callbacks._0"));
        assert!(!is_valid_callback("alert(1)//"));
        assert!(!is_valid_callback(""));
    }
}

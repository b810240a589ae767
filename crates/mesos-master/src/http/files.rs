//! The master's `/files/{browse,read,download,debug}` (spec §6.8) and the
//! roots of LIST_FILES / READ_FILE: only `/master/log`, the master's log
//! file, when `--log_dir` is set. The logic (confinement, offsets, blocking
//! threads with a timeout) is `mesos_daemon::files`, shared with the agent.

use super::{bytes_response, error_response, get_only, to_vec};
use crate::error::ApiError;
use crate::server::Shared;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use mesos_daemon::files::{FileRoots, http};
use std::collections::BTreeMap;

/// The virtual path of the master's log file.
pub const LOG_VIRTUAL_PATH: &str = "/master/log";

/// The master's roots.
pub fn roots(shared: &Shared) -> FileRoots {
    let mut roots = FileRoots::default();
    if let Some(log) = &shared.log_file {
        roots.add(LOG_VIRTUAL_PATH, log.clone());
    }
    roots
}

/// Serves `route` (`/files/browse`, ..., or a `.json` alias).
pub async fn serve(
    shared: &Shared,
    route: &str,
    method: &Method,
    query: &BTreeMap<String, String>,
) -> Response {
    if let Err(e) = get_only(method) {
        return error_response(e);
    }
    let roots = roots(shared);
    let q = |k: &str| query.get(k).map(String::as_str);
    let result = match route.trim_end_matches(".json") {
        "/files/download" => {
            return match http::download(roots, q("path")).await {
                Ok(r) => r,
                Err(e) => error_response(ApiError::from(e)),
            };
        }
        "/files/browse" => http::browse(roots, q("path")).await,
        "/files/read" => http::read(roots, q("path"), q("offset"), q("length")).await,
        _ => Ok(http::debug(&roots)),
    };
    match result {
        Ok(v) => bytes_response(StatusCode::OK, to_vec(&v), q("jsonp")),
        Err(e) => error_response(ApiError::from(e)),
    }
}

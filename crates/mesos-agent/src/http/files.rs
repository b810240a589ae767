//! The agent's `/files/*` roots and glue over `mesos_daemon::files`: every
//! executor sandbox (live or finished) with its `runs/latest` aliases
//! (long and short, spec §6.8), and `/slave/log` when `--log_dir` is set.
//! The roots are copied out of the core under its lock; the file work
//! happens after, on blocking threads.

use super::{Endpoint, json_error, json_response};
use crate::core::Sandbox;
use crate::error::ApiError;
use crate::runtime::Shared;
use axum::http::StatusCode;
use axum::response::Response;
use mesos_daemon::files::{FileRoots, FilesError, http};
use std::collections::HashMap;
use std::path::Path;

/// The virtual path of the agent's log file.
pub const LOG_VIRTUAL_PATH: &str = "/slave/log";

/// Roots for executor sandboxes and the agent's log file.
pub fn file_roots(sandboxes: &[Sandbox], log_file: Option<&Path>) -> FileRoots {
    let mut roots = FileRoots::default();
    for s in sandboxes {
        roots.add(&s.directory.display().to_string(), s.directory.clone());
        if let Some(runs) = s.directory.parent() {
            let latest = runs.join("latest");
            roots.add(&latest.display().to_string(), latest.clone());
            let short = crate::paths::virtual_latest(&s.framework_id.value, &s.executor_id.value);
            roots.add(&short, latest);
        }
    }
    if let Some(log) = log_file {
        roots.add(LOG_VIRTUAL_PATH, log.to_path_buf());
    }
    roots
}

/// The roots of this agent now.
pub fn roots(shared: &Shared) -> FileRoots {
    let sandboxes = shared.read(|c| c.sandboxes());
    file_roots(&sandboxes, shared.facts.log_file.as_deref())
}

impl From<FilesError> for ApiError {
    fn from(e: FilesError) -> ApiError {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, e.to_string())
    }
}

/// `/files/{browse,read,download,debug}` (JSON errors; `?jsonp=` on the
/// JSON ones).
pub async fn serve(
    endpoint: Endpoint,
    shared: &Shared,
    query: &HashMap<String, String>,
) -> Response {
    let roots = roots(shared);
    let q = |k: &str| query.get(k).map(String::as_str);
    let result = match endpoint {
        Endpoint::FilesDownload => {
            return http::download(roots, q("path"))
                .await
                .unwrap_or_else(|e| json_error(&e.into()));
        }
        Endpoint::FilesBrowse => http::browse(roots, q("path")).await,
        Endpoint::FilesRead => http::read(roots, q("path"), q("offset"), q("length")).await,
        _ => Ok(http::debug(&roots)),
    };
    match result {
        Ok(v) => json_response(&v, q("jsonp")),
        Err(e) => json_error(&e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn sandboxes_have_three_names_and_the_log_one() {
        let run = PathBuf::from("/w/slaves/a/frameworks/f/executors/e/runs/c1");
        let roots = file_roots(
            &[Sandbox {
                framework_id: "f".into(),
                executor_id: "e".into(),
                directory: run.clone(),
            }],
            Some(Path::new("/var/log/mesos/mesos-agent.INFO")),
        );
        let debug = roots.debug();
        assert_eq!(debug[run.display().to_string()], run.display().to_string());
        assert_eq!(
            debug["/frameworks/f/executors/e/runs/latest"],
            "/w/slaves/a/frameworks/f/executors/e/runs/latest"
        );
        assert!(
            debug
                .get("/w/slaves/a/frameworks/f/executors/e/runs/latest")
                .is_some()
        );
        assert_eq!(debug["/slave/log"], "/var/log/mesos/mesos-agent.INFO");
        assert!(
            file_roots(&[], None)
                .debug()
                .as_object()
                .unwrap()
                .is_empty()
        );
    }
}

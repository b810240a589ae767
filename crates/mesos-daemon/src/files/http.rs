//! HTTP glue of `/files/{browse,read,download,debug}` over [`crate::files`].
//!
//! Every file operation blocks (a sandbox is any file system, and a task
//! can put anything in it), so each runs on a blocking thread under
//! [`FILE_OP_TIMEOUT`]: a request that exceeds it gets 504 and gives up
//! waiting, instead of pinning an async worker.

use crate::error::ApiError;
use crate::files::{self, FileRoots, FilesError};
use crate::runtime::Shared;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// The longest a single file operation (resolve, open, stat, list, read
/// one chunk) may take.
pub const FILE_OP_TIMEOUT: Duration = Duration::from_secs(10);

fn roots(shared: &Shared) -> FileRoots {
    shared.read(|c| FileRoots::for_sandboxes(&c.sandboxes()))
}

fn path_param(query: &HashMap<String, String>) -> Result<String, ApiError> {
    query
        .get("path")
        .filter(|p| !p.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("Expecting 'path=value' in query."))
}

impl From<FilesError> for ApiError {
    fn from(e: FilesError) -> ApiError {
        match e {
            FilesError::BadRequest(m) => ApiError::bad_request(m),
            FilesError::Forbidden(m) => ApiError::forbidden(m),
            FilesError::NotFound(m) => ApiError::not_found(m),
        }
    }
}

fn timed_out() -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        format!(
            "The file operation did not finish within {}",
            mesos_flags::Duration(FILE_OP_TIMEOUT)
        ),
    )
}

/// Runs blocking file work on a blocking thread, for at most [`FILE_OP_TIMEOUT`].
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FilesError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::time::timeout(FILE_OP_TIMEOUT, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(result)) => result.map_err(ApiError::from),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
        Err(_) => Err(timed_out()),
    }
}

pub async fn browse(shared: &Shared, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let (roots, path) = (roots(shared), path_param(query)?);
    blocking(move || files::browse(&roots.resolve(&path)?)).await
}

pub async fn read(shared: &Shared, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let (roots, path) = (roots(shared), path_param(query)?);
    let offset = query.get("offset").cloned();
    let length = query.get("length").cloned();
    blocking(move || {
        let resolved = roots.resolve(&path)?;
        files::read(&resolved, offset.as_deref(), length.as_deref())
    })
    .await
}

pub fn debug(shared: &Shared) -> Value {
    roots(shared).debug()
}

/// Streams the file as an attachment.
pub async fn download(
    shared: &Shared,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let (roots, path) = (roots(shared), path_param(query)?);
    let (real, file, meta) = blocking(move || {
        let resolved = roots.resolve(&path)?;
        let (file, meta) = files::open_regular(&resolved, "download")?;
        Ok((resolved.real, file, meta))
    })
    .await?;
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().replace('"', ""))
        .unwrap_or_default();
    let file = tokio::fs::File::from_std(file);
    let stream = futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match tokio::time::timeout(FILE_OP_TIMEOUT, file.read(&mut buf)).await {
            Ok(Ok(0)) => None,
            Ok(Ok(n)) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Ok(Err(e)) => Some((Err(e), None)),
            Err(_) => Some((Err(std::io::Error::other(timed_out().message)), None)),
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, files::content_type(&real))
        .header(header::CONTENT_LENGTH, meta.len())
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

//! HTTP glue of `/files/{browse,read,download,debug}` over [`crate::files`].

use crate::error::ApiError;
use crate::files::{self, FileRoots, FilesError};
use crate::runtime::Shared;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use tokio::io::AsyncReadExt;

fn roots(shared: &Shared) -> FileRoots {
    shared.read(|c| FileRoots::for_sandboxes(&c.sandboxes()))
}

fn path_param(query: &HashMap<String, String>) -> Result<&str, ApiError> {
    query
        .get("path")
        .map(String::as_str)
        .filter(|p| !p.is_empty())
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

pub fn browse(shared: &Shared, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let resolved = roots(shared).resolve(path_param(query)?)?;
    Ok(files::browse(&resolved)?)
}

pub fn read(shared: &Shared, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let resolved = roots(shared).resolve(path_param(query)?)?;
    let offset = query.get("offset").map(String::as_str);
    let length = query.get("length").map(String::as_str);
    Ok(files::read(&resolved.real, offset, length)?)
}

pub fn debug(shared: &Shared) -> Value {
    roots(shared).debug()
}

/// Streams the file as an attachment.
pub async fn download(
    shared: &Shared,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let resolved = roots(shared).resolve(path_param(query)?)?;
    let meta = tokio::fs::metadata(&resolved.real)
        .await
        .map_err(|_| ApiError::not_found("No such file"))?;
    if meta.is_dir() {
        return Err(ApiError::bad_request("Cannot download a directory."));
    }
    let file = tokio::fs::File::open(&resolved.real)
        .await
        .map_err(|e| ApiError::forbidden(format!("Cannot open file: {e}")))?;
    let name = resolved
        .real
        .file_name()
        .map(|n| n.to_string_lossy().replace('"', ""))
        .unwrap_or_default();
    let stream = futures::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, files::content_type(&resolved.real))
        .header(header::CONTENT_LENGTH, meta.len())
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

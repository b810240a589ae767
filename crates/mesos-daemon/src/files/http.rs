//! `/files/{browse,read,download,debug}` and the v1 LIST_FILES / READ_FILE
//! payloads over [`super`], for any daemon's [`FileRoots`].
//!
//! Every file operation blocks (a sandbox is any file system, and a task
//! can put anything in it), so each runs on a blocking thread under
//! [`FILE_OP_TIMEOUT`]: a request that exceeds it gets 504 and gives up
//! waiting, instead of pinning an async worker. The callers take the
//! roots out of their state first, so no lock is held during file I/O.

use super::{FileRoots, FilesError, MAX_READ};
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};
use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// The longest a single file operation (resolve, open, stat, list, read
/// one chunk) may take.
pub const FILE_OP_TIMEOUT: Duration = Duration::from_secs(10);

fn path_param(path: Option<&str>) -> Result<String, FilesError> {
    path.filter(|p| !p.is_empty())
        .map(str::to_string)
        .ok_or_else(|| FilesError::BadRequest("Expecting 'path=value' in query.".into()))
}

fn timed_out() -> FilesError {
    FilesError::Timeout(format!(
        "The file operation did not finish within {}secs",
        FILE_OP_TIMEOUT.as_secs()
    ))
}

/// Runs blocking file work on a blocking thread, for at most [`FILE_OP_TIMEOUT`].
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FilesError> + Send + 'static,
) -> Result<T, FilesError> {
    match tokio::time::timeout(FILE_OP_TIMEOUT, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(FilesError::Internal(e.to_string())),
        Err(_) => Err(timed_out()),
    }
}

/// `/files/browse?path=`.
pub async fn browse(roots: FileRoots, path: Option<&str>) -> Result<Value, FilesError> {
    let path = path_param(path)?;
    blocking(move || super::browse(&roots.resolve(&path)?)).await
}

/// `/files/read?path=&offset=&length=`.
pub async fn read(
    roots: FileRoots,
    path: Option<&str>,
    offset: Option<&str>,
    length: Option<&str>,
) -> Result<Value, FilesError> {
    let path = path_param(path)?;
    let (offset, length) = (offset.map(str::to_string), length.map(str::to_string));
    blocking(move || {
        let resolved = roots.resolve(&path)?;
        super::read(&resolved, offset.as_deref(), length.as_deref())
    })
    .await
}

/// `/files/debug`.
pub fn debug(roots: &FileRoots) -> Value {
    roots.debug()
}

/// `/files/download?path=`: streams the file as an attachment.
pub async fn download(roots: FileRoots, path: Option<&str>) -> Result<Response, FilesError> {
    let path = path_param(path)?;
    let (real, file, meta) = blocking(move || {
        let resolved = roots.resolve(&path)?;
        let (file, meta) = super::open_regular(&resolved, "download")?;
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
            Err(_) => Some((Err(std::io::Error::other(timed_out().to_string())), None)),
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, super::content_type(&real))
        .header(header::CONTENT_LENGTH, meta.len())
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(Body::from_stream(stream))
        .map_err(|e| FilesError::Internal(e.to_string()))
}

/// LIST_FILES: `{"file_infos": [FileInfo]}` (the field left out when the
/// directory is empty, as stout leaves out empty repeated fields).
pub async fn list_files(roots: FileRoots, path: &str) -> Result<Value, FilesError> {
    let path = path_param(Some(path))?;
    blocking(move || {
        let resolved = roots.resolve(&path)?;
        let infos: Vec<Value> = super::list(&resolved)?
            .iter()
            .map(|(p, m)| super::v1_file_info(p, m))
            .collect();
        let mut o = serde_json::Map::new();
        if !infos.is_empty() {
            o.insert("file_infos".into(), Value::Array(infos));
        }
        Ok(Value::Object(o))
    })
    .await
}

/// READ_FILE: `{"size": <file size>, "data": <base64 of the bytes from
/// offset>}`, at most [`MAX_READ`] bytes (or `length`, if smaller).
pub async fn read_file(
    roots: FileRoots,
    path: &str,
    offset: u64,
    length: Option<u64>,
) -> Result<Value, FilesError> {
    let path = path_param(Some(path))?;
    blocking(move || {
        let resolved = roots.resolve(&path)?;
        let (mut file, meta) = super::open_regular(&resolved, "read")?;
        let size = meta.len();
        let mut buf = Vec::new();
        if offset < size {
            let count = length.unwrap_or(MAX_READ).min(MAX_READ).min(size - offset);
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| FilesError::BadRequest(format!("Cannot seek: {e}")))?;
            file.take(count)
                .read_to_end(&mut buf)
                .map_err(|e| FilesError::BadRequest(format!("Cannot read file: {e}")))?;
        }
        let data = base64::engine::general_purpose::STANDARD.encode(&buf);
        Ok(json!({"size": size, "data": data}))
    })
    .await
}

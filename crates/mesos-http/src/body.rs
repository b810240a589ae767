//! Reading request bodies under a size limit.
//!
//! Answering 413 as soon as a body passes the limit and closing the
//! connection is not enough: most clients (reqwest, curl, Python's
//! requests) write the whole body before they read the answer, so they
//! see a reset or a broken pipe instead of the 413 and its message. As
//! web servers do ("lingering close"), the rest of the body is read and
//! thrown away by a background task while the answer goes out, up to
//! [`DRAIN_LIMIT`]; past that the connection is cut. A client that stops
//! sending is cut by the body-stall timeout of [`crate::serve`].

use axum::body::Body;
use futures::StreamExt;
use hyper::body::Bytes;

/// Most bytes of an oversized body read and thrown away after the answer;
/// a body announced larger is not drained (its connection is cut).
pub const DRAIN_LIMIT: u64 = 256 * 1024 * 1024;

/// Oversized bodies drained at once; beyond, connections are cut.
static DRAINS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(64);

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("request body could not be read: {0}")]
    Read(String),
}

/// Reads `body` whole if it is at most `limit` bytes; a larger one is
/// refused without being kept, and drained in the background (see the
/// module's documentation).
pub async fn read_body_limited(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    // A body announced too large (`Content-Length`) is refused unread.
    let announced = hyper::body::Body::size_hint(&body).lower();
    let mut stream = body.into_data_stream();
    if announced > limit as u64 {
        drain(stream, 0, announced);
        return Err(BodyError::TooLarge { limit });
    }
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if buf.len().saturating_add(chunk.len()) > limit {
            drain(stream, (buf.len() + chunk.len()) as u64, announced);
            return Err(BodyError::TooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// Reads and drops the rest of `stream` in the background (`read` bytes
/// already read, `announced` announced), within [`DRAIN_LIMIT`] and the
/// number of drains at once.
fn drain(mut stream: axum::body::BodyDataStream, mut read: u64, announced: u64) {
    if announced > DRAIN_LIMIT {
        return;
    }
    let Ok(permit) = DRAINS.try_acquire() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        while read < DRAIN_LIMIT {
            match stream.next().await {
                Some(Ok(c)) => read += c.len() as u64,
                _ => break,
            }
        }
    });
}

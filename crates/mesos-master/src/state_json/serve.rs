//! The endpoints: a snapshot taken under the book's lock, written to bytes
//! on a blocking thread after the lock is released, so allocation and
//! scheduler calls never wait for a rendering.
//!
//! `/master/state` requests are batched (as Mesos batches them): while one
//! rendering runs, requests that arrive wait for it to finish and then
//! share the next one, whose snapshot is taken after they all arrived. Ten
//! pollers therefore cost at most two renderings at a time, not ten.

use super::Document;
use super::roles::RolesSnapshot;
use super::snapshot::{
    AgentsSnapshot, FrameworksSnapshot, StateSnapshot, TasksQuery, TasksSnapshot,
};
use super::summary::SummarySnapshot;
use crate::error::ApiError;
use crate::server::Shared;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Runs `write` on a blocking thread.
async fn off_the_lock<T: Send + 'static>(
    write: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(write)
        .await
        .map_err(|e| ApiError::Internal(format!("rendering failed: {e}")))
}

/// Renderings of `/frameworks`, `/slaves`, `/tasks`, `/state-summary`,
/// `/roles` and the operator API's state calls at once, in this process.
/// Each holds a snapshot and tens of MiB of output at cluster scale;
/// unbounded, a hundred concurrent pollers would take gigabytes and every
/// blocking thread. (`/master/state` is batched instead.)
static LISTING_RENDERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Waits for one of the rendering slots (see [`LISTING_RENDERS`]); held
/// until the permit is dropped.
pub async fn rendering_slot() -> Result<tokio::sync::SemaphorePermit<'static>, ApiError> {
    LISTING_RENDERS
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(format!("rendering failed: {e}")))
}

/// Takes the snapshot `take` once a rendering slot is free, then writes it
/// off the lock.
async fn limited<S: Send + 'static>(
    shared: &Arc<Shared>,
    take: impl FnOnce(&crate::master::Master) -> S,
    write: impl FnOnce(S) -> Vec<u8> + Send + 'static,
) -> Result<Vec<u8>, ApiError> {
    let _slot = rendering_slot().await?;
    let snapshot = shared.read(take);
    off_the_lock(move || write(snapshot)).await
}

/// One `/master/state` rendering.
async fn render_state(shared: &Arc<Shared>) -> Result<Document, ApiError> {
    let snapshot = shared.read(StateSnapshot::take);
    let shared = shared.clone();
    off_the_lock(move || {
        #[cfg(test)]
        hook::before_write(Arc::as_ptr(&shared) as usize);
        snapshot.write(&shared.effective_flags, shared.flags.cluster.as_deref())
    })
    .await
}

type Waiters = Vec<oneshot::Sender<Result<Document, ApiError>>>;

/// Requests waiting for the next rendering, by master (the address of its
/// `Shared`, alive while its entry is: the rendering task holds it). An
/// entry exists exactly while a rendering task runs for that master.
static BATCHES: Mutex<Option<HashMap<usize, Waiters>>> = Mutex::new(None);

fn batches() -> std::sync::MutexGuard<'static, Option<HashMap<usize, Waiters>>> {
    BATCHES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ends a master's batch, also when its rendering task is dropped (runtime
/// shut down): the waiters' senders go with it, so they render themselves.
struct BatchGuard {
    key: usize,
    armed: bool,
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        if self.armed
            && let Some(b) = batches().as_mut()
        {
            b.remove(&self.key);
        }
    }
}

/// Renders for the waiting requests until none are left.
async fn render_batches(shared: Arc<Shared>, key: usize) {
    let mut guard = BatchGuard { key, armed: true };
    loop {
        let waiters = {
            let mut b = batches();
            let waiters = b
                .as_mut()
                .and_then(|b| b.get_mut(&key))
                .map(std::mem::take)
                .unwrap_or_default();
            if waiters.is_empty() {
                // Under the same lock as the check: a later request starts
                // a new batch.
                if let Some(b) = b.as_mut() {
                    b.remove(&key);
                }
                guard.armed = false;
                return;
            }
            waiters
        };
        let body = render_state(&shared).await;
        for w in waiters {
            let _ = w.send(body.clone());
        }
    }
}

/// `/master/state`, from the next rendering.
async fn batched_state(shared: &Arc<Shared>) -> Result<Document, ApiError> {
    let key = Arc::as_ptr(shared) as usize;
    let (tx, rx) = oneshot::channel();
    let lead = match batches().get_or_insert_with(HashMap::new).entry(key) {
        Entry::Occupied(mut e) => {
            e.get_mut().push(tx);
            false
        }
        Entry::Vacant(e) => {
            e.insert(vec![tx]);
            true
        }
    };
    if lead {
        tokio::spawn(render_batches(shared.clone(), key));
    }
    match rx.await {
        Ok(body) => body,
        Err(_) => render_state(shared).await,
    }
}

/// `GET /master/state` (`?jsonp=` wraps it).
pub async fn serve_state(shared: &Arc<Shared>, jsonp: Option<&str>) -> Response {
    match batched_state(shared).await {
        Ok(body) if jsonp.is_some() => {
            crate::http::bytes_response(StatusCode::OK, body.to_vec(), jsonp)
        }
        Ok(body) => {
            let mut r = (StatusCode::OK, Body::new(DocumentBody::new(body))).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => crate::http::error_response(e),
    }
}

/// A [`Document`] as an HTTP body: its chunks in order, each sent as is
/// (no copy), with its exact length known up front (`Content-Length`).
struct DocumentBody {
    doc: Document,
    next: usize,
    left: u64,
}

impl DocumentBody {
    fn new(doc: Document) -> DocumentBody {
        let left = doc.len() as u64;
        DocumentBody { doc, next: 0, left }
    }
}

impl http_body::Body for DocumentBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let chunk = self.doc.chunks().get(self.next).cloned();
        self.next += 1;
        if let Some(c) = &chunk {
            self.left = self.left.saturating_sub(c.len() as u64);
        }
        std::task::Poll::Ready(chunk.map(|c| Ok(http_body::Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.left)
    }
}

/// `GET /master/state-summary`.
pub async fn serve_summary(shared: &Arc<Shared>) -> Result<Vec<u8>, ApiError> {
    let cluster = shared.flags.cluster.clone();
    limited(shared, SummarySnapshot::take, move |s| {
        s.write(cluster.as_deref())
    })
    .await
}

/// `GET /master/roles`.
pub async fn serve_roles(shared: &Arc<Shared>) -> Result<Vec<u8>, ApiError> {
    limited(shared, RolesSnapshot::take, RolesSnapshot::write).await
}

/// `GET /master/frameworks?framework_id=`.
pub async fn serve_frameworks(
    shared: &Arc<Shared>,
    only: Option<String>,
) -> Result<Vec<u8>, ApiError> {
    limited(
        shared,
        |m| FrameworksSnapshot::take(m, only.as_deref()),
        |s| s.write(),
    )
    .await
}

/// `GET /master/slaves?slave_id=`.
pub async fn serve_agents(shared: &Arc<Shared>, only: Option<String>) -> Result<Vec<u8>, ApiError> {
    limited(
        shared,
        |m| AgentsSnapshot::take(m, only.as_deref()),
        |s| s.write(),
    )
    .await
}

/// `GET /master/tasks?framework_id=&task_id=&limit=&offset=&order=`.
pub async fn serve_tasks(
    shared: &Arc<Shared>,
    query: &BTreeMap<String, String>,
) -> Result<Vec<u8>, ApiError> {
    let q = TasksQuery::parse(query).map_err(ApiError::BadRequest)?;
    limited(shared, |m| TasksSnapshot::take(m, &q), |s| s.write()).await
}

/// Test-only: holds a master's `/master/state` rendering after its
/// snapshot, before it writes.
#[cfg(test)]
pub(crate) mod hook {
    use std::sync::Mutex;
    use std::sync::mpsc::{Receiver, Sender};

    /// (master `Shared` address, told when its write starts, the write
    /// waits for a message here).
    pub(crate) type Pause = (usize, Sender<()>, Receiver<()>);

    pub(crate) static PAUSE: Mutex<Option<Pause>> = Mutex::new(None);

    pub(super) fn before_write(master: usize) {
        let pause = {
            let mut p = PAUSE.lock().unwrap_or_else(|p| p.into_inner());
            match p.take() {
                Some(x) if x.0 == master => Some(x),
                other => {
                    *p = other;
                    None
                }
            }
        };
        if let Some((_, started, resume)) = pause {
            let _ = started.send(());
            let _ = resume.recv();
        }
    }
}

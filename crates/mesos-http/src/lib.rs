//! The HTTP server plumbing every daemon shares (master and agent now;
//! Marathon and Chronos later): the accept loop, limits on slow or idle
//! connections, headers every response carries, the peer address for
//! handlers, graceful shutdown.
//!
//! `axum::serve` has no header-read or idle timeout: a client sending one
//! header byte per second keeps its connection (and a descriptor) for ever,
//! so some thousands of them exhaust the daemon's descriptors. Here each
//! connection is served by hyper's HTTP/1 server with a timer, and
//! [`ServeLimits::header_read_timeout`] bounds the time from when the server
//! starts waiting for a request head (the accept, or the end of the previous
//! response on a kept-alive connection) until the head is complete. That
//! one clock is both the header-read timeout and the keep-alive idle
//! timeout. It does not run while a response is being sent, so streaming
//! responses (the scheduler and agent event streams, open for hours) are
//! never cut by it.
//!
//! That clock stops once the head is in, so two more limits cover the rest
//! of a request's life: [`ServeLimits::body_stall_timeout`] fails a request
//! body read that gets no bytes for that long (a head announcing
//! `Content-Length: 1000000` followed by silence), and
//! [`ServeLimits::write_stall_timeout`] drops a connection whose writes stay
//! blocked that long (a client that asks for a large response and never
//! reads it). Both measure lack of progress, not total time: an event stream
//! whose consumer reads its heartbeats, or a large upload that keeps
//! arriving, is never cut.

mod body;
pub use body::{BodyError, DRAIN_LIMIT, read_body_limited};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, header};
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tower::ServiceExt;

/// Limits applied to every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a connection may take to deliver a complete request head,
    /// counted from the accept or from the end of the previous response
    /// (so it is also how long a kept-alive connection may sit idle).
    pub header_read_timeout: Duration,
    /// How long reading a request body may make no progress (no bytes
    /// arriving while the handler waits for them) before the read fails.
    pub body_stall_timeout: Duration,
    /// How long a write to the peer may stay blocked (the peer not reading)
    /// before the connection is dropped.
    pub write_stall_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(30),
            body_stall_timeout: Duration::from_secs(30),
            write_stall_timeout: Duration::from_secs(60),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting, asks every connection to finish its current response and
/// waits for them. Connections that never finish (event streams) are the
/// caller's to cut: dropping this future drops every connection.
///
/// Handlers can extract `ConnectInfo<SocketAddr>`; every response carries
/// `X-Content-Type-Options: nosniff`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send,
    limits: ServeLimits,
) -> std::io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    // Owned by this future, so dropping it (an aborted server task) drops
    // every connection instead of leaving them running detached.
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors (EMFILE/ENFILE) or a connection
                        // reset before accept: keep serving the others.
                        tracing::warn!("accept failed: {e}");
                        // Out of descriptors fails again at once: pause
                        // rather than spin until some connection closes.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let body_stall = limits.body_stall_timeout;
                let service = router
                    .clone()
                    .map_request(move |req: Request<Incoming>| {
                        let mut req = req.map(|b| Body::new(StallGuardedBody::new(b, body_stall)));
                        req.extensions_mut().insert(ConnectInfo(peer));
                        req
                    })
                    .map_response(with_security_headers);
                let conn = builder.serve_connection(
                    TokioIo::new(WriteStallGuard::new(stream, limits.write_stall_timeout)),
                    TowerToHyperService::new(service),
                );
                let conn = graceful.watch(conn);
                connections.spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, "connection ended: {e}");
                    }
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Headers every response carries. `nosniff`: browsers must not guess a
/// content type (a sandbox file served as text/plain must not run as HTML).
fn with_security_headers<B>(mut res: Response<B>) -> Response<B> {
    res.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// A request body whose read fails once it has waited `timeout` for bytes
/// that do not come. The clock runs only while the handler is waiting
/// (`poll_frame` returned `Pending`) and restarts with every frame, so a
/// slow but steady upload, or a handler that pauses between reads, is fine.
struct StallGuardedBody {
    inner: Incoming,
    timeout: Duration,
    /// Armed at the first `Pending` since the last frame.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl StallGuardedBody {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        StallGuardedBody {
            inner,
            timeout,
            deadline: None,
        }
    }
}

/// The error a stalled request body read ends with; handlers see it as a
/// body read error.
#[derive(Debug)]
struct BodyStalled(Duration);

impl std::fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "timed out reading the request body: no data for {:?}",
            self.0
        )
    }
}

impl std::error::Error for BodyStalled {}

impl hyper::body::Body for StallGuardedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                this.deadline = None;
                Poll::Ready(r.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                ready!(deadline.as_mut().poll(cx));
                Poll::Ready(Some(Err(Box::new(BodyStalled(timeout)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The connection's socket, with writes that fail once they have stayed
/// blocked for `timeout` (the peer not reading, its receive window full).
/// The clock restarts whenever a write, flush or shutdown completes, so a
/// response that keeps draining, however slowly, is never cut. Reads are
/// untouched: the header-read timeout and [`StallGuardedBody`] cover them.
struct WriteStallGuard {
    inner: TcpStream,
    timeout: Duration,
    /// Armed at the first `Pending` write since the last completed one.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl WriteStallGuard {
    fn new(inner: TcpStream, timeout: Duration) -> Self {
        WriteStallGuard {
            inner,
            timeout,
            deadline: None,
        }
    }

    /// Passes on a completed write, or turns a `Pending` one into an error
    /// once it has been pending for `timeout`.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match r {
            Poll::Ready(r) => {
                self.deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let deadline = self
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                ready!(deadline.as_mut().poll(cx));
                Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("peer has not read for {timeout:?}"),
                )))
            }
        }
    }
}

impl AsyncRead for WriteStallGuard {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteStallGuard {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.guard(cx, r)
    }
}

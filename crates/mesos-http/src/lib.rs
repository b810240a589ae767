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

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Limits applied to every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a connection may take to deliver a complete request head,
    /// counted from the accept or from the end of the previous response
    /// (so it is also how long a kept-alive connection may sit idle).
    pub header_read_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(30),
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
                let service = router
                    .clone()
                    .map_request(move |mut req: Request<Incoming>| {
                        req.extensions_mut().insert(ConnectInfo(peer));
                        req
                    })
                    .map_response(with_security_headers);
                let conn = builder.serve_connection(
                    TokioIo::new(stream),
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

//! `serve` over real sockets: slow and idle connections are cut, streaming
//! responses are not, every response says `nosniff`, handlers see the peer.
//! Timeouts are configured short (200 ms); the bounds the tests wait for
//! are 50 times that, so they fail only if a connection is never cut.
//! The body-stall and write-stall timeouts are configured to the same
//! short value.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};
use mesos_http::{ServeLimits, serve};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const TIMEOUT: Duration = Duration::from_millis(200);
const CHUNKS: usize = 8;

/// Signals when dropped: the response body holding it was dropped, i.e. the
/// server gave up on the connection.
struct DropSignal(Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// The body limit of `/limited`.
const LIMITED: usize = 1 << 20;

/// 64 MiB: far more than loopback socket buffers absorb, so a client that
/// never reads leaves the server's writes pending.
const BIG_CHUNKS: usize = 64;

fn app(big_dropped: Arc<Mutex<Option<oneshot::Sender<()>>>>) -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/len",
            post(|body: Result<bytes::Bytes, BytesRejection>| async move {
                match body {
                    Ok(b) => (StatusCode::OK, b.len().to_string()),
                    Err(e) => (StatusCode::BAD_REQUEST, e.body_text()),
                }
            }),
        )
        .route(
            "/big",
            get(move || async move {
                let guard = DropSignal(big_dropped.lock().unwrap().take());
                let s = futures::stream::unfold((0usize, guard), |(i, g)| async move {
                    if i == BIG_CHUNKS {
                        return None;
                    }
                    let chunk = bytes::Bytes::from(vec![b'x'; 1 << 20]);
                    Some((Ok::<_, std::io::Error>(chunk), (i + 1, g)))
                });
                Body::from_stream(s)
            }),
        )
        .route(
            "/limited",
            post(|body: Body| async move {
                match mesos_http::read_body_limited(body, LIMITED).await {
                    Ok(b) => (StatusCode::OK, b.len().to_string()),
                    Err(e) => (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
                }
            }),
        )
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/stream",
            get(|| async {
                // One chunk per half timeout: the stream lasts many timeouts.
                let s = futures::stream::unfold(0usize, |i| async move {
                    if i == CHUNKS {
                        return None;
                    }
                    tokio::time::sleep(TIMEOUT / 2).await;
                    Some((Ok::<_, std::io::Error>(bytes::Bytes::from("x")), i + 1))
                });
                Body::from_stream(s)
            }),
        )
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    /// Fires when the `/big` response body is dropped.
    big_dropped: Option<oneshot::Receiver<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let limits = ServeLimits {
        header_read_timeout: TIMEOUT,
        body_stall_timeout: TIMEOUT,
        write_stall_timeout: TIMEOUT,
    };
    let (big_tx, big_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(
        listener,
        app(Arc::new(Mutex::new(Some(big_tx)))),
        async move {
            let _ = rx.await;
        },
        limits,
    ));
    Server {
        addr,
        stop: Some(tx),
        big_dropped: Some(big_rx),
        task,
    }
}

/// Reads until the server closes the connection; `Err` if it has not
/// within 50 timeouts.
async fn closed_by_server(conn: &mut TcpStream) -> Result<(), String> {
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    let deadline = TIMEOUT * 50;
    let r = tokio::time::timeout(deadline, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    r.map_err(|_| {
        format!(
            "still open after {deadline:?}; received {:?}",
            String::from_utf8_lossy(&seen)
        )
    })
}

#[tokio::test]
async fn a_client_sending_its_header_slowly_is_cut_off() {
    let s = start().await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    let (mut rd, mut wr) = conn.split();
    let request = b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec();
    let closed = async {
        let mut buf = [0u8; 512];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    let trickle = async {
        // One header byte per half timeout, for 50 timeouts: never a
        // complete head.
        for i in 0..100 {
            let b = request.get(i).copied().unwrap_or(b'a');
            if wr.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(TIMEOUT / 2).await;
        }
    };
    tokio::select! {
        () = closed => {}
        () = trickle => panic!("connection still open after 100 header bytes over 50 timeouts"),
    }
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let s = start().await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    conn.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    closed_by_server(&mut conn).await.unwrap();
}

#[tokio::test]
async fn responses_say_nosniff_and_handlers_see_the_peer() {
    let s = start().await;
    let client = reqwest::Client::new();
    for path in ["/ok", "/no-such-path"] {
        let r = client
            .get(format!("http://{}{path}", s.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    let me = conn.local_addr().unwrap();
    conn.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).await.unwrap();
    assert!(out.ends_with(&me.to_string()), "{out}");
}

#[tokio::test]
async fn a_streaming_response_outlives_the_timeouts() {
    let s = start().await;
    let r = reqwest::get(format!("http://{}/stream", s.addr))
        .await
        .unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let body = r.bytes().await.expect("stream completes");
    assert_eq!(body.len(), CHUNKS);
}

#[tokio::test]
async fn shutdown_stops_accepting_and_closes_idle_connections() {
    let mut s = start().await;
    let mut idle = TcpStream::connect(s.addr).await.unwrap();
    idle.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    assert!(idle.read(&mut buf).await.unwrap() > 0);
    s.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(TIMEOUT * 50, &mut s.task)
        .await
        .expect("serve returns after shutdown")
        .unwrap()
        .unwrap();
    closed_by_server(&mut idle).await.unwrap();
    assert!(TcpStream::connect(s.addr).await.is_err());
}

#[tokio::test]
async fn a_client_announcing_a_body_and_sending_none_is_cut_off() {
    let s = start().await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    conn.write_all(b"POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc")
        .await
        .unwrap();
    // The handler gets a body read error saying why (here answered with a
    // 400), and the connection closes.
    let mut out = Vec::new();
    tokio::time::timeout(TIMEOUT * 50, conn.read_to_end(&mut out))
        .await
        .expect("connection still open after 50 timeouts")
        .unwrap();
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("timed out reading the request body"), "{out}");
}

#[tokio::test]
async fn a_body_sent_slowly_but_steadily_is_read_in_full() {
    let s = start().await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    conn.write_all(
        b"POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    // One byte per half timeout: the body takes four timeouts in all.
    for _ in 0..8 {
        tokio::time::sleep(TIMEOUT / 2).await;
        conn.write_all(b"y").await.unwrap();
    }
    let mut out = String::new();
    conn.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.ends_with("\r\n\r\n8"), "{out}");
}

#[tokio::test]
async fn a_client_that_never_reads_a_large_response_is_cut_off() {
    let mut s = start().await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    conn.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Never read: the server's writes stay pending until it gives up and
    // drops the connection (and with it the response body).
    tokio::time::timeout(TIMEOUT * 50, s.big_dropped.take().unwrap())
        .await
        .expect("response to a client that never reads still being written after 50 timeouts")
        .unwrap();
    drop(conn);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_not_a_broken_connection() {
    let server = start().await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/limited", server.addr);
    // A client that writes its whole body before it reads the answer (as
    // most do), with a pause after the limit is passed: unless the server
    // reads the rest, the connection is gone by the time it reads.
    let total = 8usize << 20;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    let head = format!("POST /limited HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\n\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&vec![b'a'; 2 << 20]).await.unwrap();
    // Shorter than the body-stall timeout, which would rightly cut it.
    tokio::time::sleep(TIMEOUT / 2).await;
    conn.write_all(&vec![b'a'; total - (2 << 20)])
        .await
        .expect("the rest of the body could not be written: the server closed early");
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "no 413 after writing the body: {answer:?}"
    );
    assert!(answer.contains("exceeds the limit"), "{answer}");
    drop(conn);
    // And through reqwest.
    let r = http
        .post(&url)
        .body(vec![b'a'; 20 << 20])
        .send()
        .await
        .expect("no answer to a 20 MiB body");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A body within the limit is read whole.
    let r = http.post(&url).body(vec![b'a'; 1000]).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "1000");
}

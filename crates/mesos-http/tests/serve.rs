//! `serve` over real sockets: slow and idle connections are cut, streaming
//! responses are not, every response says `nosniff`, handlers see the peer.
//! Timeouts are configured short (200 ms); the bounds the tests wait for
//! are 50 times that, so they fail only if a connection is never cut.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use mesos_http::{ServeLimits, serve};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const TIMEOUT: Duration = Duration::from_millis(200);
const CHUNKS: usize = 8;

fn app() -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
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
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let limits = ServeLimits {
        header_read_timeout: TIMEOUT,
    };
    let task = tokio::spawn(serve(
        listener,
        app(),
        async move {
            let _ = rx.await;
        },
        limits,
    ));
    Server {
        addr,
        stop: Some(tx),
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

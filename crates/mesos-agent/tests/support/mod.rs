//! Test harness: a fake master speaking our agent protocol, and helpers to
//! read RecordIO streams.

#![allow(dead_code)]

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use mesos_types::agent_protocol::{AgentCall, AgentEvent};
use mesos_types::{MasterInfo, recordio};
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

#[derive(Clone)]
struct MasterState {
    stream: Arc<Mutex<Option<UnboundedSender<AgentEvent>>>>,
    calls: UnboundedSender<AgentCall>,
}

/// A fake master: answers REGISTER with a stream that starts with
/// REGISTERED (agent id `M-S0`) and records every call.
pub struct FakeMaster {
    pub addr: SocketAddr,
    state: MasterState,
    pub calls: UnboundedReceiver<AgentCall>,
}

async fn agent_api(State(state): State<MasterState>, body: Bytes) -> Response {
    let call: AgentCall = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let register = matches!(call, AgentCall::Register { .. });
    let _ = state.calls.send(call);
    if !register {
        return StatusCode::ACCEPTED.into_response();
    }
    let (tx, mut rx) = unbounded_channel::<AgentEvent>();
    let master_info = MasterInfo {
        id: "M".into(),
        ip: 16777343,
        port: 5050,
        hostname: Some("fake-master".into()),
        ..Default::default()
    };
    tx.send(AgentEvent::Registered {
        agent_id: "M-S0".into(),
        master_info,
    })
    .unwrap();
    *state.stream.lock().unwrap() = Some(tx);
    let body = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|e| {
            e.map(|e| {
                Ok::<_, Infallible>(Bytes::from(recordio::encode(
                    &serde_json::to_vec(&e).unwrap(),
                )))
            })
        })
    });
    Response::builder()
        .header("content-type", "application/json")
        .header("Mesos-Stream-Id", "stream-1")
        .body(Body::from_stream(body))
        .unwrap()
}

impl FakeMaster {
    pub async fn start() -> FakeMaster {
        let (calls_tx, calls) = unbounded_channel();
        let state = MasterState {
            stream: Arc::new(Mutex::new(None)),
            calls: calls_tx,
        };
        let app = Router::new()
            .route("/master/api/v1/agent", post(agent_api))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeMaster { addr, state, calls }
    }

    /// Sends an event on the agent's stream.
    pub fn send(&self, event: AgentEvent) {
        self.state
            .stream
            .lock()
            .unwrap()
            .as_ref()
            .expect("agent registered")
            .send(event)
            .unwrap();
    }

    /// Ends the agent's stream (as a master failure would).
    pub fn drop_stream(&self) {
        self.state.stream.lock().unwrap().take();
    }

    /// The next call matching `pick`, skipping others (PONGs, ...).
    pub async fn next_call<T>(&mut self, mut pick: impl FnMut(AgentCall) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let call = tokio::time::timeout_at(deadline, self.calls.recv())
                .await
                .expect("call in time")
                .expect("master alive");
            if let Some(t) = pick(call) {
                return t;
            }
        }
    }

    /// The next UPDATE's status.
    pub async fn next_update(&mut self) -> mesos_types::TaskStatus {
        self.next_call(|c| match c {
            AgentCall::Update { status, .. } => Some(status),
            _ => None,
        })
        .await
    }
}

/// Reads a RecordIO JSON stream from a response into a channel.
pub fn records<T: DeserializeOwned + Send + 'static>(
    response: reqwest::Response,
) -> UnboundedReceiver<T> {
    let (tx, rx) = unbounded_channel();
    tokio::spawn(async move {
        let mut decoder = recordio::Decoder::default();
        let mut body = response.bytes_stream();
        while let Some(Ok(chunk)) = body.next().await {
            decoder.feed(&chunk);
            while let Ok(Some(record)) = decoder.next_record() {
                if tx.send(serde_json::from_slice(&record).unwrap()).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Waits for the next record.
pub async fn next<T>(rx: &mut UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("record in time")
        .expect("stream open")
}

/// Polls `check` until it returns Some.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..400 {
        if let Some(t) = check().await {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

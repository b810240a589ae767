//! Long-lived RecordIO event streams (chunked), with heartbeats and a guard
//! that reports the disconnect when the client goes away.

use axum::body::Body;
use bytes::Bytes;
use serde::Serialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// Runs `on_close` when dropped, i.e. when hyper drops the response body
/// because the connection ended.
pub struct CloseGuard(Option<Box<dyn FnOnce() + Send>>);

impl CloseGuard {
    pub fn new(f: impl FnOnce() + Send + 'static) -> CloseGuard {
        CloseGuard(Some(Box::new(f)))
    }
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

struct StreamState<E> {
    rx: UnboundedReceiver<E>,
    heartbeat: tokio::time::Interval,
    heartbeat_event: E,
    _guard: Option<CloseGuard>,
}

fn frame<E: Serialize>(e: &E) -> Bytes {
    let json = serde_json::to_vec(e).unwrap_or_else(|_| b"{}".to_vec());
    Bytes::from(mesos_types::recordio::encode(&json))
}

/// A body that writes every event from `rx` as a RecordIO record, plus
/// `heartbeat_event` whenever `every` passes, until the sender is dropped.
pub fn event_body<E>(
    rx: UnboundedReceiver<E>,
    every: Duration,
    heartbeat_event: E,
    guard: Option<CloseGuard>,
) -> Body
where
    E: Serialize + Clone + Send + Sync + 'static,
{
    // Start one period from now: callers queue their own first events.
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = StreamState {
        rx,
        heartbeat,
        heartbeat_event,
        _guard: guard,
    };
    let stream = futures::stream::unfold(Some(state), |st| async move {
        let mut st = st?;
        tokio::select! {
            biased;
            msg = st.rx.recv() => match msg {
                Some(e) => {
                    // Drain what is already queued into one chunk.
                    let mut buf = frame(&e).to_vec();
                    while let Ok(e) = st.rx.try_recv() {
                        buf.extend_from_slice(&frame(&e));
                        if buf.len() > 1 << 20 { break; }
                    }
                    Some((Ok::<Bytes, Infallible>(Bytes::from(buf)), Some(st)))
                }
                None => None,
            },
            _ = st.heartbeat.tick() => {
                let b = frame(&st.heartbeat_event);
                Some((Ok(b), Some(st)))
            }
        }
    });
    Body::from_stream(stream)
}

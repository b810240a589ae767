//! Long-lived RecordIO event streams (chunked), with heartbeats and a guard
//! that reports the disconnect when the client goes away. Each stream
//! writes its records in the encoding its client negotiated
//! ([`ContentType`]); the events say how they are encoded ([`Record`]).

use crate::event_queue::{EventReceiver, Next};
use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use mesos_proto::{ContentType, Message};
use mesos_types::agent_protocol::AgentEvent;
use serde::Serialize;
use std::convert::Infallible;
use std::time::Duration;

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
    rx: EventReceiver<E>,
    ct: ContentType,
    heartbeat: tokio::time::Interval,
    heartbeat_event: E,
    _guard: Option<CloseGuard>,
}

/// An event a stream writes as one RecordIO record.
pub trait Record: Clone + Send + Sync + 'static {
    fn record(&self, ct: ContentType) -> Bytes;
}

/// One RecordIO record of `value`, a `msg`, encoded as `ct`. A value that
/// cannot be encoded is a bug: it is logged and nothing is written.
pub fn frame<T: Serialize + ?Sized>(ct: ContentType, msg: Message, value: &T) -> Bytes {
    match ct.record(msg, value) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            tracing::error!("dropping an event that cannot be encoded: {e}");
            Bytes::new()
        }
    }
}

impl Record for mesos_types::scheduler::Event {
    fn record(&self, ct: ContentType) -> Bytes {
        frame(ct, Message::SchedulerEvent, self)
    }
}

/// Our own agent protocol is JSON only.
impl Record for AgentEvent {
    fn record(&self, _: ContentType) -> Bytes {
        let json = serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec());
        Bytes::from(mesos_types::recordio::encode(&json))
    }
}

/// A body that writes every event from `rx` as a RecordIO record, plus
/// `heartbeat_event` whenever `every` passes, until the sender is dropped
/// or the client falls too far behind (then the connection ends and the
/// close guard reports the disconnect).
pub fn event_body<E: Record>(
    ct: ContentType,
    rx: EventReceiver<E>,
    every: Duration,
    heartbeat_event: E,
    guard: Option<CloseGuard>,
) -> Body {
    Body::from_stream(event_stream(ct, rx, every, heartbeat_event, guard))
}

/// [`event_body`] after `first` (one or more records already framed).
pub fn event_body_after<E: Record>(
    ct: ContentType,
    first: Bytes,
    rx: EventReceiver<E>,
    every: Duration,
    heartbeat_event: E,
) -> Body {
    let head = futures::stream::once(async move { Ok::<Bytes, Infallible>(first) });
    Body::from_stream(head.chain(event_stream(ct, rx, every, heartbeat_event, None)))
}

fn event_stream<E: Record>(
    ct: ContentType,
    rx: EventReceiver<E>,
    every: Duration,
    heartbeat_event: E,
    guard: Option<CloseGuard>,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    // Start one period from now: callers queue their own first events.
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = StreamState {
        rx,
        ct,
        heartbeat,
        heartbeat_event,
        _guard: guard,
    };
    futures::stream::unfold(Some(state), |st| async move {
        let mut st = st?;
        tokio::select! {
            biased;
            msg = st.rx.recv() => match msg {
                Next::Event(e) => {
                    // Drain what is already queued into one chunk.
                    let mut buf = e.record(st.ct).to_vec();
                    while let Some(e) = st.rx.try_recv() {
                        buf.extend_from_slice(&e.record(st.ct));
                        if buf.len() > 1 << 20 { break; }
                    }
                    Some((Ok::<Bytes, Infallible>(Bytes::from(buf)), Some(st)))
                }
                Next::Closed | Next::Overflowed => None,
            },
            _ = st.heartbeat.tick() => {
                let b = st.heartbeat_event.record(st.ct);
                Some((Ok(b), Some(st)))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_queue::event_queue;
    use futures::StreamExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    impl Record for u32 {
        fn record(&self, _: ContentType) -> Bytes {
            Bytes::from(mesos_types::recordio::encode(self.to_string().as_bytes()))
        }
    }

    #[tokio::test]
    async fn the_first_record_comes_first_then_events_and_heartbeats() {
        let (tx, rx) = event_queue::<u32>(8);
        tx.send(7); // queued while the first record was being rendered
        let first = 1u32.record(ContentType::Json);
        let body = event_body_after(ContentType::Json, first, rx, Duration::from_millis(20), 0);
        let mut chunks = body.into_data_stream();
        let mut dec = mesos_types::recordio::Decoder::default();
        let mut got = Vec::new();
        while got.len() < 3 {
            let chunk = chunks.next().await.expect("the stream goes on").unwrap();
            dec.feed(&chunk);
            while let Ok(Some(rec)) = dec.next_record() {
                got.push(serde_json::from_slice::<u32>(&rec).unwrap());
            }
        }
        // The first record, the queued event, then a heartbeat (0).
        assert_eq!(got[..3], [1, 7, 0]);
        drop(tx);
    }

    #[tokio::test]
    async fn a_stream_whose_client_fell_behind_ends_and_reports_the_disconnect() {
        let (tx, rx) = event_queue::<u32>(2);
        let closed = Arc::new(AtomicBool::new(false));
        let flag = closed.clone();
        let guard = CloseGuard::new(move || flag.store(true, Ordering::SeqCst));
        let body = event_body(
            ContentType::Json,
            rx,
            Duration::from_secs(60),
            0,
            Some(guard),
        );
        for i in 1..=5 {
            tx.send(i); // the client reads nothing meanwhile
        }
        let mut chunks = body.into_data_stream();
        assert!(
            chunks.next().await.is_none(),
            "no partial history is delivered after an overflow"
        );
        drop(chunks);
        assert!(closed.load(Ordering::SeqCst), "the disconnect is reported");
    }
}

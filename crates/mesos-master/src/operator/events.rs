//! The operator event stream (`mesos.v1.master.Event`, spec 5.4): the book
//! publishes each change where it happens to every subscriber's bounded
//! queue ([`crate::event_queue`]: a push never blocks; a subscriber that
//! falls [`OPERATOR_QUEUE_CAPACITY`] events behind has its stream ended).
//! Events carry copies of what they show; each is rendered as JSON once,
//! by the first stream that writes it, outside the book's lock, and the
//! text is shared by every other subscriber ([`SharedEvent`]); the same
//! holds for its protobuf record, for subscribers that asked for protobuf. At most
//! `--max_operator_event_stream_subscribers` streams exist: a new one ends
//! the oldest.

use super::views::{AgentView, FrameworkView, TaskView};
use crate::event_queue::EventSender;
use mesos_types::*;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Value as Json, json};
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

/// Events a subscriber may have queued before its stream is ended.
pub const OPERATOR_QUEUE_CAPACITY: usize = 16_384;

/// One event of the stream (SUBSCRIBED is written by the stream itself:
/// it is rendered from a state copied when the subscriber was added).
#[derive(Debug, Clone)]
pub enum OperatorEvent {
    TaskAdded(Arc<TaskView>),
    TaskUpdated {
        framework_id: FrameworkID,
        status: Arc<TaskStatus>,
        state: TaskState,
    },
    AgentAdded(Arc<AgentView>),
    AgentRemoved(AgentID),
    FrameworkAdded(Arc<FrameworkView>),
    FrameworkUpdated(Arc<FrameworkView>),
    FrameworkRemoved(Arc<FrameworkInfo>),
    Heartbeat,
}

impl OperatorEvent {
    pub fn json(&self) -> Json {
        match self {
            OperatorEvent::TaskAdded(t) => {
                json!({"type": "TASK_ADDED", "task_added": {"task": t.json()}})
            }
            OperatorEvent::TaskUpdated {
                framework_id,
                status,
                state,
            } => json!({"type": "TASK_UPDATED", "task_updated": {
                "framework_id": framework_id, "status": &**status, "state": state}}),
            OperatorEvent::AgentAdded(a) => {
                json!({"type": "AGENT_ADDED", "agent_added": {"agent": a.json()}})
            }
            OperatorEvent::AgentRemoved(id) => {
                json!({"type": "AGENT_REMOVED", "agent_removed": {"agent_id": id}})
            }
            OperatorEvent::FrameworkAdded(f) => {
                json!({"type": "FRAMEWORK_ADDED", "framework_added": {"framework": f.json()}})
            }
            OperatorEvent::FrameworkUpdated(f) => {
                json!({"type": "FRAMEWORK_UPDATED", "framework_updated": {"framework": f.json()}})
            }
            OperatorEvent::FrameworkRemoved(info) => {
                json!({"type": "FRAMEWORK_REMOVED", "framework_removed": {"framework_info": &**info}})
            }
            OperatorEvent::Heartbeat => json!({"type": "HEARTBEAT"}),
        }
    }
}

impl Serialize for OperatorEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(s)
    }
}

/// An event as every subscriber's queue holds it: one copy, its JSON
/// rendered once (by whichever stream writes it first) and shared, and
/// likewise its protobuf RecordIO record.
#[derive(Debug, Clone)]
pub struct SharedEvent(Arc<Rendered>);

#[derive(Debug)]
struct Rendered {
    event: OperatorEvent,
    json: OnceLock<Box<RawValue>>,
    protobuf: OnceLock<bytes::Bytes>,
}

impl SharedEvent {
    pub fn new(event: OperatorEvent) -> SharedEvent {
        SharedEvent(Arc::new(Rendered {
            event,
            json: OnceLock::new(),
            protobuf: OnceLock::new(),
        }))
    }

    pub fn event(&self) -> &OperatorEvent {
        &self.0.event
    }

    /// Its JSON, rendered on first use.
    fn rendered(&self) -> &RawValue {
        self.0.json.get_or_init(|| {
            serde_json::value::to_raw_value(&self.0.event.json()).unwrap_or_else(|e| {
                tracing::error!("rendering an operator event failed: {e}");
                RawValue::from_string("{}".into()).unwrap_or_default()
            })
        })
    }

    /// Whether its JSON was rendered already.
    pub fn is_rendered(&self) -> bool {
        self.0.json.get().is_some()
    }

    /// Its protobuf `mesos.v1.master.Event` as one RecordIO record,
    /// encoded on first use.
    pub fn protobuf_record(&self) -> bytes::Bytes {
        self.0
            .protobuf
            .get_or_init(|| {
                let ct = mesos_proto::ContentType::Protobuf;
                match ct.record(mesos_proto::Message::MasterEvent, &self.0.event.json()) {
                    Ok(b) => b.into(),
                    Err(e) => {
                        tracing::error!("encoding an operator event failed: {e}");
                        bytes::Bytes::new()
                    }
                }
            })
            .clone()
    }
}

impl Serialize for SharedEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.rendered().serialize(s)
    }
}

/// The SUBSCRIBE connections, oldest first.
#[derive(Debug)]
pub struct Subscribers {
    queues: VecDeque<EventSender<SharedEvent>>,
    max: usize,
}

impl Default for Subscribers {
    fn default() -> Self {
        Subscribers::new(1000)
    }
}

impl Subscribers {
    pub fn new(max: usize) -> Subscribers {
        Subscribers {
            queues: VecDeque::new(),
            max,
        }
    }

    /// Adds a subscriber; ends the oldest ones beyond the maximum (their
    /// streams end once they have written what was queued for them).
    pub fn add(&mut self, tx: EventSender<SharedEvent>) {
        self.prune();
        while !self.queues.is_empty() && self.queues.len() >= self.max.max(1) {
            self.queues.pop_front();
            tracing::info!("too many operator event subscribers; ended the oldest");
        }
        self.queues.push_back(tx);
    }

    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// Streams still open (ended ones are forgotten at the next change).
    pub fn open(&self) -> usize {
        self.queues
            .iter()
            .filter(|q| !q.overflowed() && !q.is_closed())
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Sends the event `make` builds to every subscriber; builds nothing
    /// when there is none.
    pub fn publish(&mut self, make: impl FnOnce() -> OperatorEvent) {
        if self.queues.is_empty() {
            return;
        }
        let e = SharedEvent::new(make());
        for q in &self.queues {
            q.send(e.clone());
        }
        self.prune();
    }

    /// Forgets subscribers whose connection is gone or who fell behind.
    fn prune(&mut self) {
        self.queues.retain(|q| !q.overflowed() && !q.is_closed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_queue::{Next, event_queue};

    #[tokio::test]
    async fn the_oldest_subscriber_is_ended_beyond_the_maximum() {
        let mut subs = Subscribers::new(2);
        let (a, mut ra) = event_queue(8);
        let (b, _rb) = event_queue(8);
        let (c, mut rc) = event_queue(8);
        subs.add(a);
        subs.add(b);
        subs.add(c);
        assert_eq!(subs.len(), 2);
        subs.publish(|| OperatorEvent::AgentRemoved(AgentID::new("S1")));
        assert!(matches!(ra.recv().await, Next::Closed), "the oldest ended");
        assert!(matches!(
            rc.recv().await,
            Next::Event(e) if matches!(e.event(), OperatorEvent::AgentRemoved(_))
        ));
    }

    #[tokio::test]
    async fn an_event_is_rendered_once_for_every_subscriber() {
        let mut subs = Subscribers::new(10);
        let (a, mut ra) = event_queue(8);
        let (b, mut rb) = event_queue(8);
        subs.add(a);
        subs.add(b);
        subs.publish(|| OperatorEvent::AgentRemoved(AgentID::new("S1")));
        let (Next::Event(ea), Next::Event(eb)) = (ra.recv().await, rb.recv().await) else {
            panic!("both subscribers get the event");
        };
        assert!(!eb.is_rendered());
        let text = serde_json::to_string(&ea).unwrap();
        assert!(eb.is_rendered(), "the second subscriber renders it again");
        assert_eq!(serde_json::to_string(&eb).unwrap(), text);
        assert_eq!(
            text,
            r#"{"type":"AGENT_REMOVED","agent_removed":{"agent_id":{"value":"S1"}}}"#
        );
    }

    #[tokio::test]
    async fn a_subscriber_that_does_not_read_is_dropped_not_buffered() {
        let mut subs = Subscribers::new(10);
        let (tx, mut rx) = event_queue(2);
        subs.add(tx);
        for _ in 0..5 {
            subs.publish(|| OperatorEvent::Heartbeat);
        }
        assert!(subs.is_empty(), "dropped once it fell behind");
        assert!(matches!(rx.recv().await, Next::Overflowed));
    }

    #[test]
    fn nothing_is_built_without_subscribers() {
        let mut subs = Subscribers::default();
        subs.publish(|| unreachable!("no subscriber, no event"));
    }
}

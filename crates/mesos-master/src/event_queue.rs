//! Bounded per-connection event queues between the master's book and its
//! long-lived HTTP streams (scheduler subscriptions, agent connections).
//!
//! The book pushes events while holding its lock, so a push must never
//! wait. Back-pressure is therefore by disconnection, as Kubernetes does
//! with slow watchers: a consumer that falls `capacity` events behind has
//! its stream ended. An agent then re-registers and a scheduler
//! re-subscribes (within its failover timeout), both of which reconcile
//! from the book, so nothing acknowledged is lost; what is bounded is the
//! master's memory per connection.
//!
//! A batch (the answers to one implicit reconciliation: one update per task
//! the framework has, possibly more than the capacity) takes one slot: it
//! is what the consumer asked for, not a sign it fell behind. At most one
//! batch waits per connection; a second one queued while the first is not
//! yet delivered is dropped, since the first, followed by the updates
//! queued after it, already tells the consumer the same.
//!
//! Events are boxed: tokio's channel allocates its slots in blocks of 32,
//! and an unboxed `AgentEvent` (~1.1 KB) made the first block alone ~36 KiB
//! per idle agent connection.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;
use tokio::sync::mpsc::{self, error::TrySendError};

/// Events an agent connection may have queued before it is dropped.
pub const AGENT_QUEUE_CAPACITY: usize = 4096;
/// Events a scheduler subscription may have queued before it is dropped.
/// Larger: a framework with thousands of tasks in flight receives an update
/// per task in bursts.
pub const FRAMEWORK_QUEUE_CAPACITY: usize = 65_536;

/// Shared between both ends: set once the consumer fell behind.
#[derive(Debug, Default)]
struct Overflow {
    happened: AtomicBool,
    notify: Notify,
}

/// One slot of the queue.
#[derive(Debug)]
enum Queued<E> {
    One(E),
    Batch(Vec<E>),
}

/// The book's end: never blocks.
#[derive(Debug)]
pub struct EventSender<E> {
    tx: mpsc::Sender<Box<Queued<E>>>,
    overflow: Arc<Overflow>,
    /// A batch is queued or being delivered.
    batch_pending: Arc<AtomicBool>,
}

impl<E> Clone for EventSender<E> {
    fn clone(&self) -> Self {
        EventSender {
            tx: self.tx.clone(),
            overflow: self.overflow.clone(),
            batch_pending: self.batch_pending.clone(),
        }
    }
}

/// The stream's end.
#[derive(Debug)]
pub struct EventReceiver<E> {
    rx: mpsc::Receiver<Box<Queued<E>>>,
    overflow: Arc<Overflow>,
    batch_pending: Arc<AtomicBool>,
    /// The rest of the batch being delivered.
    batch: VecDeque<E>,
}

/// A queue holding at most `capacity` events.
pub fn event_queue<E>(capacity: usize) -> (EventSender<E>, EventReceiver<E>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let overflow = Arc::new(Overflow::default());
    let batch_pending = Arc::new(AtomicBool::new(false));
    (
        EventSender {
            tx,
            overflow: overflow.clone(),
            batch_pending: batch_pending.clone(),
        },
        EventReceiver {
            rx,
            overflow,
            batch_pending,
            batch: VecDeque::new(),
        },
    )
}

impl<E> EventSender<E> {
    /// Queues `e`. A closed receiver means the connection is going away
    /// (its close guard reports that); a full queue ends the stream.
    pub fn send(&self, e: E) {
        self.push(Queued::One(e));
    }

    /// Queues `events` as one slot, unless a batch is still waiting to be
    /// delivered (then returns false and drops them: see the module docs).
    pub fn send_batch(&self, events: Vec<E>) -> bool {
        if events.is_empty() {
            return true;
        }
        if self.batch_pending.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.push(Queued::Batch(events));
        true
    }

    /// Whether a batch is queued or being delivered (a new one would be
    /// dropped).
    pub fn batch_pending(&self) -> bool {
        self.batch_pending.load(Ordering::Acquire)
    }

    fn push(&self, item: Queued<E>) {
        match self.tx.try_send(Box::new(item)) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(_)) => {
                if !self.overflow.happened.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        capacity = self.tx.max_capacity(),
                        "event stream consumer fell behind; closing its connection"
                    );
                    self.overflow.notify.notify_one();
                }
            }
        }
    }

    /// Whether the consumer is gone (its connection ended).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Whether the consumer fell behind (the stream is being closed).
    pub fn overflowed(&self) -> bool {
        self.overflow.happened.load(Ordering::Relaxed)
    }
}

/// What the stream gets next.
pub enum Next<E> {
    Event(E),
    /// Every sender is gone: the stream ends normally.
    Closed,
    /// The consumer fell behind: the stream ends so the client reconnects.
    Overflowed,
}

impl<E> EventReceiver<E> {
    /// Waits for the next event.
    pub async fn recv(&mut self) -> Next<E> {
        if self.overflow.happened.load(Ordering::Relaxed) {
            return Next::Overflowed;
        }
        if let Some(e) = self.next_of_batch() {
            return Next::Event(e);
        }
        tokio::select! {
            biased;
            _ = self.overflow.notify.notified() => Next::Overflowed,
            e = self.rx.recv() => match e {
                Some(q) => match self.unpack(*q) {
                    Some(e) => Next::Event(e),
                    None => Next::Closed, // empty batches are never queued
                },
                None => Next::Closed,
            },
        }
    }

    /// An event already queued, if any (none once overflowed).
    pub fn try_recv(&mut self) -> Option<E> {
        if self.overflow.happened.load(Ordering::Relaxed) {
            return None;
        }
        if let Some(e) = self.next_of_batch() {
            return Some(e);
        }
        let q = self.rx.try_recv().ok()?;
        self.unpack(*q)
    }

    fn next_of_batch(&mut self) -> Option<E> {
        let e = self.batch.pop_front()?;
        if self.batch.is_empty() {
            self.batch_pending.store(false, Ordering::Release);
        }
        Some(e)
    }

    fn unpack(&mut self, q: Queued<E>) -> Option<E> {
        match q {
            Queued::One(e) => Some(e),
            Queued::Batch(v) => {
                self.batch = v.into();
                self.next_of_batch()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivers_in_order_then_closes() {
        let (tx, mut rx) = event_queue::<u32>(4);
        tx.send(1);
        tx.send(2);
        drop(tx);
        assert!(matches!(rx.recv().await, Next::Event(1)));
        assert_eq!(rx.try_recv(), Some(2));
        assert!(matches!(rx.recv().await, Next::Closed));
    }

    #[tokio::test]
    async fn a_consumer_that_falls_behind_is_cut_off_not_buffered() {
        let (tx, mut rx) = event_queue::<u32>(2);
        for i in 0..10 {
            tx.send(i); // never blocks, even past capacity
        }
        assert!(tx.overflowed());
        assert!(
            matches!(rx.recv().await, Next::Overflowed),
            "the stream ends instead of delivering a gap-ridden history"
        );
    }

    #[tokio::test]
    async fn a_batch_larger_than_the_queue_is_delivered_whole_in_order() {
        let (tx, mut rx) = event_queue::<u32>(3);
        tx.send(0);
        assert!(tx.send_batch((1..=100).collect()));
        // A second batch while the first waits is dropped, not queued.
        assert!(!tx.send_batch(vec![7, 7]));
        tx.send(101);
        assert!(!tx.overflowed());
        let mut got = Vec::new();
        while let Some(e) = rx.try_recv() {
            got.push(e);
        }
        assert_eq!(got, (0..=101).collect::<Vec<_>>());
        // Delivered: the next batch is queued again.
        assert!(tx.send_batch(vec![1]));
        assert!(matches!(rx.recv().await, Next::Event(1)));
    }
}

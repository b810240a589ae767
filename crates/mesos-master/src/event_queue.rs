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
//! Events are boxed: tokio's channel allocates its slots in blocks of 32,
//! and an unboxed `AgentEvent` (~1.1 KB) made the first block alone ~36 KiB
//! per idle agent connection.

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

/// The book's end: never blocks.
#[derive(Debug)]
pub struct EventSender<E> {
    tx: mpsc::Sender<Box<E>>,
    overflow: Arc<Overflow>,
}

impl<E> Clone for EventSender<E> {
    fn clone(&self) -> Self {
        EventSender {
            tx: self.tx.clone(),
            overflow: self.overflow.clone(),
        }
    }
}

/// The stream's end.
#[derive(Debug)]
pub struct EventReceiver<E> {
    rx: mpsc::Receiver<Box<E>>,
    overflow: Arc<Overflow>,
}

/// A queue holding at most `capacity` events.
pub fn event_queue<E>(capacity: usize) -> (EventSender<E>, EventReceiver<E>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let overflow = Arc::new(Overflow::default());
    (
        EventSender {
            tx,
            overflow: overflow.clone(),
        },
        EventReceiver { rx, overflow },
    )
}

impl<E> EventSender<E> {
    /// Queues `e`. A closed receiver means the connection is going away
    /// (its close guard reports that); a full queue ends the stream.
    pub fn send(&self, e: E) {
        match self.tx.try_send(Box::new(e)) {
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
        tokio::select! {
            biased;
            _ = self.overflow.notify.notified() => Next::Overflowed,
            e = self.rx.recv() => match e {
                Some(e) => Next::Event(*e),
                None => Next::Closed,
            },
        }
    }

    /// An event already queued, if any (none once overflowed).
    pub fn try_recv(&mut self) -> Option<E> {
        if self.overflow.happened.load(Ordering::Relaxed) {
            return None;
        }
        self.rx.try_recv().ok().map(|e| *e)
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
}

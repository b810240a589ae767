//! "Something changed" for live pages: a generation counter the server
//! bumps on every change ([`ChangeFeed::bump`], cheap enough to call on
//! every write), and a `text/event-stream` of it for the page script
//! ([`ChangeFeed::events`]), coalesced to at most one message per
//! `min_interval`, with a comment line as keep-alive. The page then
//! re-fetches only its own visible part (one page of each table), never
//! a whole state dump.

use std::time::Duration;
use tokio::sync::watch;

/// The content type of [`ChangeFeed::events`].
pub const CONTENT_TYPE: &str = "text/event-stream";
/// How often a silent stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// A change counter with any number of listeners.
#[derive(Debug)]
pub struct ChangeFeed {
    tx: watch::Sender<u64>,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        ChangeFeed {
            tx: watch::Sender::new(0),
        }
    }
}

impl ChangeFeed {
    /// Records a change (wakes listeners; never blocks on them).
    pub fn bump(&self) {
        self.tx.send_modify(|g| *g = g.wrapping_add(1));
    }

    pub fn generation(&self) -> u64 {
        *self.tx.borrow()
    }

    /// The event stream: `data: <generation>` after each change (at most
    /// one per `min_interval`), `: keep-alive` when quiet. Ends when the
    /// feed is dropped.
    pub fn events(
        &self,
        min_interval: Duration,
    ) -> impl futures::Stream<Item = Result<String, std::convert::Infallible>> + Send + 'static
    {
        let mut rx = self.tx.subscribe();
        rx.mark_unchanged();
        async_stream(rx, min_interval)
    }
}

fn async_stream(
    rx: watch::Receiver<u64>,
    min_interval: Duration,
) -> impl futures::Stream<Item = Result<String, std::convert::Infallible>> + Send + 'static {
    // The stream's state: the receiver and whether the first line (retry
    // hint) was sent.
    futures::stream::unfold((rx, false), move |(mut rx, started)| async move {
        if !started {
            // Tell EventSource to reconnect after 2 s if the stream breaks.
            return Some((Ok("retry: 2000\n\n".to_string()), (rx, true)));
        }
        match tokio::time::timeout(KEEP_ALIVE, rx.changed()).await {
            Err(_) => Some((Ok(": keep-alive\n\n".to_string()), (rx, true))),
            Ok(Err(_)) => None,
            Ok(Ok(())) => {
                let generation = *rx.borrow_and_update();
                // Coalesce a burst: later changes in the window are
                // carried by the next message.
                tokio::time::sleep(min_interval).await;
                Some((Ok(format!("data: {generation}\n\n")), (rx, true)))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_changes_is_one_message_and_quiet_is_keep_alive() {
        let feed = ChangeFeed::default();
        let mut events = Box::pin(feed.events(Duration::from_secs(1)));
        assert_eq!(events.next().await.unwrap().unwrap(), "retry: 2000\n\n");
        for _ in 0..100 {
            feed.bump();
        }
        let msg = events.next().await.unwrap().unwrap();
        assert_eq!(msg, "data: 100\n\n");
        // Nothing changed since: the next line is a keep-alive.
        assert_eq!(events.next().await.unwrap().unwrap(), ": keep-alive\n\n");
        feed.bump();
        assert_eq!(events.next().await.unwrap().unwrap(), "data: 101\n\n");
        drop(feed);
        // The stream may carry a last keep-alive, then ends.
        while let Some(item) = events.next().await {
            assert_eq!(item.unwrap(), ": keep-alive\n\n");
        }
    }
}

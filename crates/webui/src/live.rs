//! "Something changed" for live pages: a generation number the server
//! moves forward when what its pages show may have changed
//! ([`ChangeFeed::observe`] with a cheap fingerprint of its state, or
//! [`ChangeFeed::bump`]), and the tiny JSON answer ([`ChangeFeed::body`])
//! that the page script polls about once a second while the tab is
//! visible. When the number moves, the page re-fetches only its own main
//! area (one page of each table), never a whole state dump.
//!
//! Polling a few bytes is chosen over an event stream on purpose: a
//! stream per open tab holds one of the browser's six HTTP/1.1
//! connections to the server for as long as the tab is open, so a few
//! tabs would stall every other request of that browser, and the server
//! would hold a connection per tab.

use std::sync::atomic::{AtomicU64, Ordering};

/// The content type of [`ChangeFeed::body`].
pub const CONTENT_TYPE: &str = "application/json";

/// A change counter.
#[derive(Debug, Default)]
pub struct ChangeFeed {
    generation: AtomicU64,
    fingerprint: AtomicU64,
}

impl ChangeFeed {
    /// Records a change.
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a change if `fingerprint` differs from the last one
    /// observed (callers pass a cheap digest of what their pages show, so
    /// that work which changed nothing visible does not refresh pages).
    pub fn observe(&self, fingerprint: u64) {
        if self.fingerprint.swap(fingerprint, Ordering::Relaxed) != fingerprint {
            self.bump();
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// `{"generation":N}`: what the page script polls.
    pub fn body(&self) -> String {
        format!("{{\"generation\":{}}}", self.generation())
    }
}

/// Folds values into a fingerprint for [`ChangeFeed::observe`] (FNV-1a
/// over the values' bytes: fast and good enough to notice a change).
#[derive(Debug, Clone, Copy)]
pub struct Fingerprint(u64);

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint(0xcbf2_9ce4_8422_2325)
    }
}

impl Fingerprint {
    pub fn with(mut self, v: u64) -> Self {
        for b in v.to_le_bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self
    }

    pub fn value(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_different_fingerprint_moves_the_generation() {
        let feed = ChangeFeed::default();
        let a = Fingerprint::default().with(1).with(2).value();
        let b = Fingerprint::default().with(2).with(1).value();
        assert_ne!(a, b);
        feed.observe(a);
        assert_eq!(feed.generation(), 1);
        feed.observe(a);
        feed.observe(a);
        assert_eq!(feed.generation(), 1);
        feed.observe(b);
        assert_eq!(feed.generation(), 2);
        feed.bump();
        assert_eq!(feed.body(), "{\"generation\":3}");
    }
}

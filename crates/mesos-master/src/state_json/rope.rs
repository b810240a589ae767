//! Writing JSON documents as byte chunks ([`Rope`], [`Document`]) and
//! objects key by key ([`Obj`]): what the snapshots write with.

use bytes::Bytes;
use serde::Serialize;
use std::sync::Arc;

/// Appends `v` as compact JSON.
pub(super) fn put<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    if let Err(e) = serde_json::to_writer(&mut *out, v) {
        tracing::error!("rendering state failed: {e}");
        out.extend_from_slice(b"null");
    }
}

/// Segments shorter than this are copied rather than shared.
const SHARED_MIN: usize = 4096;

/// A document written as byte chunks: bytes written here, and segments
/// cached elsewhere that are shared by reference instead of copied (a
/// framework's task arrays, tens of MiB at scale). The HTTP layer sends
/// the chunks one after the other.
pub struct Rope {
    chunks: Vec<Bytes>,
    /// Bytes written since the last shared segment.
    cur: Vec<u8>,
    /// Length of `chunks`.
    done: usize,
    /// Expected length of the whole document, to size `cur`.
    hint: usize,
}

impl Rope {
    pub fn with_capacity(hint: usize) -> Rope {
        Rope {
            chunks: Vec::new(),
            cur: Vec::with_capacity(hint),
            done: 0,
            hint,
        }
    }

    /// Appends `segment`, without copying it unless it is short (a chunk of
    /// its own would cost more than the copy).
    pub(super) fn shared(&mut self, segment: &Bytes) {
        if segment.len() < SHARED_MIN {
            self.cur.extend_from_slice(segment);
            return;
        }
        self.flush();
        self.done += segment.len();
        self.chunks.push(segment.clone());
        // What follows is mostly short (keys, the next framework's head)
        // before the next shared segment: start small and let it grow.
        self.cur = Vec::with_capacity(self.hint.saturating_sub(self.done).min(64 * 1024));
    }

    fn flush(&mut self) {
        if !self.cur.is_empty() {
            let mut written = std::mem::take(&mut self.cur);
            // A chunk keeps its buffer's whole capacity while it is sent:
            // give back what the estimate reserved beyond it.
            if written.capacity() > written.len() + written.len() / 4 + 4096 {
                written.shrink_to_fit();
            }
            self.done += written.len();
            self.chunks.push(Bytes::from(written));
        }
    }

    pub fn finish(mut self) -> Document {
        self.flush();
        Document {
            len: self.done,
            chunks: self.chunks.into(),
        }
    }

    /// The whole document as one buffer (a copy, unless it is one chunk).
    pub fn into_vec(self) -> Vec<u8> {
        self.finish().to_vec()
    }
}

impl std::ops::Deref for Rope {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.cur
    }
}

impl std::ops::DerefMut for Rope {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.cur
    }
}

/// A rendered document: its chunks in order, shared by every request of
/// one rendering.
#[derive(Debug, Clone, Default)]
pub struct Document {
    chunks: Arc<[Bytes]>,
    len: usize,
}

impl Document {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len);
        for c in self.chunks.iter() {
            v.extend_from_slice(c);
        }
        v
    }
}

/// A JSON object being written.
pub(super) struct Obj<'a> {
    out: &'a mut Rope,
    first: bool,
}

impl<'a> Obj<'a> {
    pub(super) fn new(out: &'a mut Rope) -> Obj<'a> {
        out.push(b'{');
        Obj { out, first: true }
    }

    pub(super) fn key(&mut self, k: &str) -> &mut Rope {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        put(self.out, k);
        self.out.push(b':');
        self.out
    }

    pub(super) fn entry<T: Serialize + ?Sized>(&mut self, k: &str, v: &T) {
        put(self.key(k), v);
    }

    /// An array whose elements `each` writes (items by reference, shared
    /// or mutable).
    pub(super) fn array<I: IntoIterator>(
        &mut self,
        k: &str,
        items: I,
        mut each: impl FnMut(&mut Rope, I::Item),
    ) {
        let out = self.key(k);
        out.push(b'[');
        for (i, x) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            each(out, x);
        }
        out.push(b']');
    }

    /// A value written before, shared rather than copied.
    pub(super) fn shared(&mut self, k: &str, value: &Bytes) {
        self.key(k).shared(value);
    }

    /// Entries already written (`"k":v,...`, no braces).
    pub(super) fn raw(&mut self, entries: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(entries.as_bytes());
    }

    pub(super) fn end(self) {
        self.out.push(b'}');
    }
}

//! RecordIO framing (`<decimal length>\n<bytes>`), used by every event stream.

/// Frames one record.
pub fn encode(record: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(record.len() + 12);
    out.extend_from_slice(record.len().to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(record);
    out
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordIoError {
    #[error("invalid record length header")]
    BadHeader,
    #[error("record of {0} bytes exceeds the limit of {1}")]
    TooLarge(usize, usize),
}

/// Incremental decoder: feed bytes as they arrive (chunk boundaries do not
/// matter), take complete records out.
///
/// Records are taken from an offset into the buffer; the consumed prefix is
/// dropped only when the next chunk is fed, so a chunk holding many records
/// costs one pass over it, not one move of its remainder per record.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Start of the first byte not yet returned.
    pos: usize,
    max_record: usize,
    #[cfg(test)]
    moved: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(64 * 1024 * 1024)
    }
}

/// Longest length header: `u64::MAX` has 20 digits.
const MAX_HEADER: usize = 20;

impl Decoder {
    pub fn new(max_record: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            pos: 0,
            max_record,
            #[cfg(test)]
            moved: 0,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            #[cfg(test)]
            {
                self.moved += self.buf.len() - self.pos;
            }
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete record, `Ok(None)` if more bytes are needed.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>, RecordIoError> {
        let rest = &self.buf[self.pos..];
        // Only the header is searched: a large partial record must not be
        // rescanned on every call.
        let head = &rest[..rest.len().min(MAX_HEADER + 1)];
        let Some(nl) = head.iter().position(|&b| b == b'\n') else {
            if head.len() > MAX_HEADER || head.iter().any(|b| !b.is_ascii_digit()) {
                return Err(RecordIoError::BadHeader);
            }
            return Ok(None);
        };
        let header = &rest[..nl];
        if header.is_empty() || !header.iter().all(u8::is_ascii_digit) {
            return Err(RecordIoError::BadHeader);
        }
        let len: usize = std::str::from_utf8(header)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(RecordIoError::BadHeader)?;
        if len > self.max_record {
            return Err(RecordIoError::TooLarge(len, self.max_record));
        }
        if rest.len() - (nl + 1) < len {
            return Ok(None);
        }
        let record = rest[nl + 1..nl + 1 + len].to_vec();
        self.pos += nl + 1 + len;
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spec_example() {
        let mut d = Decoder::default();
        d.feed(b"20\n{\"type\":\"HEARTBEAT\"}5\nhel");
        assert_eq!(
            d.next_record().unwrap().unwrap(),
            b"{\"type\":\"HEARTBEAT\"}"
        );
        assert_eq!(d.next_record().unwrap(), None);
        d.feed(b"lo");
        assert_eq!(d.next_record().unwrap().unwrap(), b"hello");
    }

    #[test]
    fn rejects_garbage() {
        let mut d = Decoder::default();
        d.feed(b" 5\nhello");
        assert_eq!(d.next_record(), Err(RecordIoError::BadHeader));
        let mut d = Decoder::new(4);
        d.feed(b"5\nhello");
        assert_eq!(d.next_record(), Err(RecordIoError::TooLarge(5, 4)));
    }

    /// Many small records in one big chunk (a 1 MiB read from a busy
    /// stream): taking them out must not move the rest of the chunk once per
    /// record, which made decoding quadratic in the chunk size.
    #[test]
    fn many_records_in_one_chunk_are_decoded_in_linear_work() {
        let record = br#"{"type":"HEARTBEAT"}"#;
        let n = 50_000;
        let chunk: Vec<u8> = (0..n).flat_map(|_| encode(record)).collect();
        let mut d = Decoder::default();
        d.feed(&chunk);
        let mut count = 0;
        while let Some(r) = d.next_record().unwrap() {
            assert_eq!(r, record);
            count += 1;
        }
        assert_eq!(count, n);
        // Each byte may be moved once when the buffer is compacted, no more.
        assert!(
            d.moved <= chunk.len(),
            "moved {} bytes to decode a chunk of {}",
            d.moved,
            chunk.len()
        );
        // A partial record left over is kept across feeds.
        d.feed(b"5\nhel");
        assert_eq!(d.next_record().unwrap(), None);
        d.feed(b"lo3\nabc");
        assert_eq!(d.next_record().unwrap().unwrap(), b"hello");
        assert_eq!(d.next_record().unwrap().unwrap(), b"abc");
        assert_eq!(d.next_record().unwrap(), None);
    }

    proptest! {
        #[test]
        fn roundtrip_any_chunking(
            records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..10),
            cut in 1usize..64,
        ) {
            let stream: Vec<u8> = records.iter().flat_map(|r| encode(r)).collect();
            let mut d = Decoder::default();
            let mut out = Vec::new();
            for chunk in stream.chunks(cut) {
                d.feed(chunk);
                while let Some(r) = d.next_record().unwrap() {
                    out.push(r);
                }
            }
            prop_assert_eq!(out, records);
        }
    }
}

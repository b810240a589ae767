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
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    max_record: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(64 * 1024 * 1024)
    }
}

impl Decoder {
    pub fn new(max_record: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            max_record,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete record, `Ok(None)` if more bytes are needed.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>, RecordIoError> {
        let Some(nl) = self.buf.iter().position(|&b| b == b'\n') else {
            if self.buf.len() > 20 || self.buf.iter().any(|b| !b.is_ascii_digit()) {
                return Err(RecordIoError::BadHeader);
            }
            return Ok(None);
        };
        let header = &self.buf[..nl];
        if header.is_empty() || header.len() > 20 || !header.iter().all(u8::is_ascii_digit) {
            return Err(RecordIoError::BadHeader);
        }
        let len: usize = std::str::from_utf8(header)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(RecordIoError::BadHeader)?;
        if len > self.max_record {
            return Err(RecordIoError::TooLarge(len, self.max_record));
        }
        if self.buf.len() < nl + 1 + len {
            return Ok(None);
        }
        let record = self.buf[nl + 1..nl + 1 + len].to_vec();
        self.buf.drain(..nl + 1 + len);
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

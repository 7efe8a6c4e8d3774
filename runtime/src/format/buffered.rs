//! A `suppress` buffer entry as its changelog, and the in-memory store
//! mirroring the buffer, keep it (weir's own format): buffer time, record
//! timestamp, partition, offset (8, 8, 4, 8 bytes, big-endian), topic
//! (4-byte length, UTF-8), headers (4-byte count, then per header: 4-byte
//! name length, name, 4-byte value length or -1 for null, value), then a
//! presence byte and the value.

use crate::record::{Headers, RecordContext};

/// A buffered entry as its changelog (and the store mirroring the buffer)
/// keeps it: buffer time, record timestamp, partition, offset (8, 8, 4, 8
/// bytes, big-endian), topic (4-byte length, UTF-8), headers (4-byte count,
/// then per header: 4-byte name length, name, 4-byte value length or -1 for
/// null, value), then the value (absent = null). Internal to weir.
pub fn encode_buffered(
    time: i64,
    value: Option<&[u8]>,
    ctx: &RecordContext<'_>,
    out: &mut Vec<u8>,
) {
    fn len(out: &mut Vec<u8>, n: usize) {
        out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
    }
    out.clear();
    out.extend_from_slice(&time.to_be_bytes());
    out.extend_from_slice(&ctx.timestamp.to_be_bytes());
    out.extend_from_slice(&ctx.partition.to_be_bytes());
    out.extend_from_slice(&ctx.offset.to_be_bytes());
    len(out, ctx.topic.len());
    out.extend_from_slice(ctx.topic.as_bytes());
    len(out, ctx.headers.len());
    for (name, value) in ctx.headers.iter() {
        len(out, name.len());
        out.extend_from_slice(name.as_bytes());
        match value {
            Some(v) => {
                len(out, v.len());
                out.extend_from_slice(v);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    if let Some(v) = value {
        out.push(1);
        out.extend_from_slice(v);
    } else {
        out.push(0);
    }
}

/// A decoded buffered entry: buffer time, the record context's parts, the
/// value bytes (`None`: null).
pub struct DecodedBuffered<'b> {
    /// Buffer time.
    pub time: i64,
    /// Record timestamp.
    pub timestamp: i64,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
    /// Source topic.
    pub topic: String,
    /// Headers.
    pub headers: Headers,
    /// The value.
    pub value: Option<&'b [u8]>,
}

/// Decodes what [`encode_buffered`] wrote; `None` if the bytes are not that.
pub fn decode_buffered(bytes: &[u8]) -> Option<DecodedBuffered<'_>> {
    struct Reader<'b>(&'b [u8]);
    impl<'b> Reader<'b> {
        fn take(&mut self, n: usize) -> Option<&'b [u8]> {
            if self.0.len() < n {
                return None;
            }
            let (a, b) = self.0.split_at(n);
            self.0 = b;
            Some(a)
        }
        fn i64(&mut self) -> Option<i64> {
            Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
        }
        fn i32(&mut self) -> Option<i32> {
            Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
        }
        fn len(&mut self) -> Option<usize> {
            usize::try_from(self.i32()?).ok()
        }
    }
    let mut r = Reader(bytes);
    let time = r.i64()?;
    let timestamp = r.i64()?;
    let partition = r.i32()?;
    let offset = r.i64()?;
    let n = r.len()?;
    let topic = String::from_utf8(r.take(n)?.to_vec()).ok()?;
    let count = r.len()?;
    let mut headers = Headers::new();
    for _ in 0..count {
        let n = r.len()?;
        let name = String::from_utf8(r.take(n)?.to_vec()).ok()?;
        let value = match r.i32()? {
            -1 => None,
            n => Some(r.take(usize::try_from(n).ok()?)?),
        };
        headers.add(name, value);
    }
    let value = match r.take(1)?[0] {
        0 => None,
        _ => Some(r.0),
    };
    Some(DecodedBuffered {
        time,
        timestamp,
        partition,
        offset,
        topic,
        headers,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(ts: i64, headers: &Headers) -> RecordContext<'_> {
        RecordContext {
            topic: "t",
            partition: 0,
            offset: ts,
            timestamp: ts,
            headers,
        }
    }

    #[test]
    fn buffered_entries_round_trip_through_their_changelog_format() {
        let mut h = Headers::new();
        h.add("a", Some(b"1".as_slice()));
        h.add("b", None);
        let mut bytes = Vec::new();
        encode_buffered(42, Some(b"value"), &ctx(7, &h), &mut bytes);
        let d = decode_buffered(&bytes).unwrap();
        assert_eq!((d.time, d.timestamp, d.partition, d.offset), (42, 7, 0, 7));
        assert_eq!(d.topic, "t");
        assert_eq!(d.headers, h);
        assert_eq!(d.value, Some(b"value".as_slice()));
        encode_buffered(1, None, &ctx(1, &h), &mut bytes);
        assert_eq!(decode_buffered(&bytes).unwrap().value, None);
        assert!(decode_buffered(&bytes[..10]).is_none());
    }
}

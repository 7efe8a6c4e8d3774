//! `suppress`: holding back a table's updates (Kafka Streams'
//! `KTable#suppress`). The buffer keeps the latest update per key, ordered
//! by a time — the window end for `until_window_closes`, the record time of
//! the first buffered update for `until_time_limit` — and releases entries
//! once the suppress processor's stream time (the largest timestamp it has
//! seen) has passed that time by the grace period or the time limit.

use crate::record::{Headers, RecordContext};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What to do when a bounded buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Emit the oldest entries early (Kafka Streams' `emitEarlyWhenFull`).
    EmitEarly,
    /// Stop with an error (Kafka Streams' `shutDownWhenFull`).
    ShutDown,
}

/// Buffer bounds: Kafka Streams' `Suppressed.BufferConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferConfig {
    max_records: Option<usize>,
    when_full: WhenFull,
}

/// No bound on the buffer (Kafka Streams' `BufferConfig.unbounded()`).
pub fn unbounded() -> BufferConfig {
    BufferConfig {
        max_records: None,
        when_full: WhenFull::ShutDown,
    }
}

/// At most `n` buffered keys; when full the oldest are emitted early
/// (Kafka Streams' `BufferConfig.maxRecords(n)`).
pub fn max_records(n: usize) -> BufferConfig {
    BufferConfig {
        max_records: Some(n),
        when_full: WhenFull::EmitEarly,
    }
}

impl BufferConfig {
    /// What happens when the buffer is full.
    pub fn when_full(&self) -> WhenFull {
        self.when_full
    }

    /// When full, emit the oldest entries early.
    pub fn emit_early_when_full(self) -> Self {
        BufferConfig {
            when_full: WhenFull::EmitEarly,
            ..self
        }
    }
    /// When full, stop processing with an error.
    pub fn shut_down_when_full(self) -> Self {
        BufferConfig {
            when_full: WhenFull::ShutDown,
            ..self
        }
    }
}

/// How long to hold updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppression {
    /// Until the window closes (window end + the windows' grace).
    UntilWindowCloses,
    /// Until this many ms after the first buffered update's record time.
    UntilTimeLimit(i64),
}

/// A suppression: Kafka Streams' `Suppressed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppressed {
    /// How long to hold updates.
    pub suppression: Suppression,
    /// Buffer bounds.
    pub buffer: BufferConfig,
}

/// Only the final result of each window, once it closes
/// (Kafka Streams' `Suppressed.untilWindowCloses`).
pub fn until_window_closes(buffer: BufferConfig) -> Suppressed {
    Suppressed {
        suppression: Suppression::UntilWindowCloses,
        buffer,
    }
}

/// The latest update of each key, at most once per `limit` of stream time
/// (Kafka Streams' `Suppressed.untilTimeLimit`).
pub fn until_time_limit(limit: Duration, buffer: BufferConfig) -> Suppressed {
    Suppressed {
        suppression: Suppression::UntilTimeLimit(
            i64::try_from(limit.as_millis()).unwrap_or(i64::MAX),
        ),
        buffer,
    }
}

impl Suppressed {
    /// [`until_window_closes`], as Kafka Streams spells it.
    pub fn until_window_closes(buffer: BufferConfig) -> Self {
        until_window_closes(buffer)
    }
    /// [`until_time_limit`], as Kafka Streams spells it.
    pub fn until_time_limit(limit: Duration, buffer: BufferConfig) -> Self {
        until_time_limit(limit, buffer)
    }
}

impl BufferConfig {
    /// [`unbounded`], as Kafka Streams spells it.
    pub fn unbounded() -> Self {
        unbounded()
    }
    /// [`max_records`], as Kafka Streams spells it.
    pub fn max_records(n: usize) -> Self {
        max_records(n)
    }
}

/// A buffered update, with the context of the record that produced it.
#[derive(Debug, Clone)]
pub struct Buffered<K, V> {
    /// Key.
    pub key: K,
    /// Latest value.
    pub value: V,
    /// Its record timestamp.
    pub timestamp: i64,
    /// Its headers.
    pub headers: Headers,
    /// Its source topic.
    pub topic: String,
    /// Its source partition.
    pub partition: i32,
    /// Its source offset.
    pub offset: i64,
}

impl<K, V> Buffered<K, V> {
    /// The record context to forward it with.
    pub fn context(&self) -> RecordContext<'_> {
        RecordContext {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            headers: &self.headers,
        }
    }
}

/// The suppression buffer (Kafka Streams' in-memory time-ordered buffer):
/// the latest update per key, ordered by (buffer time, key bytes).
#[derive(Debug)]
pub struct SuppressBuffer<K, V> {
    sorted: BTreeMap<(i64, Vec<u8>), Buffered<K, V>>,
    index: HashMap<Vec<u8>, i64>,
    stream_time: i64,
}

impl<K, V> Default for SuppressBuffer<K, V> {
    fn default() -> Self {
        SuppressBuffer {
            sorted: BTreeMap::new(),
            index: HashMap::new(),
            stream_time: -1,
        }
    }
}

impl<K, V> Clone for SuppressBuffer<K, V> {
    /// A task's copy starts empty.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl<K, V> SuppressBuffer<K, V> {
    /// Observes a record timestamp; returns the stream time.
    pub fn observe(&mut self, timestamp: i64) -> i64 {
        self.stream_time = self.stream_time.max(timestamp);
        self.stream_time
    }

    /// Buffers the latest update of `key`; a key already buffered keeps its
    /// original buffer time (as Kafka Streams does), which is returned.
    pub fn put(
        &mut self,
        time: i64,
        key_bytes: &[u8],
        key: K,
        value: V,
        ctx: &RecordContext<'_>,
    ) -> i64 {
        let time = *self.index.entry(key_bytes.to_vec()).or_insert(time);
        self.sorted.insert(
            (time, key_bytes.to_vec()),
            Buffered {
                key,
                value,
                timestamp: ctx.timestamp,
                headers: ctx.headers.clone(),
                topic: ctx.topic.to_owned(),
                partition: ctx.partition,
                offset: ctx.offset,
            },
        );
        time
    }

    /// Puts back an entry restored from the buffer's changelog.
    pub fn restore(&mut self, time: i64, key_bytes: &[u8], entry: Buffered<K, V>) {
        self.index.insert(key_bytes.to_vec(), time);
        self.sorted.insert((time, key_bytes.to_vec()), entry);
    }

    /// Removes and returns the oldest entry whose buffer time is `<= bound`.
    pub fn pop_due(&mut self, bound: i64) -> Option<Buffered<K, V>> {
        let ((time, _), _) = self.sorted.first_key_value()?;
        if *time > bound {
            return None;
        }
        self.pop_oldest()
    }

    /// Removes and returns the oldest entry.
    pub fn pop_oldest(&mut self) -> Option<Buffered<K, V>> {
        let ((_, key), entry) = self.sorted.pop_first()?;
        self.index.remove(&key);
        Some(entry)
    }

    /// Buffered keys.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Whether the buffer is over `config`'s bound.
    pub fn over(&self, config: &BufferConfig) -> bool {
        config.max_records.is_some_and(|n| self.sorted.len() > n)
    }
}

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

/// Logs a buffered update: writes it to the store mirroring the buffer
/// and sends it to the buffer's changelog, so a restart finds it again.
#[allow(clippy::too_many_arguments)]
pub fn log_buffered<C: crate::topology::RecordCollector>(
    stores: &mut [crate::store::KvStore],
    index: usize,
    name: &'static str,
    changelog: usize,
    key: &[u8],
    time: i64,
    value: Option<&[u8]>,
    ctx: &RecordContext<'_>,
    scratch: &mut Vec<u8>,
    out: &mut C,
) -> Result<(), crate::error::ProcessError> {
    let mut payload = Vec::new();
    encode_buffered(time, value, ctx, &mut payload);
    crate::__private::store_put(
        stores,
        index,
        name,
        key,
        ctx.timestamp,
        Some(&payload),
        scratch,
    )?;
    let logged = RecordContext {
        headers: &crate::__private::NO_HEADERS,
        ..*ctx
    };
    out.send(
        crate::topology::SinkTopic::Internal(changelog),
        Some(key),
        Some(&payload),
        &logged,
    )
}

/// Logs that `key` left the buffer (emitted): deleted from the mirror
/// store, a tombstone in the changelog.
pub fn unlog_buffered<C: crate::topology::RecordCollector>(
    stores: &mut [crate::store::KvStore],
    index: usize,
    name: &'static str,
    changelog: usize,
    key: &[u8],
    ctx: &RecordContext<'_>,
    out: &mut C,
) -> Result<(), crate::error::ProcessError> {
    let mut scratch = Vec::new();
    crate::__private::store_put(stores, index, name, key, ctx.timestamp, None, &mut scratch)?;
    let logged = RecordContext {
        headers: &crate::__private::NO_HEADERS,
        ..*ctx
    };
    out.send(
        crate::topology::SinkTopic::Internal(changelog),
        Some(key),
        None,
        &logged,
    )
}

/// Refills `buffer` from the store mirroring it (after a restart restored
/// the store from its changelog).
pub fn restore_buffer<K: crate::serde::Serde, V: crate::serde::Serde>(
    stores: &[crate::store::KvStore],
    index: usize,
    name: &'static str,
    buffer: &mut SuppressBuffer<K, V>,
) -> Result<(), crate::error::ProcessError> {
    use crate::store::KeyValueStore as _;
    let corrupt = |reason: String| crate::error::ProcessError::Store {
        store: name.to_owned(),
        reason,
    };
    let Some(store) = stores.get(index) else {
        return Err(corrupt("not open (the task was not initialised)".into()));
    };
    for (key_bytes, bytes) in store.all().map_err(|e| corrupt(e.to_string()))? {
        let payload = crate::__private::split_timestamped(&bytes)
            .map(|(_, p)| p)
            .ok_or_else(|| corrupt("an entry without a timestamp".into()))?;
        let d = decode_buffered(payload).ok_or_else(|| corrupt("not a buffered update".into()))?;
        let key = K::deserialize(Some(&key_bytes))
            .map_err(|e| corrupt(format!("cannot deserialize a buffered key: {e}")))?;
        let value = V::deserialize(d.value)
            .map_err(|e| corrupt(format!("cannot deserialize a buffered value: {e}")))?;
        buffer.restore(
            d.time,
            &key_bytes,
            Buffered {
                key,
                value,
                timestamp: d.timestamp,
                headers: d.headers,
                topic: d.topic,
                partition: d.partition,
                offset: d.offset,
            },
        );
    }
    Ok(())
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

    #[test]
    fn keeps_the_latest_value_at_the_first_buffer_time_in_time_then_key_order() {
        let h = Headers::new();
        let mut b: SuppressBuffer<&str, i32> = SuppressBuffer::default();
        b.put(10, b"b", "b", 1, &ctx(1, &h));
        b.put(5, b"c", "c", 1, &ctx(2, &h));
        b.put(10, b"a", "a", 1, &ctx(3, &h));
        b.put(99, b"b", "b", 2, &ctx(4, &h)); // keeps time 10
        assert_eq!(b.len(), 3);
        assert!(b.pop_due(4).is_none());
        let order: Vec<(&str, i32, i64)> = std::iter::from_fn(|| b.pop_due(10))
            .map(|e| (e.key, e.value, e.timestamp))
            .collect();
        assert_eq!(order, [("c", 1, 2), ("a", 1, 3), ("b", 2, 4)]);
        assert!(b.is_empty());
    }

    #[test]
    fn bounds() {
        let h = Headers::new();
        let mut b: SuppressBuffer<u8, u8> = SuppressBuffer::default();
        let config = max_records(1);
        b.put(1, b"x", 1, 1, &ctx(1, &h));
        assert!(!b.over(&config));
        b.put(2, b"y", 2, 2, &ctx(2, &h));
        assert!(b.over(&config));
        assert!(!b.over(&unbounded()));
        assert_eq!(b.pop_oldest().map(|e| e.key), Some(1));
        assert_eq!(b.observe(7), 7);
        assert_eq!(b.observe(3), 7);
    }
}

//! `suppress`: holding back a table's updates (Kafka Streams'
//! `KTable#suppress`). The buffer keeps the latest update per key, ordered
//! by a time — the window end for `until_window_closes`, the record time of
//! the first buffered update for `until_time_limit` — and releases entries
//! once the suppress processor's stream time (the largest timestamp it has
//! seen) has passed that time by the grace period or the time limit. The
//! buffer is mirrored in an in-memory store logged to a changelog
//! ([`crate::format::buffered`]), so it survives a restart.

use crate::error::{store_error, ProcessError};
use crate::format::buffered::{decode_buffered, encode_buffered};
use crate::format::timestamped::split_timestamped;
use crate::record::{Headers, RecordContext};
use crate::serde::Serde;
use crate::store::{KeyValueStore, TaskStores};
use crate::suppress::{BufferConfig, Suppressed, WhenFull};
use crate::topology::{RecordCollector, SinkTopic};
use std::collections::{BTreeMap, HashMap};

/// No headers: changelog records carry none, as in Kafka Streams.
static NO_HEADERS: Headers = Headers::new();

/// A suppress buffer over its bound: fine under `emit_early_when_full` (the
/// oldest entries go out early), an error under `shut_down_when_full`.
pub fn when_full(config: &Suppressed, processor: &'static str) -> Result<(), ProcessError> {
    match config.buffer.when_full() {
        WhenFull::EmitEarly => Ok(()),
        WhenFull::ShutDown => Err(ProcessError::BufferFull { processor }),
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

/// Logs a buffered update: writes it to the store mirroring the buffer
/// and sends it to the buffer's changelog, so a restart finds it again.
#[allow(clippy::too_many_arguments)]
pub fn log_buffered<C: RecordCollector>(
    stores: &mut TaskStores,
    index: usize,
    name: &'static str,
    changelog: usize,
    key: &[u8],
    time: i64,
    value: Option<&[u8]>,
    ctx: &RecordContext<'_>,
    scratch: &mut Vec<u8>,
    out: &mut C,
) -> Result<(), ProcessError> {
    let mut payload = Vec::new();
    encode_buffered(time, value, ctx, &mut payload);
    crate::ops::kv::store_put(
        stores,
        index,
        name,
        key,
        ctx.timestamp,
        Some(&payload),
        scratch,
    )?;
    let logged = RecordContext {
        headers: &NO_HEADERS,
        ..*ctx
    };
    out.send(
        SinkTopic::Internal(changelog),
        Some(key),
        Some(&payload),
        &logged,
    )
}

/// Logs that `key` left the buffer (emitted): deleted from the mirror
/// store, a tombstone in the changelog.
pub fn unlog_buffered<C: RecordCollector>(
    stores: &mut TaskStores,
    index: usize,
    name: &'static str,
    changelog: usize,
    key: &[u8],
    ctx: &RecordContext<'_>,
    out: &mut C,
) -> Result<(), ProcessError> {
    let mut scratch = Vec::new();
    crate::ops::kv::store_put(stores, index, name, key, ctx.timestamp, None, &mut scratch)?;
    let logged = RecordContext {
        headers: &NO_HEADERS,
        ..*ctx
    };
    out.send(SinkTopic::Internal(changelog), Some(key), None, &logged)
}

/// Refills `buffer` from the store mirroring it (after a restart restored
/// the store from its changelog).
pub fn restore_buffer<K: Serde, V: Serde>(
    stores: &TaskStores,
    index: usize,
    name: &'static str,
    buffer: &mut SuppressBuffer<K, V>,
) -> Result<(), ProcessError> {
    let corrupt = |reason: String| store_error(name, reason);
    let store = stores.kv(index, name)?;
    for (key_bytes, bytes) in store.all().map_err(|e| corrupt(e.to_string()))? {
        let payload = split_timestamped(&bytes)
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
    use crate::suppress::{max_records, unbounded};

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

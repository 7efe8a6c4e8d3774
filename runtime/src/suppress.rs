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
    /// original buffer time (as Kafka Streams does).
    pub fn put(&mut self, time: i64, key_bytes: &[u8], key: K, value: V, ctx: &RecordContext<'_>) {
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

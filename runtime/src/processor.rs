//! The Processor API: a user-written processor inside a compiled topology
//! (Kafka Streams' `KStream.process` with `Processor<KIn, VIn, KOut, VOut>`).
//!
//! A processor gets each record with a [`ProcessorContext`] through which it
//! forwards records downstream, reads and writes the state stores it was
//! connected to (typed views over the task's stores, logged to their
//! changelogs), and schedules punctuations on stream time or wall-clock
//! time. Records a processor forwards are run through the rest of the fused
//! chain when its `process` (or `punctuate`) call returns, in forwarding
//! order — Kafka Streams runs each forward depth-first inside the call; the
//! results differ only if a processor reads a store that a processor
//! downstream of it writes (see the README).

use crate::error::ProcessError;
use crate::record::{Headers, RecordContext};
use crate::serde::Serde;
use crate::store::{KeyValueStore, KvStore};
use std::marker::PhantomData;
use std::time::Duration;

/// When a punctuation fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PunctuationType {
    /// As stream time (the largest record timestamp the task has seen)
    /// passes each multiple of the interval; the first as soon as there is
    /// data.
    StreamTime,
    /// Every interval of wall-clock time, from when it was scheduled.
    WallClockTime,
}

/// A punctuation being delivered to [`Processor::punctuate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Punctuation {
    /// What [`ProcessorContext::schedule`] returned.
    pub id: usize,
    /// Stream or wall-clock time.
    pub kind: PunctuationType,
    /// The stream time or wall-clock time it fires at.
    pub timestamp: i64,
}

/// A record given to [`Processor::process`].
#[derive(Debug)]
pub struct Record<'a, K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// The record's timestamp.
    pub timestamp: i64,
    /// The record's headers.
    pub headers: &'a Headers,
}

/// A user processor. One instance per task, made by the factory given to
/// `process(..)`; `init` runs before its first record or punctuation.
pub trait Processor: Send + 'static {
    /// Input key type.
    type KeyIn;
    /// Input value type.
    type ValueIn;
    /// Output key type.
    type KeyOut;
    /// Output value type.
    type ValueOut;

    /// Called once per task before anything else: schedule punctuations here.
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Self::KeyOut, Self::ValueOut>) {
        let _ = ctx;
    }

    /// Processes one record.
    fn process(
        &mut self,
        record: Record<'_, Self::KeyIn, Self::ValueIn>,
        ctx: &mut ProcessorContext<'_, Self::KeyOut, Self::ValueOut>,
    ) -> Result<(), ProcessError>;

    /// A scheduled punctuation fires.
    fn punctuate(
        &mut self,
        punctuation: Punctuation,
        ctx: &mut ProcessorContext<'_, Self::KeyOut, Self::ValueOut>,
    ) -> Result<(), ProcessError> {
        let _ = (punctuation, ctx);
        Ok(())
    }
}

/// A record a processor forwarded: key, value, timestamp.
pub type Forwarded<K, V> = (K, V, i64);

/// A store write to log: changelog (index into the plan's internal
/// topics), key, value (`None` deletes), timestamp.
pub type Change = (usize, Vec<u8>, Option<Vec<u8>>, i64);

/// A store a processor is connected to: name, index among the
/// sub-topology's key-value stores, changelog index.
pub type ConnectedStore = (&'static str, usize, usize);

/// One scheduled punctuation (Kafka Streams' `PunctuationSchedule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Schedule {
    id: usize,
    kind: PunctuationType,
    interval: i64,
    next: i64,
}

/// A processor's scheduled punctuations.
#[derive(Debug, Clone, Default)]
pub struct Schedules {
    list: Vec<Schedule>,
    /// Ids are never reused, also after a cancellation.
    next_id: usize,
}

impl Schedules {
    fn add(&mut self, kind: PunctuationType, interval: i64, wall_clock_ms: i64) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        let next = match kind {
            // Aligned to 0: fires as soon as there is data.
            PunctuationType::StreamTime => 0,
            PunctuationType::WallClockTime => wall_clock_ms.saturating_add(interval),
        };
        self.list.push(Schedule {
            id,
            kind,
            interval: interval.max(1),
            next,
        });
        id
    }

    /// Removes punctuation `id`; false if there is none (any more).
    fn cancel(&mut self, id: usize) -> bool {
        let before = self.list.len();
        self.list.retain(|s| s.id != id);
        self.list.len() != before
    }

    /// Takes the next punctuation of `kind` due at `now` (earliest first,
    /// then in scheduling order) and schedules its next one, skipping
    /// missed intervals (Kafka Streams' `PunctuationSchedule.next`).
    pub fn next_due(&mut self, kind: PunctuationType, now: i64) -> Option<Punctuation> {
        let s = self
            .list
            .iter_mut()
            .filter(|s| s.kind == kind && s.next <= now)
            .min_by_key(|s| s.next)?;
        let mut next = s.next + s.interval;
        if now >= next {
            let missed = (now - s.next) / s.interval;
            next = s.next + (missed + 1) * s.interval;
        }
        s.next = next;
        Some(Punctuation {
            id: s.id,
            kind,
            timestamp: now,
        })
    }

    /// Whether any punctuation is scheduled.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// The metadata of the record being processed (none for a punctuation).
#[derive(Debug, Clone, Copy)]
pub struct Current<'r> {
    /// Its timestamp (the punctuation's time during a punctuation).
    pub timestamp: i64,
    /// Its topic ("" during a punctuation).
    pub topic: &'r str,
    /// Its partition (-1 during a punctuation).
    pub partition: i32,
    /// Its offset (-1 during a punctuation).
    pub offset: i64,
}

impl<'r> From<&RecordContext<'r>> for Current<'r> {
    fn from(c: &RecordContext<'r>) -> Self {
        Current {
            timestamp: c.timestamp,
            topic: c.topic,
            partition: c.partition,
            offset: c.offset,
        }
    }
}

/// What a processor can do while processing a record or a punctuation.
pub struct ProcessorContext<'a, KO, VO> {
    forwarded: &'a mut Vec<Forwarded<KO, VO>>,
    stores: &'a mut [KvStore],
    connected: &'static [ConnectedStore],
    changes: &'a mut Vec<Change>,
    schedules: &'a mut Schedules,
    current: Current<'a>,
    stream_time: i64,
    wall_clock_ms: i64,
}

impl<'a, KO, VO> ProcessorContext<'a, KO, VO> {
    /// A context (generated code makes these).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        forwarded: &'a mut Vec<Forwarded<KO, VO>>,
        stores: &'a mut [KvStore],
        connected: &'static [ConnectedStore],
        changes: &'a mut Vec<Change>,
        schedules: &'a mut Schedules,
        current: Current<'a>,
        stream_time: i64,
        wall_clock_ms: i64,
    ) -> Self {
        ProcessorContext {
            forwarded,
            stores,
            connected,
            changes,
            schedules,
            current,
            stream_time,
            wall_clock_ms,
        }
    }

    /// Forwards a record downstream with the current record's timestamp
    /// (the punctuation's time in a punctuation) and headers.
    pub fn forward(&mut self, key: KO, value: VO) {
        self.forwarded.push((key, value, self.current.timestamp));
    }

    /// Forwards a record with timestamp `timestamp`.
    pub fn forward_with_timestamp(&mut self, key: KO, value: VO, timestamp: i64) {
        self.forwarded.push((key, value, timestamp));
    }

    /// Schedules a punctuation every `interval` of stream or wall-clock
    /// time; returns its id (see [`Punctuation::id`]).
    pub fn schedule(&mut self, interval: Duration, kind: PunctuationType) -> usize {
        let ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        self.schedules.add(kind, ms, self.wall_clock_ms)
    }

    /// Cancels punctuation `id` (what [`ProcessorContext::schedule`]
    /// returned), also from within its own `punctuate`: Kafka Streams'
    /// `Cancellable.cancel()`. Returns false if it was not scheduled.
    pub fn cancel(&mut self, id: usize) -> bool {
        self.schedules.cancel(id)
    }

    /// The key-value store `name`, which the processor must be connected to
    /// (`process(factory, "name")`), typed.
    pub fn key_value_store<K: Serde, V: Serde>(
        &mut self,
        name: &str,
    ) -> Result<KeyValueStoreRef<'_, K, V>, ProcessError> {
        let Some(&(store_name, index, changelog)) =
            self.connected.iter().find(|(n, _, _)| *n == name)
        else {
            return Err(ProcessError::Store {
                store: name.to_owned(),
                reason: format!(
                    "the processor is not connected to it; connected: {:?}",
                    self.connected.iter().map(|c| c.0).collect::<Vec<_>>()
                ),
            });
        };
        let store = self
            .stores
            .get_mut(index)
            .ok_or_else(|| ProcessError::Store {
                store: store_name.to_owned(),
                reason: "not open (the task was not initialised)".into(),
            })?;
        Ok(KeyValueStoreRef {
            name: store_name,
            store,
            changelog,
            changes: self.changes,
            timestamp: self.current.timestamp,
            types: PhantomData,
        })
    }

    /// The current record's timestamp (the punctuation's time in a punctuation).
    pub fn timestamp(&self) -> i64 {
        self.current.timestamp
    }

    /// The current record's topic ("" in a punctuation).
    pub fn topic(&self) -> &str {
        self.current.topic
    }

    /// The current record's partition (-1 in a punctuation).
    pub fn partition(&self) -> i32 {
        self.current.partition
    }

    /// The current record's offset (-1 in a punctuation).
    pub fn offset(&self) -> i64 {
        self.current.offset
    }

    /// The task's stream time (Kafka Streams' `currentStreamTimeMs`).
    pub fn current_stream_time_ms(&self) -> i64 {
        self.stream_time
    }

    /// The wall-clock time (the test driver's mock clock under test).
    pub fn current_system_time_ms(&self) -> i64 {
        self.wall_clock_ms
    }
}

/// A typed view of a connected key-value store. Values are kept with the
/// timestamp of the record being processed (Kafka Streams' timestamped
/// format); every write is logged to the store's changelog.
pub struct KeyValueStoreRef<'s, K, V> {
    name: &'static str,
    store: &'s mut KvStore,
    changelog: usize,
    changes: &'s mut Vec<Change>,
    timestamp: i64,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K: Serde, V: Serde> KeyValueStoreRef<'_, K, V> {
    fn error(&self, reason: impl std::fmt::Display) -> ProcessError {
        crate::__private::store_error(self.name, reason)
    }

    fn key_bytes(&self, key: &K) -> Result<Vec<u8>, ProcessError> {
        match crate::serde::to_bytes(key) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(self.error("a store key cannot be null")),
            Err(e) => Err(self.error(format!("cannot serialize a key: {e}"))),
        }
    }

    fn decode(&self, bytes: &[u8]) -> Result<V, ProcessError> {
        let (_, value) = crate::__private::split_timestamped(bytes)
            .ok_or_else(|| self.error("an entry without a timestamp"))?;
        V::deserialize(Some(value))
            .map_err(|e| self.error(format!("cannot deserialize a value: {e}")))
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Result<Option<V>, ProcessError> {
        let key = self.key_bytes(key)?;
        match self.store.get(&key).map_err(|e| self.error(e))? {
            Some(bytes) => self.decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Sets `key` to `value` (a null value deletes).
    pub fn put(&mut self, key: &K, value: &V) -> Result<(), ProcessError> {
        let key = self.key_bytes(key)?;
        let plain = crate::serde::to_bytes(value)
            .map_err(|e| self.error(format!("cannot serialize a value: {e}")))?;
        match &plain {
            Some(v) => {
                let mut bytes = Vec::with_capacity(8 + v.len());
                bytes.extend_from_slice(&self.timestamp.to_be_bytes());
                bytes.extend_from_slice(v);
                self.store.put(&key, &bytes).map_err(|e| self.error(e))?;
            }
            None => {
                self.store.delete(&key).map_err(|e| self.error(e))?;
            }
        }
        self.changes
            .push((self.changelog, key, plain, self.timestamp));
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub fn delete(&mut self, key: &K) -> Result<Option<V>, ProcessError> {
        let key = self.key_bytes(key)?;
        let old = self.store.delete(&key).map_err(|e| self.error(e))?;
        self.changes
            .push((self.changelog, key, None, self.timestamp));
        old.map(|b| self.decode(&b)).transpose()
    }

    /// Every entry, in key-bytes order.
    pub fn all(&self) -> Result<Vec<(K, V)>, ProcessError> {
        self.store
            .all()
            .map_err(|e| self.error(e))?
            .into_iter()
            .map(|(k, v)| {
                let key = K::deserialize(Some(&k))
                    .map_err(|e| self.error(format!("cannot deserialize a key: {e}")))?;
                Ok((key, self.decode(&v)?))
            })
            .collect()
    }

    /// Approximate number of entries.
    pub fn approximate_num_entries(&self) -> Result<u64, ProcessError> {
        self.store
            .approximate_num_entries()
            .map_err(|e| self.error(e))
    }
}

/// Sends the logged store writes to their changelogs (no headers), in order.
pub fn send_changes<C: crate::topology::RecordCollector>(
    changes: &mut Vec<Change>,
    ctx: &RecordContext<'_>,
    out: &mut C,
) -> Result<(), ProcessError> {
    for (changelog, key, value, timestamp) in changes.drain(..) {
        let logged = RecordContext {
            timestamp,
            headers: &crate::__private::NO_HEADERS,
            ..*ctx
        };
        out.send(
            crate::topology::SinkTopic::Internal(changelog),
            Some(&key),
            value.as_deref(),
            &logged,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_time_punctuations_align_to_the_interval_and_skip_missed_ones() {
        let mut s = Schedules::default();
        let id = s.add(PunctuationType::StreamTime, 10, 0);
        // As soon as there is data.
        assert_eq!(
            s.next_due(PunctuationType::StreamTime, 3)
                .map(|p| (p.id, p.timestamp)),
            Some((id, 3))
        );
        assert_eq!(s.next_due(PunctuationType::StreamTime, 9), None);
        assert!(s.next_due(PunctuationType::StreamTime, 10).is_some());
        // Stream time jumps to 47: one punctuation, the next at 50.
        assert!(s.next_due(PunctuationType::StreamTime, 47).is_some());
        assert_eq!(s.next_due(PunctuationType::StreamTime, 49), None);
        assert!(s.next_due(PunctuationType::StreamTime, 50).is_some());
        assert_eq!(s.next_due(PunctuationType::WallClockTime, 1_000), None);
    }

    #[test]
    fn wall_clock_punctuations_start_one_interval_after_scheduling() {
        let mut s = Schedules::default();
        s.add(PunctuationType::WallClockTime, 100, 1_000);
        assert_eq!(s.next_due(PunctuationType::WallClockTime, 1_099), None);
        assert!(s.next_due(PunctuationType::WallClockTime, 1_100).is_some());
        assert!(s.next_due(PunctuationType::WallClockTime, 1_150).is_none());
    }
}

/// A record given to a [`FixedKeyProcessor`]: its key cannot be changed,
/// only its value and timestamp (Kafka Streams' `FixedKeyRecord`). A
/// processor forwards it (or a copy it kept) with
/// [`FixedKeyProcessorContext::forward`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedKeyRecord<K, V> {
    key: K,
    value: V,
    timestamp: i64,
}

impl<K, V> FixedKeyRecord<K, V> {
    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The value.
    pub fn value(&self) -> &V {
        &self.value
    }

    /// The timestamp.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The same key and timestamp with another value.
    pub fn with_value<V2>(self, value: V2) -> FixedKeyRecord<K, V2> {
        FixedKeyRecord {
            key: self.key,
            value,
            timestamp: self.timestamp,
        }
    }

    /// The same key and value with another timestamp.
    pub fn with_timestamp(self, timestamp: i64) -> Self {
        FixedKeyRecord { timestamp, ..self }
    }

    /// The value, taken.
    pub fn into_value(self) -> V {
        self.value
    }

    /// A record (generated code makes these from the input record).
    #[doc(hidden)]
    pub fn new(key: K, value: V, timestamp: i64) -> Self {
        FixedKeyRecord {
            key,
            value,
            timestamp,
        }
    }
}

/// A processor that keeps each record's key (Kafka Streams'
/// `FixedKeyProcessor`, run by `process_values`): a key-preserving step,
/// so an aggregation after it needs no repartition.
pub trait FixedKeyProcessor: Send + 'static {
    /// The key type (in and out).
    type Key;
    /// Input value type.
    type ValueIn;
    /// Output value type.
    type ValueOut;

    /// Called once per task before anything else.
    fn init(&mut self, ctx: &mut FixedKeyProcessorContext<'_, Self::Key, Self::ValueOut>) {
        let _ = ctx;
    }

    /// Processes one record.
    fn process(
        &mut self,
        record: FixedKeyRecord<Self::Key, Self::ValueIn>,
        ctx: &mut FixedKeyProcessorContext<'_, Self::Key, Self::ValueOut>,
    ) -> Result<(), ProcessError>;

    /// A scheduled punctuation fires.
    fn punctuate(
        &mut self,
        punctuation: Punctuation,
        ctx: &mut FixedKeyProcessorContext<'_, Self::Key, Self::ValueOut>,
    ) -> Result<(), ProcessError> {
        let _ = (punctuation, ctx);
        Ok(())
    }
}

/// What a [`FixedKeyProcessor`] can do: [`ProcessorContext`]'s stores,
/// schedules and record metadata, but it forwards only [`FixedKeyRecord`]s.
pub struct FixedKeyProcessorContext<'a, K, VO>(pub(crate) ProcessorContext<'a, K, VO>);

impl<'a, K, VO> FixedKeyProcessorContext<'a, K, VO> {
    /// A context (generated code makes these).
    #[doc(hidden)]
    pub fn wrap(inner: ProcessorContext<'a, K, VO>) -> Self {
        FixedKeyProcessorContext(inner)
    }

    /// Forwards a record downstream, with its own timestamp.
    pub fn forward(&mut self, record: FixedKeyRecord<K, VO>) {
        self.0
            .forward_with_timestamp(record.key, record.value, record.timestamp);
    }

    /// Schedules a punctuation (see [`ProcessorContext::schedule`]).
    pub fn schedule(&mut self, interval: Duration, kind: PunctuationType) -> usize {
        self.0.schedule(interval, kind)
    }

    /// Cancels a punctuation (see [`ProcessorContext::cancel`]).
    pub fn cancel(&mut self, id: usize) -> bool {
        self.0.cancel(id)
    }

    /// A connected key-value store (see [`ProcessorContext::key_value_store`]).
    pub fn key_value_store<SK: Serde, SV: Serde>(
        &mut self,
        name: &str,
    ) -> Result<KeyValueStoreRef<'_, SK, SV>, ProcessError> {
        self.0.key_value_store(name)
    }

    /// The current record's timestamp (the punctuation's time in a punctuation).
    pub fn timestamp(&self) -> i64 {
        self.0.timestamp()
    }

    /// The current record's topic ("" in a punctuation).
    pub fn topic(&self) -> &str {
        self.0.topic()
    }

    /// The current record's partition (-1 in a punctuation).
    pub fn partition(&self) -> i32 {
        self.0.partition()
    }

    /// The current record's offset (-1 in a punctuation).
    pub fn offset(&self) -> i64 {
        self.0.offset()
    }

    /// The task's stream time.
    pub fn current_stream_time_ms(&self) -> i64 {
        self.0.current_stream_time_ms()
    }

    /// The wall-clock time.
    pub fn current_system_time_ms(&self) -> i64 {
        self.0.current_system_time_ms()
    }
}

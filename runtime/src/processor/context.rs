//! What a user processor sees while it runs: [`ProcessorContext`] (and
//! [`FixedKeyProcessorContext`]), typed views of its stores, and the record
//! it is processing.

use super::punctuation::Schedules;
use super::{FixedKeyRecord, PunctuationType};
use crate::error::{store_error, ProcessError};
use crate::format::timestamped::split_timestamped;
use crate::record::{Headers, RecordContext};
use crate::serde::Serde;
use crate::store::{KeyValueStore, KvStore, TaskStores};
use crate::topology::{Change, RecordCollector, SinkTopic};
use std::marker::PhantomData;
use std::time::Duration;

/// No headers: changelog records carry none, as in Kafka Streams.
static NO_HEADERS: Headers = Headers::new();

/// A record a processor forwarded: key, value, timestamp.
pub type Forwarded<K, V> = (K, V, i64);

/// A store a processor is connected to: name, index among the
/// sub-topology's stores, changelog index.
pub type ConnectedStore = (&'static str, usize, usize);

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
    stores: &'a mut TaskStores,
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
        stores: &'a mut TaskStores,
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
        let store = self.stores.kv_mut(index, store_name)?;
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
        store_error(self.name, reason)
    }

    fn key_bytes(&self, key: &K) -> Result<Vec<u8>, ProcessError> {
        match crate::serde::to_bytes(key) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(self.error("a store key cannot be null")),
            Err(e) => Err(self.error(format!("cannot serialize a key: {e}"))),
        }
    }

    fn decode(&self, bytes: &[u8]) -> Result<V, ProcessError> {
        let (_, value) =
            split_timestamped(bytes).ok_or_else(|| self.error("an entry without a timestamp"))?;
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
pub fn send_changes<C: RecordCollector>(
    changes: &mut Vec<Change>,
    ctx: &RecordContext<'_>,
    out: &mut C,
) -> Result<(), ProcessError> {
    for (changelog, key, value, timestamp) in changes.drain(..) {
        let logged = RecordContext {
            timestamp,
            headers: &NO_HEADERS,
            ..*ctx
        };
        out.send(
            SinkTopic::Internal(changelog),
            Some(&key),
            value.as_deref(),
            &logged,
        )?;
    }
    Ok(())
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

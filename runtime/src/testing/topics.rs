//! The driver's topics: [`TestInputTopic`] pipes records in,
//! [`TestOutputTopic`] reads what the topology sent: Kafka Streams'
//! `TestInputTopic` and `TestOutputTopic`.

use super::driver::{duration_ms, DriverAccess, RawRecord};
use super::test_record::TestRecord;
use crate::record::Headers;
use crate::serde::Serde;
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::time::Duration;

fn serialize_or_panic<X: Serde>(x: &X, part: &str, topic: &str) -> Option<Vec<u8>> {
    crate::serde::to_bytes(x)
        .unwrap_or_else(|e| panic!("cannot serialize {part} for input topic {topic}: {e}"))
}

/// Pipes records into one topic of a [`TopologyTestDriver`]: Kafka Streams'
/// `TestInputTopic`. Keys and values are serialised with their [`Serde`]
/// impls; each `pipe_*` call returns once the record and everything it caused
/// has been processed.
pub struct TestInputTopic<'a, K, V> {
    pub(super) driver: &'a dyn DriverAccess,
    pub(super) topic: String,
    pub(super) current_time_ms: Cell<i64>,
    pub(super) auto_advance_ms: i64,
    pub(super) _types: PhantomData<fn(K, V)>,
}

impl<K, V> fmt::Debug for TestInputTopic<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestInputTopic")
            .field("topic", &self.topic)
            .field("current_time_ms", &self.current_time_ms.get())
            .field("auto_advance_ms", &self.auto_advance_ms)
            .finish()
    }
}

impl<K: Serde, V: Serde> TestInputTopic<'_, K, V> {
    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.topic
    }

    /// The timestamp the next record without one will get.
    pub fn current_time_ms(&self) -> i64 {
        self.current_time_ms.get()
    }

    /// Advances the topic's time by `advance`.
    pub fn advance_time(&self, advance: Duration) {
        self.current_time_ms.set(
            self.current_time_ms
                .get()
                .saturating_add(duration_ms(advance)),
        );
    }

    /// The current time, then auto-advance.
    fn take_time(&self) -> i64 {
        let now = self.current_time_ms.get();
        self.current_time_ms
            .set(now.saturating_add(self.auto_advance_ms));
        now
    }

    fn pipe_bytes(
        &self,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        timestamp: i64,
        headers: Headers,
    ) {
        self.driver.pipe_raw(RawRecord {
            topic: self.topic.clone(),
            key,
            value,
            timestamp,
            headers,
        });
    }

    /// Pipes a record, at the topic's current time.
    pub fn pipe_input(&self, key: K, value: V) {
        let timestamp = self.take_time();
        self.pipe_input_with_timestamp(key, value, timestamp);
    }

    /// Pipes a record with a timestamp (ms since the epoch); the topic's time
    /// does not change.
    pub fn pipe_input_with_timestamp(&self, key: K, value: V, timestamp_ms: i64) {
        let k = serialize_or_panic(&key, "key", &self.topic);
        let v = serialize_or_panic(&value, "value", &self.topic);
        self.pipe_bytes(k, v, timestamp_ms, Headers::new());
    }

    /// Pipes a value with a null key (whatever `K` is), at the topic's
    /// current time.
    pub fn pipe_value(&self, value: V) {
        let timestamp = self.take_time();
        self.pipe_value_with_timestamp(value, timestamp);
    }

    /// Pipes a value with a null key and a timestamp (ms since the epoch).
    pub fn pipe_value_with_timestamp(&self, value: V, timestamp_ms: i64) {
        let v = serialize_or_panic(&value, "value", &self.topic);
        self.pipe_bytes(None, v, timestamp_ms, Headers::new());
    }

    /// Pipes a record with its headers; one without a timestamp of its own
    /// ([`TestRecord::NO_TIMESTAMP`]) gets the topic's current time.
    pub fn pipe_record(&self, record: TestRecord<K, V>) {
        let timestamp = if record.has_timestamp() {
            record.timestamp
        } else {
            self.take_time()
        };
        let k = serialize_or_panic(&record.key, "key", &self.topic);
        let v = serialize_or_panic(&record.value, "value", &self.topic);
        self.pipe_bytes(k, v, timestamp, record.headers);
    }

    /// Pipes records in order, each at the topic's current time.
    pub fn pipe_key_value_list(&self, records: Vec<(K, V)>) {
        for (key, value) in records {
            self.pipe_input(key, value);
        }
    }

    /// Pipes records in order, the first at `start_timestamp_ms`, each next
    /// one `advance` later; the topic's time does not change.
    pub fn pipe_key_value_list_with_time(
        &self,
        records: Vec<(K, V)>,
        start_timestamp_ms: i64,
        advance: Duration,
    ) {
        let step = duration_ms(advance);
        let mut timestamp = start_timestamp_ms;
        for (key, value) in records {
            self.pipe_input_with_timestamp(key, value, timestamp);
            timestamp = timestamp.saturating_add(step);
        }
    }

    /// Pipes values with null keys, in order, each at the topic's current time.
    pub fn pipe_value_list(&self, values: Vec<V>) {
        for value in values {
            self.pipe_value(value);
        }
    }

    /// Pipes values with null keys, the first at `start_timestamp_ms`, each
    /// next one `advance` later; the topic's time does not change.
    pub fn pipe_value_list_with_time(
        &self,
        values: Vec<V>,
        start_timestamp_ms: i64,
        advance: Duration,
    ) {
        let step = duration_ms(advance);
        let mut timestamp = start_timestamp_ms;
        for value in values {
            self.pipe_value_with_timestamp(value, timestamp);
            timestamp = timestamp.saturating_add(step);
        }
    }

    /// Pipes records in order, as [`TestInputTopic::pipe_record`].
    pub fn pipe_record_list(&self, records: Vec<TestRecord<K, V>>) {
        for record in records {
            self.pipe_record(record);
        }
    }
}

/// Reads what the topology sent to one topic of a [`TopologyTestDriver`]:
/// Kafka Streams' `TestOutputTopic`. Records are read in send order and
/// deserialised with `K`'s and `V`'s [`Serde`] impls; a failure panics with
/// the error. Reading from an empty topic panics with `Empty topic: <name>`.
pub struct TestOutputTopic<'a, K, V> {
    pub(super) driver: &'a dyn DriverAccess,
    pub(super) topic: String,
    pub(super) _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> fmt::Debug for TestOutputTopic<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestOutputTopic")
            .field("topic", &self.topic)
            .field("queue_size", &self.driver.output_len(&self.topic))
            .finish()
    }
}

impl<K: Serde, V: Serde> TestOutputTopic<'_, K, V> {
    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.topic
    }

    fn pop(&self) -> RawRecord {
        match self.driver.pop_output(&self.topic) {
            Some(record) => record,
            None => panic!("Empty topic: {}", self.topic),
        }
    }

    fn decode<X: Serde>(&self, bytes: Option<&[u8]>, part: &str) -> X {
        X::deserialize(bytes).unwrap_or_else(|e| {
            panic!(
                "cannot deserialize {part} of a record read from output topic {}: {e}",
                self.topic
            )
        })
    }

    /// Reads the next record's value.
    pub fn read_value(&self) -> V {
        let record = self.pop();
        self.decode(record.value.as_deref(), "value")
    }

    /// Reads the next record's key and value.
    pub fn read_key_value(&self) -> (K, V) {
        let record = self.pop();
        (
            self.decode(record.key.as_deref(), "key"),
            self.decode(record.value.as_deref(), "value"),
        )
    }

    /// Reads the next record, with its timestamp and headers.
    pub fn read_record(&self) -> TestRecord<K, V> {
        let record = self.pop();
        TestRecord {
            key: self.decode(record.key.as_deref(), "key"),
            value: self.decode(record.value.as_deref(), "value"),
            timestamp: record.timestamp,
            headers: record.headers,
        }
    }

    /// Reads every remaining value, in order.
    pub fn read_values_to_list(&self) -> Vec<V> {
        std::iter::from_fn(|| (!self.is_empty()).then(|| self.read_value())).collect()
    }

    /// Reads every remaining key and value, in order.
    pub fn read_key_values_to_list(&self) -> Vec<(K, V)> {
        std::iter::from_fn(|| (!self.is_empty()).then(|| self.read_key_value())).collect()
    }

    /// Reads every remaining record, in order.
    pub fn read_records_to_list(&self) -> Vec<TestRecord<K, V>> {
        std::iter::from_fn(|| (!self.is_empty()).then(|| self.read_record())).collect()
    }

    /// Reads every remaining record into a map, the last value per key
    /// winning (a table's latest state, as Kafka Streams' `readKeyValuesToMap`).
    pub fn read_key_values_to_map(&self) -> HashMap<K, V>
    where
        K: Eq + Hash,
    {
        self.read_key_values_to_list().into_iter().collect()
    }

    /// True when every record sent so far has been read.
    pub fn is_empty(&self) -> bool {
        self.queue_size() == 0
    }

    /// Records sent and not yet read.
    pub fn queue_size(&self) -> usize {
        self.driver.output_len(&self.topic)
    }
}

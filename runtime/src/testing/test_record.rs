//! [`TestRecord`]: a key, a value, a timestamp and headers, as piped into or
//! read out of a [`TopologyTestDriver`](super::TopologyTestDriver). Kafka
//! Streams' `org.apache.kafka.streams.test.TestRecord`.

use crate::record::Headers;

/// One record in a test, deserialised: Kafka Streams' `TestRecord`.
///
/// A record built with [`TestRecord::new`] or [`TestRecord::with_headers`]
/// has no timestamp of its own ([`TestRecord::NO_TIMESTAMP`]); piped with
/// [`TestInputTopic::pipe_record`](super::TestInputTopic::pipe_record) it
/// takes the input topic's current time, as in Kafka Streams. Records read
/// from an output topic always carry the timestamp they were produced with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TestRecord<K, V> {
    /// The key (a null key is `None` of an `Option` key type, or `()`).
    pub key: K,
    /// The value.
    pub value: V,
    /// Milliseconds since the epoch, or [`TestRecord::NO_TIMESTAMP`].
    pub timestamp: i64,
    /// Record headers, in order.
    pub headers: Headers,
}

impl<K, V> TestRecord<K, V> {
    /// "No timestamp" (Kafka's `RecordBatch.NO_TIMESTAMP`): when piped, the
    /// record takes its input topic's current time.
    pub const NO_TIMESTAMP: i64 = -1;

    /// A record without timestamp or headers.
    pub fn new(key: K, value: V) -> Self {
        TestRecord {
            key,
            value,
            timestamp: Self::NO_TIMESTAMP,
            headers: Headers::new(),
        }
    }

    /// A record with a timestamp (ms since the epoch) and no headers.
    pub fn with_timestamp(key: K, value: V, timestamp: i64) -> Self {
        TestRecord {
            key,
            value,
            timestamp,
            headers: Headers::new(),
        }
    }

    /// A record with headers and no timestamp of its own.
    pub fn with_headers(key: K, value: V, headers: Headers) -> Self {
        TestRecord {
            key,
            value,
            timestamp: Self::NO_TIMESTAMP,
            headers,
        }
    }

    /// A record with headers and a timestamp (ms since the epoch).
    pub fn with_headers_and_timestamp(key: K, value: V, headers: Headers, timestamp: i64) -> Self {
        TestRecord {
            key,
            value,
            timestamp,
            headers,
        }
    }

    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The value.
    pub fn value(&self) -> &V {
        &self.value
    }

    /// The timestamp, ms since the epoch ([`TestRecord::NO_TIMESTAMP`] if unset).
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Whether the record has a timestamp of its own.
    pub fn has_timestamp(&self) -> bool {
        self.timestamp != Self::NO_TIMESTAMP
    }

    /// Key and value, consuming the record.
    pub fn into_key_value(self) -> (K, V) {
        (self.key, self.value)
    }
}

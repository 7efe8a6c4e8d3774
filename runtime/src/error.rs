//! Errors from processing records.

use crate::serde::SerdeError;

/// Which half of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordPart {
    /// The key.
    Key,
    /// The value.
    Value,
}

impl std::fmt::Display for RecordPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecordPart::Key => "key",
            RecordPart::Value => "value",
        })
    }
}

/// Why a record could not be processed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProcessError {
    /// Input bytes that do not decode; goes to the deserialization handler.
    #[error("cannot deserialize {part} of record {topic}-{partition}@{offset}: {source}")]
    Deserialization {
        /// Source topic.
        topic: String,
        /// Source partition.
        partition: i32,
        /// Source offset.
        offset: i64,
        /// Key or value.
        part: RecordPart,
        /// The serde's error.
        source: SerdeError,
    },
    /// A produced key or value that does not encode.
    #[error("cannot serialize {part} for sink `{sink}`: {source}")]
    Serialization {
        /// Sink node.
        sink: &'static str,
        /// Key or value.
        part: RecordPart,
        /// The serde's error.
        source: SerdeError,
    },
    /// The collector could not take a record (producer failure).
    #[error("cannot send record to `{topic}`: {reason}")]
    Send {
        /// Destination topic.
        topic: String,
        /// What went wrong.
        reason: String,
    },
    /// A state store failed, or holds bytes its serde cannot read.
    #[error("state store `{store}`: {reason}")]
    Store {
        /// Store name.
        store: String,
        /// What went wrong.
        reason: String,
    },
    /// A negative record timestamp under `FailOnInvalidTimestamp` (or
    /// `UsePartitionTimeOnInvalidTimestamp` with no partition time yet).
    #[error(
        "record {topic}-{partition}@{offset} has an invalid (negative) timestamp {timestamp}: \
             set default.timestamp.extractor to LogAndSkipOnInvalidTimestamp or \
             UsePartitionTimeOnInvalidTimestamp to process such data"
    )]
    InvalidTimestamp {
        /// Source topic.
        topic: String,
        /// Source partition.
        partition: i32,
        /// Source offset.
        offset: i64,
        /// The timestamp.
        timestamp: i64,
    },
    /// A topology's own timestamp extractor returned a negative timestamp:
    /// the record is skipped (and counted), as Kafka Streams skips it.
    #[error("the timestamp extractor of `{source_name}` returned {timestamp} for record {topic}-{partition}@{offset}")]
    NegativeExtractedTimestamp {
        /// The source node.
        source_name: &'static str,
        /// Source topic.
        topic: String,
        /// Source partition.
        partition: i32,
        /// Source offset.
        offset: i64,
        /// What the extractor returned.
        timestamp: i64,
    },
    /// A `suppress` buffer configured with `shut_down_when_full` is full.
    #[error("suppression buffer of `{processor}` is full (shut_down_when_full)")]
    BufferFull {
        /// The suppress processor.
        processor: &'static str,
    },
    /// A sub-topology or source index the topology does not have.
    #[error("topology has no sub-topology {sub} with source {source_index}")]
    NoSuchSource {
        /// Sub-topology asked for.
        sub: usize,
        /// Source index asked for.
        source_index: usize,
    },
}

/// A store failure of store `store` (corrupt bytes, a backend error, a
/// store that was not opened).
#[cold]
pub fn store_error(store: &str, reason: impl std::fmt::Display) -> ProcessError {
    ProcessError::Store {
        store: store.to_owned(),
        reason: reason.to_string(),
    }
}

/// The source index was not one of the sub-topology's.
#[cold]
pub fn no_such_source(sub: usize, source_index: usize) -> ProcessError {
    ProcessError::NoSuchSource { sub, source_index }
}

/// A topology's timestamp extractor returned a negative timestamp.
#[cold]
pub fn negative_timestamp(
    source_name: &'static str,
    ctx: &crate::record::RecordContext<'_>,
    timestamp: i64,
) -> ProcessError {
    ProcessError::NegativeExtractedTimestamp {
        source_name,
        topic: ctx.topic.to_owned(),
        partition: ctx.partition,
        offset: ctx.offset,
        timestamp,
    }
}

//! A record's key and value: decoded from the bytes a source read, encoded
//! into reused buffers for a sink. Errors carry the record's coordinates.

use crate::error::{ProcessError, RecordPart};
use crate::record::SourceRecord;
use crate::serde::{Serde, SerdeError};

/// Decodes a source record's key; errors carry the record's coordinates.
#[inline(always)]
pub fn key<K: Serde>(record: &SourceRecord<'_>) -> Result<K, ProcessError> {
    K::deserialize(record.key).map_err(|e| deser_error(record, RecordPart::Key, e))
}

/// Decodes a source record's value.
#[inline(always)]
pub fn value<V: Serde>(record: &SourceRecord<'_>) -> Result<V, ProcessError> {
    V::deserialize(record.value).map_err(|e| deser_error(record, RecordPart::Value, e))
}

/// The deserialization error of `record`'s `part`.
#[cold]
pub fn deser_error(
    record: &SourceRecord<'_>,
    part: RecordPart,
    source: SerdeError,
) -> ProcessError {
    ProcessError::Deserialization {
        topic: record.context.topic.to_owned(),
        partition: record.context.partition,
        offset: record.context.offset,
        part,
        source,
    }
}

/// Serialises into a reused buffer; `None` for null.
#[inline(always)]
pub fn ser<'b, T: Serde>(
    value: &T,
    buf: &'b mut Vec<u8>,
    sink: &'static str,
    part: RecordPart,
) -> Result<Option<&'b [u8]>, ProcessError> {
    buf.clear();
    match value.serialize(buf) {
        Ok(true) => Ok(Some(&buf[..])),
        Ok(false) => Ok(None),
        Err(source) => Err(ProcessError::Serialization { sink, part, source }),
    }
}

/// Whether two values serialise to the same bytes (Kafka Streams compares
/// keys with `equals`; for serialised data, byte equality).
pub fn same_bytes<T: Serde>(a: &T, b: &T) -> bool {
    match (crate::serde::to_bytes(a), crate::serde::to_bytes(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

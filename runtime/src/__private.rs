//! Items that generated code names through `::weir::__private`. Not a stable
//! API for users; the emitted code's only door into the runtime.

pub use crate::error::{ProcessError, RecordPart};
pub use crate::record::{RecordContext, SourceRecord};
pub use crate::serde::Serde;
pub use crate::topology::{
    InternalTopic, Plan, RecordCollector, SinkTopic, SourcePlan, SubTopology, SubTopologyPlan,
    TopicRef, Topology,
};
pub use core::marker::PhantomData;

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

#[cold]
fn deser_error(
    record: &SourceRecord<'_>,
    part: RecordPart,
    source: crate::serde::SerdeError,
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

/// The source index was not one of the sub-topology's.
#[cold]
pub fn no_such_source(sub: usize, source_index: usize) -> ProcessError {
    ProcessError::NoSuchSource { sub, source_index }
}

/// What a `#[topology]` function that failed to compile returns: uninhabited.
#[derive(Clone, Copy)]
pub enum Uncompiled {}

impl Topology for Uncompiled {
    fn plan(&self) -> &'static Plan {
        match *self {}
    }
    fn process<C: RecordCollector>(
        &mut self,
        _sub: usize,
        _source: usize,
        _record: SourceRecord<'_>,
        _out: &mut C,
    ) -> Result<(), ProcessError> {
        match *self {}
    }
}

//! Items that generated code names through `::weir::__private`. Not a stable
//! API for users; the emitted code's only door into the runtime.

pub use crate::error::{ProcessError, RecordPart};
pub use crate::record::{RecordContext, SourceRecord};
pub use crate::serde::{Serde, SerdeError};
pub use crate::topology::{
    InternalTopic, Plan, RecordCollector, SinkTopic, SourcePlan, SourceRecordCheck, SubTopology,
    SubTopologyPlan, TopicRef, Topology,
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

/// A topology's timestamp extractor returned a negative timestamp.
#[cold]
pub fn negative_timestamp(
    source_name: &'static str,
    ctx: &RecordContext<'_>,
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

/// The source index was not one of the sub-topology's.
#[cold]
pub fn no_such_source(sub: usize, source_index: usize) -> ProcessError {
    ProcessError::NoSuchSource { sub, source_index }
}

pub use crate::record::Headers;
pub use crate::store::{Backend, KeyValueStore, KvStore, StoreError, TaskDirectory};
pub use crate::suppress::{
    log_buffered, restore_buffer, unlog_buffered, Buffered, SuppressBuffer, Suppressed, Suppression,
};
pub use crate::time::{TimeWindows, Window, Windowed};

/// A suppress buffer over its bound: fine under `emit_early_when_full` (the
/// oldest entries go out early), an error under `shut_down_when_full`.
pub fn when_full(config: &Suppressed, processor: &'static str) -> Result<(), ProcessError> {
    match config.buffer.when_full() {
        crate::suppress::WhenFull::EmitEarly => Ok(()),
        crate::suppress::WhenFull::ShutDown => Err(ProcessError::BufferFull { processor }),
    }
}
pub use crate::topology::{InternalTopicKind, StoreKind, StorePlan};

/// No headers: changelog records carry none, as in Kafka Streams.
pub static NO_HEADERS: Headers = Headers::new();

/// Opens sub-topology `sub`'s stores for one task, in plan order. A store
/// pinned with `in_memory()` stays in memory; the others take the
/// configuration's `default.dsl.store` when it is set.
pub fn open_stores(
    plan: &Plan,
    sub: usize,
    dir: &TaskDirectory,
    backend_override: Option<Backend>,
) -> Result<Vec<KvStore>, StoreError> {
    plan.stores
        .iter()
        .filter(|s| s.subtopology == sub && s.kind == StoreKind::KeyValue)
        .map(|s| {
            let backend = match s.backend {
                Backend::InMemory => Backend::InMemory,
                b => backend_override.unwrap_or(b),
            };
            KvStore::open(s.name, backend, dir)
        })
        .collect()
}

#[cold]
pub(crate) fn store_error(store: &str, reason: impl std::fmt::Display) -> ProcessError {
    ProcessError::Store {
        store: store.to_owned(),
        reason: reason.to_string(),
    }
}

/// Splits a timestamped store value, `[timestamp: 8 bytes, big-endian][value]`
/// (Kafka Streams' `ValueAndTimestamp` format).
#[inline]
pub fn split_timestamped(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let (ts, value) = bytes.split_first_chunk::<8>()?;
    Some((i64::from_be_bytes(*ts), value))
}

/// [`split_timestamped`], a store error when the entry has no timestamp.
pub(crate) fn split_stored<'b>(
    name: &str,
    bytes: &'b [u8],
) -> Result<(i64, &'b [u8]), ProcessError> {
    split_timestamped(bytes).ok_or_else(|| {
        store_error(
            name,
            format!("entry of {} bytes has no timestamp", bytes.len()),
        )
    })
}

/// Decodes a timestamped store value into the aggregate and its timestamp.
pub(crate) fn decode_timestamped<A: Serde>(
    name: &str,
    bytes: &[u8],
) -> Result<(A, i64), ProcessError> {
    let (ts, value) = split_stored(name, bytes)?;
    let value = A::deserialize(Some(value))
        .map_err(|e| store_error(name, format!("cannot deserialize a stored value: {e}")))?;
    Ok((value, ts))
}

/// Encodes `[ts][value]` (the timestamped store format) into `scratch`.
fn encode_timestamped<'s>(scratch: &'s mut Vec<u8>, ts: i64, value: &[u8]) -> &'s [u8] {
    scratch.clear();
    scratch.extend_from_slice(&ts.to_be_bytes());
    scratch.extend_from_slice(value);
    scratch
}

/// Reads the aggregate and its timestamp stored under `key`.
#[inline]
pub fn store_get<A: Serde>(
    stores: &[KvStore],
    index: usize,
    name: &'static str,
    key: &[u8],
) -> Result<Option<(A, i64)>, ProcessError> {
    let store = stores
        .get(index)
        .ok_or_else(|| store_error(name, "not open (the task was not initialised)"))?;
    let Some(bytes) = store.get(key).map_err(|e| store_error(name, e))? else {
        return Ok(None);
    };
    decode_timestamped(name, &bytes).map(Some)
}

/// Stores `value` with timestamp `ts` under `key` (`None` deletes).
#[inline]
pub fn store_put(
    stores: &mut [KvStore],
    index: usize,
    name: &'static str,
    key: &[u8],
    ts: i64,
    value: Option<&[u8]>,
    scratch: &mut Vec<u8>,
) -> Result<(), ProcessError> {
    let store = stores
        .get_mut(index)
        .ok_or_else(|| store_error(name, "not open (the task was not initialised)"))?;
    let result = match value {
        Some(v) => store.put(key, encode_timestamped(scratch, ts, v)),
        None => store.delete(key).map(drop),
    };
    result.map_err(|e| store_error(name, e))
}

pub use crate::cached::{
    cached_get, cached_put, cached_window_get, decode_flushed, flushed, sliding_fetch,
    write_flushed, write_flushed_window, written_through, DirtyEntry,
};
pub use crate::config::DEFAULT_CACHE_MAX_BYTES;
pub use crate::processor::{
    send_changes, Change, ConnectedStore, Current, FixedKeyProcessor, FixedKeyProcessorContext,
    FixedKeyRecord, Forwarded, Processor, ProcessorContext, PunctuationType, Record, Schedules,
};
pub use crate::session::{
    closed_sessions, drop_expired_sessions, entry_context, find_sessions, session_key, session_put,
    session_written_through, write_flushed_session, SessionWindows,
};
pub use crate::sliding::{SlidingStep, SlidingWindows};
pub use crate::store::cache::RecordCache;
pub use crate::store::{window_changelog_key, WinStore, WindowStore};

/// Opens sub-topology `sub`'s session stores for one task, in plan order.
pub fn open_session_stores(
    plan: &Plan,
    sub: usize,
    dir: &TaskDirectory,
    backend_override: Option<Backend>,
) -> Result<Vec<KvStore>, StoreError> {
    plan.stores
        .iter()
        .filter(|s| s.subtopology == sub && s.kind == StoreKind::Session)
        .map(|s| {
            let backend = match s.backend {
                Backend::InMemory => Backend::InMemory,
                b => backend_override.unwrap_or(b),
            };
            KvStore::open(s.name, backend, dir)
        })
        .collect()
}

/// Opens sub-topology `sub`'s window stores for one task, in plan order,
/// each with its retention (window size + grace).
pub fn open_window_stores(
    plan: &Plan,
    sub: usize,
    dir: &TaskDirectory,
    backend_override: Option<Backend>,
    retentions: &[i64],
) -> Result<Vec<WinStore>, StoreError> {
    plan.stores
        .iter()
        .filter(|s| s.subtopology == sub && s.kind == StoreKind::Window)
        .zip(retentions)
        .map(|(s, &retention)| {
            let backend = match s.backend {
                Backend::InMemory => Backend::InMemory,
                b => backend_override.unwrap_or(b),
            };
            WinStore::open(s.name, backend, retention, dir)
        })
        .collect()
}

/// Reads the aggregate and its timestamp of `key` in the window starting at `start`.
#[inline]
pub fn window_get<A: Serde>(
    stores: &[WinStore],
    index: usize,
    name: &'static str,
    key: &[u8],
    start: i64,
) -> Result<Option<(A, i64)>, ProcessError> {
    let store = stores
        .get(index)
        .ok_or_else(|| store_error(name, "not open (the task was not initialised)"))?;
    // Decoded in place: no copy of the stored bytes.
    store
        .fetch_with(key, start, |bytes| {
            bytes.map(|b| decode_timestamped(name, b)).transpose()
        })
        .map_err(|e| store_error(name, e))?
}

/// Stores `value` with timestamp `ts` for `key` in the window starting at
/// `start` (`None` deletes).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn window_put(
    stores: &mut [WinStore],
    index: usize,
    name: &'static str,
    key: &[u8],
    start: i64,
    ts: i64,
    value: Option<&[u8]>,
    scratch: &mut Vec<u8>,
) -> Result<(), ProcessError> {
    let store = stores
        .get_mut(index)
        .ok_or_else(|| store_error(name, "not open (the task was not initialised)"))?;
    let value = value.map(|v| encode_timestamped(scratch, ts, v));
    store
        .put(key, start, value)
        .map_err(|e| store_error(name, e))
}

/// A closed window to emit: key bytes, start, aggregate bytes, timestamp.
pub type ClosedWindow = (Vec<u8>, i64, Vec<u8>, i64);

/// The windows with `lower <= start <= upper` of window store `index`, as
/// a final-result aggregation emits them: by start, then key bytes (Kafka
/// Streams' time-ordered order), each as (key bytes, start, aggregate
/// bytes, aggregate timestamp).
pub fn closed_windows(
    stores: &[WinStore],
    index: usize,
    name: &'static str,
    lower: i64,
    upper: i64,
) -> Result<Vec<ClosedWindow>, ProcessError> {
    let store = stores
        .get(index)
        .ok_or_else(|| store_error(name, "not open (the task was not initialised)"))?;
    let mut out = Vec::new();
    for (key, start, bytes) in store
        .fetch_all(lower, upper)
        .map_err(|e| store_error(name, e))?
    {
        let (ts, value) = split_timestamped(&bytes)
            .ok_or_else(|| store_error(name, "an entry without a timestamp"))?;
        out.push((key, start, value.to_vec(), ts));
    }
    out.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    Ok(out)
}

/// Whether two values serialise to the same bytes (Kafka Streams compares
/// keys with `equals`; for serialised data, byte equality).
pub fn same_bytes<T: Serde>(a: &T, b: &T) -> bool {
    match (crate::serde::to_bytes(a), crate::serde::to_bytes(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Encodes a table change (new and old value, either null) for a table
/// `group_by`'s repartition topic: one flag byte (bit 0: new present, bit 1:
/// old present), the new value's length (4 bytes, big-endian), the new
/// value, the old value. Internal to weir.
pub fn encode_change<'b, V: Serde>(
    new: &V,
    old: &V,
    out: &'b mut Vec<u8>,
    scratch: &mut Vec<u8>,
    sink: &'static str,
) -> Result<&'b [u8], ProcessError> {
    out.clear();
    out.extend_from_slice(&[0, 0, 0, 0, 0]);
    let mut flags = 0u8;
    if let Some(bytes) = ser(new, scratch, sink, RecordPart::Value)? {
        flags |= 1;
        out[1..5].copy_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    if let Some(bytes) = ser(old, scratch, sink, RecordPart::Value)? {
        flags |= 2;
        out.extend_from_slice(bytes);
    }
    out[0] = flags;
    Ok(out)
}

/// Decodes a table change written by [`encode_change`].
pub fn decode_change<V: Serde>(record: &SourceRecord<'_>) -> Result<(V, V), ProcessError> {
    let corrupt = |what: &str| ProcessError::Deserialization {
        topic: record.context.topic.to_owned(),
        partition: record.context.partition,
        offset: record.context.offset,
        part: RecordPart::Value,
        source: crate::serde::SerdeError::Json(format!("not a table change: {what}")),
    };
    let bytes = record.value.ok_or_else(|| corrupt("null"))?;
    let (head, rest) = bytes
        .split_first_chunk::<5>()
        .ok_or_else(|| corrupt("too short"))?;
    let flags = head[0];
    let new_len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let (new_bytes, old_bytes) = if flags & 1 != 0 {
        if rest.len() < new_len {
            return Err(corrupt("truncated"));
        }
        rest.split_at(new_len)
    } else {
        (&rest[..0], rest)
    };
    let decode = |present: bool, b: &[u8]| -> Result<V, ProcessError> {
        V::deserialize(present.then_some(b)).map_err(|source| ProcessError::Deserialization {
            topic: record.context.topic.to_owned(),
            partition: record.context.partition,
            offset: record.context.offset,
            part: RecordPart::Value,
            source,
        })
    };
    Ok((
        decode(flags & 1 != 0, new_bytes)?,
        decode(flags & 2 != 0, old_bytes)?,
    ))
}

/// A record for a window that has already closed (its end + grace is at or
/// before stream time): dropped, as Kafka Streams drops it, logged here and
/// counted by the generated code (`dropped_records`).
#[cold]
pub fn late_record(processor: &'static str, ctx: &RecordContext<'_>, window: Window) {
    tracing::debug!(
        processor,
        topic = ctx.topic,
        partition = ctx.partition,
        offset = ctx.offset,
        timestamp = ctx.timestamp,
        window_start = window.start,
        window_end = window.end,
        "skipping record for an expired window"
    );
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

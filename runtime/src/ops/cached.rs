//! Cached stores as generated code uses them: reads that look in the record
//! cache before the store, writes that go to the cache, and the decoding of
//! the entries a flush or an eviction hands back (Kafka Streams'
//! `CachingKeyValueStore` / `CachingWindowStore` with their flush
//! listeners).
//!
//! A cached write never reaches the store or the changelog directly: the
//! cache returns the entries to write — at once when it is disabled
//! (`statestore.cache.max.bytes=0`, as Kafka Streams with an empty cache:
//! every put is evicted), on eviction, and on commit — and the generated
//! flush code writes each one to the store and the changelog and forwards
//! it downstream. Keys of a window store's cache are its changelog keys
//! (key, window start, sequence number).

use crate::error::{store_error, ProcessError};
use crate::format::timestamped::{decode_timestamped, split_stored as split, timestamped};
use crate::format::window_key::{split_window_changelog_key, window_changelog_key};
use crate::record::RecordContext;
use crate::serde::Serde;
use crate::store::cache::{CacheEntry, RecordCache};
use crate::store::{KeyValueStore, TaskStores, WindowStore};

pub use crate::store::cache::DirtyEntry;

fn decode<A: Serde>(name: &str, bytes: Option<&[u8]>) -> Result<A, ProcessError> {
    A::deserialize(bytes)
        .map_err(|e| store_error(name, format!("cannot deserialize a cached entry: {e}")))
}

/// Reads `key`'s timestamped aggregate from the cache, else from the store.
/// A value found in the store is cached clean (Kafka Streams does the
/// same); the entries that put evicts are added to `evicted`, for the
/// caller to flush before it goes on.
pub fn cached_get<A: Serde>(
    cache: &mut RecordCache,
    stores: &TaskStores,
    index: usize,
    name: &'static str,
    key: &[u8],
    evicted: &mut Vec<DirtyEntry>,
) -> Result<Option<(A, i64)>, ProcessError> {
    if let Some(entry) = cache.get(name, key) {
        return entry
            .value
            .as_deref()
            .map(|bytes| decode_timestamped(name, bytes))
            .transpose();
    }
    let store = stores.kv(index, name)?;
    let Some(bytes) = store.get(key).map_err(|e| store_error(name, e))? else {
        return Ok(None);
    };
    let decoded = decode_timestamped(name, &bytes)?;
    evicted.extend(cache.put(name, key, CacheEntry::clean(bytes)));
    Ok(Some(decoded))
}

/// Reads the timestamped aggregate of `key` in the window starting at
/// `start` from the cache (under `cache_key`, the changelog key), else from
/// the store. Misses are not cached (as Kafka Streams' `CachingWindowStore`).
pub fn cached_window_get<A: Serde>(
    cache: &mut RecordCache,
    stores: &TaskStores,
    index: usize,
    name: &'static str,
    key: &[u8],
    start: i64,
    cache_key: &[u8],
) -> Result<Option<(A, i64)>, ProcessError> {
    if let Some(entry) = cache.get(name, cache_key) {
        return entry
            .value
            .as_deref()
            .map(|bytes| decode_timestamped(name, bytes))
            .transpose();
    }
    crate::ops::window::window_get(stores, index, name, key, start)
}

/// Writes `value` (`None`: a delete) with timestamp `ts` under `key` to the
/// cache, with the context of the record being processed. Returns the
/// entries to flush now: this one when the cache is disabled, evicted ones
/// when it is full.
#[must_use = "the returned entries must be flushed"]
pub fn cached_put(
    cache: &mut RecordCache,
    name: &'static str,
    key: &[u8],
    ts: i64,
    value: Option<&[u8]>,
    ctx: &RecordContext<'_>,
) -> Vec<DirtyEntry> {
    if !cache.is_enabled() {
        // `statestore.cache.max.bytes=0`: Kafka Streams strips the caching
        // layer and forwards at once, with the new aggregate's timestamp
        // (for a delete too).
        return written_through(cache, key, ts, value, ctx);
    }
    let value = value.map(|v| timestamped(ts, v));
    let context = cache.context_of(ctx);
    cache.put(name, key, CacheEntry::dirty(value, context))
}

/// A write that bypasses the cache, as [`cached_put`] with the cache
/// disabled: for stores whose results are read back from the store itself
/// (a sliding-window aggregation emitting final results only).
pub fn written_through(
    cache: &mut RecordCache,
    key: &[u8],
    ts: i64,
    value: Option<&[u8]>,
    ctx: &RecordContext<'_>,
) -> Vec<DirtyEntry> {
    let value = value.map(|v| timestamped(ts, v));
    let mut context = cache.context_of(ctx);
    context.timestamp = ts;
    vec![DirtyEntry {
        key: key.to_vec(),
        value,
        context,
    }]
}

/// A flushed entry, decoded for the flush code: the store's timestamp and
/// plain value (`None`: a delete), and the timestamp to forward with (the
/// value's, or for a delete the writing record's, as Kafka Streams'
/// `TimestampedCacheFlushListener`).
pub struct Flushed<'e> {
    /// The plain (untimestamped) value: what the changelog carries.
    pub value: Option<&'e [u8]>,
    /// The forwarded record's (and the changelog record's) timestamp.
    pub timestamp: i64,
    /// The forwarded record's context.
    pub context: RecordContext<'e>,
}

/// Splits a flushed entry into what is logged and forwarded.
pub fn flushed<'e>(name: &str, entry: &'e DirtyEntry) -> Result<Flushed<'e>, ProcessError> {
    let (timestamp, value) = match entry.value.as_deref() {
        Some(bytes) => {
            let (ts, value) = split(name, bytes)?;
            (ts, Some(value))
        }
        None => (entry.context.timestamp, None),
    };
    let c = &entry.context;
    Ok(Flushed {
        value,
        timestamp,
        context: RecordContext {
            topic: c.topic.as_deref().unwrap_or(""),
            partition: c.partition,
            offset: c.offset,
            timestamp,
            headers: &c.headers,
        },
    })
}

/// Decodes a flushed key or value (corrupt bytes are a store error).
pub fn decode_flushed<T: Serde>(name: &str, bytes: Option<&[u8]>) -> Result<T, ProcessError> {
    decode(name, bytes)
}

/// Writes a flushed entry to key-value store `index`; returns the old
/// plain value when `want_old` (or the entry is a delete), `None` when
/// there was none. `Ok(false)` in the first slot: nothing to write or
/// forward (a delete of an absent key, skipped as Kafka Streams' caching
/// store skips it — but not when the cache is `disabled`: without its
/// caching layer Kafka Streams writes and forwards every update).
pub fn write_flushed(
    stores: &mut TaskStores,
    index: usize,
    name: &'static str,
    entry: &DirtyEntry,
    want_old: bool,
    disabled: bool,
) -> Result<(bool, Option<Vec<u8>>), ProcessError> {
    let store = stores.kv_mut(index, name)?;
    let old = if want_old || entry.value.is_none() {
        store.get(&entry.key).map_err(|e| store_error(name, e))?
    } else {
        None
    };
    if entry.value.is_none() && old.is_none() && !disabled {
        return Ok((false, None));
    }
    let result = match &entry.value {
        Some(v) => store.put(&entry.key, v),
        None => store.delete(&entry.key).map(drop),
    };
    result.map_err(|e| store_error(name, e))?;
    let old = match old {
        Some(bytes) => Some(split(name, &bytes)?.1.to_vec()),
        None => None,
    };
    Ok((true, old))
}

/// Writes a flushed window entry (keyed by its changelog key) to window
/// store `index`; returns the entry's key bytes and window start, or `None`
/// when there is nothing to write or forward (a delete of an absent
/// window, unless the cache is `disabled`, as for [`write_flushed`]).
pub fn write_flushed_window<'e>(
    stores: &mut TaskStores,
    index: usize,
    name: &'static str,
    entry: &'e DirtyEntry,
    disabled: bool,
) -> Result<Option<(&'e [u8], i64)>, ProcessError> {
    let store = stores.window_mut(index, name)?;
    let (key, start) = split_window_changelog_key(&entry.key)
        .ok_or_else(|| store_error(name, "a cached window key is too short"))?;
    if entry.value.is_none()
        && !disabled
        && store
            .fetch(key, start)
            .map_err(|e| store_error(name, e))?
            .is_none()
    {
        return Ok(None);
    }
    store
        .put(key, start, entry.value.as_deref())
        .map_err(|e| store_error(name, e))?;
    Ok(Some((key, start)))
}

/// The windows of `key` with `from <= start <= to` as a sliding-window
/// aggregation reads them: the store's, overlaid with the cache's (a cached
/// delete hides a stored window), as (start, aggregate bytes, aggregate
/// timestamp) by ascending start. Reading does not touch the cache's LRU
/// order (as Kafka Streams' cache iterators).
pub fn sliding_fetch(
    cache: &mut RecordCache,
    stores: &TaskStores,
    index: usize,
    name: &'static str,
    key: &[u8],
    (from, to): (i64, i64),
) -> Result<Vec<(i64, Vec<u8>, i64)>, ProcessError> {
    let store = stores.window(index, name)?;
    let mut windows: std::collections::BTreeMap<i64, Vec<u8>> = store
        .fetch_range(key, from, to)
        .map_err(|e| store_error(name, e))?
        .into_iter()
        .collect();
    cache.keep_ordered(name);
    let (mut lo, mut hi) = (Vec::new(), Vec::new());
    window_changelog_key(key, from, &mut lo);
    window_changelog_key(key, to, &mut hi);
    for (cache_key, entry) in cache.range(name, Some(&lo), Some(&hi)) {
        let Some((k, start)) = split_window_changelog_key(cache_key) else {
            continue;
        };
        if k != key {
            continue;
        }
        match &entry.value {
            Some(v) => windows.insert(start, v.clone()),
            None => windows.remove(&start),
        };
    }
    windows
        .into_iter()
        .map(|(start, bytes)| {
            let (ts, value) = split(name, &bytes)?;
            Ok((start, value.to_vec(), ts))
        })
        .collect()
}

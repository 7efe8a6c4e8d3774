//! Session-window aggregations (Kafka Streams'
//! `KStreamSessionWindowAggregate`) as generated code runs them, over a
//! session store: a key-value store whose keys are Kafka Streams' session
//! keys ([`crate::format::session_key`]) and whose values are the plain
//! aggregates (no timestamp), so its changelog is byte-compatible with
//! Kafka Streams'. Reads go through the record cache like every cached
//! store.

use crate::error::{store_error, ProcessError};
use crate::format::session_key::{session_key, split_session_key};
use crate::ops::cached::DirtyEntry;
use crate::record::RecordContext;
use crate::store::cache::{CacheEntry, RecordCache};
use crate::store::{KeyValueStore, TaskStores};
use crate::time::Window;

/// The sessions of `key` that end at or after `earliest_end` and start at
/// or before `latest_start` (Kafka Streams' `findSessions`), from the store
/// overlaid with the cache, by ascending (end, start). Stored sessions
/// ending before `live_from` (stream time - retention + 1) have left the
/// store's retention and are not returned.
#[allow(clippy::too_many_arguments)]
pub fn find_sessions(
    cache: &mut RecordCache,
    stores: &TaskStores,
    index: usize,
    name: &'static str,
    key: &[u8],
    earliest_end: i64,
    latest_start: i64,
    live_from: i64,
) -> Result<Vec<(Window, Vec<u8>)>, ProcessError> {
    let store = stores.session(index, name)?;
    // Expired sessions are gone from the store, but the cache may still
    // hold them (flushed, clean), and then they count: as Kafka Streams'
    // caching session store, which merges its cache unfiltered.
    let from_end = earliest_end.max(0);
    let unexpired = from_end.max(live_from);
    let (mut lo, mut hi) = (Vec::new(), Vec::new());
    session_key(
        key,
        Window {
            start: 0,
            end: from_end,
        },
        &mut lo,
    );
    session_key(
        key,
        Window {
            start: i64::MAX,
            end: i64::MAX,
        },
        &mut hi,
    );
    let ours = |bytes: &[u8]| -> Option<Window> {
        let (k, w) = split_session_key(bytes)?;
        (k == key && w.end >= from_end && w.start <= latest_start).then_some(w)
    };
    let mut sessions: std::collections::BTreeMap<(i64, i64), Vec<u8>> =
        std::collections::BTreeMap::new();
    for (k, v) in store
        .range(Some(&lo), Some(&hi))
        .map_err(|e| store_error(name, e))?
    {
        if let Some(w) = ours(&k).filter(|w| w.end >= unexpired) {
            sessions.insert((w.end, w.start), v);
        }
    }
    cache.keep_ordered(name);
    for (k, entry) in cache.range(name, Some(&lo), Some(&hi)) {
        if let Some(w) = ours(k) {
            match &entry.value {
                Some(v) => sessions.insert((w.end, w.start), v.clone()),
                None => sessions.remove(&(w.end, w.start)),
            };
        }
    }
    Ok(sessions
        .into_iter()
        .map(|((end, start), v)| (Window { start, end }, v))
        .collect())
}

/// Writes session `window` of `key` (`None` removes it) to the cache with
/// the context of the record being processed; returns the entries to flush
/// now (this one when the cache is disabled, evicted ones when full).
#[must_use = "the returned entries must be flushed"]
pub fn session_put(
    cache: &mut RecordCache,
    name: &'static str,
    session_key: &[u8],
    value: Option<&[u8]>,
    ctx: &RecordContext<'_>,
) -> Vec<DirtyEntry> {
    if !cache.is_enabled() {
        return session_written_through(cache, session_key, value, ctx);
    }
    let context = cache.context_of(ctx);
    let value = value.map(<[u8]>::to_vec);
    cache.put(name, session_key, CacheEntry::dirty(value, context))
}

/// A session write that bypasses the cache: [`session_put`] with the cache
/// disabled, and session aggregations emitting final results only (which
/// read them back from the store).
#[must_use = "the returned entries must be flushed"]
pub fn session_written_through(
    cache: &mut RecordCache,
    session_key: &[u8],
    value: Option<&[u8]>,
    ctx: &RecordContext<'_>,
) -> Vec<DirtyEntry> {
    let mut context = cache.context_of(ctx);
    // Without the caching layer Kafka Streams forwards a new record for the
    // session: no headers.
    context.headers = crate::record::Headers::new();
    vec![DirtyEntry {
        key: session_key.to_vec(),
        value: value.map(<[u8]>::to_vec),
        context,
    }]
}

/// A closed session read back for final results: key bytes, session,
/// value bytes.
pub type ClosedSession = (Vec<u8>, Window, Vec<u8>);

/// The sessions of every key in session store `index` that ended within
/// `[lower_end, upper_end]` and not before `live_from`, as (key bytes,
/// session, value bytes) by end, then key, then start: Kafka Streams'
/// `findSessions(earliestSessionEndTime, latestSessionEndTime)` for final
/// results. (A full scan: these backends index sessions by key.)
pub fn closed_sessions(
    stores: &TaskStores,
    index: usize,
    name: &'static str,
    lower_end: i64,
    upper_end: i64,
    live_from: i64,
) -> Result<Vec<ClosedSession>, ProcessError> {
    let store = stores.session(index, name)?;
    let from = lower_end.max(live_from);
    let mut out: Vec<ClosedSession> = store
        .all()
        .map_err(|e| store_error(name, e))?
        .into_iter()
        .filter_map(|(k, v)| {
            let (key, window) = split_session_key(&k)?;
            (window.end >= from && window.end <= upper_end).then(|| (key.to_vec(), window, v))
        })
        .collect();
    out.sort_by(|a, b| (a.1.end, &a.0, a.1.start).cmp(&(b.1.end, &b.0, b.1.start)));
    Ok(out)
}

/// Writes a flushed session entry to session store `index`; returns the
/// key bytes and the session, or `None` when there is nothing to write or
/// forward: removing a session the store does not have (or has but expired:
/// ending before `live_from`), unless the cache is `disabled`.
pub fn write_flushed_session<'e>(
    stores: &mut TaskStores,
    index: usize,
    name: &'static str,
    entry: &'e DirtyEntry,
    disabled: bool,
    live_from: i64,
) -> Result<Option<(&'e [u8], Window)>, ProcessError> {
    let store = stores.session_mut(index, name)?;
    let (key, window) = split_session_key(&entry.key)
        .ok_or_else(|| store_error(name, "a cached session key is too short"))?;
    if entry.value.is_none()
        && !disabled
        && (window.end < live_from
            || store
                .get(&entry.key)
                .map_err(|e| store_error(name, e))?
                .is_none())
    {
        return Ok(None);
    }
    let result = match &entry.value {
        Some(v) => store.put(&entry.key, v),
        None => store.delete(&entry.key).map(drop),
    };
    result.map_err(|e| store_error(name, e))?;
    Ok(Some((key, window)))
}

/// The record context of a flushed session entry: the writing record's,
/// with timestamp `timestamp`.
pub fn entry_context(entry: &DirtyEntry, timestamp: i64) -> RecordContext<'_> {
    let c = &entry.context;
    RecordContext {
        topic: c.topic.as_deref().unwrap_or(""),
        partition: c.partition,
        offset: c.offset,
        timestamp,
        headers: &c.headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::cache::EntryContext;
    use crate::store::{Backend, StoreKind, StoreSpec, TaskDirectory};

    /// One in-memory session store `s` at index 0.
    pub(super) fn session_store() -> TaskStores {
        let spec = StoreSpec {
            name: "s",
            kind: StoreKind::Session,
            backend: Backend::InMemory,
            retention_ms: 0,
        };
        TaskStores::open([spec], &TaskDirectory("unused".into())).unwrap()
    }

    #[test]
    fn find_sessions_merges_store_and_cache_by_end_then_start() {
        let mut stores = session_store();
        let mut key = Vec::new();
        for (k, start, end) in [
            (&b"a"[..], 0, 10),
            (b"a", 30, 40),
            (b"ab", 12, 12),
            (b"a", 100, 110),
        ] {
            session_key(k, Window { start, end }, &mut key);
            stores.session_mut(0, "s").unwrap().put(&key, b"v").unwrap();
        }
        let mut cache = RecordCache::new(1 << 20);
        session_key(b"a", Window { start: 15, end: 20 }, &mut key);
        assert!(cache
            .put(
                "s",
                &key,
                CacheEntry::dirty(Some(b"c".to_vec()), EntryContext::none())
            )
            .is_empty());
        session_key(b"a", Window { start: 30, end: 40 }, &mut key);
        assert!(cache
            .put("s", &key, CacheEntry::dirty(None, EntryContext::none()))
            .is_empty());
        // Ends at or after 5, starts at or before 50.
        let found = find_sessions(&mut cache, &stores, 0, "s", b"a", 5, 50, i64::MIN).unwrap();
        assert_eq!(
            found,
            vec![
                (Window { start: 0, end: 10 }, b"v".to_vec()),
                (Window { start: 15, end: 20 }, b"c".to_vec()),
            ]
        );
    }
}

/// Deletes the sessions of session store `index` that ended before
/// `live_from` (Kafka Streams drops them with their time segments; these
/// backends have none, so the generated code calls this once per retention
/// period of stream time). Not logged: the changelog's own time-based
/// deletion drops them there. Returns how many were deleted.
pub fn drop_expired_sessions(
    stores: &mut TaskStores,
    index: usize,
    name: &'static str,
    live_from: i64,
) -> Result<u64, ProcessError> {
    let store = stores.session_mut(index, name)?;
    let expired: Vec<(Vec<u8>, Option<Vec<u8>>)> = store
        .all()
        .map_err(|e| store_error(name, e))?
        .into_iter()
        .filter(|(k, _)| split_session_key(k).is_some_and(|(_, w)| w.end < live_from))
        .map(|(k, _)| (k, None))
        .collect();
    let n = expired.len() as u64;
    if n > 0 {
        store
            .write_batch(&expired)
            .map_err(|e| store_error(name, e))?;
        tracing::debug!(store = name, sessions = n, "dropped expired sessions");
    }
    Ok(n)
}

#[cfg(test)]
mod expiry_tests {
    use super::tests::session_store;
    use super::*;

    #[test]
    fn expired_sessions_are_deleted() {
        let mut stores = session_store();
        let mut key = Vec::new();
        for (start, end) in [(0, 10), (5, 30), (40, 50)] {
            session_key(b"a", Window { start, end }, &mut key);
            stores.session_mut(0, "s").unwrap().put(&key, b"v").unwrap();
        }
        assert_eq!(drop_expired_sessions(&mut stores, 0, "s", 30).unwrap(), 1);
        assert_eq!(stores.session(0, "s").unwrap().all().unwrap().len(), 2);
    }
}

//! The record cache in front of cached stores: Kafka Streams' `ThreadCache`
//! (one per stream thread) and its per-store `NamedCache`s.
//!
//! A cached store writes to the cache instead of the underlying store: the
//! entry is marked *dirty*. Reads check the cache first. Consecutive updates
//! of a key are merged — only the latest value survives — so a commit
//! forwards one update per key instead of one per input record. Dirty
//! entries reach the underlying store (and downstream) when:
//!
//! * the task commits: the caller calls [`RecordCache::flush_entries`] (or
//!   [`RecordCache::flush`]) for each of its cached stores;
//! * the cache must evict to stay within `statestore.cache.max.bytes`: a
//!   [`RecordCache::put`] returns the flushed entries.
//!
//! # Semantics (as Kafka Streams' `NamedCache` / `ThreadCache`)
//!
//! * **Flush order.** Dirty keys are kept in a linked set; a dirty put
//!   *removes and re-appends* its key ("first remove and then add so we can
//!   maintain ordering as the arrival order of the records", `NamedCache.put`).
//!   A flush therefore forwards keys in the order of their **latest** update
//!   since the last flush: `put a, put b, put a` flushes `b` then `a`. This
//!   keeps the forwarded records' offsets and timestamps in arrival order.
//! * **Eviction.** After a put, while the whole cache is over budget, the
//!   least recently used entry *of the namespace just written* is evicted
//!   (`ThreadCache.maybeEvict`). Evicting a dirty entry flushes the whole
//!   namespace: the evicted entry comes first, then the namespace's other
//!   dirty entries in dirty order (`NamedCache.flush(evicted)`). Clean
//!   entries are evicted silently. Because only the written namespace is
//!   touched, a put never flushes *another* store (possibly of another task)
//!   — the returned work always belongs to the caller. The budget still
//!   holds after every put: the cache was within budget before it, and if
//!   evicting empties the namespace, the rest is what was there before.
//! * **Tombstones.** A delete is cached as a dirty entry with value `None`;
//!   once flushed, tombstones are dropped from the cache.
//! * **LRU.** A put or a [`get`](RecordCache::get) hit makes the entry the
//!   most recently used; a read hit does not dirty it.
//! * **Disabled cache.** `max_bytes == 0` disables caching, as
//!   `statestore.cache.max.bytes=0` does: every dirty put is returned at
//!   once for the caller to write through and forward; nothing is kept.
//!
//! # Byte accounting
//!
//! Kafka Streams' estimate, so that a given `statestore.cache.max.bytes`
//! evicts at the same points: per entry, key length + value length +
//! topic length + Σ (header key length + header value length) +
//! [`ENTRY_OVERHEAD_BYTES`] (45: three 8-byte references of the LRU node,
//! the 1-byte dirty flag, 8-byte timestamp, 8-byte offset and 4-byte
//! partition). Topic and header-key lengths are counted in UTF-16 units, as
//! Java's `toCharArray().length` (equal to the byte length for ASCII).
//!
//! # Why `put` and flushes *return* the entries
//!
//! Kafka Streams registers a flush listener per namespace and calls it from
//! inside `put`/`flush`; the listener writes the store and forwards
//! downstream, where another processor may write another cached store —
//! re-entering the cache. Here [`RecordCache::put`] and
//! [`RecordCache::flush_entries`] finish their bookkeeping (entries marked
//! clean, tombstones dropped, evictions done) and hand back an owned batch;
//! the caller processes it with the cache free again, so downstream writes
//! to other cached stores need no re-entrancy. [`RecordCache::flush`] is the
//! listener-style convenience built on `flush_entries`.
//!
//! # What the caller (the caching store) does with a batch
//!
//! Old values are the caller's job, as in Kafka Streams'
//! `CachingKeyValueStore.putAndMaybeForward`. For each [`DirtyEntry`], in
//! order:
//!
//! 1. read the old value from the **underlying store** (needed when the new
//!    value is `None`, or when old values are sent downstream, e.g. table
//!    aggregations / `sendOldValues`);
//! 2. if the new value is `None` and the old value is `None` too, skip the
//!    entry: nothing to delete and nothing to forward;
//! 3. otherwise write it to the underlying store (put, or delete for `None`)
//!    and forward `(key, new, old)` downstream with the entry's
//!    [`EntryContext`] as the record context (timestamp, headers, topic,
//!    partition, offset of the write that produced it).
//!
//! Keys within one batch are distinct, so reading every old value first and
//! then applying the batch with [`KeyValueStore::write_batch`] gives the same
//! old values; Kafka Streams writes and forwards entry by entry.
//!
//! On a read: a [`get`](RecordCache::get) hit answers (value `None` = deleted,
//! do not ask the store); on a miss the caller reads the underlying store
//! and, when it has a value, may cache it with [`CacheEntry::clean`] (that
//! put can evict, so its batch must be processed too).
//!
//! [`KeyValueStore::write_batch`]: super::KeyValueStore::write_batch

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use crate::record::{Headers, RecordContext};

/// Fixed bytes counted per cached entry on top of key, value, topic and
/// headers, as Kafka Streams' `NamedCache.LRUNode.size()`: three 8-byte
/// references (entry, previous, next), the 1-byte dirty flag, and the
/// record context's 8-byte timestamp, 8-byte offset and 4-byte partition.
pub const ENTRY_OVERHEAD_BYTES: usize = 8 + 8 + 8 + 1 + 8 + 8 + 4;

/// The record context stored with a cached write: Kafka Streams'
/// `ProcessorRecordContext`. A flushed entry is forwarded with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryContext {
    /// Record timestamp, milliseconds since the epoch.
    pub timestamp: i64,
    /// Record headers.
    pub headers: Headers,
    /// Source topic; `None` when there is none (a punctuation, a clean
    /// entry read from the store). Shared: a cache hands out one copy per
    /// topic (see [`RecordCache::context_of`]).
    pub topic: Option<std::sync::Arc<str>>,
    /// Source partition (`-1` when unknown).
    pub partition: i32,
    /// Offset in the source partition (`-1` when unknown).
    pub offset: i64,
}

impl EntryContext {
    /// The context of an entry that did not come from a record (Kafka
    /// Streams' `LRUCacheEntry(value)`): timestamp, partition and offset
    /// `-1`, no topic, no headers.
    pub fn none() -> Self {
        EntryContext {
            timestamp: -1,
            headers: Headers::new(),
            topic: None,
            partition: -1,
            offset: -1,
        }
    }

    /// Bytes this context adds to an entry's size: topic length and header
    /// keys and values (the fixed fields are in [`ENTRY_OVERHEAD_BYTES`]).
    fn variable_size_bytes(&self) -> usize {
        let topic = self.topic.as_deref().map_or(0, java_char_len);
        let headers: usize = self
            .headers
            .iter()
            .map(|(key, value)| java_char_len(key) + value.map_or(0, <[u8]>::len))
            .sum();
        topic + headers
    }
}

impl From<&RecordContext<'_>> for EntryContext {
    fn from(context: &RecordContext<'_>) -> Self {
        EntryContext {
            timestamp: context.timestamp,
            headers: context.headers.clone(),
            topic: Some(context.topic.into()),
            partition: context.partition,
            offset: context.offset,
        }
    }
}

/// Java's `String.toCharArray().length`: UTF-16 code units.
fn java_char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

/// A cached value: Kafka Streams' `LRUCacheEntry`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheEntry {
    /// The value; `None` is a tombstone (a cached delete).
    pub value: Option<Vec<u8>>,
    /// True when the underlying store does not have this value yet.
    pub dirty: bool,
    /// The context of the write that produced the value.
    pub context: EntryContext,
}

impl CacheEntry {
    /// A write: a dirty entry, `value` `None` for a delete.
    pub fn dirty(value: Option<Vec<u8>>, context: EntryContext) -> Self {
        CacheEntry {
            value,
            dirty: true,
            context,
        }
    }

    /// A dirty tombstone: a delete.
    pub fn tombstone(context: EntryContext) -> Self {
        Self::dirty(None, context)
    }

    /// A clean entry: a value read from the underlying store after a miss.
    pub fn clean(value: Vec<u8>) -> Self {
        CacheEntry {
            value: Some(value),
            dirty: false,
            context: EntryContext::none(),
        }
    }
}

/// The bytes an entry counts against the cache budget (see the module docs):
/// key + value + topic + headers + [`ENTRY_OVERHEAD_BYTES`].
pub fn entry_size_bytes(key: &[u8], entry: &CacheEntry) -> usize {
    key.len()
        + entry.value.as_ref().map_or(0, Vec::len)
        + entry.context.variable_size_bytes()
        + ENTRY_OVERHEAD_BYTES
}

/// A dirty entry handed back by a flush or an eviction: Kafka Streams'
/// `ThreadCache.DirtyEntry`. The caller writes it to the underlying store
/// and forwards it (see the module docs for the old value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirtyEntry {
    /// The key.
    pub key: Vec<u8>,
    /// The new value; `None` deletes the key.
    pub value: Option<Vec<u8>>,
    /// The context of the write that produced the value: forward with it.
    pub context: EntryContext,
}

/// Counters of a cache or of one of its namespaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheMetrics {
    /// Puts (writes, deletes and clean fills).
    pub puts: u64,
    /// Puts that replaced a cached entry.
    pub overwrites: u64,
    /// [`RecordCache::get`] calls that found the key.
    pub hits: u64,
    /// [`RecordCache::get`] calls that did not.
    pub misses: u64,
    /// Entries evicted to stay within the budget (with the cache disabled,
    /// every put counts as one).
    pub evictions: u64,
    /// Namespace flushes: explicit ones and those triggered by evicting a
    /// dirty entry.
    pub flushes: u64,
}

impl CacheMetrics {
    /// Hits over lookups, `None` before the first lookup (Kafka Streams'
    /// `hit-ratio`).
    pub fn hit_ratio(&self) -> Option<f64> {
        let lookups = self.hits + self.misses;
        // Counters stay far below 2^53: the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        (lookups > 0).then(|| self.hits as f64 / lookups as f64)
    }

    fn add(&mut self, other: &CacheMetrics) {
        self.puts += other.puts;
        self.overwrites += other.overwrites;
        self.hits += other.hits;
        self.misses += other.misses;
        self.evictions += other.evictions;
        self.flushes += other.flushes;
    }
}

/// `statestore.cache.max.bytes` by default: 10 MiB, as Kafka Streams.
pub const DEFAULT_CACHE_MAX_BYTES: usize = 10 * 1024 * 1024;

/// The record cache of one stream thread: Kafka Streams' `ThreadCache`.
/// One namespace per cached store (Kafka Streams names it
/// `<task id>-<store name>`, e.g.
/// `"0_1-KSTREAM-AGGREGATE-STATE-STORE-0000000003"`), all sharing one byte
/// budget. See the module docs for the semantics and the caller's protocol.
#[derive(Debug, Default)]
pub struct RecordCache {
    max_bytes: usize,
    size_bytes: usize,
    namespaces: Namespaces,
    /// The topic of the last [`RecordCache::context_of`], shared by the
    /// entries written from it (records of a task come from a few topics).
    last_topic: Option<std::sync::Arc<str>>,
    /// Counters not attributable to a live namespace: lookups in unknown
    /// namespaces and the counters of closed ones.
    retired: CacheMetrics,
}

impl RecordCache {
    /// A cache holding at most `max_bytes` (see the module docs for how
    /// entries are counted); `0` disables caching: every write is handed
    /// straight back to the caller.
    pub fn new(max_bytes: usize) -> Self {
        RecordCache {
            max_bytes,
            ..RecordCache::default()
        }
    }

    /// The byte budget.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The context to cache a write made while processing `ctx` with: as
    /// `EntryContext::from`, but the topic name is shared with the previous
    /// write's when it is the same (no allocation per write).
    pub fn context_of(&mut self, ctx: &RecordContext<'_>) -> EntryContext {
        let topic = match &self.last_topic {
            Some(t) if **t == *ctx.topic => std::sync::Arc::clone(t),
            _ => {
                let t: std::sync::Arc<str> = ctx.topic.into();
                self.last_topic = Some(std::sync::Arc::clone(&t));
                t
            }
        };
        EntryContext {
            timestamp: ctx.timestamp,
            headers: ctx.headers.clone(),
            topic: Some(topic),
            partition: ctx.partition,
            offset: ctx.offset,
        }
    }

    /// Changes the byte budget (Kafka Streams' `ThreadCache.resize`, when
    /// tasks come and go). A smaller budget takes effect at the next put,
    /// which evicts (and so flushes) from the namespace it writes.
    pub fn set_max_bytes(&mut self, max_bytes: usize) {
        self.max_bytes = max_bytes;
    }

    /// False when the budget is 0: puts write through, gets always miss.
    /// A caller may then bypass the cache entirely.
    pub fn is_enabled(&self) -> bool {
        self.max_bytes > 0
    }

    /// Bytes currently counted, over all namespaces; never above
    /// [`max_bytes`](Self::max_bytes) once a call returns.
    pub fn size_bytes(&self) -> usize {
        self.size_bytes
    }

    /// Bytes currently counted for namespace `ns`.
    pub fn namespace_size_bytes(&self, ns: &str) -> usize {
        self.namespaces.get(ns).map_or(0, |cache| cache.size_bytes)
    }

    /// Number of cached entries, over all namespaces.
    pub fn len(&self) -> usize {
        self.namespaces
            .values()
            .map(|cache| cache.index.len())
            .sum()
    }

    /// True when no entry is cached.
    pub fn is_empty(&self) -> bool {
        self.namespaces.values().all(|cache| cache.index.is_empty())
    }

    /// Number of dirty entries of namespace `ns` (what a flush would hand
    /// back).
    pub fn dirty_len(&self, ns: &str) -> usize {
        self.namespaces.get(ns).map_or(0, |cache| cache.dirty.len)
    }

    /// Caches `entry` under `key` in namespace `ns`, making it the most
    /// recently used entry, then evicts while the cache is over budget.
    ///
    /// Returns the entries flushed by those evictions, in order, for the
    /// caller to write to the underlying store of `ns` and forward — they
    /// always belong to `ns`. Usually empty. With the cache disabled, a
    /// dirty entry comes straight back (a clean one is dropped).
    ///
    /// A dirty entry replaces any cached one and moves its key to the end
    /// of the flush order. A clean entry never replaces a dirty one (the
    /// cache holds a write the store has not seen; Kafka Streams throws
    /// `IllegalStateException` there): it is ignored.
    #[must_use = "the flushed entries must be written to the store and forwarded"]
    pub fn put(&mut self, ns: &str, key: &[u8], entry: CacheEntry) -> Vec<DirtyEntry> {
        if !self.is_enabled() {
            return self.write_through(ns, key, entry);
        }
        let Some(cache) = self.namespace_or_insert(ns) else {
            return Vec::new();
        };
        let before = cache.size_bytes;
        cache.put(key, entry);
        let after = cache.size_bytes;
        self.size_bytes = self.size_bytes - before + after;
        self.evict_from(ns)
    }

    /// Caches a delete of `key`: a dirty tombstone with the context of the
    /// deleting record. Returns what [`put`](Self::put) returns.
    #[must_use = "the flushed entries must be written to the store and forwarded"]
    pub fn delete(&mut self, ns: &str, key: &[u8], context: EntryContext) -> Vec<DirtyEntry> {
        self.put(ns, key, CacheEntry::tombstone(context))
    }

    /// The cached entry for `key`, making it the most recently used; a hit
    /// does not dirty it. `Some` with value `None` is a cached delete: the
    /// key is absent, do not ask the underlying store.
    pub fn get(&mut self, ns: &str, key: &[u8]) -> Option<&CacheEntry> {
        match self.namespaces.get_mut(ns) {
            Some(cache) => cache.get(key),
            None => {
                self.retired.misses += 1;
                None
            }
        }
    }

    /// The cached entry for `key`, without touching LRU order or metrics.
    pub fn peek(&self, ns: &str, key: &[u8]) -> Option<&CacheEntry> {
        let cache = self.namespaces.get(ns)?;
        let &slot = cache.index.get(key)?;
        Some(&cache.slots[slot].entry)
    }

    /// Cached entries of `ns` with `from <= key <= to` (either bound open
    /// when `None`), in key order, tombstones included — for merging with
    /// the underlying store's range. Does not touch LRU order or metrics.
    /// Empty when `from > to`.
    pub fn range<'a>(
        &'a self,
        ns: &str,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
    ) -> impl Iterator<Item = (&'a [u8], &'a CacheEntry)> + 'a {
        let inverted = matches!((from, to), (Some(from), Some(to)) if from > to);
        fn bound(b: Option<&[u8]>) -> Bound<&[u8]> {
            b.map_or(Bound::Unbounded, Bound::Included)
        }
        let within = |key: &[u8]| from.is_none_or(|f| key >= f) && to.is_none_or(|t| key <= t);
        let mut found: Vec<(&'a [u8], &'a CacheEntry)> = Vec::new();
        if let Some(cache) = self.namespaces.get(ns).filter(|_| !inverted) {
            match &cache.ordered {
                Some(ordered) => found.extend(
                    ordered
                        .range::<[u8], _>((bound(from), bound(to)))
                        .map(|(key, &slot)| (key.as_slice(), &cache.slots[slot].entry)),
                ),
                None => {
                    found.extend(
                        cache
                            .index
                            .iter()
                            .filter(|(key, _)| within(key))
                            .map(|(key, &slot)| (key.as_slice(), &cache.slots[slot].entry)),
                    );
                    found.sort_unstable_by(|a, b| a.0.cmp(b.0));
                }
            }
        }
        found.into_iter()
    }

    /// Keeps namespace `ns` in key order from now on, so that
    /// [`range`](Self::range) is a range scan rather than a sort of the whole
    /// namespace: for stores read by range on the record path (sliding
    /// windows). Other namespaces keep only a hash index: point lookups
    /// then cost one hash, not a walk comparing keys.
    pub fn keep_ordered(&mut self, ns: &str) {
        if let Some(cache) = self.namespace_or_insert(ns) {
            if cache.ordered.is_none() {
                cache.ordered = Some(cache.index.iter().map(|(k, &i)| (k.clone(), i)).collect());
            }
        }
    }

    /// Flushes namespace `ns` (a commit): marks its dirty entries clean,
    /// drops its tombstones, and returns the dirty entries in flush order
    /// (latest-update order, see the module docs). Empty when nothing is
    /// dirty.
    #[must_use = "the flushed entries must be written to the store and forwarded"]
    pub fn flush_entries(&mut self, ns: &str) -> Vec<DirtyEntry> {
        let mut out = Vec::new();
        if let Some(cache) = self.namespaces.get_mut(ns) {
            let before = cache.size_bytes;
            cache.flush_into(&mut out);
            let after = cache.size_bytes;
            self.size_bytes = self.size_bytes - before + after;
        }
        out
    }

    /// Flushes namespace `ns`, calling `listener` with each dirty entry in
    /// flush order: [`flush_entries`](Self::flush_entries) in Kafka Streams'
    /// listener style.
    ///
    /// The entries are marked clean before the listener runs (as in Kafka
    /// Streams); if it fails, the remaining entries are not delivered and
    /// the error is returned. A failed flush is fatal for the task: close it
    /// dirty and [`close`](Self::close) the namespace — the store is rebuilt
    /// from its changelog.
    pub fn flush<E>(
        &mut self,
        ns: &str,
        mut listener: impl FnMut(DirtyEntry) -> Result<(), E>,
    ) -> Result<(), E> {
        self.flush_entries(ns)
            .into_iter()
            .try_for_each(&mut listener)
    }

    /// Drops namespace `ns` and every entry in it, dirty ones included
    /// (Kafka Streams' `ThreadCache.close(namespace)`): flush first for a
    /// clean close; a task closed dirty discards its unflushed writes.
    pub fn close(&mut self, ns: &str) {
        if let Some(cache) = self.namespaces.remove(ns) {
            self.size_bytes -= cache.size_bytes;
            self.retired.add(&cache.metrics);
        }
    }

    /// Counters over the whole cache (closed namespaces included).
    pub fn metrics(&self) -> CacheMetrics {
        let mut total = self.retired;
        for cache in self.namespaces.values() {
            total.add(&cache.metrics);
        }
        total
    }

    /// Counters of namespace `ns`, `None` when it does not exist.
    pub fn namespace_metrics(&self, ns: &str) -> Option<CacheMetrics> {
        self.namespaces.get(ns).map(|cache| cache.metrics)
    }

    /// The disabled cache's put: nothing is kept; a dirty entry is handed
    /// back at once, as Kafka Streams with a 0-byte cache evicts (and so
    /// flushes) every entry as soon as it is put.
    fn write_through(&mut self, ns: &str, key: &[u8], entry: CacheEntry) -> Vec<DirtyEntry> {
        if let Some(cache) = self.namespace_or_insert(ns) {
            cache.metrics.puts += 1;
            cache.metrics.evictions += 1;
            if entry.dirty {
                cache.metrics.flushes += 1;
            }
        }
        if !entry.dirty {
            return Vec::new();
        }
        vec![DirtyEntry {
            key: key.to_vec(),
            value: entry.value,
            context: entry.context,
        }]
    }

    fn namespace_or_insert(&mut self, ns: &str) -> Option<&mut NamedCache> {
        if !self.namespaces.contains_key(ns) {
            self.namespaces.insert(ns.to_owned(), NamedCache::default());
        }
        self.namespaces.get_mut(ns)
    }

    /// Kafka Streams' `ThreadCache.maybeEvict`: evicts from namespace `ns`
    /// only, until the cache is within budget or `ns` is empty.
    fn evict_from(&mut self, ns: &str) -> Vec<DirtyEntry> {
        let mut out = Vec::new();
        let Some(cache) = self.namespaces.get_mut(ns) else {
            return out;
        };
        while self.size_bytes > self.max_bytes && !cache.index.is_empty() {
            let before = cache.size_bytes;
            cache.evict_eldest(&mut out);
            let after = cache.size_bytes;
            self.size_bytes = self.size_bytes - before + after;
        }
        out
    }
}

/// The namespaces of a cache: a task has one to a few cached stores, so a
/// short list searched by name beats hashing the name on every access.
#[derive(Debug, Default)]
struct Namespaces(Vec<(String, NamedCache)>);

impl Namespaces {
    fn get(&self, ns: &str) -> Option<&NamedCache> {
        self.0.iter().find(|(n, _)| n == ns).map(|(_, c)| c)
    }
    fn get_mut(&mut self, ns: &str) -> Option<&mut NamedCache> {
        self.0.iter_mut().find(|(n, _)| n == ns).map(|(_, c)| c)
    }
    fn contains_key(&self, ns: &str) -> bool {
        self.get(ns).is_some()
    }
    fn insert(&mut self, ns: String, cache: NamedCache) {
        self.0.push((ns, cache));
    }
    fn remove(&mut self, ns: &str) -> Option<NamedCache> {
        let i = self.0.iter().position(|(n, _)| n == ns)?;
        Some(self.0.swap_remove(i).1)
    }
    fn values(&self) -> impl Iterator<Item = &NamedCache> {
        self.0.iter().map(|(_, c)| c)
    }
}

/// A fast, non-cryptographic hasher for cache keys (FxHash's word step and
/// SplitMix64's finaliser; the keys are the application's own, not an
/// attacker's).
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // A final mix (SplitMix64's): multiplication only carries bits
        // upwards, and the hash table indexes buckets by the low bits.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

type KeyIndex = HashMap<Vec<u8>, usize, std::hash::BuildHasherDefault<FxHasher>>;

/// "No slot" in the intrusive lists.
const NIL: usize = usize::MAX;

/// A slot's position in one list.
#[derive(Debug, Clone, Copy)]
struct Links {
    prev: usize,
    next: usize,
}

impl Links {
    const DETACHED: Links = Links {
        prev: NIL,
        next: NIL,
    };
}

impl Default for Links {
    fn default() -> Self {
        Links::DETACHED
    }
}

/// A doubly linked list threaded through the slots: front = oldest.
#[derive(Debug, Clone, Copy)]
struct List {
    head: usize,
    tail: usize,
    len: usize,
}

impl Default for List {
    fn default() -> Self {
        List {
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

/// Which of a slot's two lists.
#[derive(Debug, Clone, Copy)]
enum Which {
    /// Access order: front = least recently used.
    Lru,
    /// Dirty keys in flush order: front = flushed first. A slot is in it
    /// exactly when its entry is dirty.
    Dirty,
}

#[derive(Debug, Default)]
struct Slot {
    key: Vec<u8>,
    entry: CacheEntry,
    size: usize,
    lru: Links,
    dirty: Links,
}

/// One store's part of the cache: Kafka Streams' `NamedCache`. Entries live
/// in a slab indexed by a hash map (and a sorted map too for namespaces read
/// by range; a sorted map alone made every lookup a walk of key
/// comparisons: half the time of a cached windowed count), with the LRU order and
/// the dirty order (Kafka's linked hash set) as intrusive lists: O(1) list
/// updates, no key copies per access.
#[derive(Debug, Default)]
struct NamedCache {
    /// Key → slot.
    index: KeyIndex,
    /// The same in key order, once [`RecordCache::keep_ordered`] asked.
    ordered: Option<BTreeMap<Vec<u8>, usize>>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    lru: List,
    dirty: List,
    size_bytes: usize,
    metrics: CacheMetrics,
}

impl NamedCache {
    fn put(&mut self, key: &[u8], entry: CacheEntry) {
        self.metrics.puts += 1;
        let size = entry_size_bytes(key, &entry);
        if let Some(&i) = self.index.get(key) {
            if !entry.dirty && self.slots[i].entry.dirty {
                return;
            }
            self.metrics.overwrites += 1;
            let slot = &mut self.slots[i];
            let was_dirty = slot.entry.dirty;
            let is_dirty = entry.dirty;
            self.size_bytes = self.size_bytes - slot.size + size;
            slot.entry = entry;
            slot.size = size;
            self.unlink(Which::Lru, i);
            self.push_back(Which::Lru, i);
            if was_dirty {
                self.unlink(Which::Dirty, i);
            }
            if is_dirty {
                self.push_back(Which::Dirty, i);
            }
        } else {
            let is_dirty = entry.dirty;
            let i = self.alloc(Slot {
                key: key.to_vec(),
                entry,
                size,
                lru: Links::DETACHED,
                dirty: Links::DETACHED,
            });
            self.index.insert(key.to_vec(), i);
            if let Some(ordered) = &mut self.ordered {
                ordered.insert(key.to_vec(), i);
            }
            self.push_back(Which::Lru, i);
            if is_dirty {
                self.push_back(Which::Dirty, i);
            }
            self.size_bytes += size;
        }
    }

    fn get(&mut self, key: &[u8]) -> Option<&CacheEntry> {
        let Some(&i) = self.index.get(key) else {
            self.metrics.misses += 1;
            return None;
        };
        self.metrics.hits += 1;
        self.unlink(Which::Lru, i);
        self.push_back(Which::Lru, i);
        Some(&self.slots[i].entry)
    }

    /// Kafka Streams' `NamedCache.evict`: removes the least recently used
    /// entry; if it was dirty, flushes the namespace with it first.
    fn evict_eldest(&mut self, out: &mut Vec<DirtyEntry>) {
        let i = self.lru.head;
        if i == NIL {
            return;
        }
        self.metrics.evictions += 1;
        let slot = self.remove(i);
        if slot.entry.dirty {
            self.metrics.flushes += 1;
            out.push(DirtyEntry {
                key: slot.key,
                value: slot.entry.value,
                context: slot.entry.context,
            });
            self.drain_dirty(out);
        }
    }

    /// Kafka Streams' `NamedCache.flush()`.
    fn flush_into(&mut self, out: &mut Vec<DirtyEntry>) {
        self.metrics.flushes += 1;
        self.drain_dirty(out);
    }

    /// Hands out every dirty entry in dirty order, marking it clean;
    /// flushed tombstones leave the cache.
    fn drain_dirty(&mut self, out: &mut Vec<DirtyEntry>) {
        out.reserve(self.dirty.len);
        let mut i = self.dirty.head;
        while i != NIL {
            let next = self.slots[i].dirty.next;
            if self.slots[i].entry.value.is_none() {
                let slot = self.remove(i);
                out.push(DirtyEntry {
                    key: slot.key,
                    value: None,
                    context: slot.entry.context,
                });
            } else {
                let slot = &mut self.slots[i];
                slot.entry.dirty = false;
                slot.dirty = Links::DETACHED;
                out.push(DirtyEntry {
                    key: slot.key.clone(),
                    value: slot.entry.value.clone(),
                    context: slot.entry.context.clone(),
                });
            }
            i = next;
        }
        self.dirty = List::default();
    }

    /// Removes slot `i` from the index and both lists, returning its data.
    fn remove(&mut self, i: usize) -> Slot {
        self.unlink(Which::Lru, i);
        if self.slots[i].entry.dirty {
            self.unlink(Which::Dirty, i);
        }
        let slot = std::mem::take(&mut self.slots[i]);
        self.free.push(i);
        self.index.remove(&slot.key);
        if let Some(ordered) = &mut self.ordered {
            ordered.remove(&slot.key);
        }
        self.size_bytes -= slot.size;
        slot
    }

    fn alloc(&mut self, slot: Slot) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        }
    }

    fn list(&mut self, which: Which) -> &mut List {
        match which {
            Which::Lru => &mut self.lru,
            Which::Dirty => &mut self.dirty,
        }
    }

    fn links(&mut self, i: usize, which: Which) -> &mut Links {
        let slot = &mut self.slots[i];
        match which {
            Which::Lru => &mut slot.lru,
            Which::Dirty => &mut slot.dirty,
        }
    }

    fn push_back(&mut self, which: Which, i: usize) {
        let tail = self.list(which).tail;
        *self.links(i, which) = Links {
            prev: tail,
            next: NIL,
        };
        if tail == NIL {
            self.list(which).head = i;
        } else {
            self.links(tail, which).next = i;
        }
        let list = self.list(which);
        list.tail = i;
        list.len += 1;
    }

    fn unlink(&mut self, which: Which, i: usize) {
        let Links { prev, next } = *self.links(i, which);
        if prev == NIL {
            self.list(which).head = next;
        } else {
            self.links(prev, which).next = next;
        }
        if next == NIL {
            self.list(which).tail = prev;
        } else {
            self.links(next, which).prev = prev;
        }
        *self.links(i, which) = Links::DETACHED;
        self.list(which).len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "0_0-store";
    const OTHER: &str = "0_1-other";

    fn ctx(offset: i64) -> EntryContext {
        EntryContext {
            timestamp: 1000 + offset,
            headers: Headers::new(),
            topic: Some("input".into()),
            partition: 0,
            offset,
        }
    }

    fn write(value: &str, offset: i64) -> CacheEntry {
        CacheEntry::dirty(Some(value.as_bytes().to_vec()), ctx(offset))
    }

    /// Size of `write(value, _)` under key `key`.
    fn size(key: &str, value: &str) -> usize {
        key.len() + value.len() + "input".len() + ENTRY_OVERHEAD_BYTES
    }

    fn keys(entries: &[DirtyEntry]) -> Vec<&str> {
        entries
            .iter()
            .map(|e| std::str::from_utf8(&e.key).unwrap())
            .collect()
    }

    fn values(entries: &[DirtyEntry]) -> Vec<Option<&str>> {
        entries
            .iter()
            .map(|e| e.value.as_deref().map(|v| std::str::from_utf8(v).unwrap()))
            .collect()
    }

    #[test]
    fn overhead_is_kafka_streams_45_bytes() {
        assert_eq!(ENTRY_OVERHEAD_BYTES, 45);
        let mut headers = Headers::new();
        headers.add("h1", Some(b"abc")).add("h2", None);
        let entry = CacheEntry::dirty(Some(b"value".to_vec()), EntryContext { headers, ..ctx(0) });
        // key 3 + value 5 + topic 5 + headers (2 + 3) + (2 + 0) + 45
        assert_eq!(entry_size_bytes(b"key", &entry), 3 + 5 + 5 + 5 + 2 + 45);
        // Clean entry: no topic, no headers.
        assert_eq!(
            entry_size_bytes(b"k", &CacheEntry::clean(b"v".to_vec())),
            47
        );
        // Tombstone: no value bytes.
        assert_eq!(
            entry_size_bytes(b"k", &CacheEntry::tombstone(ctx(0))),
            1 + 5 + 45
        );
        // Java counts UTF-16 units: "é" is 2 bytes in UTF-8, 1 char in Java.
        let mut entry = CacheEntry::tombstone(EntryContext::none());
        entry.context.topic = Some("é".into());
        assert_eq!(entry_size_bytes(b"", &entry), 1 + 45);
    }

    #[test]
    fn consecutive_updates_flush_once_with_the_last_value() {
        let mut cache = RecordCache::new(10_000);
        for (offset, value) in ["1", "2", "3"].into_iter().enumerate() {
            assert!(cache.put(NS, b"a", write(value, offset as i64)).is_empty());
        }
        assert_eq!(cache.dirty_len(NS), 1);
        let flushed = cache.flush_entries(NS);
        assert_eq!(keys(&flushed), ["a"]);
        assert_eq!(values(&flushed), [Some("3")]);
        // The context of the write that produced the value.
        assert_eq!(flushed[0].context, ctx(2));
        // Flushed entries stay cached, clean; a second flush has nothing.
        assert_eq!(cache.peek(NS, b"a").map(|e| e.dirty), Some(false));
        assert!(cache.flush_entries(NS).is_empty());
        assert_eq!(cache.metrics().overwrites, 2);
    }

    #[test]
    fn flush_order_is_arrival_order_of_each_keys_latest_update() {
        // NamedCache.put: dirtyKeys.remove(key); dirtyKeys.add(key).
        let mut cache = RecordCache::new(10_000);
        let _ = cache.put(NS, b"a", write("a1", 0));
        let _ = cache.put(NS, b"b", write("b1", 1));
        let _ = cache.put(NS, b"c", write("c1", 2));
        let _ = cache.put(NS, b"a", write("a2", 3));
        let flushed = cache.flush_entries(NS);
        assert_eq!(keys(&flushed), ["b", "c", "a"]);
        assert_eq!(values(&flushed), [Some("b1"), Some("c1"), Some("a2")]);
        let offsets: Vec<i64> = flushed.iter().map(|e| e.context.offset).collect();
        assert_eq!(offsets, [1, 2, 3]);

        // After a flush the order starts afresh; a clean entry re-dirtied
        // joins at the end.
        let _ = cache.put(NS, b"c", write("c2", 4));
        let _ = cache.put(NS, b"a", write("a3", 5));
        assert_eq!(keys(&cache.flush_entries(NS)), ["c", "a"]);
    }

    #[test]
    fn a_read_hit_does_not_dirty() {
        let mut cache = RecordCache::new(10_000);
        let _ = cache.put(NS, b"a", CacheEntry::clean(b"stored".to_vec()));
        let hit = cache.get(NS, b"a").cloned();
        assert_eq!(
            hit.as_ref().and_then(|e| e.value.as_deref()),
            Some(&b"stored"[..])
        );
        assert_eq!(hit.map(|e| e.dirty), Some(false));
        assert!(cache.get(NS, b"missing").is_none());
        assert!(cache.flush_entries(NS).is_empty());
        let metrics = cache.namespace_metrics(NS).unwrap_or_default();
        assert_eq!((metrics.hits, metrics.misses), (1, 1));
        assert_eq!(metrics.hit_ratio(), Some(0.5));
        // A dirty entry read back stays dirty, and is flushed once.
        let _ = cache.put(NS, b"b", write("v", 0));
        assert!(cache.get(NS, b"b").is_some_and(|e| e.dirty));
        assert_eq!(keys(&cache.flush_entries(NS)), ["b"]);
    }

    #[test]
    fn a_clean_fill_never_replaces_a_dirty_entry() {
        let mut cache = RecordCache::new(10_000);
        let _ = cache.put(NS, b"a", write("new", 0));
        let _ = cache.put(NS, b"a", CacheEntry::clean(b"stale".to_vec()));
        let flushed = cache.flush_entries(NS);
        assert_eq!(values(&flushed), [Some("new")]);
        // Once clean, a fill may replace it.
        let _ = cache.put(NS, b"a", CacheEntry::clean(b"fill".to_vec()));
        assert_eq!(
            cache.peek(NS, b"a").and_then(|e| e.value.as_deref()),
            Some(&b"fill"[..])
        );
    }

    #[test]
    fn tombstones_flush_as_none_and_leave_the_cache() {
        let mut cache = RecordCache::new(10_000);
        let _ = cache.put(NS, b"a", write("1", 0));
        let _ = cache.put(NS, b"b", write("2", 1));
        let _ = cache.delete(NS, b"a", ctx(2));
        // A cached delete answers reads: Some(entry with no value).
        assert_eq!(cache.get(NS, b"a").map(|e| e.value.is_none()), Some(true));
        let flushed = cache.flush_entries(NS);
        assert_eq!(keys(&flushed), ["b", "a"]);
        assert_eq!(values(&flushed), [Some("2"), None]);
        assert_eq!(flushed[1].context, ctx(2));
        assert!(cache.peek(NS, b"a").is_none());
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.size_bytes(), size("b", "2"));
    }

    #[test]
    fn evicting_a_dirty_entry_flushes_its_namespace_first() {
        // Room for exactly three one-byte entries.
        let mut cache = RecordCache::new(3 * size("a", "1"));
        let _ = cache.put(NS, b"a", write("1", 0));
        let _ = cache.put(NS, b"b", write("2", 1));
        let _ = cache.put(NS, b"c", write("3", 2));
        // Touch `a`: `b` becomes the eldest.
        assert!(cache.get(NS, b"a").is_some());
        let flushed = cache.put(NS, b"d", write("4", 3));
        // The evicted entry first, then the remaining dirty entries in dirty
        // order (the new one included).
        assert_eq!(keys(&flushed), ["b", "a", "c", "d"]);
        assert_eq!(
            values(&flushed),
            [Some("2"), Some("1"), Some("3"), Some("4")]
        );
        assert_eq!(flushed[0].context, ctx(1));
        assert!(cache.peek(NS, b"b").is_none());
        assert_eq!(cache.dirty_len(NS), 0);
        assert_eq!(cache.len(), 3);
        let metrics = cache.metrics();
        assert_eq!((metrics.evictions, metrics.flushes), (1, 1));
    }

    #[test]
    fn clean_entries_evict_silently() {
        let mut cache = RecordCache::new(2 * size("a", "1"));
        let _ = cache.put(NS, b"a", write("1", 0));
        let _ = cache.put(NS, b"b", write("2", 1));
        assert_eq!(cache.flush_entries(NS).len(), 2);
        // Both clean now: evicting `a` hands nothing back.
        let flushed = cache.put(NS, b"c", write("3", 2));
        assert!(flushed.is_empty());
        assert!(cache.peek(NS, b"a").is_none());
        assert_eq!(cache.metrics().evictions, 1);
        // The dirty `c` is still pending.
        assert_eq!(keys(&cache.flush_entries(NS)), ["c"]);
    }

    #[test]
    fn a_clean_fill_can_evict_a_dirty_entry() {
        let mut cache = RecordCache::new(size("a", "1"));
        let _ = cache.put(NS, b"a", write("1", 0));
        let flushed = cache.put(NS, b"b", CacheEntry::clean(b"2".to_vec()));
        assert_eq!(keys(&flushed), ["a"]);
        assert!(cache.peek(NS, b"b").is_some());
    }

    #[test]
    fn byte_budget_holds_after_every_put() {
        let max = 500;
        let mut cache = RecordCache::new(max);
        let mut pending: HashMap<(String, Vec<u8>), Option<Vec<u8>>> = HashMap::new();
        let mut written: HashMap<(String, Vec<u8>), Option<Vec<u8>>> = HashMap::new();
        // A deterministic pseudo-random workload over two namespaces.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for step in 0..5_000_i64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let ns = match state % 3 {
                0 => OTHER,
                _ => NS,
            };
            let key = format!("k{}", (state >> 8) % 40).into_bytes();
            let len = usize::try_from((state >> 16) % 120).unwrap();
            let op = (state >> 24) % 10;
            let flushed = match op {
                0 => {
                    pending.insert((ns.to_owned(), key.clone()), None);
                    cache.delete(ns, &key, ctx(step))
                }
                1 => {
                    let _ = cache.get(ns, &key);
                    Vec::new()
                }
                2 => cache.flush_entries(ns),
                _ => {
                    let value = vec![b'x'; len];
                    pending.insert((ns.to_owned(), key.clone()), Some(value.clone()));
                    cache.put(ns, &key, CacheEntry::dirty(Some(value), ctx(step)))
                }
            };
            // Whatever comes back belongs to the namespace written, with
            // distinct keys.
            let mut seen = std::collections::HashSet::new();
            for entry in flushed {
                assert!(seen.insert(entry.key.clone()));
                written.insert((ns.to_owned(), entry.key), entry.value);
            }
            assert!(
                cache.size_bytes() <= max,
                "step {step}: {}",
                cache.size_bytes()
            );
            assert_eq!(
                cache.size_bytes(),
                cache.namespace_size_bytes(NS) + cache.namespace_size_bytes(OTHER)
            );
        }
        for ns in [NS, OTHER] {
            for entry in cache.flush_entries(ns) {
                written.insert((ns.to_owned(), entry.key), entry.value);
            }
        }
        // Nothing lost: the store sees every key's last write.
        assert_eq!(written, pending);
        let metrics = cache.metrics();
        assert!(metrics.evictions > 100, "{metrics:?}");
        assert!(metrics.flushes > metrics.evictions / 10, "{metrics:?}");
    }

    #[test]
    fn an_entry_larger_than_the_budget_is_flushed_at_once() {
        let mut cache = RecordCache::new(50);
        let flushed = cache.put(NS, b"big", write(&"x".repeat(100), 0));
        assert_eq!(keys(&flushed), ["big"]);
        assert_eq!(cache.size_bytes(), 0);
        assert!(cache.is_empty());
    }

    #[test]
    fn namespaces_flush_independently() {
        let mut cache = RecordCache::new(10_000);
        let _ = cache.put(NS, b"a", write("1", 0));
        let _ = cache.put(OTHER, b"a", write("other", 1));
        let _ = cache.put(NS, b"b", write("2", 2));
        assert_eq!(values(&cache.flush_entries(NS)), [Some("1"), Some("2")]);
        assert_eq!(cache.dirty_len(OTHER), 1);
        assert_eq!(values(&cache.flush_entries(OTHER)), [Some("other")]);
        assert!(cache.flush_entries("unknown").is_empty());
    }

    #[test]
    fn eviction_only_touches_the_namespace_written() {
        // Kafka Streams' ThreadCache.maybeEvict: a put never flushes another
        // store; the budget still holds.
        let mut cache = RecordCache::new(3 * size("a", "1"));
        let _ = cache.put(OTHER, b"a", write("1", 0));
        let _ = cache.put(OTHER, b"b", write("2", 1));
        let _ = cache.put(NS, b"c", write("3", 2));
        // Over budget: the eldest entry overall is OTHER's `a`, but the
        // victim is NS's own (only) entry.
        let flushed = cache.put(NS, b"d", write("4", 3));
        assert_eq!(keys(&flushed), ["c", "d"]);
        assert_eq!(cache.dirty_len(OTHER), 2);
        assert!(cache.size_bytes() <= cache.max_bytes());
        // `d` was flushed with the namespace but stays cached, clean.
        assert!(cache.peek(NS, b"c").is_none());
        assert_eq!(cache.peek(NS, b"d").map(|e| e.dirty), Some(false));
        assert_eq!(cache.namespace_size_bytes(NS), size("d", "4"));
    }

    #[test]
    fn cache_size_zero_writes_through() {
        let mut cache = RecordCache::new(0);
        assert!(!cache.is_enabled());
        for (offset, value) in ["1", "2"].into_iter().enumerate() {
            let flushed = cache.put(NS, b"a", write(value, offset as i64));
            assert_eq!(values(&flushed), [Some(value)]);
            assert_eq!(flushed[0].context, ctx(offset as i64));
        }
        let flushed = cache.delete(NS, b"a", ctx(2));
        assert_eq!(values(&flushed), [None]);
        // Clean fills are dropped; nothing is ever cached.
        assert!(cache
            .put(NS, b"b", CacheEntry::clean(b"x".to_vec()))
            .is_empty());
        assert!(cache.get(NS, b"a").is_none());
        assert!(cache.is_empty());
        assert_eq!(cache.size_bytes(), 0);
        let metrics = cache.metrics();
        // Each dirty put is an eviction-triggered flush.
        assert_eq!(
            (metrics.puts, metrics.evictions, metrics.flushes),
            (4, 4, 3)
        );
        assert!(cache.flush_entries(NS).is_empty());
    }

    #[test]
    fn listener_flush_delivers_in_order_and_stops_on_error() {
        let mut cache = RecordCache::new(10_000);
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            let _ = cache.put(NS, key.as_bytes(), write(key, i as i64));
        }
        let mut seen = Vec::new();
        let result: Result<(), String> = cache.flush(NS, |entry| {
            if entry.key == b"b" {
                return Err("store failed".to_owned());
            }
            seen.push(entry.key);
            Ok(())
        });
        assert_eq!(result, Err("store failed".to_owned()));
        assert_eq!(seen, [b"a".to_vec()]);
        // Marked clean before delivery, as in Kafka Streams.
        assert_eq!(cache.dirty_len(NS), 0);

        let _ = cache.put(NS, b"d", write("d", 3));
        let mut seen = Vec::new();
        let mut listener = |entry: DirtyEntry| -> Result<(), ()> {
            seen.push(entry.key);
            Ok(())
        };
        assert_eq!(cache.flush(NS, &mut listener), Ok(()));
        assert_eq!(seen, [b"d".to_vec()]);
    }

    #[test]
    fn range_is_in_key_order_with_tombstones() {
        let mut cache = RecordCache::new(10_000);
        for key in ["d", "b", "a", "c"] {
            let _ = cache.put(NS, key.as_bytes(), write(key, 0));
        }
        let _ = cache.delete(NS, b"c", ctx(1));
        let got: Vec<(&[u8], bool)> = cache
            .range(NS, Some(b"b"), Some(b"d"))
            .map(|(k, e)| (k, e.value.is_some()))
            .collect();
        assert_eq!(
            got,
            [(&b"b"[..], true), (&b"c"[..], false), (&b"d"[..], true)]
        );
        assert_eq!(cache.range(NS, None, Some(b"a")).count(), 1);
        assert_eq!(cache.range(NS, None, None).count(), 4);
        assert_eq!(cache.range(NS, Some(b"d"), Some(b"a")).count(), 0);
        assert_eq!(cache.range("unknown", None, None).count(), 0);
    }

    #[test]
    fn close_drops_a_namespace_and_its_bytes() {
        let mut cache = RecordCache::new(10_000);
        let _ = cache.put(NS, b"a", write("1", 0));
        let _ = cache.put(OTHER, b"a", write("1", 0));
        cache.close(NS);
        assert_eq!(cache.size_bytes(), size("a", "1"));
        assert!(cache.flush_entries(NS).is_empty());
        // Counters of the closed namespace survive in the total.
        assert_eq!(cache.metrics().puts, 2);
    }

    #[test]
    fn slots_are_reused() {
        let mut cache = RecordCache::new(size("k0", "v"));
        for i in 0..100 {
            let _ = cache.put(NS, format!("k{i}").as_bytes(), write("v", i));
        }
        let slots = cache.namespaces.get(NS).map_or(0, |c| c.slots.len());
        assert!(slots <= 2, "{slots} slots");
    }

    #[test]
    fn entry_context_from_record_context() {
        let headers = Headers::new().with("h", "v");
        let record = RecordContext {
            topic: "in",
            partition: 3,
            offset: 42,
            timestamp: 7,
            headers: &headers,
        };
        let context = EntryContext::from(&record);
        assert_eq!(context.topic.as_deref(), Some("in"));
        assert_eq!(
            (context.partition, context.offset, context.timestamp),
            (3, 42, 7)
        );
        assert_eq!(context.headers, headers);
    }
}

//! Window stores: Kafka Streams' `WindowStore<Bytes, byte[]>`, in memory
//! (`InMemoryWindowStore`) and in RocksDB (the segmented
//! `RocksDBWindowStore`), behind one enum, [`WinStore`].
//!
//! # Semantics
//!
//! As in Kafka Streams (`InMemoryWindowStore`,
//! `AbstractRocksDBSegmentedBytesStore`):
//!
//! - the *observed stream time* is the largest window start ever put,
//!   including puts that delete (`None`) and puts that are then dropped; it
//!   starts at `i64::MIN` and only [`WindowStore::put`] advances it;
//! - the *expiry bound* is `observed stream time - retention`: an entry whose
//!   window start is at or before it is expired. Reads never return expired
//!   entries, even those not yet physically deleted, and a put (or delete) to
//!   an expired window is dropped: Kafka Streams logs "Skipping record for
//!   expired segment" and counts it in its `expired-window-record-drop`
//!   sensor; here it is logged at debug level and counted by
//!   [`WinStore::expired_puts`];
//! - the subtraction is done in `i128`, so it is exact for every window start
//!   and retention (no overflow, no saturation at `i64::MIN`). A negative
//!   retention is taken as 0 (Kafka Streams rejects it); with a retention of
//!   0 every put is dropped, as in Kafka Streams' in-memory store.
//!
//! # Physical expiry
//!
//! - In memory: entries are held in one map per window start, the maps
//!   ordered by start (Kafka Streams' layout); a put that advances stream
//!   time first drops the maps of the starts at or before the expiry bound,
//!   whole (O(log w) per window dropped, whatever its number of entries).
//! - RocksDB: one database, not one per segment. Expired entries are deleted
//!   by a scan each time the expiry bound enters a new *segment* (Kafka
//!   Streams' segment interval, `max(retention / 2, 60 s)`, segments counted
//!   from the epoch); the scan is skipped when the smallest window start
//!   present (tracked on put) is not expired. Between scans expired entries
//!   stay on disk, for at most one segment interval of stream time, but are
//!   filtered out of reads. Each entry is thus scanned a bounded number of
//!   times (about `retention / segment interval + 1`) in its life.
//!
//! # RocksDB encoding
//!
//! The storage key is Kafka Streams' `WindowKeySchema` layout without the
//! sequence number: the key bytes, then the window start as 8 bytes
//! big-endian *with the sign bit flipped*, so that unsigned byte order is the
//! numeric order of starts (negative starts before 0 before positive ones).
//! The value is stored as is. Since keys are variable-length, storage order
//! is not (key, start) order across keys of which one is a prefix of the
//! other (`a` ++ start vs `ab` ++ start): [`WindowStore::fetch_range`] seeks
//! `key ++ from`, stops after `key ++ to` and skips entries of any other key
//! (their length differs), as `WindowKeySchema` does; [`WindowStore::fetch_all`]
//! scans and sorts by (key, start).
//!
//! [`WindowStore::fetch_all`] reads every entry in both backends, whatever
//! the time range (Kafka Streams' segmented store reads only the segments of
//! the range); it is meant for punctuations and interactive queries, not the
//! record path.
//!
//! The observed stream time is persisted, not recomputed: it is stored under
//! the key `stime` (5 bytes: shorter than any storage key, which has at least
//! the 8 bytes of the start, so never a window entry) as 8 bytes big-endian,
//! written in the same write batch as the put that advances it. A reopened
//! store therefore expires exactly as before it was closed, including after
//! stream time was advanced by deletes or dropped puts, which leave no entry
//! to recompute it from.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::collections::{btree_map, hash_map, BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use ::rocksdb::{WriteBatch, WriteOptions, DB};

use super::rocksdb::{backend, open_db, write_options};
use super::{Backend, StoreError, TaskDirectory, WindowEntries, WindowStore, Windows};

/// Kafka Streams' smallest segment interval (`RocksDbWindowBytesStoreSupplier`
/// uses `max(retention / 2, 60 000 ms)`).
const MIN_SEGMENT_INTERVAL_MS: i64 = 60_000;
/// Deletes per write batch when purging expired entries from RocksDB.
const PURGE_BATCH: usize = 10_000;
/// The RocksDB key of the persisted observed stream time (shorter than the
/// 8 bytes of a window start, so never a storage key).
const STREAM_TIME_KEY: &[u8] = b"stime";
/// Bytes of an encoded window start.
const START_LEN: usize = 8;

/// Stream time and retention, shared by both backends.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// Retention in milliseconds, never negative.
    retention_ms: i64,
    /// The largest window start ever put (`i64::MIN` if none).
    observed: i64,
}

impl Clock {
    fn new(retention_ms: i64) -> Self {
        Clock {
            retention_ms: retention_ms.max(0),
            observed: i64::MIN,
        }
    }

    /// This clock after a put to the window starting at `start`.
    fn advanced(self, start: i64) -> Self {
        Clock {
            observed: self.observed.max(start),
            ..self
        }
    }

    /// `observed - retention`, the latest expired window start; `None` when
    /// that is below `i64::MIN` (nothing is expired).
    fn expiry_bound(self) -> Option<i64> {
        i64::try_from(i128::from(self.observed) - i128::from(self.retention_ms)).ok()
    }

    /// Whether the window starting at `start` is expired.
    fn is_expired(self, start: i64) -> bool {
        self.expiry_bound().is_some_and(|bound| start <= bound)
    }

    /// `from..=to` without its expired part; `None` when nothing is left.
    fn live(self, from: i64, to: i64) -> Option<(i64, i64)> {
        let from = match self.expiry_bound() {
            // The bound is `i64::MAX` only if everything is expired.
            Some(bound) => from.max(bound.checked_add(1)?),
            None => from,
        };
        (from <= to).then_some((from, to))
    }
}

/// Logs a put dropped because its window is expired.
fn log_expired(store: &str, window_start: i64, clock: Clock) {
    tracing::debug!(
        store,
        window_start,
        observed_stream_time = clock.observed,
        retention_ms = clock.retention_ms,
        "skipping record for expired segment"
    );
}

// ---- in memory ----

/// Bytes a [`SmallBytes`] holds inline, without an allocation.
const INLINE_LEN: usize = 22;

/// A key or value of the in-memory store: up to [`INLINE_LEN`] bytes inline
/// (typical keys and aggregates: no allocation per entry), longer ones in a
/// boxed slice. As large as a `Vec<u8>` (24 bytes). Hashes and compares as
/// its bytes, so a map keyed by it is read with a `&[u8]` (`Borrow`).
#[derive(Clone)]
enum SmallBytes {
    /// `bytes[..len]`.
    Inline { len: u8, bytes: [u8; INLINE_LEN] },
    /// Longer than [`INLINE_LEN`].
    Heap(Box<[u8]>),
}

impl SmallBytes {
    fn new(bytes: &[u8]) -> Self {
        match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= INLINE_LEN => {
                let mut inline = [0; INLINE_LEN];
                inline[..bytes.len()].copy_from_slice(bytes);
                SmallBytes::Inline { len, bytes: inline }
            }
            _ => SmallBytes::Heap(bytes.into()),
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            SmallBytes::Heap(bytes) => bytes,
        }
    }

    /// Replaces the bytes, in the same allocation when there is one of the
    /// right length.
    fn set(&mut self, new: &[u8]) {
        if let SmallBytes::Heap(old) = self {
            if old.len() == new.len() {
                old.copy_from_slice(new);
                return;
            }
        }
        *self = SmallBytes::new(new);
    }
}

impl Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SmallBytes {}

impl Hash for SmallBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `[u8]` hashes, for `Borrow<[u8]>`.
        self.as_slice().hash(state);
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().fmt(f)
    }
}

/// The multiplier of [`KeyHasher`] (2^64 / the golden ratio, odd).
const HASH_MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// The 128-bit product of `a` and `b`, its halves xor-ed: every bit of the
/// result depends on every bit of both (foldhash's and ahash's mixer).
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// Builds the [`KeyHasher`]s of one store, from a seed drawn from the
/// standard library's random keys when the store is created: which keys
/// collide cannot be computed in advance (a fast hash, not a cryptographic
/// one).
#[derive(Debug, Clone, Copy)]
struct KeyHashBuilder {
    seed: u64,
}

impl KeyHashBuilder {
    fn random() -> Self {
        KeyHashBuilder {
            seed: RandomState::new().hash_one(HASH_MULTIPLIER),
        }
    }
}

impl BuildHasher for KeyHashBuilder {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.seed)
    }
}

/// The hasher of the in-memory store's maps: eight bytes at a time, each
/// word mixed into the state by a folded multiply. A key of 8 bytes (its
/// length, then one word) costs two multiplies, where the standard
/// library's SipHash costs some hundred instructions.
struct KeyHasher(u64);

impl KeyHasher {
    fn mix(&mut self, word: u64) {
        self.0 = folded_multiply(self.0 ^ word, HASH_MULTIPLIER);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, mut bytes: &[u8]) {
        while let Some((word, rest)) = bytes.split_first_chunk::<8>() {
            self.mix(u64::from_le_bytes(*word));
            bytes = rest;
        }
        if !bytes.is_empty() {
            // 1 to 7 bytes left: zero-padded, their count in the last byte.
            let mut word = [0; 8];
            for (to, from) in word.iter_mut().zip(bytes) {
                *to = *from;
            }
            word[7] = bytes.len() as u8;
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The entries of one window start: key → value.
type Window = HashMap<SmallBytes, SmallBytes, KeyHashBuilder>;

/// A window store in memory: Kafka Streams' `InMemoryWindowStore`. Nothing
/// survives a restart; the store is rebuilt from its changelog.
///
/// As in Kafka Streams, the entries are held in one hash map per window
/// start, the maps ordered by start: a read or write of (key, start) is one
/// lookup among the (few) live starts, then one hash lookup; expiry drops
/// whole maps. Keys and values of up to 22 bytes are held inline in the
/// maps; a write to an existing entry overwrites it in place. The map of an
/// expired window is cleared and kept for the next new window (one at a
/// time), so that in a steady stream windows do not grow their tables
/// again.
#[derive(Clone)]
pub struct InMemoryWindowStore {
    name: String,
    clock: Clock,
    expired_puts: u64,
    /// One map per window start, never empty, none expired.
    windows: BTreeMap<i64, Window>,
    /// Entries in `windows`.
    len: usize,
    hasher: KeyHashBuilder,
    /// An empty map, with the capacity an expired window left.
    spare: Option<Window>,
}

impl fmt::Debug for InMemoryWindowStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryWindowStore")
            .field("name", &self.name)
            .field("retention_ms", &self.clock.retention_ms)
            .field("observed_stream_time", &self.clock.observed)
            .field("windows", &self.windows.len())
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl InMemoryWindowStore {
    /// An empty store called `name`, keeping windows for `retention_ms`
    /// (negative: 0) of stream time.
    pub fn new(name: impl Into<String>, retention_ms: i64) -> Self {
        let hasher = KeyHashBuilder::random();
        InMemoryWindowStore {
            name: name.into(),
            clock: Clock::new(retention_ms),
            expired_puts: 0,
            windows: BTreeMap::new(),
            len: 0,
            hasher,
            spare: None,
        }
    }

    /// The number of entries held. Expired entries are removed on put, so
    /// after a put this counts unexpired entries only.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Puts dropped (and deletes ignored) because their window was expired.
    pub fn expired_puts(&self) -> u64 {
        self.expired_puts
    }

    /// The value of (`key`, `window_start`), borrowed.
    fn get(&self, key: &[u8], window_start: i64) -> Option<&[u8]> {
        if self.clock.is_expired(window_start) {
            return None;
        }
        let value = self.windows.get(&window_start)?.get(key)?;
        Some(value.as_slice())
    }

    /// Sets (`key`, `window_start`) to `value`; the window is not expired.
    fn insert(&mut self, key: &[u8], window_start: i64, value: &[u8]) {
        let window = match self.windows.entry(window_start) {
            btree_map::Entry::Occupied(window) => window.into_mut(),
            btree_map::Entry::Vacant(vacant) => vacant.insert(
                self.spare
                    .take()
                    .unwrap_or_else(|| Window::with_hasher(self.hasher)),
            ),
        };
        if key.len() <= INLINE_LEN {
            // The key costs no allocation: hash it once.
            match window.entry(SmallBytes::new(key)) {
                hash_map::Entry::Occupied(mut entry) => entry.get_mut().set(value),
                hash_map::Entry::Vacant(entry) => {
                    entry.insert(SmallBytes::new(value));
                    self.len += 1;
                }
            }
        } else if let Some(old) = window.get_mut(key) {
            old.set(value);
        } else {
            window.insert(SmallBytes::new(key), SmallBytes::new(value));
            self.len += 1;
        }
    }

    /// Deletes (`key`, `window_start`), and its window's map if now empty.
    fn remove(&mut self, key: &[u8], window_start: i64) {
        let btree_map::Entry::Occupied(mut window) = self.windows.entry(window_start) else {
            return;
        };
        if window.get_mut().remove(key).is_some() {
            self.len -= 1;
            if window.get().is_empty() {
                let emptied = window.remove();
                self.recycle(emptied);
            }
        }
    }

    /// Keeps `window`'s map, emptied, for the next new window, unless the
    /// one kept is larger.
    fn recycle(&mut self, mut window: Window) {
        let kept = self.spare.as_ref().map(Window::capacity);
        if kept.is_none_or(|kept| kept < window.capacity()) {
            window.clear();
            self.spare = Some(window);
        }
    }

    /// Removes the windows at or before the expiry bound.
    fn remove_expired(&mut self) {
        let Some(bound) = self.clock.expiry_bound() else {
            return;
        };
        while let Some(first) = self.windows.first_entry() {
            if *first.key() > bound {
                break;
            }
            let expired = first.remove();
            self.len -= expired.len();
            self.recycle(expired);
        }
    }
}

impl WindowStore for InMemoryWindowStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn retention_ms(&self) -> i64 {
        self.clock.retention_ms
    }

    fn put(
        &mut self,
        key: &[u8],
        window_start: i64,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let clock = self.clock.advanced(window_start);
        if clock.observed != self.clock.observed {
            // Only a later stream time expires more.
            self.clock = clock;
            self.remove_expired();
        }
        if self.clock.is_expired(window_start) {
            self.expired_puts += 1;
            log_expired(&self.name, window_start, self.clock);
            return Ok(());
        }
        match value {
            Some(value) => self.insert(key, window_start, value),
            None => self.remove(key, window_start),
        }
        Ok(())
    }

    fn fetch(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(key, window_start).map(<[u8]>::to_vec))
    }

    fn fetch_with<R>(
        &self,
        key: &[u8],
        window_start: i64,
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, StoreError> {
        Ok(f(self.get(key, window_start)))
    }

    fn fetch_range(&self, key: &[u8], from: i64, to: i64) -> Result<Windows, StoreError> {
        let Some((from, to)) = self.clock.live(from, to) else {
            return Ok(Vec::new());
        };
        Ok(self
            .windows
            .range(from..=to)
            .filter_map(|(start, window)| Some((*start, window.get(key)?.as_slice().to_vec())))
            .collect())
    }

    fn fetch_all(&self, from: i64, to: i64) -> Result<WindowEntries, StoreError> {
        let Some((from, to)) = self.clock.live(from, to) else {
            return Ok(Vec::new());
        };
        let mut out: WindowEntries = self
            .windows
            .range(from..=to)
            .flat_map(|(start, window)| {
                window.iter().map(|(key, value)| {
                    (key.as_slice().to_vec(), *start, value.as_slice().to_vec())
                })
            })
            .collect();
        // By ascending start already: a stable sort by key keeps that order
        // within each key.
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn observed_stream_time(&self) -> i64 {
        self.clock.observed
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

// ---- RocksDB ----

/// The storage key of (key, window start): the key, then the start
/// big-endian with its sign bit flipped.
fn storage_key(key: &[u8], window_start: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + START_LEN);
    out.extend_from_slice(key);
    out.extend_from_slice(&(window_start ^ i64::MIN).to_be_bytes());
    out
}

/// Splits a storage key into (key, window start); `None` for the metadata
/// key (shorter than a start).
fn split_storage_key(bytes: &[u8]) -> Option<(&[u8], i64)> {
    let (key, start) = bytes.split_last_chunk::<START_LEN>()?;
    Some((key, i64::from_be_bytes(*start) ^ i64::MIN))
}

/// A window store in a RocksDB database of its own, under
/// `<task dir>/rocksdb/<name>`: Kafka Streams' `RocksDBWindowStore`, with the
/// options of [`super::RocksDbKeyValueStore`] (no write-ahead log: durable
/// after [`WindowStore::flush`] or a clean close). See the module docs for
/// the encoding and expiry. Dropping it closes the database (see
/// [`RocksDbWindowStore::close`] to see errors).
pub struct RocksDbWindowStore {
    name: String,
    path: PathBuf,
    db: DB,
    write_options: WriteOptions,
    clock: Clock,
    expired_puts: u64,
    /// Kafka Streams' segment interval: `max(retention / 2, 60 s)`.
    segment_interval_ms: i64,
    /// The segment of the expiry bound at the last purge (or at open).
    purged_segment: Option<i64>,
    /// No entry starts before this (`i64::MIN` when unknown, after open).
    min_start: i64,
}

impl fmt::Debug for RocksDbWindowStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksDbWindowStore")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("retention_ms", &self.clock.retention_ms)
            .field("observed_stream_time", &self.clock.observed)
            .finish_non_exhaustive()
    }
}

impl RocksDbWindowStore {
    /// Opens (creating it if missing) the window store `name` of a task, in
    /// `<task dir>/rocksdb/<name>`, keeping windows for `retention_ms`
    /// (negative: 0) of stream time. The observed stream time is the one
    /// persisted; the retention is not persisted and may change.
    pub fn open(name: &str, retention_ms: i64, dir: &TaskDirectory) -> Result<Self, StoreError> {
        let (db, path) = open_db(name, dir)?;
        let mut clock = Clock::new(retention_ms);
        let stored = db
            .get(STREAM_TIME_KEY)
            .map_err(|e| backend(name, "get", &path, e))?;
        if let Some(bytes) = stored {
            let bytes: [u8; 8] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt {
                    store: name.to_owned(),
                    reason: format!(
                        "the observed stream time is {} bytes long, not 8",
                        bytes.len()
                    ),
                })?;
            clock.observed = i64::from_be_bytes(bytes);
        }
        let segment_interval_ms = (clock.retention_ms / 2).max(MIN_SEGMENT_INTERVAL_MS);
        Ok(RocksDbWindowStore {
            name: name.to_owned(),
            path,
            db,
            write_options: write_options(),
            clock,
            expired_puts: 0,
            segment_interval_ms,
            // What is expired already is purged at the next segment.
            purged_segment: clock
                .expiry_bound()
                .map(|bound| bound.div_euclid(segment_interval_ms)),
            min_start: i64::MIN,
        })
    }

    /// The database's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Puts dropped (and deletes ignored) because their window was expired,
    /// since the store was opened.
    pub fn expired_puts(&self) -> u64 {
        self.expired_puts
    }

    /// Flushes the memtables, then closes the database.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.flush()
        // Dropping `self` closes the database.
    }

    fn error(&self, op: &str, e: ::rocksdb::Error) -> StoreError {
        backend(&self.name, op, &self.path, e)
    }

    fn write(&self, batch: WriteBatch, op: &str) -> Result<(), StoreError> {
        self.db
            .write_opt(batch, &self.write_options)
            .map_err(|e| self.error(op, e))
    }

    /// Deletes the expired entries if the expiry bound entered a new
    /// segment since the last purge and some entry may be expired.
    fn purge_if_new_segment(&mut self) -> Result<(), StoreError> {
        let Some(bound) = self.clock.expiry_bound() else {
            return Ok(());
        };
        let segment = bound.div_euclid(self.segment_interval_ms);
        if self.purged_segment.is_some_and(|purged| purged >= segment) {
            return Ok(());
        }
        if self.min_start <= bound {
            self.min_start = self.delete_through(bound)?;
        }
        self.purged_segment = Some(segment);
        Ok(())
    }

    /// Deletes every entry starting at or before `bound`; returns the
    /// smallest start left (`i64::MAX` if none).
    fn delete_through(&self, bound: i64) -> Result<i64, StoreError> {
        let mut min_start = i64::MAX;
        let mut batch = WriteBatch::default();
        let mut it = self.db.raw_iterator();
        it.seek_to_first();
        while let Some(stored) = it.key() {
            if let Some((_, start)) = split_storage_key(stored) {
                if start <= bound {
                    batch.delete(stored);
                    if batch.len() >= PURGE_BATCH {
                        self.write(std::mem::take(&mut batch), "purge")?;
                    }
                } else {
                    min_start = min_start.min(start);
                }
            }
            it.next();
        }
        it.status().map_err(|e| self.error("iteration", e))?;
        if !batch.is_empty() {
            self.write(batch, "purge")?;
        }
        Ok(min_start)
    }
}

impl WindowStore for RocksDbWindowStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn retention_ms(&self) -> i64 {
        self.clock.retention_ms
    }

    fn put(
        &mut self,
        key: &[u8],
        window_start: i64,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let clock = self.clock.advanced(window_start);
        let advanced = clock.observed != self.clock.observed;
        let expired = clock.is_expired(window_start);
        let mut batch = WriteBatch::default();
        if advanced {
            batch.put(STREAM_TIME_KEY, clock.observed.to_be_bytes());
        }
        if !expired {
            let stored = storage_key(key, window_start);
            match value {
                Some(value) => batch.put(stored, value),
                None => batch.delete(stored),
            }
        }
        if !batch.is_empty() {
            self.write(batch, "put")?;
        }
        self.clock = clock;
        if expired {
            self.expired_puts += 1;
            log_expired(&self.name, window_start, clock);
        } else if value.is_some() {
            self.min_start = self.min_start.min(window_start);
        }
        if advanced {
            self.purge_if_new_segment()?;
        }
        Ok(())
    }

    fn fetch(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>, StoreError> {
        if self.clock.is_expired(window_start) {
            return Ok(None);
        }
        self.db
            .get(storage_key(key, window_start))
            .map_err(|e| self.error("get", e))
    }

    fn fetch_with<R>(
        &self,
        key: &[u8],
        window_start: i64,
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, StoreError> {
        if self.clock.is_expired(window_start) {
            return Ok(f(None));
        }
        // Pinned: read in RocksDB's block cache or memtable, not copied.
        let value = self
            .db
            .get_pinned(storage_key(key, window_start))
            .map_err(|e| self.error("get", e))?;
        Ok(f(value.as_deref()))
    }

    fn fetch_range(&self, key: &[u8], from: i64, to: i64) -> Result<Windows, StoreError> {
        let mut out = Vec::new();
        let Some((from, to)) = self.clock.live(from, to) else {
            return Ok(out);
        };
        let upper = storage_key(key, to);
        let mut it = self.db.raw_iterator();
        it.seek(storage_key(key, from));
        while let (Some(stored), Some(value)) = (it.key(), it.value()) {
            if stored > upper.as_slice() {
                break;
            }
            // Every storage key between the bounds starts with `key`; those
            // of `key` itself are exactly as long as the bounds, those of
            // longer keys (`key` is their prefix) are not.
            if stored.len() == upper.len() {
                if let Some((_, start)) = split_storage_key(stored) {
                    out.push((start, value.to_vec()));
                }
            }
            it.next();
        }
        it.status().map_err(|e| self.error("iteration", e))?;
        Ok(out)
    }

    fn fetch_all(&self, from: i64, to: i64) -> Result<WindowEntries, StoreError> {
        let mut out = Vec::new();
        let Some((from, to)) = self.clock.live(from, to) else {
            return Ok(out);
        };
        let mut it = self.db.raw_iterator();
        it.seek_to_first();
        while let (Some(stored), Some(value)) = (it.key(), it.value()) {
            if let Some((key, start)) = split_storage_key(stored) {
                if (from..=to).contains(&start) {
                    out.push((key.to_vec(), start, value.to_vec()));
                }
            }
            it.next();
        }
        it.status().map_err(|e| self.error("iteration", e))?;
        // Storage order is (key, start) order except across keys of which
        // one is a prefix of the other: mostly sorted already.
        out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        Ok(out)
    }

    fn observed_stream_time(&self) -> i64 {
        self.clock.observed
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.db.flush().map_err(|e| self.error("flush", e))
    }
}

// ---- either ----

/// A window store of either backend (enum dispatch), as tasks hold them.
#[derive(Debug)]
pub enum WinStore {
    /// In memory: a hash map per window start.
    InMemory(InMemoryWindowStore),
    /// A RocksDB database under the task's directory.
    RocksDb(RocksDbWindowStore),
}

impl WinStore {
    /// Opens window store `name` of a task with `backend`, keeping windows
    /// for `retention_ms` of stream time: RocksDB opens (or creates)
    /// `<task dir>/rocksdb/<name>`; in memory starts empty and touches no
    /// file.
    pub fn open(
        name: &str,
        backend: Backend,
        retention_ms: i64,
        dir: &TaskDirectory,
    ) -> Result<Self, StoreError> {
        Ok(match backend {
            Backend::InMemory => WinStore::InMemory(InMemoryWindowStore::new(name, retention_ms)),
            Backend::RocksDb => {
                WinStore::RocksDb(RocksDbWindowStore::open(name, retention_ms, dir)?)
            }
        })
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        match self {
            WinStore::InMemory(_) => Backend::InMemory,
            WinStore::RocksDb(_) => Backend::RocksDb,
        }
    }

    /// Whether the store survives a restart (RocksDB): only those are
    /// checkpointed.
    pub fn persistent(&self) -> bool {
        matches!(self, WinStore::RocksDb(_))
    }

    /// Puts dropped (and deletes ignored) because their window was expired,
    /// since the store was opened (Kafka Streams' expired-record drops).
    pub fn expired_puts(&self) -> u64 {
        match self {
            WinStore::InMemory(s) => s.expired_puts(),
            WinStore::RocksDb(s) => s.expired_puts(),
        }
    }

    /// Flushes and closes the store.
    pub fn close(self) -> Result<(), StoreError> {
        match self {
            WinStore::InMemory(_) => Ok(()),
            WinStore::RocksDb(store) => store.close(),
        }
    }
}

/// Forwards a call to the backend.
macro_rules! dispatch {
    ($self:expr, $store:ident => $call:expr) => {
        match $self {
            WinStore::InMemory($store) => $call,
            WinStore::RocksDb($store) => $call,
        }
    };
}

impl WindowStore for WinStore {
    fn name(&self) -> &str {
        dispatch!(self, s => s.name())
    }

    fn retention_ms(&self) -> i64 {
        dispatch!(self, s => s.retention_ms())
    }

    fn put(
        &mut self,
        key: &[u8],
        window_start: i64,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.put(key, window_start, value))
    }

    fn fetch(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self, s => s.fetch(key, window_start))
    }

    fn fetch_with<R>(
        &self,
        key: &[u8],
        window_start: i64,
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, StoreError> {
        dispatch!(self, s => s.fetch_with(key, window_start, f))
    }

    fn fetch_range(&self, key: &[u8], from: i64, to: i64) -> Result<Windows, StoreError> {
        dispatch!(self, s => s.fetch_range(key, from, to))
    }

    fn fetch_all(&self, from: i64, to: i64) -> Result<WindowEntries, StoreError> {
        dispatch!(self, s => s.fetch_all(from, to))
    }

    fn all(&self) -> Result<WindowEntries, StoreError> {
        dispatch!(self, s => s.all())
    }

    fn observed_stream_time(&self) -> i64 {
        dispatch!(self, s => s.observed_stream_time())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        dispatch!(self, s => s.flush())
    }
}

/// The shared window store suite, run against every backend.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kv::tests::TempDir;
    use crate::store::{KeyValueStore, RocksDbKeyValueStore};

    /// A retention nothing in a test outlives.
    const FOREVER: i64 = i64::MAX;

    /// A store under test, with its directory (dropped after the store).
    struct Fixture {
        store: WinStore,
        _dir: TempDir,
    }

    fn fixture(backend: Backend, retention_ms: i64, test: &str) -> Fixture {
        let dir = TempDir::new(test);
        let store = WinStore::open("store", backend, retention_ms, &dir.task_dir()).unwrap();
        assert_eq!(store.backend(), backend);
        Fixture { store, _dir: dir }
    }

    /// What a store should hold: the semantics, written plainly.
    #[derive(Default)]
    struct Model {
        retention: i64,
        observed: Option<i64>,
        map: BTreeMap<(Vec<u8>, i64), Vec<u8>>,
        expired_puts: u64,
    }

    impl Model {
        fn new(retention: i64) -> Self {
            Model {
                retention,
                ..Model::default()
            }
        }

        fn expired(&self, start: i64) -> bool {
            self.observed.is_some_and(|observed| {
                i128::from(start) <= i128::from(observed) - i128::from(self.retention)
            })
        }

        fn put(&mut self, key: &[u8], start: i64, value: Option<&[u8]>) {
            self.observed = Some(self.observed.map_or(start, |o| o.max(start)));
            if self.expired(start) {
                self.expired_puts += 1;
                return;
            }
            match value {
                Some(v) => {
                    self.map.insert((key.to_vec(), start), v.to_vec());
                }
                None => {
                    self.map.remove(&(key.to_vec(), start));
                }
            }
        }

        fn fetch_range(&self, key: &[u8], from: i64, to: i64) -> Windows {
            self.map
                .iter()
                .filter(|((k, s), _)| k == key && from <= *s && *s <= to && !self.expired(*s))
                .map(|((_, s), v)| (*s, v.clone()))
                .collect()
        }

        fn fetch_all(&self, from: i64, to: i64) -> WindowEntries {
            self.map
                .iter()
                .filter(|((_, s), _)| from <= *s && *s <= to && !self.expired(*s))
                .map(|((k, s), v)| (k.clone(), *s, v.clone()))
                .collect()
        }

        fn fetch(&self, key: &[u8], start: i64) -> Option<Vec<u8>> {
            if self.expired(start) {
                return None;
            }
            self.map.get(&(key.to_vec(), start)).cloned()
        }
    }

    /// Keys that are prefixes of each other, bytes on both sides of 0x80, and
    /// keys whose last byte equals the first byte of an encoded start
    /// (0x7f: starts in [-2^56, 0); 0x80: starts in [0, 2^56)), so that their
    /// storage keys interleave with those of their prefix in RocksDB.
    const KEYS: &[&[u8]] = &[
        b"",
        b"a",
        b"ab",
        b"abc",
        b"b",
        b"a\x7f",
        b"a\x80",
        b"a\x80\x00",
        b"a\x80\x00\x00\x00\x00\x00\x00\x00\x05",
        &[0x7f],
        &[0x80],
        &[0x80, 0x00],
        &[0xff],
        &[0xff, 0xff],
    ];

    /// Window starts around 0, on both sides.
    const STARTS: &[i64] = &[-1000, -3, -1, 0, 1, 2, 5, 10, 1000];

    /// Bounds of the ranges read: inclusive on both sides.
    const BOUNDS: &[i64] = &[
        i64::MIN,
        -1001,
        -1000,
        -999,
        -2,
        -1,
        0,
        1,
        4,
        5,
        6,
        999,
        1000,
        i64::MAX,
    ];

    fn value(key: usize, start: i64) -> Vec<u8> {
        format!("{key}@{start}").into_bytes()
    }

    fn check_against(s: &WinStore, model: &Model, what: &str) {
        assert_eq!(
            s.observed_stream_time(),
            model.observed.unwrap_or(i64::MIN),
            "{what}"
        );
        assert_eq!(s.expired_puts(), model.expired_puts, "{what}");
        assert_eq!(
            s.all().unwrap(),
            model.fetch_all(i64::MIN, i64::MAX),
            "{what}: all"
        );
        for &from in BOUNDS {
            for &to in BOUNDS {
                assert_eq!(
                    s.fetch_all(from, to).unwrap(),
                    model.fetch_all(from, to),
                    "{what}: fetch_all({from}, {to})"
                );
            }
        }
        for key in KEYS {
            for &from in BOUNDS {
                for &to in BOUNDS {
                    assert_eq!(
                        s.fetch_range(key, from, to).unwrap(),
                        model.fetch_range(key, from, to),
                        "{what}: fetch_range({key:?}, {from}, {to})"
                    );
                }
            }
            for &start in STARTS {
                let expected = model.fetch(key, start);
                assert_eq!(s.fetch(key, start).unwrap(), expected, "{what}");
                assert_eq!(
                    s.fetch_with(key, start, |v| v.map(<[u8]>::to_vec)).unwrap(),
                    expected,
                    "{what}: fetch_with({key:?}, {start})"
                );
            }
        }
    }

    // ---- the suite: each function takes a store of any backend ----

    fn put_fetch_overwrite_delete(s: &mut WinStore) {
        assert_eq!(s.name(), "store");
        assert_eq!(s.retention_ms(), FOREVER);
        assert_eq!(s.observed_stream_time(), i64::MIN);
        assert_eq!(s.fetch(b"k", 10).unwrap(), None);
        s.put(b"k", 10, Some(b"v1")).unwrap();
        assert_eq!(s.fetch(b"k", 10).unwrap(), Some(b"v1".to_vec()));
        assert_eq!(s.fetch(b"k", 11).unwrap(), None, "another window");
        assert_eq!(s.fetch(b"k2", 10).unwrap(), None, "another key");
        s.put(b"k", 10, Some(b"value 2")).unwrap();
        assert_eq!(s.fetch(b"k", 10).unwrap(), Some(b"value 2".to_vec()));
        s.put(b"k", 20, Some(b"other window")).unwrap();
        s.put(b"k", 10, Some(b"3")).unwrap();
        assert_eq!(s.fetch(b"k", 10).unwrap(), Some(b"3".to_vec()));
        assert_eq!(s.fetch(b"k", 20).unwrap(), Some(b"other window".to_vec()));
        s.put(b"k", 10, None).unwrap();
        assert_eq!(s.fetch(b"k", 10).unwrap(), None);
        assert_eq!(s.fetch(b"k", 20).unwrap(), Some(b"other window".to_vec()));
        s.put(b"k", 10, None).unwrap();
        s.put(b"never", 10, None).unwrap();
        assert_eq!(s.fetch(b"never", 10).unwrap(), None);
        // Empty values and keys are values and keys.
        s.put(b"k", 10, Some(b"")).unwrap();
        s.put(b"", 10, Some(b"empty key")).unwrap();
        assert_eq!(s.fetch(b"k", 10).unwrap(), Some(Vec::new()));
        assert_eq!(s.fetch(b"", 10).unwrap(), Some(b"empty key".to_vec()));
        let expected = vec![
            (b"".to_vec(), 10, b"empty key".to_vec()),
            (b"k".to_vec(), 10, Vec::new()),
            (b"k".to_vec(), 20, b"other window".to_vec()),
        ];
        assert_eq!(s.all().unwrap(), expected);
        s.flush().unwrap();
        assert_eq!(s.all().unwrap(), expected);
        assert_eq!(s.observed_stream_time(), 20);
        assert_eq!(s.expired_puts(), 0);
    }

    /// Every key × start, written out of order, then every range read
    /// against the model, before and after a flush, then after deletes.
    fn ranges_and_prefix_keys(s: &mut WinStore) {
        let mut model = Model::new(FOREVER);
        for (i, key) in KEYS.iter().enumerate().rev() {
            for &start in STARTS.iter().rev() {
                s.put(key, start, Some(&value(i, start))).unwrap();
                model.put(key, start, Some(&value(i, start)));
            }
        }
        assert_eq!(model.map.len(), KEYS.len() * STARTS.len());
        check_against(s, &model, "memtable");
        // Spot checks of what the model says.
        assert_eq!(
            s.fetch_range(b"a", -1, 1).unwrap(),
            vec![(-1, value(1, -1)), (0, value(1, 0)), (1, value(1, 1))],
            "inclusive bounds, ascending, no entry of `a\\x7f` or `a\\x80`"
        );
        assert_eq!(s.fetch_range(b"a", 5, 5).unwrap(), vec![(5, value(1, 5))]);
        assert_eq!(s.fetch_range(b"a", 6, 5).unwrap(), vec![], "from > to");
        assert_eq!(s.fetch_range(b"a", 3, 4).unwrap(), vec![], "no window");
        assert_eq!(s.fetch_range(b"zz", i64::MIN, i64::MAX).unwrap(), vec![]);
        s.flush().unwrap();
        check_against(s, &model, "flushed");
        for (i, key) in KEYS.iter().enumerate() {
            if i % 2 == 0 {
                for &start in &STARTS[..3] {
                    s.put(key, start, None).unwrap();
                    model.put(key, start, None);
                }
            }
        }
        check_against(s, &model, "after deletes");
    }

    fn negative_and_extreme_starts(s: &mut WinStore) {
        let windows = |items: &[(i64, &str)]| -> Windows {
            items
                .iter()
                .map(|(st, v)| (*st, v.as_bytes().to_vec()))
                .collect()
        };
        // The retention is i64::MAX: the bound `observed - retention` is
        // below i64::MIN while stream time is below -1.
        s.put(b"k", i64::MIN, Some(b"min")).unwrap();
        assert_eq!(s.observed_stream_time(), i64::MIN);
        s.put(b"k", i64::MIN + 1, Some(b"min+1")).unwrap();
        s.put(b"k", -2, Some(b"-2")).unwrap();
        s.put(b"k", -256, Some(b"-256")).unwrap();
        s.put(b"k", -255, Some(b"-255")).unwrap();
        assert_eq!(s.observed_stream_time(), -2);
        let expected = windows(&[
            (i64::MIN, "min"),
            (i64::MIN + 1, "min+1"),
            (-256, "-256"),
            (-255, "-255"),
            (-2, "-2"),
        ]);
        assert_eq!(s.fetch_range(b"k", i64::MIN, i64::MAX).unwrap(), expected);
        assert_eq!(s.fetch_range(b"k", i64::MIN, -256).unwrap(), expected[..3]);
        assert_eq!(s.fetch_range(b"k", -255, -2).unwrap(), expected[3..]);
        assert_eq!(s.fetch(b"k", i64::MIN).unwrap(), Some(b"min".to_vec()));
        s.flush().unwrap();
        assert_eq!(s.fetch_range(b"k", i64::MIN, i64::MAX).unwrap(), expected);
        // Stream time -1: the bound is exactly i64::MIN.
        s.put(b"k", -1, Some(b"-1")).unwrap();
        assert_eq!(s.fetch(b"k", i64::MIN).unwrap(), None);
        assert_eq!(
            s.fetch(b"k", i64::MIN + 1).unwrap(),
            Some(b"min+1".to_vec())
        );
        // Stream time 0: the bound is i64::MIN + 1.
        s.put(b"k", 0, Some(b"0")).unwrap();
        assert_eq!(s.fetch(b"k", i64::MIN + 1).unwrap(), None);
        s.put(b"k", 1, Some(b"1")).unwrap();
        s.put(b"k", 256, Some(b"256")).unwrap();
        assert_eq!(s.observed_stream_time(), 256);
        assert_eq!(s.expired_puts(), 0);
        let expected = windows(&[
            (-256, "-256"),
            (-255, "-255"),
            (-2, "-2"),
            (-1, "-1"),
            (0, "0"),
            (1, "1"),
            (256, "256"),
        ]);
        assert_eq!(s.fetch_range(b"k", i64::MIN, i64::MAX).unwrap(), expected);
        assert_eq!(s.fetch_range(b"k", -1, 0).unwrap(), expected[3..5]);
        assert_eq!(s.fetch_range(b"k", i64::MIN, -256).unwrap(), expected[..1]);
        assert_eq!(s.fetch_all(-1, 1).unwrap().len(), 3);
        s.flush().unwrap();
        assert_eq!(s.fetch_range(b"k", i64::MIN, i64::MAX).unwrap(), expected);
        // Window start i64::MAX: the bound is 0, computed without overflow.
        s.put(b"k", i64::MAX, Some(b"max")).unwrap();
        assert_eq!(s.observed_stream_time(), i64::MAX);
        assert_eq!(
            s.fetch_range(b"k", i64::MIN, i64::MAX).unwrap(),
            windows(&[(1, "1"), (256, "256"), (i64::MAX, "max")])
        );
        assert_eq!(s.fetch(b"k", 0).unwrap(), None);
        s.put(b"k", 0, Some(b"late")).unwrap();
        s.put(b"k", i64::MIN, Some(b"late")).unwrap();
        assert_eq!(s.expired_puts(), 2);
        s.put(b"k", 1, Some(b"one")).unwrap();
        assert_eq!(s.fetch(b"k", 1).unwrap(), Some(b"one".to_vec()));
        assert_eq!(s.fetch_all(i64::MIN, 0).unwrap(), vec![]);
        assert_eq!(s.fetch_all(i64::MAX, i64::MAX).unwrap().len(), 1);
    }

    fn fetch_all_by_key_then_start(s: &mut WinStore) {
        // In RocksDB, `ab`@-1 is stored before `a`@5 (0x62 < 0x80) and
        // `a\x80`@... between `a`@-1 and `a`@5: fetch_all still orders by key.
        let puts: &[(&[u8], i64)] = &[
            (b"a\x80", 7),
            (b"ab", -1),
            (b"a", 5),
            (b"b", -5),
            (b"a", -1),
            (b"ab", 3),
            (b"a\x80", -7),
            (&[0xff], 0),
            (b"", 2),
            (b"a", 0),
        ];
        for (key, start) in puts {
            s.put(key, *start, Some(&start.to_be_bytes())).unwrap();
        }
        let mut expected: WindowEntries = puts
            .iter()
            .map(|(k, s)| (k.to_vec(), *s, s.to_be_bytes().to_vec()))
            .collect();
        expected.sort();
        for pass in ["memtable", "flushed"] {
            assert_eq!(s.all().unwrap(), expected, "{pass}");
            assert_eq!(s.fetch_all(i64::MIN, i64::MAX).unwrap(), expected, "{pass}");
            let within: WindowEntries = expected
                .iter()
                .filter(|(_, s, _)| (-1..=3).contains(s))
                .cloned()
                .collect();
            assert_eq!(s.fetch_all(-1, 3).unwrap(), within, "{pass}");
            assert_eq!(within.len(), 6);
            assert_eq!(s.fetch_all(3, -1).unwrap(), vec![], "{pass}: from > to");
            s.flush().unwrap();
        }
    }

    fn expiry_boundary(s: &mut WinStore) {
        assert_eq!(s.retention_ms(), 100);
        s.put(b"k", 1000, Some(b"1000")).unwrap();
        assert_eq!(s.observed_stream_time(), 1000);
        // Bound 900: 900 is expired, 901 is not.
        s.put(b"k", 901, Some(b"901")).unwrap();
        s.put(b"k", 902, Some(b"902")).unwrap();
        s.put(b"k", 900, Some(b"900")).unwrap();
        assert_eq!(s.expired_puts(), 1);
        s.put(b"j", 899, Some(b"899")).unwrap();
        s.put(b"j", 900, None).unwrap();
        assert_eq!(s.expired_puts(), 3, "deletes to expired windows count too");
        assert_eq!(s.fetch(b"k", 900).unwrap(), None);
        assert_eq!(s.fetch(b"k", 901).unwrap(), Some(b"901".to_vec()));
        assert_eq!(s.fetch(b"j", 899).unwrap(), None);
        assert_eq!(s.observed_stream_time(), 1000, "late puts do not move time");
        let k = |starts: &[i64]| -> Windows {
            starts
                .iter()
                .map(|s| (*s, s.to_string().into_bytes()))
                .collect()
        };
        assert_eq!(s.fetch_range(b"k", 0, 2000).unwrap(), k(&[901, 902, 1000]));
        // Reads do not advance stream time.
        assert_eq!(s.fetch(b"k", 5000).unwrap(), None);
        assert_eq!(s.fetch_range(b"k", 5000, 6000).unwrap(), vec![]);
        assert_eq!(s.fetch_all(5000, 6000).unwrap(), vec![]);
        s.flush().unwrap();
        assert_eq!(s.observed_stream_time(), 1000);
        assert_eq!(s.fetch(b"k", 901).unwrap(), Some(b"901".to_vec()));
        // A put of another key advances time by one: 901 expires, exactly.
        s.put(b"other", 1001, Some(b"1001")).unwrap();
        assert_eq!(s.observed_stream_time(), 1001);
        assert_eq!(s.fetch(b"k", 901).unwrap(), None);
        assert_eq!(s.fetch(b"k", 902).unwrap(), Some(b"902".to_vec()));
        assert_eq!(s.fetch_range(b"k", 0, 2000).unwrap(), k(&[902, 1000]));
        assert_eq!(s.fetch_range(b"k", 901, 901).unwrap(), vec![]);
        assert_eq!(s.fetch_range(b"k", i64::MIN, 902).unwrap(), k(&[902]));
        // An expired window is not written again.
        s.put(b"k", 901, Some(b"again")).unwrap();
        assert_eq!(s.expired_puts(), 4);
        assert_eq!(s.fetch(b"k", 901).unwrap(), None);
        assert_eq!(s.observed_stream_time(), 1001);
        // A delete advances stream time too, and expires 902.
        s.put(b"nothing", 1002, None).unwrap();
        assert_eq!(s.observed_stream_time(), 1002);
        assert_eq!(s.fetch(b"k", 902).unwrap(), None);
        assert_eq!(
            s.all().unwrap(),
            vec![
                (b"k".to_vec(), 1000, b"1000".to_vec()),
                (b"other".to_vec(), 1001, b"1001".to_vec()),
            ]
        );
        // A put far ahead expires everything before it.
        s.put(b"k", 1000, Some(b"updated")).unwrap();
        assert_eq!(s.fetch(b"k", 1000).unwrap(), Some(b"updated".to_vec()));
        s.put(b"far", 1_000_000, Some(b"far")).unwrap();
        assert_eq!(
            s.all().unwrap(),
            vec![(b"far".to_vec(), 1_000_000, b"far".to_vec())]
        );
        assert_eq!(s.fetch_all(i64::MIN, 999_999).unwrap(), vec![]);
        assert_eq!(s.expired_puts(), 4);
    }

    fn zero_retention_keeps_nothing(s: &mut WinStore) {
        assert_eq!(s.retention_ms(), 0);
        s.put(b"k", 5, Some(b"v")).unwrap();
        assert_eq!(s.observed_stream_time(), 5);
        assert_eq!(s.expired_puts(), 1);
        assert_eq!(s.fetch(b"k", 5).unwrap(), None);
        s.put(b"k", i64::MAX, Some(b"v")).unwrap();
        assert_eq!(s.fetch_range(b"k", i64::MIN, i64::MAX).unwrap(), vec![]);
        assert_eq!(s.all().unwrap(), vec![]);
        assert_eq!(s.expired_puts(), 2);
    }

    fn ten_thousand_windows_in_order(s: &mut WinStore) {
        const N: i64 = 10_000;
        // A permutation of 0..N (7919 is prime, so coprime with N).
        let start = |i: i64| ((i * 7919) % N) * 10 - 50_000;
        for i in 0..N {
            let st = start(i);
            s.put(b"key", st, Some(&st.to_be_bytes())).unwrap();
            if i % 3 == 0 {
                s.put(b"key\x00", st, Some(b"x")).unwrap();
            }
        }
        let check = |s: &WinStore| {
            let all = s.fetch_range(b"key", i64::MIN, i64::MAX).unwrap();
            assert_eq!(all.len(), N as usize);
            for (i, (st, v)) in all.iter().enumerate() {
                assert_eq!(*st, i as i64 * 10 - 50_000);
                assert_eq!(v.as_slice(), st.to_be_bytes());
            }
            let mid = s.fetch_range(b"key", -100, 99).unwrap();
            assert_eq!(mid.len(), 20);
            assert_eq!(mid[0].0, -100);
            assert_eq!(mid[19].0, 90);
            let every = s.all().unwrap();
            assert_eq!(every.len(), N as usize + (N as usize).div_ceil(3));
            assert!(every[..N as usize].iter().all(|(k, _, _)| k == b"key"));
        };
        check(s);
        s.flush().unwrap();
        check(s);
    }

    /// Windows in stream order with a short retention: expiry as the
    /// stream goes, across many RocksDB segments.
    fn sliding_expiry(s: &mut WinStore) {
        assert_eq!(s.retention_ms(), 100_000);
        for i in 0..10_000i64 {
            s.put(&(i % 7).to_be_bytes(), i * 1000, Some(b"v")).unwrap();
            if i % 1000 == 0 {
                s.flush().unwrap();
            }
        }
        assert_eq!(s.observed_stream_time(), 9_999_000);
        let all = s.all().unwrap();
        // Live: starts > 9_899_000, i.e. 9_900_000..=9_999_000.
        assert_eq!(all.len(), 100);
        assert!(all.iter().all(|(_, st, _)| *st >= 9_900_000));
        assert_eq!(s.fetch_all(i64::MIN, 9_900_000).unwrap().len(), 1);
        assert_eq!(s.expired_puts(), 0);
        s.put(b"late", 9_899_000, Some(b"v")).unwrap();
        assert_eq!(s.expired_puts(), 1);
    }

    /// A deterministic random walk of puts, deletes and flushes, compared
    /// with the model after each step.
    fn random_operations_match_the_model(s: &mut WinStore) {
        let mut model = Model::new(s.retention_ms());
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut time: i64 = -600;
        for step in 0..1500 {
            // Mostly forward, sometimes late.
            time += next(4) as i64;
            let start = time - next(40) as i64;
            let key = KEYS[next(KEYS.len() as u64) as usize];
            let v = value(step, start);
            let put_value = (next(5) != 0).then_some(v.as_slice());
            s.put(key, start, put_value).unwrap();
            model.put(key, start, put_value);
            if step % 97 == 0 {
                s.flush().unwrap();
            }
            if step % 50 == 0 {
                check_against(s, &model, &format!("step {step}"));
            } else {
                assert_eq!(s.fetch(key, start).unwrap(), model.fetch(key, start));
                assert_eq!(
                    s.fetch_with(key, start, |v| v.map(<[u8]>::to_vec)).unwrap(),
                    model.fetch(key, start)
                );
                assert_eq!(
                    s.fetch_range(key, start - 20, start + 20).unwrap(),
                    model.fetch_range(key, start - 20, start + 20),
                    "step {step}"
                );
            }
        }
        check_against(s, &model, "end");
        assert!(model.expired_puts > 0, "the walk exercised expiry");
    }

    /// Keys and values of lengths around the in-memory store's inline
    /// length (22 bytes), of which shorter keys are prefixes of longer ones,
    /// overwritten by longer and shorter values, then partly deleted.
    fn long_keys_and_values(s: &mut WinStore) {
        const LENS: &[usize] = &[0, 1, 7, 8, 9, 15, 16, 21, 22, 23, 24, 64, 300];
        let bytes = |len: usize, seed: u8| -> Vec<u8> {
            (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
        };
        let mut model = Model::new(s.retention_ms());
        let check = |s: &WinStore, model: &Model, what: &str| {
            assert_eq!(
                s.all().unwrap(),
                model.fetch_all(i64::MIN, i64::MAX),
                "{what}"
            );
            for &key_len in LENS {
                let key = bytes(key_len, 7);
                assert_eq!(
                    s.fetch_range(&key, i64::MIN, i64::MAX).unwrap(),
                    model.fetch_range(&key, i64::MIN, i64::MAX),
                    "{what}: key of {key_len} bytes"
                );
                for start in 0..LENS.len() as i64 {
                    let expected = model.fetch(&key, start);
                    assert_eq!(s.fetch(&key, start).unwrap(), expected, "{what}");
                    assert_eq!(
                        s.fetch_with(&key, start, |v| v.map(<[u8]>::to_vec))
                            .unwrap(),
                        expected,
                        "{what}"
                    );
                }
            }
        };
        for round in 0..4 {
            for &key_len in LENS {
                let key = bytes(key_len, 7);
                for start in 0..LENS.len() {
                    let value_len = LENS[(start + key_len + 5 * round) % LENS.len()];
                    let value = bytes(value_len, round as u8);
                    // The last round deletes every third entry.
                    let value = (round < 3 || start % 3 != 0).then_some(value.as_slice());
                    s.put(&key, start as i64, value).unwrap();
                    model.put(&key, start as i64, value);
                }
            }
            check(s, &model, &format!("round {round}"));
        }
        s.flush().unwrap();
        check(s, &model, "flushed");
    }

    /// Generates one test module per backend running the whole suite.
    macro_rules! suite {
        ($module:ident, $backend:expr) => {
            mod $module {
                use super::*;

                fn run(test: &str, retention_ms: i64, body: fn(&mut WinStore)) {
                    let mut f = fixture($backend, retention_ms, test);
                    body(&mut f.store);
                }

                #[test]
                fn put_fetch_overwrite_delete() {
                    run("put-fetch", FOREVER, super::put_fetch_overwrite_delete);
                }
                #[test]
                fn ranges_and_prefix_keys() {
                    run("ranges", FOREVER, super::ranges_and_prefix_keys);
                }
                #[test]
                fn negative_and_extreme_starts() {
                    run("extreme", FOREVER, super::negative_and_extreme_starts);
                }
                #[test]
                fn fetch_all_by_key_then_start() {
                    run("fetch-all", FOREVER, super::fetch_all_by_key_then_start);
                }
                #[test]
                fn expiry_boundary() {
                    run("expiry", 100, super::expiry_boundary);
                }
                #[test]
                fn zero_retention_keeps_nothing() {
                    run("zero", 0, super::zero_retention_keeps_nothing);
                }
                #[test]
                fn negative_retention_is_zero() {
                    run("negative", -5, super::zero_retention_keeps_nothing);
                }
                #[test]
                fn ten_thousand_windows_in_order() {
                    run("10k", FOREVER, super::ten_thousand_windows_in_order);
                }
                #[test]
                fn sliding_expiry() {
                    run("sliding", 100_000, super::sliding_expiry);
                }
                #[test]
                fn long_keys_and_values() {
                    run("long", FOREVER, super::long_keys_and_values);
                }
                #[test]
                fn random_operations_match_the_model() {
                    run("random", 30, super::random_operations_match_the_model);
                }
            }
        };
    }

    suite!(in_memory, Backend::InMemory);
    suite!(rocksdb, Backend::RocksDb);

    // ---- backend-specific ----

    /// Entries physically in a RocksDB store, expired or not (not the
    /// stream time).
    fn stored_entries(store: &RocksDbWindowStore) -> usize {
        let mut it = store.db.raw_iterator();
        it.seek_to_first();
        let mut n = 0;
        while let Some(key) = it.key() {
            if key != STREAM_TIME_KEY {
                n += 1;
            }
            it.next();
        }
        it.status().unwrap();
        n
    }

    #[test]
    fn encoding_orders_starts_numerically() {
        let starts = [i64::MIN, i64::MIN + 1, -256, -1, 0, 1, 255, 256, i64::MAX];
        for pair in starts.windows(2) {
            assert!(
                storage_key(b"k", pair[0]) < storage_key(b"k", pair[1]),
                "{pair:?}"
            );
        }
        for st in starts {
            let stored = storage_key(b"key", st);
            assert_eq!(stored.len(), 3 + START_LEN);
            assert_eq!(split_storage_key(&stored), Some((&b"key"[..], st)));
        }
        assert_eq!(storage_key(b"", 0), [0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            storage_key(b"", -1),
            [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(split_storage_key(STREAM_TIME_KEY), None);
    }

    #[test]
    fn in_memory_removes_expired_entries_on_put() {
        let dir = TempDir::new("window-memory");
        let mut store = InMemoryWindowStore::new("s", 10);
        assert!(store.is_empty());
        for start in 0..100 {
            store.put(b"k", start, Some(b"v")).unwrap();
            store.put(b"j", start, Some(b"v")).unwrap();
        }
        // Live: 90..=99, for two keys.
        assert_eq!(store.len(), 20);
        store.put(b"k", 1000, None).unwrap();
        assert!(store.is_empty());
        assert_eq!(store.windows.len(), 0);
        let store = WinStore::InMemory(store);
        assert!(!store.persistent());
        assert_eq!(store.backend(), Backend::InMemory);
        let store = WinStore::open("s", Backend::InMemory, 10, &dir.task_dir()).unwrap();
        assert!(!dir.task_dir().0.exists(), "in memory touches no file");
        store.close().unwrap();
    }

    #[test]
    fn small_bytes_are_a_vec_long_and_hash_as_bytes() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        let hasher = KeyHashBuilder::random();
        for len in [0, 1, 7, 8, 9, 21, 22, 23, 100] {
            let bytes: Vec<u8> = (0..len as u8).collect();
            let small = SmallBytes::new(&bytes);
            assert_eq!(small.as_slice(), bytes);
            assert_eq!(
                matches!(small, SmallBytes::Inline { .. }),
                len <= INLINE_LEN
            );
            // `Borrow<[u8]>` requires the same hash as the bytes'.
            assert_eq!(hasher.hash_one(&small), hasher.hash_one(&bytes[..]));
            assert_eq!(small, small.clone());
            for new_len in [0, 5, 22, 23, 100] {
                let mut value = small.clone();
                let new: Vec<u8> = (0..new_len as u8).rev().collect();
                value.set(&new);
                assert_eq!(value.as_slice(), new);
            }
        }
        // Zero padding does not make keys of different lengths collide.
        assert_ne!(
            hasher.hash_one(b"a".as_slice()),
            hasher.hash_one(b"a\0".as_slice())
        );
        let mut h = hasher.build_hasher();
        h.write(b"a");
        let mut h2 = hasher.build_hasher();
        h2.write(b"a\0");
        assert_ne!(h.finish(), h2.finish());
    }

    #[test]
    fn key_hash_spreads_big_endian_integers() {
        // Keys as the serdes write integers: the varying bytes last, i.e.
        // in the high bits of a little-endian word. hashbrown takes the
        // bucket from the low bits and a tag from the top 7: both must vary.
        let hasher = KeyHashBuilder::random();
        let hashes: Vec<u64> = (0..1u64 << 16)
            .map(|i| hasher.hash_one(i.to_be_bytes().as_slice()))
            .collect();
        let low: std::collections::HashSet<u64> = hashes.iter().map(|h| h & 0xffff).collect();
        // Random: 65536 * (1 - 1/e), about 41,400 distinct.
        assert!(low.len() > 40_000, "{}", low.len());
        let top: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert_eq!(top.len(), 128);
    }

    #[test]
    fn in_memory_keeps_one_expired_window_map_for_reuse() {
        let mut store = InMemoryWindowStore::new("s", 10);
        for key in 0..1000u32 {
            store.put(&key.to_be_bytes(), 0, Some(b"v")).unwrap();
        }
        store.put(b"k", 5, Some(b"v")).unwrap();
        assert_eq!(store.len(), 1001);
        assert!(store.spare.is_none());
        // A delete advances stream time: window 0 expires, its map is
        // cleared and kept, then reused by the next new window.
        store.put(b"k", 10, None).unwrap();
        assert_eq!(store.len(), 1);
        let spare = store.spare.as_ref().map(|w| (w.len(), w.capacity()));
        assert!(
            matches!(spare, Some((0, capacity)) if capacity >= 1000),
            "{spare:?}"
        );
        store.put(b"k", 20, Some(b"v")).unwrap();
        assert_eq!(store.len(), 1);
        assert!(store.windows.get(&20).is_some_and(|w| w.capacity() >= 1000));
        // A window emptied by deletes is dropped too.
        store.put(b"k", 20, None).unwrap();
        assert!(store.is_empty());
        assert!(store.windows.is_empty());
        assert!(store.fetch_with(b"k", 20, |v| v.is_none()).unwrap());
        assert!(format!("{store:?}").contains("InMemoryWindowStore"));
    }

    #[test]
    fn rocksdb_purges_per_segment() {
        let dir = TempDir::new("window-purge");
        // Retention 200 s: segments of 100 s.
        let mut store = RocksDbWindowStore::open("s", 200_000, &dir.task_dir()).unwrap();
        for i in 0..=300 {
            store.put(b"k", i * 1000, Some(b"v")).unwrap();
        }
        // Stream time 300 s, bound 100 s: entered segment 1 at 100 s, when
        // 0..=100 s were deleted; 101 s..=300 s remain.
        assert_eq!(stored_entries(&store), 200);
        store.put(b"k", 399_000, Some(b"v")).unwrap();
        // Bound 199 s, still segment 1: nothing deleted, the expired entries
        // are only hidden.
        assert_eq!(stored_entries(&store), 201);
        assert_eq!(store.all().unwrap().len(), 102);
        store.put(b"k", 400_000, Some(b"v")).unwrap();
        // Bound 200 s: segment 2, everything at or before 200 s deleted.
        assert_eq!(stored_entries(&store), 102);
        assert_eq!(store.all().unwrap().len(), 102);
        // Far ahead: everything goes, by a delete.
        store.put(b"k", 10_000_000, None).unwrap();
        assert_eq!(stored_entries(&store), 0);
        assert_eq!(store.min_start, i64::MAX);
        store.put(b"k", 9_900_000, Some(b"v")).unwrap();
        assert_eq!(store.all().unwrap().len(), 1);
    }

    #[test]
    fn rocksdb_reopen_keeps_data_and_stream_time() {
        let dir = TempDir::new("window-reopen");
        let task = dir.task_dir();
        let mut store = WinStore::open("windows", Backend::RocksDb, 100, &task).unwrap();
        assert!(store.persistent());
        assert!(task.store_path("windows").is_dir());
        store.put(b"a", 1000, Some(b"1000")).unwrap();
        store.put(b"a", 950, Some(b"950")).unwrap();
        store.put(b"b", 1040, Some(b"1040")).unwrap();
        // A delete advances stream time to 1045 and leaves no entry.
        store.put(b"gone", 1045, None).unwrap();
        store.close().unwrap();

        // Reopened after close(): stream time is the persisted one (1045),
        // not the largest start left (1040). Bound 945.
        let mut store = WinStore::open("windows", Backend::RocksDb, 100, &task).unwrap();
        assert_eq!(store.observed_stream_time(), 1045);
        assert_eq!(store.expired_puts(), 0);
        assert_eq!(store.fetch(b"a", 950).unwrap(), Some(b"950".to_vec()));
        store.put(b"a", 945, Some(b"late")).unwrap();
        assert_eq!(store.expired_puts(), 1);
        assert_eq!(store.fetch(b"a", 945).unwrap(), None);
        // A delete further ahead, then a drop without close(): a clean
        // drop flushes what the (WAL-less) memtable holds.
        store.put(b"a", 1049, Some(b"1049")).unwrap();
        store.put(b"dropped", 1060, None).unwrap();
        assert_eq!(store.fetch(b"a", 950).unwrap(), None, "expired at 1060");
        drop(store);

        let store = WinStore::open("windows", Backend::RocksDb, 100, &task).unwrap();
        assert_eq!(store.observed_stream_time(), 1060);
        assert_eq!(store.fetch(b"a", 950).unwrap(), None);
        assert_eq!(
            store.all().unwrap(),
            vec![
                (b"a".to_vec(), 1000, b"1000".to_vec()),
                (b"a".to_vec(), 1040 + 9, b"1049".to_vec()),
                (b"b".to_vec(), 1040, b"1040".to_vec()),
            ]
        );
        store.close().unwrap();

        // The retention is configuration: a longer one shows more (what is
        // still on disk: the expired 950 was not purged, no segment passed).
        let store = WinStore::open("windows", Backend::RocksDb, 1000, &task).unwrap();
        assert_eq!(store.retention_ms(), 1000);
        assert_eq!(store.fetch(b"a", 950).unwrap(), Some(b"950".to_vec()));
        assert_eq!(store.all().unwrap().len(), 4);
    }

    #[test]
    fn rocksdb_purge_after_reopen() {
        let dir = TempDir::new("window-reopen-purge");
        let task = dir.task_dir();
        let mut store = RocksDbWindowStore::open("s", 60_000, &task).unwrap();
        for i in 0..50 {
            store.put(b"k", i * 1000, Some(b"v")).unwrap();
        }
        store.close().unwrap();
        let mut store = RocksDbWindowStore::open("s", 60_000, &task).unwrap();
        assert_eq!(store.observed_stream_time(), 49_000);
        // Bound 60 s enters segment 1: the smallest start is unknown after
        // open, so the store scans and deletes 0..=60 s.
        store.put(b"k", 120_000, Some(b"v")).unwrap();
        assert_eq!(stored_entries(&store), 1);
        assert_eq!(store.min_start, 120_000);
    }

    #[test]
    fn rocksdb_open_twice_is_a_backend_error() {
        let dir = TempDir::new("window-locked");
        let task = dir.task_dir();
        let _open = WinStore::open("s", Backend::RocksDb, 10, &task).unwrap();
        let err = WinStore::open("s", Backend::RocksDb, 10, &task).unwrap_err();
        match &err {
            StoreError::Backend { store, reason } => {
                assert_eq!(store, "s");
                assert!(reason.contains("LOCK"), "{reason}");
            }
            other => panic!("expected a backend error, got {other:?}"),
        }
    }

    #[test]
    fn rocksdb_corrupt_stream_time_is_an_error() {
        let dir = TempDir::new("window-corrupt");
        let task = dir.task_dir();
        let mut kv = RocksDbKeyValueStore::open("s", &task).unwrap();
        kv.put(STREAM_TIME_KEY, b"bad").unwrap();
        kv.close().unwrap();
        let err = WinStore::open("s", Backend::RocksDb, 10, &task).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { store, .. } if store == "s"),
            "{err}"
        );
    }

    #[test]
    fn rocksdb_unwritable_directory_is_an_error() {
        let dir = TempDir::new("window-unwritable");
        let task = TaskDirectory(dir.path().join("not-a-dir"));
        std::fs::write(&task.0, b"file").unwrap();
        let err = WinStore::open("s", Backend::RocksDb, 10, &task).unwrap_err();
        assert!(
            matches!(&err, StoreError::Io { store, .. } if store == "s"),
            "{err}"
        );
    }
}

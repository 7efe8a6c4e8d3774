//! State stores, as Kafka Streams' inner ("bytes") stores: keys and values
//! are bytes here; serdes are applied above, in generated code, so one store
//! implementation serves every type. Each kind of store has an in-memory and
//! a RocksDB backend behind one enum (no trait objects on the record path);
//! RocksDB is the default, as in Kafka Streams.
//!
//! Ordering is always by unsigned lexicographic byte order of the stored
//! key, as in Kafka Streams' `Bytes` comparator.
//!
//! A task holds its stores in one [`TaskStores`], indexed as the plan
//! numbers them. Backends, the record cache, restoration and checkpoints
//! live in the submodules.

use std::path::PathBuf;

pub mod cache;
pub mod checkpoint;
pub mod kv;
pub mod memory;
pub mod registry;
pub mod restore;
pub mod rocksdb;
pub mod window;

pub use kv::KvStore;
pub use memory::InMemoryKeyValueStore;
pub use registry::{StateStore, StoreSpec, TaskStores};
pub use rocksdb::RocksDbKeyValueStore;
pub use window::WinStore;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (RocksDB error, I/O).
    #[error("state store `{store}`: {reason}")]
    Backend {
        /// Store name.
        store: String,
        /// What went wrong.
        reason: String,
    },
    /// A file under the state directory could not be read or written.
    #[error("state store `{store}`: {path}: {source}")]
    Io {
        /// Store name.
        store: String,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Stored bytes that are not what the store wrote (corruption).
    #[error("state store `{store}`: corrupt entry: {reason}")]
    Corrupt {
        /// Store name.
        store: String,
        /// What was wrong.
        reason: String,
    },
}

/// Which backend a store uses (Kafka Streams' `Materialized.as(Stores.…)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// RocksDB on disk, under the task's state directory (the default).
    #[default]
    RocksDb,
    /// A sorted map in memory; rebuilt from the changelog after a restart.
    InMemory,
}

/// Key-value pairs in key order, as [`KeyValueStore::range`] returns them.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// One key's windows: (window start, value) by ascending start, as
/// [`WindowStore::fetch_range`] returns them.
pub type Windows = Vec<(i64, Vec<u8>)>;

/// Window entries across keys: (key, window start, value) ordered by key
/// bytes, then start, as [`WindowStore::fetch_all`] returns them.
pub type WindowEntries = Vec<(Vec<u8>, i64, Vec<u8>)>;

/// A key-value store: Kafka Streams' `KeyValueStore<Bytes, byte[]>`.
pub trait KeyValueStore: Send {
    /// The store's name.
    fn name(&self) -> &str;
    /// The value for `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `key` to `value`.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removes `key`, returning its old value.
    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Applies puts (`Some`) and deletes (`None`) in order, atomically where
    /// the backend can (a RocksDB write batch): restoration and cache flushes.
    fn write_batch(&mut self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), StoreError>;
    /// Entries with `from <= key <= to` (either bound open when `None`), in
    /// key order.
    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<Entries, StoreError>;
    /// Every entry, in key order.
    fn all(&self) -> Result<Entries, StoreError> {
        self.range(None, None)
    }
    /// Approximate number of entries.
    fn approximate_num_entries(&self) -> Result<u64, StoreError>;
    /// Makes writes durable (RocksDB: flush memtables); a no-op in memory.
    fn flush(&mut self) -> Result<(), StoreError>;
}

/// A window store: Kafka Streams' `WindowStore<Bytes, byte[]>`. Each entry
/// is (key, window start) → value. Entries whose window start is at or
/// before `observed stream time - retention` are expired: not returned, and
/// dropped when written (Kafka Streams' segmented stores do the same).
pub trait WindowStore: Send {
    /// The store's name.
    fn name(&self) -> &str;
    /// Retention in milliseconds (window size + grace, by default).
    fn retention_ms(&self) -> i64;
    /// Sets `key`'s value in the window starting at `window_start` (`None`
    /// deletes). Advances the observed stream time to `window_start` if later.
    fn put(
        &mut self,
        key: &[u8],
        window_start: i64,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError>;
    /// The value of `key` in the window starting at `window_start`.
    fn fetch(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Calls `f` with the value of `key` in the window starting at
    /// `window_start` (what [`WindowStore::fetch`] returns), borrowed from
    /// the store where the backend can (in memory; RocksDB: a pinned slice),
    /// not copied: the record path's read. The default calls `fetch`.
    fn fetch_with<R>(
        &self,
        key: &[u8],
        window_start: i64,
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, StoreError>
    where
        Self: Sized,
    {
        let value = self.fetch(key, window_start)?;
        Ok(f(value.as_deref()))
    }
    /// `key`'s windows with `from <= start <= to`, by ascending start.
    fn fetch_range(&self, key: &[u8], from: i64, to: i64) -> Result<Windows, StoreError>;
    /// Every (key, window start, value) with `from <= start <= to`, ordered
    /// by key bytes, then start.
    fn fetch_all(&self, from: i64, to: i64) -> Result<WindowEntries, StoreError>;
    /// Every unexpired entry, ordered by key bytes, then start.
    fn all(&self) -> Result<WindowEntries, StoreError> {
        self.fetch_all(i64::MIN, i64::MAX)
    }
    /// The largest window start written so far (`i64::MIN` if none).
    fn observed_stream_time(&self) -> i64;
    /// Makes writes durable (RocksDB: flush memtables); a no-op in memory.
    fn flush(&mut self) -> Result<(), StoreError>;
}

pub use crate::format::window_key::{split_window_changelog_key, window_changelog_key};

/// What kind of store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A (timestamped) key-value store.
    KeyValue,
    /// A (timestamped) window store.
    Window,
    /// A session store: a key-value store keyed by Kafka Streams' session
    /// keys (key, session end, session start), plain aggregates as values.
    Session,
}

impl StoreKind {
    /// How the kind is called in messages.
    pub fn describe(self) -> &'static str {
        match self {
            StoreKind::KeyValue => "key-value",
            StoreKind::Window => "window",
            StoreKind::Session => "session",
        }
    }
}

/// Where a task's stores live: `<state.dir>/<application.id>/<task id>/`,
/// one folder per task as in Kafka Streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDirectory(pub PathBuf);

impl TaskDirectory {
    /// The directory of store `name` (RocksDB: `rocksdb/<name>`).
    pub fn store_path(&self, name: &str) -> PathBuf {
        self.0.join("rocksdb").join(name)
    }
    /// The task's checkpoint file (changelog offsets of persistent stores).
    pub fn checkpoint_path(&self) -> PathBuf {
        self.0.join(".checkpoint")
    }
}

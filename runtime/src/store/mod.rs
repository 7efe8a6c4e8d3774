//! State stores, as Kafka Streams' inner ("bytes") stores: keys and values
//! are bytes here; serdes are applied above, in generated code, so one store
//! implementation serves every type. Each kind of store has an in-memory and
//! a RocksDB backend behind one enum (no trait objects on the record path);
//! RocksDB is the default, as in Kafka Streams.
//!
//! Ordering is always by unsigned lexicographic byte order of the stored
//! key, as in Kafka Streams' `Bytes` comparator.
//!
//! Status: the store layer of the "State" issue. Backends, the shared test
//! suites, the record cache and checkpoints live in the submodules.

use std::path::PathBuf;

pub mod cache;
pub mod checkpoint;
pub mod kv;
pub mod memory;
pub mod rocksdb;

pub use kv::KvStore;
pub use memory::InMemoryKeyValueStore;
pub use rocksdb::RocksDbKeyValueStore;

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

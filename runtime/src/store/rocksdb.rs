//! The RocksDB key-value store: Kafka Streams' `RocksDBStore`, one database
//! per store under `<task dir>/rocksdb/<name>`.
//!
//! Options follow Kafka Streams' defaults where they are cheap: no
//! compression, universal compaction, 16 MiB write buffers (3 of them), 4 KiB
//! blocks with a bloom filter, errors-only info log, and writes without the
//! write-ahead log: the changelog topic is the source of truth, so as in
//! Kafka Streams a store is made durable by [`KeyValueStore::flush`] (which
//! flushes the memtables) before the task writes its checkpoint. Closing the
//! database cleanly also flushes what is still in memory.
//!
//! RocksDB itself is the system's library (Debian's `librocksdb-dev`), linked
//! dynamically through `ROCKSDB_LIB_DIR` (set in `.cargo/config.toml`).

use std::fmt;
use std::path::{Path, PathBuf};

use ::rocksdb::{
    BlockBasedOptions, Cache, DBCompactionStyle, DBCompressionType, LogLevel, Options, WriteBatch,
    WriteOptions, DB,
};

use super::{Entries, KeyValueStore, StoreError, TaskDirectory};

/// Block cache per store. Kafka Streams uses 50 MiB; the cache is filled
/// lazily, but many stores per process argue for less.
const BLOCK_CACHE_SIZE: usize = 8 * 1024 * 1024;
/// Kafka Streams' `BLOCK_SIZE`.
const BLOCK_SIZE: usize = 4096;
/// Kafka Streams' `WRITE_BUFFER_SIZE`.
const WRITE_BUFFER_SIZE: usize = 16 * 1024 * 1024;
/// Kafka Streams' `MAX_WRITE_BUFFERS`.
const MAX_WRITE_BUFFERS: i32 = 3;
/// Bloom filter bits per key (Kafka Streams' `new BloomFilter()`).
const BLOOM_BITS_PER_KEY: f64 = 10.0;
/// The RocksDB property behind [`KeyValueStore::approximate_num_entries`].
const ESTIMATE_NUM_KEYS: &str = "rocksdb.estimate-num-keys";

/// A key-value store in a RocksDB database of its own. Dropping it closes the
/// database (see [`RocksDbKeyValueStore::close`] to see errors).
pub struct RocksDbKeyValueStore {
    name: String,
    path: PathBuf,
    db: DB,
    write_options: WriteOptions,
}

impl fmt::Debug for RocksDbKeyValueStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksDbKeyValueStore")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RocksDbKeyValueStore {
    /// Opens (creating it if missing) the store `name` of a task, in
    /// `<task dir>/rocksdb/<name>`.
    pub fn open(name: &str, dir: &TaskDirectory) -> Result<Self, StoreError> {
        let (db, path) = open_db(name, dir)?;
        Ok(RocksDbKeyValueStore {
            name: name.to_owned(),
            path,
            db,
            write_options: write_options(),
        })
    }

    /// The database's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the memtables, then closes the database.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.flush()
        // Dropping `self` closes the database.
    }

    fn error(&self, op: &str, e: ::rocksdb::Error) -> StoreError {
        backend(&self.name, op, &self.path, e)
    }
}

/// Opens (creating it if missing) the database of store `name` of a task, in
/// `<task dir>/rocksdb/<name>`, with the options of every RocksDB store (the
/// key-value stores here, the window stores of `super::window`). Returns the
/// database and its directory.
pub(super) fn open_db(name: &str, dir: &TaskDirectory) -> Result<(DB, PathBuf), StoreError> {
    let path = dir.store_path(name);
    // RocksDB creates the database's own directory only, not its parents.
    std::fs::create_dir_all(&path).map_err(|source| StoreError::Io {
        store: name.to_owned(),
        path: path.clone(),
        source,
    })?;
    let options = options(name)?;
    let db = DB::open(&options, &path).map_err(|e| backend(name, "open", &path, e))?;
    Ok((db, path))
}

/// The write options of every RocksDB store: no write-ahead log (the
/// changelog is the source of truth; see the module docs).
pub(super) fn write_options() -> WriteOptions {
    let mut write_options = WriteOptions::default();
    write_options.disable_wal(true);
    write_options
}

/// The database options: Kafka Streams' `RocksDBStore` defaults, mostly.
fn options(name: &str) -> Result<Options, StoreError> {
    let cache = Cache::new_lru_cache(BLOCK_CACHE_SIZE).map_err(|e| StoreError::Backend {
        store: name.to_owned(),
        reason: format!("cannot create the block cache: {e}"),
    })?;
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&cache);
    table.set_block_size(BLOCK_SIZE);
    table.set_bloom_filter(BLOOM_BITS_PER_KEY, false);

    let mut options = Options::default();
    options.create_if_missing(true);
    options.set_error_if_exists(false);
    options.set_block_based_table_factory(&table);
    options.set_compression_type(DBCompressionType::None);
    options.set_compaction_style(DBCompactionStyle::Universal);
    options.set_write_buffer_size(WRITE_BUFFER_SIZE);
    options.set_max_write_buffer_number(MAX_WRITE_BUFFERS);
    options.set_optimize_filters_for_hits(true);
    options.set_log_level(LogLevel::Error);
    options.set_keep_log_file_num(2);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    options.increase_parallelism(i32::try_from(cores).unwrap_or(i32::MAX));
    Ok(options)
}

/// A RocksDB error as a [`StoreError::Backend`] of store `store`.
pub(super) fn backend(store: &str, op: &str, path: &Path, e: ::rocksdb::Error) -> StoreError {
    StoreError::Backend {
        store: store.to_owned(),
        reason: format!("RocksDB {op} failed ({}): {e}", path.display()),
    }
}

impl KeyValueStore for RocksDbKeyValueStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get(key).map_err(|e| self.error("get", e))
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.db
            .put_opt(key, value, &self.write_options)
            .map_err(|e| self.error("put", e))
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let old = self.get(key)?;
        if old.is_some() {
            self.db
                .delete_opt(key, &self.write_options)
                .map_err(|e| self.error("delete", e))?;
        }
        Ok(old)
    }

    fn write_batch(&mut self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for (key, value) in entries {
            match value {
                Some(value) => batch.put(key, value),
                None => batch.delete(key),
            }
        }
        self.db
            .write_opt(batch, &self.write_options)
            .map_err(|e| self.error("write batch", e))
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<Entries, StoreError> {
        let mut out = Vec::new();
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Ok(out);
            }
        }
        let mut it = self.db.raw_iterator();
        match from {
            Some(from) => it.seek(from),
            None => it.seek_to_first(),
        }
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            if to.is_some_and(|to| key > to) {
                break;
            }
            out.push((key.to_vec(), value.to_vec()));
            it.next();
        }
        it.status().map_err(|e| self.error("iteration", e))?;
        Ok(out)
    }

    fn approximate_num_entries(&self) -> Result<u64, StoreError> {
        self.db
            .property_int_value(ESTIMATE_NUM_KEYS)
            .map(Option::unwrap_or_default)
            .map_err(|e| self.error("property read", e))
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.db.flush().map_err(|e| self.error("flush", e))
    }
}

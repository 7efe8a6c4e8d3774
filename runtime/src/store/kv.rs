//! The key-value store that tasks hold: one enum over the backends, so a
//! store call on the record path is a `match`, not a virtual call.

use super::memory::InMemoryKeyValueStore;
use super::rocksdb::RocksDbKeyValueStore;
use super::{Backend, Entries, KeyValueStore, StoreError, TaskDirectory};

/// A key-value store of either backend (enum dispatch).
#[derive(Debug)]
pub enum KvStore {
    /// A sorted map in memory.
    InMemory(InMemoryKeyValueStore),
    /// A RocksDB database under the task's directory.
    RocksDb(RocksDbKeyValueStore),
}

impl KvStore {
    /// Opens store `name` of a task with `backend`: RocksDB opens (or
    /// creates) `<task dir>/rocksdb/<name>`; in memory starts empty and
    /// touches no file.
    pub fn open(name: &str, backend: Backend, dir: &TaskDirectory) -> Result<Self, StoreError> {
        Ok(match backend {
            Backend::InMemory => KvStore::InMemory(InMemoryKeyValueStore::new(name)),
            Backend::RocksDb => KvStore::RocksDb(RocksDbKeyValueStore::open(name, dir)?),
        })
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        match self {
            KvStore::InMemory(_) => Backend::InMemory,
            KvStore::RocksDb(_) => Backend::RocksDb,
        }
    }

    /// Whether the store survives a restart (RocksDB): only those are
    /// checkpointed.
    pub fn persistent(&self) -> bool {
        matches!(self, KvStore::RocksDb(_))
    }

    /// Flushes and closes the store.
    pub fn close(self) -> Result<(), StoreError> {
        match self {
            KvStore::InMemory(_) => Ok(()),
            KvStore::RocksDb(store) => store.close(),
        }
    }
}

/// Forwards a call to the backend.
macro_rules! dispatch {
    ($self:expr, $store:ident => $call:expr) => {
        match $self {
            KvStore::InMemory($store) => $call,
            KvStore::RocksDb($store) => $call,
        }
    };
}

impl KeyValueStore for KvStore {
    fn name(&self) -> &str {
        dispatch!(self, s => s.name())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self, s => s.get(key))
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        dispatch!(self, s => s.put(key, value))
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self, s => s.delete(key))
    }

    fn write_batch(&mut self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), StoreError> {
        dispatch!(self, s => s.write_batch(entries))
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<Entries, StoreError> {
        dispatch!(self, s => s.range(from, to))
    }

    fn all(&self) -> Result<Entries, StoreError> {
        dispatch!(self, s => s.all())
    }

    fn approximate_num_entries(&self) -> Result<u64, StoreError> {
        dispatch!(self, s => s.approximate_num_entries())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        dispatch!(self, s => s.flush())
    }
}

/// The shared key-value store suite, run against every backend; test
/// helpers for the other store modules.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// One `range` call: bounds and the expected number of entries.
    type RangeCase<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, usize);

    /// A directory under the system's temp dir, unique per test, removed
    /// when dropped.
    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new(test: &str) -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "weir-store-{}-{}-{test}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }

        pub(crate) fn task_dir(&self) -> TaskDirectory {
            TaskDirectory(self.0.join("task-0_0"))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A store under test, with its directory (dropped after the store).
    struct Fixture {
        store: KvStore,
        _dir: TempDir,
    }

    fn fixture(backend: Backend, test: &str) -> Fixture {
        let dir = TempDir::new(test);
        let store = KvStore::open("store", backend, &dir.task_dir()).unwrap();
        assert_eq!(store.backend(), backend);
        Fixture { store, _dir: dir }
    }

    fn entries(items: &[(&[u8], &[u8])]) -> Entries {
        items
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect()
    }

    // ---- the suite: each function takes any store ----

    fn put_get_overwrite_delete(s: &mut impl KeyValueStore) {
        assert_eq!(s.name(), "store");
        assert_eq!(s.get(b"k").unwrap(), None);
        s.put(b"k", b"v1").unwrap();
        assert_eq!(s.get(b"k").unwrap(), Some(b"v1".to_vec()));
        s.put(b"k", b"value 2").unwrap();
        assert_eq!(s.get(b"k").unwrap(), Some(b"value 2".to_vec()));
        s.put(b"k", b"3").unwrap();
        assert_eq!(s.get(b"k").unwrap(), Some(b"3".to_vec()));
        assert_eq!(s.delete(b"k").unwrap(), Some(b"3".to_vec()));
        assert_eq!(s.get(b"k").unwrap(), None);
        assert_eq!(s.delete(b"k").unwrap(), None, "deleting twice");
        assert_eq!(s.delete(b"never").unwrap(), None);
        s.put(b"k", b"again").unwrap();
        assert_eq!(s.get(b"k").unwrap(), Some(b"again".to_vec()));
        s.flush().unwrap();
        assert_eq!(s.get(b"k").unwrap(), Some(b"again".to_vec()));
    }

    fn empty_values_are_not_missing(s: &mut impl KeyValueStore) {
        s.put(b"empty", b"").unwrap();
        assert_eq!(s.get(b"empty").unwrap(), Some(Vec::new()));
        assert_eq!(s.get(b"missing").unwrap(), None);
        s.put(b"", b"empty key").unwrap();
        assert_eq!(s.get(b"").unwrap(), Some(b"empty key".to_vec()));
        assert_eq!(
            s.all().unwrap(),
            entries(&[(b"", b"empty key"), (b"empty", b"")])
        );
        s.flush().unwrap();
        assert_eq!(s.get(b"empty").unwrap(), Some(Vec::new()));
        assert_eq!(s.delete(b"empty").unwrap(), Some(Vec::new()));
        assert_eq!(s.get(b"empty").unwrap(), None);
    }

    /// Keys that are prefixes of each other and bytes on both sides of 0x80.
    const RANGE_KEYS: &[&[u8]] = &[
        b"",
        b"a",
        b"ab",
        b"abc",
        b"b",
        &[0x7f],
        &[0x80],
        &[0x80, 0x00],
        &[0xff],
        &[0xff, 0x00],
        &[0xff, 0xff],
    ];

    fn within(key: &[u8], from: Option<&[u8]>, to: Option<&[u8]>) -> bool {
        let above = match from {
            Some(from) => key >= from,
            None => true,
        };
        let below = match to {
            Some(to) => key <= to,
            None => true,
        };
        above && below
    }

    fn range_bounds(s: &mut impl KeyValueStore) {
        // Written out of order; the value is the key's index in RANGE_KEYS.
        for (i, key) in RANGE_KEYS.iter().enumerate().rev() {
            s.put(key, &[i as u8]).unwrap();
        }
        let expect = |from: Option<&[u8]>, to: Option<&[u8]>| -> Entries {
            RANGE_KEYS
                .iter()
                .enumerate()
                .filter(|(_, k)| within(k, from, to))
                .map(|(i, k)| (k.to_vec(), vec![i as u8]))
                .collect()
        };
        let cases: &[RangeCase] = &[
            (None, None, RANGE_KEYS.len()),
            (Some(b"a"), Some(b"abc"), 3),
            (Some(b"ab"), None, 9),
            (None, Some(b"ab"), 3),
            (Some(b""), Some(b""), 1),
            (Some(b"aa"), Some(b"az"), 2),
            (Some(&[0x80]), Some(&[0xff]), 3),
            (Some(&[0x7f, 0xff]), Some(&[0x80, 0x00]), 2),
            (Some(&[0xff, 0x00]), None, 2),
            (Some(&[0xff, 0xff, 0x00]), None, 0),
            (None, Some(&[0x7f]), 6),
            (Some(b"abc"), Some(b"abc"), 1),
            (Some(b"abd"), Some(b"abd"), 0),
            (Some(b"b"), Some(b"a"), 0),
            (Some(&[0xff]), Some(&[0x00]), 0),
        ];
        for pass in ["memtable", "flushed"] {
            for &(from, to, len) in cases {
                let got = s.range(from, to).unwrap();
                assert_eq!(got, expect(from, to), "{pass}: range({from:?}, {to:?})");
                assert_eq!(got.len(), len, "{pass}: range({from:?}, {to:?})");
            }
            assert_eq!(s.all().unwrap(), expect(None, None), "{pass}: all");
            s.flush().unwrap();
        }
    }

    fn write_batch_last_write_wins(s: &mut impl KeyValueStore) {
        s.put(b"old", b"0").unwrap();
        s.put(b"kept", b"0").unwrap();
        let batch: Vec<(Vec<u8>, Option<Vec<u8>>)> = vec![
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"b".to_vec(), Some(b"2".to_vec())),
            (b"a".to_vec(), Some(b"3".to_vec())),
            (b"b".to_vec(), None),
            (b"c".to_vec(), Some(b"4".to_vec())),
            (b"c".to_vec(), None),
            (b"c".to_vec(), Some(b"5".to_vec())),
            (b"old".to_vec(), None),
            (b"never".to_vec(), None),
            (b"empty".to_vec(), Some(Vec::new())),
        ];
        s.write_batch(&batch).unwrap();
        s.write_batch(&[]).unwrap();
        let expected = entries(&[(b"a", b"3"), (b"c", b"5"), (b"empty", b""), (b"kept", b"0")]);
        assert_eq!(s.all().unwrap(), expected);
        assert_eq!(s.get(b"b").unwrap(), None);
        assert_eq!(s.get(b"old").unwrap(), None);
        s.flush().unwrap();
        assert_eq!(s.all().unwrap(), expected);
    }

    fn approximate_count(s: &mut impl KeyValueStore) {
        assert_eq!(s.approximate_num_entries().unwrap(), 0);
        for i in 0..100u32 {
            s.put(&i.to_be_bytes(), b"v").unwrap();
        }
        let in_bounds = |n: u64| (50..=200).contains(&n);
        let n = s.approximate_num_entries().unwrap();
        assert!(in_bounds(n), "{n} entries estimated for 100");
        s.flush().unwrap();
        let n = s.approximate_num_entries().unwrap();
        assert!(in_bounds(n), "{n} entries estimated for 100 after a flush");
    }

    fn large_values(s: &mut impl KeyValueStore) {
        let big: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
        let mut other = big.clone();
        other.reverse();
        s.put(b"big", &big).unwrap();
        s.put(b"big2", &other).unwrap();
        assert_eq!(s.get(b"big").unwrap().as_deref(), Some(big.as_slice()));
        s.flush().unwrap();
        assert_eq!(s.get(b"big").unwrap().as_deref(), Some(big.as_slice()));
        let all = s.all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].1, big);
        assert_eq!(all[1].1, other);
        assert_eq!(s.delete(b"big").unwrap().as_deref(), Some(big.as_slice()));
    }

    fn ten_thousand_keys_in_order(s: &mut impl KeyValueStore) {
        const N: u32 = 10_000;
        // A permutation of 0..N (7919 is prime, so coprime with N).
        let key = |i: u32| ((i * 7919) % N).to_be_bytes();
        for i in 0..N / 2 {
            s.put(&key(i), &key(i)).unwrap();
        }
        let batch: Vec<_> = (N / 2..N)
            .map(|i| (key(i).to_vec(), Some(key(i).to_vec())))
            .collect();
        s.write_batch(&batch).unwrap();
        let check = |all: Entries| {
            assert_eq!(all.len(), N as usize);
            for (i, (k, v)) in all.iter().enumerate() {
                assert_eq!(k.as_slice(), (i as u32).to_be_bytes());
                assert_eq!(k, v);
            }
        };
        check(s.all().unwrap());
        let mid = s
            .range(Some(&1000u32.to_be_bytes()), Some(&1999u32.to_be_bytes()))
            .unwrap();
        assert_eq!(mid.len(), 1000);
        assert_eq!(mid[0].0, 1000u32.to_be_bytes());
        s.flush().unwrap();
        check(s.all().unwrap());
    }

    /// Generates one test module per backend running the whole suite.
    macro_rules! suite {
        ($module:ident, $backend:expr) => {
            mod $module {
                use super::*;

                fn run(test: &str, body: fn(&mut KvStore)) {
                    let mut f = fixture($backend, test);
                    body(&mut f.store);
                }

                #[test]
                fn put_get_overwrite_delete() {
                    run("put-get", super::put_get_overwrite_delete);
                }
                #[test]
                fn empty_values_are_not_missing() {
                    run("empty", super::empty_values_are_not_missing);
                }
                #[test]
                fn range_bounds() {
                    run("range", super::range_bounds);
                }
                #[test]
                fn write_batch_last_write_wins() {
                    run("batch", super::write_batch_last_write_wins);
                }
                #[test]
                fn approximate_count() {
                    run("count", super::approximate_count);
                }
                #[test]
                fn large_values() {
                    run("large", super::large_values);
                }
                #[test]
                fn ten_thousand_keys_in_order() {
                    run("10k", super::ten_thousand_keys_in_order);
                }
            }
        };
    }

    suite!(in_memory, Backend::InMemory);
    suite!(rocksdb, Backend::RocksDb);

    // ---- backend-specific ----

    #[test]
    fn in_memory_touches_no_file() {
        let dir = TempDir::new("memory-no-file");
        let mut store = KvStore::open("s", Backend::InMemory, &dir.task_dir()).unwrap();
        store.put(b"k", b"v").unwrap();
        assert!(!store.persistent());
        assert!(!dir.task_dir().0.exists());
        store.close().unwrap();
    }

    #[test]
    fn rocksdb_reopen_persists() {
        let dir = TempDir::new("rocksdb-reopen");
        let task = dir.task_dir();
        let mut store = KvStore::open("counts", Backend::RocksDb, &task).unwrap();
        assert!(store.persistent());
        assert!(task.store_path("counts").is_dir());
        store.put(b"a", b"1").unwrap();
        store
            .write_batch(&[(b"b".to_vec(), Some(b"2".to_vec()))])
            .unwrap();
        store.close().unwrap();

        // Reopened after close(); then written without a flush and dropped:
        // a clean close flushes what the (WAL-less) memtable holds.
        let mut store = KvStore::open("counts", Backend::RocksDb, &task).unwrap();
        assert_eq!(store.all().unwrap(), entries(&[(b"a", b"1"), (b"b", b"2")]));
        store.put(b"c", b"3").unwrap();
        assert_eq!(store.delete(b"a").unwrap(), Some(b"1".to_vec()));
        drop(store);

        let store = KvStore::open("counts", Backend::RocksDb, &task).unwrap();
        assert_eq!(store.all().unwrap(), entries(&[(b"b", b"2"), (b"c", b"3")]));
    }

    #[test]
    fn rocksdb_two_stores_in_one_task() {
        let dir = TempDir::new("rocksdb-two");
        let task = dir.task_dir();
        let mut one = KvStore::open("one", Backend::RocksDb, &task).unwrap();
        let mut two = KvStore::open("two", Backend::RocksDb, &task).unwrap();
        one.put(b"k", b"1").unwrap();
        two.put(b"k", b"2").unwrap();
        two.put(b"only-two", b"x").unwrap();
        assert_eq!(one.all().unwrap(), entries(&[(b"k", b"1")]));
        assert_eq!(
            two.all().unwrap(),
            entries(&[(b"k", b"2"), (b"only-two", b"x")])
        );
        one.close().unwrap();
        two.close().unwrap();
        let one = KvStore::open("one", Backend::RocksDb, &task).unwrap();
        assert_eq!(one.get(b"k").unwrap(), Some(b"1".to_vec()));
        assert_eq!(one.get(b"only-two").unwrap(), None);
    }

    #[test]
    fn rocksdb_unwritable_directory_is_an_error() {
        // Tests may run as root, for whom permissions do not stop anything:
        // a file where the task directory should be does.
        let dir = TempDir::new("rocksdb-unwritable");
        let task = TaskDirectory(dir.path().join("not-a-dir"));
        std::fs::write(&task.0, b"file").unwrap();
        let err = KvStore::open("s", Backend::RocksDb, &task).unwrap_err();
        assert!(
            matches!(&err, StoreError::Io { store, .. } if store == "s"),
            "{err}"
        );
        assert!(err.to_string().contains("not-a-dir"), "{err}");

        // A file where the database's directory should be.
        let task = dir.task_dir();
        std::fs::create_dir_all(task.0.join("rocksdb")).unwrap();
        std::fs::write(task.store_path("s"), b"file").unwrap();
        let err = KvStore::open("s", Backend::RocksDb, &task).unwrap_err();
        assert!(matches!(&err, StoreError::Io { .. }), "{err}");
    }

    #[test]
    fn rocksdb_open_twice_is_a_backend_error() {
        let dir = TempDir::new("rocksdb-locked");
        let task = dir.task_dir();
        let _open = KvStore::open("s", Backend::RocksDb, &task).unwrap();
        let err = KvStore::open("s", Backend::RocksDb, &task).unwrap_err();
        match &err {
            StoreError::Backend { store, reason } => {
                assert_eq!(store, "s");
                assert!(reason.contains("LOCK"), "{reason}");
            }
            other => panic!("expected a backend error, got {other:?}"),
        }
    }
}

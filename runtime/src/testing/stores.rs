//! Typed views of a task's stores in the test driver, as Kafka Streams'
//! `getKeyValueStore`, `getWindowStore` and `getSessionStore`: keys and
//! values through their serdes, values in the stores' timestamped format.

use super::driver::TopologyTestDriver;
use crate::format::timestamped::split_timestamped;
use crate::serde::Serde;
use crate::store::{StoreKind, TaskStores};
use crate::task::{Task, TaskId};
use crate::topology::Topology;
use std::marker::PhantomData;

impl<T: Topology> TopologyTestDriver<T> {
    /// The key-value store `name` (of partition 0), typed, to read and to
    /// pre-populate, as Kafka Streams' `getKeyValueStore`. Panics if the
    /// topology has no key-value store of that name.
    pub fn get_key_value_store<K: Serde, V: Serde>(
        &self,
        name: &str,
    ) -> TestKeyValueStore<'_, T, K, V> {
        let (task, index, name) = self.locate_store(name, StoreKind::KeyValue);
        TestKeyValueStore {
            driver: self,
            task,
            index,
            name,
            types: PhantomData,
        }
    }

    /// The session store `name` (of partition 0), typed: Kafka Streams'
    /// `getSessionStore`. Panics if the topology has no session store of
    /// that name.
    pub fn get_session_store<K: Serde, V: Serde>(
        &self,
        name: &str,
    ) -> TestSessionStore<'_, T, K, V> {
        let (task, index, name) = self.locate_store(name, StoreKind::Session);
        TestSessionStore {
            driver: self,
            task,
            index,
            name,
            types: PhantomData,
        }
    }

    /// The window store `name` (of partition 0), typed: Kafka Streams'
    /// `getWindowStore`. Panics if the topology has no window store of that name.
    pub fn get_window_store<K: Serde, V: Serde>(&self, name: &str) -> TestWindowStore<'_, T, K, V> {
        let (task, index, name) = self.locate_store(name, StoreKind::Window);
        TestWindowStore {
            driver: self,
            task,
            index,
            name,
            types: PhantomData,
        }
    }

    /// Where the `kind` store `name` lives: its task (partition 0) and its
    /// index among that sub-topology's stores.
    fn locate_store(&self, name: &str, kind: StoreKind) -> (TaskId, usize, &'static str) {
        let found = self
            .plan
            .locate_store(name)
            .filter(|(_, _, s)| s.kind == kind);
        let Some((subtopology, index, store)) = found else {
            let names: Vec<&str> = self.plan.stores.iter().map(|s| s.name).collect();
            panic!(
                "no {} store named `{name}`; stores: {names:?}",
                kind.describe()
            );
        };
        let task = TaskId {
            subtopology,
            partition: 0,
        };
        (task, index, store.name)
    }

    /// Runs `f` on task `id`, which holds store `store`.
    fn with_task<R>(&self, id: TaskId, store: &str, f: impl FnOnce(&mut Task<T>) -> R) -> R {
        let mut state = self.state.borrow_mut();
        let Some((task, ())) = state.tasks.get_mut(id) else {
            panic!("no task {id} for store `{store}`");
        };
        // The cache is flushed after every record: it holds only clean
        // entries here, which a write below could make stale.
        task.clear_cache();
        f(task)
    }
}

/// A typed view of a task's window store in the test driver.
pub struct TestWindowStore<'a, T: Topology, K, V> {
    driver: &'a TopologyTestDriver<T>,
    task: TaskId,
    index: usize,
    name: &'static str,
    types: std::marker::PhantomData<fn() -> (K, V)>,
}

impl<T: Topology, K: Serde, V: Serde> TestWindowStore<'_, T, K, V> {
    fn with_store<R>(&self, f: impl FnOnce(&mut crate::store::WinStore) -> R) -> R {
        self.driver
            .with_task(self.task, self.name, |task| {
                task.stores()?.window_mut(self.index, self.name).ok().map(f)
            })
            .unwrap_or_else(|| panic!("window store `{}` is not open", self.name))
    }

    fn value(&self, bytes: &[u8]) -> V {
        let Some((_, value)) = split_timestamped(bytes) else {
            panic!("store `{}`: an entry without a timestamp", self.name);
        };
        V::deserialize(Some(value))
            .unwrap_or_else(|e| panic!("store `{}`: bad value: {e}", self.name))
    }

    /// The value of `key` in the window starting at `start`.
    pub fn fetch(&self, key: &K, start: i64) -> Option<V> {
        use crate::store::WindowStore as _;
        let key = store_key_bytes(key);
        let bytes = self
            .with_store(|s| s.fetch(&key, start))
            .unwrap_or_else(|e| panic!("{e}"));
        bytes.map(|b| self.value(&b))
    }

    /// `key`'s windows with `from <= start <= to`: (start, value), by start.
    pub fn fetch_range(&self, key: &K, from: i64, to: i64) -> Vec<(i64, V)> {
        use crate::store::WindowStore as _;
        let key = store_key_bytes(key);
        let entries = self
            .with_store(|s| s.fetch_range(&key, from, to))
            .unwrap_or_else(|e| panic!("{e}"));
        entries
            .into_iter()
            .map(|(start, b)| (start, self.value(&b)))
            .collect()
    }

    /// Every unexpired entry: (key, window start, value), by key bytes then start.
    pub fn all(&self) -> Vec<(K, i64, V)> {
        use crate::store::WindowStore as _;
        let entries = self
            .with_store(|s| s.all())
            .unwrap_or_else(|e| panic!("{e}"));
        entries
            .into_iter()
            .map(|(k, start, b)| {
                let key = K::deserialize(Some(&k))
                    .unwrap_or_else(|e| panic!("store `{}`: bad key: {e}", self.name));
                (key, start, self.value(&b))
            })
            .collect()
    }
}

/// A store key's bytes, for the typed store views (panics like Kafka
/// Streams' stores on a null key).
fn store_key_bytes<K: Serde>(key: &K) -> Vec<u8> {
    match crate::serde::to_bytes(key) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => panic!("a store key cannot be null"),
        Err(e) => panic!("cannot serialize the key: {e}"),
    }
}

/// A typed view of a task's session store in the test driver: sessions
/// (key, `[start, end]`) and their aggregates.
pub struct TestSessionStore<'a, T: Topology, K, V> {
    driver: &'a TopologyTestDriver<T>,
    task: TaskId,
    index: usize,
    name: &'static str,
    types: std::marker::PhantomData<fn() -> (K, V)>,
}

impl<T: Topology, K: Serde, V: Serde> TestSessionStore<'_, T, K, V> {
    fn with_stores<R>(&self, f: impl FnOnce(&mut TaskStores) -> R) -> R {
        self.driver
            .with_task(self.task, self.name, |task| {
                let stores = task.stores()?;
                stores.session(self.index, self.name).ok()?;
                Some(f(stores))
            })
            .unwrap_or_else(|| panic!("store `{}` is not open", self.name))
    }

    fn with_store<R>(&self, f: impl FnOnce(&mut crate::store::KvStore) -> R) -> R {
        self.with_stores(|stores| match stores.session_mut(self.index, self.name) {
            Ok(s) => f(s),
            Err(e) => panic!("{e}"),
        })
    }

    /// Every session of `key`, by ascending (end, start): Kafka Streams'
    /// `SessionStore.fetch(key)`.
    pub fn fetch(&self, key: &K) -> Vec<(crate::time::Window, V)> {
        self.find_sessions(key, 0, i64::MAX)
    }

    /// The sessions of `key` ending at or after `earliest_end` and starting
    /// at or before `latest_start`: Kafka Streams' `findSessions`.
    pub fn find_sessions(
        &self,
        key: &K,
        earliest_end: i64,
        latest_start: i64,
    ) -> Vec<(crate::time::Window, V)> {
        let key = store_key_bytes(key);
        let mut cache = crate::store::cache::RecordCache::new(0);
        let found = self.with_stores(|stores| {
            crate::ops::session::find_sessions(
                &mut cache,
                stores,
                self.index,
                self.name,
                &key,
                earliest_end,
                latest_start,
                i64::MIN,
            )
        });
        found
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|(window, bytes)| {
                let value = V::deserialize(Some(&bytes))
                    .unwrap_or_else(|e| panic!("store `{}`: bad value: {e}", self.name));
                (window, value)
            })
            .collect()
    }

    /// Pre-populates session `window` of `key` with `value` (not logged).
    pub fn put(&self, key: &K, window: crate::time::Window, value: &V) {
        use crate::store::KeyValueStore as _;
        let mut session = Vec::new();
        crate::format::session_key::session_key(&store_key_bytes(key), window, &mut session);
        let bytes = crate::serde::to_bytes(value)
            .unwrap_or_else(|e| panic!("cannot serialize the value: {e}"))
            .unwrap_or_else(|| panic!("use `remove` to remove a session"));
        self.with_store(|s| s.put(&session, &bytes))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Removes session `window` of `key`.
    pub fn remove(&self, key: &K, window: crate::time::Window) {
        use crate::store::KeyValueStore as _;
        let mut session = Vec::new();
        crate::format::session_key::session_key(&store_key_bytes(key), window, &mut session);
        self.with_store(|s| s.delete(&session))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// A typed view of a task's key-value store in the test driver. Values are
/// stored with their timestamp (Kafka Streams' timestamped store format).
pub struct TestKeyValueStore<'a, T: Topology, K, V> {
    driver: &'a TopologyTestDriver<T>,
    task: TaskId,
    index: usize,
    name: &'static str,
    types: std::marker::PhantomData<fn() -> (K, V)>,
}

impl<T: Topology, K: Serde, V: Serde> TestKeyValueStore<'_, T, K, V> {
    fn with_store<R>(&self, f: impl FnOnce(&mut crate::store::KvStore) -> R) -> R {
        self.driver
            .with_task(self.task, self.name, |task| {
                task.stores()?.kv_mut(self.index, self.name).ok().map(f)
            })
            .unwrap_or_else(|| panic!("store `{}` is not open", self.name))
    }

    fn decode(&self, bytes: &[u8]) -> (V, i64) {
        let Some((ts, value)) = split_timestamped(bytes) else {
            panic!("store `{}`: an entry without a timestamp", self.name);
        };
        match V::deserialize(Some(value)) {
            Ok(v) => (v, ts),
            Err(e) => panic!("store `{}`: cannot deserialize a value: {e}", self.name),
        }
    }

    /// The value for `key`.
    pub fn get(&self, key: &K) -> Option<V> {
        self.get_with_timestamp(key).map(|(v, _)| v)
    }

    /// The value for `key` with its timestamp (`getTimestampedKeyValueStore`).
    pub fn get_with_timestamp(&self, key: &K) -> Option<(V, i64)> {
        use crate::store::KeyValueStore as _;
        let key = store_key_bytes(key);
        let bytes = self
            .with_store(|s| s.get(&key))
            .unwrap_or_else(|e| panic!("{e}"));
        bytes.map(|b| self.decode(&b))
    }

    /// Every entry, in key-bytes order.
    pub fn all(&self) -> Vec<(K, V)> {
        use crate::store::KeyValueStore as _;
        let entries = self
            .with_store(|s| s.all())
            .unwrap_or_else(|e| panic!("{e}"));
        entries
            .into_iter()
            .map(|(k, v)| {
                let key = K::deserialize(Some(&k))
                    .unwrap_or_else(|e| panic!("store `{}`: bad key: {e}", self.name));
                (key, self.decode(&v).0)
            })
            .collect()
    }

    /// Pre-populates `key` with `value` at `timestamp` (not logged to the
    /// changelog).
    pub fn put(&self, key: &K, value: &V, timestamp: i64) {
        use crate::store::KeyValueStore as _;
        let key = store_key_bytes(key);
        let mut bytes = timestamp.to_be_bytes().to_vec();
        match value.serialize(&mut bytes) {
            Ok(true) => {}
            Ok(false) => panic!("use `delete` to remove a key"),
            Err(e) => panic!("cannot serialize the value: {e}"),
        }
        self.with_store(|s| s.put(&key, &bytes))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Removes `key`.
    pub fn delete(&self, key: &K) {
        use crate::store::KeyValueStore as _;
        let key = store_key_bytes(key);
        self.with_store(|s| s.delete(&key))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Approximate number of entries.
    pub fn approximate_num_entries(&self) -> u64 {
        use crate::store::KeyValueStore as _;
        self.with_store(|s| s.approximate_num_entries())
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

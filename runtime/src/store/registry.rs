//! A task's stores: every store of one sub-topology, in one list indexed as
//! the plan numbers them (see [`crate::topology::Plan::stores`]), whatever
//! their kind. Generated code reaches a store by that index; restoration,
//! checkpoints, the test driver and the Processor API go through here too.

use super::{
    Backend, KeyValueStore, KvStore, StoreError, StoreKind, TaskDirectory, WinStore, WindowStore,
};
use crate::error::{store_error, ProcessError};

/// One store of a task, of any kind.
#[derive(Debug)]
pub enum StateStore {
    /// A (timestamped) key-value store.
    KeyValue(KvStore),
    /// A (timestamped) window store.
    Window(WinStore),
    /// A session store: key-value, keyed by session keys, plain values.
    Session(KvStore),
}

impl StateStore {
    /// Its kind.
    pub fn kind(&self) -> StoreKind {
        match self {
            StateStore::KeyValue(_) => StoreKind::KeyValue,
            StateStore::Window(_) => StoreKind::Window,
            StateStore::Session(_) => StoreKind::Session,
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        match self {
            StateStore::KeyValue(s) | StateStore::Session(s) => s.name(),
            StateStore::Window(s) => s.name(),
        }
    }

    /// Whether it survives a restart on its own (RocksDB): only those are
    /// checkpointed and restored from a checkpoint.
    pub fn persistent(&self) -> bool {
        match self {
            StateStore::KeyValue(s) | StateStore::Session(s) => s.persistent(),
            StateStore::Window(s) => s.persistent(),
        }
    }

    /// Makes writes durable (RocksDB: flush memtables).
    pub fn flush(&mut self) -> Result<(), StoreError> {
        match self {
            StateStore::KeyValue(s) | StateStore::Session(s) => s.flush(),
            StateStore::Window(s) => s.flush(),
        }
    }

    /// The store as restoration writes to it.
    pub fn restore_target(&mut self) -> super::restore::StoreMut<'_> {
        use super::restore::StoreMut;
        match self {
            StateStore::KeyValue(s) => StoreMut::KeyValue(s),
            StateStore::Session(s) => StoreMut::Session(s),
            StateStore::Window(s) => StoreMut::Window(s),
        }
    }
}

/// How to open one store of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSpec<'a> {
    /// Its name (the RocksDB directory's).
    pub name: &'a str,
    /// Its kind.
    pub kind: StoreKind,
    /// Its backend.
    pub backend: Backend,
    /// For a window store, how long it keeps windows.
    pub retention_ms: i64,
}

/// Every store of one task, by plan index (empty for a stateless task).
#[derive(Debug, Default)]
pub struct TaskStores {
    stores: Vec<StateStore>,
}

#[cold]
fn not_open(name: &str, index: usize, kind: StoreKind) -> ProcessError {
    store_error(
        name,
        format!(
            "not open as {} store #{index} (the task was not initialised)",
            kind.describe()
        ),
    )
}

impl TaskStores {
    /// No stores.
    pub const fn new() -> Self {
        TaskStores { stores: Vec::new() }
    }

    /// Opens every store of a task in `dir`, in order.
    pub fn open<'a>(
        specs: impl IntoIterator<Item = StoreSpec<'a>>,
        dir: &TaskDirectory,
    ) -> Result<Self, StoreError> {
        let stores = specs
            .into_iter()
            .map(|s| {
                Ok(match s.kind {
                    StoreKind::KeyValue => {
                        StateStore::KeyValue(KvStore::open(s.name, s.backend, dir)?)
                    }
                    StoreKind::Session => {
                        StateStore::Session(KvStore::open(s.name, s.backend, dir)?)
                    }
                    StoreKind::Window => {
                        StateStore::Window(WinStore::open(s.name, s.backend, s.retention_ms, dir)?)
                    }
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(TaskStores { stores })
    }

    /// How many stores.
    pub fn len(&self) -> usize {
        self.stores.len()
    }

    /// True for a stateless task (or one not opened).
    pub fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    /// Store `index`, of any kind.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut StateStore> {
        self.stores.get_mut(index)
    }

    /// Every store, in index order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut StateStore> {
        self.stores.iter_mut()
    }

    /// Key-value store `index` (called `name` in errors).
    #[inline]
    pub fn kv(&self, index: usize, name: &str) -> Result<&KvStore, ProcessError> {
        match self.stores.get(index) {
            Some(StateStore::KeyValue(s)) => Ok(s),
            _ => Err(not_open(name, index, StoreKind::KeyValue)),
        }
    }

    /// Key-value store `index`, to write.
    #[inline]
    pub fn kv_mut(&mut self, index: usize, name: &str) -> Result<&mut KvStore, ProcessError> {
        match self.stores.get_mut(index) {
            Some(StateStore::KeyValue(s)) => Ok(s),
            _ => Err(not_open(name, index, StoreKind::KeyValue)),
        }
    }

    /// Window store `index`.
    #[inline]
    pub fn window(&self, index: usize, name: &str) -> Result<&WinStore, ProcessError> {
        match self.stores.get(index) {
            Some(StateStore::Window(s)) => Ok(s),
            _ => Err(not_open(name, index, StoreKind::Window)),
        }
    }

    /// Window store `index`, to write.
    #[inline]
    pub fn window_mut(&mut self, index: usize, name: &str) -> Result<&mut WinStore, ProcessError> {
        match self.stores.get_mut(index) {
            Some(StateStore::Window(s)) => Ok(s),
            _ => Err(not_open(name, index, StoreKind::Window)),
        }
    }

    /// Session store `index`.
    #[inline]
    pub fn session(&self, index: usize, name: &str) -> Result<&KvStore, ProcessError> {
        match self.stores.get(index) {
            Some(StateStore::Session(s)) => Ok(s),
            _ => Err(not_open(name, index, StoreKind::Session)),
        }
    }

    /// Session store `index`, to write.
    #[inline]
    pub fn session_mut(&mut self, index: usize, name: &str) -> Result<&mut KvStore, ProcessError> {
        match self.stores.get_mut(index) {
            Some(StateStore::Session(s)) => Ok(s),
            _ => Err(not_open(name, index, StoreKind::Session)),
        }
    }

    /// Flushes every store (before a checkpoint).
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.stores.iter_mut().try_for_each(StateStore::flush)
    }

    /// Closes every store (RocksDB flushes and releases its lock).
    pub fn close(self) -> Result<(), StoreError> {
        for store in self.stores {
            match store {
                StateStore::KeyValue(s) | StateStore::Session(s) => s.close()?,
                StateStore::Window(s) => s.close()?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_index_across_kinds_and_clear_errors_for_the_wrong_kind() {
        let dir = TaskDirectory(std::env::temp_dir().join("weir-registry-unused"));
        let spec = |name, kind| StoreSpec {
            name,
            kind,
            backend: Backend::InMemory,
            retention_ms: 100,
        };
        let mut stores = TaskStores::open(
            [
                spec("counts", StoreKind::KeyValue),
                spec("windows", StoreKind::Window),
                spec("sessions", StoreKind::Session),
            ],
            &dir,
        )
        .unwrap();
        assert_eq!(stores.len(), 3);
        stores.kv_mut(0, "counts").unwrap().put(b"k", b"v").unwrap();
        assert!(stores.window(1, "windows").is_ok());
        assert!(stores.session(2, "sessions").is_ok());
        let wrong = stores.kv(1, "windows").unwrap_err().to_string();
        assert!(wrong.contains("not open as key-value store #1"), "{wrong}");
        assert!(stores.window(7, "none").is_err());
        let kinds: Vec<StoreKind> = stores.iter_mut().map(|s| s.kind()).collect();
        assert_eq!(
            kinds,
            [StoreKind::KeyValue, StoreKind::Window, StoreKind::Session]
        );
        assert!(!dir.0.exists(), "in-memory stores touch no file");
    }
}

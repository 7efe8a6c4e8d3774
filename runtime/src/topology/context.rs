//! [`TaskContext`]: what a compiled sub-topology holds of the runtime, one
//! per task. Generated code reads and writes it on the record path (its
//! stores, record cache, clocks, scratch buffers); the task runner
//! ([`crate::task::Task`]) opens its stores, sets its clocks and reads its
//! counters. Nothing here is per operator: operators' own state (window
//! specs, stream times, suppress buffers, processors) are fields of the
//! generated struct.

use super::plan::Plan;
use crate::store::cache::{RecordCache, DEFAULT_CACHE_MAX_BYTES};
use crate::store::{Backend, StoreError, StoreSpec, TaskDirectory, TaskStores};

/// A store write of a user processor to log: changelog (index into the
/// plan's internal topics), key, value (`None` deletes), timestamp.
pub type Change = (usize, Vec<u8>, Option<Vec<u8>>, i64);

/// One task's runtime state, as generated code sees it.
#[derive(Debug)]
pub struct TaskContext {
    /// The task's stores, by plan index (empty until the task opens them).
    pub stores: TaskStores,
    /// The record cache in front of its cached stores.
    pub cache: RecordCache,
    /// Records its processors dropped (late, or a null key or value an
    /// aggregation cannot take): Kafka Streams' `dropped-records`.
    pub dropped: u64,
    /// The task's stream time, for user processors (-1 before any record).
    pub stream_ms: i64,
    /// The wall-clock time the task was last given.
    pub wall_ms: i64,
    /// How often (wall-clock ms) final-result aggregations look for closed
    /// windows (`emit.interval.ms.kstreams.windowed.aggregation`).
    pub emit_ms: i64,
    /// User processors' store writes, logged after each call.
    pub changes: Vec<Change>,
    /// Scratch buffer for serialised keys.
    pub key_buf: Vec<u8>,
    /// Scratch buffer for serialised values.
    pub value_buf: Vec<u8>,
    /// Scratch buffer for stored (timestamped) values.
    pub store_buf: Vec<u8>,
    /// Scratch buffer for changelog (windowed, session) keys.
    pub changelog_buf: Vec<u8>,
    /// Retention of window stores, by store index, known once the
    /// topology's windows are constructed.
    retention: Vec<(usize, i64)>,
}

/// A copy is another task's context: fresh (see [`TaskContext::fresh`]).
impl Clone for TaskContext {
    fn clone(&self) -> Self {
        self.fresh()
    }
}

impl Default for TaskContext {
    fn default() -> Self {
        Self::new(&[])
    }
}

impl TaskContext {
    /// A fresh context whose window stores keep windows as `retention`
    /// says: (store index, milliseconds).
    pub fn new(retention: &[(usize, i64)]) -> Self {
        TaskContext {
            stores: TaskStores::new(),
            cache: RecordCache::new(DEFAULT_CACHE_MAX_BYTES),
            dropped: 0,
            stream_ms: -1,
            wall_ms: 0,
            emit_ms: 1000,
            changes: Vec::new(),
            key_buf: Vec::new(),
            value_buf: Vec::new(),
            store_buf: Vec::new(),
            changelog_buf: Vec::new(),
            retention: retention.to_vec(),
        }
    }

    /// A context for another task of the same sub-topology: nothing is
    /// shared but the retention of its window stores.
    pub fn fresh(&self) -> Self {
        TaskContext {
            cache: RecordCache::new(self.cache.max_bytes()),
            emit_ms: self.emit_ms,
            ..Self::new(&self.retention)
        }
    }

    /// Opens the stores of sub-topology `sub` of `plan` in `dir` (none for
    /// a stateless one); `backend` overrides the plan's choice
    /// (`default.dsl.store`) for stores not pinned with `in_memory()`.
    pub fn open_stores(
        &mut self,
        plan: &Plan,
        sub: usize,
        dir: &TaskDirectory,
        backend: Option<Backend>,
    ) -> Result<(), StoreError> {
        let specs: Vec<StoreSpec<'static>> = plan
            .stores_of(sub)
            .enumerate()
            .map(|(index, s)| StoreSpec {
                name: s.name,
                kind: s.kind,
                backend: match s.backend {
                    Backend::InMemory => Backend::InMemory,
                    b => backend.unwrap_or(b),
                },
                retention_ms: self.retention_ms(index).unwrap_or(i64::MAX),
            })
            .collect();
        if !specs.is_empty() {
            self.stores = TaskStores::open(specs, dir)?;
        }
        Ok(())
    }

    /// How long window store `index` keeps windows, if it is one.
    pub fn retention_ms(&self, index: usize) -> Option<i64> {
        self.retention
            .iter()
            .find(|(i, _)| *i == index)
            .map(|&(_, ms)| ms)
    }
}

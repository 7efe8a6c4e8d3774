//! The tasks one owner runs: a stream thread's, or the test driver's. What
//! happens to all of them at once — wall-clock punctuations, the record
//! cache flush of a commit, the cache budget, the counters — is written
//! here once. `X` is what the owner keeps per task besides it (the Kafka
//! runtime: its changelog state, buffered input, tracing span).

use super::{Task, TaskId, TaskMetrics};
use crate::error::ProcessError;
use crate::topology::{RecordCollector, Topology};
use std::collections::BTreeMap;

/// A set of tasks, by id.
pub struct Tasks<T: Topology, X = ()> {
    tasks: BTreeMap<TaskId, (Task<T>, X)>,
    /// Counters of removed tasks.
    retired: TaskMetrics,
}

impl<T: Topology, X> Default for Tasks<T, X> {
    fn default() -> Self {
        Tasks {
            tasks: BTreeMap::new(),
            retired: TaskMetrics::default(),
        }
    }
}

/// A task that failed, and why.
pub type TaskFailure = (TaskId, ProcessError);

impl<T: Topology, X> Tasks<T, X> {
    /// No tasks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a task (replacing one with its id).
    pub fn insert(&mut self, task: Task<T>, extra: X) {
        self.tasks.insert(task.id(), (task, extra));
    }

    /// Removes a task; its counters are kept in [`Tasks::metrics`].
    pub fn remove(&mut self, id: TaskId) -> Option<(Task<T>, X)> {
        let (mut task, extra) = self.tasks.remove(&id)?;
        self.retired += task.metrics();
        Some((task, extra))
    }

    /// Removes every task, in id order.
    pub fn drain(&mut self) -> Vec<(Task<T>, X)> {
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        ids.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    /// Whether task `id` is here.
    pub fn contains(&self, id: TaskId) -> bool {
        self.tasks.contains_key(&id)
    }

    /// Task `id` and what its owner keeps with it.
    pub fn get_mut(&mut self, id: TaskId) -> Option<(&mut Task<T>, &mut X)> {
        self.tasks.get_mut(&id).map(|(t, x)| (t, x))
    }

    /// Every task, in id order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&mut Task<T>, &mut X)> {
        self.tasks.values_mut().map(|(t, x)| (t, x))
    }

    /// The ids, in order.
    pub fn ids(&self) -> Vec<TaskId> {
        self.tasks.keys().copied().collect()
    }

    /// How many tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Whether any task needs the wall clock.
    pub fn any_clocked(&self) -> bool {
        self.tasks.values().any(|(t, _)| t.is_clocked())
    }

    /// Runs every clocked task's due wall-clock punctuations at `now`; with
    /// `commit_each`, flushes its record cache after them (Kafka Streams'
    /// test driver commits after each punctuation).
    pub fn punctuate_wall_clock<C: RecordCollector>(
        &mut self,
        now: i64,
        commit_each: bool,
        out: &mut C,
    ) -> Result<(), TaskFailure> {
        for (id, (task, _)) in &mut self.tasks {
            if !task.is_clocked() {
                continue;
            }
            task.set_wall_clock(now);
            task.punctuate_wall_clock(out)
                .and_then(|()| {
                    if commit_each {
                        task.flush_cache(out)
                    } else {
                        Ok(())
                    }
                })
                .map_err(|e| (*id, e))?;
        }
        Ok(())
    }

    /// Flushes every task's record cache (the first step of a commit):
    /// cached updates go to the stores, changelogs and downstream; then
    /// `flushed` is told, so the owner can release the offsets it held back.
    pub fn flush_caches<C: RecordCollector>(
        &mut self,
        out: &mut C,
        mut flushed: impl FnMut(TaskId, &mut X),
    ) -> Result<(), TaskFailure> {
        for (id, (task, extra)) in &mut self.tasks {
            if !task.has_cache() {
                continue;
            }
            task.flush_cache(out).map_err(|e| (*id, e))?;
            flushed(*id, extra);
        }
        Ok(())
    }

    /// Shares a record cache budget evenly among the tasks with cached
    /// stores (Kafka Streams shares one cache per thread; weir gives each
    /// task its part). A positive budget stays positive: 0 would strip the
    /// caching layer.
    pub fn share_cache(&mut self, budget: usize) {
        let cached = self.tasks.values().filter(|(t, _)| t.has_cache()).count();
        if cached == 0 {
            return;
        }
        let per_task = match budget {
            0 => 0,
            n => (n / cached).max(1),
        };
        for (task, _) in self.tasks.values_mut() {
            task.set_cache_max_bytes(per_task);
        }
    }

    /// Counters of every task, removed ones included.
    pub fn metrics(&mut self) -> TaskMetrics {
        let mut m = self.retired;
        for (task, _) in self.tasks.values_mut() {
            m += task.metrics();
        }
        m
    }

    /// Counters of each task here, by id.
    pub fn task_metrics(&mut self) -> BTreeMap<TaskId, TaskMetrics> {
        self.tasks
            .iter_mut()
            .map(|(id, (task, _))| (*id, task.metrics()))
            .collect()
    }
}

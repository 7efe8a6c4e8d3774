//! Tasks: one sub-topology on one partition, the unit of work. The Kafka
//! runtime and the test driver both run records through this code, so they
//! share every rule about what happens to a record (timestamps,
//! deserialization handling, counting, punctuation) and about a task's
//! life: created, its stores opened and restored (by the owner, who knows
//! where the changelogs are), started, fed records, flushed at each commit,
//! closed.
//!
//! - [`Task`]: one task over a compiled [`Topology`].
//! - [`partition_group`]: which of a task's buffered input records comes
//!   next, by timestamp (Kafka Streams' `PartitionGroup`), and whether the
//!   task may process now (`max.task.idle.ms`).
//! - [`tasks`]: the tasks of one stream thread (or of the test driver).

pub mod partition_group;
pub mod tasks;

pub use partition_group::{PartitionGroup, Timestamped};
pub use tasks::Tasks;

use crate::config::{DeserializationHandler, StreamsConfig, TimestampPolicy};
use crate::error::{no_such_source, ProcessError};
use crate::record::SourceRecord;
use crate::store::{Backend, StoreError, TaskDirectory, TaskStores};
use crate::time::PunctuationType;
use crate::topology::{
    Plan, RecordCollector, SourceRecordCheck, SubTopology, SubVisitor, TaskContext, Topology,
};
use std::fmt;

/// A task's identity, printed as Kafka Streams does: `<sub>_<partition>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// Sub-topology number.
    pub subtopology: usize,
    /// Partition number.
    pub partition: i32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.subtopology, self.partition)
    }
}

/// What a task counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskMetrics {
    /// Records run through the processor.
    pub processed: u64,
    /// Records skipped by the deserialization handler (logged, not processed).
    pub skipped_records: u64,
    /// Records the processors dropped: for a window that had already closed,
    /// or with a null key (or value) an aggregation cannot take (Kafka
    /// Streams' `dropped-records` metric).
    pub dropped_records: u64,
}

impl std::ops::AddAssign for TaskMetrics {
    fn add_assign(&mut self, m: TaskMetrics) {
        self.processed += m.processed;
        self.skipped_records += m.skipped_records;
        self.dropped_records += m.dropped_records;
    }
}

/// One sub-topology on one partition.
pub struct Task<T: Topology> {
    id: TaskId,
    topology: T,
    plan: &'static Plan,
    handler: DeserializationHandler,
    timestamps: TimestampPolicy,
    /// Largest timestamp processed per source topic (this task's partition).
    partition_time: Vec<(String, i64)>,
    /// Largest timestamp of the records processed (-1 before the first).
    stream_time: i64,
    /// The wall-clock time its owner last gave it.
    wall_clock_ms: i64,
    /// Whether the sub-topology needs the clocks (user processors,
    /// final-result aggregations): stream time and punctuations after each
    /// record.
    clocked: bool,
    /// Whether it has cached stores.
    cached: bool,
    metrics: TaskMetrics,
}

impl<T: Topology> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id)
            .field("topology", &self.plan.name)
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

impl<T: Topology> Task<T> {
    /// A task running `topology`'s sub-topology `id.subtopology`, with the
    /// configuration's deserialization handler, timestamp policy and emit
    /// interval. Its stores are opened by [`Task::open`], and it runs once
    /// [`Task::start`]ed.
    pub fn new(id: TaskId, topology: T, config: &StreamsConfig) -> Self {
        let plan = topology.plan();
        let mut task = Task {
            id,
            topology,
            plan,
            handler: config.deserialization_handler,
            timestamps: config.timestamp_policy,
            partition_time: Vec::new(),
            stream_time: -1,
            wall_clock_ms: crate::time::now_ms(),
            clocked: plan.clocked(id.subtopology),
            cached: plan.cached(id.subtopology),
            metrics: TaskMetrics::default(),
        };
        if let Some(cx) = task.context() {
            cx.emit_ms = config.emit_interval_ms;
        }
        task
    }

    /// The sub-topology's runtime state.
    fn context(&mut self) -> Option<&mut TaskContext> {
        self.topology.context(self.id.subtopology)
    }

    /// This task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Opens the task's state stores under `dir` (nothing for a stateless
    /// sub-topology); `backend` overrides the topology's choice
    /// (`default.dsl.store`) for stores not pinned with `in_memory()`.
    pub fn open(
        &mut self,
        dir: &TaskDirectory,
        backend: Option<Backend>,
    ) -> Result<(), StoreError> {
        let (plan, sub) = (self.plan, self.id.subtopology);
        match self.topology.context(sub) {
            Some(cx) => cx.open_stores(plan, sub, dir, backend),
            None => Ok(()),
        }
    }

    /// The task's stores, by plan index (restoration, checkpoints, the test
    /// driver's store views); empty for a stateless task, `None` if the
    /// topology has no such sub-topology.
    pub fn stores(&mut self) -> Option<&mut TaskStores> {
        self.context().map(|cx| &mut cx.stores)
    }

    /// Closes the task's stores (RocksDB releases its lock); dropping the
    /// task does too.
    pub fn close(&mut self) -> Result<(), StoreError> {
        match self.context() {
            Some(cx) => std::mem::take(&mut cx.stores).close(),
            None => Ok(()),
        }
    }

    /// For store `index` of a `table(topic)`, the check its source topic's
    /// records must pass to be restored (see [`SourceRecordCheck`]), with
    /// the deserialization handler that decides what a failure does.
    pub fn source_record_check(
        &self,
        index: usize,
    ) -> Option<(SourceRecordCheck, DeserializationHandler)> {
        let store = self.plan.stores_of(self.id.subtopology).nth(index)?;
        store.source_check.map(|check| (check, self.handler))
    }

    /// Starts the task once its stores are open and restored: sets its
    /// wall clock and runs its user processors' `init` (their wall-clock
    /// punctuations count from now).
    pub fn start(&mut self, wall_clock_ms: i64) {
        self.set_wall_clock(wall_clock_ms);
        if self.clocked {
            self.topology.with_sub(self.id.subtopology, Start);
        }
    }

    /// Sets the wall-clock time processors see (the test driver's mock
    /// clock, or the system clock in the Kafka runtime).
    pub fn set_wall_clock(&mut self, wall_clock_ms: i64) {
        self.wall_clock_ms = wall_clock_ms;
        if self.clocked {
            let stream_time = self.stream_time;
            if let Some(cx) = self.context() {
                cx.wall_ms = wall_clock_ms;
                cx.stream_ms = stream_time;
            }
        }
    }

    /// Whether the task needs the clocks (user processors with
    /// punctuations, final-result aggregations).
    pub fn is_clocked(&self) -> bool {
        self.clocked
    }

    /// Runs the wall-clock punctuations that are due.
    pub fn punctuate_wall_clock<C: RecordCollector>(
        &mut self,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        if !self.clocked {
            return Ok(());
        }
        self.punctuate(PunctuationType::WallClockTime, out)
    }

    fn punctuate<C: RecordCollector>(
        &mut self,
        kind: PunctuationType,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        self.topology
            .with_sub(self.id.subtopology, Punctuate { kind, out })
            .unwrap_or(Ok(()))
    }

    /// Flushes the task's record cache (a commit): cached store updates are
    /// written, logged and forwarded. No-op without cached stores.
    pub fn flush_cache<C: RecordCollector>(&mut self, out: &mut C) -> Result<(), ProcessError> {
        if !self.cached {
            return Ok(());
        }
        self.topology.flush_cache(self.id.subtopology, out)
    }

    /// Sets the task's record cache budget.
    pub fn set_cache_max_bytes(&mut self, bytes: usize) {
        if let Some(cx) = self.context() {
            cx.cache.set_max_bytes(bytes);
        }
    }

    /// Drops the task's cached entries, dirty ones included (a task closed
    /// dirty, or stores changed from outside, by the test driver).
    pub fn clear_cache(&mut self) {
        if let Some(cx) = self.context() {
            cx.cache = crate::store::cache::RecordCache::new(cx.cache.max_bytes());
        }
    }

    /// Whether the task has cached stores: its processed offsets may be
    /// committed only after a cache flush.
    pub fn has_cache(&self) -> bool {
        self.cached
    }

    /// Sets how record timestamps are found (`default.timestamp.extractor`).
    pub fn with_timestamp_policy(mut self, policy: TimestampPolicy) -> Self {
        self.timestamps = policy;
        self
    }

    /// The partition time of `topic`: the largest timestamp processed from
    /// it by this task (-1 if none).
    pub fn partition_time(&self, topic: &str) -> i64 {
        self.partition_time
            .iter()
            .find(|(t, _)| t == topic)
            .map_or(-1, |&(_, ts)| ts)
    }

    fn observe(&mut self, topic: &str, timestamp: i64) {
        match self.partition_time.iter_mut().find(|(t, _)| t == topic) {
            Some((_, ts)) => *ts = (*ts).max(timestamp),
            None => self.partition_time.push((topic.to_owned(), timestamp)),
        }
    }

    /// The timestamp to process `record` with, by the timestamp policy;
    /// `Ok(None)` skips it.
    fn timestamp(&mut self, record: &SourceRecord<'_>) -> Result<Option<i64>, ProcessError> {
        let c = &record.context;
        let invalid = || ProcessError::InvalidTimestamp {
            topic: c.topic.to_owned(),
            partition: c.partition,
            offset: c.offset,
            timestamp: c.timestamp,
        };
        match self.timestamps {
            TimestampPolicy::WallClock => Ok(Some(crate::time::now_ms())),
            _ if c.timestamp >= 0 => Ok(Some(c.timestamp)),
            TimestampPolicy::FailOnInvalid => Err(invalid()),
            TimestampPolicy::LogAndSkipOnInvalid => {
                tracing::warn!(task = %self.id, error = %invalid(), "skipping record with an invalid timestamp");
                Ok(None)
            }
            TimestampPolicy::UsePartitionTimeOnInvalid => match self.partition_time(c.topic) {
                ts if ts >= 0 => Ok(Some(ts)),
                _ => Err(invalid()),
            },
        }
    }

    /// Counters so far.
    pub fn metrics(&mut self) -> TaskMetrics {
        let dropped = self.context().map_or(0, |cx| cx.dropped);
        TaskMetrics {
            dropped_records: dropped,
            ..self.metrics
        }
    }

    /// Processes one record that entered through `source`. A record whose
    /// bytes do not deserialize goes to the deserialization handler: under
    /// log-and-continue it is logged with its coordinates, counted, and
    /// `Ok` is returned (its offset may be committed); under log-and-fail
    /// the error is returned and nothing after it is processed.
    #[inline]
    pub fn process<C: RecordCollector>(
        &mut self,
        source: usize,
        record: SourceRecord<'_>,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        let timestamp = match self.timestamp(&record) {
            Ok(Some(ts)) => ts,
            Ok(None) => {
                self.metrics.skipped_records += 1;
                return Ok(());
            }
            Err(e) => {
                tracing::error!(task = %self.id, error = %e, "stopping");
                return Err(e);
            }
        };
        let mut record = record;
        record.context.timestamp = timestamp;
        if self.clocked {
            // Stream time advances as the record is taken (Kafka Streams'
            // PartitionGroup), before it is processed.
            self.stream_time = self.stream_time.max(timestamp);
            let (stream_time, wall) = (self.stream_time, self.wall_clock_ms);
            if let Some(cx) = self.context() {
                cx.stream_ms = stream_time;
                cx.wall_ms = wall;
            }
        }
        let sub = self.id.subtopology;
        let result = self
            .topology
            .with_sub(
                sub,
                Process {
                    source,
                    record,
                    out: &mut *out,
                },
            )
            .unwrap_or_else(|| Err(no_such_source(sub, source)));
        match result {
            Ok(()) => {
                self.metrics.processed += 1;
                self.observe(record.context.topic, timestamp);
                if self.clocked {
                    self.punctuate(PunctuationType::StreamTime, out)?;
                }
                Ok(())
            }
            Err(e @ ProcessError::NegativeExtractedTimestamp { .. }) => {
                // Kafka Streams drops such records with a warning, counted.
                self.metrics.skipped_records += 1;
                tracing::warn!(task = %self.id, error = %e, "skipping record");
                Ok(())
            }
            Err(e @ ProcessError::Deserialization { .. }) => match self.handler {
                DeserializationHandler::LogAndContinue => {
                    self.metrics.skipped_records += 1;
                    tracing::warn!(task = %self.id, error = %e,
                        "skipping record that cannot be deserialized (log-and-continue)");
                    Ok(())
                }
                DeserializationHandler::LogAndFail => {
                    tracing::error!(task = %self.id, error = %e,
                        "record cannot be deserialized (log-and-fail): stopping");
                    Err(e)
                }
            },
            Err(e) => Err(e),
        }
    }
}

/// [`SubTopology::process`] as a visitor.
struct Process<'r, 'o, C> {
    source: usize,
    record: SourceRecord<'r>,
    out: &'o mut C,
}

impl<'a, C: RecordCollector> SubVisitor<'a> for Process<'_, '_, C> {
    type Output = Result<(), ProcessError>;
    #[inline(always)]
    fn visit<S: SubTopology>(self, sub: &'a mut S) -> Self::Output {
        sub.process(self.source, self.record, self.out)
    }
}

/// [`SubTopology::punctuate`] as a visitor.
struct Punctuate<'o, C> {
    kind: PunctuationType,
    out: &'o mut C,
}

impl<'a, C: RecordCollector> SubVisitor<'a> for Punctuate<'_, C> {
    type Output = Result<(), ProcessError>;
    fn visit<S: SubTopology>(self, sub: &'a mut S) -> Self::Output {
        sub.punctuate(self.kind, self.out)
    }
}

/// [`SubTopology::start`] as a visitor.
struct Start;

impl<'a> SubVisitor<'a> for Start {
    type Output = ();
    fn visit<S: SubTopology>(self, sub: &'a mut S) {
        sub.start()
    }
}

//! A task: one sub-topology on one partition. The Kafka runtime and the test
//! driver both run records through this code, so they share every rule about
//! what happens to a record (deserialization handling, counting).

use crate::config::DeserializationHandler;
use crate::error::ProcessError;
use crate::record::SourceRecord;
use crate::topology::{RecordCollector, Topology};
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

/// One sub-topology on one partition.
pub struct Task<T: Topology> {
    id: TaskId,
    topology: T,
    handler: DeserializationHandler,
    timestamps: crate::config::TimestampPolicy,
    /// Largest timestamp processed per source topic (this task's partition).
    partition_time: Vec<(String, i64)>,
    /// Largest timestamp of the records processed (-1 before the first).
    stream_time: i64,
    /// The wall-clock time its owner last gave it.
    wall_clock_ms: i64,
    /// Whether the topology has user processors here (stream-time
    /// punctuations to run after each record).
    processors: bool,
    metrics: TaskMetrics,
}

impl<T: Topology> Task<T> {
    /// A task running `topology`'s sub-topology `id.subtopology`.
    pub fn new(id: TaskId, topology: T, handler: DeserializationHandler) -> Self {
        Task {
            id,
            topology,
            handler,
            timestamps: crate::config::TimestampPolicy::default(),
            partition_time: Vec::new(),
            stream_time: -1,
            wall_clock_ms: crate::time::now_ms(),
            processors: false,
            metrics: TaskMetrics::default(),
        }
        .with_processors()
    }

    /// The check records of store `store`'s source topic must pass to be
    /// restored (see [`crate::topology::SourceRecordCheck`]), with the
    /// deserialization handler that decides what a failure does.
    pub fn source_record_check(
        &self,
        store: &str,
    ) -> Option<(crate::topology::SourceRecordCheck, DeserializationHandler)> {
        self.topology
            .source_record_check(store)
            .map(|check| (check, self.handler))
    }

    fn with_processors(mut self) -> Self {
        self.processors = self.topology.has_processors(self.id.subtopology);
        self
    }

    /// Sets the wall-clock time processors see (the test driver's mock
    /// clock, or the system clock in the Kafka runtime).
    pub fn set_wall_clock(&mut self, wall_clock_ms: i64) {
        self.wall_clock_ms = wall_clock_ms;
        if self.processors {
            self.topology
                .advance_time(self.id.subtopology, self.stream_time, wall_clock_ms);
        }
    }

    /// Sets how often (wall-clock ms) final-result windowed aggregations
    /// look for closed windows (`emit.interval.ms.kstreams.windowed.aggregation`).
    pub fn set_emit_interval(&mut self, ms: i64) {
        self.topology.set_emit_interval(self.id.subtopology, ms);
    }

    /// Whether the task runs user processors (with punctuations).
    pub fn has_processors(&self) -> bool {
        self.processors
    }

    /// Runs the wall-clock punctuations that are due.
    pub fn punctuate_wall_clock<C: RecordCollector>(
        &mut self,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        if !self.processors {
            return Ok(());
        }
        self.topology.punctuate(
            self.id.subtopology,
            crate::processor::PunctuationType::WallClockTime,
            out,
        )
    }

    /// Opens the task's state stores under `dir` (no-op for a stateless
    /// sub-topology); `backend` overrides the topology's choice
    /// (`default.dsl.store`) for stores not pinned with `in_memory()`.
    pub fn init(
        &mut self,
        dir: &crate::store::TaskDirectory,
        backend: Option<crate::store::Backend>,
    ) -> Result<(), crate::store::StoreError> {
        self.topology.init(self.id.subtopology, dir, backend)
    }

    /// The task's open state stores, in plan order (restoration, flushes,
    /// checkpoints); empty for a stateless task.
    pub fn stores_mut(&mut self) -> &mut [crate::store::KvStore] {
        self.topology.stores_mut(self.id.subtopology)
    }

    /// Flushes the task's record cache (a commit): cached store updates are
    /// written, logged and forwarded. No-op without cached stores.
    pub fn flush_cache<C: RecordCollector>(&mut self, out: &mut C) -> Result<(), ProcessError> {
        self.topology.flush_cache(self.id.subtopology, out)
    }

    /// Sets the task's record cache budget.
    pub fn set_cache_max_bytes(&mut self, bytes: usize) {
        self.topology
            .set_cache_max_bytes(self.id.subtopology, bytes);
    }

    /// Drops the task's cached entries, dirty ones included.
    pub fn clear_cache(&mut self) {
        self.topology.clear_cache(self.id.subtopology);
    }

    /// Whether the task has cached stores: its processed offsets may be
    /// committed only after a cache flush.
    pub fn has_cache(&self) -> bool {
        self.topology.has_cache(self.id.subtopology)
    }

    /// The task's open session stores, in plan order.
    pub fn session_stores_mut(&mut self) -> &mut [crate::store::KvStore] {
        self.topology.session_stores_mut(self.id.subtopology)
    }

    /// The task's open window stores, in plan order.
    pub fn window_stores_mut(&mut self) -> &mut [crate::store::WinStore] {
        self.topology.window_stores_mut(self.id.subtopology)
    }

    /// Sets how record timestamps are found (`default.timestamp.extractor`).
    pub fn with_timestamp_policy(mut self, policy: crate::config::TimestampPolicy) -> Self {
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
        use crate::config::TimestampPolicy;
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

    /// This task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Counters so far.
    pub fn metrics(&self) -> TaskMetrics {
        TaskMetrics {
            dropped_records: self.topology.dropped_records(self.id.subtopology),
            ..self.metrics
        }
    }

    /// Processes one record that entered through `source`. A record whose
    /// bytes do not deserialize goes to the deserialization handler: under
    /// log-and-continue it is logged with its coordinates, counted, and
    /// `Ok` is returned (its offset may be committed); under log-and-fail
    /// the error is returned and nothing after it is processed.
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
        if self.processors {
            // Stream time advances as the record is taken (Kafka Streams'
            // PartitionGroup), before it is processed.
            self.stream_time = self.stream_time.max(timestamp);
            self.topology
                .advance_time(self.id.subtopology, self.stream_time, self.wall_clock_ms);
        }
        match self
            .topology
            .process(self.id.subtopology, source, record, out)
        {
            Ok(()) => {
                self.metrics.processed += 1;
                self.observe(record.context.topic, timestamp);
                if self.processors {
                    self.topology.punctuate(
                        self.id.subtopology,
                        crate::processor::PunctuationType::StreamTime,
                        out,
                    )?;
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

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
}

/// One sub-topology on one partition.
pub struct Task<T: Topology> {
    id: TaskId,
    topology: T,
    handler: DeserializationHandler,
    metrics: TaskMetrics,
}

impl<T: Topology> Task<T> {
    /// A task running `topology`'s sub-topology `id.subtopology`.
    pub fn new(id: TaskId, topology: T, handler: DeserializationHandler) -> Self {
        Task {
            id,
            topology,
            handler,
            metrics: TaskMetrics::default(),
        }
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

    /// The task's open window stores, in plan order.
    pub fn window_stores_mut(&mut self) -> &mut [crate::store::WinStore] {
        self.topology.window_stores_mut(self.id.subtopology)
    }

    /// The compiled topology this task runs (its own copy).
    pub fn topology_mut(&mut self) -> &mut T {
        &mut self.topology
    }

    /// This task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Counters so far.
    pub fn metrics(&self) -> TaskMetrics {
        self.metrics
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
        match self
            .topology
            .process(self.id.subtopology, source, record, out)
        {
            Ok(()) => {
                self.metrics.processed += 1;
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

//! The contract between generated code and the runtime.
//!
//! A compiled topology is a value implementing [`Topology`]: its static
//! [`Plan`] says what it reads and writes; [`Topology::with_sub`] hands one
//! of its sub-topologies, as its concrete generated type, to a
//! [`SubVisitor`]. A sub-topology ([`SubTopology`]) runs records through
//! its fused operators, flushes its record cache and runs its
//! punctuations, using the runtime state in its [`TaskContext`]. That is
//! the whole surface: everything else (the task lifecycle, restoration,
//! commits) is the runtime's, written once over these methods. Dispatch is
//! by `match` on the sub-topology's index into monomorphised code: no trait
//! objects on the record path.

pub mod context;
pub mod plan;

pub use context::{Change, TaskContext};
pub use plan::{
    InternalTopic, InternalTopicKind, Plan, SourcePlan, SourceRecordCheck, StoreKind, StorePlan,
    SubTopologyPlan, TopicRef,
};

use crate::error::{no_such_source, ProcessError};
use crate::record::{RecordContext, SourceRecord};
use crate::time::PunctuationType;
use std::fmt;

/// Where a sink sends a record: a fixed or extracted topic, or an internal one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkTopic<'a> {
    /// A user topic, fixed or chosen per record.
    Named(&'a str),
    /// An internal topic, by index into [`Plan::internal_topics`].
    Internal(usize),
}

/// A topology's description, as produced at compile time.
#[derive(Debug, Clone, Copy)]
pub struct TopologyDescription(pub &'static Plan);

impl fmt::Display for TopologyDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.description)
    }
}

/// Receives what a processor produces. The Kafka runtime hands records to
/// its producer; the test driver keeps them in memory. Generic (not `dyn`) in
/// the processor so the per-record path is monomorphised.
pub trait RecordCollector {
    /// Sends one serialised record with the context's timestamp and headers.
    fn send(
        &mut self,
        topic: SinkTopic<'_>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        context: &RecordContext<'_>,
    ) -> Result<(), ProcessError>;

    /// A line from a `print` operator (`[label]: key, value`).
    fn print(&mut self, line: fmt::Arguments<'_>);
}

/// A compiled topology, the value a `#[weir::topology]` function returns.
/// Cloning it gives an independent set of sub-topologies (one per task).
pub trait Topology: Clone + Send + 'static {
    /// What the topology reads, writes and looks like.
    fn plan(&self) -> &'static Plan;

    /// Calls `visitor` with sub-topology `sub`; `None` if there is none.
    fn with_sub<'a, V: SubVisitor<'a>>(&'a mut self, sub: usize, visitor: V) -> Option<V::Output>;

    /// Runs one record through sub-topology `sub`, entering at `source`
    /// (what a task does for each record, without its bookkeeping).
    #[inline]
    fn process<C: RecordCollector>(
        &mut self,
        sub: usize,
        source: usize,
        record: SourceRecord<'_>,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        self.with_sub(
            sub,
            Process {
                source,
                record,
                out,
            },
        )
        .unwrap_or_else(|| Err(no_such_source(sub, source)))
    }

    /// Sub-topology `sub`'s runtime state.
    fn context(&mut self, sub: usize) -> Option<&mut TaskContext> {
        self.with_sub(sub, ContextOf)
    }

    /// Flushes sub-topology `sub`'s record cache (see
    /// [`SubTopology::flush_cache`]).
    fn flush_cache<C: RecordCollector>(
        &mut self,
        sub: usize,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        self.with_sub(sub, FlushCache { out }).unwrap_or(Ok(()))
    }

    /// Kafka Streams' `Topology.describe()`.
    fn describe(&self) -> TopologyDescription {
        TopologyDescription(self.plan())
    }

    /// The topology as a Mermaid flowchart.
    fn mermaid(&self) -> &'static str {
        self.plan().mermaid
    }
}

/// Something done to one sub-topology, whatever its generated type
/// ([`Topology::with_sub`]).
pub trait SubVisitor<'a> {
    /// What it gives back.
    type Output;
    /// Does it to `sub`.
    fn visit<S: SubTopology>(self, sub: &'a mut S) -> Self::Output;
}

/// One sub-topology as generated: the fused chain of its operators, from
/// source bytes to sink bytes, with its runtime state.
pub trait SubTopology: Send + 'static {
    /// Its runtime state: stores, record cache, clocks, counters, buffers.
    fn context(&mut self) -> &mut TaskContext;

    /// Runs one record, entering at `source` (an index into its plan's
    /// sources).
    fn process<C: RecordCollector>(
        &mut self,
        source: usize,
        record: SourceRecord<'_>,
        out: &mut C,
    ) -> Result<(), ProcessError>;

    /// Flushes the record cache (a commit): each dirty entry of each cached
    /// store, store by store in plan order, is written to its store and
    /// changelog and forwarded downstream. No-op without cached stores.
    fn flush_cache<C: RecordCollector>(&mut self, out: &mut C) -> Result<(), ProcessError> {
        let _ = out;
        Ok(())
    }

    /// Starts its user processors (`init`), once the stores are open and
    /// restored and the clocks set.
    fn start(&mut self) {}

    /// Runs its due punctuations of `kind` at the context's clocks (user
    /// processors' schedules).
    fn punctuate<C: RecordCollector>(
        &mut self,
        kind: PunctuationType,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        let _ = (kind, out);
        Ok(())
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

/// [`SubTopology::flush_cache`] as a visitor.
struct FlushCache<'o, C> {
    out: &'o mut C,
}

impl<'a, C: RecordCollector> SubVisitor<'a> for FlushCache<'_, C> {
    type Output = Result<(), ProcessError>;
    fn visit<S: SubTopology>(self, sub: &'a mut S) -> Self::Output {
        sub.flush_cache(self.out)
    }
}

/// [`SubTopology::context`] as a visitor.
struct ContextOf;

impl<'a> SubVisitor<'a> for ContextOf {
    type Output = &'a mut TaskContext;
    #[inline]
    fn visit<S: SubTopology>(self, sub: &'a mut S) -> Self::Output {
        sub.context()
    }
}

/// What a `#[topology]` function that failed to compile returns: uninhabited.
#[derive(Clone, Copy, Debug)]
pub enum Uncompiled {}

impl Topology for Uncompiled {
    fn plan(&self) -> &'static Plan {
        match *self {}
    }
    fn with_sub<'a, V: SubVisitor<'a>>(
        &'a mut self,
        _sub: usize,
        _visitor: V,
    ) -> Option<V::Output> {
        match *self {}
    }
}

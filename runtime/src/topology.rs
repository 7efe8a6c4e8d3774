//! The contract between generated code and the runtime: a compiled topology
//! is a value implementing [`Topology`]; its static [`Plan`] says what it
//! reads and writes, and `process` runs one record through one sub-topology.

use crate::error::ProcessError;
use crate::record::{RecordContext, SourceRecord};
use std::fmt;

/// Checks that a record of a `table(topic)` store's source topic
/// deserializes with the table's key and value types: restoration from the
/// source topic runs it, so that a malformed record processing skipped (or
/// failed on) is not loaded into the store either.
pub type SourceRecordCheck =
    fn(Option<&[u8]>, Option<&[u8]>) -> Result<(), crate::serde::SerdeError>;

/// A topic named in a plan: a user topic, or an internal one whose full name
/// is `<application.id>-<name>` and is only known at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicRef {
    /// A user topic, by name.
    Named(&'static str),
    /// An internal topic, by index into [`Plan::internal_topics`].
    Internal(usize),
}

/// Where a sink sends a record: a fixed or extracted topic, or an internal one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkTopic<'a> {
    /// A user topic, fixed or chosen per record.
    Named(&'a str),
    /// An internal topic, by index into [`Plan::internal_topics`].
    Internal(usize),
}

/// A source node: the topics it reads.
#[derive(Debug, Clone, Copy)]
pub struct SourcePlan {
    /// Node name, e.g. `KSTREAM-SOURCE-0000000000`.
    pub name: &'static str,
    /// Topics, in declaration order.
    pub topics: &'static [TopicRef],
}

/// One sub-topology: the unit of tasks (one task per input partition).
#[derive(Debug, Clone, Copy)]
pub struct SubTopologyPlan {
    /// Whether all its source topics must have the same partition count
    /// (Kafka Streams' co-partitioning, required by joins). Otherwise, as in
    /// Kafka Streams, a task per partition number reads whichever of its
    /// topics have that partition.
    pub copartitioned: bool,
    /// Sources, indexed by the `source` argument of [`Topology::process`].
    pub sources: &'static [SourcePlan],
}

/// What an internal topic is for, which decides how it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternalTopicKind {
    /// `<name>-repartition`: `cleanup.policy=delete`.
    Repartition,
    /// `<store>-changelog` of a key-value store: `cleanup.policy=compact`.
    Changelog,
}

/// What kind of internal topic, and how to create it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InternalTopic {
    /// Name without the application id prefix, e.g. `KSTREAM-REPARTITION-0000000003-repartition`.
    pub name: &'static str,
    /// Partition count fixed in the topology; otherwise that of the
    /// upstream sub-topology's source topics, as Kafka Streams does.
    pub partitions: Option<i32>,
    /// The sub-topology that writes it.
    pub written_by: usize,
    /// Repartition or changelog.
    pub kind: InternalTopicKind,
}

/// A state store of the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorePlan {
    /// Store name (given with `named(..)`, or generated as Kafka Streams does).
    pub name: &'static str,
    /// The sub-topology whose tasks own it (each task has its own instance).
    pub subtopology: usize,
    /// Its changelog, by index into [`Plan::internal_topics`].
    pub changelog: Option<usize>,
    /// The source topic that is its changelog instead (a `table(topic)`
    /// store): restored from it, never written to.
    pub source_changelog: Option<&'static str>,
    /// In memory or RocksDB.
    pub backend: crate::store::Backend,
    /// Key-value or window store.
    pub kind: StoreKind,
}

/// What kind of store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A (timestamped) key-value store.
    KeyValue,
    /// A (timestamped) window store.
    Window,
    /// A session store: a key-value store keyed by Kafka Streams' session
    /// keys (key, session end, session start), plain aggregates as values.
    Session,
}

/// Everything the runtime needs to know about a compiled topology, produced
/// at compile time.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The name of the `#[topology]` function.
    pub name: &'static str,
    /// Sub-topologies, numbered as in the description.
    pub subtopologies: &'static [SubTopologyPlan],
    /// Repartition and changelog topics.
    pub internal_topics: &'static [InternalTopic],
    /// State stores, numbered per sub-topology in this order.
    pub stores: &'static [StorePlan],
    /// Text description, in the format of Kafka Streams' `Topology.describe()`.
    pub description: &'static str,
    /// The same graph as a Mermaid flowchart.
    pub mermaid: &'static str,
}

impl Plan {
    /// Full name of internal topic `index` for an application.
    pub fn internal_topic_name(&self, application_id: &str, index: usize) -> String {
        format!("{application_id}-{}", self.internal_topics[index].name)
    }

    /// Every (sub-topology, source index, topic) triple, with internal topics
    /// resolved for `application_id`.
    pub fn source_topics(&self, application_id: &str) -> Vec<(usize, usize, String)> {
        let mut out = Vec::new();
        for (sub, st) in self.subtopologies.iter().enumerate() {
            for (source, sp) in st.sources.iter().enumerate() {
                for topic in sp.topics {
                    let name = match *topic {
                        TopicRef::Named(n) => n.to_owned(),
                        TopicRef::Internal(i) => self.internal_topic_name(application_id, i),
                    };
                    out.push((sub, source, name));
                }
            }
        }
        out
    }
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
/// Cloning it gives an independent processor set (one per task).
pub trait Topology: Clone + Send + 'static {
    /// What the topology reads, writes and looks like.
    fn plan(&self) -> &'static Plan;

    /// Opens sub-topology `sub`'s state stores for one task, in `dir`.
    /// Called once per task before it processes anything.
    fn init(
        &mut self,
        sub: usize,
        dir: &crate::store::TaskDirectory,
        backend_override: Option<crate::store::Backend>,
    ) -> Result<(), crate::store::StoreError> {
        let _ = (sub, dir, backend_override);
        Ok(())
    }

    /// Sub-topology `sub`'s stores, in the order of [`Plan::stores`]
    /// (restoration, flushing, and the test driver's store access).
    fn stores_mut(&mut self, sub: usize) -> &mut [crate::store::KvStore] {
        let _ = sub;
        &mut []
    }

    /// For a store whose source topic is its changelog (`table(topic)`), the
    /// check its records must pass to be restored; `None` for other stores.
    fn source_record_check(&self, store: &str) -> Option<SourceRecordCheck> {
        let _ = store;
        None
    }

    /// How long window store `store` keeps windows (window size + grace),
    /// known once the topology is constructed; `None` for other stores. Its
    /// changelog is created with that retention (plus a day, as Kafka
    /// Streams' `windowstore.changelog.additional.retention.ms`).
    fn store_retention_ms(&self, store: &str) -> Option<i64> {
        let _ = store;
        None
    }

    /// Records sub-topology `sub`'s processors dropped so far.
    fn dropped_records(&self, sub: usize) -> u64 {
        let _ = sub;
        0
    }

    /// Sub-topology `sub`'s window stores, in the order of [`Plan::stores`].
    fn window_stores_mut(&mut self, sub: usize) -> &mut [crate::store::WinStore] {
        let _ = sub;
        &mut []
    }

    /// Tells sub-topology `sub`'s processors the task's stream time and the
    /// wall-clock time (before a record is processed, or a punctuation).
    fn advance_time(&mut self, sub: usize, stream_time: i64, wall_clock_ms: i64) {
        let _ = (sub, stream_time, wall_clock_ms);
    }

    /// Runs sub-topology `sub`'s punctuations of `kind` that are due.
    fn punctuate<C: RecordCollector>(
        &mut self,
        sub: usize,
        kind: crate::processor::PunctuationType,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        let _ = (sub, kind, out);
        Ok(())
    }

    /// Whether sub-topology `sub` needs the clocks: user processors
    /// (`process(..)`) or final-result windowed aggregations.
    fn has_processors(&self, sub: usize) -> bool {
        let _ = sub;
        false
    }

    /// Sets how often (wall-clock ms) sub-topology `sub`'s final-result
    /// windowed aggregations look for closed windows.
    fn set_emit_interval(&mut self, sub: usize, ms: i64) {
        let _ = (sub, ms);
    }

    /// Sub-topology `sub`'s session stores, in the order of [`Plan::stores`].
    fn session_stores_mut(&mut self, sub: usize) -> &mut [crate::store::KvStore] {
        let _ = sub;
        &mut []
    }

    /// Flushes sub-topology `sub`'s record cache (see
    /// [`SubTopology::flush_cache`]).
    fn flush_cache<C: RecordCollector>(
        &mut self,
        sub: usize,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        let _ = (sub, out);
        Ok(())
    }

    /// Sets sub-topology `sub`'s record cache budget.
    fn set_cache_max_bytes(&mut self, sub: usize, bytes: usize) {
        let _ = (sub, bytes);
    }

    /// Drops sub-topology `sub`'s cached entries, dirty ones included.
    fn clear_cache(&mut self, sub: usize) {
        let _ = sub;
    }

    /// Whether sub-topology `sub` has cached stores.
    fn has_cache(&self, sub: usize) -> bool {
        let _ = sub;
        false
    }

    /// Runs one record through sub-topology `sub`, entering at `source`.
    fn process<C: RecordCollector>(
        &mut self,
        sub: usize,
        source: usize,
        record: SourceRecord<'_>,
        out: &mut C,
    ) -> Result<(), ProcessError>;

    /// Kafka Streams' `Topology.describe()`.
    fn describe(&self) -> TopologyDescription {
        TopologyDescription(self.plan())
    }

    /// The topology as a Mermaid flowchart.
    fn mermaid(&self) -> &'static str {
        self.plan().mermaid
    }
}

/// One sub-topology's processor, as generated: the fused chain from source
/// bytes to sink bytes.
pub trait SubTopology: Clone + Send + 'static {
    /// Opens this sub-topology's stores for one task (stateless: nothing).
    fn init(
        &mut self,
        dir: &crate::store::TaskDirectory,
        backend_override: Option<crate::store::Backend>,
    ) -> Result<(), crate::store::StoreError> {
        let _ = (dir, backend_override);
        Ok(())
    }

    /// This sub-topology's open stores.
    fn stores_mut(&mut self) -> &mut [crate::store::KvStore] {
        &mut []
    }

    /// How long its window store `store` keeps windows; `None` for others.
    fn store_retention_ms(&self, store: &str) -> Option<i64> {
        let _ = store;
        None
    }

    /// Records this sub-topology's processors dropped so far.
    fn dropped_records(&self) -> u64 {
        0
    }

    /// This sub-topology's open window stores.
    fn window_stores_mut(&mut self) -> &mut [crate::store::WinStore] {
        &mut []
    }

    /// Tells its processors the task's stream time and the wall-clock time.
    fn advance_time(&mut self, stream_time: i64, wall_clock_ms: i64) {
        let _ = (stream_time, wall_clock_ms);
    }

    /// Runs its punctuations of `kind` that are due.
    fn punctuate<C: RecordCollector>(
        &mut self,
        kind: crate::processor::PunctuationType,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        let _ = (kind, out);
        Ok(())
    }

    /// Whether it needs the clocks (user processors, final results).
    fn has_processors(&self) -> bool {
        false
    }

    /// Sets how often its final-result aggregations look for closed windows.
    fn set_emit_interval(&mut self, ms: i64) {
        let _ = ms;
    }

    /// This sub-topology's open session stores.
    fn session_stores_mut(&mut self) -> &mut [crate::store::KvStore] {
        &mut []
    }

    /// Flushes the record cache (a commit): each dirty entry of each cached
    /// store, store by store in plan order, is written to its store and
    /// changelog and forwarded downstream. No-op without cached stores.
    fn flush_cache<C: RecordCollector>(&mut self, out: &mut C) -> Result<(), ProcessError> {
        let _ = out;
        Ok(())
    }

    /// Sets the record cache's byte budget (`statestore.cache.max.bytes`
    /// shared among a thread's tasks).
    fn set_cache_max_bytes(&mut self, bytes: usize) {
        let _ = bytes;
    }

    /// Drops every cached entry, dirty ones included: a task closed dirty,
    /// or stores changed from outside (the test driver).
    fn clear_cache(&mut self) {}

    /// Whether it has cached stores: then the offsets of processed records
    /// may be committed only after a cache flush.
    fn has_cache(&self) -> bool {
        false
    }

    /// Runs one record entering at `source`.
    fn process<C: RecordCollector>(
        &mut self,
        source: usize,
        record: SourceRecord<'_>,
        out: &mut C,
    ) -> Result<(), ProcessError>;
}

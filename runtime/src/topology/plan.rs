//! The static plan of a compiled topology: what it reads and writes, its
//! sub-topologies, internal topics and stores. The compiler writes it as a
//! `static`; the runtime reads it to subscribe, create topics, open stores
//! and restore them.

use crate::store::Backend;
pub use crate::store::StoreKind;

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
    /// Sources, indexed by the `source` argument of
    /// [`SubTopology::process`](super::SubTopology::process).
    pub sources: &'static [SourcePlan],
    /// Whether it needs the clocks: user processors (`process(..)`, with
    /// punctuations) or final-result windowed aggregations.
    pub clocked: bool,
    /// Whether it has stores behind the record cache: then the offsets of
    /// the records it processed are committed only after a cache flush.
    pub cached: bool,
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
#[derive(Debug, Clone, Copy)]
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
    /// For a source-topic changelog: the check a record must pass to be
    /// restored (the table's key and value types).
    pub source_check: Option<SourceRecordCheck>,
    /// In memory or RocksDB.
    pub backend: Backend,
    /// Key-value, window or session store.
    pub kind: StoreKind,
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
    /// State stores. A sub-topology's stores, in this order, are numbered
    /// from 0: the index generated code and [`crate::store::TaskStores`] use.
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

    /// Sub-topology `sub`'s stores, by their index in it.
    pub fn stores_of(&self, sub: usize) -> impl Iterator<Item = &'static StorePlan> {
        let stores: &'static [StorePlan] = self.stores;
        stores.iter().filter(move |s| s.subtopology == sub)
    }

    /// Where store `name` lives: its sub-topology and its index there.
    pub fn locate_store(&self, name: &str) -> Option<(usize, usize, &'static StorePlan)> {
        let stores: &'static [StorePlan] = self.stores;
        let store = stores.iter().find(|s| s.name == name)?;
        let index = self
            .stores_of(store.subtopology)
            .position(|s| s.name == name)?;
        Some((store.subtopology, index, store))
    }

    /// Whether sub-topology `sub` needs the clocks (see
    /// [`SubTopologyPlan::clocked`]).
    pub fn clocked(&self, sub: usize) -> bool {
        self.subtopologies.get(sub).is_some_and(|s| s.clocked)
    }

    /// Whether sub-topology `sub` has cached stores.
    pub fn cached(&self, sub: usize) -> bool {
        self.subtopologies.get(sub).is_some_and(|s| s.cached)
    }
}

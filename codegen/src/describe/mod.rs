//! Describe: the plan as text in the format of Kafka Streams'
//! `Topology.describe()`, a Mermaid diagram, and the static `Plan` the
//! runtime reads.

pub mod mermaid;
pub mod plan;
pub mod text;

pub use plan::source_check_fn;

use crate::graph::{Graph, NodeId, NodeKind, SinkTarget};
use crate::ops;
use crate::optimize::Rewrite;
use crate::plan::{Entry, InternalKind, Plan, StoreKind};
use std::collections::{BTreeSet, HashMap};
use syn::LitStr;

/// How a node appears in the description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescKind {
    /// Reads topics.
    Source(Vec<String>),
    /// Processes.
    Processor,
    /// Writes a topic (or a per-record topic).
    Sink(String),
}

/// A described node.
#[derive(Debug, Clone)]
pub struct DescNode {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: DescKind,
    /// Successor names.
    pub successors: Vec<String>,
    /// Predecessor names.
    pub predecessors: Vec<String>,
    /// Stores it uses.
    pub stores: Vec<String>,
}

/// The description of a compiled topology.
pub struct Description {
    /// The `#[topology]` function's name.
    pub name: String,
    /// Nodes per sub-topology, in Kafka Streams' order.
    pub subs: Vec<Vec<DescNode>>,
    /// Source entry names and topics per sub-topology, in `process` order.
    pub entries: Vec<Vec<(String, Vec<TopicName>)>>,
    /// Internal topics: name, partitions, writer, kind.
    pub internal: Vec<(String, Option<i32>, usize, InternalKind)>,
    /// Stores: name, sub-topology, changelog index, in memory, kind,
    /// source topic used as changelog.
    #[allow(clippy::type_complexity)]
    pub stores: Vec<(String, usize, usize, bool, StoreKind, Option<String>)>,
    /// Per sub-topology: whether it needs the clocks (user processors,
    /// final results), whether it has cached stores, and whether its input
    /// topics must be co-partitioned (joins).
    pub sub_flags: Vec<(bool, bool, bool)>,
    /// Rewrites applied.
    pub rewrites: Vec<Rewrite>,
}

/// A topic as the plan names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicName {
    /// A user topic.
    Named(String),
    /// Internal topic by index.
    Internal(usize),
}

fn exit_name(graph: &Graph, node: NodeId) -> String {
    let n = &graph.nodes[node];
    match n.kind {
        NodeKind::Repartition(ops::Repartition { .. }) => format!("{}-repartition-source", n.name),
        _ => n.name.clone(),
    }
}

fn entry_name(graph: &Graph, node: NodeId) -> String {
    let n = &graph.nodes[node];
    match n.kind {
        NodeKind::Repartition(ops::Repartition { .. }) => format!("{}-repartition-filter", n.name),
        _ => n.name.clone(),
    }
}

/// Builds the description.
pub fn describe(name: &str, graph: &Graph, plan: &Plan, rewrites: Vec<Rewrite>) -> Description {
    let mut subs = Vec::new();
    let mut entries = Vec::new();
    for s in &plan.subs {
        let mut nodes: Vec<DescNode> = Vec::new();
        let mut sub_entries = Vec::new();
        for entry in &s.entries {
            match *entry {
                Entry::Source(n) => {
                    let NodeKind::Source(ops::Source { topics, .. }) = &graph.nodes[n].kind else {
                        continue;
                    };
                    let topics: Vec<String> = topics.iter().map(|t| t.value()).collect();
                    sub_entries.push((
                        graph.nodes[n].name.clone(),
                        topics.iter().cloned().map(TopicName::Named).collect(),
                    ));
                }
                Entry::Repartition(r) => {
                    let index = plan.internal_of(r);
                    let topic = plan.internal[index].topic.clone();
                    let source = exit_name(graph, r);
                    sub_entries.push((source.clone(), vec![TopicName::Internal(index)]));
                    nodes.push(DescNode {
                        name: source,
                        kind: DescKind::Source(vec![topic]),
                        successors: graph.nodes[r]
                            .outputs
                            .iter()
                            .map(|&o| entry_name(graph, o))
                            .collect(),
                        predecessors: Vec::new(),
                        stores: Vec::new(),
                    });
                }
            }
        }
        for &id in &s.nodes {
            let n = &graph.nodes[id];
            let successors: Vec<String> = n.outputs.iter().map(|&o| entry_name(graph, o)).collect();
            let predecessors: Vec<String> = n.inputs.iter().map(|&i| exit_name(graph, i)).collect();
            match &n.kind {
                NodeKind::Source(ops::Source { topics, .. }) => nodes.push(DescNode {
                    name: n.name.clone(),
                    kind: DescKind::Source(topics.iter().map(|t| t.value()).collect()),
                    successors,
                    predecessors: Vec::new(),
                    stores: Vec::new(),
                }),
                NodeKind::Repartition(ops::Repartition { .. }) => {
                    let filter = entry_name(graph, id);
                    let sink = format!("{}-repartition-sink", n.name);
                    nodes.push(DescNode {
                        name: filter.clone(),
                        kind: DescKind::Processor,
                        successors: vec![sink.clone()],
                        predecessors,
                        stores: Vec::new(),
                    });
                    nodes.push(DescNode {
                        name: sink,
                        kind: DescKind::Sink(format!("{}-repartition", n.name)),
                        successors: Vec::new(),
                        predecessors: vec![filter],
                        stores: Vec::new(),
                    });
                }
                NodeKind::Sink(ops::Sink { target }) => nodes.push(DescNode {
                    name: n.name.clone(),
                    kind: DescKind::Sink(match target {
                        SinkTarget::Topic(t) => t.value(),
                        SinkTarget::Extractor(..) => String::new(),
                    }),
                    successors: Vec::new(),
                    predecessors,
                    stores: Vec::new(),
                }),
                _ => nodes.push(DescNode {
                    name: n.name.clone(),
                    kind: DescKind::Processor,
                    successors,
                    predecessors,
                    stores: match &n.kind {
                        NodeKind::Suppress(ops::Suppress { store, .. }) => vec![store.clone()],
                        NodeKind::Process(ops::Process { stores, .. }) => {
                            stores.iter().map(LitStr::value).collect()
                        }
                        _ => plan
                            .store_of(id)
                            .map(|s| vec![s.name.clone()])
                            .unwrap_or_default(),
                    },
                }),
            }
        }
        sort_like_kafka_streams(&mut nodes);
        subs.push(nodes);
        entries.push(sub_entries);
    }
    Description {
        name: name.to_owned(),
        subs,
        entries,
        internal: plan
            .internal
            .iter()
            .map(|i| (i.topic.clone(), i.partitions, i.written_by, i.kind))
            .collect(),
        stores: plan
            .stores
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.sub,
                    s.changelog,
                    s.in_memory,
                    s.kind,
                    s.source_changelog.clone(),
                )
            })
            .collect(),
        sub_flags: plan
            .subs
            .iter()
            .map(|sub| {
                let clocked = sub
                    .nodes
                    .iter()
                    .any(|&n| graph.nodes[n].kind.op().clocked());
                let cached = plan.stores.iter().any(|st| st.sub == sub.id && st.cached);
                let copartitioned = sub
                    .nodes
                    .iter()
                    .any(|&n| graph.nodes[n].kind.op().copartitions());
                (clocked, cached, copartitioned)
            })
            .collect(),
        rewrites,
    }
}

/// Kafka Streams orders nodes by the size of the sub-tree below them
/// (largest first), then by name; successors and predecessors likewise.
fn sort_like_kafka_streams(nodes: &mut [DescNode]) {
    let index: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.clone(), i))
        .collect();
    let sizes: HashMap<String, usize> = nodes
        .iter()
        .map(|n| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![n.name.clone()];
            while let Some(x) = stack.pop() {
                if seen.insert(x.clone()) {
                    if let Some(&i) = index.get(&x) {
                        stack.extend(nodes[i].successors.iter().cloned());
                    }
                }
            }
            (n.name.clone(), seen.len())
        })
        .collect();
    let key = |name: &String| {
        (
            std::cmp::Reverse(sizes.get(name).copied().unwrap_or(1)),
            name.clone(),
        )
    };
    for n in nodes.iter_mut() {
        n.successors.sort_by_key(key);
        n.predecessors.sort_by_key(key);
    }
    nodes.sort_by_key(|n| key(&n.name));
}

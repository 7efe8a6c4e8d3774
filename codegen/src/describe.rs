//! Describe: the plan as text in the format of Kafka Streams'
//! `Topology.describe()`, a Mermaid diagram, and the static `Plan` the
//! runtime reads.

use crate::graph::{Graph, NodeId, NodeKind, SinkTarget};
use crate::ops;
use crate::optimize::Rewrite;
use crate::plan::{Entry, InternalKind, Plan, StoreKind};
use proc_macro2::TokenStream;
use quote::quote;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;
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
    /// final results) and whether it has cached stores.
    pub sub_flags: Vec<(bool, bool)>,
    /// Rewrites applied.
    pub rewrites: Vec<Rewrite>,
}

/// The generated function checking the records of store `index`'s source
/// topic (a `table(topic)` store), named in the plan.
pub fn source_check_fn(index: usize) -> syn::Ident {
    quote::format_ident!("__weir_source_check_{}", index)
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
                (clocked, cached)
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

fn names(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

impl Description {
    /// The text, as `Topology.describe().toString()` prints it, followed by
    /// weir's internal topics and rewrites.
    pub fn text(&self) -> String {
        let mut s = String::from("Topologies:\n");
        for (i, nodes) in self.subs.iter().enumerate() {
            let _ = writeln!(s, "   Sub-topology: {i}");
            for n in nodes {
                match &n.kind {
                    DescKind::Source(topics) => {
                        let _ = writeln!(
                            s,
                            "    Source: {} (topics: [{}])",
                            n.name,
                            topics.join(", ")
                        );
                        let _ = writeln!(s, "      --> {}", names(&n.successors));
                    }
                    DescKind::Processor => {
                        let _ = writeln!(
                            s,
                            "    Processor: {} (stores: [{}])",
                            n.name,
                            n.stores.join(", ")
                        );
                        let _ = writeln!(s, "      --> {}", names(&n.successors));
                        let _ = writeln!(s, "      <-- {}", names(&n.predecessors));
                    }
                    DescKind::Sink(topic) if topic.is_empty() => {
                        let _ = writeln!(s, "    Sink: {} (extractor class: closure)", n.name);
                        let _ = writeln!(s, "      <-- {}", names(&n.predecessors));
                    }
                    DescKind::Sink(topic) => {
                        let _ = writeln!(s, "    Sink: {} (topic: {topic})", n.name);
                        let _ = writeln!(s, "      <-- {}", names(&n.predecessors));
                    }
                }
            }
            s.push('\n');
        }
        if !self.internal.is_empty() {
            s.push_str("Internal topics:\n");
            for (name, partitions, writer, kind) in &self.internal {
                let p = partitions.map_or("as its writer's sources".to_string(), |p| p.to_string());
                let kind = match kind {
                    InternalKind::Repartition => "repartition",
                    InternalKind::Changelog => "changelog, compacted",
                };
                let _ = writeln!(
                    s,
                    "   {name} ({kind}; written by sub-topology {writer}; partitions: {p})"
                );
            }
            s.push('\n');
        }
        s.push_str("Rewrites:\n");
        for r in &self.rewrites {
            let _ = writeln!(s, "   {}: {}", r.name, r.detail);
        }
        s
    }

    /// A Mermaid flowchart: sub-topologies as subgraphs, topics as stadiums.
    pub fn mermaid(&self) -> String {
        let mut s = String::from("flowchart TD\n");
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut id_of = |name: &str| -> String {
            let next = ids.len();
            ids.entry(name.to_owned())
                .or_insert_with(|| format!("n{next}"))
                .clone()
        };
        let mut topics: Vec<String> = Vec::new();
        let mut edges = Vec::new();
        for (i, nodes) in self.subs.iter().enumerate() {
            let _ = writeln!(s, "  subgraph sub{i} [\"Sub-topology {i}\"]");
            for n in nodes {
                let id = id_of(&n.name);
                let _ = writeln!(s, "    {id}[\"{}\"]", n.name);
                for succ in &n.successors {
                    edges.push(format!("  {id} --> {}", id_of(succ)));
                }
                match &n.kind {
                    DescKind::Source(ts) => {
                        for t in ts {
                            topics.push(t.clone());
                            edges.push(format!("  {} --> {id}", id_of(&format!("topic:{t}"))));
                        }
                    }
                    DescKind::Sink(t) if !t.is_empty() => {
                        topics.push(t.clone());
                        edges.push(format!("  {id} --> {}", id_of(&format!("topic:{t}"))));
                    }
                    _ => {}
                }
            }
            s.push_str("  end\n");
        }
        topics.sort();
        topics.dedup();
        for t in topics {
            let _ = writeln!(s, "  {}([\"{t}\"])", id_of(&format!("topic:{t}")));
        }
        edges.sort();
        edges.dedup();
        for e in edges {
            s.push_str(&e);
            s.push('\n');
        }
        s
    }

    /// The `Plan` static for the runtime.
    pub fn plan_tokens(&self, p: &TokenStream) -> TokenStream {
        let name = &self.name;
        let subs = self.entries.iter().zip(&self.sub_flags).map(|(entries, &(clocked, cached))| {
            let sources = entries.iter().map(|(name, topics)| {
                let topics = topics.iter().map(|t| match t {
                    TopicName::Named(n) => quote!(#p::TopicRef::Named(#n)),
                    TopicName::Internal(i) => quote!(#p::TopicRef::Internal(#i)),
                });
                quote!(#p::SourcePlan { name: #name, topics: &[#(#topics),*] })
            });
            quote!(#p::SubTopologyPlan { copartitioned: false, sources: &[#(#sources),*], clocked: #clocked, cached: #cached })
        });
        let internal = self.internal.iter().map(|(name, partitions, writer, kind)| {
            let partitions = match partitions {
                Some(n) => quote!(::core::option::Option::Some(#n)),
                None => quote!(::core::option::Option::None),
            };
            let kind = match kind {
                InternalKind::Repartition => quote!(#p::InternalTopicKind::Repartition),
                InternalKind::Changelog => quote!(#p::InternalTopicKind::Changelog),
            };
            quote!(#p::InternalTopic { name: #name, partitions: #partitions, written_by: #writer, kind: #kind })
        });
        let stores = self.stores.iter().enumerate().map(|(i, (name, sub, changelog, in_memory, kind, source))| {
            let kind = match kind {
                StoreKind::KeyValue => quote!(#p::StoreKind::KeyValue),
                StoreKind::Window => quote!(#p::StoreKind::Window),
                StoreKind::Session => quote!(#p::StoreKind::Session),
            };
            let backend = if *in_memory {
                quote!(#p::Backend::InMemory)
            } else {
                quote!(#p::Backend::RocksDb)
            };
            let (changelog, source, check) = match source {
                Some(topic) => {
                    let check = source_check_fn(i);
                    (quote!(::core::option::Option::None), quote!(::core::option::Option::Some(#topic)), quote!(::core::option::Option::Some(#check)))
                }
                None => (quote!(::core::option::Option::Some(#changelog)), quote!(::core::option::Option::None), quote!(::core::option::Option::None)),
            };
            quote!(#p::StorePlan { name: #name, subtopology: #sub, changelog: #changelog, source_changelog: #source, source_check: #check, backend: #backend, kind: #kind })
        });
        let text = self.text();
        let mermaid = self.mermaid();
        quote! {
            #p::Plan {
                name: #name,
                subtopologies: &[#(#subs),*],
                internal_topics: &[#(#internal),*],
                stores: &[#(#stores),*],
                description: #text,
                mermaid: #mermaid,
            }
        }
    }
}

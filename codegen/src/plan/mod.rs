//! Plan: sub-topologies (cut at repartition topics), internal topics, and the
//! key/value type of every edge.
//!
//! Types are solved by union-find over type variables: a source fixes its
//! variables to the declared types; key- or value-preserving operators pass
//! their input's variables on; `map`, `map_values`, ... make fresh ones that
//! rustc infers from the user's closures; `merge` unifies its inputs. Every
//! class without a declared type becomes a generic parameter of the
//! generated processors.

pub mod types;

pub(crate) use types::option_arg;
pub use types::{Ty, Types};

use crate::ctxt::Errors;
use crate::graph::{Graph, NodeId, NodeKind};
use crate::ops;

/// Where a sub-topology's records come from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Entry {
    /// A `stream(..)` source node.
    Source(NodeId),
    /// The internal topic written by this `repartition` node.
    Repartition(NodeId),
}

/// One sub-topology: becomes one generated processor.
pub struct Sub {
    /// Number, as in the description.
    pub id: usize,
    /// Its nodes in creation order (a repartition node belongs to the writer).
    pub nodes: Vec<NodeId>,
    /// Its entry points, indexed like `Topology::process`'s `source`.
    pub entries: Vec<Entry>,
}

/// What an internal topic is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InternalKind {
    /// Written by a repartition node, read by another sub-topology.
    Repartition,
    /// A store's changelog, written by the store's sub-topology.
    Changelog,
}

/// What a state store stores, and so its runtime store and byte layout.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StoreKind {
    /// A key-value store: aggregations, tables, processors, buffers.
    KeyValue,
    /// A window store (of a time- or sliding-windowed aggregation).
    Window,
    /// A session store (of a session-windowed aggregation).
    Session,
}

impl StoreKind {
    /// Whether its entries are kept by window, with a retention.
    pub fn windowed(self) -> bool {
        matches!(self, StoreKind::Window | StoreKind::Session)
    }
}

/// A state store an operator needs.
pub enum StoreUse {
    /// A store of its own, with a changelog `<name>-changelog`.
    Owns {
        /// Store name.
        name: String,
        /// `in_memory()` instead of RocksDB.
        in_memory: bool,
        /// Behind the record cache.
        cached: bool,
        /// What it stores.
        kind: StoreKind,
    },
    /// A store added with `builder.add_state_store(..)`: created with the
    /// first processor connected to it, shared by the others (which must
    /// be in its sub-topology).
    Connects(syn::LitStr),
    /// The store of another node (a cogroup input: its owner's).
    Shares(NodeId),
}

/// A state store.
pub struct Store {
    /// Store name.
    pub name: String,
    /// The node that owns it.
    pub node: NodeId,
    /// Its sub-topology.
    pub sub: usize,
    /// Its index among its sub-topology's stores (of every kind): the
    /// runtime's `TaskStores` index.
    pub index_in_sub: usize,
    /// Its changelog topic, by index into [`Plan::internal`] (`usize::MAX`
    /// when the store's source topic is its changelog).
    pub changelog: usize,
    /// A `table(topic)` store: the source topic is its changelog (no
    /// changelog topic of its own, no changelog writes).
    pub source_changelog: Option<String>,
    /// `in_memory()` instead of RocksDB.
    pub in_memory: bool,
    /// Behind the record cache (not `with_caching_disabled()`).
    pub cached: bool,
    /// What it stores.
    pub kind: StoreKind,
    /// Other nodes writing it: the later inputs of a cogroup.
    pub shared: Vec<NodeId>,
}

/// A repartition or changelog topic.
pub struct Internal {
    /// Name without the application id: `<name>-repartition` or `<store>-changelog`.
    pub topic: String,
    /// Repartition or changelog.
    pub kind: InternalKind,
    /// The repartition node, or the node owning the store.
    pub node: NodeId,
    /// Partition count given in the topology.
    pub partitions: Option<i32>,
    /// Sub-topology that writes it.
    pub written_by: usize,
    /// Sub-topology that reads it (a changelog: its own, on restoration).
    pub read_by: usize,
}

/// The planned topology.
pub struct Plan {
    /// Sub-topologies by number.
    pub subs: Vec<Sub>,
    /// Internal topics by index.
    pub internal: Vec<Internal>,
    /// The sub-topology of each node.
    pub node_sub: Vec<usize>,
    /// Edge types.
    pub types: Types,
    /// State stores, in node order.
    pub stores: Vec<Store>,
}

impl Plan {
    /// The internal topic written by repartition node `node`.
    pub fn internal_of(&self, node: NodeId) -> usize {
        self.internal
            .iter()
            .position(|i| i.node == node && i.kind == InternalKind::Repartition)
            .unwrap_or(usize::MAX)
    }

    /// The store owned by `node` (or shared with it, for cogroup inputs).
    pub fn store_of(&self, node: NodeId) -> Option<&Store> {
        self.stores
            .iter()
            .find(|s| s.node == node || s.shared.contains(&node))
    }
}

/// Whether the table node `node` must also carry old values: some table
/// operation downstream of it is a `group_by` (which subtracts old values).
pub fn needs_old_values(graph: &Graph, node: NodeId) -> bool {
    graph.nodes[node]
        .outputs
        .iter()
        .any(|&o| match graph.nodes[o].kind {
            NodeKind::TableGroupBy(ops::TableGroupBy { .. }) => true,
            NodeKind::TableFilter(ops::TableFilter { .. })
            | NodeKind::TableMapValues(ops::TableMapValues { .. }) => needs_old_values(graph, o),
            _ => false,
        })
}

/// Cuts the graph into sub-topologies and solves its types.
pub fn plan(graph: &Graph, errors: &mut Errors) -> Plan {
    let n = graph.nodes.len();
    // Union-find over nodes, joining every edge except those leaving a
    // repartition node (the internal topic is the boundary).
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for node in &graph.nodes {
        if node.kind.op().boundary() {
            continue;
        }
        for &o in &node.outputs {
            let (a, b) = (find(&mut parent, node.id), find(&mut parent, o));
            parent[a.max(b)] = a.min(b);
        }
    }
    // A node sharing another's store runs in its sub-topology (a join, in
    // its table's; each task has its own instance of a store).
    for node in &graph.nodes {
        for store in node.kind.op().stores(node, graph) {
            if let StoreUse::Shares(owner) = store {
                let (a, b) = (find(&mut parent, node.id), find(&mut parent, owner));
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    // A repartition's children that share no other edge form their own group;
    // children of one repartition are joined (they read one topic).
    for node in &graph.nodes {
        if node.kind.op().boundary() {
            for w in node.outputs.windows(2) {
                let (a, b) = (find(&mut parent, w[0]), find(&mut parent, w[1]));
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    // Number groups by their first node, as Kafka Streams numbers
    // sub-topologies in the order their nodes were created.
    let mut group_of_root: Vec<Option<usize>> = vec![None; n];
    let mut node_sub = Vec::with_capacity(n);
    let mut subs: Vec<Sub> = Vec::new();
    for id in 0..n {
        let r = find(&mut parent, id);
        let s = *group_of_root[r].get_or_insert_with(|| {
            subs.push(Sub {
                id: subs.len(),
                nodes: Vec::new(),
                entries: Vec::new(),
            });
            subs.len() - 1
        });
        node_sub.push(s);
        subs[s].nodes.push(id);
    }
    let mut internal = Vec::new();
    for node in &graph.nodes {
        match &node.kind {
            NodeKind::Source(ops::Source { .. }) => {
                subs[node_sub[node.id]].entries.push(Entry::Source(node.id))
            }
            NodeKind::Repartition(ops::Repartition { partitions, .. }) => {
                let written_by = node_sub[node.id];
                let read_by = node.outputs.first().map(|&o| node_sub[o]);
                if let Some(read_by) = read_by {
                    subs[read_by].entries.push(Entry::Repartition(node.id));
                    internal.push(Internal {
                        topic: format!("{}-repartition", node.name),
                        kind: InternalKind::Repartition,
                        node: node.id,
                        partitions: *partitions,
                        written_by,
                        read_by,
                    });
                }
            }
            _ => {}
        }
    }
    // Stores, each with a compacted changelog `<store>-changelog`.
    let mut stores: Vec<Store> = Vec::new();
    let mut processor_stores = std::collections::HashSet::new();
    let mut later_processors: Vec<(syn::LitStr, NodeId)> = Vec::new();
    let mut add_store =
        |node: &crate::graph::Node, name: &str, in_memory: bool, cached: bool, kind: StoreKind| {
            let sub = node_sub[node.id];
            internal.push(Internal {
                topic: format!("{name}-changelog"),
                kind: InternalKind::Changelog,
                node: node.id,
                partitions: None,
                written_by: sub,
                read_by: sub,
            });
            let changelog = internal.len() - 1;
            let index_in_sub = stores.iter().filter(|s| s.sub == sub).count();
            stores.push(Store {
                name: name.to_owned(),
                node: node.id,
                sub,
                index_in_sub,
                changelog,
                source_changelog: None,
                in_memory,
                cached,
                kind,
                shared: Vec::new(),
            });
        };
    let mut shared: Vec<(NodeId, NodeId)> = Vec::new();
    for node in &graph.nodes {
        for store in node.kind.op().stores(node, graph) {
            match store {
                StoreUse::Owns {
                    name,
                    in_memory,
                    cached,
                    kind,
                } => add_store(node, &name, in_memory, cached, kind),
                // A processor's stores (`builder.add_state_store`), created
                // with the first processor connected to them.
                StoreUse::Connects(name) => {
                    if processor_stores.insert(name.value()) {
                        let in_memory = graph
                            .state_stores
                            .iter()
                            .any(|(n, m)| n.value() == name.value() && *m);
                        add_store(node, &name.value(), in_memory, false, StoreKind::KeyValue);
                    } else {
                        later_processors.push((name, node.id));
                    }
                }
                StoreUse::Shares(owner) => shared.push((owner, node.id)),
            }
        }
    }
    // Processors connected to one store must be in one sub-topology (they
    // share the task's instance).
    for (name, node) in later_processors {
        let value = name.value();
        let Some(st) = stores.iter_mut().find(|s| s.name == value) else {
            continue;
        };
        if st.sub == node_sub[node] {
            st.shared.push(node);
        } else {
            errors.spanned(
                &name,
                format!("store `{value}` is connected to processors in different sub-topologies (each task has its own instance); connect it to processors fed by the same topics"),
            );
        }
    }
    for (owner, node) in shared {
        if let Some(st) = stores.iter_mut().find(|s| s.node == owner) {
            st.shared.push(node);
        }
    }
    let types = types::solve_types(graph, errors);
    Plan {
        subs,
        internal,
        node_sub,
        types,
        stores,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile_for_test as compile;
    use quote::quote;

    #[test]
    fn stores_have_one_kind_and_subs_are_cut_at_repartitions() {
        let c = compile(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                let words = builder.stream::<String, String>("in").select_key(|_k, v| v.clone());
                words.group_by_key().count(named("all"));
                words
                    .group_by_key()
                    .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))
                    .count(named("minutes"));
                words
                    .group_by_key()
                    .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(Duration::from_secs(5)))
                    .count(named("sessions"));
                builder.build()
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let kinds: Vec<(&str, StoreKind)> = c
            .plan
            .stores
            .iter()
            .map(|s| (s.name.as_str(), s.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("all", StoreKind::KeyValue),
                ("minutes", StoreKind::Window),
                ("sessions", StoreKind::Session)
            ]
        );
        // One repartition topic (merged), so two sub-topologies; the stores
        // are in the second, numbered within it.
        assert_eq!(c.plan.subs.len(), 2);
        assert!(c.plan.stores.iter().all(|s| s.sub == 1));
        let indices: Vec<usize> = c.plan.stores.iter().map(|s| s.index_in_sub).collect();
        assert_eq!(indices, [0, 1, 2]);
        // Windowed keys, `i64` counts; session counts are nullable (merged
        // sessions are deleted).
        let (k, v) = c.plan.types.node[c.plan.stores[1].node];
        assert!(matches!(c.plan.types.resolve(k), Ty::Windowed(_)));
        assert!(matches!(c.plan.types.resolve(v), Ty::Concrete(_)));
        let (_, v) = c.plan.types.node[c.plan.stores[2].node];
        assert!(matches!(c.plan.types.resolve(v), Ty::Optional(_)));
    }
}

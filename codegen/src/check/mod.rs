//! Check: rules over the whole graph that no single operator can see.

use crate::ctxt::Errors;
use crate::graph::{AggOp, Graph, NodeKind};
use crate::ops;
use std::collections::HashMap;

/// Reports duplicate processor names and topologies without sources.
pub fn check(graph: &Graph, fn_name: &syn::Ident, errors: &mut Errors) {
    // A source that failed to parse was reported already: not having one
    // is then a consequence, not a second mistake.
    if errors.is_empty()
        && !graph
            .nodes
            .iter()
            .any(|n| matches!(n.kind, NodeKind::Source(ops::Source { .. })))
    {
        errors.spanned(
            fn_name,
            "this topology reads no topic: add `builder.stream::<K, V>(\"topic\")`",
        );
    }
    for node in &graph.nodes {
        if let NodeKind::TableGroupBy(ops::TableGroupBy { .. }) = node.kind {
            if let Some(why) = group_by_unsupported(graph, node) {
                errors.at(node.span, format!("`group_by` of {why} is not supported yet: group a `table(topic)`, a `to_table()` (also after `filter`/`map_values`), or the result of a stream `count`/`reduce`/`aggregate` directly"));
            }
        }
    }
    let mut stores: HashMap<String, usize> = HashMap::new();
    // Stores added for processors share the namespace of the DSL's.
    for (name, _) in &graph.state_stores {
        stores.insert(name.value(), usize::MAX);
    }
    for node in &graph.nodes {
        let shared = matches!(&node.kind, NodeKind::Aggregate(ops::Aggregate { op: crate::graph::AggOp::Cogroup { owner, .. }, .. }) if *owner != node.id);
        if let NodeKind::Aggregate(ops::Aggregate { store, .. }) = &node.kind {
            if !shared && stores.insert(store.clone(), node.id).is_some() {
                errors.at(
                    node.span,
                    format!("two stores are named `{store}`: store names must be unique"),
                );
            }
        }
    }
    // A repartition's name is its topic's prefix (its processors are
    // `<name>-repartition-sink`, `-source`, `-filter`): repartitions share
    // names only among themselves.
    let mut seen: HashMap<(bool, &str), usize> = HashMap::new();
    for node in &graph.nodes {
        let key = (node.kind.op().boundary(), node.name.as_str());
        if let Some(&first) = seen.get(&key) {
            errors.at(
                node.span,
                format!(
                    "duplicate processor name `{}` (also used by the `{}` above)",
                    node.name,
                    kind_name(&graph.nodes[first].kind)
                ),
            );
        } else {
            seen.insert(key, node.id);
        }
    }
}

/// Why the table a `group_by` regroups cannot be regrouped (its changes
/// must carry old values, which only some tables send), if it cannot.
fn group_by_unsupported(graph: &Graph, group_by: &crate::graph::Node) -> Option<&'static str> {
    let mut input = *group_by.inputs.first()?;
    let mut direct = true;
    loop {
        match &graph.nodes[input].kind {
            NodeKind::TableSource(ops::TableSource { .. }) => return None,
            NodeKind::TableFilter(ops::TableFilter { .. })
            | NodeKind::TableMapValues(ops::TableMapValues { .. }) => {
                direct = false;
                input = *graph.nodes[input].inputs.first()?;
            }
            NodeKind::Aggregate(ops::Aggregate {
                op:
                    AggOp::Count
                    | AggOp::Reduce { .. }
                    | AggOp::Aggregate { .. }
                    | AggOp::Cogroup { .. },
                windows: None,
                ..
            }) => {
                let filtered = graph.nodes[input].outputs.iter().any(|&o| {
                    matches!(
                        graph.nodes[o].kind,
                        NodeKind::TableFilter(ops::TableFilter { .. })
                    )
                });
                return match (direct, filtered) {
                    (true, false) => None,
                    (false, _) => Some("a filtered or mapped aggregation result"),
                    (true, true) => Some("an aggregation result that a table `filter` also reads"),
                };
            }
            NodeKind::Aggregate(ops::Aggregate {
                windows: Some(_), ..
            }) => return Some("a windowed aggregation result"),
            NodeKind::Aggregate(ops::Aggregate { .. }) => {
                return Some("a grouped table's aggregation result")
            }
            _ => return Some("this table"),
        }
    }
}

/// The DSL name of a node's operator, for messages.
pub fn kind_name(kind: &NodeKind) -> &'static str {
    kind.op().dsl_name()
}

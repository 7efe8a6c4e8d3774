//! Check: rules over the whole graph that no single operator can see.

use crate::ctxt::Errors;
use crate::graph::{Graph, NodeKind};
use std::collections::HashMap;

/// Reports duplicate processor names and topologies without sources.
pub fn check(graph: &Graph, fn_name: &syn::Ident, errors: &mut Errors) {
    // A source that failed to parse was reported already: not having one
    // is then a consequence, not a second mistake.
    if errors.is_empty()
        && !graph
            .nodes
            .iter()
            .any(|n| matches!(n.kind, NodeKind::Source { .. }))
    {
        errors.spanned(
            fn_name,
            "this topology reads no topic: add `builder.stream::<K, V>(\"topic\")`",
        );
    }
    let mut stores: HashMap<String, usize> = HashMap::new();
    // Stores added for processors share the namespace of the DSL's.
    for (name, _) in &graph.state_stores {
        stores.insert(name.value(), usize::MAX);
    }
    for node in &graph.nodes {
        let shared = matches!(&node.kind, NodeKind::Aggregate { op: crate::graph::AggOp::Cogroup { owner, .. }, .. } if *owner != node.id);
        if let NodeKind::Aggregate { store, .. } = &node.kind {
            if !shared && stores.insert(store.clone(), node.id).is_some() {
                errors.at(
                    node.span,
                    format!("two stores are named `{store}`: store names must be unique"),
                );
            }
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for node in &graph.nodes {
        if let Some(&first) = seen.get(node.name.as_str()) {
            errors.at(
                node.span,
                format!(
                    "duplicate processor name `{}` (also used by the `{}` above)",
                    node.name,
                    kind_name(&graph.nodes[first].kind)
                ),
            );
        } else {
            seen.insert(&node.name, node.id);
        }
    }
}

/// The DSL name of a node's operator, for messages.
pub fn kind_name(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Source { .. } => "stream",
        NodeKind::Filter { negate: false, .. } => "filter",
        NodeKind::Filter { negate: true, .. } => "filter_not",
        NodeKind::Map { .. } => "map",
        NodeKind::MapValues { .. } => "map_values",
        NodeKind::FlatMap { .. } => "flat_map",
        NodeKind::FlatMapValues { .. } => "flat_map_values",
        NodeKind::SelectKey { .. } => "select_key",
        NodeKind::Peek { .. } => "peek",
        NodeKind::Foreach { .. } => "foreach",
        NodeKind::Split => "split",
        NodeKind::Branch { .. } => "branch",
        NodeKind::Merge => "merge",
        NodeKind::Repartition { .. } => "repartition",
        NodeKind::Sink { .. } => "to",
        NodeKind::Print { .. } => "print",
        NodeKind::Aggregate {
            op: crate::graph::AggOp::Count | crate::graph::AggOp::TableCount,
            ..
        } => "count",
        NodeKind::Aggregate {
            op: crate::graph::AggOp::Reduce { .. } | crate::graph::AggOp::TableReduce { .. },
            ..
        } => "reduce",
        NodeKind::Aggregate {
            op:
                crate::graph::AggOp::Aggregate { .. }
                | crate::graph::AggOp::Cogroup { .. }
                | crate::graph::AggOp::TableAggregate { .. },
            ..
        } => "aggregate",
        NodeKind::ToStream => "to_stream",
        NodeKind::Suppress { .. } => "suppress",
        NodeKind::TableSource {
            from_topic: true, ..
        } => "table",
        NodeKind::TableSource {
            from_topic: false, ..
        } => "to_table",
        NodeKind::TableGroupBy { .. } => "group_by",
        NodeKind::TableFilter { negate: false, .. } => "filter",
        NodeKind::TableFilter { negate: true, .. } => "filter_not",
        NodeKind::TableMapValues { .. } => "map_values",
        NodeKind::Process {
            fixed_key: false, ..
        } => "process",
        NodeKind::Process {
            fixed_key: true, ..
        } => "process_values",
    }
}

//! `merge-repartition`: aggregations of one key change share one
//! repartition topic (Kafka Streams' `topology.optimization=all` merge of
//! repartition topics). The builder inserts a repartition before every
//! aggregation after a key change; this pass keeps the first of those that
//! read the same node and lets the later aggregations read it, removing
//! their own. A named grouping (`group_by(.., named("x"))`) keeps its topic.

use super::Rewrite;
use crate::graph::{Graph, NodeId, NodeKind};
use crate::ops::Repartition;

/// Merges, and names each merge.
pub fn run(graph: &mut Graph) -> Vec<Rewrite> {
    let mut rewrites = Vec::new();
    while let Some((kept, dup)) = next_pair(graph) {
        let aggregations = graph.nodes[dup].outputs.clone();
        for &a in &aggregations {
            rewrites.push(Rewrite {
                name: "merge-repartition",
                detail: format!(
                    "`{}` reads the repartition topic `{}-repartition` of an earlier aggregation of the same key change instead of writing its own",
                    graph.nodes[a].name, graph.nodes[kept].name
                ),
            });
        }
        graph.redirect_outputs(dup, kept);
        graph.remove(dup);
    }
    rewrites
}

fn mergeable_input(graph: &Graph, node: NodeId) -> Option<NodeId> {
    match &graph.nodes[node].kind {
        NodeKind::Repartition(Repartition {
            mergeable: true, ..
        }) => graph.nodes[node].inputs.first().copied(),
        _ => None,
    }
}

/// The first mergeable repartition that reads the same node as an earlier
/// one, and that earlier one.
fn next_pair(graph: &Graph) -> Option<(NodeId, NodeId)> {
    (0..graph.nodes.len()).find_map(|dup| {
        let input = mergeable_input(graph, dup)?;
        let kept = (0..dup).find(|&k| mergeable_input(graph, k) == Some(input))?;
        Some((kept, dup))
    })
}

#[cfg(test)]
mod tests {
    use crate::compile_for_test as compile;
    use quote::quote;

    #[test]
    fn one_key_change_one_topic_unless_named() {
        let c = compile(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                let words = builder.stream::<String, String>("in").select_key(|_k, v| v.clone());
                words.group_by_key().count(named("a"));
                words.group_by_key().count(named("b"));
                words.group_by_key(named("own")).count(named("c"));
                builder.build()
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = c.graph.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "KSTREAM-SOURCE-0000000000",
                "KSTREAM-KEY-SELECT-0000000001",
                "a",
                "KSTREAM-AGGREGATE-0000000002",
                "KSTREAM-AGGREGATE-0000000003",
                "own",
                "KSTREAM-AGGREGATE-0000000004"
            ]
        );
        // `a`'s topic feeds both unnamed aggregations, renumbered after the
        // removed node.
        assert_eq!(c.graph.nodes[2].outputs, [3, 4]);
        assert_eq!(c.graph.nodes[4].inputs, [2]);
        assert_eq!(c.graph.nodes[1].outputs, [2, 5]);
        let merged: Vec<&str> = c
            .description
            .rewrites
            .iter()
            .filter(|r| r.name == "merge-repartition")
            .map(|r| r.detail.as_str())
            .collect();
        assert_eq!(merged.len(), 1);
        assert!(
            merged[0].starts_with(
                "`KSTREAM-AGGREGATE-0000000003` reads the repartition topic `a-repartition`"
            ),
            "{merged:?}"
        );
    }
}

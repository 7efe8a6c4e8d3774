//! Optimise: rewrites applied at compile time, each named so the description
//! can say what was done (as Kafka Streams' `topology.optimization` does).

use crate::check::kind_name;
use crate::graph::{Graph, NodeKind};
use crate::ops;
use crate::plan::Plan;

/// One applied rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// Its name, e.g. `fuse`.
    pub name: &'static str,
    /// What it did.
    pub detail: String,
}

/// Names the rewrites: repartition topics merged while building the graph,
/// and every sub-topology fused into a single processor (its operators run
/// as one straight-line function).
pub fn optimize(graph: &Graph, plan: &Plan) -> Vec<Rewrite> {
    let merged = graph.merged_repartitions.iter().map(|&(repartition, aggregation)| Rewrite {
        name: "merge-repartition",
        detail: format!(
            "`{}` reads the repartition topic `{}-repartition` of an earlier aggregation of the same key change instead of writing its own",
            graph.nodes[aggregation].name, graph.nodes[repartition].name
        ),
    });
    let fused = plan.subs.iter().map(|s| {
        let ops: Vec<&str> = s
            .nodes
            .iter()
            .map(|&n| &graph.nodes[n].kind)
            .filter(|k| !matches!(k, NodeKind::Source(ops::Source { .. })))
            .map(kind_name)
            .collect();
        Rewrite {
            name: "fuse",
            detail: format!(
                "sub-topology {}: {} operator(s) [{}] run as one processor `__WeirSub{}`",
                s.id,
                ops.len(),
                ops.join(" "),
                s.id
            ),
        }
    });
    let source_changelogs = plan.stores.iter().filter_map(|st| {
        let topic = st.source_changelog.as_ref()?;
        Some(Rewrite {
            name: "source-topic-changelog",
            detail: format!(
                "store `{}` of `table(\"{topic}\")` uses its source topic `{topic}` as its changelog: no changelog topic, no changelog writes",
                st.name
            ),
        })
    });
    merged.chain(source_changelogs).chain(fused).collect()
}

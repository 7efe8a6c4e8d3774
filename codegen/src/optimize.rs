//! Optimise: rewrites applied at compile time, each named so the description
//! can say what was done (as Kafka Streams' `topology.optimization` does).

use crate::check::kind_name;
use crate::graph::{Graph, NodeKind};
use crate::plan::Plan;

/// One applied rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// Its name, e.g. `fuse`.
    pub name: &'static str,
    /// What it did.
    pub detail: String,
}

/// Decides the rewrites. So far: every sub-topology is fused into a single
/// processor (its operators run as one straight-line function).
pub fn optimize(graph: &Graph, plan: &Plan) -> Vec<Rewrite> {
    plan.subs
        .iter()
        .map(|s| {
            let ops: Vec<&str> = s
                .nodes
                .iter()
                .map(|&n| &graph.nodes[n].kind)
                .filter(|k| !matches!(k, NodeKind::Source { .. }))
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
        })
        .collect()
}

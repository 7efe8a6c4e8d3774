//! `fuse`: every sub-topology becomes one processor whose operators run as
//! one straight-line function (`emit` writes it so); this pass names what
//! was fused.

use super::Rewrite;
use crate::graph::Graph;
use crate::plan::Plan;

/// Names each sub-topology's fused operators (its sources aside).
pub fn run(graph: &Graph, plan: &Plan) -> Vec<Rewrite> {
    plan.subs
        .iter()
        .map(|s| {
            let ops: Vec<&str> = s
                .nodes
                .iter()
                .map(|&n| &graph.nodes[n].kind)
                .filter(|k| !matches!(k, crate::graph::NodeKind::Source(_)))
                .map(|k| k.op().dsl_name())
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

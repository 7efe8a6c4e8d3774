//! Optimise: rewrites applied at compile time, each a pass in its own file
//! and each named in the description (as Kafka Streams'
//! `topology.optimization` does, but always on and decided at build time).
//!
//! ```text
//! graph --merge_repartitions--> graph --plan--> plan --source_changelog--> plan
//!                                                    --fuse (names each sub-topology's processor)
//! ```

pub mod fuse;
pub mod merge_repartitions;
pub mod source_changelog;

use crate::graph::Graph;
use crate::plan::Plan;

/// One applied rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// Its name, e.g. `fuse`.
    pub name: &'static str,
    /// What it did.
    pub detail: String,
}

/// The rewrites of the graph, before it is planned.
pub fn graph_passes(graph: &mut Graph) -> Vec<Rewrite> {
    merge_repartitions::run(graph)
}

/// The rewrites of the plan, and the fusion of each sub-topology.
pub fn plan_passes(graph: &Graph, plan: &mut Plan) -> Vec<Rewrite> {
    let mut rewrites = source_changelog::run(graph, plan);
    rewrites.extend(fuse::run(graph, plan));
    rewrites
}

//! Graph: the parsed statements into a logical DAG of operator nodes, named
//! as Kafka Streams names them (`KSTREAM-FILTER-0000000001`, ...). Misuse of
//! the DSL (unknown operators, wrong arguments, an operator on a value that
//! does not have it) is reported here, at the user's tokens.

pub mod builder;
pub mod syntax;

pub use crate::ops::{AggOp, NodeKind, SinkTarget};
pub use builder::build;
pub(crate) use syntax::string_lit;
pub use syntax::{closure_arity, is_session, is_sliding, is_time_windows, valid_topic_name};

use proc_macro2::Span;
use syn::LitStr;

/// Index of a node in [`Graph::nodes`].
pub type NodeId = usize;

/// One operator node.
#[derive(Clone)]
pub struct Node {
    /// Its index.
    pub id: NodeId,
    /// What it does.
    pub kind: NodeKind,
    /// Processor name, generated or given with `named(..)`.
    pub name: String,
    /// Where the user wrote it.
    pub span: Span,
    /// Upstream nodes.
    pub inputs: Vec<NodeId>,
    /// Downstream nodes, in the order they were attached.
    pub outputs: Vec<NodeId>,
}

/// The logical topology.
#[derive(Clone, Default)]
pub struct Graph {
    /// Nodes, in creation order.
    pub nodes: Vec<Node>,
    /// `builder.add_state_store(..)`: name and whether in memory.
    pub state_stores: Vec<(LitStr, bool)>,
}

impl Graph {
    pub(crate) fn add(
        &mut self,
        kind: NodeKind,
        name: String,
        span: Span,
        input: Option<NodeId>,
    ) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node {
            id,
            kind,
            name,
            span,
            inputs: Vec::new(),
            outputs: Vec::new(),
        });
        if let Some(i) = input {
            self.connect(i, id);
        }
        id
    }

    pub(crate) fn connect(&mut self, from: NodeId, to: NodeId) {
        self.nodes[from].outputs.push(to);
        self.nodes[to].inputs.push(from);
    }

    /// Moves `node`'s outputs to `to` (appended to its outputs, in order),
    /// leaving `node` with none.
    pub fn redirect_outputs(&mut self, node: NodeId, to: NodeId) {
        for o in std::mem::take(&mut self.nodes[node].outputs) {
            for i in &mut self.nodes[o].inputs {
                if *i == node {
                    *i = to;
                }
            }
            self.nodes[to].outputs.push(o);
        }
    }

    /// Removes `node` (which must have no outputs) and renumbers the nodes
    /// after it, in every edge and in the ids operators hold.
    pub fn remove(&mut self, node: NodeId) {
        assert!(
            self.nodes[node].outputs.is_empty(),
            "a removed node has no outputs"
        );
        for i in std::mem::take(&mut self.nodes[node].inputs) {
            self.nodes[i].outputs.retain(|&o| o != node);
        }
        self.nodes.remove(node);
        let map = |id: NodeId| if id > node { id - 1 } else { id };
        for n in &mut self.nodes {
            n.id = map(n.id);
            n.inputs.iter_mut().for_each(|i| *i = map(*i));
            n.outputs.iter_mut().for_each(|o| *o = map(*o));
            n.kind.op_mut().remap(&map);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::compile_for_test as compile;
    use quote::quote;

    #[test]
    fn an_aggregation_after_a_key_change_reads_a_repartition_topic() {
        let c = compile(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                builder.stream::<String, String>("in")
                    .group_by(|_k, v| v.clone())
                    .count(named("counts"))
                    .to_stream()
                    .to("out");
                builder.build()
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let kinds: Vec<&str> = c
            .graph
            .nodes
            .iter()
            .map(|n| n.kind.op().dsl_name())
            .collect();
        assert_eq!(
            kinds,
            [
                "stream",
                "select_key",
                "repartition",
                "count",
                "to_stream",
                "to"
            ]
        );
        assert_eq!(c.graph.nodes[2].name, "counts");
        assert!(c.graph.nodes[2].kind.op().boundary());
    }

    #[test]
    fn misuse_is_reported_at_the_operator() {
        let err = compile(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                builder.stream::<String, String>("in").fliter(|_k, _v| true).to("out");
                builder.build()
            }
        })
        .err()
        .expect("an unknown operator");
        assert_eq!(
            err.to_string(),
            "unknown operator `fliter` on a stream; did you mean `filter`?"
        );
    }
}

//! Repartitions through internal topics: `repartition()`, and those an aggregation after a key change needs.

use crate::ctxt::Errors;
use crate::emit::*;
use crate::graph::{NodeId, NodeKind};
use crate::ops::dsl::{OpSpec, Shape};
use crate::ops::{self, *};
use crate::parse::Call;
use proc_macro2::TokenStream;
use quote::quote;

/// `repartition()`: through an internal topic `<name>-repartition`.
#[derive(Clone)]
pub struct Repartition {
    /// Partition count, when given.
    pub partitions: Option<i32>,
    /// Carries table changes (new and old values) from a table `group_by`.
    pub changes: bool,
    /// Inserted before an aggregation after an unnamed key change: the
    /// optimiser's `merge-repartition` may let another such aggregation of
    /// the same key change read it instead of its own.
    pub mergeable: bool,
}

impl Operator for Repartition {
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let name = &n.name;
        let index = e.plan.internal_of(node);
        if index == usize::MAX {
            return quote! { let _ = (k, v); };
        }
        let sink = format!("{name}-repartition-sink");
        if matches!(
            n.kind,
            NodeKind::Repartition(ops::Repartition { changes: true, .. })
        ) {
            // A table change: new and old value in one record.
            return quote! {
                let key = #p::ser(&k, &mut self.cx.key_buf, #sink, #p::RecordPart::Key)?;
                if key.is_some() {
                    let value = #p::encode_change(&v, &o, &mut self.cx.value_buf, &mut self.cx.store_buf, #sink)?;
                    out.send(#p::SinkTopic::Internal(#index), key, ::core::option::Option::Some(value), ctx)?;
                }
            };
        }
        // As Kafka Streams' `<name>-repartition-filter`: null keys are dropped.
        quote! {
            let key = #p::ser(&k, &mut self.cx.key_buf, #sink, #p::RecordPart::Key)?;
            if key.is_some() {
                let value = #p::ser(&v, &mut self.cx.value_buf, #sink, #p::RecordPart::Value)?;
                out.send(#p::SinkTopic::Internal(#index), key, value, ctx)?;
            }
        }
    }

    fn bound(
        &self,
        _e: &Emitter<'_>,
        _id: NodeId,
        t: &Io,
        g: &mut Generics,
    ) -> Option<TokenStream> {
        let Io { ik, iv, span, .. } = t;
        let span = *span;
        serde_bounds(g, span, ik.clone(), iv.clone());
        None
    }

    fn dsl_name(&self) -> &'static str {
        "repartition"
    }

    /// Its outputs read its topic, in another sub-topology.
    fn boundary(&self) -> bool {
        true
    }

    /// Its sink serialises from references, unless it carries changes.
    fn borrows(&self, e: &Emitter<'_>, id: NodeId) -> Borrow {
        if !self.changes && e.plan.internal_of(id) != usize::MAX {
            Borrow::Yes
        } else {
            Borrow::No
        }
    }

    fn key(&self) -> KeyEffect {
        KeyEffect::Fixed
    }
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[OpSpec {
    name: "repartition",
    on: Shape::Stream,
    gives: Shape::Stream,
    args: (0, 0),
    options: &["named", "partitions"],
    prefix: "KSTREAM-REPARTITION-",
    usage: "repartition(), repartition(named(\"name\")), repartition(partitions(4))",
    also_on: &[],
    args_on: &[],
    types: false,
    build: |b, a, v| b.stream_node(a, v, build_repartition),
}];

/// Its partition count comes from the `partitions(..)` option, set by the
/// builder.
fn build_repartition(_call: &Call, _args: &[Expr], _errors: &mut Errors) -> Option<NodeKind> {
    Some(NodeKind::Repartition(Repartition {
        partitions: None,
        changes: false,
        mergeable: false,
    }))
}

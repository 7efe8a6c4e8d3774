//! `merge(other)`.

use crate::ctxt::Errors;
use crate::emit::*;
use crate::graph::builder::{Args, Builder, Value};
use crate::graph::Node;
use crate::graph::{Graph, NodeId, NodeKind};
use crate::ops::dsl::{OpSpec, Shape, NAMED};
use crate::ops::{self, *};
use crate::parse::chain_of;
use crate::plan::Types;
use proc_macro2::TokenStream;
use quote::ToTokens;
use quote::{format_ident, quote};

/// `merge`.
#[derive(Clone)]
pub struct Merge;

impl Operator for Merge {
    fn flow(&self, _e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let m = format_ident!("node{}", node);
        quote! { self.#m(k, v, ctx, out)?; }
    }

    /// A method taking the records of every input.
    fn methods(&self, e: &Emitter<'_>, id: NodeId) -> TokenStream {
        let p = &e.p;
        let m = format_ident!("node{}", id);
        let (k, v) = e.output_types(id, &mut Generics::default());
        let kids = e.children(id);
        quote! {
            #[inline]
            fn #m<__C: #p::RecordCollector>(&mut self, k: #k, v: #v, ctx: &#p::RecordContext<'_>, out: &mut __C) -> ::core::result::Result<(), #p::ProcessError> {
                #kids
                ::core::result::Result::Ok(())
            }
        }
    }

    fn types(
        &self,
        t: &mut Types,
        node: &Node,
        _graph: &Graph,
        (k, v): (usize, usize),
        errors: &mut Errors,
    ) -> (usize, usize) {
        // Its inputs are one stream: one key type, one value type.
        for &other in &node.inputs[1..] {
            let (ok, ov) = t.node[other];
            for (a, b, what) in [(k, ok, "key"), (v, ov, "value")] {
                if let Err((x, y)) = t.union(a, b) {
                    errors.at(
                        node.span,
                        format!(
                            "`merge` needs streams of one {what} type, got `{}` and `{}`",
                            x.to_token_stream(),
                            y.to_token_stream()
                        ),
                    );
                }
            }
        }
        (k, v)
    }

    fn dsl_name(&self) -> &'static str {
        "merge"
    }
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[OpSpec {
    name: "merge",
    on: Shape::Stream,
    gives: Shape::Stream,
    args: (1, 1),
    options: NAMED,
    prefix: "KSTREAM-MERGE-",
    usage: "merge(other_stream)",
    also_on: &[],
    args_on: &[],
    types: false,
    build: build_merge,
}];

/// `merge(other)`.
pub(crate) fn build_merge(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args {
        spec,
        positional,
        opts,
        span,
        ..
    } = *a;
    match value {
        Value::Stream(input) => {
            let other = match chain_of(&positional[0]).and_then(|c| b.chain(&c)) {
                Some(Value::Stream(o)) => o,
                Some(v) => {
                    b.errors.spanned(
                        &positional[0],
                        format!("`merge` takes a stream, not {}", v.shape().describe()),
                    );
                    return None;
                }
                None => {
                    if chain_of(&positional[0]).is_none() {
                        b.errors.spanned(&positional[0], "`merge` takes a stream of this topology (a name bound to one, or a chain)");
                    }
                    return None;
                }
            };
            let name = b.name_for(spec, opts);
            let node = b
                .graph
                .add(NodeKind::Merge(ops::Merge), name, span, Some(input));
            b.graph.connect(other, node);
            Some(Value::Stream(node))
        }
        _ => None,
    }
}

//! A table's `group_by(..)`: changes regrouped through a repartition topic.

#[allow(unused_imports)]
use crate::ctxt::Errors;
#[allow(unused_imports)]
use crate::emit::*;
#[allow(unused_imports)]
use crate::graph::Node;
#[allow(unused_imports)]
use crate::graph::{Graph, NodeId, NodeKind};
#[allow(unused_imports)]
use crate::ops::{self, *};
#[allow(unused_imports)]
use crate::plan::Types;
use proc_macro2::TokenStream;
#[allow(unused_imports)]
use quote::ToTokens;
#[allow(unused_imports)]
use quote::{format_ident, quote, quote_spanned};

use syn::Expr;

/// A table's `group_by(|k, v| (k2, v2))`: each change becomes a
/// subtraction from the old group and an addition to the new one, sent
/// through a repartition topic (Kafka Streams' `KTableRepartitionMap`).
#[derive(Clone)]
pub struct TableGroupBy {
    /// The selector.
    pub f: Expr,
}

impl Operator for TableGroupBy {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    #[allow(unused_variables)]
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
        let kids = e.children(node);
        // An aggregation's result is never a tombstone.
        let wrap = if n.inputs.first().is_some_and(|&i| e.feeds_group_by(i)) {
            quote!(let v = ::core::option::Option::Some(v);)
        } else {
            quote!()
        };
        // Kafka Streams' KTableRepartitionMap: the old pair is subtracted
        // (sent first), the new one added; one record when the key stays.
        quote! {
            #wrap
            let new_pair = match v {
                ::core::option::Option::Some(x) => ::core::option::Option::Some((self.#f)(&k, x)),
                ::core::option::Option::None => ::core::option::Option::None,
            }
            .filter(|(k2, v2)| !#p::Serde::is_null(k2) && !#p::Serde::is_null(v2));
            let old_pair = match o {
                ::core::option::Option::Some(x) => ::core::option::Option::Some((self.#f)(&k, x)),
                ::core::option::Option::None => ::core::option::Option::None,
            }
            .filter(|(k2, v2)| !#p::Serde::is_null(k2) && !#p::Serde::is_null(v2));
            let same_key = match (&new_pair, &old_pair) {
                (::core::option::Option::Some((a, _)), ::core::option::Option::Some((b, _))) => #p::same_bytes(a, b),
                _ => false,
            };
            if same_key {
                if let (::core::option::Option::Some((k, nv)), ::core::option::Option::Some((_, ov))) = (new_pair, old_pair) {
                    let v = ::core::option::Option::Some(nv);
                    let o = ::core::option::Option::Some(ov);
                    #kids
                }
            } else {
                if let ::core::option::Option::Some((k, ov)) = old_pair {
                    let v = ::core::option::Option::None;
                    let o = ::core::option::Option::Some(ov);
                    #kids
                }
                if let ::core::option::Option::Some((k, nv)) = new_pair {
                    let v = ::core::option::Option::Some(nv);
                    let o = ::core::option::Option::None;
                    #kids
                }
            }
        }
    }

    #[allow(unused_variables)]
    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let Io {
            ik,
            iv,
            ok,
            ov,
            span,
            i,
            r,
        } = t;
        let (span, p, node) = (*span, &e.p, &e.graph.nodes[id]);
        let in_inner = match e.plan.types.optional_inner(e.table_input_var(id).1) {
            Some(i) => e.ty(i, g),
            None => iv.clone(),
        };
        let out_inner = match e.plan.types.optional_inner(e.plan.types.node[id].1) {
            Some(i) => e.ty(i, g),
            None => ov.clone(),
        };
        g.bounds
            .push(respan(quote!(#ok: ::weir::__private::Serde), span));
        g.bounds
            .push(respan(quote!(#out_inner: ::weir::__private::Serde), span));
        Some(quote_spanned!(span=> FnMut(&#ik, #in_inner) -> (#ok, #out_inner)))
    }

    fn types(
        &self,
        t: &mut Types,
        node: &Node,
        graph: &Graph,
        (k, v): (usize, usize),
        errors: &mut Errors,
    ) -> (usize, usize) {
        let _ = (node, graph, errors);
        let _ = (k, v);
        let v2 = t.fresh(None);
        (t.fresh(None), t.fresh_optional(v2))
    }

    fn dsl_name(&self) -> &'static str {
        "group_by"
    }
}

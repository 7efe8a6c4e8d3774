//! A table's `group_by(..)`: changes regrouped through a repartition topic.

use crate::ctxt::Errors;
use crate::emit::*;
use crate::graph::Node;
use crate::graph::{Graph, NodeId};
use crate::ops::*;
use crate::plan::Types;
use proc_macro2::TokenStream;
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

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
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

    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let Io {
            ik,
            iv,
            ok,
            ov,
            span,
            ..
        } = t;
        let span = *span;
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
        _node: &Node,
        _graph: &Graph,
        (_k, _v): (usize, usize),
        _errors: &mut Errors,
    ) -> (usize, usize) {
        let v2 = t.fresh(None);
        (t.fresh(None), t.fresh_optional(v2))
    }

    fn dsl_name(&self) -> &'static str {
        "group_by"
    }
}

impl Emitter<'_> {
    /// A grouped table's aggregation, as Kafka Streams' `KTableAggregate` /
    /// `KTableReduce`: the old value (`o`) is subtracted, then the new one
    /// (`v`) added; the result (a tombstone when nothing is left) is stored,
    /// logged and forwarded.
    pub(crate) fn table_aggregate(
        &self,
        node: NodeId,
        op: &AggOp,
        store: &str,
        cached: bool,
    ) -> TokenStream {
        let p = &self.p;
        let Some(st) = self.plan.store_of(node) else {
            return quote!();
        };
        let (j, changelog) = (st.index_in_sub, st.changelog);
        let name = &self.graph.nodes[node].name;
        let (f, g, h) = (field((node, 'f')), field((node, 'g')), field((node, 'h')));
        let agg_var = self.plan.types.node[node].1;
        let agg_ty = match self.plan.types.optional_inner(agg_var) {
            Some(i) => self.ty(i, &mut Generics::default()),
            None => self.output_types(node, &mut Generics::default()).1,
        };
        let (subtract, add_new, add_to) = match op {
            AggOp::TableCount => (quote!(agg - 1), quote!(1), quote!(agg + 1)),
            AggOp::TableReduce { .. } => (
                quote!((self.#h)(agg, old)),
                quote!(new),
                quote!((self.#f)(agg, new)),
            ),
            _ => (
                quote!((self.#h)(&k, old, agg)),
                quote!((self.#f)(&k, new, (self.#g)())),
                quote!((self.#f)(&k, new, agg)),
            ),
        };
        // Kafka Streams' KTableReduce takes the previous timestamp into account
        // only when it reduces; KTableAggregate whenever there was an aggregate.
        let reduce = matches!(op, AggOp::TableReduce { .. });
        let (take, key_buf, read, write, restore) = if cached {
            let flush = flush_method(st.node);
            (
                quote!(let mut key_buf = ::core::mem::take(&mut self.cx.key_buf);),
                quote!(&mut key_buf),
                quote! {
                    let mut evicted = ::std::vec::Vec::new();
                    let stored = #p::cached_get::<#agg_ty>(&mut self.cx.cache, &self.cx.stores, #j, #store, key, &mut evicted)?;
                    if !evicted.is_empty() {
                        self.#flush(evicted, out)?;
                    }
                },
                quote! {
                    let value = #p::ser(&new_agg, &mut self.cx.value_buf, #name, #p::RecordPart::Value)?;
                    let entries = #p::cached_put(&mut self.cx.cache, #store, key, ts, value, ctx);
                    self.#flush(entries, out)?;
                },
                quote!(self.cx.key_buf = key_buf;),
            )
        } else {
            let kids = self.children(node);
            let no_old = self.no_old_value(node, &agg_ty);
            (
                quote!(),
                quote!(&mut self.cx.key_buf),
                quote!(let stored = #p::store_get::<#agg_ty>(&self.cx.stores, #j, #store, key)?;),
                quote! {
                    let value = #p::ser(&new_agg, &mut self.cx.value_buf, #name, #p::RecordPart::Value)?;
                    #p::store_put(&mut self.cx.stores, #j, #store, key, ts, value, &mut self.cx.store_buf)?;
                    let changelog_ctx = #p::RecordContext { timestamp: ts, headers: &#p::NO_HEADERS, ..*ctx };
                    out.send(#p::SinkTopic::Internal(#changelog), ::core::option::Option::Some(key), value, &changelog_ctx)?;
                    let forwarded = #p::RecordContext { timestamp: ts, ..*ctx };
                    let ctx = &forwarded;
                    let v = new_agg;
                    #no_old
                    #kids
                },
                quote!(),
            )
        };
        quote! {
            #take
            if let ::core::option::Option::Some(key) = #p::ser(&k, #key_buf, #name, #p::RecordPart::Key)? {
                #read
                let had = stored.is_some();
                let (old_agg, old_ts) = match stored {
                    ::core::option::Option::Some((a, t)) => (::core::option::Option::Some(a), t),
                    ::core::option::Option::None => (::core::option::Option::None, i64::MIN),
                };
                let mut ts = ctx.timestamp;
                let intermediate = match (o, old_agg) {
                    (::core::option::Option::Some(old), ::core::option::Option::Some(agg)) => {
                        ts = ts.max(old_ts);
                        ::core::option::Option::Some(#subtract)
                    }
                    (_, agg) => agg,
                };
                let new_agg: ::core::option::Option<#agg_ty> = match (v, intermediate) {
                    (::core::option::Option::Some(new), ::core::option::Option::Some(agg)) => {
                        ts = ts.max(old_ts);
                        ::core::option::Option::Some(#add_to)
                    }
                    (::core::option::Option::Some(new), ::core::option::Option::None) => {
                        if had && !#reduce {
                            ts = ts.max(old_ts);
                        }
                        ::core::option::Option::Some(#add_new)
                    }
                    (::core::option::Option::None, agg) => agg,
                };
                #write
            }
            #restore
        }
    }
}

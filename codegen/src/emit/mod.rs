//! Emit: one specialised processor per sub-topology.
//!
//! Each sub-topology becomes a struct whose fields are the user's closures
//! (generic parameters, so they stay monomorphised) and whose `process`
//! method is the fused chain as straight-line code: deserialise, call the
//! closures in order, serialise into reused buffers, hand bytes to the
//! collector. A record moves by value; at a fan-out it is cloned for every
//! consumer but the last, except for consumers that only read it (a filter
//! then a sink, say), which borrow it. No trait objects, channels, queues or collections
//! are added between operators. The function body is replaced by a call to a
//! generated constructor whose bounds let rustc infer every intermediate type
//! from the closures themselves.

use crate::describe::Description;
use crate::graph::{Graph, NodeId, NodeKind};
use crate::ops;
use crate::parse::{Statement, TopologyFn};
use crate::plan::{Entry, Plan, StoreKind, Ty};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use std::collections::BTreeSet;
use syn::spanned::Spanned;

pub(crate) fn respan(ts: TokenStream, span: Span) -> TokenStream {
    ts.into_iter()
        .map(|mut t| {
            if let proc_macro2::TokenTree::Group(g) = &t {
                let mut ng = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                ng.set_span(span);
                t = proc_macro2::TokenTree::Group(ng);
            } else {
                t.set_span(span);
            }
            t
        })
        .collect()
}

/// What operators emit with: the graph, the plan, the runtime path.
pub struct Emitter<'a> {
    pub(crate) graph: &'a Graph,
    pub(crate) plan: &'a Plan,
    pub(crate) p: TokenStream,
}

/// The key and value types into and out of a node, its span, and its
/// own generic parameters (`__WeirI..`: an iterator or processor type;
/// `__WeirR..`: a topic name type).
pub struct Io {
    pub(crate) ik: TokenStream,
    pub(crate) iv: TokenStream,
    pub(crate) ok: TokenStream,
    pub(crate) ov: TokenStream,
    pub(crate) span: Span,
    pub(crate) i: syn::Ident,
    pub(crate) r: syn::Ident,
}

/// A field of a sub-topology's struct that an operator owns.
pub struct Field {
    pub(crate) name: syn::Ident,
    pub(crate) ty: TokenStream,
    /// Its value in a clone (a fresh task's copy).
    pub(crate) clone: TokenStream,
    /// Its value in the constructor; `None`: the constructor's parameter
    /// of the same name (see [`crate::ops::Operator::values`]).
    pub(crate) init: Option<TokenStream>,
}

impl Field {
    /// A field that starts as `fresh`, in the constructor and in clones.
    pub(crate) fn new(name: syn::Ident, ty: TokenStream, fresh: TokenStream) -> Field {
        Field {
            name,
            ty,
            clone: fresh.clone(),
            init: Some(fresh),
        }
    }

    /// A field set from the constructor's parameter of its name, `clone`
    /// in clones.
    pub(crate) fn value(name: syn::Ident, ty: TokenStream, clone: TokenStream) -> Field {
        Field {
            name,
            ty,
            clone,
            init: None,
        }
    }
}

/// `k: Serde` and `v: Serde`, spanned at the operator.
pub(crate) fn serde_bounds(g: &mut Generics, span: Span, k: TokenStream, v: TokenStream) {
    g.bounds
        .push(respan(quote!(#k: ::weir::__private::Serde), span));
    g.bounds
        .push(respan(quote!(#v: ::weir::__private::Serde), span));
}

/// A sub-topology's generic parameters and their bounds.
#[derive(Default)]
pub struct Generics {
    pub(crate) types: BTreeSet<usize>,
    pub(crate) iters: Vec<NodeId>,
    pub(crate) topics: Vec<NodeId>,
    pub(crate) closures: Vec<(NodeId, char)>,
    pub(crate) bounds: Vec<TokenStream>,
}

impl Generics {
    pub(crate) fn params(&self) -> Vec<syn::Ident> {
        let mut v: Vec<syn::Ident> = self
            .types
            .iter()
            .map(|t| format_ident!("__WeirT{}", t))
            .collect();
        v.extend(self.iters.iter().map(|i| format_ident!("__WeirI{}", i)));
        v.extend(self.topics.iter().map(|i| format_ident!("__WeirR{}", i)));
        v.extend(self.closures.iter().map(|&c| generic(c)));
        v
    }
    pub(crate) fn phantom(&self) -> Vec<syn::Ident> {
        let mut v: Vec<syn::Ident> = self
            .types
            .iter()
            .map(|t| format_ident!("__WeirT{}", t))
            .collect();
        v.extend(self.iters.iter().map(|i| format_ident!("__WeirI{}", i)));
        v.extend(self.topics.iter().map(|i| format_ident!("__WeirR{}", i)));
        v
    }
}

/// `__WeirX12: <signature> + Clone + Send + 'static`, spanned at the operator.
pub(crate) fn closure_bound(
    slot: (NodeId, char),
    signature: TokenStream,
    span: Span,
) -> TokenStream {
    let g = generic(slot);
    respan(
        quote!(#g: #signature + ::core::clone::Clone + ::core::marker::Send + 'static),
        span,
    )
}

/// A processor node's fields: its instance (made on first use), its buffer
/// of forwarded records, its punctuation schedules.
pub(crate) fn processor_fields(node: NodeId) -> (syn::Ident, syn::Ident, syn::Ident) {
    (
        format_ident!("pr{}", node),
        format_ident!("fw{}", node),
        format_ident!("sch{}", node),
    )
}

/// The method that writes, logs and forwards the entries a cache flush or
/// eviction hands back for the store owned by `node`.
pub(crate) fn flush_method(node: NodeId) -> syn::Ident {
    format_ident!("flush_store{}", node)
}

pub(crate) fn field(slot: (NodeId, char)) -> syn::Ident {
    format_ident!("{}{}", slot.1, slot.0)
}

pub(crate) fn generic(slot: (NodeId, char)) -> syn::Ident {
    format_ident!("__Weir{}{}", slot.1.to_ascii_uppercase(), slot.0)
}

impl Emitter<'_> {
    pub(crate) fn ty(&self, var: usize, generics: &mut Generics) -> TokenStream {
        match self.plan.types.resolve(var) {
            Ty::Concrete(t) => quote!(#t),
            Ty::Generic(r) => {
                generics.types.insert(r);
                let id = format_ident!("__WeirT{}", r);
                quote!(#id)
            }
            Ty::Windowed(inner) => {
                let inner = self.ty(inner, generics);
                let p = &self.p;
                quote!(#p::Windowed<#inner>)
            }
            Ty::Optional(inner) => {
                let inner = self.ty(inner, generics);
                quote!(::core::option::Option<#inner>)
            }
        }
    }

    /// The (key, value) variables flowing into `node`.
    pub(crate) fn table_input_var(&self, node: NodeId) -> (usize, usize) {
        match self.graph.nodes[node].inputs.first() {
            Some(&i) => self.plan.types.node[i],
            None => self.plan.types.node[node],
        }
    }

    /// Key and value types flowing *into* `node`.
    pub(crate) fn input_types(&self, node: NodeId, g: &mut Generics) -> (TokenStream, TokenStream) {
        let n = &self.graph.nodes[node];
        let (k, v) = match n.inputs.first() {
            Some(&i) => self.plan.types.node[i],
            None => self.plan.types.node[node],
        };
        (self.ty(k, g), self.ty(v, g))
    }

    pub(crate) fn output_types(
        &self,
        node: NodeId,
        g: &mut Generics,
    ) -> (TokenStream, TokenStream) {
        let (k, v) = self.plan.types.node[node];
        (self.ty(k, g), self.ty(v, g))
    }

    pub(crate) fn children_in_sub(&self, node: NodeId) -> Vec<NodeId> {
        let n = &self.graph.nodes[node];
        if n.kind.op().boundary() {
            return Vec::new();
        }
        n.outputs.clone()
    }

    /// Generic parameters and bounds of sub-topology `sub`.
    pub(crate) fn generics(&self, sub: usize) -> Generics {
        let mut g = Generics::default();
        for entry in &self.plan.subs[sub].entries {
            if let Entry::Repartition(r) = entry {
                let (k, v) = self.output_types(*r, &mut g);
                serde_bounds(&mut g, self.graph.nodes[*r].span, k.clone(), v.clone());
                if self.graph.nodes[*r].outputs.len() > 1 {
                    let span = self.graph.nodes[*r].span;
                    g.bounds
                        .push(quote_spanned!(span=> #k: ::core::clone::Clone));
                    g.bounds
                        .push(quote_spanned!(span=> #v: ::core::clone::Clone));
                }
            }
        }
        for &id in &self.plan.subs[sub].nodes {
            let node = &self.graph.nodes[id];
            let span = node.span;
            let (ik, iv) = self.input_types(id, &mut g);
            let (ok, ov) = self.output_types(id, &mut g);
            let i = format_ident!("__WeirI{}", id);
            let r = format_ident!("__WeirR{}", id);
            for (slot, _) in node.kind.op().closures() {
                g.closures.push((id, slot));
            }
            let io = Io {
                ik: ik.clone(),
                iv: iv.clone(),
                ok: ok.clone(),
                ov: ov.clone(),
                span,
                i: i.clone(),
                r: r.clone(),
            };
            let fn_bound = node.kind.op().bound(self, id, &io, &mut g);
            if let Some(b) = fn_bound {
                g.bounds.push(closure_bound((id, 'f'), b, span));
            }
            let fan_out = node.kind.op().fans_out() && self.children_in_sub(id).len() > 1;
            if fan_out {
                g.bounds
                    .push(quote_spanned!(span=> #ok: ::core::clone::Clone));
                g.bounds
                    .push(quote_spanned!(span=> #ov: ::core::clone::Clone));
            }
        }
        let mut seen = std::collections::HashSet::new();
        g.bounds.retain(|b| seen.insert(b.to_string()));
        for t in &g.types {
            let t = format_ident!("__WeirT{}", t);
            g.bounds.push(quote!(#t: 'static));
        }
        for i in g
            .iters
            .iter()
            .map(|i| format_ident!("__WeirI{}", i))
            .chain(g.topics.iter().map(|i| format_ident!("__WeirR{}", i)))
        {
            g.bounds.push(quote!(#i: 'static));
        }
        g
    }

    /// Whether `node` reads the output of an aggregation whose store is
    /// cached (and non-windowed): its flush forwards old values too.
    pub(crate) fn cached_aggregate_parent(&self, node: NodeId) -> bool {
        self.graph.nodes[node].inputs.first().is_some_and(|&i| {
            matches!(
                self.graph.nodes[i].kind,
                NodeKind::Aggregate(ops::Aggregate { windows: None, .. })
            ) && self.plan.store_of(i).is_some_and(|st| st.cached)
        })
    }

    /// Whether `node`, a stream aggregation, feeds a `group_by` directly: it
    /// then sends its old value `o` along (Kafka Streams' `sendOldValues`).
    pub(crate) fn feeds_group_by(&self, node: NodeId) -> bool {
        let n = &self.graph.nodes[node];
        matches!(n.kind, NodeKind::Aggregate(_)) && n.kind.op().sends_old_values(n, self.graph)
    }

    /// Code for a record `(k, v)` arriving at `node`'s children.
    pub(crate) fn children(&self, node: NodeId) -> TokenStream {
        // A table node feeding a `group_by` also carries its old value `o`.
        let n = &self.graph.nodes[node];
        let with_old = n.kind.op().sends_old_values(n, self.graph);
        self.fan_out(&self.children_in_sub(node), with_old)
    }

    /// Code for a record `(k, v)` (and `o`, with `with_old`) going to each
    /// of `kids`: cloned for every consumer but the last, which takes it.
    pub(crate) fn fan_out(&self, kids: &[NodeId], with_old: bool) -> TokenStream {
        let clone_old = if with_old {
            quote!(let o = ::core::clone::Clone::clone(&o);)
        } else {
            quote!()
        };
        let mut out = TokenStream::new();
        for (i, &kid) in kids.iter().enumerate() {
            let body = self.flow(kid);
            // A consumer that only reads the record is lent it: no clone.
            if i + 1 < kids.len() && !self.borrows_only(kid) {
                out.extend(quote! {{
                    let k = ::core::clone::Clone::clone(&k);
                    let v = ::core::clone::Clone::clone(&v);
                    #clone_old
                    #body
                }});
            } else {
                out.extend(quote! {{ #body }});
            }
        }
        out
    }

    /// Whether the record arriving at `node` is only read from there on, in
    /// this sub-topology: every operator downstream takes `k` and `v` by
    /// reference (predicates, `peek`, sinks, `print`, a repartition sink),
    /// so a fan-out can lend the record to `node` instead of cloning it.
    pub(crate) fn borrows_only(&self, node: NodeId) -> bool {
        match self.graph.nodes[node].kind.op().borrows(self, node) {
            crate::ops::Borrow::Yes => true,
            crate::ops::Borrow::IfChildren => self
                .children_in_sub(node)
                .into_iter()
                .all(|kid| self.borrows_only(kid)),
            crate::ops::Borrow::No => false,
        }
    }

    /// Code for a record `(k, v)` arriving at `node`.
    pub(crate) fn flow(&self, node: NodeId) -> TokenStream {
        self.graph.nodes[node].kind.op().flow(self, node)
    }

    /// The flush method of a cached store (see [`flush_method`]): Kafka
    /// Streams' caching store with its flush listener. Each entry is written
    /// to the store (a delete of an absent key is skipped), logged to the
    /// changelog, decoded and forwarded with the context of the write that
    /// produced it and the stored timestamp.
    pub(crate) fn flush_store(&self, st: &crate::plan::Store) -> TokenStream {
        let p = &self.p;
        let node = st.node;
        let (j, changelog, store) = (st.index_in_sub, st.changelog, &st.name);
        let m = flush_method(node);
        let (k, v) = self.output_types(node, &mut Generics::default());
        // Final results are read back from the store, not forwarded here.
        let kids = if self.emits_final(node) {
            quote!(let _ = (k, v, ctx);)
        } else {
            self.children(node)
        };
        let log = if st.source_changelog.is_some() {
            // The source topic is the changelog: nothing to write.
            quote! {
                let flushed = #p::flushed(#store, &entry)?;
                let ctx = &flushed.context;
            }
        } else {
            quote! {
                let flushed = #p::flushed(#store, &entry)?;
                let changelog_ctx = #p::RecordContext { headers: &#p::NO_HEADERS, ..flushed.context };
                out.send(#p::SinkTopic::Internal(#changelog), ::core::option::Option::Some(&entry.key), flushed.value, &changelog_ctx)?;
                let ctx = &flushed.context;
            }
        };
        let body = if st.kind == StoreKind::Session {
            let (inner_k, _) = self.input_types(node, &mut Generics::default());
            let (w, t) = (format_ident!("w{}", node), format_ident!("t{}", node));
            quote! {
                let live_from = self.#t.saturating_sub(self.#w.retention_ms()).saturating_add(1);
                let ::core::option::Option::Some((key, window)) = #p::write_flushed_session(&mut self.cx.stores, #j, #store, &entry, disabled, live_from)? else { continue };
                // Logged with the writing record's timestamp, forwarded
                // with the session's end (Kafka Streams' session stores).
                let logged = #p::entry_context(&entry, entry.context.timestamp);
                let changelog_ctx = #p::RecordContext { headers: &#p::NO_HEADERS, ..logged };
                out.send(#p::SinkTopic::Internal(#changelog), ::core::option::Option::Some(&entry.key), entry.value.as_deref(), &changelog_ctx)?;
                let forwarded = #p::entry_context(&entry, window.end);
                let ctx = &forwarded;
                let k: #k = #p::Windowed { key: #p::decode_flushed::<#inner_k>(#store, ::core::option::Option::Some(key))?, window };
                let v: #v = #p::decode_flushed(#store, entry.value.as_deref())?;
                #kids
            }
        } else if st.kind == StoreKind::Window {
            let (inner_k, _) = self.input_types(node, &mut Generics::default());
            let w = format_ident!("w{}", node);
            quote! {
                let ::core::option::Option::Some((key, start)) = #p::write_flushed_window(&mut self.cx.stores, #j, #store, &entry, disabled)? else { continue };
                #log
                let k: #k = #p::Windowed { key: #p::decode_flushed::<#inner_k>(#store, ::core::option::Option::Some(key))?, window: self.#w.window_at(start) };
                let v: #v = #p::decode_flushed(#store, flushed.value)?;
                #kids
            }
        } else if matches!(
            self.graph.nodes[node].kind,
            NodeKind::TableSource(ops::TableSource { .. })
        ) {
            // A materialized table source forwards its old value too.
            quote! {
                let (write, old) = #p::write_flushed(&mut self.cx.stores, #j, #store, &entry, true, disabled)?;
                if !write { continue; }
                #log
                let k: #k = #p::decode_flushed(#store, ::core::option::Option::Some(&entry.key))?;
                let v: #v = #p::decode_flushed(#store, flushed.value)?;
                let o: #v = #p::decode_flushed(#store, old.as_deref())?;
                #kids
            }
        } else {
            // A table filter downstream takes the old value too (Kafka
            // Streams' `sendOldValues`, read from the store at flush).
            let want_old = self.children_in_sub(node).iter().any(|&c| {
                matches!(
                    self.graph.nodes[c].kind,
                    NodeKind::TableFilter(ops::TableFilter { .. })
                        | NodeKind::TableGroupBy(ops::TableGroupBy { .. })
                )
            });
            let old = if want_old {
                let agg_var = self.plan.types.node[node].1;
                let agg_ty = match self.plan.types.optional_inner(agg_var) {
                    Some(i) => self.ty(i, &mut Generics::default()),
                    None => v.clone(),
                };
                quote!(let o: ::core::option::Option<#agg_ty> = #p::decode_flushed(#store, old.as_deref())?;)
            } else {
                quote!()
            };
            quote! {
                let (write, old) = #p::write_flushed(&mut self.cx.stores, #j, #store, &entry, #want_old, disabled)?;
                if !write { continue; }
                #log
                let k: #k = #p::decode_flushed(#store, ::core::option::Option::Some(&entry.key))?;
                let v: #v = #p::decode_flushed(#store, flushed.value)?;
                #old
                #kids
            }
        };
        quote! {
            fn #m<__C: #p::RecordCollector>(&mut self, entries: ::std::vec::Vec<#p::DirtyEntry>, out: &mut __C) -> ::core::result::Result<(), #p::ProcessError> {
                let disabled = !self.cx.cache.is_enabled();
                for entry in entries {
                    #body
                }
                ::core::result::Result::Ok(())
            }
        }
    }

    /// The retention of sub-topology `sub`'s window and session stores, as
    /// `(store index, ms)` pairs for its `TaskContext`, read from the
    /// windows fields (`self.w..` in a `Clone`, parameters `w..` in the
    /// constructor).
    pub(crate) fn retention(&self, sub: usize, on_self: bool) -> TokenStream {
        let pairs = self
            .plan
            .stores
            .iter()
            .filter(|st| st.kind.windowed() && st.sub == sub)
            .map(|st| {
                let w = format_ident!("w{}", st.node);
                let j = st.index_in_sub;
                if on_self {
                    quote!((#j, self.#w.retention_ms()))
                } else {
                    quote!((#j, #w.retention_ms()))
                }
            });
        quote!(&[#(#pairs),*])
    }

    /// `SubTopology::start` and `punctuate`, for a sub-topology with
    /// clocked operators: their start statements, then, at a punctuation
    /// of `kind` once its clock has a time, their punctuations.
    pub(crate) fn clock_methods(&self, nodes: &[NodeId]) -> TokenStream {
        let p = &self.p;
        let ops: Vec<(NodeId, &dyn crate::ops::Operator)> = nodes
            .iter()
            .map(|&n| (n, self.graph.nodes[n].kind.op()))
            .filter(|(_, op)| op.clocked())
            .collect();
        if ops.is_empty() {
            return quote!();
        }
        let starts = ops.iter().map(|(n, op)| op.start(*n));
        let punctuates = ops.iter().map(|(n, op)| op.punctuate(*n));
        quote! {
            fn start(&mut self) {
                #(#starts)*
            }
            fn punctuate<__C: #p::RecordCollector>(&mut self, kind: #p::PunctuationType, out: &mut __C) -> ::core::result::Result<(), #p::ProcessError> {
                let now = match kind {
                    #p::PunctuationType::StreamTime => self.cx.stream_ms,
                    #p::PunctuationType::WallClockTime => self.cx.wall_ms,
                };
                if now < 0 {
                    return ::core::result::Result::Ok(());
                }
                #(#punctuates)*
                ::core::result::Result::Ok(())
            }
        }
    }

    pub(crate) fn sub(&self, sub: usize) -> (TokenStream, Generics) {
        let p = &self.p;
        let g = self.generics(sub);
        let s = &self.plan.subs[sub];
        let name = format_ident!("__WeirSub{}", sub);
        let params = g.params();
        let phantom = g.phantom();
        let fields: Vec<_> = g.closures.iter().map(|&c| field(c)).collect();
        let fty: Vec<_> = g.closures.iter().map(|&c| generic(c)).collect();
        let nodes = &s.nodes;
        let own: Vec<Field> = nodes
            .iter()
            .flat_map(|&n| self.graph.nodes[n].kind.op().fields(self, n))
            .collect();
        let own_names: Vec<&syn::Ident> = own.iter().map(|f| &f.name).collect();
        let own_types: Vec<&TokenStream> = own.iter().map(|f| &f.ty).collect();
        let own_clones: Vec<&TokenStream> = own.iter().map(|f| &f.clone).collect();
        let bounds = &g.bounds;
        let mut arms = TokenStream::new();
        for (index, entry) in s.entries.iter().enumerate() {
            let (node, gm) = match entry {
                Entry::Source(n) | Entry::Repartition(n) => (*n, &mut Generics::default()),
            };
            let (k, v) = self.output_types(node, gm);
            // A table `group_by`'s repartition topic carries (new, old) changes.
            let changes = matches!(
                self.graph.nodes[node].kind,
                NodeKind::Repartition(ops::Repartition { changes: true, .. })
            );
            let kids = match entry {
                Entry::Source(n) => {
                    let kids = self.children(*n);
                    match &self.graph.nodes[*n].kind {
                        NodeKind::Source(ops::Source {
                            extractor: Some(_), ..
                        }) => {
                            let f = field((*n, 'f'));
                            let name = &self.graph.nodes[*n].name;
                            quote! {
                                let ts = (self.#f)(&k, &v, ctx);
                                if ts < 0 {
                                    return ::core::result::Result::Err(#p::negative_timestamp(#name, ctx, ts));
                                }
                                let extracted = #p::RecordContext { timestamp: ts, ..*ctx };
                                let ctx = &extracted;
                                #kids
                            }
                        }
                        _ => kids,
                    }
                }
                Entry::Repartition(n) => self.fan_out(&self.graph.nodes[*n].outputs, changes),
            };
            let decode = if changes {
                quote! { let (v, o): (#v, #v) = #p::decode_change(&record)?; }
            } else {
                quote! { let v: #v = #p::value(&record)?; }
            };
            arms.extend(quote! {
                #index => {
                    let k: #k = #p::key(&record)?;
                    #decode
                    #kids
                    ::core::result::Result::Ok(())
                }
            });
        }
        let mut merges: Vec<TokenStream> = nodes
            .iter()
            .map(|&n| self.graph.nodes[n].kind.op().methods(self, n))
            .collect();
        let items: TokenStream = nodes
            .iter()
            .map(|&n| self.graph.nodes[n].kind.op().items(self, n))
            .collect();
        let cached: Vec<&crate::plan::Store> = self
            .plan
            .stores
            .iter()
            .filter(|st| st.sub == sub && st.cached)
            .collect();
        merges.extend(cached.iter().map(|st| self.flush_store(st)));
        let clock_methods = self.clock_methods(nodes);
        let cache_methods = if cached.is_empty() {
            quote!()
        } else {
            let names = cached.iter().map(|st| &st.name);
            let flushes = cached.iter().map(|st| flush_method(st.node));
            quote! {
                fn flush_cache<__C: #p::RecordCollector>(&mut self, out: &mut __C) -> ::core::result::Result<(), #p::ProcessError> {
                    #(
                        let entries = self.cx.cache.flush_entries(#names);
                        self.#flushes(entries, out)?;
                    )*
                    ::core::result::Result::Ok(())
                }
            }
        };
        merges.retain(|m| !m.is_empty());
        let merge_impl = if merges.is_empty() {
            quote!()
        } else {
            quote! {
                #[allow(unused_variables, unused_mut, clippy::all)]
                impl<#(#params),*> #name<#(#params),*> where #(#bounds),* { #(#merges)* }
            }
        };
        let tokens = quote! {
            #items
            #[allow(non_camel_case_types)]
            struct #name<#(#params),*> {
                #(#fields: #fty,)*
                cx: #p::TaskContext,
                #(#own_names: #own_types,)*
                types: #p::PhantomData<fn() -> (#(#phantom,)*)>,
            }
            impl<#(#params),*> ::core::clone::Clone for #name<#(#params),*> where #(#fty: ::core::clone::Clone),* {
                fn clone(&self) -> Self {
                    #name {
                        #(#fields: ::core::clone::Clone::clone(&self.#fields),)*
                        cx: ::core::clone::Clone::clone(&self.cx),
                        #(#own_names: #own_clones,)*
                        types: #p::PhantomData,
                    }
                }
            }
            #[allow(unused_variables, unused_mut, clippy::all)]
            impl<#(#params),*> #p::SubTopology for #name<#(#params),*> where #(#bounds),* {
                #[inline(always)]
                fn context(&mut self) -> &mut #p::TaskContext {
                    &mut self.cx
                }
                #cache_methods
                #clock_methods
                #[inline]
                fn process<__C: #p::RecordCollector>(&mut self, source: usize, record: #p::SourceRecord<'_>, out: &mut __C) -> ::core::result::Result<(), #p::ProcessError> {
                    let ctx = &record.context;
                    match source {
                        #arms
                        _ => ::core::result::Result::Err(#p::no_such_source(#sub, source)),
                    }
                }
            }
            #merge_impl
        };
        (tokens, g)
    }
}

/// Emits the replacement of the function body, and the function.
pub fn emit(f: &TopologyFn, graph: &Graph, plan: &Plan, desc: &Description) -> TokenStream {
    let p = quote!(::weir::__private);
    let e = Emitter {
        graph,
        plan,
        p: p.clone(),
    };
    let mut items = TokenStream::new();
    let mut all_params: Vec<syn::Ident> = Vec::new();
    let mut all_bounds: Vec<TokenStream> = Vec::new();
    let mut sub_types = Vec::new();
    let mut sub_inits = Vec::new();
    for s in &plan.subs {
        let (tokens, g) = e.sub(s.id);
        items.extend(tokens);
        let name = format_ident!("__WeirSub{}", s.id);
        let params = g.params();
        sub_types.push(quote!(#name<#(#params),*>));
        let fields: Vec<_> = g.closures.iter().map(|&c| field(c)).collect();
        let own: Vec<TokenStream> = s
            .nodes
            .iter()
            .flat_map(|&n| graph.nodes[n].kind.op().fields(&e, n))
            .map(|f| {
                let name = &f.name;
                match &f.init {
                    Some(init) => quote!(#name: #init),
                    None => quote!(#name),
                }
            })
            .collect();
        let retention = e.retention(s.id, false);
        sub_inits.push(quote! {
            #name {
                #(#fields,)*
                cx: #p::TaskContext::new(#retention),
                #(#own,)*
                types: #p::PhantomData,
            }
        });
        for param in params {
            if !all_params.contains(&param) {
                all_params.push(param);
            }
        }
        for b in g.bounds {
            if !all_bounds.iter().any(|x| x.to_string() == b.to_string()) {
                all_bounds.push(b);
            }
        }
    }
    // Constructor parameters: the closures in node order, so rustc infers
    // each intermediate type from the closure that produces it before the
    // closures that consume it are checked.
    let closures: Vec<((NodeId, char), &syn::Expr)> = graph
        .nodes
        .iter()
        .flat_map(|n| {
            n.kind
                .op()
                .closures()
                .into_iter()
                .map(move |(c, e)| ((n.id, c), e))
        })
        .collect();
    let mut args: Vec<_> = closures.iter().map(|&(c, _)| field(c)).collect();
    let mut arg_tys: Vec<TokenStream> = closures
        .iter()
        .map(|&(c, _)| {
            let g = generic(c);
            quote!(#g)
        })
        .collect();
    let mut arg_exprs: Vec<&syn::Expr> = closures.iter().map(|&(_, e)| e).collect();
    // Windows and suppressions are values, evaluated where the user wrote them.
    for n in &graph.nodes {
        for (field, ty, expr) in n.kind.op().values(n.id, &p) {
            args.push(field);
            arg_tys.push(ty);
            arg_exprs.push(expr);
        }
    }
    let sub_fields: Vec<_> = (0..plan.subs.len())
        .map(|i| format_ident!("s{}", i))
        .collect();
    let sub_params: Vec<_> = (0..plan.subs.len())
        .map(|i| format_ident!("__WeirS{}", i))
        .collect();
    let sub_indices: Vec<usize> = (0..plan.subs.len()).collect();
    // `table(topic)` stores restore from their source topic: each record is
    // checked against the table's types first (see SourceRecordCheck), by
    // a function the plan names.
    let source_checks: Vec<TokenStream> = plan
        .stores
        .iter()
        .enumerate()
        .filter(|(_, st)| st.source_changelog.is_some())
        .filter_map(|(i, st)| {
            let source = graph.nodes[st.node].inputs.first()?;
            let NodeKind::Source(ops::Source { key, value, .. }) = &graph.nodes[*source].kind else {
                return None;
            };
            let check = crate::describe::source_check_fn(i);
            Some(quote! {
                fn #check(key: ::core::option::Option<&[u8]>, value: ::core::option::Option<&[u8]>) -> ::core::result::Result<(), #p::SerdeError> {
                    <#key as #p::Serde>::deserialize(key)?;
                    <::core::option::Option<#value> as #p::Serde>::deserialize(value)?;
                    ::core::result::Result::Ok(())
                }
            })
        })
        .collect();
    let plan_static = desc.plan_tokens(&p);

    let kept = f.statements.iter().filter_map(|s| match s {
        Statement::Kept(stmt) => Some(stmt),
        _ => None,
    });
    let mut item = f.item.clone();
    if let syn::ReturnType::Default = item.sig.output {
        item.sig.output = syn::parse_quote!(-> impl ::weir::Topology);
    }
    let span = item.block.span();
    let build_span = f.build_span;
    let call = quote_spanned!(build_span=> __weir_new(#(#arg_exprs),*));
    let body = quote_spanned! {span=> {
        #(#kept)*
        #items
        #[allow(non_camel_case_types)]
        #[derive(Clone)]
        struct __WeirTopology<#(#sub_params),*> { #(#sub_fields: #sub_params,)* }
        #(#source_checks)*
        static __WEIR_PLAN: #p::Plan = #plan_static;
        impl<#(#sub_params: #p::SubTopology + ::core::clone::Clone),*> #p::Topology for __WeirTopology<#(#sub_params),*> {
            fn plan(&self) -> &'static #p::Plan {
                &__WEIR_PLAN
            }
            #[inline(always)]
            fn with_sub<'a, V: #p::SubVisitor<'a>>(&'a mut self, sub: usize, visitor: V) -> ::core::option::Option<V::Output> {
                match sub {
                    #(#sub_indices => ::core::option::Option::Some(visitor.visit(&mut self.#sub_fields)),)*
                    _ => ::core::option::Option::None,
                }
            }
        }
        #[allow(non_camel_case_types, clippy::too_many_arguments, clippy::type_complexity)]
        fn __weir_new<#(#all_params),*>(#(#args: #arg_tys),*) -> impl #p::Topology where #(#all_bounds),* {
            let topology: __WeirTopology<#(#sub_types),*> = __WeirTopology { #(#sub_fields: #sub_inits,)* };
            topology
        }
        #call
    }};
    *item.block = syn::parse2(body).unwrap_or_else(|e| {
        let message = format!("weir internal error, please report: {e}");
        syn::parse_quote!({ ::core::compile_error!(#message) })
    });
    quote!(#item)
}

#[cfg(test)]
mod tests {
    use crate::compile_for_test as compile;
    use quote::quote;

    fn code(tokens: proc_macro2::TokenStream) -> String {
        compile(tokens)
            .unwrap_or_else(|e| panic!("{e}"))
            .tokens
            .to_string()
    }

    #[test]
    fn operators_bring_their_fields_and_clocks() {
        let windowed = code(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                builder.stream::<String, String>("in")
                    .group_by_key()
                    .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))
                    .emit_strategy(EmitStrategy::on_window_close())
                    .count()
                    .to_stream()
                    .to("out");
                builder.build()
            }
        });
        // The windows are a constructor value; stream time and the final
        // results' bookkeeping are fields of the aggregation's own.
        for field in [
            "w1 : :: weir :: __private :: TimeWindows",
            "t1 : i64",
            "le1 : i64",
            "ne1 : i64",
        ] {
            assert!(windowed.contains(field), "{field} in {windowed}");
        }
        assert!(
            windowed.contains("fn punctuate"),
            "final results are clocked"
        );
        let stateless = code(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                builder.stream::<String, String>("in").map_values(|v| v.len() as i64).to("out");
                builder.build()
            }
        });
        assert!(!stateless.contains("fn punctuate"), "nothing to punctuate");
        assert!(!stateless.contains("fn flush_cache"), "no cache");
    }

    #[test]
    fn a_fan_out_lends_the_record_to_readers_and_moves_it_to_the_last() {
        let fan_out = code(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                let s = builder.stream::<String, String>("in");
                s.filter(|_k, v| !v.is_empty()).to("a");
                s.map_values(|v| v.len() as i64).to("b");
                s.to("c");
                builder.build()
            }
        });
        // The filter-then-sink branch only reads; the map takes a clone;
        // the last sink takes the record itself.
        assert_eq!(
            fan_out
                .matches(":: core :: clone :: Clone :: clone (& k)")
                .count(),
            1,
            "{fan_out}"
        );
    }
}

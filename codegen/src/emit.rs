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
use crate::graph::{AggOp, Graph, NodeId, NodeKind, SinkTarget};
use crate::parse::{Statement, TopologyFn};
use crate::plan::{Entry, Plan, Ty};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use std::collections::BTreeSet;
use syn::spanned::Spanned;

fn respan(ts: TokenStream, span: Span) -> TokenStream {
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

struct Emitter<'a> {
    graph: &'a Graph,
    plan: &'a Plan,
    p: TokenStream,
}

/// A sub-topology's generic parameters and their bounds.
#[derive(Default)]
struct Generics {
    types: BTreeSet<usize>,
    iters: Vec<NodeId>,
    topics: Vec<NodeId>,
    closures: Vec<(NodeId, char)>,
    bounds: Vec<TokenStream>,
}

impl Generics {
    fn params(&self) -> Vec<syn::Ident> {
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
    fn phantom(&self) -> Vec<syn::Ident> {
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

/// A node's closures: `('f', main)` and, for `aggregate`, `('g', initializer)`
/// first. Field `f12` / generic `__WeirF12` (or `g12` / `__WeirG12`).
fn closures_of(kind: &NodeKind) -> Vec<(char, &syn::Expr)> {
    match kind {
        NodeKind::Aggregate {
            op: AggOp::Aggregate { init, f, merger },
            ..
        } => {
            let mut closures = vec![('g', init), ('f', f)];
            closures.extend(merger.iter().map(|m| ('h', m)));
            closures
        }
        NodeKind::Aggregate {
            op: AggOp::Reduce { f },
            ..
        } => vec![('f', f)],
        NodeKind::Aggregate {
            op: AggOp::TableReduce { add, sub },
            ..
        } => vec![('f', add), ('h', sub)],
        NodeKind::Aggregate {
            op: AggOp::TableAggregate { init, add, sub },
            ..
        } => vec![('g', init), ('f', add), ('h', sub)],
        NodeKind::TableGroupBy { f } => vec![('f', f)],
        NodeKind::Process { factory, .. } => vec![('f', factory)],
        NodeKind::Aggregate {
            op: AggOp::Cogroup { f, init, .. },
            ..
        } => match init {
            Some(init) => vec![('g', init), ('f', f)],
            None => vec![('f', f)],
        },
        k => closure_of(k).map(|f| vec![('f', f)]).unwrap_or_default(),
    }
}

/// The windowed aggregations among `nodes`.
fn window_nodes(graph: &Graph, nodes: &[NodeId]) -> Vec<NodeId> {
    nodes
        .iter()
        .copied()
        .filter(|&n| {
            matches!(
                graph.nodes[n].kind,
                NodeKind::Aggregate {
                    windows: Some(_),
                    ..
                }
            )
        })
        .collect()
}

/// The `suppress` nodes among `nodes`.
fn suppress_nodes(graph: &Graph, nodes: &[NodeId]) -> Vec<NodeId> {
    nodes
        .iter()
        .copied()
        .filter(|&n| matches!(graph.nodes[n].kind, NodeKind::Suppress { .. }))
        .collect()
}

/// `__WeirX12: <signature> + Clone + Send + 'static`, spanned at the operator.
fn closure_bound(slot: (NodeId, char), signature: TokenStream, span: Span) -> TokenStream {
    let g = generic(slot);
    respan(
        quote!(#g: #signature + ::core::clone::Clone + ::core::marker::Send + 'static),
        span,
    )
}

/// The final-result windowed aggregations among `nodes`
/// (`emit_strategy(EmitStrategy::on_window_close())`).
fn final_result_nodes(graph: &Graph, nodes: &[NodeId]) -> Vec<NodeId> {
    nodes
        .iter()
        .copied()
        .filter(|&n| {
            matches!(
                graph.nodes[n].kind,
                NodeKind::Aggregate {
                    emit_final: true,
                    ..
                }
            )
        })
        .collect()
}

/// A processor node's fields: its instance (made on first use), its buffer
/// of forwarded records, its punctuation schedules.
fn processor_fields(node: NodeId) -> (syn::Ident, syn::Ident, syn::Ident) {
    (
        format_ident!("pr{}", node),
        format_ident!("fw{}", node),
        format_ident!("sch{}", node),
    )
}

/// The method that writes, logs and forwards the entries a cache flush or
/// eviction hands back for the store owned by `node`.
fn flush_method(node: NodeId) -> syn::Ident {
    format_ident!("flush_store{}", node)
}

fn field(slot: (NodeId, char)) -> syn::Ident {
    format_ident!("{}{}", slot.1, slot.0)
}

fn generic(slot: (NodeId, char)) -> syn::Ident {
    format_ident!("__Weir{}{}", slot.1.to_ascii_uppercase(), slot.0)
}

fn closure_of(kind: &NodeKind) -> Option<&syn::Expr> {
    match kind {
        NodeKind::Filter { f, .. }
        | NodeKind::Map { f }
        | NodeKind::MapValues { f, .. }
        | NodeKind::FlatMap { f }
        | NodeKind::FlatMapValues { f, .. }
        | NodeKind::SelectKey { f }
        | NodeKind::Peek { f }
        | NodeKind::Foreach { f }
        | NodeKind::TableFilter { f, .. }
        | NodeKind::TableMapValues { f, .. } => Some(f),
        NodeKind::Branch { pred: Some(f), .. } => Some(f),
        NodeKind::Sink {
            target: SinkTarget::Extractor(f, _),
        } => Some(f),
        NodeKind::Source {
            extractor: Some(f), ..
        } => Some(f),
        _ => None,
    }
}

impl Emitter<'_> {
    fn ty(&self, var: usize, generics: &mut Generics) -> TokenStream {
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
    fn table_input_var(&self, node: NodeId) -> (usize, usize) {
        match self.graph.nodes[node].inputs.first() {
            Some(&i) => self.plan.types.node[i],
            None => self.plan.types.node[node],
        }
    }

    /// The windowed aggregation nodes of sub-topology `sub`.
    fn window_nodes(&self, sub: usize) -> Vec<NodeId> {
        window_nodes(self.graph, &self.plan.subs[sub].nodes)
    }

    /// Key and value types flowing *into* `node`.
    fn input_types(&self, node: NodeId, g: &mut Generics) -> (TokenStream, TokenStream) {
        let n = &self.graph.nodes[node];
        let (k, v) = match n.inputs.first() {
            Some(&i) => self.plan.types.node[i],
            None => self.plan.types.node[node],
        };
        (self.ty(k, g), self.ty(v, g))
    }

    fn output_types(&self, node: NodeId, g: &mut Generics) -> (TokenStream, TokenStream) {
        let (k, v) = self.plan.types.node[node];
        (self.ty(k, g), self.ty(v, g))
    }

    fn children_in_sub(&self, node: NodeId) -> Vec<NodeId> {
        let n = &self.graph.nodes[node];
        if matches!(n.kind, NodeKind::Repartition { .. }) {
            return Vec::new();
        }
        n.outputs.clone()
    }

    /// Generic parameters and bounds of sub-topology `sub`.
    fn generics(&self, sub: usize) -> Generics {
        let p = &self.p;
        let mut g = Generics::default();
        let serde_bounds = |g: &mut Generics, span: Span, k: TokenStream, v: TokenStream| {
            g.bounds
                .push(respan(quote!(#k: ::weir::__private::Serde), span));
            g.bounds
                .push(respan(quote!(#v: ::weir::__private::Serde), span));
        };
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
            for (slot, _) in closures_of(&node.kind) {
                g.closures.push((id, slot));
            }
            let fn_bound = match &node.kind {
                NodeKind::Source { extractor, .. } => {
                    serde_bounds(&mut g, span, ok.clone(), ov.clone());
                    extractor.as_ref().map(
                        |_| quote_spanned!(span=> FnMut(&#ok, &#ov, &#p::RecordContext<'_>) -> i64),
                    )
                }
                NodeKind::Filter { .. } | NodeKind::Branch { pred: Some(_), .. } => {
                    Some(quote_spanned!(span=> FnMut(&#ik, &#iv) -> bool))
                }
                NodeKind::Map { .. } => Some(quote_spanned!(span=> FnMut(#ik, #iv) -> (#ok, #ov))),
                NodeKind::MapValues {
                    with_key: false, ..
                } => Some(quote_spanned!(span=> FnMut(#iv) -> #ov)),
                NodeKind::MapValues { with_key: true, .. } => {
                    Some(quote_spanned!(span=> FnMut(&#ik, #iv) -> #ov))
                }
                NodeKind::Process { fixed_key, .. } => {
                    // The processor's type is a parameter of its own, tied
                    // to the record types by its associated types.
                    g.iters.push(id);
                    if *fixed_key {
                        g.bounds.push(quote_spanned!(span=> #i: #p::FixedKeyProcessor<Key = #ik, ValueIn = #iv, ValueOut = #ov>));
                    } else {
                        g.bounds.push(quote_spanned!(span=> #i: #p::Processor<KeyIn = #ik, ValueIn = #iv, KeyOut = #ok, ValueOut = #ov>));
                    }
                    // Forwarded records wait in a buffer of the task's.
                    g.bounds
                        .push(quote_spanned!(span=> #ok: ::core::marker::Send + 'static));
                    g.bounds
                        .push(quote_spanned!(span=> #ov: ::core::marker::Send + 'static));
                    Some(quote_spanned!(span=> FnMut() -> #i))
                }
                NodeKind::FlatMap { .. } => {
                    g.iters.push(id);
                    g.bounds.push(
                        quote_spanned!(span=> #i: ::core::iter::IntoIterator<Item = (#ok, #ov)>),
                    );
                    Some(quote_spanned!(span=> FnMut(#ik, #iv) -> #i))
                }
                NodeKind::FlatMapValues { with_key, .. } => {
                    g.iters.push(id);
                    g.bounds
                        .push(quote_spanned!(span=> #i: ::core::iter::IntoIterator<Item = #ov>));
                    g.bounds
                        .push(quote_spanned!(span=> #ik: ::core::clone::Clone));
                    Some(if *with_key {
                        quote_spanned!(span=> FnMut(&#ik, #iv) -> #i)
                    } else {
                        quote_spanned!(span=> FnMut(#iv) -> #i)
                    })
                }
                NodeKind::SelectKey { .. } => Some(quote_spanned!(span=> FnMut(&#ik, &#iv) -> #ok)),
                NodeKind::Peek { .. } => Some(quote_spanned!(span=> FnMut(&#ik, &#iv))),
                NodeKind::Foreach { .. } => Some(quote_spanned!(span=> FnMut(#ik, #iv))),
                NodeKind::Sink { target } => {
                    serde_bounds(&mut g, span, ik.clone(), iv.clone());
                    match target {
                        SinkTarget::Topic(_) => None,
                        SinkTarget::Extractor(_, arity) => {
                            g.topics.push(id);
                            g.bounds
                                .push(quote_spanned!(span=> #r: ::core::convert::AsRef<str>));
                            Some(if *arity == Some(2) {
                                quote_spanned!(span=> FnMut(&#ik, &#iv) -> #r)
                            } else {
                                quote_spanned!(span=> FnMut(&#ik, &#iv, &#p::RecordContext<'_>) -> #r)
                            })
                        }
                    }
                }
                NodeKind::Repartition { .. } => {
                    serde_bounds(&mut g, span, ik.clone(), iv.clone());
                    None
                }
                NodeKind::TableGroupBy { .. } => {
                    let in_inner = match self.plan.types.optional_inner(self.table_input_var(id).1)
                    {
                        Some(i) => self.ty(i, &mut g),
                        None => iv.clone(),
                    };
                    let out_inner = match self.plan.types.optional_inner(self.plan.types.node[id].1)
                    {
                        Some(i) => self.ty(i, &mut g),
                        None => ov.clone(),
                    };
                    g.bounds
                        .push(respan(quote!(#ok: ::weir::__private::Serde), span));
                    g.bounds
                        .push(respan(quote!(#out_inner: ::weir::__private::Serde), span));
                    Some(quote_spanned!(span=> FnMut(&#ik, #in_inner) -> (#ok, #out_inner)))
                }
                NodeKind::Aggregate { op, windows, .. } => {
                    serde_bounds(&mut g, span, ik.clone(), iv.clone());
                    if windows.is_some() {
                        // The key goes into every `Windowed` key, the value into every window.
                        g.bounds
                            .push(quote_spanned!(span=> #ik: ::core::clone::Clone));
                        g.bounds
                            .push(quote_spanned!(span=> #iv: ::core::clone::Clone));
                    }
                    g.bounds
                        .push(respan(quote!(#ov: ::weir::__private::Serde), span));
                    // A grouped table's values and aggregates are nullable: the closures see the inner types.
                    let inner = |g: &mut Generics, var: usize, fallback: &TokenStream| match self
                        .plan
                        .types
                        .optional_inner(var)
                    {
                        Some(i) => self.ty(i, g),
                        None => fallback.clone(),
                    };
                    let in_inner = inner(&mut g, self.table_input_var(id).1, &iv);
                    let out_inner = inner(&mut g, self.plan.types.node[id].1, &ov);
                    if matches!(
                        op,
                        AggOp::TableCount
                            | AggOp::TableReduce { .. }
                            | AggOp::TableAggregate { .. }
                    ) || windows.as_ref().is_some_and(crate::graph::is_session)
                    {
                        g.bounds
                            .push(respan(quote!(#in_inner: ::weir::__private::Serde), span));
                        g.bounds
                            .push(respan(quote!(#out_inner: ::weir::__private::Serde), span));
                    }
                    match op {
                        AggOp::Count | AggOp::TableCount => None,
                        AggOp::TableReduce { .. } => {
                            g.bounds.push(closure_bound(
                                (id, 'h'),
                                quote!(FnMut(#in_inner, #in_inner) -> #in_inner),
                                span,
                            ));
                            Some(quote_spanned!(span=> FnMut(#in_inner, #in_inner) -> #in_inner))
                        }
                        AggOp::TableAggregate { .. } => {
                            g.bounds.push(closure_bound(
                                (id, 'g'),
                                quote!(FnMut() -> #out_inner),
                                span,
                            ));
                            g.bounds.push(closure_bound(
                                (id, 'h'),
                                quote!(FnMut(&#ik, #in_inner, #out_inner) -> #out_inner),
                                span,
                            ));
                            Some(
                                quote_spanned!(span=> FnMut(&#ik, #in_inner, #out_inner) -> #out_inner),
                            )
                        }
                        AggOp::Reduce { .. } => Some(quote_spanned!(span=> FnMut(#iv, #iv) -> #iv)),
                        AggOp::Aggregate { merger, .. } => {
                            g.bounds.push(closure_bound(
                                (id, 'g'),
                                quote!(FnMut() -> #out_inner),
                                span,
                            ));
                            if merger.is_some() {
                                g.bounds.push(closure_bound(
                                    (id, 'h'),
                                    quote!(FnMut(&#ik, #out_inner, #out_inner) -> #out_inner),
                                    span,
                                ));
                            }
                            Some(quote_spanned!(span=> FnMut(&#ik, #iv, #out_inner) -> #out_inner))
                        }
                        AggOp::Cogroup { init, .. } => {
                            if init.is_some() {
                                g.bounds.push(closure_bound(
                                    (id, 'g'),
                                    quote!(FnMut() -> #ov),
                                    span,
                                ));
                            }
                            Some(quote_spanned!(span=> FnMut(&#ik, #iv, #ov) -> #ov))
                        }
                    }
                }
                NodeKind::TableFilter { .. } | NodeKind::TableMapValues { .. } => {
                    let (_, in_v) = self.table_input_var(id);
                    let inner_in = match self.plan.types.optional_inner(in_v) {
                        Some(i) => self.ty(i, &mut g),
                        None => iv.clone(),
                    };
                    match &node.kind {
                        NodeKind::TableFilter { .. } => {
                            Some(quote_spanned!(span=> FnMut(&#ik, &#inner_in) -> bool))
                        }
                        NodeKind::TableMapValues { with_key, .. } => {
                            let out_v = self.plan.types.node[id].1;
                            let inner_out = match self.plan.types.optional_inner(out_v) {
                                Some(i) => self.ty(i, &mut g),
                                None => ov.clone(),
                            };
                            Some(if *with_key {
                                quote_spanned!(span=> FnMut(&#ik, #inner_in) -> #inner_out)
                            } else {
                                quote_spanned!(span=> FnMut(#inner_in) -> #inner_out)
                            })
                        }
                        _ => None,
                    }
                }
                NodeKind::Print { .. } => {
                    g.bounds
                        .push(quote_spanned!(span=> #ik: ::core::fmt::Debug));
                    g.bounds
                        .push(quote_spanned!(span=> #iv: ::core::fmt::Debug));
                    None
                }
                _ => None,
            };
            if let Some(b) = fn_bound {
                g.bounds.push(closure_bound((id, 'f'), b, span));
            }
            let fan_out =
                !matches!(node.kind, NodeKind::Split) && self.children_in_sub(id).len() > 1;
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
    fn cached_aggregate_parent(&self, node: NodeId) -> bool {
        self.graph.nodes[node].inputs.first().is_some_and(|&i| {
            matches!(
                self.graph.nodes[i].kind,
                NodeKind::Aggregate { windows: None, .. }
            ) && self.plan.store_of(i).is_some_and(|st| st.cached)
        })
    }

    /// Whether `node`, a stream aggregation, feeds a `group_by` directly: it
    /// then sends its old value `o` along (Kafka Streams' `sendOldValues`).
    fn feeds_group_by(&self, node: NodeId) -> bool {
        matches!(self.graph.nodes[node].kind, NodeKind::Aggregate { .. })
            && self.graph.nodes[node]
                .outputs
                .iter()
                .any(|&o| matches!(self.graph.nodes[o].kind, NodeKind::TableGroupBy { .. }))
    }

    /// Code for a record `(k, v)` arriving at `node`'s children.
    fn children(&self, node: NodeId) -> TokenStream {
        // A table node feeding a `group_by` also carries its old value `o`.
        let with_old = (matches!(
            self.graph.nodes[node].kind,
            NodeKind::TableSource { .. }
                | NodeKind::TableFilter { .. }
                | NodeKind::TableMapValues { .. }
        ) && crate::plan::needs_old_values(self.graph, node))
            || self.feeds_group_by(node);
        self.fan_out(&self.children_in_sub(node), with_old)
    }

    /// Code for a record `(k, v)` (and `o`, with `with_old`) going to each
    /// of `kids`: cloned for every consumer but the last, which takes it.
    fn fan_out(&self, kids: &[NodeId], with_old: bool) -> TokenStream {
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
    fn borrows_only(&self, node: NodeId) -> bool {
        match &self.graph.nodes[node].kind {
            NodeKind::Sink { .. } | NodeKind::Print { .. } => true,
            NodeKind::Repartition { changes: false, .. } => {
                self.plan.internal_of(node) != usize::MAX
            }
            NodeKind::Filter { .. }
            | NodeKind::Peek { .. }
            | NodeKind::Split
            | NodeKind::Branch { .. } => self
                .children_in_sub(node)
                .into_iter()
                .all(|kid| self.borrows_only(kid)),
            _ => false,
        }
    }

    /// Code for a record `(k, v)` arriving at `node`.
    fn flow(&self, node: NodeId) -> TokenStream {
        let p = &self.p;
        let n = &self.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
        match &n.kind {
            NodeKind::Source { .. } | NodeKind::Branch { .. } | NodeKind::ToStream => {
                self.children(node)
            }
            NodeKind::Aggregate {
                op:
                    op @ (AggOp::TableCount | AggOp::TableReduce { .. } | AggOp::TableAggregate { .. }),
                store,
                ..
            } => self.both(node, |cached| self.table_aggregate(node, op, store, cached)),
            NodeKind::Aggregate {
                op,
                store,
                windows: None,
                ..
            } => self.both(node, |cached| self.aggregate(node, op, store, cached)),
            NodeKind::Aggregate {
                op,
                store,
                windows: Some(_),
                ..
            } => self.both(node, |cached| {
                self.windowed_aggregate(node, op, store, cached)
            }),
            NodeKind::Suppress { window_node, .. } => self.suppress(node, *window_node),
            NodeKind::TableSource { store, .. } => {
                self.both(node, |cached| self.table_source(node, store, cached))
            }
            NodeKind::TableGroupBy { .. } => {
                let kids = self.children(node);
                // An aggregation's result is never a tombstone.
                let wrap = if n.inputs.first().is_some_and(|&i| self.feeds_group_by(i)) {
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
            NodeKind::TableFilter { negate, .. } => {
                let kids = self.children(node);
                let nullable = self
                    .plan
                    .types
                    .optional_inner(self.table_input_var(node).1)
                    .is_some();
                let not = if *negate { quote!(!) } else { quote!() };
                if self.cached_aggregate_parent(node) {
                    // Behind a cached aggregation Kafka Streams forwards the
                    // old value from the store and skips an update whose new
                    // and old values are both filtered out; without the
                    // caching layer (cache size 0) every update goes on.
                    let v_new = if nullable {
                        quote!(let v = v.filter(|x| #not (self.#f)(&k, x));)
                    } else {
                        quote!(let v = if #not (self.#f)(&k, &v) { ::core::option::Option::Some(v) } else { ::core::option::Option::None };)
                    };
                    quote! {
                        #v_new
                        if !self.cx.cache.is_enabled() || v.is_some() || o.as_ref().is_some_and(|x| #not (self.#f)(&k, x)) { #kids }
                    }
                } else if nullable && crate::plan::needs_old_values(self.graph, node) {
                    // With old values, as Kafka Streams: nothing to forward when
                    // both the new and the old value are filtered out.
                    quote! {
                        let v = v.filter(|x| #not (self.#f)(&k, x));
                        let o = o.filter(|x| #not (self.#f)(&k, x));
                        if v.is_some() || o.is_some() { #kids }
                    }
                } else if nullable {
                    quote! { let v = v.filter(|x| #not (self.#f)(&k, x)); #kids }
                } else {
                    quote! {
                        let v = if #not (self.#f)(&k, &v) { ::core::option::Option::Some(v) } else { ::core::option::Option::None };
                        #kids
                    }
                }
            }
            NodeKind::TableMapValues { with_key, .. } => {
                let kids = self.children(node);
                let nullable = self
                    .plan
                    .types
                    .optional_inner(self.table_input_var(node).1)
                    .is_some();
                let call = if *with_key {
                    quote!((self.#f)(&k, x))
                } else {
                    quote!((self.#f)(x))
                };
                if nullable && crate::plan::needs_old_values(self.graph, node) {
                    quote! { let v = v.map(|x| #call); let o = o.map(|x| #call); #kids }
                } else if nullable {
                    quote! { let v = v.map(|x| #call); #kids }
                } else {
                    quote! { let x = v; let v = #call; #kids }
                }
            }
            NodeKind::Filter { negate, .. } => {
                let kids = self.children(node);
                let test = if *negate {
                    quote!(!(self.#f)(&k, &v))
                } else {
                    quote!((self.#f)(&k, &v))
                };
                quote! { if #test { #kids } }
            }
            NodeKind::Map { .. } => {
                let kids = self.children(node);
                quote! { let (k, v) = (self.#f)(k, v); #kids }
            }
            NodeKind::MapValues { with_key, .. } => {
                let kids = self.children(node);
                let call = if *with_key {
                    quote!((self.#f)(&k, v))
                } else {
                    quote!((self.#f)(v))
                };
                quote! { let v = #call; #kids }
            }
            NodeKind::FlatMap { .. } => {
                let kids = self.children(node);
                quote! { for (k, v) in (self.#f)(k, v) { #kids } }
            }
            NodeKind::FlatMapValues { with_key, .. } => {
                let kids = self.children(node);
                let call = if *with_key {
                    quote!((self.#f)(&k, v))
                } else {
                    quote!((self.#f)(v))
                };
                // The key is cloned for every value but the last, which takes
                // it. Inline (no closure), so the chain stays one function.
                quote! {
                    let mut values = ::core::iter::IntoIterator::into_iter(#call);
                    let mut next = ::core::iter::Iterator::next(&mut values);
                    let mut key = ::core::option::Option::Some(k);
                    while let ::core::option::Option::Some(v) = next {
                        next = ::core::iter::Iterator::next(&mut values);
                        let k = if next.is_some() { ::core::clone::Clone::clone(&key) } else { key.take() };
                        let ::core::option::Option::Some(k) = k else { break };
                        #kids
                    }
                }
            }
            NodeKind::SelectKey { .. } => {
                let kids = self.children(node);
                quote! { let k = (self.#f)(&k, &v); #kids }
            }
            NodeKind::Process { fixed_key, .. } => {
                let kids = self.children(node);
                let (pr, fw, sch) = processor_fields(node);
                let call = if *fixed_key {
                    quote!(#p::FixedKeyProcessor::process(processor, #p::FixedKeyRecord::new(k, v, ctx.timestamp), &mut #p::FixedKeyProcessorContext::wrap(pctx))?;)
                } else {
                    quote!(#p::Processor::process(processor, #p::Record { key: k, value: v, timestamp: ctx.timestamp, headers: ctx.headers }, &mut pctx)?;)
                };
                let connected = format_ident!("__WEIR_CONNECTED_{}", node);
                let ensure = format_ident!("ensure_processor{}", node);
                quote! {
                    self.#ensure();
                    let mut forwarded = ::core::mem::take(&mut self.#fw);
                    if let ::core::option::Option::Some(processor) = self.#pr.as_mut() {
                        let mut pctx = #p::ProcessorContext::new(&mut forwarded, &mut self.cx.stores, #connected, &mut self.cx.changes, &mut self.#sch, #p::Current::from(ctx), self.cx.stream_ms, self.cx.wall_ms);
                        #call
                    }
                    #p::send_changes(&mut self.cx.changes, ctx, out)?;
                    for (k, v, ts) in forwarded.drain(..) {
                        let forwarded_ctx = #p::RecordContext { timestamp: ts, ..*ctx };
                        let ctx = &forwarded_ctx;
                        #kids
                    }
                    self.#fw = forwarded;
                }
            }
            NodeKind::Peek { .. } => {
                let kids = self.children(node);
                quote! { (self.#f)(&k, &v); #kids }
            }
            NodeKind::Foreach { .. } => quote! { (self.#f)(k, v); },
            NodeKind::Split => {
                let mut arms = TokenStream::new();
                let mut default = None;
                for &b in &n.outputs {
                    let body = self.flow(b);
                    match &self.graph.nodes[b].kind {
                        NodeKind::Branch { pred: Some(_), .. } => {
                            let fb = format_ident!("f{}", b);
                            if !arms.is_empty() {
                                arms.extend(quote!(else));
                            }
                            arms.extend(quote! { if (self.#fb)(&k, &v) { #body } });
                        }
                        _ => default = Some(body),
                    }
                }
                match (arms.is_empty(), default) {
                    (true, Some(d)) => d,
                    (false, Some(d)) => quote! { #arms else { #d } },
                    (_, None) => arms,
                }
            }
            NodeKind::Merge => {
                let m = format_ident!("node{}", node);
                quote! { self.#m(k, v, ctx, out)?; }
            }
            NodeKind::Repartition { .. } => {
                let index = self.plan.internal_of(node);
                if index == usize::MAX {
                    return quote! { let _ = (k, v); };
                }
                let sink = format!("{name}-repartition-sink");
                if matches!(n.kind, NodeKind::Repartition { changes: true, .. }) {
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
            NodeKind::Sink { target } => {
                let (topic_let, topic) = match target {
                    SinkTarget::Topic(t) => (quote!(), quote!(#p::SinkTopic::Named(#t))),
                    SinkTarget::Extractor(_, Some(2)) => (
                        quote!(let topic = (self.#f)(&k, &v);),
                        quote!(#p::SinkTopic::Named(::core::convert::AsRef::<str>::as_ref(&topic))),
                    ),
                    SinkTarget::Extractor(..) => (
                        quote!(let topic = (self.#f)(&k, &v, ctx);),
                        quote!(#p::SinkTopic::Named(::core::convert::AsRef::<str>::as_ref(&topic))),
                    ),
                };
                quote! {
                    #topic_let
                    let key = #p::ser(&k, &mut self.cx.key_buf, #name, #p::RecordPart::Key)?;
                    let value = #p::ser(&v, &mut self.cx.value_buf, #name, #p::RecordPart::Value)?;
                    out.send(#topic, key, value, ctx)?;
                }
            }
            NodeKind::Print { label } => {
                let label = if label.is_empty() {
                    name.clone()
                } else {
                    label.clone()
                };
                quote! { out.print(::core::format_args!("[{}]: {:?}, {:?}", #label, k, v)); }
            }
        }
    }

    /// The new aggregate `(agg, ts)` from `old: Option<(A, i64)>` and the
    /// record `(k, v)`: `count` adds one, `reduce` starts from the first
    /// value, `aggregate` from its initializer. `ts` is the previous
    /// aggregate's timestamp (`i64::MIN` for a new one).
    fn update(&self, node: NodeId, op: &AggOp, agg_ty: &TokenStream) -> TokenStream {
        let (f, g) = (field((node, 'f')), field((node, 'g')));
        match op {
            AggOp::Count => quote! {
                let (agg, ts): (#agg_ty, i64) = old.unwrap_or((0, i64::MIN));
                let agg = agg + 1;
            },
            AggOp::Reduce { .. } => quote! {
                let (agg, ts): (#agg_ty, i64) = match old {
                    ::core::option::Option::Some((old, ts)) => ((self.#f)(old, v), ts),
                    ::core::option::Option::None => (v, i64::MIN),
                };
            },
            AggOp::Aggregate { .. } => quote! {
                let (agg, ts): (#agg_ty, i64) = match old {
                    ::core::option::Option::Some(old) => old,
                    ::core::option::Option::None => ((self.#g)(), i64::MIN),
                };
                let agg = (self.#f)(&k, v, agg);
            },
            // Grouped tables have their own processor (`table_aggregate`).
            AggOp::TableCount | AggOp::TableReduce { .. } | AggOp::TableAggregate { .. } => {
                quote!()
            }
            AggOp::Cogroup { owner, .. } => {
                // Every input starts from the owner's initializer.
                let g = field((*owner, 'g'));
                quote! {
                    let (agg, ts): (#agg_ty, i64) = match old {
                        ::core::option::Option::Some(old) => old,
                        ::core::option::Option::None => ((self.#g)(), i64::MIN),
                    };
                    let agg = (self.#f)(&k, v, agg);
                }
            }
        }
    }

    /// A stream aggregation, as Kafka Streams' `KStreamAggregate` /
    /// `KStreamReduce` on a timestamped key-value store: records with a null
    /// key or value are dropped; the new aggregate is stored with timestamp
    /// max(record, previous), logged to the changelog, and forwarded.
    fn aggregate(&self, node: NodeId, op: &AggOp, store: &str, cached: bool) -> TokenStream {
        let p = &self.p;
        let Some(st) = self.plan.store_of(node) else {
            return quote!();
        };
        let (j, changelog) = (st.index_in_sub, st.changelog);
        let name = &self.graph.nodes[node].name;
        let (_, agg_ty) = self.output_types(node, &mut Generics::default());
        let update = self.update(node, op, &agg_ty);
        if cached {
            let flush = flush_method(st.node);
            return quote! {
                if !#p::Serde::is_null(&k) && !#p::Serde::is_null(&v) {
                    let mut key_buf = ::core::mem::take(&mut self.cx.key_buf);
                    if let ::core::option::Option::Some(key) = #p::ser(&k, &mut key_buf, #name, #p::RecordPart::Key)? {
                        let mut evicted = ::std::vec::Vec::new();
                        let old = #p::cached_get::<#agg_ty>(&mut self.cx.cache, &self.cx.stores, #j, #store, key, &mut evicted)?;
                        if !evicted.is_empty() {
                            self.#flush(evicted, out)?;
                        }
                        #update
                        let ts = ts.max(ctx.timestamp);
                        let value = #p::ser(&agg, &mut self.cx.value_buf, #name, #p::RecordPart::Value)?;
                        let entries = #p::cached_put(&mut self.cx.cache, #store, key, ts, value, ctx);
                        self.#flush(entries, out)?;
                    }
                    self.cx.key_buf = key_buf;
                } else {
                    self.cx.dropped += 1;
                }
            };
        }
        let no_old = self.no_old_value(node, &agg_ty);
        // A `group_by` downstream subtracts the old aggregate: read it apart
        // (the update consumes `old`). As Kafka Streams' KStreamAggregate,
        // count and aggregate send the initial value as the old one of a new
        // key (KStreamReduce sends none); behind the cache the old value is
        // the store's at flush, absent for a new key.
        let old_for_group_by = if self.feeds_group_by(node) {
            let initial = match op {
                AggOp::Count => quote!(.or(::core::option::Option::Some(0))),
                AggOp::Aggregate { .. } => {
                    let g = field((node, 'g'));
                    quote!(.or_else(|| ::core::option::Option::Some((self.#g)())))
                }
                AggOp::Cogroup { owner, .. } => {
                    let g = field((*owner, 'g'));
                    quote!(.or_else(|| ::core::option::Option::Some((self.#g)())))
                }
                _ => quote!(),
            };
            quote! {
                let o: ::core::option::Option<#agg_ty> = #p::store_get::<#agg_ty>(&self.cx.stores, #j, #store, key)?.map(|(a, _)| a)#initial;
            }
        } else {
            quote!()
        };
        let kids = self.children(node);
        quote! {
            if !#p::Serde::is_null(&k) && !#p::Serde::is_null(&v) {
                if let ::core::option::Option::Some(key) = #p::ser(&k, &mut self.cx.key_buf, #name, #p::RecordPart::Key)? {
                    let old = #p::store_get::<#agg_ty>(&self.cx.stores, #j, #store, key)?;
                    #old_for_group_by
                    #update
                    let ts = ts.max(ctx.timestamp);
                    let value = #p::ser(&agg, &mut self.cx.value_buf, #name, #p::RecordPart::Value)?;
                    #p::store_put(&mut self.cx.stores, #j, #store, key, ts, value, &mut self.cx.store_buf)?;
                    let changelog_ctx = #p::RecordContext { timestamp: ts, headers: &#p::NO_HEADERS, ..*ctx };
                    out.send(#p::SinkTopic::Internal(#changelog), ::core::option::Option::Some(key), value, &changelog_ctx)?;
                    let forwarded = #p::RecordContext { timestamp: ts, ..*ctx };
                    let ctx = &forwarded;
                    let v = agg;
                    #no_old
                    #kids
                }
            } else {
                // Kafka Streams logs and counts these as dropped records.
                self.cx.dropped += 1;
            }
        }
    }

    /// A grouped table's aggregation, as Kafka Streams' `KTableAggregate` /
    /// `KTableReduce`: the old value (`o`) is subtracted, then the new one
    /// (`v`) added; the result (a tombstone when nothing is left) is stored,
    /// logged and forwarded.
    fn table_aggregate(&self, node: NodeId, op: &AggOp, store: &str, cached: bool) -> TokenStream {
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

    /// A windowed aggregation, as Kafka Streams' `KStreamWindowAggregate`:
    /// records with a null key are dropped; stream time advances; each window containing the record that has not
    /// closed (`end > stream time - grace`) gets the new aggregate (stored
    /// with timestamp max(record, previous), logged, forwarded with key
    /// `Windowed<K>`); closed windows drop the record.
    fn windowed_aggregate(
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
        if self.is_sliding(node) {
            return self.sliding_aggregate(node, op, st);
        }
        if self.is_session(node) {
            return self.session_aggregate(node, op, st);
        }
        let (j, changelog) = (st.index_in_sub, st.changelog);
        let name = &self.graph.nodes[node].name;
        let (w, t) = (format_ident!("w{}", node), format_ident!("t{}", node));
        let (_, agg_ty) = self.output_types(node, &mut Generics::default());
        let update = self.update(node, op, &agg_ty);
        if cached {
            let flush = flush_method(st.node);
            return quote! {
                if !#p::Serde::is_null(&k) {
                    self.#t = self.#t.max(ctx.timestamp);
                    let close_time = self.#t.saturating_sub(self.#w.grace_ms());
                    let windows = self.#w;
                    let mut windows = windows.windows_for(ctx.timestamp);
                    let mut key_buf = ::core::mem::take(&mut self.cx.key_buf);
                    let mut cache_key = ::core::mem::take(&mut self.cx.changelog_buf);
                    let mut next = windows.next();
                    let mut value = ::core::option::Option::Some(v);
                    while let ::core::option::Option::Some(window) = next {
                        next = windows.next();
                        let v = if next.is_some() { ::core::clone::Clone::clone(&value) } else { value.take() };
                        let ::core::option::Option::Some(v) = v else { break };
                        if window.end <= close_time {
                            #p::late_record(#name, ctx, window);
                            self.cx.dropped += 1;
                            continue;
                        }
                        let ::core::option::Option::Some(key) = #p::ser(&k, &mut key_buf, #name, #p::RecordPart::Key)? else { break };
                        #p::window_changelog_key(key, window.start, &mut cache_key);
                        let old = #p::cached_window_get::<#agg_ty>(&mut self.cx.cache, &self.cx.stores, #j, #store, key, window.start, &cache_key)?;
                        #update
                        let ts = ts.max(ctx.timestamp);
                        let value_bytes = #p::ser(&agg, &mut self.cx.value_buf, #name, #p::RecordPart::Value)?;
                        let entries = #p::cached_put(&mut self.cx.cache, #store, &cache_key, ts, value_bytes, ctx);
                        self.#flush(entries, out)?;
                    }
                    self.cx.key_buf = key_buf;
                    self.cx.changelog_buf = cache_key;
                } else {
                    self.cx.dropped += 1;
                }
            };
        }
        let emit_final = matches!(
            self.graph.nodes[node].kind,
            NodeKind::Aggregate {
                emit_final: true,
                ..
            }
        );
        let (kids, final_results) = if emit_final {
            (quote!(), self.final_results(node, st))
        } else {
            (self.children(node), quote!())
        };
        // Unlike the non-windowed aggregations, Kafka Streams' windowed ones
        // drop only null keys: a null value reaches the aggregator.
        quote! {
            if !#p::Serde::is_null(&k) {
                self.#t = self.#t.max(ctx.timestamp);
                let close_time = self.#t.saturating_sub(self.#w.grace_ms());
                let windows = self.#w;
                let mut windows = windows.windows_for(ctx.timestamp);
                let mut next = windows.next();
                let mut value = ::core::option::Option::Some(v);
                while let ::core::option::Option::Some(window) = next {
                    next = windows.next();
                    let v = if next.is_some() { ::core::clone::Clone::clone(&value) } else { value.take() };
                    let ::core::option::Option::Some(v) = v else { break };
                    if window.end <= close_time {
                        #p::late_record(#name, ctx, window);
                        self.cx.dropped += 1;
                        continue;
                    }
                    let ::core::option::Option::Some(key) = #p::ser(&k, &mut self.cx.key_buf, #name, #p::RecordPart::Key)? else { break };
                    let old = #p::window_get::<#agg_ty>(&self.cx.stores, #j, #store, key, window.start)?;
                    #update
                    let ts = ts.max(ctx.timestamp);
                    let value_bytes = #p::ser(&agg, &mut self.cx.value_buf, #name, #p::RecordPart::Value)?;
                    #p::window_put(&mut self.cx.stores, #j, #store, key, window.start, ts, value_bytes, &mut self.cx.store_buf)?;
                    #p::window_changelog_key(key, window.start, &mut self.cx.changelog_buf);
                    let changelog_ctx = #p::RecordContext { timestamp: ts, headers: &#p::NO_HEADERS, ..*ctx };
                    out.send(#p::SinkTopic::Internal(#changelog), ::core::option::Option::Some(&self.cx.changelog_buf), value_bytes, &changelog_ctx)?;
                    let forwarded = #p::RecordContext { timestamp: ts, ..*ctx };
                    let ctx = &forwarded;
                    let k = #p::Windowed { key: ::core::clone::Clone::clone(&k), window };
                    let v = agg;
                    #kids
                }
                #final_results
            } else {
                self.cx.dropped += 1;
            }
        }
    }

    /// `emit_strategy(EmitStrategy::on_window_close())`: Kafka Streams'
    /// `maybeForwardFinalResult`. At most once per emit interval of wall
    /// time, and only when the close time moved on, the windows that closed
    /// since the last emission are read from the store and forwarded, with
    /// the current record's headers: time and sliding windows by start, then
    /// key, with their aggregate's timestamp; sessions (of every key) by end,
    /// then key, with their end as timestamp.
    fn final_results(&self, node: NodeId, st: &crate::plan::Store) -> TokenStream {
        let p = &self.p;
        let (j, store) = (st.index_in_sub, &st.name);
        let (w, t) = (format_ident!("w{}", node), format_ident!("t{}", node));
        let (last, next) = (format_ident!("le{}", node), format_ident!("ne{}", node));
        let (inner_k, _) = self.input_types(node, &mut Generics::default());
        let (_, agg_ty) = self.output_types(node, &mut Generics::default());
        let kids = self.children(node);
        // Kafka Streams' emitRangeLowerBound/UpperBound and shouldRangeFetch
        // (inclusive bounds on window starts, or on session ends).
        let (bounds, should_fetch) = if self.is_session(node) {
            (
                quote! {
                    let upper = close_time.saturating_sub(1);
                    let lower = self.#last.max(0);
                },
                quote!(upper >= lower),
            )
        } else if self.is_sliding(node) {
            (
                quote! {
                    let diff = windows.difference_ms();
                    let upper = close_time.saturating_sub(diff).saturating_sub(1);
                    let lower = if self.#last == -1 { 0 } else { (self.#last - diff).max(0) };
                },
                quote!(true),
            )
        } else {
            (
                quote! {
                    let size = windows.size_ms();
                    let upper = close_time.saturating_sub(size);
                    let lower = if self.#last == -1 { 0 } else { (self.#last - size).max(0) + 1 };
                },
                quote!(self.#last == -1 || !windows.windows_for(upper).eq(windows.windows_for(lower - 1))),
            )
        };
        let closed = if self.is_session(node) {
            quote! {
                let live_from = self.#t.saturating_sub(windows.retention_ms()).saturating_add(1);
                for (key_bytes, window, value_bytes) in #p::closed_sessions(&self.cx.stores, #j, #store, lower, upper, live_from)? {
                    let k = #p::Windowed { key: #p::decode_flushed::<#inner_k>(#store, ::core::option::Option::Some(&key_bytes))?, window };
                    let v: #agg_ty = #p::decode_flushed(#store, ::core::option::Option::Some(&value_bytes))?;
                    let forwarded = #p::RecordContext { timestamp: window.end, ..*ctx };
                    let ctx = &forwarded;
                    #kids
                }
            }
        } else {
            quote! {
                for (key_bytes, start, value_bytes, ts) in #p::closed_windows(&self.cx.stores, #j, #store, lower, upper)? {
                    let k = #p::Windowed { key: #p::decode_flushed::<#inner_k>(#store, ::core::option::Option::Some(&key_bytes))?, window: windows.window_at(start) };
                    let v: #agg_ty = #p::decode_flushed(#store, ::core::option::Option::Some(&value_bytes))?;
                    let forwarded = #p::RecordContext { timestamp: ts, ..*ctx };
                    let ctx = &forwarded;
                    #kids
                }
            }
        };
        quote! {
            let now = self.cx.wall_ms;
            if now >= self.#next {
                self.#next = now.saturating_add(self.cx.emit_ms);
                if self.#last == -1 || self.#last < close_time {
                    let windows = self.#w;
                    #bounds
                    if upper >= 0 {
                        // Nothing to read unless a new window closed.
                        if #should_fetch {
                            #closed
                            self.#last = close_time;
                        }
                    }
                }
            }
        }
    }

    /// A table source (`builder.table(..)`, `to_table()`): materialized
    /// when a `group_by` needs its old values, through the cache if `cached`.
    fn table_source(&self, node: NodeId, store: &str, cached: bool) -> TokenStream {
        let p = &self.p;
        let name = &self.graph.nodes[node].name;
        let kids = self.children(node);
        match self.plan.store_of(node) {
            // Materialized for a downstream `group_by`: the old value
            // (`o`) comes from the store, the new one replaces it.
            Some(st) if st.cached && cached => {
                let flush = flush_method(st.node);
                quote! {
                    if !#p::Serde::is_null(&k) {
                        let mut key_buf = ::core::mem::take(&mut self.cx.key_buf);
                        if let ::core::option::Option::Some(key) = #p::ser(&k, &mut key_buf, #name, #p::RecordPart::Key)? {
                            let value = #p::ser(&v, &mut self.cx.value_buf, #name, #p::RecordPart::Value)?;
                            let entries = #p::cached_put(&mut self.cx.cache, #store, key, ctx.timestamp, value, ctx);
                            self.#flush(entries, out)?;
                        }
                        self.cx.key_buf = key_buf;
                    } else {
                        self.cx.dropped += 1;
                    }
                }
            }
            Some(st) => {
                let (j, changelog) = (st.index_in_sub, st.changelog);
                // With the source topic as changelog, nothing is logged.
                let log = if st.source_changelog.is_some() {
                    quote!()
                } else {
                    quote! {
                        let changelog_ctx = #p::RecordContext { headers: &#p::NO_HEADERS, ..*ctx };
                        out.send(#p::SinkTopic::Internal(#changelog), ::core::option::Option::Some(key), value, &changelog_ctx)?;
                    }
                };
                let (_, inner) = self.plan.types.node[node];
                let inner = match self.plan.types.optional_inner(inner) {
                    Some(i) => self.ty(i, &mut Generics::default()),
                    None => quote!(_),
                };
                quote! {
                    if !#p::Serde::is_null(&k) {
                        if let ::core::option::Option::Some(key) = #p::ser(&k, &mut self.cx.key_buf, #name, #p::RecordPart::Key)? {
                            let o: ::core::option::Option<#inner> = #p::store_get::<#inner>(&self.cx.stores, #j, #store, key)?.map(|(x, _)| x);
                            let value = #p::ser(&v, &mut self.cx.value_buf, #name, #p::RecordPart::Value)?;
                            #p::store_put(&mut self.cx.stores, #j, #store, key, ctx.timestamp, value, &mut self.cx.store_buf)?;
                            #log
                            #kids
                        }
                    } else {
                        self.cx.dropped += 1;
                    }
                }
            }
            // As Kafka Streams' KTableSource: a null key cannot be a table key.
            None => {
                quote! { if !#p::Serde::is_null(&k) { #kids } else { self.cx.dropped += 1; } }
            }
        }
    }

    /// `f(true)` (through the record cache) when the cache is enabled at
    /// run time, else `f(false)` (straight to the store, forwarding every
    /// update: Kafka Streams without its caching layer), for a node whose
    /// store is cached; `f(false)` alone otherwise. Sliding windows always
    /// take the cache path (it writes through when disabled).
    fn both(&self, node: NodeId, f: impl Fn(bool) -> TokenStream) -> TokenStream {
        let cached = self.plan.store_of(node).is_some_and(|st| st.cached);
        if !cached {
            return f(false);
        }
        if self.is_sliding(node) || self.is_session(node) {
            return f(true);
        }
        let (on, off) = (f(true), f(false));
        quote! {
            if self.cx.cache.is_enabled() { #on } else { #off }
        }
    }

    /// For an aggregation whose store is cached, on its uncached path: an
    /// absent old value for a table filter downstream (which forwards every
    /// update when the cache is disabled, so it does not look at it).
    fn no_old_value(&self, node: NodeId, agg_ty: &TokenStream) -> TokenStream {
        let filter_child = self.children_in_sub(node).iter().any(|&c| {
            matches!(self.graph.nodes[c].kind, NodeKind::TableFilter { .. })
                && self.cached_aggregate_parent(c)
        });
        if filter_child {
            quote!(let o: ::core::option::Option<#agg_ty> = ::core::option::Option::None;)
        } else {
            quote!()
        }
    }

    /// The processor nodes' fields, their `Clone` values, the stores each
    /// is connected to (constants), and the `SubTopology` methods that run
    /// their time and punctuations.
    fn processor_parts(
        &self,
        pnodes: &[NodeId],
        enodes: &[NodeId],
    ) -> (TokenStream, TokenStream, TokenStream, TokenStream) {
        let p = &self.p;
        if pnodes.is_empty() && enodes.is_empty() {
            return (quote!(), quote!(), quote!(), quote!());
        }
        let mut fields = quote!();
        let mut clones = quote!();
        let mut consts = quote!();
        for &n in pnodes {
            let (pr, fw, sch) = processor_fields(n);
            let i = format_ident!("__WeirI{}", n);
            let (k, v) = self.output_types(n, &mut Generics::default());
            fields.extend(quote! {
                #pr: ::core::option::Option<#i>,
                #fw: ::std::vec::Vec<(#k, #v, i64)>,
                #sch: #p::Schedules,
            });
            clones.extend(quote! {
                #pr: ::core::option::Option::None,
                #fw: ::std::vec::Vec::new(),
                #sch: ::core::default::Default::default(),
            });
            let connected = format_ident!("__WEIR_CONNECTED_{}", n);
            let NodeKind::Process { stores, .. } = &self.graph.nodes[n].kind else {
                continue;
            };
            let entries = stores.iter().filter_map(|name| {
                let st = self.plan.stores.iter().find(|s| s.name == name.value())?;
                let (index, changelog) = (st.index_in_sub, st.changelog);
                Some(quote!((#name, #index, #changelog)))
            });
            consts.extend(quote! {
                #[allow(non_upper_case_globals)]
                const #connected: &[#p::ConnectedStore] = &[#(#entries),*];
            });
        }
        // Final-result aggregations: the close time of their last emission
        // and the wall-clock time of their next look.
        for &n in enodes {
            let (last, next) = (format_ident!("le{}", n), format_ident!("ne{}", n));
            fields.extend(quote!(#last: i64, #next: i64,));
            clones.extend(quote!(#last: -1, #next: 0,));
        }
        let ensures = pnodes
            .iter()
            .map(|n| format_ident!("ensure_processor{}", n));
        let punctuates = pnodes
            .iter()
            .map(|n| format_ident!("punctuate_processor{}", n));
        let methods = quote! {
            fn start(&mut self) {
                #(self.#ensures();)*
            }
            fn punctuate<__C: #p::RecordCollector>(&mut self, kind: #p::PunctuationType, out: &mut __C) -> ::core::result::Result<(), #p::ProcessError> {
                let now = match kind {
                    #p::PunctuationType::StreamTime => self.cx.stream_ms,
                    #p::PunctuationType::WallClockTime => self.cx.wall_ms,
                };
                if now < 0 {
                    return ::core::result::Result::Ok(());
                }
                #(self.#punctuates(kind, now, out)?;)*
                ::core::result::Result::Ok(())
            }
        };
        (fields, clones, consts, methods)
    }

    /// A processor node's fields in the topology's constructor.
    fn processor_init(&self, nodes: &[NodeId]) -> TokenStream {
        let pnodes: Vec<NodeId> = nodes
            .iter()
            .copied()
            .filter(|&n| matches!(self.graph.nodes[n].kind, NodeKind::Process { .. }))
            .collect();
        let enodes = final_result_nodes(self.graph, nodes);
        if pnodes.is_empty() && enodes.is_empty() {
            return quote!();
        }
        let mut init = quote!();
        for &n in &enodes {
            let (last, next) = (format_ident!("le{}", n), format_ident!("ne{}", n));
            init.extend(quote!(#last: -1, #next: 0,));
        }
        for &n in &pnodes {
            let (pr, fw, sch) = processor_fields(n);
            init.extend(quote! {
                #pr: ::core::option::Option::None,
                #fw: ::std::vec::Vec::new(),
                #sch: ::core::default::Default::default(),
            });
        }
        init
    }

    /// A processor node's inherent methods: making and initialising its
    /// instance, and running its due punctuations.
    fn processor_methods(&self, node: NodeId) -> TokenStream {
        let p = &self.p;
        let (pr, fw, sch) = processor_fields(node);
        let f = field((node, 'f'));
        let connected = format_ident!("__WEIR_CONNECTED_{}", node);
        let ensure = format_ident!("ensure_processor{}", node);
        let punctuate = format_ident!("punctuate_processor{}", node);
        let kids = self.children(node);
        let fixed_key = matches!(
            self.graph.nodes[node].kind,
            NodeKind::Process {
                fixed_key: true,
                ..
            }
        );
        let (init, punctuate_call) = if fixed_key {
            (
                quote!(#p::FixedKeyProcessor::init(&mut processor, &mut #p::FixedKeyProcessorContext::wrap(pctx));),
                quote!(#p::FixedKeyProcessor::punctuate(processor, punctuation, &mut #p::FixedKeyProcessorContext::wrap(pctx))?;),
            )
        } else {
            (
                quote!(#p::Processor::init(&mut processor, &mut pctx);),
                quote!(#p::Processor::punctuate(processor, punctuation, &mut pctx)?;),
            )
        };
        quote! {
            fn #ensure(&mut self) {
                if self.#pr.is_none() {
                    let mut processor = (self.#f)();
                    let mut forwarded = ::std::vec::Vec::new();
                    {
                        let current = #p::Current { timestamp: self.cx.stream_ms, topic: "", partition: -1, offset: -1 };
                        let mut pctx = #p::ProcessorContext::new(&mut forwarded, &mut self.cx.stores, #connected, &mut self.cx.changes, &mut self.#sch, current, self.cx.stream_ms, self.cx.wall_ms);
                        #init
                    }
                    self.#pr = ::core::option::Option::Some(processor);
                }
            }
            fn #punctuate<__C: #p::RecordCollector>(&mut self, kind: #p::PunctuationType, now: i64, out: &mut __C) -> ::core::result::Result<(), #p::ProcessError> {
                self.#ensure();
                while let ::core::option::Option::Some(punctuation) = self.#sch.next_due(kind, now) {
                    let mut forwarded = ::core::mem::take(&mut self.#fw);
                    if let ::core::option::Option::Some(processor) = self.#pr.as_mut() {
                        let current = #p::Current { timestamp: now, topic: "", partition: -1, offset: -1 };
                        let mut pctx = #p::ProcessorContext::new(&mut forwarded, &mut self.cx.stores, #connected, &mut self.cx.changes, &mut self.#sch, current, self.cx.stream_ms, self.cx.wall_ms);
                        #punctuate_call
                    }
                    // Kafka Streams' punctuation context: no topic, partition
                    // or offset, no headers, the punctuation's time.
                    let punctuation_ctx = #p::RecordContext { topic: "", partition: -1, offset: -1, timestamp: now, headers: &#p::NO_HEADERS };
                    let ctx = &punctuation_ctx;
                    #p::send_changes(&mut self.cx.changes, ctx, out)?;
                    for (k, v, ts) in forwarded.drain(..) {
                        let forwarded_ctx = #p::RecordContext { timestamp: ts, ..*ctx };
                        let ctx = &forwarded_ctx;
                        #kids
                    }
                    self.#fw = forwarded;
                }
                ::core::result::Result::Ok(())
            }
        }
    }

    /// Whether `node` emits final results only (`on_window_close`).
    fn emits_final(&self, node: NodeId) -> bool {
        matches!(
            self.graph.nodes[node].kind,
            NodeKind::Aggregate {
                emit_final: true,
                ..
            }
        )
    }

    /// Whether `node` aggregates over `SlidingWindows`.
    fn is_sliding(&self, node: NodeId) -> bool {
        matches!(
            &self.graph.nodes[node].kind,
            NodeKind::Aggregate { windows: Some(w), .. } if crate::graph::is_sliding(w)
        )
    }

    /// Whether `node` aggregates over `SessionWindows`.
    fn is_session(&self, node: NodeId) -> bool {
        matches!(
            &self.graph.nodes[node].kind,
            NodeKind::Aggregate { windows: Some(w), .. } if crate::graph::is_session(w)
        )
    }

    /// The type of `node`'s windows value.
    fn windows_type(&self, node: NodeId) -> TokenStream {
        let p = &self.p;
        if self.is_sliding(node) {
            quote!(#p::SlidingWindows)
        } else if self.is_session(node) {
            quote!(#p::SessionWindows)
        } else {
            quote!(#p::TimeWindows)
        }
    }

    /// A session-window aggregation, as Kafka Streams'
    /// `KStreamSessionWindowAggregate`: records with a null key are dropped;
    /// the key's sessions within the gap of the record (through the cache)
    /// are merged with the record's own `[t, t]`; if the merged session has
    /// not closed, the sessions it swallowed are removed (a tombstone each)
    /// and the merged aggregate, with the record added, is written. Results
    /// are forwarded with the session's end as timestamp.
    fn session_aggregate(&self, node: NodeId, op: &AggOp, st: &crate::plan::Store) -> TokenStream {
        let p = &self.p;
        let (j, store) = (st.index_in_sub, &st.name);
        let name = &self.graph.nodes[node].name;
        let (w, t) = (format_ident!("w{}", node), format_ident!("t{}", node));
        let x = format_ident!("x{}", node);
        let agg_var = self.plan.types.node[node].1;
        let agg_ty = match self.plan.types.optional_inner(agg_var) {
            Some(i) => self.ty(i, &mut Generics::default()),
            None => self.output_types(node, &mut Generics::default()).1,
        };
        let (f, g, h) = (field((node, 'f')), field((node, 'g')), field((node, 'h')));
        // The initial aggregate, merging another session's into it, and
        // adding the record (Kafka Streams' count, reduce and aggregate
        // over sessions, with their implicit mergers).
        let (agg_decl, merge, add) = match op {
            AggOp::Count => (
                quote!(let mut agg: #agg_ty = 0;),
                quote!(agg += other;),
                quote!(let agg = agg + 1;),
            ),
            AggOp::Reduce { .. } => (
                quote!(let mut agg: ::core::option::Option<#agg_ty> = ::core::option::Option::None;),
                quote! {
                    agg = ::core::option::Option::Some(match agg {
                        ::core::option::Option::None => other,
                        ::core::option::Option::Some(a) => (self.#f)(a, other),
                    });
                },
                quote! {
                    let agg = match agg {
                        ::core::option::Option::None => v,
                        ::core::option::Option::Some(a) => (self.#f)(a, v),
                    };
                },
            ),
            _ => (
                quote!(let mut agg: #agg_ty = (self.#g)();),
                quote!(agg = (self.#h)(&k, agg, other);),
                quote!(let agg = (self.#f)(&k, v, agg);),
            ),
        };
        let flush = flush_method(st.node);
        // Final results only: sessions are written through to the store (the
        // flush forwards nothing, see `flush_store`) and the closed ones read
        // back after each record.
        let (put, put_args, final_results) = if self.emits_final(node) {
            (
                quote!(#p::session_written_through),
                quote!(&mut self.cx.cache,),
                self.final_results(node, st),
            )
        } else {
            (
                quote!(#p::session_put),
                quote!(&mut self.cx.cache, #store,),
                quote!(),
            )
        };
        quote! {
            if !#p::Serde::is_null(&k) {
                let ts = ctx.timestamp;
                self.#t = self.#t.max(ts);
                let windows = self.#w;
                let close_time = windows.close_time(self.#t);
                let mut key_buf = ::core::mem::take(&mut self.cx.key_buf);
                let mut session = ::core::mem::take(&mut self.cx.changelog_buf);
                if let ::core::option::Option::Some(key) = #p::ser(&k, &mut key_buf, #name, #p::RecordPart::Key)? {
                    let found = #p::find_sessions(
                        &mut self.cx.cache, &self.cx.stores, #j, #store, key,
                        ts.saturating_sub(windows.gap_ms()), ts.saturating_add(windows.gap_ms()),
                        self.#t.saturating_sub(windows.retention_ms()).saturating_add(1),
                    )?;
                    let own = #p::Window { start: ts, end: ts };
                    let mut merged = own;
                    #agg_decl
                    for (window, bytes) in &found {
                        let other: #agg_ty = #p::decode_flushed(#store, ::core::option::Option::Some(bytes))?;
                        #merge
                        merged = #p::Window { start: merged.start.min(window.start), end: merged.end.max(window.end) };
                    }
                    if merged.end < close_time {
                        #p::late_record(#name, ctx, merged);
                        self.cx.dropped += 1;
                    } else {
                        if merged != own {
                            for (window, _) in &found {
                                #p::session_key(key, *window, &mut session);
                                let entries = #put(#put_args &session, ::core::option::Option::None, ctx);
                                self.#flush(entries, out)?;
                            }
                        }
                        #add
                        let value = #p::ser(&agg, &mut self.cx.value_buf, #name, #p::RecordPart::Value)?;
                        #p::session_key(key, merged, &mut session);
                        let entries = #put(#put_args &session, value, ctx);
                        self.#flush(entries, out)?;
                    }
                }
                self.cx.key_buf = key_buf;
                self.cx.changelog_buf = session;
                #final_results
                // Once per retention period of stream time, expired
                // sessions leave the store (Kafka Streams drops segments).
                let retention = windows.retention_ms();
                if self.#t >= self.#x.saturating_add(retention) {
                    #p::drop_expired_sessions(&mut self.cx.stores, #j, #store, self.#t.saturating_sub(retention).saturating_add(1))?;
                    self.#x = self.#t;
                }
            } else {
                self.cx.dropped += 1;
            }
        }
    }

    /// A sliding-window aggregation, as Kafka Streams'
    /// `KStreamSlidingWindowAggregate`: records with a null key or value
    /// are dropped, and so are records too late for any window; the runtime
    /// works out which windows the record updates or creates (from the
    /// key's windows around it, through the cache); each update is
    /// aggregated here and written through the cache.
    fn sliding_aggregate(&self, node: NodeId, op: &AggOp, st: &crate::plan::Store) -> TokenStream {
        let p = &self.p;
        let (j, store) = (st.index_in_sub, &st.name);
        let name = &self.graph.nodes[node].name;
        let (w, t) = (format_ident!("w{}", node), format_ident!("t{}", node));
        let (_, agg_ty) = self.output_types(node, &mut Generics::default());
        let update = self.update(node, op, &agg_ty);
        let flush = flush_method(st.node);
        // Final results only: every step is written through (no forwarding
        // from the flush, see `flush_store`), then the windows that closed
        // are read back from the store. As Kafka Streams, not after a record
        // earlier than the time difference (its `processEarly` path).
        let (put, cache_arg, final_results) = if self.emits_final(node) {
            let emit = self.final_results(node, st);
            (
                quote!(#p::written_through),
                quote!(&mut self.cx.cache,),
                quote! {
                    if ctx.timestamp >= windows.difference_ms() {
                        #emit
                    }
                },
            )
        } else {
            (
                quote!(#p::cached_put),
                quote!(&mut self.cx.cache, #store,),
                quote!(),
            )
        };
        quote! {
            if !#p::Serde::is_null(&k) && !#p::Serde::is_null(&v) {
                self.#t = self.#t.max(ctx.timestamp);
                let close_time = self.#t.saturating_sub(self.#w.grace_ms());
                let windows = self.#w;
                if windows.too_late(ctx.timestamp, close_time) {
                    #p::late_record(#name, ctx, windows.window_at(ctx.timestamp));
                    self.cx.dropped += 1;
                } else {
                    let mut key_buf = ::core::mem::take(&mut self.cx.key_buf);
                    let mut cache_key = ::core::mem::take(&mut self.cx.changelog_buf);
                    if let ::core::option::Option::Some(key) = #p::ser(&k, &mut key_buf, #name, #p::RecordPart::Key)? {
                        let existing = #p::sliding_fetch(&mut self.cx.cache, &self.cx.stores, #j, #store, key, windows.fetch_range(ctx.timestamp))?;
                        for step in windows.steps(&existing, ctx.timestamp, close_time, &mut self.cx.dropped) {
                            let entries = match step {
                                #p::SlidingStep::Aggregate { window, base } => {
                                    let old: ::core::option::Option<(#agg_ty, i64)> = match base {
                                        ::core::option::Option::Some((bytes, ts)) => ::core::option::Option::Some((#p::decode_flushed(#store, ::core::option::Option::Some(bytes))?, ts)),
                                        ::core::option::Option::None => ::core::option::Option::None,
                                    };
                                    let v = ::core::clone::Clone::clone(&v);
                                    #update
                                    let ts = ts.max(ctx.timestamp);
                                    let value_bytes = #p::ser(&agg, &mut self.cx.value_buf, #name, #p::RecordPart::Value)?;
                                    #p::window_changelog_key(key, window.start, &mut cache_key);
                                    #put(#cache_arg &cache_key, ts, value_bytes, ctx)
                                }
                                #p::SlidingStep::Copy { window, value, timestamp } => {
                                    #p::window_changelog_key(key, window.start, &mut cache_key);
                                    #put(#cache_arg &cache_key, timestamp, ::core::option::Option::Some(value), ctx)
                                }
                            };
                            self.#flush(entries, out)?;
                        }
                    }
                    self.cx.key_buf = key_buf;
                    self.cx.changelog_buf = cache_key;
                    #final_results
                }
            } else {
                self.cx.dropped += 1;
            }
        }
    }

    /// `suppress`, as Kafka Streams' `KTableSuppressProcessor`: the update is
    /// buffered (latest per key, at its first buffer time: the window end,
    /// or the record time for a time limit), then every entry whose time is
    /// at or before stream time minus the grace (or the limit) is released
    /// in (time, key) order, then the oldest while the buffer is over its bound.
    fn suppress(&self, node: NodeId, window_node: Option<NodeId>) -> TokenStream {
        let p = &self.p;
        let name = &self.graph.nodes[node].name;
        let (sup, buf) = (format_ident!("sup{}", node), format_ident!("buf{}", node));
        let (time, duration) = match window_node {
            Some(w) => {
                let w = format_ident!("w{}", w);
                (quote!(k.window.end), quote!(self.#w.grace_ms()))
            }
            None => (
                quote!(ctx.timestamp),
                quote!(match self.#sup.suppression { #p::Suppression::UntilTimeLimit(ms) => ms, _ => 0 }),
            ),
        };
        let kids = self.children(node);
        let loaded = format_ident!("loaded{}", node);
        let Some(st) = self.plan.store_of(node) else {
            return quote!();
        };
        let (j, changelog, store) = (st.index_in_sub, st.changelog, &st.name);
        quote! {
            if !self.#loaded {
                // After a restart, the buffer comes back from its store.
                #p::restore_buffer(&self.cx.stores, #j, #store, &mut self.#buf)?;
                self.#loaded = true;
            }
            let stream_time = self.#buf.observe(ctx.timestamp);
            let bound = stream_time.saturating_sub(#duration);
            let time = #time;
            if let ::core::option::Option::Some(key) = #p::ser(&k, &mut self.cx.key_buf, #name, #p::RecordPart::Key)? {
                let value = #p::ser(&v, &mut self.cx.value_buf, #name, #p::RecordPart::Value)?;
                let time = self.#buf.put(time, key, k, v, ctx);
                #p::log_buffered(&mut self.cx.stores, #j, #store, #changelog, key, time, value, ctx, &mut self.cx.store_buf, out)?;
            }
            loop {
                let entry = match self.#buf.pop_due(bound) {
                    ::core::option::Option::Some(e) => e,
                    ::core::option::Option::None if self.#buf.over(&self.#sup.buffer) => {
                        #p::when_full(&self.#sup, #name)?;
                        match self.#buf.pop_oldest() {
                            ::core::option::Option::Some(e) => e,
                            ::core::option::Option::None => break,
                        }
                    }
                    ::core::option::Option::None => break,
                };
                let #p::Buffered { key: k, value: v, timestamp, headers, topic, partition, offset } = entry;
                let released = #p::RecordContext { topic: &topic, partition, offset, timestamp, headers: &headers };
                let ctx = &released;
                if let ::core::option::Option::Some(key) = #p::ser(&k, &mut self.cx.key_buf, #name, #p::RecordPart::Key)? {
                    #p::unlog_buffered(&mut self.cx.stores, #j, #store, #changelog, key, ctx, out)?;
                }
                #kids
            }
        }
    }

    /// The flush method of a cached store (see [`flush_method`]): Kafka
    /// Streams' caching store with its flush listener. Each entry is written
    /// to the store (a delete of an absent key is skipped), logged to the
    /// changelog, decoded and forwarded with the context of the write that
    /// produced it and the stored timestamp.
    fn flush_store(&self, st: &crate::plan::Store) -> TokenStream {
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
        let body = if st.session {
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
        } else if st.windowed {
            let (inner_k, _) = self.input_types(node, &mut Generics::default());
            let w = format_ident!("w{}", node);
            quote! {
                let ::core::option::Option::Some((key, start)) = #p::write_flushed_window(&mut self.cx.stores, #j, #store, &entry, disabled)? else { continue };
                #log
                let k: #k = #p::Windowed { key: #p::decode_flushed::<#inner_k>(#store, ::core::option::Option::Some(key))?, window: self.#w.window_at(start) };
                let v: #v = #p::decode_flushed(#store, flushed.value)?;
                #kids
            }
        } else if matches!(self.graph.nodes[node].kind, NodeKind::TableSource { .. }) {
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
                    NodeKind::TableFilter { .. } | NodeKind::TableGroupBy { .. }
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
    fn retention(&self, sub: usize, on_self: bool) -> TokenStream {
        let pairs = self
            .plan
            .stores
            .iter()
            .filter(|st| (st.windowed || st.session) && st.sub == sub)
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

    fn sub(&self, sub: usize) -> (TokenStream, Generics) {
        let p = &self.p;
        let g = self.generics(sub);
        let s = &self.plan.subs[sub];
        let name = format_ident!("__WeirSub{}", sub);
        let params = g.params();
        let phantom = g.phantom();
        let fields: Vec<_> = g.closures.iter().map(|&c| field(c)).collect();
        let fty: Vec<_> = g.closures.iter().map(|&c| generic(c)).collect();
        let wnodes = self.window_nodes(sub);
        let wfields: Vec<_> = wnodes.iter().map(|n| format_ident!("w{}", n)).collect();
        let wtypes: Vec<_> = wnodes.iter().map(|&n| self.windows_type(n)).collect();
        let tfields: Vec<_> = wnodes.iter().map(|n| format_ident!("t{}", n)).collect();
        // Stream time of the last expired-session cleanup, per session node.
        let xfields: Vec<_> = wnodes
            .iter()
            .filter(|&&n| self.is_session(n))
            .map(|n| format_ident!("x{}", n))
            .collect();
        let snodes = suppress_nodes(self.graph, &s.nodes);
        let supfields: Vec<_> = snodes.iter().map(|n| format_ident!("sup{}", n)).collect();
        let buffields: Vec<_> = snodes.iter().map(|n| format_ident!("buf{}", n)).collect();
        let loadfields: Vec<_> = snodes
            .iter()
            .map(|n| format_ident!("loaded{}", n))
            .collect();
        let buftypes: Vec<_> = snodes
            .iter()
            .map(|&n| {
                let (k, v) = self.output_types(n, &mut Generics::default());
                quote!(#p::SuppressBuffer<#k, #v>)
            })
            .collect();
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
                NodeKind::Repartition { changes: true, .. }
            );
            let kids = match entry {
                Entry::Source(n) => {
                    let kids = self.children(*n);
                    match &self.graph.nodes[*n].kind {
                        NodeKind::Source {
                            extractor: Some(_), ..
                        } => {
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
        let merges: Vec<TokenStream> = s
            .nodes
            .iter()
            .filter(|&&n| matches!(self.graph.nodes[n].kind, NodeKind::Merge))
            .map(|&n| {
                let m = format_ident!("node{}", n);
                let (k, v) = self.output_types(n, &mut Generics::default());
                let kids = self.children(n);
                quote! {
                    #[inline]
                    fn #m<__C: #p::RecordCollector>(&mut self, k: #k, v: #v, ctx: &#p::RecordContext<'_>, out: &mut __C) -> ::core::result::Result<(), #p::ProcessError> {
                        #kids
                        ::core::result::Result::Ok(())
                    }
                }
            })
            .collect();
        let cached: Vec<&crate::plan::Store> = self
            .plan
            .stores
            .iter()
            .filter(|st| st.sub == sub && st.cached)
            .collect();
        let mut merges = merges;
        merges.extend(cached.iter().map(|st| self.flush_store(st)));
        let pnodes: Vec<NodeId> = s
            .nodes
            .iter()
            .copied()
            .filter(|&n| matches!(self.graph.nodes[n].kind, NodeKind::Process { .. }))
            .collect();
        merges.extend(pnodes.iter().map(|&n| self.processor_methods(n)));
        let enodes = final_result_nodes(self.graph, &s.nodes);
        let (proc_fields, proc_clone, proc_consts, proc_methods) =
            self.processor_parts(&pnodes, &enodes);
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
        let merge_impl = if merges.is_empty() {
            quote!()
        } else {
            quote! {
                #[allow(unused_variables, unused_mut, clippy::all)]
                impl<#(#params),*> #name<#(#params),*> where #(#bounds),* { #(#merges)* }
            }
        };
        let tokens = quote! {
            #proc_consts
            #[allow(non_camel_case_types)]
            struct #name<#(#params),*> {
                #(#fields: #fty,)*
                cx: #p::TaskContext,
                #proc_fields
                #(#wfields: #wtypes,)*
                #(#tfields: i64,)*
                #(#xfields: i64,)*
                #(#supfields: #p::Suppressed,)*
                #(#buffields: #buftypes,)*
                #(#loadfields: bool,)*
                types: #p::PhantomData<fn() -> (#(#phantom,)*)>,
            }
            impl<#(#params),*> ::core::clone::Clone for #name<#(#params),*> where #(#fty: ::core::clone::Clone),* {
                fn clone(&self) -> Self {
                    #name {
                        #(#fields: ::core::clone::Clone::clone(&self.#fields),)*
                        cx: ::core::clone::Clone::clone(&self.cx),
                        #proc_clone
                        #(#wfields: self.#wfields,)*
                        #(#tfields: -1,)*
                        #(#xfields: -1,)*
                        #(#supfields: self.#supfields,)*
                        #(#buffields: ::core::default::Default::default(),)*
                        #(#loadfields: false,)*
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
                #proc_methods
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
        let wnodes = window_nodes(graph, &s.nodes);
        let wfields: Vec<_> = wnodes.iter().map(|n| format_ident!("w{}", n)).collect();
        let tfields: Vec<_> = wnodes.iter().map(|n| format_ident!("t{}", n)).collect();
        // Stream time of the last expired-session cleanup, per session node.
        let xfields: Vec<_> = wnodes
            .iter()
            .filter(|&&n| e.is_session(n))
            .map(|n| format_ident!("x{}", n))
            .collect();
        let snodes = suppress_nodes(graph, &s.nodes);
        let supfields: Vec<_> = snodes.iter().map(|n| format_ident!("sup{}", n)).collect();
        let buffields: Vec<_> = snodes.iter().map(|n| format_ident!("buf{}", n)).collect();
        let loadfields: Vec<_> = snodes
            .iter()
            .map(|n| format_ident!("loaded{}", n))
            .collect();
        let retention = e.retention(s.id, false);
        let proc_init = e.processor_init(&s.nodes);
        sub_inits.push(quote! {
            #name {
                #(#fields,)*
                cx: #p::TaskContext::new(#retention),
                #proc_init
                #(#wfields,)*
                #(#tfields: -1,)*
                #(#xfields: -1,)*
                #(#supfields,)*
                #(#buffields: ::core::default::Default::default(),)*
                #(#loadfields: false,)*
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
            closures_of(&n.kind)
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
        match &n.kind {
            NodeKind::Aggregate {
                windows: Some(w), ..
            } => {
                args.push(format_ident!("w{}", n.id));
                arg_tys.push(if crate::graph::is_sliding(w) {
                    quote!(#p::SlidingWindows)
                } else if crate::graph::is_session(w) {
                    quote!(#p::SessionWindows)
                } else {
                    quote!(#p::TimeWindows)
                });
                arg_exprs.push(w);
            }
            NodeKind::Suppress { config, .. } => {
                args.push(format_ident!("sup{}", n.id));
                arg_tys.push(quote!(#p::Suppressed));
                arg_exprs.push(config);
            }
            _ => {}
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
            let NodeKind::Source { key, value, .. } = &graph.nodes[*source].kind else {
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

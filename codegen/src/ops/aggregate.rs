//! Aggregations of grouped streams and tables: `count`, `reduce`, `aggregate`.

use crate::ctxt::Errors;
use crate::emit::*;
use crate::graph::builder::{Args, Builder, Grouping, Options, Value};
use crate::graph::syntax::*;
use crate::graph::Node;
use crate::graph::{Graph, NodeId, NodeKind};
use crate::ops::dsl::{OpSpec, Shape, NAMED, STORE};
use crate::ops::{self, *};
use crate::parse::chain_of;
use crate::plan::Types;
use crate::plan::{StoreKind, StoreUse};
use proc_macro2::Span;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::LitStr;

use super::Operator;
use syn::Expr;

/// `count`, `reduce` or `aggregate` of a grouped stream, into a store.
#[derive(Clone)]
pub struct Aggregate {
    /// Which aggregation.
    pub op: AggOp,
    /// The key-value store holding the aggregates.
    pub store: String,
    /// `in_memory()` instead of RocksDB.
    pub in_memory: bool,
    /// Behind the record cache (Kafka Streams' default); off with
    /// `with_caching_disabled()`.
    pub cached: bool,
    /// `windowed_by(..)`: the `TimeWindows` expression (evaluated when the
    /// topology is constructed); the store is then a window store.
    pub windows: Option<Expr>,
    /// `emit_strategy(EmitStrategy::on_window_close())`: only final
    /// results, emitted as windows close.
    pub emit_final: bool,
}

/// A stream aggregation.
#[derive(Clone)]
pub enum AggOp {
    /// `count()`.
    Count,
    /// `reduce(reducer)`.
    Reduce {
        /// `|aggregate, value| new_aggregate`.
        f: Expr,
    },
    /// `aggregate(initializer, aggregator)`, and for session windows a
    /// merger: `aggregate(initializer, aggregator, merger)`.
    Aggregate {
        /// `|| initial`.
        init: Expr,
        /// `|key, value, aggregate| new_aggregate`.
        f: Expr,
        /// `|key, aggregate, other| merged` (session windows only).
        merger: Option<Expr>,
    },
    /// `count()` of a grouped table: adds one, subtracts one.
    TableCount,
    /// `reduce(adder, subtractor)` of a grouped table.
    TableReduce {
        /// `|aggregate, value| ..`, applied to new values.
        add: Expr,
        /// `|aggregate, value| ..`, applied to old values.
        sub: Expr,
    },
    /// `aggregate(init, adder, subtractor)` of a grouped table.
    TableAggregate {
        /// `|| initial`.
        init: Expr,
        /// `|key, value, aggregate| ..`, applied to new values.
        add: Expr,
        /// `|key, value, aggregate| ..`, applied to old values.
        sub: Expr,
    },
    /// One input of a `cogroup(..).aggregate(init)`: all inputs share the
    /// store and the initializer of the first (the owner).
    Cogroup {
        /// This input's `|key, value, aggregate| new_aggregate`.
        f: Expr,
        /// The initializer, on the owner only.
        init: Option<Expr>,
        /// The first input's aggregation node (owns store and initializer).
        owner: NodeId,
    },
}

impl Operator for Aggregate {
    fn closures(&self) -> Vec<(char, &Expr)> {
        match &self.op {
            AggOp::Count | AggOp::TableCount => Vec::new(),
            AggOp::Reduce { f } => vec![('f', f)],
            AggOp::Aggregate { init, f, merger } => {
                let mut closures = vec![('g', init), ('f', f)];
                closures.extend(merger.iter().map(|m| ('h', m)));
                closures
            }
            AggOp::TableReduce { add, sub } => vec![('f', add), ('h', sub)],
            AggOp::TableAggregate { init, add, sub } => vec![('g', init), ('f', add), ('h', sub)],
            AggOp::Cogroup { f, init, .. } => match init {
                Some(init) => vec![('g', init), ('f', f)],
                None => vec![('f', f)],
            },
        }
    }

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let (op, store) = (&self.op, &self.store);
        match (op, &self.windows) {
            (AggOp::TableCount | AggOp::TableReduce { .. } | AggOp::TableAggregate { .. }, _) => {
                e.both(node, |cached| e.table_aggregate(node, op, store, cached))
            }
            (_, None) => e.both(node, |cached| e.aggregate(node, op, store, cached)),
            (_, Some(_)) => e.both(node, |cached| e.windowed_aggregate(node, op, store, cached)),
        }
    }

    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let ops::Aggregate { op, windows, .. } = self;
        let Io {
            ik, iv, ov, span, ..
        } = t;
        let span = *span;
        serde_bounds(g, span, ik.clone(), iv.clone());
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
        let inner = |g: &mut Generics, var: usize, fallback: &TokenStream| match e
            .plan
            .types
            .optional_inner(var)
        {
            Some(i) => e.ty(i, g),
            None => fallback.clone(),
        };
        let in_inner = inner(g, e.table_input_var(id).1, iv);
        let out_inner = inner(g, e.plan.types.node[id].1, ov);
        if matches!(
            op,
            AggOp::TableCount | AggOp::TableReduce { .. } | AggOp::TableAggregate { .. }
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
                Some(quote_spanned!(span=> FnMut(&#ik, #in_inner, #out_inner) -> #out_inner))
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
                    g.bounds
                        .push(closure_bound((id, 'g'), quote!(FnMut() -> #ov), span));
                }
                Some(quote_spanned!(span=> FnMut(&#ik, #iv, #ov) -> #ov))
            }
        }
    }

    /// Its windows: a value of the topology's constructor.
    fn values(&self, id: NodeId, p: &TokenStream) -> Vec<(syn::Ident, TokenStream, &Expr)> {
        let Some(w) = &self.windows else {
            return Vec::new();
        };
        vec![(format_ident!("w{}", id), windows_type(w, p), w)]
    }

    fn fields(&self, e: &Emitter<'_>, id: NodeId) -> Vec<Field> {
        let mut fields = Vec::new();
        if let Some(w) = &self.windows {
            // The windows, the stream time, and for sessions the stream
            // time of the last expired-session cleanup.
            let wf = format_ident!("w{}", id);
            fields.push(Field::value(
                wf.clone(),
                windows_type(w, &e.p),
                quote!(self.#wf),
            ));
            fields.push(Field::new(
                format_ident!("t{}", id),
                quote!(i64),
                quote!(-1),
            ));
            if crate::graph::is_session(w) {
                fields.push(Field::new(
                    format_ident!("x{}", id),
                    quote!(i64),
                    quote!(-1),
                ));
            }
        }
        if self.emit_final {
            // Final results: the close time of their last emission and the
            // wall-clock time of their next look.
            fields.push(Field::new(
                format_ident!("le{}", id),
                quote!(i64),
                quote!(-1),
            ));
            fields.push(Field::new(
                format_ident!("ne{}", id),
                quote!(i64),
                quote!(0),
            ));
        }
        fields
    }

    fn clocked(&self) -> bool {
        self.emit_final
    }

    fn types(
        &self,
        t: &mut Types,
        _node: &Node,
        _graph: &Graph,
        (k, v): (usize, usize),
        _errors: &mut Errors,
    ) -> (usize, usize) {
        let windowed_key = |t: &mut Types| match &self.windows {
            Some(_) => t.fresh_windowed(k),
            None => k,
        };
        match (&self.op, &self.windows) {
            // Session windows: merged sessions are deleted, so the result
            // table's values are nullable.
            (op, Some(w)) if crate::graph::is_session(w) => {
                let inner = match op {
                    AggOp::Count => t.fresh(Some(syn::parse_quote!(i64))),
                    AggOp::Reduce { .. } => v,
                    _ => t.fresh(None),
                };
                (t.fresh_windowed(k), t.fresh_optional(inner))
            }
            (AggOp::Count, _) => (windowed_key(t), t.fresh(Some(syn::parse_quote!(i64)))),
            (AggOp::Aggregate { .. }, _) => (windowed_key(t), t.fresh(None)),
            (AggOp::Cogroup { .. }, _) => (k, t.fresh(None)),
            (AggOp::TableCount, _) => {
                let n = t.fresh(Some(syn::parse_quote!(i64)));
                (k, t.fresh_optional(n))
            }
            (AggOp::TableReduce { .. }, _) => (k, v),
            (AggOp::TableAggregate { .. }, _) => {
                let a = t.fresh(None);
                (k, t.fresh_optional(a))
            }
            (AggOp::Reduce { .. }, Some(_)) => (t.fresh_windowed(k), v),
            (AggOp::Reduce { .. }, None) => (k, v),
        }
    }

    fn dsl_name(&self) -> &'static str {
        match self.op {
            AggOp::Count | AggOp::TableCount => "count",
            AggOp::Reduce { .. } | AggOp::TableReduce { .. } => "reduce",
            AggOp::Aggregate { .. } | AggOp::Cogroup { .. } | AggOp::TableAggregate { .. } => {
                "aggregate"
            }
        }
    }

    fn key(&self) -> KeyEffect {
        KeyEffect::Fixed
    }

    /// A cogroup input's owner.
    fn remap(&mut self, map: &dyn Fn(NodeId) -> NodeId) {
        if let AggOp::Cogroup { owner, .. } = &mut self.op {
            *owner = map(*owner);
        }
    }

    fn stores(&self, node: &Node, _graph: &Graph) -> Vec<StoreUse> {
        // Later cogroup inputs share their owner's store.
        if let AggOp::Cogroup { owner, .. } = &self.op {
            if *owner != node.id {
                return vec![StoreUse::Shares(*owner)];
            }
        }
        let kind = match &self.windows {
            Some(w) if crate::graph::is_session(w) => StoreKind::Session,
            Some(_) => StoreKind::Window,
            None => StoreKind::KeyValue,
        };
        vec![StoreUse::Owns {
            name: self.store.clone(),
            in_memory: self.in_memory,
            cached: self.cached,
            kind,
        }]
    }

    /// Feeding a table's `group_by` directly.
    fn sends_old_values(&self, node: &Node, graph: &Graph) -> bool {
        node.outputs
            .iter()
            .any(|&o| matches!(graph.nodes[o].kind, NodeKind::TableGroupBy(_)))
    }
}

impl Emitter<'_> {
    /// The new aggregate `(agg, ts)` from `old: Option<(A, i64)>` and the
    /// record `(k, v)`: `count` adds one, `reduce` starts from the first
    /// value, `aggregate` from its initializer. `ts` is the previous
    /// aggregate's timestamp (`i64::MIN` for a new one).
    pub(crate) fn update(&self, node: NodeId, op: &AggOp, agg_ty: &TokenStream) -> TokenStream {
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
    pub(crate) fn aggregate(
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

    /// `f(true)` (through the record cache) when the cache is enabled at
    /// run time, else `f(false)` (straight to the store, forwarding every
    /// update: Kafka Streams without its caching layer), for a node whose
    /// store is cached; `f(false)` alone otherwise. Sliding windows always
    /// take the cache path (it writes through when disabled).
    pub(crate) fn both(&self, node: NodeId, f: impl Fn(bool) -> TokenStream) -> TokenStream {
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
    pub(crate) fn no_old_value(&self, node: NodeId, agg_ty: &TokenStream) -> TokenStream {
        let filter_child = self.children_in_sub(node).iter().any(|&c| {
            matches!(
                self.graph.nodes[c].kind,
                NodeKind::TableFilter(ops::TableFilter { .. })
            ) && self.cached_aggregate_parent(c)
        });
        if filter_child {
            quote!(let o: ::core::option::Option<#agg_ty> = ::core::option::Option::None;)
        } else {
            quote!()
        }
    }

    /// Whether `node` emits final results only (`on_window_close`).
    pub(crate) fn emits_final(&self, node: NodeId) -> bool {
        matches!(
            self.graph.nodes[node].kind,
            NodeKind::Aggregate(ops::Aggregate {
                emit_final: true,
                ..
            })
        )
    }
}

/// The runtime type of a windows expression.
pub(crate) fn windows_type(w: &Expr, p: &TokenStream) -> TokenStream {
    if crate::graph::is_sliding(w) {
        quote!(#p::SlidingWindows)
    } else if crate::graph::is_session(w) {
        quote!(#p::SessionWindows)
    } else {
        quote!(#p::TimeWindows)
    }
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[
    OpSpec {
        name: "cogroup",
        on: Shape::Grouped,
        gives: Shape::Cogrouped,
        args: (1, 2),
        options: &[],
        prefix: "COGROUPKSTREAM-AGGREGATE-",
        usage: "grouped.cogroup(|key, value, aggregate| ..), then .cogroup(other_grouped, |key, value, aggregate| ..), then .aggregate(|| initial)",
        also_on: &[Shape::Cogrouped],
        args_on: &[(Shape::Grouped, 1), (Shape::Cogrouped, 2)],
        types: false,
        build: build_cogroup,
    },
    OpSpec {
        name: "group_by_key",
        on: Shape::Stream,
        gives: Shape::Grouped,
        args: (0, 0),
        options: NAMED,
        prefix: "",
        usage: "group_by_key() or group_by_key(named(\"repartition-name\"))",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_group_by_key,
    },
    OpSpec {
        name: "group_by",
        on: Shape::Stream,
        gives: Shape::Grouped,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-KEY-SELECT-",
        usage: "group_by(|key, value| new_key)",
        also_on: &[Shape::Table],
        args_on: &[],
        types: false,
        build: build_group_by,
    },
    OpSpec {
        name: "count",
        on: Shape::Grouped,
        gives: Shape::Table,
        args: (0, 0),
        options: STORE,
        prefix: "KSTREAM-AGGREGATE-",
        usage: "count(), count(named(\"store\")), count(in_memory())",
        also_on: &[Shape::WindowedGrouped, Shape::GroupedTable],
        args_on: &[],
        types: false,
        build: build_aggregation,
    },
    OpSpec {
        name: "reduce",
        on: Shape::Grouped,
        gives: Shape::Table,
        args: (1, 1),
        options: STORE,
        prefix: "KSTREAM-REDUCE-",
        usage: "reduce(|aggregate, value| new_aggregate)",
        also_on: &[Shape::WindowedGrouped, Shape::GroupedTable],
        args_on: &[(Shape::GroupedTable, 2)],
        types: false,
        build: build_aggregation,
    },
    OpSpec {
        name: "aggregate",
        on: Shape::Grouped,
        gives: Shape::Table,
        args: (2, 3),
        options: STORE,
        prefix: "KSTREAM-AGGREGATE-",
        usage: "aggregate(|| initial, |key, value, aggregate| new_aggregate)",
        also_on: &[Shape::WindowedGrouped, Shape::GroupedTable, Shape::Cogrouped],
        args_on: &[(Shape::Cogrouped, 1), (Shape::GroupedTable, 3)],
        types: false,
        build: build_aggregation,
    },
];

impl Builder<'_> {
    /// `cogroup(..).aggregate(init)`: one aggregation node per input (each
    /// repartitioned if its key changed), sharing one store and the
    /// initializer, merged into one table (Kafka Streams' cogroup).
    pub(crate) fn cogroup_aggregate(
        &mut self,
        init: &Expr,
        opts: &Options,
        span: Span,
        inputs: Vec<(NodeId, Option<LitStr>, Expr)>,
    ) -> Option<Value> {
        let prefix = "COGROUPKSTREAM-AGGREGATE-";
        let store = match &opts.named {
            Some(n) => n.value(),
            None => self.next_name(&format!("{prefix}STATE-STORE-")),
        };
        let mut owner = None;
        let mut aggregations = Vec::new();
        for (i, (input, repartition_name, f)) in inputs.into_iter().enumerate() {
            let mut upstream = input;
            if self.key_changed(input) {
                let name = repartition_name.map(|n| n.value()).unwrap_or_else(|| {
                    if i == 0 {
                        store.clone()
                    } else {
                        format!("{store}-{i}")
                    }
                });
                upstream = self.graph.add(
                    NodeKind::Repartition(ops::Repartition {
                        partitions: None,
                        changes: false,
                        mergeable: false,
                    }),
                    name,
                    span,
                    Some(input),
                );
            }
            let name = self.next_name(prefix);
            let id = self.graph.nodes.len();
            let op = AggOp::Cogroup {
                f,
                init: owner.is_none().then(|| init.clone()),
                owner: owner.unwrap_or(id),
            };
            let kind = NodeKind::Aggregate(ops::Aggregate {
                op,
                store: store.clone(),
                in_memory: opts.in_memory,
                cached: !opts.caching_disabled,
                windows: None,
                emit_final: false,
            });
            let node = self.graph.add(kind, name, span, Some(upstream));
            owner.get_or_insert(node);
            aggregations.push(node);
        }
        let merge_name = self.next_name("COGROUPKSTREAM-MERGE-");
        let merge = self
            .graph
            .add(NodeKind::Merge(ops::Merge), merge_name, span, None);
        for a in aggregations {
            self.graph.connect(a, merge);
        }
        Some(Value::Table(merge))
    }
    pub(crate) fn aggregate(
        &mut self,
        spec: &OpSpec,
        args: &[Expr],
        opts: &Options,
        span: Span,
        grouping: Grouping,
    ) -> Option<Value> {
        let Grouping {
            input,
            repartition_name,
            windows,
            emit_final,
        } = grouping;
        let op = match spec.name {
            "count" => AggOp::Count,
            "reduce" => AggOp::Reduce { f: args[0].clone() },
            _ => AggOp::Aggregate {
                init: args[0].clone(),
                f: args[1].clone(),
                merger: args.get(2).cloned(),
            },
        };
        let session = windows.as_ref().is_some_and(is_session);
        if let AggOp::Aggregate { merger, .. } = &op {
            match (merger, session) {
                (None, true) => self.errors.at(
                    span,
                    "`aggregate` over session windows takes a merger too: `aggregate(|| init, |key, value, aggregate| .., |key, aggregate, other| merged)`",
                ),
                (Some(m), false) => self.errors.spanned(
                    m,
                    "only an `aggregate` over session windows takes a merger (a third closure)",
                ),
                _ => {}
            }
        }
        if session && opts.caching_disabled {
            self.errors.at(
                span,
                "`with_caching_disabled()` is not supported with session windows yet",
            );
        }
        let arities: &[(usize, usize, &str)] = match &op {
            AggOp::Count
            | AggOp::Cogroup { .. }
            | AggOp::TableCount
            | AggOp::TableReduce { .. }
            | AggOp::TableAggregate { .. } => &[],
            AggOp::Reduce { .. } => &[(0, 2, "`|aggregate, value|`")],
            AggOp::Aggregate { merger: None, .. } => &[
                (0, 0, "no parameters `||`"),
                (1, 3, "`|key, value, aggregate|`"),
            ],
            AggOp::Aggregate {
                merger: Some(_), ..
            } => &[
                (0, 0, "no parameters `||`"),
                (1, 3, "`|key, value, aggregate|`"),
                (2, 3, "`|key, aggregate, other|`"),
            ],
        };
        for &(i, n, what) in arities {
            if let Some(actual) = closure_arity(&args[i]) {
                if actual != n {
                    self.errors.spanned(
                        &args[i],
                        format!(
                            "`{}` takes a closure with {what}, this one has {actual} parameter(s)",
                            spec.name
                        ),
                    );
                }
            }
        }
        // Kafka Streams names the store first (unless given), then the processor.
        let store = match &opts.named {
            Some(n) => n.value(),
            None => self.next_name(&format!("{}STATE-STORE-", spec.prefix)),
        };
        let name = self.next_name(spec.prefix);
        let mut upstream = input;
        if self.key_changed(input) {
            // Unless the grouping is named, the optimiser may merge it with
            // another aggregation's of the same key change.
            let mergeable = repartition_name.is_none();
            let prefix = repartition_name
                .map(|n| n.value())
                .unwrap_or_else(|| store.clone());
            upstream = self.graph.add(
                NodeKind::Repartition(ops::Repartition {
                    partitions: None,
                    changes: false,
                    mergeable,
                }),
                prefix,
                span,
                Some(input),
            );
        }
        if opts.caching_disabled && windows.as_ref().is_some_and(is_sliding) {
            self.errors.at(
                span,
                "`with_caching_disabled()` is not supported with sliding windows yet",
            );
        }
        let kind = NodeKind::Aggregate(ops::Aggregate {
            op,
            store,
            in_memory: opts.in_memory,
            // Final results come from the store, not from the cache's
            // flushes (see the README for the difference). A sliding- or
            // session-window aggregation keeps the structure (it runs
            // through the cache's interface) and writes through instead.
            cached: !opts.caching_disabled
                && (!emit_final
                    || windows.as_ref().is_some_and(|w| {
                        crate::graph::is_sliding(w) || crate::graph::is_session(w)
                    })),
            windows,
            emit_final,
        });
        let node = self.graph.add(kind, name, span, Some(upstream));
        Some(Value::Table(node))
    }
}

/// `group_by_key()`.
pub(crate) fn build_group_by_key(
    _b: &mut Builder<'_>,
    a: &Args<'_>,
    value: Value,
) -> Option<Value> {
    let Args { opts, .. } = *a;
    match value {
        Value::Stream(input) => Some(Value::Grouped {
            input,
            repartition_name: opts.named.clone(),
        }),
        _ => None,
    }
}

/// `group_by(..)` of a stream (a key selector, then grouping) or of a table.
pub(crate) fn build_group_by(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args {
        spec,
        positional,
        opts,
        span,
        ..
    } = *a;
    match value {
        Value::Stream(input) => {
            if let Some(n) = closure_arity(&positional[0]) {
                if n != 2 {
                    b.errors.spanned(&positional[0], format!("`group_by` takes a closure with two parameters `|key, value|`, this one has {n} parameter(s)"));
                }
            }
            // As Kafka Streams: a key selector, then grouping that repartitions.
            let name = b.next_name(spec.prefix);
            let node = b.graph.add(
                NodeKind::SelectKey(ops::SelectKey {
                    f: positional[0].clone(),
                }),
                name,
                span,
                Some(input),
            );
            Some(Value::Grouped {
                input: node,
                repartition_name: opts.named.clone(),
            })
        }
        Value::Table(input) => {
            let name = b.next_name("KTABLE-SELECT-");
            let select = b.graph.add(
                NodeKind::TableGroupBy(ops::TableGroupBy {
                    f: positional[0].clone(),
                }),
                name,
                span,
                Some(input),
            );
            Some(Value::GroupedTable { select })
        }
        _ => None,
    }
}

/// `count`, `reduce`, `aggregate` of grouped, windowed, cogrouped streams and grouped tables.
pub(crate) fn build_aggregation(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args {
        spec,
        positional,
        opts,
        span,
        ..
    } = *a;
    match value {
        Value::Grouped {
            input,
            repartition_name,
        } => b.aggregate(
            spec,
            positional,
            opts,
            span,
            Grouping {
                input,
                repartition_name,
                windows: None,
                emit_final: false,
            },
        ),
        Value::Windowed {
            input,
            repartition_name,
            windows,
            emit_final,
        } => b.aggregate(
            spec,
            positional,
            opts,
            span,
            Grouping {
                input,
                repartition_name,
                windows: Some(windows),
                emit_final,
            },
        ),
        Value::GroupedTable { select } => {
            let op = match spec.name {
                "count" => AggOp::TableCount,
                "reduce" => AggOp::TableReduce {
                    add: positional[0].clone(),
                    sub: positional[1].clone(),
                },
                _ => AggOp::TableAggregate {
                    init: positional[0].clone(),
                    add: positional[1].clone(),
                    sub: positional[2].clone(),
                },
            };
            // As Kafka Streams: the store name, then the processor; the
            // changes go through `<store>-repartition`.
            let prefix = match spec.name {
                "reduce" => "KTABLE-REDUCE-",
                _ => "KTABLE-AGGREGATE-",
            };
            let store = match &opts.named {
                Some(n) => n.value(),
                None => b.next_name(&format!("{prefix}STATE-STORE-")),
            };
            let name = b.next_name(prefix);
            let repartition = b.graph.add(
                NodeKind::Repartition(ops::Repartition {
                    partitions: None,
                    changes: true,
                    mergeable: false,
                }),
                store.clone(),
                span,
                Some(select),
            );
            let kind = NodeKind::Aggregate(ops::Aggregate {
                op,
                store,
                in_memory: opts.in_memory,
                cached: !opts.caching_disabled,
                windows: None,
                emit_final: false,
            });
            Some(Value::Table(b.graph.add(
                kind,
                name,
                span,
                Some(repartition),
            )))
        }
        Value::Cogrouped { inputs } => b.cogroup_aggregate(&positional[0], opts, span, inputs),
        _ => None,
    }
}

/// `cogroup(..)`.
pub(crate) fn build_cogroup(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args { positional, .. } = *a;
    match value {
        Value::Grouped {
            input,
            repartition_name,
        } => Some(Value::Cogrouped {
            inputs: vec![(input, repartition_name, positional[0].clone())],
        }),
        Value::Cogrouped { mut inputs } => {
            match chain_of(&positional[0]).and_then(|c| b.chain(&c)) {
                Some(Value::Grouped {
                    input,
                    repartition_name,
                }) => {
                    inputs.push((input, repartition_name, positional[1].clone()));
                    Some(Value::Cogrouped { inputs })
                }
                Some(v) => {
                    b.errors.spanned(
                        &positional[0],
                        format!(
                            "`cogroup` takes a grouped stream, not {}",
                            v.shape().describe()
                        ),
                    );
                    None
                }
                None => None,
            }
        }
        _ => None,
    }
}

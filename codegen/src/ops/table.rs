//! Tables: `builder.table(..)`, `to_table()`, a table's `filter`/`map_values`, `to_stream()`.

use super::Operator;
use crate::ctxt::Errors;
use crate::emit::*;
use crate::graph::builder::{Args, Builder, Options, Value};
use crate::graph::syntax::*;
use crate::graph::Node;
use crate::graph::{Graph, NodeId, NodeKind};
use crate::ops::dsl::{OpSpec, Shape, NAMED};
use crate::ops::{self, *};
use crate::plan::Types;
use crate::plan::{StoreKind, StoreUse};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use syn::Expr;

/// The table side of `builder.table(..)` / `to_table()`: drops records
/// with a null key, passes the rest (a null value is a tombstone).
#[derive(Clone)]
pub struct TableSource {
    /// `builder.table(..)`: the topic's values are read as `Option<V>`.
    pub from_topic: bool,
    /// Its store name (`<topic>-STATE-STORE-..`), used when the table is
    /// materialized because a `group_by` needs its old values.
    pub store: String,
}

/// A table's `filter` / `filter_not`: a value that does not pass
/// becomes a tombstone.
#[derive(Clone)]
pub struct TableFilter {
    /// The predicate.
    pub f: Expr,
    /// True for `filter_not`.
    pub negate: bool,
}

/// A table's `map_values`: tombstones stay tombstones.
#[derive(Clone)]
pub struct TableMapValues {
    /// The mapper.
    pub f: Expr,
    /// True when the closure takes `(key, value)`.
    pub with_key: bool,
}

/// `to_stream()` of a table.
#[derive(Clone)]
pub struct ToStream;

impl Operator for TableFilter {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::TableFilter { negate, .. } = self;
        let f = format_ident!("f{}", node);
        let kids = e.children(node);
        let nullable = e
            .plan
            .types
            .optional_inner(e.table_input_var(node).1)
            .is_some();
        let not = if *negate { quote!(!) } else { quote!() };
        if e.cached_aggregate_parent(node) {
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
        } else if nullable && crate::plan::needs_old_values(e.graph, node) {
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

    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let Io { ik, iv, span, .. } = t;
        let span = *span;
        let (_, in_v) = e.table_input_var(id);
        let inner_in = match e.plan.types.optional_inner(in_v) {
            Some(i) => e.ty(i, g),
            None => iv.clone(),
        };
        // The predicate sees the value inside a nullable table's `Option`.
        Some(quote_spanned!(span=> FnMut(&#ik, &#inner_in) -> bool))
    }

    fn types(
        &self,
        t: &mut Types,
        _node: &Node,
        _graph: &Graph,
        (k, v): (usize, usize),
        _errors: &mut Errors,
    ) -> (usize, usize) {
        match t.optional_inner(v) {
            Some(_) => (k, v),
            None => (k, t.fresh_optional(v)),
        }
    }

    fn dsl_name(&self) -> &'static str {
        if self.negate {
            "filter_not"
        } else {
            "filter"
        }
    }

    fn sends_old_values(&self, node: &Node, graph: &Graph) -> bool {
        crate::plan::needs_old_values(graph, node.id)
    }
}

impl Operator for TableMapValues {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::TableMapValues { with_key, .. } = self;
        let f = format_ident!("f{}", node);
        let kids = e.children(node);
        let nullable = e
            .plan
            .types
            .optional_inner(e.table_input_var(node).1)
            .is_some();
        let call = if *with_key {
            quote!((self.#f)(&k, x))
        } else {
            quote!((self.#f)(x))
        };
        if nullable && crate::plan::needs_old_values(e.graph, node) {
            quote! { let v = v.map(|x| #call); let o = o.map(|x| #call); #kids }
        } else if nullable {
            quote! { let v = v.map(|x| #call); #kids }
        } else {
            quote! { let x = v; let v = #call; #kids }
        }
    }

    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let Io {
            ik, iv, ov, span, ..
        } = t;
        let span = *span;
        let (_, in_v) = e.table_input_var(id);
        let inner_in = match e.plan.types.optional_inner(in_v) {
            Some(i) => e.ty(i, g),
            None => iv.clone(),
        };
        // The mapper sees and makes the values inside a nullable table's
        // `Option`s.
        let out_v = e.plan.types.node[id].1;
        let inner_out = match e.plan.types.optional_inner(out_v) {
            Some(i) => e.ty(i, g),
            None => ov.clone(),
        };
        Some(if self.with_key {
            quote_spanned!(span=> FnMut(&#ik, #inner_in) -> #inner_out)
        } else {
            quote_spanned!(span=> FnMut(#inner_in) -> #inner_out)
        })
    }

    fn types(
        &self,
        t: &mut Types,
        _node: &Node,
        _graph: &Graph,
        (k, v): (usize, usize),
        _errors: &mut Errors,
    ) -> (usize, usize) {
        match t.optional_inner(v) {
            Some(_) => {
                let inner = t.fresh(None);
                (k, t.fresh_optional(inner))
            }
            None => (k, t.fresh(None)),
        }
    }

    fn dsl_name(&self) -> &'static str {
        "map_values"
    }

    fn sends_old_values(&self, node: &Node, graph: &Graph) -> bool {
        crate::plan::needs_old_values(graph, node.id)
    }
}

impl Operator for TableSource {
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::TableSource { store, .. } = self;
        e.both(node, |cached| e.table_source(node, store, cached))
    }

    fn types(
        &self,
        t: &mut Types,
        _node: &Node,
        _graph: &Graph,
        (k, v): (usize, usize),
        _errors: &mut Errors,
    ) -> (usize, usize) {
        if self.from_topic {
            return (k, v);
        }
        // `to_table()` of a stream of `Option<T>` values: `None` is a
        // tombstone, so the table's values are known optional and table
        // operators see `T`, as with `table::<K, T>(topic)`.
        match t.concrete_of(v).as_ref().and_then(crate::plan::option_arg) {
            Some(inner) => {
                let inner = t.fresh(Some(inner));
                (k, t.fresh_optional(inner))
            }
            None => (k, v),
        }
    }

    fn dsl_name(&self) -> &'static str {
        if self.from_topic {
            "table"
        } else {
            "to_table"
        }
    }

    fn key(&self) -> KeyEffect {
        KeyEffect::Fixed
    }

    fn stores(&self, node: &Node, graph: &Graph) -> Vec<StoreUse> {
        // Materialized when a `group_by` downstream needs its old values,
        // or a join reads it.
        let joined = graph
            .nodes
            .iter()
            .any(|n| n.kind.op().reads_table() == Some(node.id));
        if !joined && !crate::plan::needs_old_values(graph, node.id) {
            return Vec::new();
        }
        vec![StoreUse::Owns {
            name: self.store.clone(),
            in_memory: false,
            cached: true,
            kind: StoreKind::KeyValue,
        }]
    }

    fn sends_old_values(&self, node: &Node, graph: &Graph) -> bool {
        crate::plan::needs_old_values(graph, node.id)
    }
}

impl Operator for ToStream {
    fn dsl_name(&self) -> &'static str {
        "to_stream"
    }
}

impl Emitter<'_> {
    /// A table source (`builder.table(..)`, `to_table()`): materialized
    /// when a `group_by` needs its old values, through the cache if `cached`.
    pub(crate) fn table_source(&self, node: NodeId, store: &str, cached: bool) -> TokenStream {
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
                    None => self.ty(inner, &mut Generics::default()),
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
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[
    OpSpec {
        name: "table",
        on: Shape::Builder,
        gives: Shape::Table,
        args: (1, 1),
        options: NAMED,
        prefix: "KTABLE-SOURCE-",
        usage: "table::<K, V>(\"topic\")",
        also_on: &[],
        args_on: &[],
        types: true,
        build: build_table,
    },
    OpSpec {
        name: "to_table",
        on: Shape::Stream,
        gives: Shape::Table,
        args: (0, 0),
        options: NAMED,
        prefix: "KSTREAM-TOTABLE-",
        usage: "to_table()",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_to_table,
    },
    OpSpec {
        name: "to_stream",
        on: Shape::Table,
        gives: Shape::Stream,
        args: (0, 0),
        options: NAMED,
        prefix: "KTABLE-TOSTREAM-",
        usage: "to_stream()",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_to_stream,
    },
];

/// `builder.table::<K, V>(topic)`.
pub(crate) fn build_table(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args {
        spec,
        call,
        positional,
        opts,
        span,
    } = *a;
    match value {
        Value::Builder => {
            // As Kafka Streams: the store name (`<topic>-STATE-STORE-..`)
            // takes an index, then the source, then the table source.
            let topic = positional
                .first()
                .and_then(string_lit)
                .map(|t| t.value())
                .unwrap_or_default();
            let store = b.next_name(&format!("{topic}-STATE-STORE-"));
            let source_spec = ops::lookup("stream")?;
            let Some(Value::Stream(source)) =
                b.source(source_spec, call, positional, &Options::default())
            else {
                return None;
            };
            if let NodeKind::Source(ops::Source { topics, .. }) = &b.graph.nodes[source].kind {
                if topics.len() > 1 {
                    b.errors.spanned(&positional[0], "a table reads one topic");
                }
            }
            let name = b.name_for(spec, opts);
            Some(Value::Table(b.graph.add(
                NodeKind::TableSource(ops::TableSource {
                    from_topic: true,
                    store,
                }),
                name,
                span,
                Some(source),
            )))
        }
        _ => None,
    }
}

/// `to_table()`.
pub(crate) fn build_to_table(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args {
        spec, opts, span, ..
    } = *a;
    match value {
        Value::Stream(input) => {
            let name = b.name_for(spec, opts);
            let store = b.next_name("KSTREAM-TOTABLE-STATE-STORE-");
            Some(Value::Table(b.graph.add(
                NodeKind::TableSource(ops::TableSource {
                    from_topic: false,
                    store,
                }),
                name,
                span,
                Some(input),
            )))
        }
        _ => None,
    }
}

/// A table's `filter`, `filter_not` and `map_values`.
pub(crate) fn build_table_op(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args {
        spec,
        positional,
        opts,
        span,
        ..
    } = *a;
    match value {
        Value::Table(input) => {
            let arity = closure_arity(&positional[0]);
            let (kind, prefix) = match spec.name {
                "map_values" => (
                    NodeKind::TableMapValues(ops::TableMapValues {
                        f: positional[0].clone(),
                        with_key: arity == Some(2),
                    }),
                    "KTABLE-MAPVALUES-",
                ),
                op => (
                    NodeKind::TableFilter(ops::TableFilter {
                        f: positional[0].clone(),
                        negate: op == "filter_not",
                    }),
                    "KTABLE-FILTER-",
                ),
            };
            let name = match &opts.named {
                Some(n) => n.value(),
                None => b.next_name(prefix),
            };
            Some(Value::Table(b.graph.add(kind, name, span, Some(input))))
        }
        _ => None,
    }
}

/// `to_stream()`.
pub(crate) fn build_to_stream(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args {
        spec, opts, span, ..
    } = *a;
    match value {
        Value::Table(input) => {
            let name = b.name_for(spec, opts);
            Some(Value::Stream(b.graph.add(
                NodeKind::ToStream(ops::ToStream),
                name,
                span,
                Some(input),
            )))
        }
        _ => None,
    }
}

//! `suppress(..)` of a table.

use super::Operator;
use crate::emit::*;
use crate::graph::builder::{Args, Builder, Value};
use crate::graph::{Graph, NodeId, NodeKind};
use crate::ops::dsl::{OpSpec, Shape};
use crate::ops::{self, *};
use crate::plan::{StoreKind, StoreUse};
use proc_macro2::Span;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use syn::Expr;

/// `suppress(..)` of a table: holds updates back in a buffer.
#[derive(Clone)]
pub struct Suppress {
    /// The `Suppressed` expression (evaluated when the topology is constructed).
    pub config: Expr,
    /// `until_window_closes`: the windowed aggregation whose grace applies.
    pub window_node: Option<NodeId>,
    /// Name of its buffer (Kafka Streams' `KTABLE-SUPPRESS-STATE-STORE-..`).
    pub store: String,
}

impl Operator for Suppress {
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::Suppress { window_node, .. } = self;
        e.suppress(node, *window_node)
    }

    /// Its configuration: a value of the topology's constructor.
    fn values(&self, id: NodeId, p: &TokenStream) -> Vec<(syn::Ident, TokenStream, &Expr)> {
        vec![(
            format_ident!("sup{}", id),
            quote!(#p::Suppressed),
            &self.config,
        )]
    }

    fn fields(&self, e: &Emitter<'_>, id: NodeId) -> Vec<Field> {
        let p = &e.p;
        let sup = format_ident!("sup{}", id);
        let (k, v) = e.output_types(id, &mut Generics::default());
        // The configuration, the buffer, and whether the buffer was loaded
        // from its store.
        vec![
            Field::value(sup.clone(), quote!(#p::Suppressed), quote!(self.#sup)),
            Field::new(
                format_ident!("buf{}", id),
                quote!(#p::SuppressBuffer<#k, #v>),
                quote!(::core::default::Default::default()),
            ),
            Field::new(format_ident!("loaded{}", id), quote!(bool), quote!(false)),
        ]
    }

    fn dsl_name(&self) -> &'static str {
        "suppress"
    }

    /// The windowed aggregation whose grace applies.
    fn remap(&mut self, map: &dyn Fn(NodeId) -> NodeId) {
        if let Some(w) = &mut self.window_node {
            *w = map(*w);
        }
    }

    fn stores(&self, _node: &Node, _graph: &Graph) -> Vec<StoreUse> {
        // The buffer is logged through an in-memory store mirroring it,
        // restored after a restart (Kafka Streams' buffer store and its
        // changelog).
        vec![StoreUse::Owns {
            name: self.store.clone(),
            in_memory: true,
            cached: false,
            kind: StoreKind::KeyValue,
        }]
    }
}

impl Emitter<'_> {
    /// `suppress`, as Kafka Streams' `KTableSuppressProcessor`: the update is
    /// buffered (latest per key, at its first buffer time: the window end,
    /// or the record time for a time limit), then every entry whose time is
    /// at or before stream time minus the grace (or the limit) is released
    /// in (time, key) order, then the oldest while the buffer is over its bound.
    pub(crate) fn suppress(&self, node: NodeId, window_node: Option<NodeId>) -> TokenStream {
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
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[
    OpSpec {
        name: "suppress",
        on: Shape::Table,
        gives: Shape::Table,
        args: (1, 1),
        options: &[],
        prefix: "KTABLE-SUPPRESS-",
        usage: "suppress(until_window_closes(unbounded())) or suppress(until_time_limit(duration, max_records(n)))",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_suppress,
    },
];

impl Builder<'_> {
    pub(crate) fn suppress(
        &mut self,
        spec: &OpSpec,
        config: &Expr,
        span: Span,
        input: NodeId,
    ) -> Option<Value> {
        let head = match config {
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
                _ => None,
            },
            _ => None,
        };
        let window_node = match head.as_deref() {
            Some("until_window_closes") => {
                let windowed = matches!(
                    self.graph.nodes[input].kind,
                    NodeKind::Aggregate(ops::Aggregate {
                        windows: Some(_),
                        ..
                    })
                );
                if !windowed {
                    self.errors.spanned(config, "`until_window_closes` needs a windowed table: the result of `windowed_by(..)` and an aggregation");
                    return None;
                }
                Some(input)
            }
            Some("until_time_limit") => None,
            _ => {
                self.errors.spanned(config, format!("`suppress` takes `until_window_closes(..)` or `until_time_limit(..)`; usage: {}", spec.usage));
                return None;
            }
        };
        // As Kafka Streams: the processor's name first, then its buffer's.
        let name = self.next_name(spec.prefix);
        let store = self.next_name("KTABLE-SUPPRESS-STATE-STORE-");
        let kind = NodeKind::Suppress(ops::Suppress {
            config: config.clone(),
            window_node,
            store,
        });
        Some(Value::Table(self.graph.add(kind, name, span, Some(input))))
    }
}

/// `suppress(..)`.
pub(crate) fn build_suppress(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args {
        spec,
        positional,
        span,
        ..
    } = *a;
    match value {
        Value::Table(input) => b.suppress(spec, &positional[0], span, input),
        _ => None,
    }
}

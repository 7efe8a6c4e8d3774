//! Windowed aggregations: `windowed_by(TimeWindows::..)`, their final results.

use crate::emit::*;
use crate::graph::builder::{Args, Builder, Value};
use crate::graph::syntax::*;
use crate::graph::{NodeId, NodeKind};
use crate::ops::dsl::{OpSpec, Shape};
use crate::ops::{self, *};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

impl Emitter<'_> {
    /// A windowed aggregation, as Kafka Streams' `KStreamWindowAggregate`:
    /// records with a null key are dropped; stream time advances; each window containing the record that has not
    /// closed (`end > stream time - grace`) gets the new aggregate (stored
    /// with timestamp max(record, previous), logged, forwarded with key
    /// `Windowed<K>`); closed windows drop the record.
    pub(crate) fn windowed_aggregate(
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
            NodeKind::Aggregate(ops::Aggregate {
                emit_final: true,
                ..
            })
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
    pub(crate) fn final_results(&self, node: NodeId, st: &crate::plan::Store) -> TokenStream {
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

    /// Whether `node` aggregates over `SlidingWindows`.
    pub(crate) fn is_sliding(&self, node: NodeId) -> bool {
        matches!(
            &self.graph.nodes[node].kind,
            NodeKind::Aggregate(ops::Aggregate { windows: Some(w), .. }) if crate::graph::is_sliding(w)
        )
    }

    /// Whether `node` aggregates over `SessionWindows`.
    pub(crate) fn is_session(&self, node: NodeId) -> bool {
        matches!(
            &self.graph.nodes[node].kind,
            NodeKind::Aggregate(ops::Aggregate { windows: Some(w), .. }) if crate::graph::is_session(w)
        )
    }
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[
    OpSpec {
        name: "emit_strategy",
        on: Shape::WindowedGrouped,
        gives: Shape::WindowedGrouped,
        args: (1, 1),
        options: &[],
        prefix: "",
        usage: "emit_strategy(EmitStrategy::on_window_close()) or emit_strategy(EmitStrategy::on_window_update())",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_emit_strategy,
    },
    OpSpec {
        name: "windowed_by",
        on: Shape::Grouped,
        gives: Shape::WindowedGrouped,
        args: (1, 1),
        options: &[],
        prefix: "",
        usage: "windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_windowed_by,
    },
];

impl Builder<'_> {
    /// Checks a `windowed_by` argument: `TimeWindows::..` or
    /// `SlidingWindows::..` (session windows are not supported yet), and no
    /// literal zero size.
    pub(crate) fn check_windows(&mut self, expr: &Expr) {
        let Some((kind, call)) = windows_call(expr) else {
            self.errors.spanned(expr, "`windowed_by` takes windows built in place: `TimeWindows::of_size_with_no_grace(..)`, `TimeWindows::of_size_and_grace(..)`, `SlidingWindows::of_time_difference_and_grace(..)`, `SessionWindows::of_inactivity_gap_and_grace(..)`");
            return;
        };
        match kind.as_str() {
            "TimeWindows" | "SlidingWindows" | "SessionWindows" => {}
            _ => {
                self.errors.spanned(expr, "`windowed_by` takes `TimeWindows::of_size_with_no_grace(..)`, `TimeWindows::of_size_and_grace(..)`, `SlidingWindows::of_time_difference_and_grace(..)` or `SessionWindows::of_inactivity_gap_and_grace(..)`");
                return;
            }
        }
        if let Some(size) = call.args.first() {
            if is_zero_duration(size) {
                let what = if kind == "SlidingWindows" {
                    "a sliding window's time difference must be larger than zero"
                } else if kind == "SessionWindows" {
                    "a session window's inactivity gap must be larger than zero"
                } else {
                    "a window size must be larger than zero"
                };
                self.errors.spanned(size, what);
            }
        }
        let mut e = expr;
        while let Expr::MethodCall(m) = e {
            if m.method == "advance_by" && m.args.first().is_some_and(is_zero_duration) {
                self.errors
                    .spanned(&m.args[0], "a window advance must be larger than zero");
            }
            e = &m.receiver;
        }
    }
}

/// `emit_strategy(..)`.
pub(crate) fn build_emit_strategy(
    b: &mut Builder<'_>,
    a: &Args<'_>,
    value: Value,
) -> Option<Value> {
    let Args { positional, .. } = *a;
    match value {
        Value::Windowed {
            input,
            repartition_name,
            windows,
            ..
        } => {
            let strategy = match &positional[0] {
                Expr::Call(c) => match &*c.func {
                    Expr::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
                    _ => None,
                },
                _ => None,
            };
            let emit_final = match strategy.as_deref() {
                Some("on_window_close") => true,
                Some("on_window_update") => false,
                _ => {
                    b.errors.spanned(
                            &positional[0],
                            "`emit_strategy` takes `EmitStrategy::on_window_close()` or `EmitStrategy::on_window_update()`",
                        );
                    false
                }
            };
            Some(Value::Windowed {
                input,
                repartition_name,
                windows,
                emit_final,
            })
        }
        _ => None,
    }
}

/// `windowed_by(windows)`.
pub(crate) fn build_windowed_by(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args { positional, .. } = *a;
    match value {
        Value::Grouped {
            input,
            repartition_name,
        } => {
            b.check_windows(&positional[0]);
            Some(Value::Windowed {
                input,
                repartition_name,
                windows: positional[0].clone(),
                emit_final: false,
            })
        }
        _ => None,
    }
}

//! Sliding-window aggregations: `windowed_by(SlidingWindows::..)`.

use crate::emit::*;
use crate::graph::NodeId;
use crate::ops::*;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

impl Emitter<'_> {
    /// A sliding-window aggregation, as Kafka Streams'
    /// `KStreamSlidingWindowAggregate`: records with a null key or value
    /// are dropped, and so are records too late for any window; the runtime
    /// works out which windows the record updates or creates (from the
    /// key's windows around it, through the cache); each update is
    /// aggregated here and written through the cache.
    pub(crate) fn sliding_aggregate(
        &self,
        node: NodeId,
        op: &AggOp,
        st: &crate::plan::Store,
    ) -> TokenStream {
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
}

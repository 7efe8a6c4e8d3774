//! Session-window aggregations: `windowed_by(SessionWindows::..)`.

use crate::emit::*;
use crate::graph::NodeId;
use crate::ops::*;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

impl Emitter<'_> {
    /// A session-window aggregation, as Kafka Streams'
    /// `KStreamSessionWindowAggregate`: records with a null key are dropped;
    /// the key's sessions within the gap of the record (through the cache)
    /// are merged with the record's own `[t, t]`; if the merged session has
    /// not closed, the sessions it swallowed are removed (a tombstone each)
    /// and the merged aggregate, with the record added, is written. Results
    /// are forwarded with the session's end as timestamp.
    pub(crate) fn session_aggregate(
        &self,
        node: NodeId,
        op: &AggOp,
        st: &crate::plan::Store,
    ) -> TokenStream {
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
}

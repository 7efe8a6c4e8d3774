//! User processors: `process(..)`, `process_values(..)`.

use super::Operator;
#[allow(unused_imports)]
use crate::emit::*;
#[allow(unused_imports)]
use crate::graph::{Graph, NodeId, NodeKind};
#[allow(unused_imports)]
use crate::ops::{self, *};
use proc_macro2::TokenStream;
#[allow(unused_imports)]
use quote::{format_ident, quote, quote_spanned};

use syn::Expr;
use syn::LitStr;

/// `process(factory, stores..)`: a user processor.
#[derive(Clone)]
pub struct Process {
    /// `|| processor` (or a path to a function making one).
    pub factory: Expr,
    /// The key-value stores it is connected to.
    pub stores: Vec<LitStr>,
    /// `process_values`: a `FixedKeyProcessor`, the key is kept.
    pub fixed_key: bool,
}

impl Operator for Process {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.factory)]
    }

    #[allow(unused_variables)]
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::Process { fixed_key, .. } = self;
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
        let kids = e.children(node);
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
}

impl Emitter<'_> {
    /// The processor nodes' fields, their `Clone` values, the stores each
    /// is connected to (constants), and the `SubTopology` methods that run
    /// their time and punctuations.
    pub(crate) fn processor_parts(
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
            let NodeKind::Process(ops::Process { stores, .. }) = &self.graph.nodes[n].kind else {
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
    pub(crate) fn processor_init(&self, nodes: &[NodeId]) -> TokenStream {
        let pnodes: Vec<NodeId> = nodes
            .iter()
            .copied()
            .filter(|&n| {
                matches!(
                    self.graph.nodes[n].kind,
                    NodeKind::Process(ops::Process { .. })
                )
            })
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
    pub(crate) fn processor_methods(&self, node: NodeId) -> TokenStream {
        let p = &self.p;
        let (pr, fw, sch) = processor_fields(node);
        let f = field((node, 'f'));
        let connected = format_ident!("__WEIR_CONNECTED_{}", node);
        let ensure = format_ident!("ensure_processor{}", node);
        let punctuate = format_ident!("punctuate_processor{}", node);
        let kids = self.children(node);
        let fixed_key = matches!(
            self.graph.nodes[node].kind,
            NodeKind::Process(ops::Process {
                fixed_key: true,
                ..
            })
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
}

//! User processors: `process(..)`, `process_values(..)`.

use super::Operator;
use crate::ctxt::Errors;
use crate::emit::*;
use crate::graph::builder::{Args, Builder, Value};
use crate::graph::syntax::*;
use crate::graph::Node;
use crate::graph::{Graph, NodeId, NodeKind};
use crate::ops::dsl::{OpSpec, Shape, NAMED};
use crate::ops::{self, *};
use crate::plan::StoreUse;
use crate::plan::Types;
use proc_macro2::TokenStream;
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

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::Process { fixed_key, .. } = self;
        let p = &e.p;
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

    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let ops::Process { fixed_key, .. } = self;
        let Io {
            ik,
            iv,
            ok,
            ov,
            span,
            i,
            ..
        } = t;
        let (span, p) = (*span, &e.p);
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

    fn fields(&self, e: &Emitter<'_>, id: NodeId) -> Vec<Field> {
        let p = &e.p;
        let (pr, fw, sch) = processor_fields(id);
        let i = format_ident!("__WeirI{}", id);
        let (k, v) = e.output_types(id, &mut Generics::default());
        vec![
            Field::new(
                pr,
                quote!(::core::option::Option<#i>),
                quote!(::core::option::Option::None),
            ),
            Field::new(
                fw,
                quote!(::std::vec::Vec<(#k, #v, i64)>),
                quote!(::std::vec::Vec::new()),
            ),
            Field::new(
                sch,
                quote!(#p::Schedules),
                quote!(::core::default::Default::default()),
            ),
        ]
    }

    /// The stores it is connected to: `(name, index in the sub-topology,
    /// changelog)`, a constant its context reads.
    fn items(&self, e: &Emitter<'_>, id: NodeId) -> TokenStream {
        let p = &e.p;
        let connected = format_ident!("__WEIR_CONNECTED_{}", id);
        let entries = self.stores.iter().filter_map(|name| {
            let st = e.plan.stores.iter().find(|s| s.name == name.value())?;
            let (index, changelog) = (st.index_in_sub, st.changelog);
            Some(quote!((#name, #index, #changelog)))
        });
        quote! {
            #[allow(non_upper_case_globals)]
            const #connected: &[#p::ConnectedStore] = &[#(#entries),*];
        }
    }

    fn methods(&self, e: &Emitter<'_>, id: NodeId) -> TokenStream {
        e.processor_methods(id)
    }

    fn clocked(&self) -> bool {
        true
    }

    fn start(&self, id: NodeId) -> TokenStream {
        let ensure = format_ident!("ensure_processor{}", id);
        quote!(self.#ensure();)
    }

    fn punctuate(&self, id: NodeId) -> TokenStream {
        let punctuate = format_ident!("punctuate_processor{}", id);
        quote!(self.#punctuate(kind, now, out)?;)
    }

    fn types(
        &self,
        t: &mut Types,
        _node: &Node,
        _graph: &Graph,
        (k, _v): (usize, usize),
        _errors: &mut Errors,
    ) -> (usize, usize) {
        if self.fixed_key {
            (k, t.fresh(None))
        } else {
            (t.fresh(None), t.fresh(None))
        }
    }

    fn dsl_name(&self) -> &'static str {
        if self.fixed_key {
            "process_values"
        } else {
            "process"
        }
    }

    fn key(&self) -> KeyEffect {
        if self.fixed_key {
            KeyEffect::Passes
        } else {
            KeyEffect::Changes
        }
    }

    fn stores(&self, _node: &Node, _graph: &Graph) -> Vec<StoreUse> {
        self.stores
            .iter()
            .cloned()
            .map(StoreUse::Connects)
            .collect()
    }
}

impl Emitter<'_> {
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

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[
    OpSpec {
        name: "process",
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 16),
        options: NAMED,
        prefix: "KSTREAM-PROCESSOR-",
        usage: "process(|| MyProcessor::new(), \"store\", ..) with `MyProcessor: weir::Processor`",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_process,
    },
    OpSpec {
        name: "process_values",
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 16),
        options: NAMED,
        prefix: "KSTREAM-PROCESSVALUES-",
        usage: "process_values(|| MyProcessor::new(), \"store\", ..) with `MyProcessor: weir::FixedKeyProcessor`",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_process,
    },
    OpSpec {
        name: "add_state_store",
        on: Shape::Builder,
        gives: Shape::Builder,
        args: (1, 1),
        options: &["in_memory"],
        prefix: "",
        usage: "add_state_store(\"name\") or add_state_store(\"name\", in_memory())",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_add_state_store,
    },
];

/// `builder.add_state_store(name)`.
pub(crate) fn build_add_state_store(
    b: &mut Builder<'_>,
    a: &Args<'_>,
    value: Value,
) -> Option<Value> {
    let Args {
        positional, opts, ..
    } = *a;
    match value {
        Value::Builder => {
            match string_lit(&positional[0]) {
                Some(name) if !name.value().is_empty() => {
                    if b.graph
                        .state_stores
                        .iter()
                        .any(|(n, _)| n.value() == name.value())
                    {
                        b.errors.spanned(
                            &positional[0],
                            format!("a state store named `{}` was already added", name.value()),
                        );
                    } else {
                        b.graph.state_stores.push((name, opts.in_memory));
                    }
                }
                _ => b.errors.spanned(
                    &positional[0],
                    "a state store's name is a non-empty string literal",
                ),
            }
            Some(Value::Builder)
        }
        _ => None,
    }
}

/// `process(factory, stores..)` / `process_values(..)`.
pub(crate) fn build_process(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args {
        spec,
        positional,
        opts,
        span,
        ..
    } = *a;
    match value {
        Value::Stream(input) => {
            let mut stores = Vec::new();
            for arg in &positional[1..] {
                match string_lit(arg) {
                        Some(name)
                            if b
                                .graph
                                .state_stores
                                .iter()
                                .any(|(n, _)| n.value() == name.value()) =>
                        {
                            stores.push(name)
                        }
                        Some(name) => b.errors.spanned(
                            arg,
                            format!(
                                "no state store named `{}`: add it first with `builder.add_state_store(\"{}\")`",
                                name.value(),
                                name.value()
                            ),
                        ),
                        None => b.errors.spanned(
                            arg,
                            "name the processor's stores with string literals",
                        ),
                    }
            }
            let name = b.name_for(spec, opts);
            Some(Value::Stream(b.graph.add(
                NodeKind::Process(ops::Process {
                    factory: positional[0].clone(),
                    stores,
                    fixed_key: spec.name == "process_values",
                }),
                name,
                span,
                Some(input),
            )))
        }
        _ => None,
    }
}

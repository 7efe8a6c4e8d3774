//! Terminal outputs: `to(..)` and `print(..)`.

use crate::ctxt::Errors;
use crate::emit::*;
use crate::graph::{closure_arity, string_lit, valid_topic_name};
use crate::graph::{NodeId, NodeKind};
use crate::ops::dsl::{OpSpec, Shape, NAMED};
use crate::ops::{self, *};
use crate::parse::Call;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use syn::Expr;
use syn::LitStr;

/// `to(..)`.
#[derive(Clone)]
pub struct Sink {
    /// Topic or extractor.
    pub target: SinkTarget,
}

/// `print(..)`.
#[derive(Clone)]
pub struct Print {
    /// Line label.
    pub label: String,
}

/// Where a sink writes.
#[derive(Clone)]
pub enum SinkTarget {
    /// A fixed topic.
    Topic(LitStr),
    /// A closure choosing the topic per record, and how many parameters it takes.
    Extractor(Expr, Option<usize>),
}

impl Operator for Sink {
    fn closures(&self) -> Vec<(char, &Expr)> {
        match &self.target {
            SinkTarget::Extractor(f, _) => vec![('f', f)],
            SinkTarget::Topic(_) => Vec::new(),
        }
    }

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::Sink { target } = self;
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
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

    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let ops::Sink { target } = self;
        let Io {
            ik, iv, span, r, ..
        } = t;
        let (span, p) = (*span, &e.p);
        serde_bounds(g, span, ik.clone(), iv.clone());
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

    fn dsl_name(&self) -> &'static str {
        "to"
    }

    fn borrows(&self, _e: &Emitter<'_>, _id: NodeId) -> Borrow {
        Borrow::Yes
    }
}

impl Operator for Print {
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::Print { label } = self;
        let n = &e.graph.nodes[node];
        let name = &n.name;
        let label = if label.is_empty() {
            name.clone()
        } else {
            label.clone()
        };
        quote! { out.print(::core::format_args!("[{}]: {:?}, {:?}", #label, k, v)); }
    }

    fn bound(
        &self,
        _e: &Emitter<'_>,
        _id: NodeId,
        t: &Io,
        g: &mut Generics,
    ) -> Option<TokenStream> {
        let Io { ik, iv, span, .. } = t;
        let span = *span;
        g.bounds
            .push(quote_spanned!(span=> #ik: ::core::fmt::Debug));
        g.bounds
            .push(quote_spanned!(span=> #iv: ::core::fmt::Debug));
        None
    }

    fn dsl_name(&self) -> &'static str {
        "print"
    }

    fn borrows(&self, _e: &Emitter<'_>, _id: NodeId) -> Borrow {
        Borrow::Yes
    }
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[
    OpSpec {
        name: "to",
        on: Shape::Stream,
        gives: Shape::Terminal,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-SINK-",
        usage: "to(\"topic\") or to(|key, value, record_context| topic_name)",
        also_on: &[],
        args_on: &[],
        types: false,
        build: |b, a, v| b.stream_node(a, v, build_to),
    },
    OpSpec {
        name: "print",
        on: Shape::Stream,
        gives: Shape::Terminal,
        args: (0, 1),
        options: NAMED,
        prefix: "KSTREAM-PRINTER-",
        usage: "print() or print(\"label\")",
        also_on: &[],
        args_on: &[],
        types: false,
        build: |b, a, v| b.stream_node(a, v, build_print),
    },
];

fn build_to(_call: &Call, args: &[Expr], errors: &mut Errors) -> Option<NodeKind> {
    if let Some(topic) = string_lit(&args[0]) {
        if !valid_topic_name(&topic.value()) {
            errors.spanned(
                &topic,
                format!(
                    "invalid topic name {:?}: use 1 to 249 of [a-zA-Z0-9._-]",
                    topic.value()
                ),
            );
        }
        Some(NodeKind::Sink(Sink {
            target: SinkTarget::Topic(topic),
        }))
    } else if let Some(n) = closure_arity(&args[0]) {
        if !(2..=3).contains(&n) {
            errors.spanned(
                &args[0],
                "a topic extractor takes `|key, value|` or `|key, value, record_context|`",
            );
        }
        Some(NodeKind::Sink(Sink {
            target: SinkTarget::Extractor(args[0].clone(), Some(n)),
        }))
    } else {
        errors.spanned(&args[0], "`to` takes a topic name as a string literal, or a closure `|key, value, record_context| topic` choosing it per record");
        None
    }
}

fn build_print(_call: &Call, args: &[Expr], errors: &mut Errors) -> Option<NodeKind> {
    let label = match args.first() {
        None => String::new(),
        Some(a) => match string_lit(a) {
            Some(s) => s.value(),
            None => {
                errors.spanned(a, "`print` takes a label as a string literal");
                return None;
            }
        },
    };
    Some(NodeKind::Print(Print { label }))
}

//! Sources: `builder.stream::<K, V>(topics)`.

use crate::emit::*;
use crate::graph::{Graph, NodeId, NodeKind};
use crate::ops::{self, *};
use quote::quote_spanned;

use crate::graph::builder::{Args, Builder, Options, Value};
use crate::graph::syntax::*;
use crate::parse::Call;
use syn::{Expr, LitStr, Type};

/// Reads topics with the given key and value types.
#[derive(Clone)]
pub struct Source {
    /// Topics, in order.
    pub topics: Vec<LitStr>,
    /// Key type.
    pub key: Type,
    /// Value type.
    pub value: Type,
    /// `extract_timestamp(|key, value, record_context| ts)`, if given.
    pub extractor: Option<Expr>,
}

impl Operator for Source {
    fn closures(&self) -> Vec<(char, &Expr)> {
        self.extractor.iter().map(|f| ('f', f)).collect()
    }

    fn bound(&self, e: &Emitter<'_>, _id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let ops::Source { extractor, .. } = self;
        let Io { ok, ov, span, .. } = t;
        let (span, p) = (*span, &e.p);
        serde_bounds(g, span, ok.clone(), ov.clone());
        extractor
            .as_ref()
            .map(|_| quote_spanned!(span=> FnMut(&#ok, &#ov, &#p::RecordContext<'_>) -> i64))
    }

    fn types(
        &self,
        t: &mut Types,
        node: &Node,
        graph: &Graph,
        (_k, _v): (usize, usize),
        _errors: &mut Errors,
    ) -> (usize, usize) {
        let k = t.fresh(Some(self.key.clone()));
        let v = t.fresh(Some(self.value.clone()));
        // A table's topic is read with nullable values: tombstones.
        let table = node.outputs.first().is_some_and(|&o| {
            matches!(
                graph.nodes[o].kind,
                NodeKind::TableSource(TableSource {
                    from_topic: true,
                    ..
                })
            )
        });
        (k, if table { t.fresh_optional(v) } else { v })
    }

    fn dsl_name(&self) -> &'static str {
        "stream"
    }

    fn key(&self) -> KeyEffect {
        KeyEffect::Fixed
    }
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[OpSpec {
    name: "stream",
    on: Shape::Builder,
    gives: Shape::Stream,
    args: (1, 1),
    options: SOURCE,
    prefix: "KSTREAM-SOURCE-",
    usage: "stream::<K, V>(\"topic\") or stream::<K, V>([\"a\", \"b\"])",
    also_on: &[],
    args_on: &[],
    types: true,
    build: build_stream,
}];

impl Builder<'_> {
    pub(crate) fn source(
        &mut self,
        spec: &OpSpec,
        call: &Call,
        args: &[Expr],
        opts: &Options,
    ) -> Option<Value> {
        let types = call.types.clone().unwrap_or_default();
        let (key, value) = match <[Type; 2]>::try_from(types) {
            Ok([k, v]) => (k, v),
            Err(_) => {
                self.errors.spanned(
                    &call.tokens,
                    "a source needs its key and value types: `stream::<K, V>(\"topic\")` (use `()` for keys that are always null)",
                );
                return None;
            }
        };
        // `["a", "b"]` and `&["a", "b"]` alike.
        let arg = match &args[0] {
            Expr::Reference(r) if matches!(&*r.expr, Expr::Array(_)) => &*r.expr,
            e => e,
        };
        let topics: Vec<LitStr> = match arg {
            Expr::Array(a) => a
                .elems
                .iter()
                .filter_map(|e| {
                    let lit = string_lit(e);
                    if lit.is_none() {
                        self.errors
                            .spanned(e, "topic names must be string literals");
                    }
                    lit
                })
                .collect(),
            e => match string_lit(e) {
                Some(s) => vec![s],
                None => {
                    self.errors.spanned(
                        e,
                        "`stream` takes a topic name as a string literal, or an array of them",
                    );
                    return None;
                }
            },
        };
        if topics.is_empty() {
            self.errors
                .spanned(&args[0], "a source needs at least one topic");
            return None;
        }
        for t in &topics {
            if !valid_topic_name(&t.value()) {
                self.errors.spanned(
                    t,
                    format!(
                        "invalid topic name {:?}: use 1 to 249 of [a-zA-Z0-9._-]",
                        t.value()
                    ),
                );
            }
        }
        let name = self.name_for(spec, opts);
        let node = self.graph.add(
            NodeKind::Source(ops::Source {
                topics,
                key,
                value,
                extractor: opts.extractor.clone(),
            }),
            name,
            call.method.span(),
            None,
        );
        Some(Value::Stream(node))
    }
}

/// `builder.stream::<K, V>(topics)`.
pub(crate) fn build_stream(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args {
        spec,
        call,
        positional,
        opts,
        ..
    } = *a;
    match value {
        Value::Builder => b.source(spec, call, positional, opts),
        _ => None,
    }
}

//! Stateless record-at-a-time operators of a stream.

use crate::ctxt::Errors;
use crate::emit::*;
use crate::graph::builder::Value;
use crate::graph::Node;
use crate::graph::{Graph, NodeId, NodeKind};
use crate::ops::dsl::{expect_arity, KEY_VALUE};
use crate::ops::dsl::{OpSpec, Shape, NAMED};
use crate::ops::table::build_table_op;
use crate::ops::{self, *};
use crate::parse::Call;
use crate::plan::Types;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use syn::Expr;

/// `filter` (`negate: false`) or `filter_not` (`negate: true`).
#[derive(Clone)]
pub struct Filter {
    /// The predicate.
    pub f: Expr,
    /// True for `filter_not`.
    pub negate: bool,
}

/// `map`.
#[derive(Clone)]
pub struct Map {
    /// The mapper.
    pub f: Expr,
}

/// `map_values`.
#[derive(Clone)]
pub struct MapValues {
    /// The mapper.
    pub f: Expr,
    /// True when the closure takes `(key, value)`.
    pub with_key: bool,
}

/// `flat_map`.
#[derive(Clone)]
pub struct FlatMap {
    /// The mapper.
    pub f: Expr,
}

/// `flat_map_values`.
#[derive(Clone)]
pub struct FlatMapValues {
    /// The mapper.
    pub f: Expr,
    /// True when the closure takes `(key, value)`.
    pub with_key: bool,
}

/// `select_key`.
#[derive(Clone)]
pub struct SelectKey {
    /// The key selector.
    pub f: Expr,
}

/// `peek`.
#[derive(Clone)]
pub struct Peek {
    /// The action.
    pub f: Expr,
}

/// `foreach`.
#[derive(Clone)]
pub struct Foreach {
    /// The action.
    pub f: Expr,
}

impl Operator for Filter {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::Filter { negate, .. } = self;
        let f = format_ident!("f{}", node);
        let kids = e.children(node);
        let test = if *negate {
            quote!(!(self.#f)(&k, &v))
        } else {
            quote!((self.#f)(&k, &v))
        };
        quote! { if #test { #kids } }
    }

    fn bound(
        &self,
        _e: &Emitter<'_>,
        _id: NodeId,
        t: &Io,
        _g: &mut Generics,
    ) -> Option<TokenStream> {
        let Io { ik, iv, span, .. } = t;
        let span = *span;
        Some(quote_spanned!(span=> FnMut(&#ik, &#iv) -> bool))
    }

    fn dsl_name(&self) -> &'static str {
        if self.negate {
            "filter_not"
        } else {
            "filter"
        }
    }

    fn borrows(&self, _e: &Emitter<'_>, _id: NodeId) -> Borrow {
        Borrow::IfChildren
    }
}

impl Operator for Map {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let f = format_ident!("f{}", node);
        let kids = e.children(node);
        quote! { let (k, v) = (self.#f)(k, v); #kids }
    }

    fn bound(
        &self,
        _e: &Emitter<'_>,
        _id: NodeId,
        t: &Io,
        _g: &mut Generics,
    ) -> Option<TokenStream> {
        let Io {
            ik,
            iv,
            ok,
            ov,
            span,
            ..
        } = t;
        let span = *span;
        Some(quote_spanned!(span=> FnMut(#ik, #iv) -> (#ok, #ov)))
    }

    fn types(
        &self,
        t: &mut Types,
        _node: &Node,
        _graph: &Graph,
        (_k, _v): (usize, usize),
        _errors: &mut Errors,
    ) -> (usize, usize) {
        (t.fresh(None), t.fresh(None))
    }

    fn dsl_name(&self) -> &'static str {
        "map"
    }

    fn key(&self) -> KeyEffect {
        KeyEffect::Changes
    }
}

impl Operator for MapValues {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::MapValues { with_key, .. } = self;
        let f = format_ident!("f{}", node);
        let kids = e.children(node);
        let call = if *with_key {
            quote!((self.#f)(&k, v))
        } else {
            quote!((self.#f)(v))
        };
        quote! { let v = #call; #kids }
    }

    fn bound(
        &self,
        _e: &Emitter<'_>,
        _id: NodeId,
        t: &Io,
        _g: &mut Generics,
    ) -> Option<TokenStream> {
        let Io {
            ik, iv, ov, span, ..
        } = t;
        let span = *span;
        Some(if self.with_key {
            quote_spanned!(span=> FnMut(&#ik, #iv) -> #ov)
        } else {
            quote_spanned!(span=> FnMut(#iv) -> #ov)
        })
    }

    fn types(
        &self,
        t: &mut Types,
        _node: &Node,
        _graph: &Graph,
        (k, _v): (usize, usize),
        _errors: &mut Errors,
    ) -> (usize, usize) {
        (k, t.fresh(None))
    }

    fn dsl_name(&self) -> &'static str {
        "map_values"
    }
}

impl Operator for FlatMap {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let f = format_ident!("f{}", node);
        let kids = e.children(node);
        quote! { for (k, v) in (self.#f)(k, v) { #kids } }
    }

    fn bound(&self, _e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let Io {
            ik,
            iv,
            ok,
            ov,
            span,
            i,
            ..
        } = t;
        let span = *span;
        g.iters.push(id);
        g.bounds
            .push(quote_spanned!(span=> #i: ::core::iter::IntoIterator<Item = (#ok, #ov)>));
        Some(quote_spanned!(span=> FnMut(#ik, #iv) -> #i))
    }

    fn types(
        &self,
        t: &mut Types,
        _node: &Node,
        _graph: &Graph,
        (_k, _v): (usize, usize),
        _errors: &mut Errors,
    ) -> (usize, usize) {
        (t.fresh(None), t.fresh(None))
    }

    fn dsl_name(&self) -> &'static str {
        "flat_map"
    }

    fn key(&self) -> KeyEffect {
        KeyEffect::Changes
    }
}

impl Operator for FlatMapValues {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::FlatMapValues { with_key, .. } = self;
        let f = format_ident!("f{}", node);
        let kids = e.children(node);
        let call = if *with_key {
            quote!((self.#f)(&k, v))
        } else {
            quote!((self.#f)(v))
        };
        // The key is cloned for every value but the last, which takes
        // it. Inline (no closure), so the chain stays one function.
        quote! {
            let mut values = ::core::iter::IntoIterator::into_iter(#call);
            let mut next = ::core::iter::Iterator::next(&mut values);
            let mut key = ::core::option::Option::Some(k);
            while let ::core::option::Option::Some(v) = next {
                next = ::core::iter::Iterator::next(&mut values);
                let k = if next.is_some() { ::core::clone::Clone::clone(&key) } else { key.take() };
                let ::core::option::Option::Some(k) = k else { break };
                #kids
            }
        }
    }

    fn bound(&self, _e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let ops::FlatMapValues { with_key, .. } = self;
        let Io {
            ik,
            iv,
            ov,
            span,
            i,
            ..
        } = t;
        let span = *span;
        g.iters.push(id);
        g.bounds
            .push(quote_spanned!(span=> #i: ::core::iter::IntoIterator<Item = #ov>));
        g.bounds
            .push(quote_spanned!(span=> #ik: ::core::clone::Clone));
        Some(if *with_key {
            quote_spanned!(span=> FnMut(&#ik, #iv) -> #i)
        } else {
            quote_spanned!(span=> FnMut(#iv) -> #i)
        })
    }

    fn types(
        &self,
        t: &mut Types,
        _node: &Node,
        _graph: &Graph,
        (k, _v): (usize, usize),
        _errors: &mut Errors,
    ) -> (usize, usize) {
        (k, t.fresh(None))
    }

    fn dsl_name(&self) -> &'static str {
        "flat_map_values"
    }
}

impl Operator for SelectKey {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let f = format_ident!("f{}", node);
        let kids = e.children(node);
        quote! { let k = (self.#f)(&k, &v); #kids }
    }

    fn bound(
        &self,
        _e: &Emitter<'_>,
        _id: NodeId,
        t: &Io,
        _g: &mut Generics,
    ) -> Option<TokenStream> {
        let Io {
            ik, iv, ok, span, ..
        } = t;
        let span = *span;
        Some(quote_spanned!(span=> FnMut(&#ik, &#iv) -> #ok))
    }

    fn types(
        &self,
        t: &mut Types,
        _node: &Node,
        _graph: &Graph,
        (_k, v): (usize, usize),
        _errors: &mut Errors,
    ) -> (usize, usize) {
        (t.fresh(None), v)
    }

    fn dsl_name(&self) -> &'static str {
        "select_key"
    }

    fn key(&self) -> KeyEffect {
        KeyEffect::Changes
    }
}

impl Operator for Peek {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let f = format_ident!("f{}", node);
        let kids = e.children(node);
        quote! { (self.#f)(&k, &v); #kids }
    }

    fn bound(
        &self,
        _e: &Emitter<'_>,
        _id: NodeId,
        t: &Io,
        _g: &mut Generics,
    ) -> Option<TokenStream> {
        let Io { ik, iv, span, .. } = t;
        let span = *span;
        Some(quote_spanned!(span=> FnMut(&#ik, &#iv)))
    }

    fn dsl_name(&self) -> &'static str {
        "peek"
    }

    fn borrows(&self, _e: &Emitter<'_>, _id: NodeId) -> Borrow {
        Borrow::IfChildren
    }
}

impl Operator for Foreach {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    fn flow(&self, _e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let f = format_ident!("f{}", node);
        quote! { (self.#f)(k, v); }
    }

    fn bound(
        &self,
        _e: &Emitter<'_>,
        _id: NodeId,
        t: &Io,
        _g: &mut Generics,
    ) -> Option<TokenStream> {
        let Io { ik, iv, span, .. } = t;
        let span = *span;
        Some(quote_spanned!(span=> FnMut(#ik, #iv)))
    }

    fn dsl_name(&self) -> &'static str {
        "foreach"
    }
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[
    OpSpec {
        name: "filter",
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-FILTER-",
        usage: "filter(|key, value| -> bool)",
        also_on: &[Shape::Table],
        args_on: &[],
        types: false,
        build: |b, a, v| match v {
            Value::Table(input) => build_table_op(b, a, Value::Table(input)),
            v => b.stream_node(a, v, build_filter),
        },
    },
    OpSpec {
        name: "filter_not",
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-FILTER-",
        usage: "filter_not(|key, value| -> bool)",
        also_on: &[Shape::Table],
        args_on: &[],
        types: false,
        build: |b, a, v| match v {
            Value::Table(input) => build_table_op(b, a, Value::Table(input)),
            v => b.stream_node(a, v, build_filter),
        },
    },
    OpSpec {
        name: "map",
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-MAP-",
        usage: "map(|key, value| (new_key, new_value))",
        also_on: &[],
        args_on: &[],
        types: false,
        build: |b, a, v| b.stream_node(a, v, build_map),
    },
    OpSpec {
        name: "map_values",
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-MAPVALUES-",
        usage: "map_values(|value| new_value) or map_values(|key, value| new_value)",
        also_on: &[Shape::Table],
        args_on: &[],
        types: false,
        build: |b, a, v| match v {
            Value::Table(input) => build_table_op(b, a, Value::Table(input)),
            v => b.stream_node(a, v, build_map_values),
        },
    },
    OpSpec {
        name: "flat_map",
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-FLATMAP-",
        usage: "flat_map(|key, value| iterator of (key, value))",
        also_on: &[],
        args_on: &[],
        types: false,
        build: |b, a, v| b.stream_node(a, v, build_flat_map),
    },
    OpSpec {
        name: "flat_map_values",
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-FLATMAPVALUES-",
        usage: "flat_map_values(|value| iterator of values) or flat_map_values(|key, value| ..)",
        also_on: &[],
        args_on: &[],
        types: false,
        build: |b, a, v| b.stream_node(a, v, build_flat_map_values),
    },
    OpSpec {
        name: "select_key",
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-KEY-SELECT-",
        usage: "select_key(|key, value| new_key)",
        also_on: &[],
        args_on: &[],
        types: false,
        build: |b, a, v| b.stream_node(a, v, build_select_key),
    },
    OpSpec {
        name: "peek",
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-PEEK-",
        usage: "peek(|key, value| { .. })",
        also_on: &[],
        args_on: &[],
        types: false,
        build: |b, a, v| b.stream_node(a, v, build_peek),
    },
    OpSpec {
        name: "foreach",
        on: Shape::Stream,
        gives: Shape::Terminal,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-FOREACH-",
        usage: "foreach(|key, value| { .. })",
        also_on: &[],
        args_on: &[],
        types: false,
        build: |b, a, v| b.stream_node(a, v, build_foreach),
    },
];

fn build_filter(call: &Call, args: &[Expr], errors: &mut Errors) -> Option<NodeKind> {
    expect_arity(call, args, errors, &[2], KEY_VALUE);
    Some(NodeKind::Filter(Filter {
        f: args[0].clone(),
        negate: call.method == "filter_not",
    }))
}

fn build_map(call: &Call, args: &[Expr], errors: &mut Errors) -> Option<NodeKind> {
    expect_arity(call, args, errors, &[2], KEY_VALUE);
    Some(NodeKind::Map(Map { f: args[0].clone() }))
}

fn build_map_values(call: &Call, args: &[Expr], errors: &mut Errors) -> Option<NodeKind> {
    expect_arity(call, args, errors, &[1, 2], "`|value|` or `|key, value|`");
    Some(NodeKind::MapValues(MapValues {
        f: args[0].clone(),
        with_key: crate::graph::closure_arity(&args[0]) == Some(2),
    }))
}

fn build_flat_map(call: &Call, args: &[Expr], errors: &mut Errors) -> Option<NodeKind> {
    expect_arity(call, args, errors, &[2], KEY_VALUE);
    Some(NodeKind::FlatMap(FlatMap { f: args[0].clone() }))
}

fn build_flat_map_values(call: &Call, args: &[Expr], errors: &mut Errors) -> Option<NodeKind> {
    expect_arity(call, args, errors, &[1, 2], "`|value|` or `|key, value|`");
    Some(NodeKind::FlatMapValues(FlatMapValues {
        f: args[0].clone(),
        with_key: crate::graph::closure_arity(&args[0]) == Some(2),
    }))
}

fn build_select_key(call: &Call, args: &[Expr], errors: &mut Errors) -> Option<NodeKind> {
    expect_arity(call, args, errors, &[2], KEY_VALUE);
    Some(NodeKind::SelectKey(SelectKey { f: args[0].clone() }))
}

fn build_peek(call: &Call, args: &[Expr], errors: &mut Errors) -> Option<NodeKind> {
    expect_arity(call, args, errors, &[2], KEY_VALUE);
    Some(NodeKind::Peek(Peek { f: args[0].clone() }))
}

fn build_foreach(call: &Call, args: &[Expr], errors: &mut Errors) -> Option<NodeKind> {
    expect_arity(call, args, errors, &[2], KEY_VALUE);
    Some(NodeKind::Foreach(Foreach { f: args[0].clone() }))
}

#[cfg(test)]
mod tests {
    use crate::compile_for_test as compile;
    use crate::graph::NodeKind;
    use quote::quote;

    #[test]
    fn builds_its_nodes_and_checks_closure_arity() {
        let c = compile(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                builder.stream::<String, String>("in")
                    .filter_not(|_k, v| v.is_empty())
                    .map_values(|k, v| v.len() as i64)
                    .to("out");
                builder.build()
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&c.graph.nodes[1].kind, NodeKind::Filter(f) if f.negate));
        assert!(matches!(&c.graph.nodes[2].kind, NodeKind::MapValues(m) if m.with_key));
        assert_eq!(c.graph.nodes[1].kind.op().dsl_name(), "filter_not");
        let err = compile(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                builder.stream::<String, String>("in").peek(|v| ()).to("out");
                builder.build()
            }
        })
        .err()
        .expect("an arity error");
        assert_eq!(
            err.to_string(),
            "`peek` takes a closure with two parameters `|key, value|`, this one has 1 parameter(s)"
        );
    }
}

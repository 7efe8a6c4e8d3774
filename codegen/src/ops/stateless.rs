//! Stateless record-at-a-time operators of a stream.

#[allow(unused_imports)]
use crate::emit::*;
#[allow(unused_imports)]
use crate::graph::{Graph, NodeId, NodeKind};
#[allow(unused_imports)]
use crate::ops::{self, *};
#[allow(unused_imports)]
use crate::ctxt::Errors;
#[allow(unused_imports)]
use crate::graph::Node;
#[allow(unused_imports)]
use crate::plan::Types;
#[allow(unused_imports)]
use quote::ToTokens;
use proc_macro2::TokenStream;
#[allow(unused_imports)]
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

    #[allow(unused_variables)]
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::Filter { negate, .. } = self;
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
        let kids = e.children(node);
        let test = if *negate {
            quote!(!(self.#f)(&k, &v))
        } else {
            quote!((self.#f)(&k, &v))
        };
        quote! { if #test { #kids } }
    }

    #[allow(unused_variables)]
    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let Io {
            ik,
            iv,
            ok,
            ov,
            span,
            i,
            r,
        } = t;
        let (span, p, node) = (*span, &e.p, &e.graph.nodes[id]);
        Some(quote_spanned!(span=> FnMut(&#ik, &#iv) -> bool))
    }

    fn dsl_name(&self) -> &'static str {
        if self.negate { "filter_not" } else { "filter" }
    }

    fn borrows(&self, e: &Emitter<'_>, id: NodeId) -> Borrow {
        let _ = (e, id);
        Borrow::IfChildren
    }
}

impl Operator for Map {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    #[allow(unused_variables)]
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
        let kids = e.children(node);
        quote! { let (k, v) = (self.#f)(k, v); #kids }
    }

    #[allow(unused_variables)]
    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let Io {
            ik,
            iv,
            ok,
            ov,
            span,
            i,
            r,
        } = t;
        let (span, p, node) = (*span, &e.p, &e.graph.nodes[id]);
        Some(quote_spanned!(span=> FnMut(#ik, #iv) -> (#ok, #ov)))
    }

    fn types(&self, t: &mut Types, node: &Node, graph: &Graph, (k, v): (usize, usize), errors: &mut Errors) -> (usize, usize) {
        let _ = (node, graph, errors);
        let _ = (k, v);
        (t.fresh(None), t.fresh(None))
    }

    fn dsl_name(&self) -> &'static str {
        "map"
    }
}

impl Operator for MapValues {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    #[allow(unused_variables)]
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::MapValues { with_key, .. } = self;
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
        let kids = e.children(node);
        let call = if *with_key {
            quote!((self.#f)(&k, v))
        } else {
            quote!((self.#f)(v))
        };
        quote! { let v = #call; #kids }
    }

    #[allow(unused_variables)]
    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
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

    fn types(&self, t: &mut Types, node: &Node, graph: &Graph, (k, v): (usize, usize), errors: &mut Errors) -> (usize, usize) {
        let _ = (node, graph, errors);
        let _ = v;
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

    #[allow(unused_variables)]
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
        let kids = e.children(node);
        quote! { for (k, v) in (self.#f)(k, v) { #kids } }
    }

    #[allow(unused_variables)]
    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let Io {
            ik,
            iv,
            ok,
            ov,
            span,
            i,
            r,
        } = t;
        let (span, p, node) = (*span, &e.p, &e.graph.nodes[id]);
        g.iters.push(id);
        g.bounds
            .push(quote_spanned!(span=> #i: ::core::iter::IntoIterator<Item = (#ok, #ov)>));
        Some(quote_spanned!(span=> FnMut(#ik, #iv) -> #i))
    }

    fn types(&self, t: &mut Types, node: &Node, graph: &Graph, (k, v): (usize, usize), errors: &mut Errors) -> (usize, usize) {
        let _ = (node, graph, errors);
        let _ = (k, v);
        (t.fresh(None), t.fresh(None))
    }

    fn dsl_name(&self) -> &'static str {
        "flat_map"
    }
}

impl Operator for FlatMapValues {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    #[allow(unused_variables)]
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let ops::FlatMapValues { with_key, .. } = self;
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
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

    #[allow(unused_variables)]
    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let ops::FlatMapValues { with_key, .. } = self;
        let Io {
            ik,
            iv,
            ok,
            ov,
            span,
            i,
            r,
        } = t;
        let (span, p, node) = (*span, &e.p, &e.graph.nodes[id]);
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

    fn types(&self, t: &mut Types, node: &Node, graph: &Graph, (k, v): (usize, usize), errors: &mut Errors) -> (usize, usize) {
        let _ = (node, graph, errors);
        let _ = v;
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

    #[allow(unused_variables)]
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
        let kids = e.children(node);
        quote! { let k = (self.#f)(&k, &v); #kids }
    }

    #[allow(unused_variables)]
    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let Io {
            ik,
            iv,
            ok,
            ov,
            span,
            i,
            r,
        } = t;
        let (span, p, node) = (*span, &e.p, &e.graph.nodes[id]);
        Some(quote_spanned!(span=> FnMut(&#ik, &#iv) -> #ok))
    }

    fn types(&self, t: &mut Types, node: &Node, graph: &Graph, (k, v): (usize, usize), errors: &mut Errors) -> (usize, usize) {
        let _ = (node, graph, errors);
        let _ = k;
        (t.fresh(None), v)
    }

    fn dsl_name(&self) -> &'static str {
        "select_key"
    }
}

impl Operator for Peek {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    #[allow(unused_variables)]
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
        let kids = e.children(node);
        quote! { (self.#f)(&k, &v); #kids }
    }

    #[allow(unused_variables)]
    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let Io {
            ik,
            iv,
            ok,
            ov,
            span,
            i,
            r,
        } = t;
        let (span, p, node) = (*span, &e.p, &e.graph.nodes[id]);
        Some(quote_spanned!(span=> FnMut(&#ik, &#iv)))
    }

    fn dsl_name(&self) -> &'static str {
        "peek"
    }

    fn borrows(&self, e: &Emitter<'_>, id: NodeId) -> Borrow {
        let _ = (e, id);
        Borrow::IfChildren
    }
}

impl Operator for Foreach {
    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.f)]
    }

    #[allow(unused_variables)]
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
        quote! { (self.#f)(k, v); }
    }

    #[allow(unused_variables)]
    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let Io {
            ik,
            iv,
            ok,
            ov,
            span,
            i,
            r,
        } = t;
        let (span, p, node) = (*span, &e.p, &e.graph.nodes[id]);
        Some(quote_spanned!(span=> FnMut(#ik, #iv)))
    }

    fn dsl_name(&self) -> &'static str {
        "foreach"
    }
}

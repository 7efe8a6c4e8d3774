//! `split()` and its branches.

#[allow(unused_imports)]
use crate::emit::*;
#[allow(unused_imports)]
use crate::graph::{Graph, NodeId, NodeKind};
#[allow(unused_imports)]
use crate::ops::dsl::{Op, OpSpec, Shape, NAMED, SOURCE, STORE};
#[allow(unused_imports)]
use crate::ops::{self, *};
use proc_macro2::TokenStream;
#[allow(unused_imports)]
use quote::{format_ident, quote, quote_spanned};

use syn::Expr;

/// `split()`: routes each record to the first branch whose predicate holds.
#[derive(Clone)]
pub struct Split;

/// A branch of a split (a pass-through node); `pred: None` is the default branch.
#[derive(Clone)]
pub struct Branch {
    /// The predicate.
    pub pred: Option<Expr>,
    /// The key the branch is indexed by.
    pub key: String,
}

impl Operator for Split {
    #[allow(unused_variables)]
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let p = &e.p;
        let n = &e.graph.nodes[node];
        let f = format_ident!("f{}", node);
        let name = &n.name;
        let mut arms = TokenStream::new();
        let mut default = None;
        for &b in &n.outputs {
            let body = e.flow(b);
            match &e.graph.nodes[b].kind {
                NodeKind::Branch(ops::Branch { pred: Some(_), .. }) => {
                    let fb = format_ident!("f{}", b);
                    if !arms.is_empty() {
                        arms.extend(quote!(else));
                    }
                    arms.extend(quote! { if (self.#fb)(&k, &v) { #body } });
                }
                _ => default = Some(body),
            }
        }
        match (arms.is_empty(), default) {
            (true, Some(d)) => d,
            (false, Some(d)) => quote! { #arms else { #d } },
            (_, None) => arms,
        }
    }

    fn dsl_name(&self) -> &'static str {
        "split"
    }

    fn borrows(&self, e: &Emitter<'_>, id: NodeId) -> Borrow {
        let _ = (e, id);
        Borrow::IfChildren
    }
}

impl Operator for Branch {
    fn closures(&self) -> Vec<(char, &Expr)> {
        self.pred.iter().map(|f| ('f', f)).collect()
    }

    #[allow(unused_variables)]
    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        self.pred.as_ref()?;
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
        "branch"
    }

    fn borrows(&self, e: &Emitter<'_>, id: NodeId) -> Borrow {
        let _ = (e, id);
        Borrow::IfChildren
    }
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[
    OpSpec {
        name: "split",
        op: Op::Split,
        on: Shape::Stream,
        gives: Shape::Split,
        args: (0, 0),
        options: NAMED,
        prefix: "KSTREAM-BRANCH-",
        usage: "split() or split(named(\"prefix-\"))",
        node: None,
    },
    OpSpec {
        name: "branch",
        op: Op::Branch,
        on: Shape::Split,
        gives: Shape::Split,
        args: (1, 2),
        options: &[],
        prefix: "",
        usage: "branch(\"name\", |key, value| -> bool) or branch(|key, value| -> bool)",
        node: None,
    },
    OpSpec {
        name: "default_branch",
        op: Op::DefaultBranch,
        on: Shape::Split,
        gives: Shape::Branches,
        args: (0, 1),
        options: &[],
        prefix: "",
        usage: "default_branch() or default_branch(\"name\")",
        node: None,
    },
    OpSpec {
        name: "no_default_branch",
        op: Op::NoDefaultBranch,
        on: Shape::Split,
        gives: Shape::Branches,
        args: (0, 0),
        options: &[],
        prefix: "",
        usage: "no_default_branch()",
        node: None,
    },
];

//! `split()` and its branches.

use crate::emit::*;
use crate::graph::builder::{Args, Builder, Value};
use crate::graph::syntax::*;
use crate::graph::{NodeId, NodeKind};
use crate::ops::dsl::{OpSpec, Shape, NAMED};
use crate::ops::{self, *};
use crate::parse::Call;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::LitStr;

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
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let n = &e.graph.nodes[node];
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

    fn borrows(&self, _e: &Emitter<'_>, _id: NodeId) -> Borrow {
        Borrow::IfChildren
    }

    /// Each record goes to its first branch whose predicate holds.
    fn fans_out(&self) -> bool {
        false
    }
}

impl Operator for Branch {
    fn closures(&self) -> Vec<(char, &Expr)> {
        self.pred.iter().map(|f| ('f', f)).collect()
    }

    fn bound(
        &self,
        _e: &Emitter<'_>,
        _id: NodeId,
        t: &Io,
        _g: &mut Generics,
    ) -> Option<TokenStream> {
        self.pred.as_ref()?;
        let Io { ik, iv, span, .. } = t;
        let span = *span;
        Some(quote_spanned!(span=> FnMut(&#ik, &#iv) -> bool))
    }

    fn dsl_name(&self) -> &'static str {
        "branch"
    }

    fn borrows(&self, _e: &Emitter<'_>, _id: NodeId) -> Borrow {
        Borrow::IfChildren
    }
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[
    OpSpec {
        name: "split",
        on: Shape::Stream,
        gives: Shape::Split,
        args: (0, 0),
        options: NAMED,
        prefix: "KSTREAM-BRANCH-",
        usage: "split() or split(named(\"prefix-\"))",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_split,
    },
    OpSpec {
        name: "branch",
        on: Shape::Split,
        gives: Shape::Split,
        args: (1, 2),
        options: &[],
        prefix: "",
        usage: "branch(\"name\", |key, value| -> bool) or branch(|key, value| -> bool)",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_branch,
    },
    OpSpec {
        name: "default_branch",
        on: Shape::Split,
        gives: Shape::Branches,
        args: (0, 1),
        options: &[],
        prefix: "",
        usage: "default_branch() or default_branch(\"name\")",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_branch,
    },
    OpSpec {
        name: "no_default_branch",
        on: Shape::Split,
        gives: Shape::Branches,
        args: (0, 0),
        options: &[],
        prefix: "",
        usage: "no_default_branch()",
        also_on: &[],
        args_on: &[],
        types: false,
        build: build_branch,
    },
];

impl Builder<'_> {
    pub(crate) fn branch(
        &mut self,
        spec: &OpSpec,
        call: &Call,
        args: &[Expr],
        split: NodeId,
        position: usize,
    ) -> Option<Value> {
        let (key, pred) = match spec.name {
            "branch" if args.len() == 2 => {
                match string_lit(&args[0]) {
                    Some(s) => (Some(s), Some(args[1].clone())),
                    None => {
                        self.errors.spanned(&args[0], "a branch name must be a string literal: branch(\"name\", |key, value| ..)");
                        return None;
                    }
                }
            }
            "branch" => (None, Some(args[0].clone())),
            "default_branch" => match args.first() {
                Some(a) => match string_lit(a) {
                    Some(s) => (Some(s), None),
                    None => {
                        self.errors
                            .spanned(a, "a branch name must be a string literal");
                        return None;
                    }
                },
                None => (None, None),
            },
            _ => return Some(Value::Branches { node: split }),
        };
        if let Some(p) = &pred {
            if let Some(n) = closure_arity(p) {
                if n != 2 {
                    self.errors.spanned(p, format!("a branch predicate takes `|key, value|`, this one has {n} parameter(s)"));
                }
            }
        }
        let key_str = key
            .as_ref()
            .map(LitStr::value)
            .unwrap_or_else(|| position.to_string());
        let duplicate = self.graph.nodes[split].outputs.iter().any(|&b| {
            matches!(&self.graph.nodes[b].kind, NodeKind::Branch(ops::Branch { key, .. }) if *key == key_str)
        });
        if duplicate {
            let message = format!("duplicate branch name `{key_str}` in this split");
            match &key {
                Some(k) => self.errors.spanned(k, message),
                None => self.errors.spanned(&call.tokens, message),
            }
            // Not added: its node name would clash too, and say nothing new.
            return Some(if spec.name == "default_branch" {
                Value::Branches { node: split }
            } else {
                Value::Split {
                    node: split,
                    position: position + 1,
                }
            });
        }
        let name = format!("{}{key_str}", self.graph.nodes[split].name);
        self.graph.add(
            NodeKind::Branch(ops::Branch { pred, key: key_str }),
            name,
            call.method.span(),
            Some(split),
        );
        Some(if spec.name == "default_branch" {
            Value::Branches { node: split }
        } else {
            Value::Split {
                node: split,
                position: position + 1,
            }
        })
    }
    pub(crate) fn index(&mut self, value: Value, key: &Expr) -> Option<Value> {
        let Some(key) = string_lit(key) else {
            self.errors.spanned(
                key,
                "index the branches of a split with a string literal: branches[\"name\"]",
            );
            return None;
        };
        let key = &key;
        if let Value::Split { .. } = value {
            self.errors.spanned(key, "end the split with `default_branch(..)` or `no_default_branch()` before indexing its branches");
            return None;
        }
        let Value::Branches { node } = value else {
            self.errors.spanned(
                key,
                format!(
                    "only the branches of a split can be indexed, not {}",
                    value.shape().describe()
                ),
            );
            return None;
        };
        let branches: Vec<(String, NodeId)> = self.graph.nodes[node]
            .outputs
            .iter()
            .filter_map(|&b| match &self.graph.nodes[b].kind {
                NodeKind::Branch(ops::Branch { key, .. }) => Some((key.clone(), b)),
                _ => None,
            })
            .collect();
        match branches.iter().find(|(k, _)| *k == key.value()) {
            Some((_, b)) => Some(Value::Stream(*b)),
            None => {
                let known: Vec<String> = branches.iter().map(|(k, _)| format!("`{k}`")).collect();
                self.errors.spanned(
                    key,
                    format!(
                        "no branch named `{}`; branches: {}",
                        key.value(),
                        known.join(", ")
                    ),
                );
                None
            }
        }
    }
}

/// `split()`.
pub(crate) fn build_split(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args {
        spec, opts, span, ..
    } = *a;
    match value {
        Value::Stream(input) => {
            let name = b.name_for(spec, opts);
            let node = b
                .graph
                .add(NodeKind::Split(ops::Split), name, span, Some(input));
            Some(Value::Split { node, position: 1 })
        }
        _ => None,
    }
}

/// `branch(..)`, `default_branch(..)`, `no_default_branch()`.
pub(crate) fn build_branch(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Args {
        spec,
        call,
        positional,
        ..
    } = *a;
    match value {
        Value::Split { node, position } => b.branch(spec, call, positional, node, position),
        _ => None,
    }
}

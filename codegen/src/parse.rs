//! Parse: the `#[topology]` function's tokens into a model that keeps spans.
//!
//! The body is read as a sequence of statements. `let b = StreamsBuilder::new();`
//! names the builder; statements whose expression is a method chain rooted at
//! the builder or at a name bound to a stream are the topology; the tail
//! `b.build()` ends it. Any other statement is kept verbatim and runs before
//! the topology is constructed (closures may capture what it binds).

use crate::ctxt::Errors;
use proc_macro2::Span;
use quote::ToTokens;
use syn::{Expr, Ident, ItemFn, Pat, Stmt, Type};

/// The parsed `#[topology]` function.
pub struct TopologyFn {
    /// The function, its body to be replaced.
    pub item: ItemFn,
    /// The identifier bound to `StreamsBuilder::new()`.
    pub builder: Ident,
    /// Topology statements and kept statements, in order.
    pub statements: Vec<Statement>,
    /// Span of the tail `build` call.
    pub build_span: Span,
}

/// One statement of the body.
pub enum Statement {
    /// `let name = <chain>;`
    Let {
        /// The bound name.
        name: Ident,
        /// What it is bound to.
        chain: Chain,
    },
    /// `<chain>;`
    Chain(Chain),
    /// A statement that is not part of the topology, kept as written.
    Kept(Box<Stmt>),
}

/// A method chain `root.op(..).op(..)[..]`.
#[derive(Clone)]
pub struct Chain {
    /// The name the chain starts from.
    pub root: Ident,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One step of a chain.
#[derive(Clone)]
pub enum Step {
    /// `.name::<T..>(args)`
    Call(Call),
    /// `["branch"]` on the result of a `split` (checked to be a literal later).
    Index(Box<Expr>),
}

/// A method call in a chain.
#[derive(Clone)]
pub struct Call {
    /// The method name (its span is the operator's span).
    pub method: Ident,
    /// Turbofish types, if any.
    pub types: Option<Vec<Type>>,
    /// Arguments.
    pub args: Vec<Expr>,
    /// The call's tokens (`name::<..>(args)`), for errors that underline it.
    pub tokens: proc_macro2::TokenStream,
}

/// Reads a chain out of an expression, if it is one rooted at a plain name.
pub fn chain_of(expr: &Expr) -> Option<Chain> {
    match expr {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => {
            let root = p.path.get_ident()?.clone();
            Some(Chain {
                root,
                steps: Vec::new(),
            })
        }
        Expr::MethodCall(m) => {
            let mut chain = chain_of(&m.receiver)?;
            let types = m.turbofish.as_ref().map(|t| {
                t.args
                    .iter()
                    .filter_map(|a| match a {
                        syn::GenericArgument::Type(ty) => Some(ty.clone()),
                        _ => None,
                    })
                    .collect()
            });
            let mut tokens = m.method.to_token_stream();
            m.turbofish.to_tokens(&mut tokens);
            m.paren_token.surround(&mut tokens, |t| m.args.to_tokens(t));
            chain.steps.push(Step::Call(Call {
                method: m.method.clone(),
                types,
                args: m.args.iter().cloned().collect(),
                tokens,
            }));
            Some(chain)
        }
        Expr::Index(i) => {
            let mut chain = chain_of(&i.expr)?;
            chain.steps.push(Step::Index(i.index.clone()));
            Some(chain)
        }
        Expr::Paren(p) => chain_of(&p.expr),
        _ => None,
    }
}

fn is_builder_new(expr: &Expr) -> bool {
    if let Expr::Call(c) = expr {
        if let Expr::Path(p) = &*c.func {
            let segs: Vec<String> = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            return c.args.is_empty()
                && segs.len() >= 2
                && segs[segs.len() - 2] == "StreamsBuilder"
                && segs[segs.len() - 1] == "new";
        }
    }
    false
}

fn binding_name(pat: &Pat) -> Option<Ident> {
    match pat {
        Pat::Ident(p) if p.subpat.is_none() => Some(p.ident.clone()),
        Pat::Type(t) => binding_name(&t.pat),
        _ => None,
    }
}

/// The first topology name that `tokens` mention, looking inside groups.
fn mentions(tokens: proc_macro2::TokenStream, names: &[Ident]) -> Option<Ident> {
    tokens.into_iter().find_map(|t| match t {
        proc_macro2::TokenTree::Ident(i) if names.contains(&i) => Some(i),
        proc_macro2::TokenTree::Group(g) => mentions(g.stream(), names),
        _ => None,
    })
}

/// Keeps a statement that is not part of the topology, unless it uses a
/// stream: the topology is fixed at compile time, so streams live only in
/// the function's top-level statements.
fn kept(stmt: Stmt, dsl_names: &[Ident], statements: &mut Vec<Statement>, errors: &mut Errors) {
    if let Some(name) = mentions(stmt.to_token_stream(), dsl_names) {
        errors.spanned(
            &name,
            format!(
                "`{name}` is part of the topology, which is fixed at compile time: use it only in \
                 top-level statements of the function (route records with `filter` or `split` instead of `if`)"
            ),
        );
    }
    statements.push(Statement::Kept(Box::new(stmt)));
}

/// Parses the function. Errors are collected into `errors`.
pub fn parse(item: ItemFn, errors: &mut Errors) -> Option<TopologyFn> {
    let mut builder: Option<Ident> = None;
    let mut dsl_names: Vec<Ident> = Vec::new();
    let mut statements = Vec::new();
    let mut built = false;
    let mut build_span = Span::call_site();
    let stmts = item.block.stmts.clone();
    let count = stmts.len();

    for (i, stmt) in stmts.into_iter().enumerate() {
        let is_last = i + 1 == count;
        let rooted = |chain: &Chain, dsl_names: &[Ident]| dsl_names.contains(&chain.root);
        match &stmt {
            Stmt::Local(local) => {
                let init = local.init.as_ref().map(|i| &*i.expr);
                let name = binding_name(&local.pat);
                if let (Some(init), Some(name)) = (init, name.clone()) {
                    if is_builder_new(init) {
                        if let Some(prev) = &builder {
                            errors.spanned(
                                &local.pat,
                                format!(
                                    "a topology has one `StreamsBuilder`; `{prev}` is already one"
                                ),
                            );
                        } else {
                            builder = Some(name.clone());
                            dsl_names.push(name);
                        }
                        continue;
                    }
                    if let Some(chain) = chain_of(init) {
                        if rooted(&chain, &dsl_names) {
                            dsl_names.push(name.clone());
                            statements.push(Statement::Let { name, chain });
                            continue;
                        }
                    }
                }
                kept(stmt, &dsl_names, &mut statements, errors);
            }
            Stmt::Expr(expr, semi) => {
                // `return builder.build();` is the tail too.
                let (expr, semi) = match expr {
                    Expr::Return(syn::ExprReturn { expr: Some(e), .. }) if is_last => (&**e, &None),
                    _ => (expr, semi),
                };
                if let Some(chain) = chain_of(expr) {
                    if rooted(&chain, &dsl_names) {
                        // `builder.build()` as the tail (or `return builder.build();`).
                        let is_build = builder.as_ref() == Some(&chain.root)
                            && chain.steps.len() == 1
                            && matches!(&chain.steps[0], Step::Call(c) if c.method == "build");
                        if is_build {
                            if semi.is_some() || !is_last {
                                errors.spanned(expr, "`build()` must be the last expression of the function, without `;`");
                            }
                            built = true;
                            if let Step::Call(c) = &chain.steps[0] {
                                build_span = c.method.span();
                            }
                        } else {
                            statements.push(Statement::Chain(chain));
                        }
                        continue;
                    }
                }
                kept(stmt, &dsl_names, &mut statements, errors);
            }
            _ => kept(stmt, &dsl_names, &mut statements, errors),
        }
    }

    let Some(builder) = builder else {
        errors.at(
            item.sig.ident.span(),
            "a #[topology] function must create its builder: `let builder = StreamsBuilder::new();`",
        );
        return None;
    };
    if !built {
        errors.at(
            item.block.brace_token.span.close(),
            format!("a #[topology] function must end with `{builder}.build()`"),
        );
    }
    Some(TopologyFn {
        item,
        builder,
        statements,
        build_span,
    })
}

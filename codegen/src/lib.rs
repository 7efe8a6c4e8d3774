//! weir-codegen: the topology compiler, a plain library.
//!
//! ```text
//! tokens --parse--> TopologyFn --graph--> Graph --optimize (graph passes)
//!        --check--> (errors) --plan--> sub-topologies, internal topics, stores, types
//!        --optimize (plan passes)--> named rewrites --describe--> text, Mermaid, Plan
//!        --emit--> one specialised processor per sub-topology
//! ```
//!
//! The operators themselves live in [`ops`], one file per family; the
//! phases are machinery that asks them (see [`ops::Operator`]).
//!
//! `weir-macros` calls [`expand`]; `build.rs` scripts call [`build::run`],
//! which runs the same phases to write descriptions and diagrams to disk.

#![deny(unsafe_code)]
// The compiler's data (syn types in graph nodes) lives for one expansion and
// is never on a hot path; boxing variants would only add noise.
#![allow(clippy::large_enum_variant, clippy::result_large_err)]

pub mod build;
pub mod check;
pub mod ctxt;
pub mod describe;
pub mod emit;
pub mod graph;
pub mod ops;
pub mod optimize;
pub mod parse;
pub mod plan;

use proc_macro2::TokenStream;

/// Everything the compiler produced for one topology.
pub struct Compiled {
    /// The logical graph.
    pub graph: graph::Graph,
    /// Sub-topologies, internal topics and types.
    pub plan: plan::Plan,
    /// Description, diagram, runtime plan.
    pub description: describe::Description,
    /// The replacement function.
    pub tokens: TokenStream,
}

/// Compiles a `#[topology]` function. All user errors come back together,
/// each at the user's tokens.
pub fn compile(item: syn::ItemFn) -> syn::Result<Compiled> {
    let mut errors = ctxt::Errors::new();
    let Some(parsed) = parse::parse(item, &mut errors) else {
        return errors.finish(()).and_then(|()| unreachable_error());
    };
    let mut graph = graph::build(&parsed, &mut errors);
    let mut rewrites = optimize::graph_passes(&mut graph);
    check::check(&graph, &parsed.item.sig.ident, &mut errors);
    let mut plan = plan::plan(&graph, &mut errors);
    errors.finish(())?;
    rewrites.extend(optimize::plan_passes(&graph, &mut plan));
    let description =
        describe::describe(&parsed.item.sig.ident.to_string(), &graph, &plan, rewrites);
    let tokens = emit::emit(&parsed, &graph, &plan, &description);
    Ok(Compiled {
        graph,
        plan,
        description,
        tokens,
    })
}

#[cfg(test)]
pub(crate) fn compile_for_test(tokens: TokenStream) -> syn::Result<Compiled> {
    compile(syn::parse2(tokens).expect("a fn"))
}

fn unreachable_error<T>() -> syn::Result<T> {
    Err(syn::Error::new(
        proc_macro2::Span::call_site(),
        "weir: the topology could not be parsed",
    ))
}

/// The `#[topology]` attribute: function tokens in, generated tokens (or
/// `compile_error!`s at the user's spans) out.
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new_spanned(attr, "#[topology] takes no arguments").to_compile_error();
    }
    let item: syn::ItemFn = match syn::parse2(item) {
        Ok(f) => f,
        Err(e) => {
            return syn::Error::new(
                e.span(),
                "#[topology] goes on a function that builds a topology",
            )
            .to_compile_error()
        }
    };
    let mut stub = item.clone();
    match compile(item) {
        Ok(c) => c.tokens,
        Err(e) => {
            // Keep the function (its signature uses the user's imports, and
            // callers still type-check) with a body that never runs.
            let mut out = e.to_compile_error();
            stub.block = syn::parse_quote!({
                let uncompiled: ::weir::__private::Uncompiled = ::core::unreachable!();
                uncompiled
            });
            stub.attrs
                .push(syn::parse_quote!(#[allow(unreachable_code, unused_variables, unused_mut)]));
            out.extend(quote::quote!(#stub));
            out
        }
    }
}

//! weir-macros: the `#[weir::topology]` attribute. Tokens in, the compiler
//! (`weir-codegen`) runs, tokens out; no logic lives here.

#![deny(unsafe_code)]

use proc_macro::TokenStream;

/// Compiles the topology built in the function's body into specialised
/// processors; see the `weir` crate documentation.
#[proc_macro_attribute]
pub fn topology(attr: TokenStream, item: TokenStream) -> TokenStream {
    weir_codegen::expand(attr.into(), item.into()).into()
}

//! Error collection: every phase reports all the problems it finds, each
//! with the span of the user's tokens, and the compile fails once with all of
//! them (as serde_derive's `Ctxt` does).

use proc_macro2::Span;
use std::fmt::Display;

/// Collects compile errors.
#[derive(Default)]
pub struct Errors {
    errors: Vec<syn::Error>,
}

impl Errors {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an error at `span`.
    pub fn at(&mut self, span: Span, message: impl Display) {
        self.errors.push(syn::Error::new(span, message));
    }

    /// Records an error spanning the tokens of `node`.
    pub fn spanned(&mut self, node: &impl quote::ToTokens, message: impl Display) {
        self.errors.push(syn::Error::new_spanned(node, message));
    }

    /// Records a ready error.
    pub fn push(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, else all errors as one.
    pub fn finish<T>(self, value: T) -> syn::Result<T> {
        let mut iter = self.errors.into_iter();
        match iter.next() {
            None => Ok(value),
            Some(mut first) => {
                for e in iter {
                    first.combine(e);
                }
                Err(first)
            }
        }
    }
}

//! Sources: `builder.stream::<K, V>(topics)`.

#[allow(unused_imports)]
use crate::emit::*;
#[allow(unused_imports)]
use crate::graph::{Graph, NodeId, NodeKind};
#[allow(unused_imports)]
use crate::ops::{self, *};
#[allow(unused_imports)]
use quote::{format_ident, quote, quote_spanned};

use syn::Expr;
use syn::LitStr;
use syn::Type;

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
}

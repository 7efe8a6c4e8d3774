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

    #[allow(unused_variables)]
    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let ops::Source { extractor, .. } = self;
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
        (k, v): (usize, usize),
        errors: &mut Errors,
    ) -> (usize, usize) {
        let _ = errors;
        let _ = (k, v);
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
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[OpSpec {
    name: "stream",
    op: Op::Stream,
    on: Shape::Builder,
    gives: Shape::Stream,
    args: (1, 1),
    options: SOURCE,
    prefix: "KSTREAM-SOURCE-",
    usage: "stream::<K, V>(\"topic\") or stream::<K, V>([\"a\", \"b\"])",
    node: None,
}];

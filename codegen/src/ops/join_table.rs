//! Stream-table joins: `join(table, joiner)` and `left_join(table, joiner)`,
//! as Kafka Streams' `KStreamKTableJoin`: only stream records trigger a
//! result; the table's updates only change its store, which the join reads.
//!
//! A stream record with a null value is dropped (counted), and so is one
//! with a null key in an inner join; a left join joins a null key with
//! nothing (KIP-962). The result has the stream record's key, timestamp and
//! headers, and the joiner's value; an inner join emits only when the table
//! has the key, a left join always, with `None` for a missing table value.
//! The stream and the table must have one key type; a stream whose key may
//! have changed is repartitioned first (`<stream's last processor>-repartition`),
//! and the two sides are co-partitioned: the join runs in the table's
//! sub-topology, whose tasks read both topics.

use crate::ctxt::Errors;
use crate::emit::*;
use crate::graph::builder::{Args, Builder, Value};
use crate::graph::{closure_arity, Graph, Node, NodeId, NodeKind};
use crate::ops::dsl::{OpSpec, Shape, NAMED};
use crate::ops::*;
use crate::parse::chain_of;
use crate::plan::{StoreUse, Types};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::Expr;

/// A stream joined with a table.
#[derive(Clone)]
pub struct StreamTableJoin {
    /// The table's node (a `table(topic)` or `to_table()`).
    pub table: NodeId,
    /// `|value, table_value| joined` or `|key, value, table_value| joined`.
    pub joiner: Expr,
    /// `left_join`: the joiner gets `Option<&V>`, a miss emits too.
    pub left: bool,
    /// The joiner takes the key first.
    pub with_key: bool,
}

impl StreamTableJoin {
    /// The type of the table's values as stored: inside the `Option` of a
    /// table that holds tombstones.
    fn table_value(&self, e: &Emitter<'_>, g: &mut Generics) -> TokenStream {
        let (_, tv) = e.plan.types.node[self.table];
        match e.plan.types.optional_inner(tv) {
            Some(inner) => e.ty(inner, g),
            None => e.ty(tv, g),
        }
    }
}

impl Operator for StreamTableJoin {
    fn dsl_name(&self) -> &'static str {
        if self.left {
            "left_join"
        } else {
            "join"
        }
    }

    fn closures(&self) -> Vec<(char, &Expr)> {
        vec![('f', &self.joiner)]
    }

    fn remap(&mut self, map: &dyn Fn(NodeId) -> NodeId) {
        self.table = map(self.table);
    }

    /// It reads the table's store (which makes the table materialized and
    /// puts the join in the table's sub-topology).
    fn stores(&self, _node: &Node, _graph: &Graph) -> Vec<StoreUse> {
        vec![StoreUse::Shares(self.table)]
    }

    fn reads_table(&self) -> Option<NodeId> {
        Some(self.table)
    }

    fn copartitions(&self) -> bool {
        true
    }

    fn types(
        &self,
        t: &mut Types,
        node: &Node,
        _graph: &Graph,
        (k, _v): (usize, usize),
        errors: &mut Errors,
    ) -> (usize, usize) {
        let (table_key, _) = t.node[self.table];
        if let Err((stream, table)) = t.union(k, table_key) {
            errors.at(
                node.span,
                format!(
                    "`{}` needs the stream and the table to have one key type, got `{}` (stream) and `{}` (table)",
                    self.dsl_name(),
                    stream.to_token_stream(),
                    table.to_token_stream()
                ),
            );
        }
        (k, t.fresh(None))
    }

    fn bound(&self, e: &Emitter<'_>, _id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let Io {
            ik, iv, ov, span, ..
        } = t;
        let span = *span;
        let vt = self.table_value(e, g);
        g.bounds
            .push(respan(quote!(#ik: ::weir::__private::Serde), span));
        g.bounds
            .push(respan(quote!(#iv: ::weir::__private::Serde), span));
        g.bounds
            .push(respan(quote!(#vt: ::weir::__private::Serde), span));
        let table_arg = if self.left {
            quote!(::core::option::Option<&#vt>)
        } else {
            quote!(&#vt)
        };
        Some(if self.with_key {
            quote_spanned!(span=> FnMut(&#ik, &#iv, #table_arg) -> #ov)
        } else {
            quote_spanned!(span=> FnMut(&#iv, #table_arg) -> #ov)
        })
    }

    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        let p = &e.p;
        let name = &e.graph.nodes[node].name;
        let f = format_ident!("f{}", node);
        let kids = e.children(node);
        let Some(st) = e.plan.store_of(self.table) else {
            return quote!(let _ = (k, v););
        };
        let (j, store) = (st.index_in_sub, &st.name);
        let flush = flush_method(st.node);
        let vt = self.table_value(e, &mut Generics::default());
        // Through the record cache when it is on (a value found only in
        // the store is cached clean, which may evict dirty entries: they
        // are flushed, forwarding the table's changes, before the result).
        let lookup = |cached: bool| {
            if cached && st.cached {
                quote! {{
                    let mut evicted = ::std::vec::Vec::new();
                    let found: ::core::option::Option<#vt> = match key {
                        ::core::option::Option::Some(key) => #p::cached_get::<#vt>(&mut self.cx.cache, &self.cx.stores, #j, #store, key, &mut evicted)?.map(|(x, _)| x),
                        ::core::option::Option::None => ::core::option::Option::None,
                    };
                    self.cx.key_buf = key_buf;
                    if !evicted.is_empty() {
                        self.#flush(evicted, out)?;
                    }
                    found
                }}
            } else {
                quote! {{
                    let found: ::core::option::Option<#vt> = match key {
                        ::core::option::Option::Some(key) => #p::store_get::<#vt>(&self.cx.stores, #j, #store, key)?.map(|(x, _)| x),
                        ::core::option::Option::None => ::core::option::Option::None,
                    };
                    self.cx.key_buf = key_buf;
                    found
                }}
            }
        };
        let key_arg = if self.with_key { quote!(&k,) } else { quote!() };
        let join = if self.left {
            quote! { let v = (self.#f)(#key_arg &v, found.as_ref()); #kids }
        } else {
            quote! {
                if let ::core::option::Option::Some(found) = found {
                    let v = (self.#f)(#key_arg &v, &found);
                    #kids
                }
            }
        };
        let (on, off) = (lookup(true), lookup(false));
        let lookup = if st.cached {
            quote!(if self.cx.cache.is_enabled() { #on } else { #off })
        } else {
            off
        };
        let left = self.left;
        quote! {
            let null_key = #p::Serde::is_null(&k);
            if #p::Serde::is_null(&v) || (null_key && !#left) {
                self.cx.dropped += 1;
            } else {
                let mut key_buf = ::core::mem::take(&mut self.cx.key_buf);
                let key = if null_key {
                    ::core::option::Option::None
                } else {
                    #p::ser(&k, &mut key_buf, #name, #p::RecordPart::Key)?
                };
                let found: ::core::option::Option<#vt> = #lookup;
                #join
            }
        }
    }
}

/// `join(table, joiner)` and `left_join(table, joiner)` of a stream.
fn build_join(b: &mut Builder<'_>, a: &Args<'_>, value: Value) -> Option<Value> {
    let Value::Stream(input) = value else {
        return None;
    };
    let (spec, positional, opts) = (a.spec, a.positional, a.opts);
    let method = spec.name;
    let table = match chain_of(&positional[0]).and_then(|c| b.chain(&c)) {
        Some(Value::Table(t)) => t,
        Some(Value::Stream(_)) => {
            b.errors.spanned(
                &positional[0],
                format!("`{method}` of two streams (with `JoinWindows`) is not supported yet: join a table"),
            );
            return None;
        }
        Some(v) => {
            b.errors.spanned(
                &positional[0],
                format!("`{method}` takes a table, not {}", v.shape().describe()),
            );
            return None;
        }
        None => {
            if chain_of(&positional[0]).is_none() {
                b.errors.spanned(
                    &positional[0],
                    format!("`{method}` takes a table of this topology (a name bound to one, or a chain)"),
                );
            }
            return None;
        }
    };
    if !matches!(b.graph.nodes[table].kind, NodeKind::TableSource(_)) {
        b.errors.spanned(
            &positional[0],
            format!("`{method}` reads a table made by `table(topic)` or `to_table()`; joining a filtered, mapped or aggregated table is not supported yet"),
        );
        return None;
    }
    let arity = closure_arity(&positional[1]);
    if let Some(n) = arity.filter(|n| !(2..=3).contains(n)) {
        b.errors.spanned(
            &positional[1],
            format!("`{method}` takes a joiner `|value, table_value|` or `|key, value, table_value|`, this one has {n} parameter(s)"),
        );
    }
    // As Kafka Streams: a stream whose key may have changed is repartitioned
    // through `<its last processor, or the join's name>-repartition`.
    let mut upstream = input;
    if b.key_changed(input) {
        let name = opts
            .named
            .as_ref()
            .map(|n| n.value())
            .unwrap_or_else(|| b.graph.nodes[input].name.clone());
        upstream = b.graph.add(
            NodeKind::Repartition(Repartition {
                partitions: None,
                changes: false,
                mergeable: false,
            }),
            name,
            a.span,
            Some(input),
        );
    }
    let name = b.name_for(spec, opts);
    let node = b.graph.add(
        NodeKind::StreamTableJoin(StreamTableJoin {
            table,
            joiner: positional[1].clone(),
            left: method == "left_join",
            with_key: arity == Some(3),
        }),
        name,
        a.span,
        Some(upstream),
    );
    Some(Value::Stream(node))
}

/// Its DSL methods.
pub const DSL: &[OpSpec] = &[
    OpSpec {
        name: "join",
        on: Shape::Stream,
        also_on: &[],
        gives: Shape::Stream,
        args: (2, 2),
        args_on: &[],
        options: NAMED,
        prefix: "KSTREAM-JOIN-",
        usage: "join(table, |value, table_value| joined) or join(table, |key, value, table_value| joined)",
        types: false,
        build: build_join,
    },
    OpSpec {
        name: "left_join",
        on: Shape::Stream,
        also_on: &[],
        gives: Shape::Stream,
        args: (2, 2),
        args_on: &[],
        options: NAMED,
        prefix: "KSTREAM-LEFTJOIN-",
        usage: "left_join(table, |value, table_value: Option<&V>| joined) or left_join(table, |key, value, table_value| joined)",
        types: false,
        build: build_join,
    },
];

#[cfg(test)]
mod tests {
    use crate::compile_for_test as compile;
    use quote::quote;

    #[test]
    fn the_join_shares_the_tables_store_and_sub_topology() {
        let c = compile(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                let users = builder.table::<String, String>("users");
                builder
                    .stream::<String, String>("clicks")
                    .select_key(|_k, v| v.clone())
                    .left_join(users, |click, region| format!("{click}@{region:?}"))
                    .to("out");
                builder.build()
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = c.graph.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "KSTREAM-SOURCE-0000000001",
                "KTABLE-SOURCE-0000000002",
                "KSTREAM-SOURCE-0000000003",
                "KSTREAM-KEY-SELECT-0000000004",
                "KSTREAM-KEY-SELECT-0000000004",
                "KSTREAM-LEFTJOIN-0000000005",
                "KSTREAM-SINK-0000000006"
            ]
        );
        // The table is materialized for the join, which reads it in the
        // table's sub-topology (with the repartition topic as its input).
        let table_store = &c.plan.stores[0];
        assert_eq!(table_store.name, "users-STATE-STORE-0000000000");
        assert_eq!(table_store.shared, [5]);
        assert_eq!(c.plan.node_sub[5], c.plan.node_sub[1]);
        assert_ne!(c.plan.node_sub[5], c.plan.node_sub[3]);
        assert!(c.description.text().contains(
            "Processor: KSTREAM-LEFTJOIN-0000000005 (stores: [users-STATE-STORE-0000000000])"
        ));
    }

    #[test]
    fn the_sides_must_have_one_key_type() {
        let err = compile(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                let users = builder.table::<i64, String>("users");
                builder
                    .stream::<String, String>("clicks")
                    .join(users, |click, region| click.clone())
                    .to("out");
                builder.build()
            }
        })
        .err()
        .expect("a key type error");
        assert_eq!(
            err.to_string(),
            "`join` needs the stream and the table to have one key type, got `String` (stream) and `i64` (table)"
        );
    }
}

//! The DSL's operators, one file per family, registered in one table.
//!
//! Each family's file holds its node types, each an [`Operator`]: what the
//! phases ask of it (its closures, key effect, boundary, types, stores,
//! and the code it emits). The pipeline's phases (`graph`, `check`,
//! `optimize`, `plan`, `emit`, `describe`) hold only machinery and reach
//! operators through [`NodeKind::op`].
//!
//! Adding an operator: write its node type in a family file (a new one,
//! or the family it belongs to), implement [`Operator`] for it, and list it
//! in [`declare_ops!`] below. See the README's "Adding an operator".

pub mod aggregate;
pub mod dsl;
pub mod merge;
pub mod process;
pub mod repartition;
pub mod session;
pub mod sink;
pub mod sliding;
pub mod source;
pub mod split;
pub mod stateless;
pub mod suppress;
pub mod table;
pub mod table_group;
pub mod windowed;

pub use aggregate::{AggOp, Aggregate};
pub use dsl::*;
pub use merge::Merge;
pub use process::Process;
pub use repartition::Repartition;
pub use sink::{Print, Sink, SinkTarget};
pub use source::Source;
pub use split::{Branch, Split};
pub use stateless::{Filter, FlatMap, FlatMapValues, Foreach, Map, MapValues, Peek, SelectKey};
pub use suppress::Suppress;
pub use table::{TableFilter, TableMapValues, TableSource, ToStream};
pub use table_group::TableGroupBy;

use crate::emit::Emitter;
use crate::graph::NodeId;
use proc_macro2::TokenStream;
use syn::Expr;

/// A graph node's operator: what each phase asks of it. The defaults fit
/// a stateless operator that passes records on unchanged.
pub trait Operator {
    /// Its closures, by slot: field `f12` / generic `__WeirF12` for slot
    /// `'f'` of node 12 (`'g'` an initializer, `'h'` a second closure).
    fn closures(&self) -> Vec<(char, &Expr)> {
        Vec::new()
    }

    /// Code for a record `(k, v)` (and `o`, its old value, on a table that
    /// sends one) arriving at node `node`, with `ctx` its record context
    /// and `out` the collector.
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        e.children(node)
    }
}

/// Declares the registry: the node kinds, each an [`Operator`] in its
/// family's file.
macro_rules! declare_ops {
    ($($variant:ident($ty:ty),)*) => {
        /// What a graph node does: one variant per operator.
        #[derive(Clone)]
        pub enum NodeKind {
            $(
                #[doc = concat!("See [`", stringify!($ty), "`].")]
                $variant($ty),
            )*
        }

        impl NodeKind {
            /// The node's operator.
            pub fn op(&self) -> &dyn Operator {
                match self {
                    $(NodeKind::$variant(x) => x,)*
                }
            }
        }
    };
}

declare_ops! {
    Source(source::Source),
    Filter(stateless::Filter),
    Map(stateless::Map),
    MapValues(stateless::MapValues),
    FlatMap(stateless::FlatMap),
    FlatMapValues(stateless::FlatMapValues),
    SelectKey(stateless::SelectKey),
    Peek(stateless::Peek),
    Foreach(stateless::Foreach),
    Split(split::Split),
    Branch(split::Branch),
    Merge(merge::Merge),
    Repartition(repartition::Repartition),
    Sink(sink::Sink),
    Print(sink::Print),
    Aggregate(aggregate::Aggregate),
    ToStream(table::ToStream),
    Process(process::Process),
    TableSource(table::TableSource),
    TableGroupBy(table_group::TableGroupBy),
    TableFilter(table::TableFilter),
    TableMapValues(table::TableMapValues),
    Suppress(suppress::Suppress),
}

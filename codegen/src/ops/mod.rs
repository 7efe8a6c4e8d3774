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
pub mod join_table;
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

use crate::ctxt::Errors;
use crate::emit::{Emitter, Field, Generics, Io};
use crate::graph::{Graph, Node, NodeId};
use crate::plan::{StoreUse, Types};
use proc_macro2::TokenStream;
use syn::Expr;

/// A graph node's operator: what each phase asks of it. The defaults fit
/// a stateless operator that passes records on unchanged.
pub trait Operator {
    /// Its DSL name, for messages and descriptions.
    fn dsl_name(&self) -> &'static str;

    /// What it does to the key of the records it passes on.
    fn key(&self) -> KeyEffect {
        KeyEffect::Passes
    }

    /// Whether its outputs are in another sub-topology, reading a topic it
    /// writes (a repartition).
    fn boundary(&self) -> bool {
        false
    }

    /// Rewires the node ids it holds after the graph lost a node (`map`
    /// gives each old id's new one).
    fn remap(&mut self, map: &dyn Fn(NodeId) -> NodeId) {
        let _ = map;
    }

    /// Whether the records it passes on carry their old value `o` too
    /// (Kafka Streams' `sendOldValues`: a `group_by` downstream subtracts
    /// it).
    fn sends_old_values(&self, node: &Node, graph: &Graph) -> bool {
        let _ = (node, graph);
        false
    }

    /// Whether its children, when it has several, each get the record (a
    /// fan-out: clones), rather than one of them (a split).
    fn fans_out(&self) -> bool {
        true
    }

    /// The table whose store it reads (a join's): the table is then
    /// materialized.
    fn reads_table(&self) -> Option<NodeId> {
        None
    }

    /// Whether its sub-topology's input topics must be co-partitioned (a
    /// join's), checked at start-up against the broker.
    fn copartitions(&self) -> bool {
        false
    }

    /// Whether a fan-out may lend it the record instead of a clone.
    fn borrows(&self, e: &Emitter<'_>, id: NodeId) -> Borrow {
        let _ = (e, id);
        Borrow::No
    }

    /// Its closures, by slot: field `f12` / generic `__WeirF12` for slot
    /// `'f'` of node 12 (`'g'` an initializer, `'h'` a second closure).
    fn closures(&self) -> Vec<(char, &Expr)> {
        Vec::new()
    }

    /// The key and value type variables of its output, from those of its
    /// (first) input (`usize::MAX` for a source).
    fn types(
        &self,
        t: &mut Types,
        node: &Node,
        graph: &Graph,
        input: (usize, usize),
        errors: &mut Errors,
    ) -> (usize, usize) {
        let _ = (t, node, graph, errors);
        input
    }

    /// The state stores it needs.
    fn stores(&self, node: &Node, graph: &Graph) -> Vec<StoreUse> {
        let _ = (node, graph);
        Vec::new()
    }

    /// Code for a record `(k, v)` (and `o`, its old value, on a table that
    /// sends one) arriving at node `node`, with `ctx` its record context
    /// and `out` the collector.
    fn flow(&self, e: &Emitter<'_>, node: NodeId) -> TokenStream {
        e.children(node)
    }

    /// Values the topology's constructor takes, evaluated where the user
    /// wrote them (windows, suppression configurations): field, type, value.
    fn values(&self, id: NodeId, p: &TokenStream) -> Vec<(syn::Ident, TokenStream, &Expr)> {
        let _ = (id, p);
        Vec::new()
    }

    /// Fields of its sub-topology's struct.
    fn fields(&self, e: &Emitter<'_>, id: NodeId) -> Vec<Field> {
        let _ = (e, id);
        Vec::new()
    }

    /// Items next to its sub-topology's struct (constants).
    fn items(&self, e: &Emitter<'_>, id: NodeId) -> TokenStream {
        let _ = (e, id);
        TokenStream::new()
    }

    /// Inherent methods of its sub-topology's struct.
    fn methods(&self, e: &Emitter<'_>, id: NodeId) -> TokenStream {
        let _ = (e, id);
        TokenStream::new()
    }

    /// Whether its sub-topology needs its clocks and punctuation for it
    /// (user processors, final results).
    fn clocked(&self) -> bool {
        false
    }

    /// Statements of `SubTopology::start` (a user processor's `init`).
    fn start(&self, id: NodeId) -> TokenStream {
        let _ = id;
        TokenStream::new()
    }

    /// Statements of `SubTopology::punctuate`, with `kind`, `now` and `out`.
    fn punctuate(&self, id: NodeId) -> TokenStream {
        let _ = id;
        TokenStream::new()
    }

    /// The bounds its code needs, pushed onto `g`, and the signature of
    /// its main closure (slot `'f'`), given its input and output types `t`.
    fn bound(&self, e: &Emitter<'_>, id: NodeId, t: &Io, g: &mut Generics) -> Option<TokenStream> {
        let _ = (e, id, t, g);
        None
    }
}

/// What an operator does to the key of the records it passes on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KeyEffect {
    /// Passes the key of its input on.
    Passes,
    /// May change it: an aggregation downstream needs a repartition first.
    Changes,
    /// Starts from a key of its own, as read or repartitioned (sources,
    /// repartitions, aggregations, tables).
    Fixed,
}

/// Whether a fan-out may lend a record to an operator instead of cloning it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Borrow {
    /// It only reads the record.
    Yes,
    /// It only reads it, and so must everything after it in the
    /// sub-topology.
    IfChildren,
    /// It takes the record.
    No,
}

/// Declares the registry: the node kinds, each an [`Operator`] in its
/// family's file, and the DSL methods, each family's `DSL` table.
macro_rules! declare_ops {
    (
        nodes { $($variant:ident($ty:ty),)* }
        dsl [ $($table:path,)* ]
    ) => {
        /// Every family's DSL methods, in registry order.
        pub const DSL: &[&[OpSpec]] = &[$($table,)*];

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

            /// The node's operator, to rewrite it.
            pub fn op_mut(&mut self) -> &mut dyn Operator {
                match self {
                    $(NodeKind::$variant(x) => x,)*
                }
            }
        }
    };
}

declare_ops! {
    nodes {
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
    StreamTableJoin(join_table::StreamTableJoin),
    }
    dsl [
        source::DSL,
        aggregate::DSL,
        table::DSL,
        process::DSL,
        windowed::DSL,
        stateless::DSL,
        split::DSL,
        merge::DSL,
        repartition::DSL,
        sink::DSL,
        suppress::DSL,
        join_table::DSL,
    ]
}

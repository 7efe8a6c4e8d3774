//! Graph: the parsed statements into a logical DAG of operator nodes, named
//! as Kafka Streams names them (`KSTREAM-FILTER-0000000001`, ...). Misuse of
//! the DSL (unknown operators, wrong arguments, an operator on a value that
//! does not have it) is reported here, at the user's tokens.

use crate::ctxt::Errors;
use crate::ops::{self, Op, OpSpec, Shape};
pub use crate::ops::{AggOp, NodeKind, SinkTarget};
use crate::parse::{chain_of, Call, Chain, Statement, Step, TopologyFn};
use proc_macro2::Span;
use std::collections::HashMap;
use syn::{Expr, Ident, LitStr, Type};

/// Index of a node in [`Graph::nodes`].
pub type NodeId = usize;

/// One operator node.
#[derive(Clone)]
pub struct Node {
    /// Its index.
    pub id: NodeId,
    /// What it does.
    pub kind: NodeKind,
    /// Processor name, generated or given with `named(..)`.
    pub name: String,
    /// Where the user wrote it.
    pub span: Span,
    /// Upstream nodes.
    pub inputs: Vec<NodeId>,
    /// Downstream nodes, in the order they were attached.
    pub outputs: Vec<NodeId>,
}

/// The logical topology.
#[derive(Clone, Default)]
pub struct Graph {
    /// Nodes, in creation order.
    pub nodes: Vec<Node>,
    /// Repartition topics merged at build time: (kept repartition node,
    /// the aggregation that reuses it instead of a topic of its own).
    pub merged_repartitions: Vec<(NodeId, NodeId)>,
    /// `builder.add_state_store(..)`: name and whether in memory.
    pub state_stores: Vec<(LitStr, bool)>,
}

impl Graph {
    fn add(&mut self, kind: NodeKind, name: String, span: Span, input: Option<NodeId>) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node {
            id,
            kind,
            name,
            span,
            inputs: Vec::new(),
            outputs: Vec::new(),
        });
        if let Some(i) = input {
            self.connect(i, id);
        }
        id
    }

    fn connect(&mut self, from: NodeId, to: NodeId) {
        self.nodes[from].outputs.push(to);
        self.nodes[to].inputs.push(from);
    }
}

/// A DSL value, as bound to a name or flowing along a chain.
#[derive(Clone)]
enum Value {
    Builder,
    Stream(NodeId),
    Split {
        node: NodeId,
        position: usize,
    },
    Branches {
        node: NodeId,
    },
    Terminal {
        op: &'static str,
    },
    Grouped {
        input: NodeId,
        repartition_name: Option<LitStr>,
    },
    Windowed {
        input: NodeId,
        repartition_name: Option<LitStr>,
        windows: Expr,
        /// `emit_strategy(EmitStrategy::on_window_close())`.
        emit_final: bool,
    },
    Cogrouped {
        inputs: Vec<(NodeId, Option<LitStr>, Expr)>,
    },
    GroupedTable {
        select: NodeId,
    },
    Table(NodeId),
}

impl Value {
    fn shape(&self) -> Shape {
        match self {
            Value::Builder => Shape::Builder,
            Value::Stream(_) => Shape::Stream,
            Value::Split { .. } => Shape::Split,
            Value::Branches { .. } => Shape::Branches,
            Value::Terminal { .. } => Shape::Terminal,
            Value::Grouped { .. } => Shape::Grouped,
            Value::Table(_) => Shape::Table,
            Value::Windowed { .. } => Shape::WindowedGrouped,
            Value::Cogrouped { .. } => Shape::Cogrouped,
            Value::GroupedTable { .. } => Shape::GroupedTable,
        }
    }
}

/// What an aggregation aggregates: a grouped (maybe windowed) stream.
struct Grouping {
    input: NodeId,
    repartition_name: Option<LitStr>,
    windows: Option<Expr>,
    emit_final: bool,
}

/// Options such as `named("x")` and `partitions(4)` found among arguments.
#[derive(Default)]
struct Options {
    named: Option<LitStr>,
    partitions: Option<(i32, Span)>,
    in_memory: bool,
    caching_disabled: bool,
    extractor: Option<Expr>,
}

struct Builder<'e> {
    graph: Graph,
    env: HashMap<Ident, Value>,
    poisoned: std::collections::HashSet<Ident>,
    /// Repartition nodes inserted before aggregations, by the node they read.
    auto_repartitions: HashMap<NodeId, NodeId>,
    counter: usize,
    errors: &'e mut Errors,
}

/// The number of parameters of a closure literal (`None` for other expressions).
pub fn closure_arity(expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Closure(c) => Some(c.inputs.len()),
        Expr::Paren(p) => closure_arity(&p.expr),
        _ => None,
    }
}

pub(crate) fn string_lit(expr: &Expr) -> Option<LitStr> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.clone()),
        Expr::Group(g) => string_lit(&g.expr),
        _ => None,
    }
}

/// `Duration::ZERO` or `Duration::from_*(0)`, written literally.
fn is_zero_duration(expr: &Expr) -> bool {
    match expr {
        Expr::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "ZERO"),
        Expr::Call(c) => {
            matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident.to_string().starts_with("from_")))
                && c.args.len() == 1
                && matches!(&c.args[0], Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) if i.base10_digits() == "0")
        }
        _ => false,
    }
}

/// Kafka's rule for topic names: 1..=249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl<'e> Builder<'e> {
    fn next_name(&mut self, prefix: &str) -> String {
        let name = format!("{prefix}{:010}", self.counter);
        self.counter += 1;
        name
    }

    fn name_for(&mut self, spec: &OpSpec, opts: &Options) -> String {
        match &opts.named {
            Some(n) => n.value(),
            None => self.next_name(spec.prefix),
        }
    }

    /// Splits `named(..)`/`partitions(..)` options from positional arguments.
    fn options(&mut self, spec: &OpSpec, call: &Call) -> (Vec<Expr>, Options) {
        let mut positional = Vec::new();
        let mut opts = Options::default();
        for arg in &call.args {
            let option = match arg {
                Expr::Call(c) => match &*c.func {
                    Expr::Path(p) => p.path.get_ident().map(|i| (i.to_string(), c)),
                    _ => None,
                },
                _ => None,
            };
            let Some((option, c)) = option.filter(|(n, _)| {
                matches!(
                    n.as_str(),
                    "named"
                        | "partitions"
                        | "in_memory"
                        | "with_caching_disabled"
                        | "extract_timestamp"
                )
            }) else {
                positional.push(arg.clone());
                continue;
            };
            if !spec.options.contains(&option.as_str()) {
                self.errors.spanned(
                    arg,
                    format!(
                        "`{}` does not take `{option}(..)`; usage: {}",
                        spec.name, spec.usage
                    ),
                );
                continue;
            }
            let single = (c.args.len() == 1).then(|| &c.args[0]);
            match option.as_str() {
                "in_memory" if c.args.is_empty() => opts.in_memory = true,
                "with_caching_disabled" if c.args.is_empty() => opts.caching_disabled = true,
                "with_caching_disabled" => self
                    .errors
                    .spanned(arg, "`with_caching_disabled()` takes no arguments"),
                "extract_timestamp" => match single {
                    Some(f) if closure_arity(f).is_none_or(|n| n == 3) => opts.extractor = Some(f.clone()),
                    _ => self.errors.spanned(
                        arg,
                        "`extract_timestamp` takes one closure `|key, value, record_context| timestamp_ms`",
                    ),
                },
                "in_memory" => self.errors.spanned(arg, "`in_memory()` takes no arguments"),
                "named" => match single.and_then(string_lit) {
                    Some(s) if !s.value().is_empty() => opts.named = Some(s),
                    _ => self.errors.spanned(
                        arg,
                        "`named` takes one non-empty string literal: named(\"my-processor\")",
                    ),
                },
                _ => match single {
                    Some(Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(i),
                        ..
                    })) => match i.base10_parse::<i32>() {
                        Ok(n) if n > 0 => opts.partitions = Some((n, i.span())),
                        _ => self
                            .errors
                            .spanned(i, "the partition count must be a positive integer"),
                    },
                    _ => self.errors.spanned(
                        arg,
                        "`partitions` takes a positive integer literal: partitions(4)",
                    ),
                },
            }
        }
        (positional, opts)
    }

    fn check_arity(&mut self, spec: &OpSpec, call: &Call, positional: &[Expr]) -> bool {
        let (min, max) = spec.args;
        let n = positional.len();
        if n < min || n > max {
            let expected = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            let plural = if max == 1 { "argument" } else { "arguments" };
            self.errors.spanned(
                &call.tokens,
                format!(
                    "`{}` takes {expected} {plural}, got {n}; usage: {}",
                    spec.name, spec.usage
                ),
            );
            return false;
        }
        true
    }

    fn lookup_root(&mut self, root: &Ident) -> Option<Value> {
        match self.env.get(root) {
            Some(v) => Some(v.clone()),
            // Its definition already failed with an error of its own.
            None if self.poisoned.contains(root) => None,
            None => {
                self.errors
                    .spanned(root, format!("`{root}` is not a stream of this topology"));
                None
            }
        }
    }

    /// Evaluates a chain to the value it ends in.
    fn chain(&mut self, chain: &Chain) -> Option<Value> {
        let mut value = self.lookup_root(&chain.root)?;
        // A split bound to a name is updated in place as branches are added.
        let bound_split = matches!(value, Value::Split { .. }).then(|| chain.root.clone());
        for step in &chain.steps {
            value = self.step(value, step)?;
            if let (Some(name), Value::Split { .. }) = (&bound_split, &value) {
                self.env.insert(name.clone(), value.clone());
            }
        }
        Some(value)
    }

    fn step(&mut self, value: Value, step: &Step) -> Option<Value> {
        let call = match step {
            Step::Index(key) => return self.index(value, key),
            Step::Call(call) => call,
        };
        let method = call.method.to_string();
        let shape = value.shape();
        let Some(spec) = ops::lookup(&method) else {
            let hint = ops::suggest(&method, shape)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            self.errors.spanned(
                &call.method,
                format!("unknown operator `{method}` on {}{hint}", shape.describe()),
            );
            return None;
        };
        // Aggregations apply to windowed grouped streams too.
        let windowed_aggregation = spec.on == Shape::Grouped
            && shape == Shape::WindowedGrouped
            && matches!(spec.op, Op::Count | Op::Reduce | Op::Aggregate);
        // `group_by` applies to tables; the aggregations to grouped tables.
        let table_group = (shape == Shape::Table && spec.op == Op::GroupBy)
            || (shape == Shape::GroupedTable
                && matches!(spec.op, Op::Count | Op::Reduce | Op::Aggregate));
        // `cogroup` continues a cogrouped stream; `aggregate` ends it.
        let cogroup_op =
            shape == Shape::Cogrouped && matches!(spec.op, Op::Cogroup | Op::Aggregate);
        // `filter`, `filter_not` and `map_values` apply to tables too.
        let table_op =
            shape == Shape::Table && matches!(spec.op, Op::Filter | Op::FilterNot | Op::MapValues);
        if spec.on != shape && !windowed_aggregation && !table_op && !cogroup_op && !table_group {
            let msg = match &value {
                Value::Terminal { op } => format!(
                    "`{method}` cannot follow `{op}`: `{op}` is a terminal operation and returns nothing"
                ),
                _ => format!(
                    "`{method}` applies to {}, not to {}",
                    spec.on.describe(),
                    shape.describe()
                ),
            };
            self.errors.spanned(&call.method, msg);
            return None;
        }
        if !matches!(spec.op, Op::Stream | Op::Table) && call.types.is_some() {
            self.errors
                .spanned(&call.method, format!("`{method}` takes no type arguments"));
        }
        let (positional, opts) = self.options(spec, call);
        let expected = match (spec.op, shape) {
            (Op::Aggregate, Shape::Cogrouped) => Some(1),
            (Op::Cogroup, Shape::Grouped) => Some(1),
            (Op::Cogroup, Shape::Cogrouped) => Some(2),
            (Op::Reduce, Shape::GroupedTable) => Some(2),
            (Op::Aggregate, Shape::GroupedTable) => Some(3),
            _ => None,
        };
        if let Some(n) = expected {
            if positional.len() != n {
                self.errors.spanned(
                    &call.tokens,
                    format!(
                        "`{}` takes {n} argument(s) here, got {}; usage: {}",
                        spec.name,
                        positional.len(),
                        spec.usage
                    ),
                );
                return None;
            }
        } else if !self.check_arity(spec, call, &positional) {
            return None;
        }
        let span = call.method.span();
        match (spec.op, value) {
            (Op::Stream, Value::Builder) => self.source(spec, call, &positional, &opts),
            (Op::AddStateStore, Value::Builder) => {
                match string_lit(&positional[0]) {
                    Some(name) if !name.value().is_empty() => {
                        if self
                            .graph
                            .state_stores
                            .iter()
                            .any(|(n, _)| n.value() == name.value())
                        {
                            self.errors.spanned(
                                &positional[0],
                                format!("a state store named `{}` was already added", name.value()),
                            );
                        } else {
                            self.graph.state_stores.push((name, opts.in_memory));
                        }
                    }
                    _ => self.errors.spanned(
                        &positional[0],
                        "a state store's name is a non-empty string literal",
                    ),
                }
                Some(Value::Builder)
            }
            (Op::Process | Op::ProcessValues, Value::Stream(input)) => {
                let mut stores = Vec::new();
                for arg in &positional[1..] {
                    match string_lit(arg) {
                        Some(name)
                            if self
                                .graph
                                .state_stores
                                .iter()
                                .any(|(n, _)| n.value() == name.value()) =>
                        {
                            stores.push(name)
                        }
                        Some(name) => self.errors.spanned(
                            arg,
                            format!(
                                "no state store named `{}`: add it first with `builder.add_state_store(\"{}\")`",
                                name.value(),
                                name.value()
                            ),
                        ),
                        None => self.errors.spanned(
                            arg,
                            "name the processor's stores with string literals",
                        ),
                    }
                }
                let name = self.name_for(spec, &opts);
                Some(Value::Stream(self.graph.add(
                    NodeKind::Process(ops::Process {
                        factory: positional[0].clone(),
                        stores,
                        fixed_key: spec.op == Op::ProcessValues,
                    }),
                    name,
                    span,
                    Some(input),
                )))
            }
            (Op::Table, Value::Builder) => {
                // As Kafka Streams: the store name (`<topic>-STATE-STORE-..`)
                // takes an index, then the source, then the table source.
                let topic = positional
                    .first()
                    .and_then(string_lit)
                    .map(|t| t.value())
                    .unwrap_or_default();
                let store = self.next_name(&format!("{topic}-STATE-STORE-"));
                let source_spec = ops::lookup("stream")?;
                let Some(Value::Stream(source)) =
                    self.source(source_spec, call, &positional, &Options::default())
                else {
                    return None;
                };
                if let NodeKind::Source(ops::Source { topics, .. }) = &self.graph.nodes[source].kind
                {
                    if topics.len() > 1 {
                        self.errors
                            .spanned(&positional[0], "a table reads one topic");
                    }
                }
                let name = self.name_for(spec, &opts);
                Some(Value::Table(self.graph.add(
                    NodeKind::TableSource(ops::TableSource {
                        from_topic: true,
                        store,
                    }),
                    name,
                    span,
                    Some(source),
                )))
            }
            (Op::ToTable, Value::Stream(input)) => {
                let name = self.name_for(spec, &opts);
                let store = self.next_name("KSTREAM-TOTABLE-STATE-STORE-");
                Some(Value::Table(self.graph.add(
                    NodeKind::TableSource(ops::TableSource {
                        from_topic: false,
                        store,
                    }),
                    name,
                    span,
                    Some(input),
                )))
            }
            (Op::Filter | Op::FilterNot | Op::MapValues, Value::Table(input)) => {
                let arity = closure_arity(&positional[0]);
                let (kind, prefix) = match spec.op {
                    Op::MapValues => (
                        NodeKind::TableMapValues(ops::TableMapValues {
                            f: positional[0].clone(),
                            with_key: arity == Some(2),
                        }),
                        "KTABLE-MAPVALUES-",
                    ),
                    op => (
                        NodeKind::TableFilter(ops::TableFilter {
                            f: positional[0].clone(),
                            negate: op == Op::FilterNot,
                        }),
                        "KTABLE-FILTER-",
                    ),
                };
                let name = match &opts.named {
                    Some(n) => n.value(),
                    None => self.next_name(prefix),
                };
                Some(Value::Table(self.graph.add(kind, name, span, Some(input))))
            }
            (Op::Split, Value::Stream(input)) => {
                let name = self.name_for(spec, &opts);
                let node = self
                    .graph
                    .add(NodeKind::Split(ops::Split), name, span, Some(input));
                Some(Value::Split { node, position: 1 })
            }
            (
                Op::Branch | Op::DefaultBranch | Op::NoDefaultBranch,
                Value::Split { node, position },
            ) => self.branch(spec, call, &positional, node, position),
            (Op::Merge, Value::Stream(input)) => {
                let other = match chain_of(&positional[0]).and_then(|c| self.chain(&c)) {
                    Some(Value::Stream(o)) => o,
                    Some(v) => {
                        self.errors.spanned(
                            &positional[0],
                            format!("`merge` takes a stream, not {}", v.shape().describe()),
                        );
                        return None;
                    }
                    None => {
                        if chain_of(&positional[0]).is_none() {
                            self.errors.spanned(&positional[0], "`merge` takes a stream of this topology (a name bound to one, or a chain)");
                        }
                        return None;
                    }
                };
                let name = self.name_for(spec, &opts);
                let node = self
                    .graph
                    .add(NodeKind::Merge(ops::Merge), name, span, Some(input));
                self.graph.connect(other, node);
                Some(Value::Stream(node))
            }
            (Op::GroupByKey, Value::Stream(input)) => Some(Value::Grouped {
                input,
                repartition_name: opts.named.clone(),
            }),
            (Op::GroupBy, Value::Stream(input)) => {
                if let Some(n) = closure_arity(&positional[0]) {
                    if n != 2 {
                        self.errors.spanned(&positional[0], format!("`group_by` takes a closure with two parameters `|key, value|`, this one has {n} parameter(s)"));
                    }
                }
                // As Kafka Streams: a key selector, then grouping that repartitions.
                let name = self.next_name(spec.prefix);
                let node = self.graph.add(
                    NodeKind::SelectKey(ops::SelectKey {
                        f: positional[0].clone(),
                    }),
                    name,
                    span,
                    Some(input),
                );
                Some(Value::Grouped {
                    input: node,
                    repartition_name: opts.named.clone(),
                })
            }
            (
                Op::Count | Op::Reduce | Op::Aggregate,
                Value::Grouped {
                    input,
                    repartition_name,
                },
            ) => self.aggregate(
                spec,
                &positional,
                &opts,
                span,
                Grouping {
                    input,
                    repartition_name,
                    windows: None,
                    emit_final: false,
                },
            ),
            (
                Op::Count | Op::Reduce | Op::Aggregate,
                Value::Windowed {
                    input,
                    repartition_name,
                    windows,
                    emit_final,
                },
            ) => self.aggregate(
                spec,
                &positional,
                &opts,
                span,
                Grouping {
                    input,
                    repartition_name,
                    windows: Some(windows),
                    emit_final,
                },
            ),
            (
                Op::EmitStrategy,
                Value::Windowed {
                    input,
                    repartition_name,
                    windows,
                    ..
                },
            ) => {
                let strategy = match &positional[0] {
                    Expr::Call(c) => match &*c.func {
                        Expr::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
                        _ => None,
                    },
                    _ => None,
                };
                let emit_final = match strategy.as_deref() {
                    Some("on_window_close") => true,
                    Some("on_window_update") => false,
                    _ => {
                        self.errors.spanned(
                            &positional[0],
                            "`emit_strategy` takes `EmitStrategy::on_window_close()` or `EmitStrategy::on_window_update()`",
                        );
                        false
                    }
                };
                Some(Value::Windowed {
                    input,
                    repartition_name,
                    windows,
                    emit_final,
                })
            }
            (
                Op::WindowedBy,
                Value::Grouped {
                    input,
                    repartition_name,
                },
            ) => {
                self.check_windows(&positional[0]);
                Some(Value::Windowed {
                    input,
                    repartition_name,
                    windows: positional[0].clone(),
                    emit_final: false,
                })
            }
            (Op::GroupBy, Value::Table(input)) => {
                let name = self.next_name("KTABLE-SELECT-");
                let select = self.graph.add(
                    NodeKind::TableGroupBy(ops::TableGroupBy {
                        f: positional[0].clone(),
                    }),
                    name,
                    span,
                    Some(input),
                );
                Some(Value::GroupedTable { select })
            }
            (Op::Count | Op::Reduce | Op::Aggregate, Value::GroupedTable { select }) => {
                let op = match spec.op {
                    Op::Count => AggOp::TableCount,
                    Op::Reduce => AggOp::TableReduce {
                        add: positional[0].clone(),
                        sub: positional[1].clone(),
                    },
                    _ => AggOp::TableAggregate {
                        init: positional[0].clone(),
                        add: positional[1].clone(),
                        sub: positional[2].clone(),
                    },
                };
                // As Kafka Streams: the store name, then the processor; the
                // changes go through `<store>-repartition`.
                let prefix = match spec.op {
                    Op::Reduce => "KTABLE-REDUCE-",
                    _ => "KTABLE-AGGREGATE-",
                };
                let store = match &opts.named {
                    Some(n) => n.value(),
                    None => self.next_name(&format!("{prefix}STATE-STORE-")),
                };
                let name = self.next_name(prefix);
                let repartition = self.graph.add(
                    NodeKind::Repartition(ops::Repartition {
                        partitions: None,
                        changes: true,
                    }),
                    store.clone(),
                    span,
                    Some(select),
                );
                let kind = NodeKind::Aggregate(ops::Aggregate {
                    op,
                    store,
                    in_memory: opts.in_memory,
                    cached: !opts.caching_disabled,
                    windows: None,
                    emit_final: false,
                });
                Some(Value::Table(self.graph.add(
                    kind,
                    name,
                    span,
                    Some(repartition),
                )))
            }
            (
                Op::Cogroup,
                Value::Grouped {
                    input,
                    repartition_name,
                },
            ) => Some(Value::Cogrouped {
                inputs: vec![(input, repartition_name, positional[0].clone())],
            }),
            (Op::Cogroup, Value::Cogrouped { mut inputs }) => {
                match chain_of(&positional[0]).and_then(|c| self.chain(&c)) {
                    Some(Value::Grouped {
                        input,
                        repartition_name,
                    }) => {
                        inputs.push((input, repartition_name, positional[1].clone()));
                        Some(Value::Cogrouped { inputs })
                    }
                    Some(v) => {
                        self.errors.spanned(
                            &positional[0],
                            format!(
                                "`cogroup` takes a grouped stream, not {}",
                                v.shape().describe()
                            ),
                        );
                        None
                    }
                    None => None,
                }
            }
            (Op::Aggregate, Value::Cogrouped { inputs }) => {
                self.cogroup_aggregate(&positional[0], &opts, span, inputs)
            }
            (Op::Suppress, Value::Table(input)) => self.suppress(spec, &positional[0], span, input),
            (Op::ToStream, Value::Table(input)) => {
                let name = self.name_for(spec, &opts);
                Some(Value::Stream(self.graph.add(
                    NodeKind::ToStream(ops::ToStream),
                    name,
                    span,
                    Some(input),
                )))
            }
            (_, Value::Stream(input)) => {
                let build = spec.node?;
                let kind = build(call, &positional, self.errors)?;
                let name = match (&kind, &opts.named) {
                    (NodeKind::Repartition(ops::Repartition { .. }), Some(n)) => n.value(),
                    _ => self.name_for(spec, &opts),
                };
                let kind = match kind {
                    NodeKind::Repartition(ops::Repartition { .. }) => {
                        NodeKind::Repartition(ops::Repartition {
                            changes: false,
                            partitions: opts.partitions.map(|p| p.0),
                        })
                    }
                    k => k,
                };
                let node = self.graph.add(kind, name, span, Some(input));
                Some(if spec.gives == Shape::Terminal {
                    Value::Terminal { op: spec.name }
                } else {
                    Value::Stream(node)
                })
            }
            _ => None,
        }
    }

    fn source(
        &mut self,
        spec: &OpSpec,
        call: &Call,
        args: &[Expr],
        opts: &Options,
    ) -> Option<Value> {
        let types = call.types.clone().unwrap_or_default();
        let (key, value) = match <[Type; 2]>::try_from(types) {
            Ok([k, v]) => (k, v),
            Err(_) => {
                self.errors.spanned(
                    &call.tokens,
                    "a source needs its key and value types: `stream::<K, V>(\"topic\")` (use `()` for keys that are always null)",
                );
                return None;
            }
        };
        // `["a", "b"]` and `&["a", "b"]` alike.
        let arg = match &args[0] {
            Expr::Reference(r) if matches!(&*r.expr, Expr::Array(_)) => &*r.expr,
            e => e,
        };
        let topics: Vec<LitStr> = match arg {
            Expr::Array(a) => a
                .elems
                .iter()
                .filter_map(|e| {
                    let lit = string_lit(e);
                    if lit.is_none() {
                        self.errors
                            .spanned(e, "topic names must be string literals");
                    }
                    lit
                })
                .collect(),
            e => match string_lit(e) {
                Some(s) => vec![s],
                None => {
                    self.errors.spanned(
                        e,
                        "`stream` takes a topic name as a string literal, or an array of them",
                    );
                    return None;
                }
            },
        };
        if topics.is_empty() {
            self.errors
                .spanned(&args[0], "a source needs at least one topic");
            return None;
        }
        for t in &topics {
            if !valid_topic_name(&t.value()) {
                self.errors.spanned(
                    t,
                    format!(
                        "invalid topic name {:?}: use 1 to 249 of [a-zA-Z0-9._-]",
                        t.value()
                    ),
                );
            }
        }
        let name = self.name_for(spec, opts);
        let node = self.graph.add(
            NodeKind::Source(ops::Source {
                topics,
                key,
                value,
                extractor: opts.extractor.clone(),
            }),
            name,
            call.method.span(),
            None,
        );
        Some(Value::Stream(node))
    }

    fn branch(
        &mut self,
        spec: &OpSpec,
        call: &Call,
        args: &[Expr],
        split: NodeId,
        position: usize,
    ) -> Option<Value> {
        let (key, pred) = match spec.op {
            Op::Branch if args.len() == 2 => {
                match string_lit(&args[0]) {
                    Some(s) => (Some(s), Some(args[1].clone())),
                    None => {
                        self.errors.spanned(&args[0], "a branch name must be a string literal: branch(\"name\", |key, value| ..)");
                        return None;
                    }
                }
            }
            Op::Branch => (None, Some(args[0].clone())),
            Op::DefaultBranch => match args.first() {
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
            return Some(if spec.op == Op::DefaultBranch {
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
        Some(if spec.op == Op::DefaultBranch {
            Value::Branches { node: split }
        } else {
            Value::Split {
                node: split,
                position: position + 1,
            }
        })
    }

    /// Checks a `windowed_by` argument: `TimeWindows::..` or
    /// `SlidingWindows::..` (session windows are not supported yet), and no
    /// literal zero size.
    fn check_windows(&mut self, expr: &Expr) {
        let Some((kind, call)) = windows_call(expr) else {
            self.errors.spanned(expr, "`windowed_by` takes windows built in place: `TimeWindows::of_size_with_no_grace(..)`, `TimeWindows::of_size_and_grace(..)`, `SlidingWindows::of_time_difference_and_grace(..)`, `SessionWindows::of_inactivity_gap_and_grace(..)`");
            return;
        };
        match kind.as_str() {
            "TimeWindows" | "SlidingWindows" | "SessionWindows" => {}
            _ => {
                self.errors.spanned(expr, "`windowed_by` takes `TimeWindows::of_size_with_no_grace(..)`, `TimeWindows::of_size_and_grace(..)`, `SlidingWindows::of_time_difference_and_grace(..)` or `SessionWindows::of_inactivity_gap_and_grace(..)`");
                return;
            }
        }
        if let Some(size) = call.args.first() {
            if is_zero_duration(size) {
                let what = if kind == "SlidingWindows" {
                    "a sliding window's time difference must be larger than zero"
                } else if kind == "SessionWindows" {
                    "a session window's inactivity gap must be larger than zero"
                } else {
                    "a window size must be larger than zero"
                };
                self.errors.spanned(size, what);
            }
        }
        let mut e = expr;
        while let Expr::MethodCall(m) = e {
            if m.method == "advance_by" && m.args.first().is_some_and(is_zero_duration) {
                self.errors
                    .spanned(&m.args[0], "a window advance must be larger than zero");
            }
            e = &m.receiver;
        }
    }

    fn suppress(
        &mut self,
        spec: &OpSpec,
        config: &Expr,
        span: Span,
        input: NodeId,
    ) -> Option<Value> {
        let head = match config {
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
                _ => None,
            },
            _ => None,
        };
        let window_node = match head.as_deref() {
            Some("until_window_closes") => {
                let windowed = matches!(
                    self.graph.nodes[input].kind,
                    NodeKind::Aggregate(ops::Aggregate {
                        windows: Some(_),
                        ..
                    })
                );
                if !windowed {
                    self.errors.spanned(config, "`until_window_closes` needs a windowed table: the result of `windowed_by(..)` and an aggregation");
                    return None;
                }
                Some(input)
            }
            Some("until_time_limit") => None,
            _ => {
                self.errors.spanned(config, format!("`suppress` takes `until_window_closes(..)` or `until_time_limit(..)`; usage: {}", spec.usage));
                return None;
            }
        };
        // As Kafka Streams: the processor's name first, then its buffer's.
        let name = self.next_name(spec.prefix);
        let store = self.next_name("KTABLE-SUPPRESS-STATE-STORE-");
        let kind = NodeKind::Suppress(ops::Suppress {
            config: config.clone(),
            window_node,
            store,
        });
        Some(Value::Table(self.graph.add(kind, name, span, Some(input))))
    }

    /// `cogroup(..).aggregate(init)`: one aggregation node per input (each
    /// repartitioned if its key changed), sharing one store and the
    /// initializer, merged into one table (Kafka Streams' cogroup).
    fn cogroup_aggregate(
        &mut self,
        init: &Expr,
        opts: &Options,
        span: Span,
        inputs: Vec<(NodeId, Option<LitStr>, Expr)>,
    ) -> Option<Value> {
        let prefix = "COGROUPKSTREAM-AGGREGATE-";
        let store = match &opts.named {
            Some(n) => n.value(),
            None => self.next_name(&format!("{prefix}STATE-STORE-")),
        };
        let mut owner = None;
        let mut aggregations = Vec::new();
        for (i, (input, repartition_name, f)) in inputs.into_iter().enumerate() {
            let mut upstream = input;
            if self.key_changed(input) {
                let name = repartition_name.map(|n| n.value()).unwrap_or_else(|| {
                    if i == 0 {
                        store.clone()
                    } else {
                        format!("{store}-{i}")
                    }
                });
                upstream = self.graph.add(
                    NodeKind::Repartition(ops::Repartition {
                        partitions: None,
                        changes: false,
                    }),
                    name,
                    span,
                    Some(input),
                );
            }
            let name = self.next_name(prefix);
            let id = self.graph.nodes.len();
            let op = AggOp::Cogroup {
                f,
                init: owner.is_none().then(|| init.clone()),
                owner: owner.unwrap_or(id),
            };
            let kind = NodeKind::Aggregate(ops::Aggregate {
                op,
                store: store.clone(),
                in_memory: opts.in_memory,
                cached: !opts.caching_disabled,
                windows: None,
                emit_final: false,
            });
            let node = self.graph.add(kind, name, span, Some(upstream));
            owner.get_or_insert(node);
            aggregations.push(node);
        }
        let merge_name = self.next_name("COGROUPKSTREAM-MERGE-");
        let merge = self
            .graph
            .add(NodeKind::Merge(ops::Merge), merge_name, span, None);
        for a in aggregations {
            self.graph.connect(a, merge);
        }
        Some(Value::Table(merge))
    }

    /// Whether records reaching `node` may have a key other than the one
    /// they were read (or last repartitioned) with: then an aggregation
    /// needs a repartition topic first, as Kafka Streams inserts one.
    fn key_changed(&self, node: NodeId) -> bool {
        let n = &self.graph.nodes[node];
        match n.kind {
            NodeKind::Map(ops::Map { .. })
            | NodeKind::FlatMap(ops::FlatMap { .. })
            | NodeKind::SelectKey(ops::SelectKey { .. })
            | NodeKind::Process(ops::Process {
                fixed_key: false, ..
            }) => true,
            NodeKind::TableSource(ops::TableSource { .. }) => false,
            NodeKind::Source(ops::Source { .. })
            | NodeKind::Repartition(ops::Repartition { .. })
            | NodeKind::Aggregate(ops::Aggregate { .. }) => false,
            _ => n.inputs.iter().any(|&i| self.key_changed(i)),
        }
    }

    fn aggregate(
        &mut self,
        spec: &OpSpec,
        args: &[Expr],
        opts: &Options,
        span: Span,
        grouping: Grouping,
    ) -> Option<Value> {
        let Grouping {
            input,
            repartition_name,
            windows,
            emit_final,
        } = grouping;
        let op = match spec.op {
            Op::Count => AggOp::Count,
            Op::Reduce => AggOp::Reduce { f: args[0].clone() },
            _ => AggOp::Aggregate {
                init: args[0].clone(),
                f: args[1].clone(),
                merger: args.get(2).cloned(),
            },
        };
        let session = windows.as_ref().is_some_and(is_session);
        if let AggOp::Aggregate { merger, .. } = &op {
            match (merger, session) {
                (None, true) => self.errors.at(
                    span,
                    "`aggregate` over session windows takes a merger too: `aggregate(|| init, |key, value, aggregate| .., |key, aggregate, other| merged)`",
                ),
                (Some(m), false) => self.errors.spanned(
                    m,
                    "only an `aggregate` over session windows takes a merger (a third closure)",
                ),
                _ => {}
            }
        }
        if session && opts.caching_disabled {
            self.errors.at(
                span,
                "`with_caching_disabled()` is not supported with session windows yet",
            );
        }
        let arities: &[(usize, usize, &str)] = match &op {
            AggOp::Count
            | AggOp::Cogroup { .. }
            | AggOp::TableCount
            | AggOp::TableReduce { .. }
            | AggOp::TableAggregate { .. } => &[],
            AggOp::Reduce { .. } => &[(0, 2, "`|aggregate, value|`")],
            AggOp::Aggregate { merger: None, .. } => &[
                (0, 0, "no parameters `||`"),
                (1, 3, "`|key, value, aggregate|`"),
            ],
            AggOp::Aggregate {
                merger: Some(_), ..
            } => &[
                (0, 0, "no parameters `||`"),
                (1, 3, "`|key, value, aggregate|`"),
                (2, 3, "`|key, aggregate, other|`"),
            ],
        };
        for &(i, n, what) in arities {
            if let Some(actual) = closure_arity(&args[i]) {
                if actual != n {
                    self.errors.spanned(
                        &args[i],
                        format!(
                            "`{}` takes a closure with {what}, this one has {actual} parameter(s)",
                            spec.name
                        ),
                    );
                }
            }
        }
        // Kafka Streams names the store first (unless given), then the processor.
        let store = match &opts.named {
            Some(n) => n.value(),
            None => self.next_name(&format!("{}STATE-STORE-", spec.prefix)),
        };
        let name = self.next_name(spec.prefix);
        let mut upstream = input;
        // One key change feeding several aggregations goes through one
        // repartition topic (Kafka Streams' `topology.optimization=all`
        // merge of repartition topics), unless the grouping is named.
        let reusable = self
            .auto_repartitions
            .get(&input)
            .copied()
            .filter(|_| repartition_name.is_none());
        if let Some(existing) = reusable {
            upstream = existing;
        } else if self.key_changed(input) {
            let named = repartition_name.is_some();
            let prefix = repartition_name
                .map(|n| n.value())
                .unwrap_or_else(|| store.clone());
            upstream = self.graph.add(
                NodeKind::Repartition(ops::Repartition {
                    partitions: None,
                    changes: false,
                }),
                prefix,
                span,
                Some(input),
            );
            if !named {
                self.auto_repartitions.insert(input, upstream);
            }
        }
        if opts.caching_disabled && windows.as_ref().is_some_and(is_sliding) {
            self.errors.at(
                span,
                "`with_caching_disabled()` is not supported with sliding windows yet",
            );
        }
        let kind = NodeKind::Aggregate(ops::Aggregate {
            op,
            store,
            in_memory: opts.in_memory,
            // Final results come from the store, not from the cache's
            // flushes (see the README for the difference). A sliding- or
            // session-window aggregation keeps the structure (it runs
            // through the cache's interface) and writes through instead.
            cached: !opts.caching_disabled
                && (!emit_final
                    || windows.as_ref().is_some_and(|w| {
                        crate::graph::is_sliding(w) || crate::graph::is_session(w)
                    })),
            windows,
            emit_final,
        });
        let node = self.graph.add(kind, name, span, Some(upstream));
        if reusable.is_some() {
            self.graph.merged_repartitions.push((upstream, node));
        }
        Some(Value::Table(node))
    }

    fn index(&mut self, value: Value, key: &Expr) -> Option<Value> {
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

/// Builds the graph of a parsed topology function.
pub fn build(f: &TopologyFn, errors: &mut Errors) -> Graph {
    let mut b = Builder {
        graph: Graph::default(),
        env: HashMap::new(),
        poisoned: Default::default(),
        auto_repartitions: HashMap::new(),
        counter: 0,
        errors,
    };
    b.env.insert(f.builder.clone(), Value::Builder);
    for stmt in &f.statements {
        match stmt {
            Statement::Let { name, chain } => match b.chain(chain) {
                Some(Value::Terminal { op }) => {
                    b.errors
                        .spanned(name, format!("`{op}` returns nothing to bind"));
                    b.poisoned.insert(name.clone());
                }
                Some(v) => {
                    b.env.insert(name.clone(), v);
                }
                None => {
                    b.poisoned.insert(name.clone());
                }
            },
            Statement::Chain(chain) => {
                if let Some(Value::Split { .. }) = b.chain(chain) {
                    match chain.steps.last() {
                        Some(Step::Call(c)) => b.errors.spanned(
                            &c.tokens,
                            "a split must end with `default_branch(..)` or `no_default_branch()`",
                        ),
                        _ => b.errors.spanned(
                            &chain.root,
                            "a split must end with `default_branch(..)` or `no_default_branch()`",
                        ),
                    }
                }
            }
            Statement::Kept(_) => {}
        }
    }
    b.graph
}

/// The innermost call of a windows expression (`TimeWindows::of_size_..(..)`
/// in `TimeWindows::of_size_..(..).advance_by(..)`) and the type it is
/// called on (`"TimeWindows"`).
fn windows_call(expr: &Expr) -> Option<(String, &syn::ExprCall)> {
    let mut e = expr;
    while let Expr::MethodCall(m) = e {
        e = &m.receiver;
    }
    let Expr::Call(c) = e else { return None };
    let Expr::Path(p) = &*c.func else { return None };
    let segments: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let kind = segments.get(segments.len().checked_sub(2)?)?.clone();
    Some((kind, c))
}

/// Whether a (checked) `windowed_by` argument builds `SlidingWindows`.
pub fn is_sliding(expr: &Expr) -> bool {
    windows_call(expr).is_some_and(|(kind, _)| kind == "SlidingWindows")
}

/// Whether a (checked) `windowed_by` argument builds `SessionWindows`.
pub fn is_session(expr: &Expr) -> bool {
    windows_call(expr).is_some_and(|(kind, _)| kind == "SessionWindows")
}

/// Whether a (checked) `windowed_by` argument builds `TimeWindows`.
pub fn is_time_windows(expr: &Expr) -> bool {
    windows_call(expr).is_some_and(|(kind, _)| kind == "TimeWindows")
}

#[cfg(test)]
mod tests {
    use crate::compile_for_test as compile;
    use quote::quote;

    #[test]
    fn an_aggregation_after_a_key_change_reads_a_repartition_topic() {
        let c = compile(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                builder.stream::<String, String>("in")
                    .group_by(|_k, v| v.clone())
                    .count(named("counts"))
                    .to_stream()
                    .to("out");
                builder.build()
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let kinds: Vec<&str> = c
            .graph
            .nodes
            .iter()
            .map(|n| n.kind.op().dsl_name())
            .collect();
        assert_eq!(
            kinds,
            [
                "stream",
                "select_key",
                "repartition",
                "count",
                "to_stream",
                "to"
            ]
        );
        assert_eq!(c.graph.nodes[2].name, "counts");
        assert!(c.graph.nodes[2].kind.op().boundary());
    }

    #[test]
    fn misuse_is_reported_at_the_operator() {
        let err = compile(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                builder.stream::<String, String>("in").fliter(|_k, _v| true).to("out");
                builder.build()
            }
        })
        .err()
        .expect("an unknown operator");
        assert_eq!(
            err.to_string(),
            "unknown operator `fliter` on a stream; did you mean `filter`?"
        );
    }
}

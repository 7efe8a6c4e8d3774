//! The statement walker: evaluates each chain of DSL calls, looking every
//! method up in the operators' registry, checking its shape, options and
//! arity, and letting its operator build its nodes.

use super::syntax::{closure_arity, string_lit};
use super::{Graph, NodeId};
use crate::ctxt::Errors;
use crate::ops::{self, KeyEffect, NodeFn, NodeKind, OpSpec, Shape};
use crate::parse::{Call, Chain, Statement, Step, TopologyFn};
use proc_macro2::Span;
use std::collections::HashMap;
use syn::{Expr, Ident, LitStr};

/// What an operator's build function gets: its spec, the call, its
/// positional arguments and options, and where it was written.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    /// The DSL method.
    pub spec: &'static OpSpec,
    /// The call as written.
    pub call: &'a Call,
    /// Positional arguments (options removed), checked against the spec's arity.
    pub positional: &'a [Expr],
    /// Options (`named(..)`, `in_memory()`, ..).
    pub opts: &'a Options,
    /// The method's span: the node's.
    pub span: Span,
}

/// A DSL value, as bound to a name or flowing along a chain.
#[derive(Clone)]
#[allow(missing_docs)]
pub enum Value {
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
    /// What it is, and so which operators apply to it.
    pub fn shape(&self) -> Shape {
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
pub struct Grouping {
    pub(crate) input: NodeId,
    pub(crate) repartition_name: Option<LitStr>,
    pub(crate) windows: Option<Expr>,
    pub(crate) emit_final: bool,
}

/// Options such as `named("x")` and `partitions(4)` found among arguments.
#[derive(Default)]
pub struct Options {
    pub(crate) named: Option<LitStr>,
    pub(crate) partitions: Option<(i32, Span)>,
    pub(crate) in_memory: bool,
    pub(crate) caching_disabled: bool,
    pub(crate) extractor: Option<Expr>,
}

/// Builds the graph, statement by statement.
pub struct Builder<'e> {
    pub(crate) graph: Graph,
    pub(crate) env: HashMap<Ident, Value>,
    pub(crate) poisoned: std::collections::HashSet<Ident>,
    pub(crate) counter: usize,
    pub(crate) errors: &'e mut Errors,
}

impl<'e> Builder<'e> {
    /// Whether records reaching `node` may have a key other than the one
    /// they were read (or last repartitioned) with: then an aggregation
    /// needs a repartition topic first, as Kafka Streams inserts one.
    pub(crate) fn key_changed(&self, node: NodeId) -> bool {
        let n = &self.graph.nodes[node];
        match n.kind.op().key() {
            KeyEffect::Changes => true,
            KeyEffect::Fixed => false,
            KeyEffect::Passes => n.inputs.iter().any(|&i| self.key_changed(i)),
        }
    }

    /// An operator that adds one node to a stream: built by `node` from
    /// the arguments, named by its spec (a repartition by `named(..)`, with
    /// `partitions(..)`).
    pub(crate) fn stream_node(
        &mut self,
        a: &Args<'_>,
        value: Value,
        node: NodeFn,
    ) -> Option<Value> {
        let Value::Stream(input) = value else {
            return None;
        };
        let (spec, opts) = (a.spec, a.opts);
        let kind = node(a.call, a.positional, self.errors)?;
        let name = match (&kind, &opts.named) {
            (NodeKind::Repartition(_), Some(n)) => n.value(),
            _ => self.name_for(spec, opts),
        };
        let kind = match kind {
            NodeKind::Repartition(_) => NodeKind::Repartition(ops::Repartition {
                changes: false,
                mergeable: false,
                partitions: opts.partitions.map(|p| p.0),
            }),
            k => k,
        };
        let node = self.graph.add(kind, name, a.span, Some(input));
        Some(if spec.gives == Shape::Terminal {
            Value::Terminal { op: spec.name }
        } else {
            Value::Stream(node)
        })
    }

    pub(crate) fn next_name(&mut self, prefix: &str) -> String {
        let name = format!("{prefix}{:010}", self.counter);
        self.counter += 1;
        name
    }

    pub(crate) fn name_for(&mut self, spec: &OpSpec, opts: &Options) -> String {
        match &opts.named {
            Some(n) => n.value(),
            None => self.next_name(spec.prefix),
        }
    }

    /// Splits `named(..)`/`partitions(..)` options from positional arguments.
    pub(crate) fn options(&mut self, spec: &OpSpec, call: &Call) -> (Vec<Expr>, Options) {
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

    pub(crate) fn check_arity(&mut self, spec: &OpSpec, call: &Call, positional: &[Expr]) -> bool {
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

    pub(crate) fn lookup_root(&mut self, root: &Ident) -> Option<Value> {
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
    pub(crate) fn chain(&mut self, chain: &Chain) -> Option<Value> {
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

    pub(crate) fn step(&mut self, value: Value, step: &Step) -> Option<Value> {
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
        if spec.on != shape && !spec.also_on.contains(&shape) {
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
        if !spec.types && call.types.is_some() {
            self.errors
                .spanned(&call.method, format!("`{method}` takes no type arguments"));
        }
        let (positional, opts) = self.options(spec, call);
        let expected = spec
            .args_on
            .iter()
            .find(|(on, _)| *on == shape)
            .map(|&(_, n)| n);
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
        let args = Args {
            spec,
            call,
            positional: &positional,
            opts: &opts,
            span: call.method.span(),
        };
        (spec.build)(self, &args, value)
    }
}

/// Builds the graph of a parsed topology function.
pub fn build(f: &TopologyFn, errors: &mut Errors) -> Graph {
    let mut b = Builder {
        graph: Graph::default(),
        env: HashMap::new(),
        poisoned: Default::default(),
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

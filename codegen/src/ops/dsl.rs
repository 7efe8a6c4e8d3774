//! The DSL's methods: what each applies to, its arguments and options. Each
//! family file lists its own (`DSL`); the registry in `ops` collects them.

use crate::ctxt::Errors;
use crate::graph::builder::{Args, Builder, Value};
use crate::ops::NodeKind;
use crate::parse::Call;
use syn::Expr;

/// What a DSL value is, and so which operators apply to it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    /// The `StreamsBuilder`.
    Builder,
    /// A `KStream`.
    Stream,
    /// The result of `split()`: takes `branch`/`default_branch`.
    Split,
    /// The named branches of a split: indexed with `["name"]`.
    Branches,
    /// What a terminal operation returns: nothing.
    Terminal,
    /// A grouped stream (`group_by_key()` / `group_by(..)`): takes `count`,
    /// `reduce`, `aggregate`.
    Grouped,
    /// A `KTable`, such as an aggregation's result.
    Table,
    /// A grouped table (`table.group_by(..)`): takes `count()`,
    /// `reduce(adder, subtractor)`, `aggregate(init, adder, subtractor)`.
    GroupedTable,
    /// Grouped streams being co-aggregated (`cogroup(..)`): takes more
    /// `cogroup(grouped, aggregator)` and then `aggregate(initializer)`.
    Cogrouped,
    /// A windowed grouped stream (`windowed_by(..)`): takes `count`,
    /// `reduce`, `aggregate`, whose results are keyed by `Windowed<K>`.
    WindowedGrouped,
}

impl Shape {
    /// How the shape is called in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Shape::Builder => "the builder",
            Shape::Stream => "a stream",
            Shape::Split => "a `split()`",
            Shape::Branches => "the branches of a `split()`",
            Shape::Terminal => "a terminal operation, which returns nothing",
            Shape::Grouped => "a grouped stream",
            Shape::Table => "a table",
            Shape::WindowedGrouped => "a windowed grouped stream",
            Shape::Cogrouped => "a cogrouped stream",
            Shape::GroupedTable => "a grouped table",
        }
    }
}

/// What the compiler knows about an operator.
pub struct OpSpec {
    /// DSL name.
    pub name: &'static str,
    /// What it applies to (and what messages say it applies to).
    pub on: Shape,
    /// Other shapes it applies to (`filter` to tables, `count` to windowed
    /// streams and grouped tables, ..).
    pub also_on: &'static [Shape],
    /// What it returns.
    pub gives: Shape,
    /// Positional arguments, min and max (options such as `named(..)` aside).
    pub args: (usize, usize),
    /// Options it accepts besides positional arguments.
    pub options: &'static [&'static str],
    /// Kafka Streams' processor name prefix.
    pub prefix: &'static str,
    /// How it is called, for error messages.
    pub usage: &'static str,
    /// Exact positional argument counts on some shapes (`aggregate` of a
    /// grouped table takes three), instead of `args`.
    pub args_on: &'static [(Shape, usize)],
    /// Whether it takes type arguments (`stream::<K, V>`).
    pub types: bool,
    /// Builds its nodes from the call on the value it applies to; `None`
    /// after an error (reported).
    pub build: BuildFn,
}

/// An operator's build function (see [`OpSpec::build`]).
pub type BuildFn = fn(&mut Builder<'_>, &Args<'_>, Value) -> Option<Value>;

/// Builds the one node of an operator that adds one to a stream (see
/// `Builder::stream_node`), from its positional arguments, reporting
/// misuse (`None` after an error).
pub type NodeFn = fn(&Call, &[Expr], &mut Errors) -> Option<NodeKind>;

pub const NAMED: &[&str] = &["named"];
pub const SOURCE: &[&str] = &["named", "extract_timestamp"];
pub const STORE: &[&str] = &["named", "in_memory", "with_caching_disabled"];

/// Reports a closure literal whose parameter count is not among `allowed`
/// (`what` says what is expected); other expressions are left to rustc.
pub fn expect_arity(
    call: &Call,
    args: &[Expr],
    errors: &mut Errors,
    allowed: &[usize],
    what: &str,
) {
    if let Some(n) = args.first().and_then(crate::graph::closure_arity) {
        if !allowed.contains(&n) {
            errors.spanned(
                &args[0],
                format!(
                    "`{}` takes a closure with {what}, this one has {n} parameter(s)",
                    call.method
                ),
            );
        }
    }
}

/// `|key, value|`, the closure most operators take.
pub const KEY_VALUE: &str = "two parameters `|key, value|`";

/// Every DSL method, family by family, in registry order.
pub fn all() -> impl Iterator<Item = &'static OpSpec> {
    super::DSL.iter().flat_map(|family| family.iter())
}

/// The operator called `name`.
pub fn lookup(name: &str) -> Option<&'static OpSpec> {
    all().find(|o| o.name == name)
}

/// The closest operator name applicable to `shape`, for "did you mean".
pub fn suggest(name: &str, shape: Shape) -> Option<&'static str> {
    // Kafka Streams' camelCase names (`mapValues`) map to snake_case.
    let snake = snake_case(name);
    if let Some(op) = all().find(|o| o.on == shape && o.name == snake) {
        return Some(op.name);
    }
    all()
        .filter(|o| o.on == shape)
        .map(|o| (edit_distance(name, o.name), o.name))
        .filter(|(d, n)| *d <= 2.max(n.len() / 3))
        .min()
        .map(|(_, n)| n)
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_for_the_right_shape() {
        assert_eq!(suggest("fliter", Shape::Stream), Some("filter"));
        assert_eq!(suggest("mapValues", Shape::Stream), Some("map_values"));
        assert_eq!(suggest("selectKey", Shape::Stream), Some("select_key"));
        assert_eq!(
            suggest("defaultBranch", Shape::Split),
            Some("default_branch")
        );
        assert_eq!(suggest("map_value", Shape::Stream), Some("map_values"));
        assert_eq!(suggest("brnach", Shape::Split), Some("branch"));
        assert_eq!(suggest("zzzzzz", Shape::Stream), None);
    }

    #[test]
    fn names_are_unique() {
        let ops: Vec<&OpSpec> = all().collect();
        for (i, a) in ops.iter().enumerate() {
            assert!(ops[i + 1..].iter().all(|b| b.name != a.name), "{}", a.name);
        }
    }
}

//! The DSL's operators: one table entry each. Adding an operator is one entry
//! here, one arm where `graph` builds its node, and one where `emit` writes it.

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

/// Operator identity.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    /// `stream::<K, V>(topics)`
    Stream,
    /// `filter(pred)`
    Filter,
    /// `filter_not(pred)`
    FilterNot,
    /// `map(|k, v| (k2, v2))`
    Map,
    /// `map_values(|v| v2)` or `map_values(|k, v| v2)`
    MapValues,
    /// `flat_map(|k, v| iter of (k2, v2))`
    FlatMap,
    /// `flat_map_values(|v| iter of v2)`
    FlatMapValues,
    /// `select_key(|k, v| k2)`
    SelectKey,
    /// `peek(|k, v| ..)`
    Peek,
    /// `foreach(|k, v| ..)`
    Foreach,
    /// `split()`
    Split,
    /// `branch("name", pred)`
    Branch,
    /// `default_branch("name")`
    DefaultBranch,
    /// `no_default_branch()`
    NoDefaultBranch,
    /// `merge(other)`
    Merge,
    /// `repartition()`
    Repartition,
    /// `to("topic")` or `to(|k, v, ctx| topic)`
    To,
    /// `print()` / `print("label")`
    Print,
    /// `group_by_key()`
    GroupByKey,
    /// `group_by(|k, v| new_key)`
    GroupBy,
    /// `count()`
    Count,
    /// `reduce(|agg, v| agg2)`
    Reduce,
    /// `aggregate(|| init, |k, v, agg| agg2)`
    Aggregate,
    /// `to_stream()`
    ToStream,
    /// `windowed_by(TimeWindows::..)`
    WindowedBy,
    /// `suppress(until_window_closes(..))` / `suppress(until_time_limit(..))`
    Suppress,
    /// `builder.table::<K, V>("topic")`
    Table,
    /// `cogroup(aggregator)` on a grouped stream, `cogroup(grouped, aggregator)` on a cogrouped one
    Cogroup,
    /// `to_table()`
    ToTable,
    /// `process(factory, "store"..)`: a user `Processor`
    Process,
    /// `builder.add_state_store("name")`: a key-value store for processors
    AddStateStore,
    /// `process_values(factory, "store"..)`: a user `FixedKeyProcessor`
    ProcessValues,
    /// `emit_strategy(EmitStrategy::on_window_close())` on windowed grouped streams
    EmitStrategy,
}

/// What the compiler knows about an operator.
pub struct OpSpec {
    /// DSL name.
    pub name: &'static str,
    /// Identity.
    pub op: Op,
    /// What it applies to.
    pub on: Shape,
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
}

const NAMED: &[&str] = &["named"];
const SOURCE: &[&str] = &["named", "extract_timestamp"];
const STORE: &[&str] = &["named", "in_memory", "with_caching_disabled"];

/// Every operator.
pub const OPS: &[OpSpec] = &[
    OpSpec {
        name: "stream",
        op: Op::Stream,
        on: Shape::Builder,
        gives: Shape::Stream,
        args: (1, 1),
        options: SOURCE,
        prefix: "KSTREAM-SOURCE-",
        usage: "stream::<K, V>(\"topic\") or stream::<K, V>([\"a\", \"b\"])",
    },
    OpSpec {
        name: "cogroup",
        op: Op::Cogroup,
        on: Shape::Grouped,
        gives: Shape::Cogrouped,
        args: (1, 2),
        options: &[],
        prefix: "COGROUPKSTREAM-AGGREGATE-",
        usage: "grouped.cogroup(|key, value, aggregate| ..), then .cogroup(other_grouped, |key, value, aggregate| ..), then .aggregate(|| initial)",
    },
    OpSpec {
        name: "table",
        op: Op::Table,
        on: Shape::Builder,
        gives: Shape::Table,
        args: (1, 1),
        options: NAMED,
        prefix: "KTABLE-SOURCE-",
        usage: "table::<K, V>(\"topic\")",
    },
    OpSpec {
        name: "process",
        op: Op::Process,
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 16),
        options: NAMED,
        prefix: "KSTREAM-PROCESSOR-",
        usage: "process(|| MyProcessor::new(), \"store\", ..) with `MyProcessor: weir::Processor`",
    },
    OpSpec {
        name: "emit_strategy",
        op: Op::EmitStrategy,
        on: Shape::WindowedGrouped,
        gives: Shape::WindowedGrouped,
        args: (1, 1),
        options: &[],
        prefix: "",
        usage: "emit_strategy(EmitStrategy::on_window_close()) or emit_strategy(EmitStrategy::on_window_update())",
    },
    OpSpec {
        name: "process_values",
        op: Op::ProcessValues,
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 16),
        options: NAMED,
        prefix: "KSTREAM-PROCESSVALUES-",
        usage: "process_values(|| MyProcessor::new(), \"store\", ..) with `MyProcessor: weir::FixedKeyProcessor`",
    },
    OpSpec {
        name: "add_state_store",
        op: Op::AddStateStore,
        on: Shape::Builder,
        gives: Shape::Builder,
        args: (1, 1),
        options: &["in_memory"],
        prefix: "",
        usage: "add_state_store(\"name\") or add_state_store(\"name\", in_memory())",
    },
    OpSpec {
        name: "to_table",
        op: Op::ToTable,
        on: Shape::Stream,
        gives: Shape::Table,
        args: (0, 0),
        options: NAMED,
        prefix: "KSTREAM-TOTABLE-",
        usage: "to_table()",
    },
    OpSpec {
        name: "filter",
        op: Op::Filter,
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-FILTER-",
        usage: "filter(|key, value| -> bool)",
    },
    OpSpec {
        name: "filter_not",
        op: Op::FilterNot,
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-FILTER-",
        usage: "filter_not(|key, value| -> bool)",
    },
    OpSpec {
        name: "map",
        op: Op::Map,
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-MAP-",
        usage: "map(|key, value| (new_key, new_value))",
    },
    OpSpec {
        name: "map_values",
        op: Op::MapValues,
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-MAPVALUES-",
        usage: "map_values(|value| new_value) or map_values(|key, value| new_value)",
    },
    OpSpec {
        name: "flat_map",
        op: Op::FlatMap,
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-FLATMAP-",
        usage: "flat_map(|key, value| iterator of (key, value))",
    },
    OpSpec {
        name: "flat_map_values",
        op: Op::FlatMapValues,
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-FLATMAPVALUES-",
        usage: "flat_map_values(|value| iterator of values) or flat_map_values(|key, value| ..)",
    },
    OpSpec {
        name: "select_key",
        op: Op::SelectKey,
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-KEY-SELECT-",
        usage: "select_key(|key, value| new_key)",
    },
    OpSpec {
        name: "peek",
        op: Op::Peek,
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-PEEK-",
        usage: "peek(|key, value| { .. })",
    },
    OpSpec {
        name: "foreach",
        op: Op::Foreach,
        on: Shape::Stream,
        gives: Shape::Terminal,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-FOREACH-",
        usage: "foreach(|key, value| { .. })",
    },
    OpSpec {
        name: "split",
        op: Op::Split,
        on: Shape::Stream,
        gives: Shape::Split,
        args: (0, 0),
        options: NAMED,
        prefix: "KSTREAM-BRANCH-",
        usage: "split() or split(named(\"prefix-\"))",
    },
    OpSpec {
        name: "branch",
        op: Op::Branch,
        on: Shape::Split,
        gives: Shape::Split,
        args: (1, 2),
        options: &[],
        prefix: "",
        usage: "branch(\"name\", |key, value| -> bool) or branch(|key, value| -> bool)",
    },
    OpSpec {
        name: "default_branch",
        op: Op::DefaultBranch,
        on: Shape::Split,
        gives: Shape::Branches,
        args: (0, 1),
        options: &[],
        prefix: "",
        usage: "default_branch() or default_branch(\"name\")",
    },
    OpSpec {
        name: "no_default_branch",
        op: Op::NoDefaultBranch,
        on: Shape::Split,
        gives: Shape::Branches,
        args: (0, 0),
        options: &[],
        prefix: "",
        usage: "no_default_branch()",
    },
    OpSpec {
        name: "merge",
        op: Op::Merge,
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-MERGE-",
        usage: "merge(other_stream)",
    },
    OpSpec {
        name: "repartition",
        op: Op::Repartition,
        on: Shape::Stream,
        gives: Shape::Stream,
        args: (0, 0),
        options: &["named", "partitions"],
        prefix: "KSTREAM-REPARTITION-",
        usage: "repartition(), repartition(named(\"name\")), repartition(partitions(4))",
    },
    OpSpec {
        name: "to",
        op: Op::To,
        on: Shape::Stream,
        gives: Shape::Terminal,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-SINK-",
        usage: "to(\"topic\") or to(|key, value, record_context| topic_name)",
    },
    OpSpec {
        name: "print",
        op: Op::Print,
        on: Shape::Stream,
        gives: Shape::Terminal,
        args: (0, 1),
        options: NAMED,
        prefix: "KSTREAM-PRINTER-",
        usage: "print() or print(\"label\")",
    },
    OpSpec {
        name: "group_by_key",
        op: Op::GroupByKey,
        on: Shape::Stream,
        gives: Shape::Grouped,
        args: (0, 0),
        options: NAMED,
        prefix: "",
        usage: "group_by_key() or group_by_key(named(\"repartition-name\"))",
    },
    OpSpec {
        name: "group_by",
        op: Op::GroupBy,
        on: Shape::Stream,
        gives: Shape::Grouped,
        args: (1, 1),
        options: NAMED,
        prefix: "KSTREAM-KEY-SELECT-",
        usage: "group_by(|key, value| new_key)",
    },
    OpSpec {
        name: "count",
        op: Op::Count,
        on: Shape::Grouped,
        gives: Shape::Table,
        args: (0, 0),
        options: STORE,
        prefix: "KSTREAM-AGGREGATE-",
        usage: "count(), count(named(\"store\")), count(in_memory())",
    },
    OpSpec {
        name: "reduce",
        op: Op::Reduce,
        on: Shape::Grouped,
        gives: Shape::Table,
        args: (1, 1),
        options: STORE,
        prefix: "KSTREAM-REDUCE-",
        usage: "reduce(|aggregate, value| new_aggregate)",
    },
    OpSpec {
        name: "aggregate",
        op: Op::Aggregate,
        on: Shape::Grouped,
        gives: Shape::Table,
        args: (2, 3),
        options: STORE,
        prefix: "KSTREAM-AGGREGATE-",
        usage: "aggregate(|| initial, |key, value, aggregate| new_aggregate)",
    },
    OpSpec {
        name: "windowed_by",
        op: Op::WindowedBy,
        on: Shape::Grouped,
        gives: Shape::WindowedGrouped,
        args: (1, 1),
        options: &[],
        prefix: "",
        usage: "windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))",
    },
    OpSpec {
        name: "suppress",
        op: Op::Suppress,
        on: Shape::Table,
        gives: Shape::Table,
        args: (1, 1),
        options: &[],
        prefix: "KTABLE-SUPPRESS-",
        usage: "suppress(until_window_closes(unbounded())) or suppress(until_time_limit(duration, max_records(n)))",
    },
    OpSpec {
        name: "to_stream",
        op: Op::ToStream,
        on: Shape::Table,
        gives: Shape::Stream,
        args: (0, 0),
        options: NAMED,
        prefix: "KTABLE-TOSTREAM-",
        usage: "to_stream()",
    },
];

/// The operator called `name`.
pub fn lookup(name: &str) -> Option<&'static OpSpec> {
    OPS.iter().find(|o| o.name == name)
}

/// The closest operator name applicable to `shape`, for "did you mean".
pub fn suggest(name: &str, shape: Shape) -> Option<&'static str> {
    // Kafka Streams' camelCase names (`mapValues`) map to snake_case.
    let snake = snake_case(name);
    if let Some(op) = OPS.iter().find(|o| o.on == shape && o.name == snake) {
        return Some(op.name);
    }
    OPS.iter()
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
        for (i, a) in OPS.iter().enumerate() {
            assert!(OPS[i + 1..].iter().all(|b| b.name != a.name), "{}", a.name);
        }
    }
}

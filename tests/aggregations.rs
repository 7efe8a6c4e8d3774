//! Stream aggregations through the TopologyTestDriver, in the style of Kafka
//! Streams' `KStreamAggregateTest`/`KStreamReduceTest`: explicit timestamps,
//! one assertion list per step, stores read back from the driver.

use weir::prelude::*;
use weir::testing::TestRecord;

fn s(x: &str) -> String {
    x.to_string()
}

#[weir::topology]
fn word_count() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<(), String>("lines")
        .flat_map_values(|line| {
            line.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .group_by(|_, word| word.clone())
        .count()
        .to_stream()
        .to("counts");
    builder.build()
}

#[test]
fn count_after_group_by_repartitions_and_counts_per_key() {
    let driver = TopologyTestDriver::new(word_count());
    let lines = driver.create_input_topic::<(), String>("lines");
    let counts = driver.create_output_topic::<String, i64>("counts");
    lines.pipe_value_with_timestamp(s("a b a"), 10);
    lines.pipe_value_with_timestamp(s("B"), 5);
    assert_eq!(
        counts.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("a"), 1, 10),
            TestRecord::with_timestamp(s("b"), 1, 10),
            TestRecord::with_timestamp(s("a"), 2, 10),
            // The aggregate's timestamp is the largest it has seen.
            TestRecord::with_timestamp(s("b"), 2, 10),
        ]
    );
    let store =
        driver.get_key_value_store::<String, i64>("KSTREAM-AGGREGATE-STATE-STORE-0000000003");
    assert_eq!(store.get(&s("a")), Some(2));
    assert_eq!(store.get(&s("zzz")), None);
    assert_eq!(store.all(), vec![(s("a"), 2), (s("b"), 2)]);
    let text = driver.describe().to_string();
    assert!(text.contains("Processor: KSTREAM-AGGREGATE-0000000004 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000003])"), "{text}");
    assert!(
        text.contains("KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition"),
        "{text}"
    );
    // Changelog records, readable by full name as in Kafka Streams' driver.
    let changelog = driver.create_output_topic::<String, i64>(
        "test-app-KSTREAM-AGGREGATE-STATE-STORE-0000000003-changelog",
    );
    assert_eq!(changelog.queue_size(), 4);
}

#[weir::topology]
fn totals() -> impl Topology {
    let builder = StreamsBuilder::new();
    let amounts = builder.stream::<Option<String>, Option<i64>>("amounts");
    amounts
        .group_by_key()
        .reduce(|total, amount| Some(total.unwrap_or(0) + amount.unwrap_or(0)))
        .to_stream()
        .to("totals");
    amounts
        .group_by_key()
        .aggregate(
            String::new,
            |_k, v, agg| format!("{agg}{}", v.unwrap_or(0)),
            named("concat"),
            in_memory(),
        )
        .to_stream()
        .to("concatenated");
    builder.build()
}

#[test]
fn reduce_and_aggregate_skip_null_keys_and_values() {
    let driver = TopologyTestDriver::new(totals());
    let input = driver.create_input_topic::<Option<String>, Option<i64>>("amounts");
    input.pipe_input_with_timestamp(Some(s("x")), Some(5), 1);
    input.pipe_input_with_timestamp(None, Some(7), 2); // null key: dropped
    input.pipe_input_with_timestamp(Some(s("x")), None, 3); // null value: dropped
    input.pipe_input_with_timestamp(Some(s("y")), Some(1), 4);
    input.pipe_input_with_timestamp(Some(s("x")), Some(2), 0); // out of order
    let totals = driver.create_output_topic::<String, i64>("totals");
    assert_eq!(
        totals.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("x"), 5, 1),
            TestRecord::with_timestamp(s("y"), 1, 4),
            TestRecord::with_timestamp(s("x"), 7, 1),
        ]
    );
    let concatenated = driver.create_output_topic::<String, String>("concatenated");
    assert_eq!(
        concatenated.read_key_values_to_list(),
        vec![(s("x"), s("5")), (s("y"), s("1")), (s("x"), s("52"))]
    );
    assert_eq!(
        driver
            .get_key_value_store::<String, String>("concat")
            .get(&s("x")),
        Some(s("52"))
    );
    // The null key and the null value, dropped by both aggregations.
    assert_eq!(driver.dropped_records(), 4);
}

#[weir::topology]
fn in_memory_counts() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("events")
        .group_by_key()
        .count(named("event-counts"), in_memory())
        .to_stream()
        .to("event-counts-out");
    builder.build()
}

#[test]
fn group_by_key_without_key_change_needs_no_repartition() {
    let driver = TopologyTestDriver::new(in_memory_counts());
    let plan = driver.describe().0;
    assert_eq!(plan.subtopologies.len(), 1);
    assert_eq!(plan.stores.len(), 1);
    assert_eq!(plan.internal_topics[0].name, "event-counts-changelog");
    let events = driver.create_input_topic::<String, String>("events");
    events.pipe_key_value_list(vec![(s("a"), s("1")), (s("a"), s("2")), (s("b"), s("3"))]);
    let out = driver.create_output_topic::<String, i64>("event-counts-out");
    assert_eq!(
        out.read_key_values_to_list(),
        vec![(s("a"), 1), (s("a"), 2), (s("b"), 1)]
    );
}

#[test]
fn both_store_backends_give_the_same_results() {
    for backend in ["rocksDB", "in_memory"] {
        let mut config = weir::StreamsConfig::new("backends");
        config.set("default.dsl.store", backend).unwrap();
        let driver = TopologyTestDriver::with_config(word_count(), config);
        driver
            .create_input_topic::<(), String>("lines")
            .pipe_value(s("x y x"));
        let counts = driver.create_output_topic::<String, i64>("counts");
        assert_eq!(
            counts.read_key_values_to_list(),
            vec![(s("x"), 1), (s("y"), 1), (s("x"), 2)],
            "{backend}"
        );
    }
}

#[weir::topology]
fn two_aggregations_one_key_change() -> impl Topology {
    let builder = StreamsBuilder::new();
    let by_first_letter = builder
        .stream::<(), String>("words")
        .select_key(|_, w| w.chars().next().map(String::from).unwrap_or_default());
    by_first_letter
        .group_by_key()
        .count()
        .to_stream()
        .to("letter-counts");
    by_first_letter
        .group_by_key()
        .reduce(|longest, w| if w.len() > longest.len() { w } else { longest })
        .to_stream()
        .to("longest-per-letter");
    builder.build()
}

#[test]
fn one_key_change_feeding_two_aggregations_uses_one_repartition_topic() {
    let driver = TopologyTestDriver::new(two_aggregations_one_key_change());
    let plan = driver.describe().0;
    let repartitions: Vec<&str> = plan
        .internal_topics
        .iter()
        .filter(|t| t.kind == weir::plan::InternalTopicKind::Repartition)
        .map(|t| t.name)
        .collect();
    assert_eq!(
        repartitions,
        ["KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition"]
    );
    let text = driver.describe().to_string();
    assert!(
        text.contains("merge-repartition: `KSTREAM-REDUCE-0000000007`"),
        "{text}"
    );
    let words = driver.create_input_topic::<(), String>("words");
    words.pipe_value_list(vec![s("apple"), s("avocado"), s("banana"), s("ax")]);
    let counts = driver.create_output_topic::<String, i64>("letter-counts");
    let longest = driver.create_output_topic::<String, String>("longest-per-letter");
    assert_eq!(
        counts.read_key_values_to_list(),
        vec![(s("a"), 1), (s("a"), 2), (s("b"), 1), (s("a"), 3)]
    );
    assert_eq!(
        longest.read_key_values_to_list(),
        vec![
            (s("a"), s("apple")),
            (s("a"), s("avocado")),
            (s("b"), s("banana")),
            (s("a"), s("avocado"))
        ]
    );
}

#[test]
fn a_restart_rebuilds_stores_from_their_changelogs() {
    for backend in ["rocksDB", "in_memory"] {
        let mut config = weir::StreamsConfig::new("restart");
        config.set("default.dsl.store", backend).unwrap();
        let driver = TopologyTestDriver::with_config(word_count(), config);
        let lines = driver.create_input_topic::<(), String>("lines");
        let counts = driver.create_output_topic::<String, i64>("counts");
        lines.pipe_value(s("a b a"));
        driver.restart();
        let store =
            driver.get_key_value_store::<String, i64>("KSTREAM-AGGREGATE-STATE-STORE-0000000003");
        assert_eq!(store.all(), vec![(s("a"), 2), (s("b"), 1)], "{backend}");
        lines.pipe_value(s("a"));
        assert_eq!(
            counts.read_key_values_to_list().last(),
            Some(&(s("a"), 3)),
            "{backend}"
        );
        driver.restart();
        driver.restart();
        lines.pipe_value(s("b"));
        assert_eq!(
            counts.read_key_values_to_list(),
            vec![(s("b"), 2)],
            "{backend}"
        );
    }
}

#[weir::topology]
fn cogrouped() -> impl Topology {
    let builder = StreamsBuilder::new();
    let clicks = builder.stream::<String, i64>("clicks").group_by_key();
    let views = builder
        .stream::<(), String>("views")
        .group_by(|_, page| page.clone());
    clicks
        .cogroup(|_page, n, total: i64| total + n)
        .cogroup(views, |_page, _view, total| total + 100)
        .aggregate(|| 0)
        .to_stream()
        .to("activity");
    builder.build()
}

#[test]
fn cogroup_aggregates_several_grouped_streams_into_one_table() {
    let driver = TopologyTestDriver::new(cogrouped());
    let clicks = driver.create_input_topic::<String, i64>("clicks");
    let views = driver.create_input_topic::<(), String>("views");
    clicks.pipe_input_with_timestamp(s("home"), 2, 10);
    views.pipe_value_with_timestamp(s("home"), 20);
    clicks.pipe_input_with_timestamp(s("cart"), 5, 5);
    views.pipe_value_with_timestamp(s("cart"), 1);
    let out = driver.create_output_topic::<String, i64>("activity");
    assert_eq!(
        out.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("home"), 2, 10),
            TestRecord::with_timestamp(s("home"), 102, 20),
            TestRecord::with_timestamp(s("cart"), 5, 5),
            TestRecord::with_timestamp(s("cart"), 105, 5),
        ]
    );
    let plan = driver.describe().0;
    assert_eq!(plan.stores.len(), 1, "one store shared by both inputs");
    let text = driver.describe().to_string();
    assert!(text.contains("COGROUPKSTREAM-MERGE-"), "{text}");
}

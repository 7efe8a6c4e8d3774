//! Tables through the TopologyTestDriver, in the style of Kafka Streams'
//! `KTableSourceTest`/`KTableFilterTest`/`KTableMapValuesTest`: a null value
//! is a tombstone, filtered-out values become tombstones, tombstones stay
//! tombstones through `map_values`.

use weir::prelude::*;
use weir::testing::TestRecord;

fn s(x: &str) -> String {
    x.to_string()
}

#[weir::topology]
fn prices() -> impl Topology {
    let builder = StreamsBuilder::new();
    let prices = builder.table::<String, i64>("prices");
    prices.to_stream().to("prices-out");
    prices
        .filter(|_sku, price| *price >= 100)
        .to_stream()
        .to("expensive");
    prices
        .filter_not(|_sku, price| *price >= 100)
        .map_values(|price| format!("{price} cents"))
        .to_stream()
        .to("cheap-labels");
    builder.build()
}

#[test]
fn table_source_filter_and_map_values_propagate_tombstones() {
    let driver = TopologyTestDriver::new(prices());
    let input = driver.create_input_topic::<Option<String>, Option<i64>>("prices");
    input.pipe_input_with_timestamp(Some(s("a")), Some(150), 1);
    input.pipe_input_with_timestamp(Some(s("b")), Some(20), 2);
    input.pipe_input_with_timestamp(None, Some(5), 3); // null key: dropped
    input.pipe_input_with_timestamp(Some(s("a")), None, 4); // tombstone
    let all = driver.create_output_topic::<String, Option<i64>>("prices-out");
    assert_eq!(
        all.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("a"), Some(150), 1),
            TestRecord::with_timestamp(s("b"), Some(20), 2),
            TestRecord::with_timestamp(s("a"), None, 4),
        ]
    );
    let expensive = driver.create_output_topic::<String, Option<i64>>("expensive");
    assert_eq!(
        expensive.read_key_values_to_list(),
        vec![(s("a"), Some(150)), (s("b"), None), (s("a"), None)]
    );
    let labels = driver.create_output_topic::<String, Option<String>>("cheap-labels");
    assert_eq!(
        labels.read_key_values_to_list(),
        vec![
            (s("a"), None),
            (s("b"), Some(s("20 cents"))),
            (s("a"), None)
        ]
    );
}

#[weir::topology]
fn counts_filtered() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("events")
        .to_table()
        .to_stream()
        .group_by_key()
        .count()
        .filter(|_k, n| n % 2 == 0)
        .to_stream()
        .to("even-counts");
    builder.build()
}

#[test]
fn filtering_an_aggregation_turns_misses_into_tombstones() {
    // Without the record cache every update is forwarded: a count the
    // filter rejects becomes a tombstone, even if nothing passed before.
    let mut config = StreamsConfig::new("test-app");
    config.set("statestore.cache.max.bytes", "0").unwrap();
    let driver = TopologyTestDriver::with_config(counts_filtered(), config);
    let events = driver.create_input_topic::<String, String>("events");
    let records = vec![
        (s("x"), s("1")),
        (s("x"), s("2")),
        (s("y"), s("3")),
        (s("x"), s("4")),
    ];
    events.pipe_key_value_list(records.clone());
    let out = driver.create_output_topic::<String, Option<i64>>("even-counts");
    assert_eq!(
        out.read_key_values_to_list(),
        vec![
            (s("x"), None),
            (s("x"), Some(2)),
            (s("y"), None),
            (s("x"), None)
        ]
    );
    // Behind the cache (the default) the aggregation also sends its old
    // value, and the filter skips an update rejected both before and after:
    // only the tombstone of a count that passed before remains.
    let driver = TopologyTestDriver::new(counts_filtered());
    let events = driver.create_input_topic::<String, String>("events");
    events.pipe_key_value_list(records);
    let out = driver.create_output_topic::<String, Option<i64>>("even-counts");
    assert_eq!(
        out.read_key_values_to_list(),
        vec![(s("x"), Some(2)), (s("x"), None)]
    );
    let text = driver.describe().to_string();
    assert!(text.contains("KSTREAM-TOTABLE-0000000001"), "{text}");
    assert!(text.contains("KTABLE-FILTER-"), "{text}");
}

#[weir::topology]
fn users_per_region() -> impl Topology {
    let builder = StreamsBuilder::new();
    let users = builder.table::<String, String>("user-regions");
    users
        .group_by(|_user, region| (region.clone(), 1i64))
        .count()
        .to_stream()
        .to("users-per-region");
    users
        .group_by(|user, region| (region.clone(), user.len() as i64))
        .reduce(|total, n| total + n, |total, n| total - n)
        .to_stream()
        .to("name-lengths-per-region");
    builder.build()
}

#[test]
fn a_grouped_table_subtracts_old_values_and_adds_new_ones() {
    let driver = TopologyTestDriver::new(users_per_region());
    let users = driver.create_input_topic::<Option<String>, Option<String>>("user-regions");
    users.pipe_input_with_timestamp(Some(s("ann")), Some(s("eu")), 1);
    users.pipe_input_with_timestamp(Some(s("bob")), Some(s("eu")), 2);
    users.pipe_input_with_timestamp(Some(s("ann")), Some(s("us")), 3); // moves: eu - 1, us + 1
    users.pipe_input_with_timestamp(Some(s("bob")), None, 4); // deleted: eu - 1
    let counts = driver.create_output_topic::<String, Option<i64>>("users-per-region");
    assert_eq!(
        counts.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("eu"), Some(1), 1),
            TestRecord::with_timestamp(s("eu"), Some(2), 2),
            TestRecord::with_timestamp(s("eu"), Some(1), 3),
            TestRecord::with_timestamp(s("us"), Some(1), 3),
            TestRecord::with_timestamp(s("eu"), Some(0), 4),
        ]
    );
    let lengths = driver.create_output_topic::<String, Option<i64>>("name-lengths-per-region");
    assert_eq!(
        lengths.read_key_values_to_list(),
        vec![
            (s("eu"), Some(3)),
            (s("eu"), Some(6)),
            (s("eu"), Some(3)),
            (s("us"), Some(3)),
            (s("eu"), Some(0))
        ]
    );
}

/// A `table(topic)` store uses its topic as its changelog (rewrite
/// `source-topic-changelog`): no changelog topic is written, and a restart
/// rebuilds the store from the topic, so old values are still subtracted.
#[test]
fn a_table_store_is_restored_from_its_source_topic() {
    let driver = TopologyTestDriver::new(users_per_region());
    let text = driver.describe().to_string();
    assert!(text.contains("source-topic-changelog"), "{text}");
    assert!(
        !text.contains("user-regions-STATE-STORE-0000000001-changelog"),
        "{text}"
    );
    let users = driver.create_input_topic::<Option<String>, Option<String>>("user-regions");
    users.pipe_input_with_timestamp(Some(s("ann")), Some(s("eu")), 1);
    users.pipe_input_with_timestamp(Some(s("bob")), Some(s("eu")), 2);
    assert!(
        !driver
            .produced_topic_names()
            .iter()
            .any(|t| t.contains("STATE-STORE-0000000001-changelog")),
        "{:?}",
        driver.produced_topic_names()
    );
    driver.restart();
    users.pipe_input_with_timestamp(Some(s("ann")), Some(s("us")), 3); // eu - 1, us + 1
    let counts = driver.create_output_topic::<String, Option<i64>>("users-per-region");
    let after: Vec<(String, Option<i64>)> = counts
        .read_key_values_to_list()
        .into_iter()
        .skip(2)
        .collect();
    assert_eq!(after, vec![(s("eu"), Some(1)), (s("us"), Some(1))]);
}

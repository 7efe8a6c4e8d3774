//! Stream-table joins through the TopologyTestDriver, in the style of Kafka
//! Streams' `KStreamKTableJoinTest` / `KStreamKTableLeftJoinTest`: only
//! stream records trigger; the table's updates and tombstones change what
//! later stream records find; null keys and values as Kafka Streams; each
//! case with the record cache on and off.

use weir::prelude::*;
use weir::testing::TestRecord;

fn s(x: &str) -> String {
    x.to_string()
}

#[weir::topology]
fn enrich() -> impl Topology {
    let builder = StreamsBuilder::new();
    let regions = builder.table::<String, String>("regions");
    let clicks = builder.stream::<String, String>("clicks");
    clicks
        .join(regions, |page, region| format!("{page}@{region}"))
        .to("joined");
    builder.build()
}

#[weir::topology]
fn enrich_left() -> impl Topology {
    let builder = StreamsBuilder::new();
    let regions = builder.table::<String, String>("regions");
    builder
        .stream::<String, String>("clicks")
        .left_join(regions, |user, page, region: Option<&String>| {
            format!("{user}:{page}@{}", region.map_or("?", |r| r.as_str()))
        })
        .to("joined");
    builder.build()
}

/// Clicks keyed by page, re-keyed by user (a repartition) before the join.
#[weir::topology]
fn enrich_rekeyed() -> impl Topology {
    let builder = StreamsBuilder::new();
    let regions = builder.table::<String, String>("regions");
    builder
        .stream::<String, String>("clicks-by-page")
        .select_key(|_page, user| user.clone())
        .join(regions, |user, region| format!("{user}@{region}"))
        .to("joined");
    builder.build()
}

/// Nullable keys and values, as Kafka Streams sees them.
#[weir::topology]
fn nullable() -> impl Topology {
    let builder = StreamsBuilder::new();
    let table = builder.table::<Option<String>, String>("table");
    let stream = builder.stream::<Option<String>, Option<String>>("stream");
    stream
        .join(table, |v: &Option<String>, t| format!("{v:?}+{t}"))
        .to("inner");
    let table2 = builder.table::<Option<String>, String>("table2");
    stream
        .left_join(table2, |v: &Option<String>, t: Option<&String>| {
            format!("{v:?}+{t:?}")
        })
        .to("left");
    builder.build()
}

fn config(cache: bool) -> StreamsConfig {
    let mut config = StreamsConfig::new("joins");
    if !cache {
        config.set("statestore.cache.max.bytes", "0").unwrap();
    }
    config
}

#[test]
fn only_stream_records_trigger_and_see_the_table_as_it_is_then() {
    for cache in [false, true] {
        let driver = TopologyTestDriver::with_config(enrich(), config(cache));
        let regions = driver.create_input_topic::<String, Option<String>>("regions");
        let clicks = driver.create_input_topic::<String, String>("clicks");
        let out = driver.create_output_topic::<String, String>("joined");
        clicks.pipe_input_with_timestamp(s("ann"), s("home"), 1); // no region yet
        regions.pipe_input_with_timestamp(s("ann"), Some(s("eu")), 2); // no output
        assert!(out.read_records_to_list().is_empty(), "cache {cache}");
        clicks.pipe_input_with_timestamp(s("ann"), s("cart"), 3);
        clicks.pipe_input_with_timestamp(s("bob"), s("home"), 4); // bob has none
        regions.pipe_input_with_timestamp(s("ann"), Some(s("us")), 5);
        clicks.pipe_input_with_timestamp(s("ann"), s("pay"), 7);
        regions.pipe_input_with_timestamp(s("ann"), None, 8); // tombstone
        clicks.pipe_input_with_timestamp(s("ann"), s("bye"), 9);
        // The result has the stream record's timestamp.
        assert_eq!(
            out.read_records_to_list(),
            vec![
                TestRecord::with_timestamp(s("ann"), s("cart@eu"), 3),
                TestRecord::with_timestamp(s("ann"), s("pay@us"), 7),
            ],
            "cache {cache}"
        );
    }
}

#[test]
fn a_left_join_emits_misses_with_none() {
    for cache in [false, true] {
        let driver = TopologyTestDriver::with_config(enrich_left(), config(cache));
        let regions = driver.create_input_topic::<String, Option<String>>("regions");
        let clicks = driver.create_input_topic::<String, String>("clicks");
        let out = driver.create_output_topic::<String, String>("joined");
        clicks.pipe_input_with_timestamp(s("ann"), s("home"), 1);
        regions.pipe_input_with_timestamp(s("ann"), Some(s("eu")), 2);
        clicks.pipe_input_with_timestamp(s("ann"), s("cart"), 3);
        regions.pipe_input_with_timestamp(s("ann"), None, 4);
        clicks.pipe_input_with_timestamp(s("ann"), s("pay"), 5);
        assert_eq!(
            out.read_key_values_to_list(),
            vec![
                (s("ann"), s("ann:home@?")),
                (s("ann"), s("ann:cart@eu")),
                (s("ann"), s("ann:pay@?")),
            ],
            "cache {cache}"
        );
    }
}

#[test]
fn a_stream_whose_key_changed_is_repartitioned_before_the_join() {
    let topology = enrich_rekeyed();
    let description = topology.describe().to_string();
    assert!(
        description.contains("KSTREAM-KEY-SELECT-0000000004-repartition"),
        "{description}"
    );
    assert!(
        description.contains(
            "Processor: KSTREAM-JOIN-0000000005 (stores: [regions-STATE-STORE-0000000000])"
        ),
        "{description}"
    );
    let driver = TopologyTestDriver::new(topology);
    let regions = driver.create_input_topic::<String, Option<String>>("regions");
    let clicks = driver.create_input_topic::<String, String>("clicks-by-page");
    let out = driver.create_output_topic::<String, String>("joined");
    regions.pipe_input_with_timestamp(s("ann"), Some(s("eu")), 1);
    regions.pipe_input_with_timestamp(s("bob"), Some(s("us")), 2);
    clicks.pipe_input_with_timestamp(s("home"), s("ann"), 3);
    clicks.pipe_input_with_timestamp(s("cart"), s("bob"), 4);
    clicks.pipe_input_with_timestamp(s("cart"), s("cid"), 5);
    assert_eq!(
        out.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("ann"), s("ann@eu"), 3),
            TestRecord::with_timestamp(s("bob"), s("bob@us"), 4),
        ]
    );
}

#[test]
fn null_keys_and_values_are_dropped_except_a_left_joins_null_key() {
    for cache in [false, true] {
        let driver = TopologyTestDriver::with_config(nullable(), config(cache));
        let table = driver.create_input_topic::<Option<String>, Option<String>>("table");
        let table2 = driver.create_input_topic::<Option<String>, Option<String>>("table2");
        let stream = driver.create_input_topic::<Option<String>, Option<String>>("stream");
        table.pipe_input_with_timestamp(Some(s("k")), Some(s("t")), 1);
        table2.pipe_input_with_timestamp(Some(s("k")), Some(s("t2")), 1);
        stream.pipe_input_with_timestamp(Some(s("k")), Some(s("v")), 2);
        stream.pipe_input_with_timestamp(Some(s("k")), None, 3); // null value: dropped by both
        stream.pipe_input_with_timestamp(None, Some(s("w")), 4); // null key: only the left join
        let inner = driver.create_output_topic::<Option<String>, String>("inner");
        assert_eq!(
            inner.read_key_values_to_list(),
            vec![(Some(s("k")), s("Some(\"v\")+t"))],
            "cache {cache}"
        );
        let left = driver.create_output_topic::<Option<String>, String>("left");
        assert_eq!(
            left.read_key_values_to_list(),
            vec![
                (Some(s("k")), s("Some(\"v\")+Some(\"t2\")")),
                (None, s("Some(\"w\")+None")),
            ],
            "cache {cache}"
        );
        assert_eq!(driver.dropped_records(), 3, "cache {cache}");
    }
}

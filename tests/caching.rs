//! The record cache through the TopologyTestDriver. As Kafka Streams' test
//! driver, weir's commits after every input record, and a commit flushes
//! the cache: what caching changes here is that the updates one input
//! record makes to one key collapse into the last one (Kafka Streams'
//! `CachingKeyValueStore` / `CachingWindowStore`). Over a real broker the
//! cache collapses the updates of a whole commit interval (see
//! `kafka_state.rs`).

use std::time::Duration;
use weir::prelude::*;
use weir::testing::TestRecord;

fn s(x: &str) -> String {
    x.to_string()
}

/// Words per user: one input line updates the user's count once per word.
#[weir::topology]
fn words_per_user() -> impl Topology {
    let builder = StreamsBuilder::new();
    let words = builder
        .stream::<String, String>("lines")
        .flat_map_values(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
    words
        .group_by_key()
        .count(named("cached"))
        .to_stream()
        .to("cached-counts");
    words
        .group_by_key()
        .count(named("uncached"), with_caching_disabled())
        .to_stream()
        .to("uncached-counts");
    words
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(
            100,
        )))
        .count(named("windowed"), in_memory())
        .to_stream()
        .map(|k, n| (format!("{}@{}", k.key, k.window.start), n))
        .to("windowed-counts");
    builder.build()
}

fn driver(cache_bytes: Option<&str>) -> TopologyTestDriver<impl Topology> {
    let mut config = StreamsConfig::new("caching");
    if let Some(bytes) = cache_bytes {
        config.set("statestore.cache.max.bytes", bytes).unwrap();
    }
    TopologyTestDriver::with_config(words_per_user(), config)
}

#[test]
fn updates_of_one_key_within_one_record_collapse_into_the_last() {
    let driver = driver(None);
    let lines = driver.create_input_topic::<String, String>("lines");
    lines.pipe_input_with_timestamp(s("ann"), s("a b a"), 10);
    lines.pipe_input_with_timestamp(s("bob"), s("x"), 20);
    lines.pipe_input_with_timestamp(s("ann"), s("c d"), 150);

    let cached = driver.create_output_topic::<String, i64>("cached-counts");
    assert_eq!(
        cached.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("ann"), 3, 10),
            TestRecord::with_timestamp(s("bob"), 1, 20),
            TestRecord::with_timestamp(s("ann"), 5, 150),
        ]
    );
    // `with_caching_disabled()`: every update goes downstream.
    let uncached = driver.create_output_topic::<String, i64>("uncached-counts");
    assert_eq!(
        uncached.read_key_values_to_list(),
        [
            ("ann", 1),
            ("ann", 2),
            ("ann", 3),
            ("bob", 1),
            ("ann", 4),
            ("ann", 5)
        ]
        .map(|(k, n)| (s(k), n))
    );
    // Windowed stores are cached too: one update per window and record.
    let windowed = driver.create_output_topic::<String, i64>("windowed-counts");
    assert_eq!(
        windowed.read_key_values_to_list(),
        [("ann@0", 3), ("bob@0", 1), ("ann@100", 2)].map(|(k, n)| (s(k), n))
    );
    // The changelogs carry the same collapsed updates.
    let log = driver.create_output_topic::<String, i64>("caching-cached-changelog");
    assert_eq!(
        log.read_key_values_to_list(),
        [("ann", 3), ("bob", 1), ("ann", 5)].map(|(k, n)| (s(k), n))
    );
    assert_eq!(
        driver
            .create_output_topic::<String, i64>("caching-uncached-changelog")
            .queue_size(),
        6
    );
    // Reads see the flushed stores.
    let store = driver.get_key_value_store::<String, i64>("cached");
    assert_eq!(store.get(&s("ann")), Some(5));
}

#[test]
fn a_zero_byte_cache_forwards_every_update() {
    // `statestore.cache.max.bytes=0`, as Kafka Streams strips the caching
    // layers then.
    let driver = driver(Some("0"));
    let lines = driver.create_input_topic::<String, String>("lines");
    lines.pipe_input_with_timestamp(s("ann"), s("a b a"), 10);
    let cached = driver.create_output_topic::<String, i64>("cached-counts");
    assert_eq!(cached.read_values_to_list(), vec![1, 2, 3]);
    let windowed = driver.create_output_topic::<String, i64>("windowed-counts");
    assert_eq!(windowed.read_values_to_list(), vec![1, 2, 3]);
}

#[test]
fn a_cache_too_small_for_an_entry_evicts_and_forwards_at_once() {
    // One byte: every put is over budget and evicts (flushing) its entry.
    let driver = driver(Some("1"));
    let lines = driver.create_input_topic::<String, String>("lines");
    lines.pipe_input_with_timestamp(s("ann"), s("a b a"), 10);
    let cached = driver.create_output_topic::<String, i64>("cached-counts");
    assert_eq!(cached.read_values_to_list(), vec![1, 2, 3]);
    assert_eq!(
        driver
            .get_key_value_store::<String, i64>("cached")
            .get(&s("ann")),
        Some(3)
    );
}

#[test]
fn stores_written_through_the_driver_are_read_back_by_the_topology() {
    let driver = driver(None);
    let lines = driver.create_input_topic::<String, String>("lines");
    lines.pipe_input_with_timestamp(s("ann"), s("a"), 10);
    // The value read into the cache is replaced behind it: the next update
    // must see the new one.
    driver
        .get_key_value_store::<String, i64>("cached")
        .put(&s("ann"), &40, 10);
    lines.pipe_input_with_timestamp(s("ann"), s("b"), 11);
    let cached = driver.create_output_topic::<String, i64>("cached-counts");
    assert_eq!(cached.read_values_to_list(), vec![1, 41]);
}

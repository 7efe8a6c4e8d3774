//! Windowed aggregations through the TopologyTestDriver, in the style of
//! Kafka Streams' `KStreamWindowAggregateTest`: explicit timestamps,
//! out-of-order and late records, grace boundaries.

use std::time::Duration;
use weir::prelude::*;
use weir::testing::TestRecord;

fn s(x: &str) -> String {
    x.to_string()
}

fn w(key: &str, start: i64) -> Windowed<String> {
    // Output topics carry only the window start (Kafka Streams' format).
    Windowed::new(s(key), start, i64::MAX)
}

#[weir::topology]
fn tumbling(grace_ms: u64) -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("clicks")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(10),
            Duration::from_millis(grace_ms),
        ))
        .count()
        .to_stream()
        .to("counts");
    builder.build()
}

#[test]
fn tumbling_windows_count_until_stream_time_passes_end_plus_grace() {
    let driver = TopologyTestDriver::new(tumbling(5));
    let clicks = driver.create_input_topic::<String, String>("clicks");
    let counts = driver.create_output_topic::<Windowed<String>, i64>("counts");
    clicks.pipe_input_with_timestamp(s("a"), s("1"), 0);
    clicks.pipe_input_with_timestamp(s("a"), s("2"), 9);
    clicks.pipe_input_with_timestamp(s("a"), s("3"), 10); // next window: [10, 20)
    clicks.pipe_input_with_timestamp(s("a"), s("4"), 4); // late but within grace: stream time 10 < 10 + 5
    clicks.pipe_input_with_timestamp(s("b"), s("5"), 15); // stream time 15: [0, 10) closes (10 + 5 <= 15)
    clicks.pipe_input_with_timestamp(s("a"), s("6"), 5); // dropped: its window closed
    assert_eq!(
        counts.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(w("a", 0), 1, 0),
            TestRecord::with_timestamp(w("a", 0), 2, 9),
            TestRecord::with_timestamp(w("a", 10), 1, 10),
            TestRecord::with_timestamp(w("a", 0), 3, 9),
            TestRecord::with_timestamp(w("b", 10), 1, 15),
        ]
    );
    assert_eq!(driver.dropped_records(), 1, "the late record is counted");
    let store = driver.get_window_store::<String, i64>("KSTREAM-AGGREGATE-STATE-STORE-0000000001");
    assert_eq!(store.fetch(&s("a"), 0), Some(3));
    assert_eq!(store.fetch_range(&s("a"), 0, 100), vec![(0, 3), (10, 1)]);
    assert_eq!(
        store.all(),
        vec![(s("a"), 0, 3), (s("a"), 10, 1), (s("b"), 10, 1)]
    );
}

#[weir::topology]
fn hopping() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("amounts")
        .group_by_key()
        .windowed_by(
            TimeWindows::of_size_with_no_grace(Duration::from_millis(10))
                .advance_by(Duration::from_millis(5)),
        )
        .reduce(|total, amount| total + amount)
        .to_stream()
        .map(|wk, total| {
            (
                format!("{}@{}-{}", wk.key, wk.window.start, wk.window.end),
                total,
            )
        })
        .to("totals");
    builder.build()
}

#[test]
fn hopping_windows_update_every_window_containing_the_record() {
    let driver = TopologyTestDriver::new(hopping());
    let amounts = driver.create_input_topic::<String, i64>("amounts");
    amounts.pipe_input_with_timestamp(s("k"), 1, 7);
    amounts.pipe_input_with_timestamp(s("k"), 2, 12);
    let totals = driver.create_output_topic::<String, i64>("totals");
    assert_eq!(
        totals.read_key_values_to_list(),
        vec![
            (s("k@0-10"), 1),
            (s("k@5-15"), 1),
            (s("k@5-15"), 3),
            (s("k@10-20"), 2)
        ]
    );
}

#[test]
fn windowed_stores_are_readable_from_the_driver_description() {
    let driver = TopologyTestDriver::new(tumbling(0));
    let text = driver.describe().to_string();
    assert!(
        text.contains("(stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])"),
        "{text}"
    );
    let plan = driver.describe().0;
    assert_eq!(plan.stores[0].kind, weir::plan::StoreKind::Window);
}

#[weir::topology]
fn final_counts() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("clicks")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(10),
            Duration::from_millis(5),
        ))
        .count()
        .suppress(until_window_closes(unbounded()))
        .to_stream()
        .to("final-counts");
    builder.build()
}

#[test]
fn suppress_until_window_closes_emits_only_final_results() {
    let driver = TopologyTestDriver::new(final_counts());
    let clicks = driver.create_input_topic::<String, String>("clicks");
    let out = driver.create_output_topic::<Windowed<String>, i64>("final-counts");
    clicks.pipe_input_with_timestamp(s("a"), s("1"), 1);
    clicks.pipe_input_with_timestamp(s("b"), s("2"), 2);
    clicks.pipe_input_with_timestamp(s("a"), s("3"), 8);
    clicks.pipe_input_with_timestamp(s("a"), s("4"), 14); // stream time 14 < 10 + 5: nothing closes
    assert!(out.is_empty());
    clicks.pipe_input_with_timestamp(s("c"), s("5"), 15); // [0, 10) closes: its final counts, by key
    assert_eq!(
        out.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(w("a", 0), 2, 8),
            TestRecord::with_timestamp(w("b", 0), 1, 2)
        ]
    );
    clicks.pipe_input_with_timestamp(s("a"), s("6"), 3); // late: dropped by the aggregation
    clicks.pipe_input_with_timestamp(s("a"), s("7"), 30); // [10, 20) closes
    assert_eq!(
        out.read_key_values_to_list(),
        vec![(w("a", 10), 1), (w("c", 10), 1)]
    );
    assert!(driver
        .describe()
        .to_string()
        .contains("(stores: [KTABLE-SUPPRESS-STATE-STORE-0000000004])"));
}

/// The suppression buffer is logged (an in-memory store mirroring it,
/// with a changelog): a restart between an update and its window's close
/// still emits the final result.
#[test]
fn suppressed_results_survive_a_restart() {
    let driver = TopologyTestDriver::new(final_counts());
    let clicks = driver.create_input_topic::<String, String>("clicks");
    let out = driver.create_output_topic::<Windowed<String>, i64>("final-counts");
    clicks.pipe_input_with_timestamp(s("a"), s("1"), 1);
    clicks.pipe_input_with_timestamp(s("a"), s("2"), 8);
    clicks.pipe_input_with_timestamp(s("b"), s("3"), 9);
    assert!(out.is_empty());
    let changelog = driver.create_output_topic::<String, String>(
        "test-app-KTABLE-SUPPRESS-STATE-STORE-0000000004-changelog",
    );
    assert_eq!(changelog.queue_size(), 3, "each buffered update is logged");
    driver.restart();
    clicks.pipe_input_with_timestamp(s("c"), s("4"), 15); // [0, 10) closes
    assert_eq!(
        out.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(w("a", 0), 2, 8),
            TestRecord::with_timestamp(w("b", 0), 1, 9)
        ]
    );
}

#[weir::topology]
fn rate_limited() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("levels")
        .group_by_key()
        .reduce(|_old, new| new)
        .suppress(until_time_limit(Duration::from_millis(10), max_records(2)))
        .to_stream()
        .to("levels-limited");
    builder.build()
}

#[test]
fn suppress_until_time_limit_keeps_the_latest_and_emits_early_when_full() {
    let driver = TopologyTestDriver::new(rate_limited());
    let levels = driver.create_input_topic::<String, i64>("levels");
    let out = driver.create_output_topic::<String, i64>("levels-limited");
    levels.pipe_input_with_timestamp(s("x"), 1, 0);
    levels.pipe_input_with_timestamp(s("x"), 2, 5);
    assert!(out.is_empty());
    levels.pipe_input_with_timestamp(s("y"), 7, 6);
    levels.pipe_input_with_timestamp(s("x"), 3, 10); // x first buffered at 0: 0 <= 10 - 10
    assert_eq!(out.read_key_values_to_list(), vec![(s("x"), 3)]);
    levels.pipe_input_with_timestamp(s("z"), 1, 11);
    levels.pipe_input_with_timestamp(s("w"), 1, 12); // three buffered > max 2: oldest (y) early
    assert_eq!(out.read_key_values_to_list(), vec![(s("y"), 7)]);
}

#[test]
fn a_restart_rebuilds_window_stores_from_their_changelogs() {
    let driver = TopologyTestDriver::new(tumbling(5));
    let clicks = driver.create_input_topic::<String, String>("clicks");
    let counts = driver.create_output_topic::<Windowed<String>, i64>("counts");
    clicks.pipe_input_with_timestamp(s("a"), s("1"), 1);
    clicks.pipe_input_with_timestamp(s("a"), s("2"), 2);
    driver.restart();
    clicks.pipe_input_with_timestamp(s("a"), s("3"), 3);
    assert_eq!(
        counts.read_key_values_to_list().last(),
        Some(&(w("a", 0), 3))
    );
    let store = driver.get_window_store::<String, i64>("KSTREAM-AGGREGATE-STATE-STORE-0000000001");
    assert_eq!(store.fetch(&s("a"), 0), Some(3));
}

#[weir::topology]
fn windowed_and_total_counts() -> impl Topology {
    let builder = StreamsBuilder::new();
    let clicks = builder.stream::<String, String>("clicks");
    clicks
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(10),
            Duration::from_millis(100),
        ))
        .count()
        .to_stream()
        .to("windowed-counts");
    clicks.group_by_key().count().to_stream().to("total-counts");
    builder.build()
}

#[test]
fn driver_finds_a_key_value_store_beside_a_window_store_in_one_subtopology() {
    let driver = TopologyTestDriver::new(windowed_and_total_counts());
    let clicks = driver.create_input_topic::<String, String>("clicks");
    clicks.pipe_input_with_timestamp(s("a"), s("1"), 0);
    clicks.pipe_input_with_timestamp(s("a"), s("2"), 12);
    let windows =
        driver.get_window_store::<String, i64>("KSTREAM-AGGREGATE-STATE-STORE-0000000001");
    assert_eq!(windows.fetch_range(&s("a"), 0, 100), vec![(0, 1), (10, 1)]);
    let totals =
        driver.get_key_value_store::<String, i64>("KSTREAM-AGGREGATE-STATE-STORE-0000000005");
    assert_eq!(totals.get(&s("a")), Some(2));
}

#[weir::topology]
fn sliding_counts() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("clicks")
        .group_by_key()
        .windowed_by(SlidingWindows::of_time_difference_and_grace(
            Duration::from_millis(10),
            Duration::from_millis(5),
        ))
        .count(named("sliding"))
        .to_stream()
        .map(|k, n| {
            (
                format!("{}@[{},{}]", k.key, k.window.start, k.window.end),
                n,
            )
        })
        .to("sliding-counts");
    builder.build()
}

/// Sliding windows as in Kafka Streams' `KStreamSlidingWindowAggregateTest`:
/// windows `[start, start + 10]`, both bounds inclusive, only where records
/// are; an out-of-order record updates every window containing it and gets
/// its own; a record too late for every window is dropped.
#[test]
fn sliding_windows_follow_the_records() {
    for backend in ["rocksDB", "in_memory"] {
        let mut config = StreamsConfig::new("sliding");
        config.set("default.dsl.store", backend).unwrap();
        // Caching off: every update is visible.
        config.set("statestore.cache.max.bytes", "0").unwrap();
        let driver = TopologyTestDriver::with_config(sliding_counts(), config);
        let clicks = driver.create_input_topic::<String, String>("clicks");
        let out = driver.create_output_topic::<String, i64>("sliding-counts");
        let pipe = |ts: i64| clicks.pipe_input_with_timestamp(s("a"), s("x"), ts);

        // An early record (before the first difference) goes into [0,10].
        clicks.pipe_input_with_timestamp(s("b"), s("x"), 3);
        assert_eq!(out.read_key_values_to_list(), vec![(s("b@[0,10]"), 1)]);

        pipe(20); // left window [10,20]
        assert_eq!(
            out.read_records_to_list(),
            vec![TestRecord::with_timestamp(s("a@[10,20]"), 1, 20)]
        );
        pipe(30); // the right window of 20 ([21,31]), then 30's left window
        assert_eq!(
            out.read_key_values_to_list(),
            vec![(s("a@[21,31]"), 1), (s("a@[20,30]"), 2)]
        );
        pipe(25); // out of order: both windows containing 25, then its own
        assert_eq!(
            out.read_key_values_to_list(),
            vec![
                (s("a@[21,31]"), 2),
                (s("a@[20,30]"), 3),
                (s("a@[15,25]"), 2),
                (s("a@[26,36]"), 1),
            ],
            "{backend}"
        );
        // Stream time 30, grace 5: a record at 14 needs [4,14], closed
        // (14 < 30 - 5); dropped and counted. (Stream time is the
        // aggregation's, over all keys.)
        pipe(14);
        assert!(out.is_empty());
        assert_eq!(driver.dropped_records(), 1);
        let store = driver.get_window_store::<String, i64>("sliding");
        assert_eq!(
            store.fetch_range(&s("a"), 0, 100),
            vec![(10, 1), (15, 2), (20, 3), (21, 2), (26, 1)],
            "{backend}"
        );
    }
}

#[weir::topology]
fn sessions() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("clicks")
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_and_grace(
            Duration::from_millis(10),
            Duration::from_millis(20),
        ))
        .count(named("sessions"))
        .to_stream()
        .map(|k, n| {
            (
                format!("{}@[{},{}]", k.key, k.window.start, k.window.end),
                n,
            )
        })
        .to("session-counts");
    builder.build()
}

/// Session windows as in Kafka Streams' `KStreamSessionWindowAggregateProcessorTest`:
/// records within the gap extend a session; a record bridging two
/// sessions merges them (each merged session is deleted: a tombstone, then
/// the merged one); results carry the session end as timestamp; a record
/// whose session closed (end + gap + grace passed) is dropped. Sessions
/// leave the store after gap + grace (its retention), so only sessions
/// that recent can merge.
#[test]
fn sessions_grow_merge_and_close() {
    for backend in ["rocksDB", "in_memory"] {
        let mut config = StreamsConfig::new("sessions");
        config.set("default.dsl.store", backend).unwrap();
        config.set("statestore.cache.max.bytes", "0").unwrap();
        let driver = TopologyTestDriver::with_config(sessions(), config);
        let clicks = driver.create_input_topic::<String, String>("clicks");
        let out = driver.create_output_topic::<String, Option<i64>>("session-counts");
        let pipe = |ts: i64| clicks.pipe_input_with_timestamp(s("a"), s("x"), ts);

        pipe(0);
        pipe(5); // within the gap: [0,5]
        assert_eq!(
            out.read_records_to_list(),
            vec![
                TestRecord::with_timestamp(s("a@[0,0]"), Some(1), 0),
                TestRecord::with_timestamp(s("a@[0,0]"), None, 0),
                TestRecord::with_timestamp(s("a@[0,5]"), Some(2), 5),
            ]
        );
        pipe(20); // a new session
        pipe(12); // within the gap of both [0,5] and [20,20]: they merge
        assert_eq!(
            out.read_key_values_to_list(),
            vec![
                (s("a@[20,20]"), Some(1)),
                (s("a@[0,5]"), None),
                (s("a@[20,20]"), None),
                (s("a@[0,20]"), Some(4)),
            ],
            "{backend}"
        );
        let store = driver.get_session_store::<String, i64>("sessions");
        assert_eq!(
            store.fetch(&s("a")),
            vec![(weir::Window { start: 0, end: 20 }, 4)],
            "{backend}"
        );
        // Stream time 60: sessions ending before 60 - 20 - 10 = 30 closed.
        pipe(60);
        pipe(25); // would merge with [0,20] into [0,25], closed: dropped
        assert_eq!(
            out.read_key_values_to_list(),
            vec![(s("a@[60,60]"), Some(1))]
        );
        assert_eq!(driver.dropped_records(), 1);
        // [0,20] left the store's retention (gap + grace = 30) at stream
        // time 60 and was deleted.
        assert_eq!(
            store.fetch(&s("a")),
            vec![(weir::Window { start: 60, end: 60 }, 1)]
        );
        // The store is rebuilt from its changelog on a restart (which still
        // holds [0,20]: the broker deletes it by time).
        driver.restart();
        let store = driver.get_session_store::<String, i64>("sessions");
        assert_eq!(store.fetch(&s("a")).len(), 2, "{backend}");
    }
}

#[weir::topology]
fn final_results() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("clicks")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(10),
            Duration::from_millis(5),
        ))
        .emit_strategy(EmitStrategy::on_window_close())
        .count()
        .to_stream()
        .to("final-results");
    builder.build()
}

/// `emit_strategy(EmitStrategy::on_window_close())`, as Kafka Streams'
/// `KStreamWindowAggregate` with `EmitStrategy.onWindowClose()`: no update
/// goes downstream; once a window has closed, its final count does, read
/// from the store by window start then key.
#[test]
fn emit_on_window_close_forwards_only_final_results() {
    let mut config = StreamsConfig::new("final");
    // Look for closed windows on every record (the driver's clock is still).
    config
        .set("emit.interval.ms.kstreams.windowed.aggregation", "0")
        .unwrap();
    let driver = TopologyTestDriver::with_config(final_results(), config);
    let clicks = driver.create_input_topic::<String, String>("clicks");
    let out = driver.create_output_topic::<Windowed<String>, i64>("final-results");
    clicks.pipe_input_with_timestamp(s("b"), s("1"), 1);
    clicks.pipe_input_with_timestamp(s("a"), s("2"), 5);
    clicks.pipe_input_with_timestamp(s("b"), s("3"), 8);
    clicks.pipe_input_with_timestamp(s("a"), s("4"), 12);
    assert!(out.is_empty(), "no updates, nothing closed yet");
    clicks.pipe_input_with_timestamp(s("c"), s("5"), 15); // [0, 10) closes
    assert_eq!(
        out.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(w("a", 0), 1, 5),
            TestRecord::with_timestamp(w("b", 0), 2, 8)
        ]
    );
    clicks.pipe_input_with_timestamp(s("c"), s("6"), 16);
    assert!(out.is_empty(), "each window once");
}

//! Timestamps: the record's own by default, a per-source extractor, and the
//! handling of invalid (negative) timestamps chosen in configuration, as
//! Kafka Streams' built-in timestamp extractors.

use std::time::Duration;
use weir::prelude::*;
use weir::testing::TestRecord;

fn s(x: &str) -> String {
    x.to_string()
}

#[weir::topology]
fn passthrough() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.stream::<String, i64>("in").to("out");
    builder.build()
}

fn driver_with(extractor: &str) -> TopologyTestDriver<impl Topology> {
    let mut config = StreamsConfig::new("timestamps");
    config
        .set("default.timestamp.extractor", extractor)
        .unwrap();
    TopologyTestDriver::with_config(passthrough(), config)
}

#[test]
#[should_panic(expected = "invalid (negative) timestamp -5")]
fn a_negative_timestamp_fails_by_default() {
    let driver = TopologyTestDriver::new(passthrough());
    driver
        .create_input_topic::<String, i64>("in")
        .pipe_input_with_timestamp(s("k"), 1, -5);
}

#[test]
fn log_and_skip_drops_and_counts_records_with_a_negative_timestamp() {
    let driver = driver_with("org.apache.kafka.streams.processor.LogAndSkipOnInvalidTimestamp");
    let input = driver.create_input_topic::<String, i64>("in");
    input.pipe_input_with_timestamp(s("a"), 1, 10);
    input.pipe_input_with_timestamp(s("b"), 2, -1);
    let out = driver.create_output_topic::<String, i64>("out");
    assert_eq!(
        out.read_records_to_list(),
        vec![TestRecord::with_timestamp(s("a"), 1, 10)]
    );
    assert_eq!(driver.skipped_records(), 1);
}

#[test]
fn use_partition_time_replaces_a_negative_timestamp() {
    let driver = driver_with("UsePartitionTimeOnInvalidTimestamp");
    let input = driver.create_input_topic::<String, i64>("in");
    input.pipe_input_with_timestamp(s("a"), 1, 30);
    input.pipe_input_with_timestamp(s("b"), 2, 20);
    input.pipe_input_with_timestamp(s("c"), 3, -7);
    let out = driver.create_output_topic::<String, i64>("out");
    let timestamps: Vec<i64> = out
        .read_records_to_list()
        .iter()
        .map(|r| r.timestamp)
        .collect();
    assert_eq!(timestamps, [30, 20, 30]);
}

#[test]
fn bad_extractor_names_are_configuration_errors() {
    let mut config = StreamsConfig::new("x");
    let err = config
        .set("default.timestamp.extractor", "MyExtractor")
        .unwrap_err();
    assert!(
        err.to_string().contains("LogAndSkipOnInvalidTimestamp"),
        "{err}"
    );
}

#[weir::topology]
fn event_time() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        // The event time is in the value: "<millis>,<payload>".
        .stream::<String, String>(
            "events",
            extract_timestamp(|_k, v, ctx| {
                v.split(',')
                    .next()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(ctx.timestamp)
            }),
        )
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(
            100,
        )))
        .count()
        .to_stream()
        .map(|wk, n| (format!("{}@{}", wk.key, wk.window.start), n))
        .to("per-window");
    builder.build()
}

#[test]
fn a_per_source_extractor_sets_event_time_and_negative_results_are_skipped() {
    let driver = TopologyTestDriver::new(event_time());
    let events = driver.create_input_topic::<String, String>("events");
    events.pipe_input_with_timestamp(s("k"), s("150,a"), 999_999);
    events.pipe_input_with_timestamp(s("k"), s("120,b"), 1);
    events.pipe_input_with_timestamp(s("k"), s("-3,c"), 5); // extractor returns -3: skipped
    events.pipe_input_with_timestamp(s("k"), s("no time"), 260); // falls back to the record's
    let out = driver.create_output_topic::<String, i64>("per-window");
    assert_eq!(
        out.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("k@100"), 1, 150),
            TestRecord::with_timestamp(s("k@100"), 2, 150),
            TestRecord::with_timestamp(s("k@200"), 1, 260),
        ]
    );
    assert_eq!(driver.skipped_records(), 1);
}

//! Every stateless operator through the TopologyTestDriver, in the style of
//! Kafka Streams' own tests: explicit timestamps, one assertion list per step.

use weir::prelude::*;
use weir::testing::TestRecord;

fn s(x: &str) -> String {
    x.to_string()
}

#[weir::topology]
fn filters() -> impl Topology {
    let builder = StreamsBuilder::new();
    let numbers = builder.stream::<String, i64>("numbers");
    numbers.filter(|_k, v| v % 2 == 0).to("even");
    numbers.filter_not(|_k, v| v % 2 == 0).to("odd");
    builder.build()
}

#[test]
fn filter_and_filter_not_fan_out_and_keep_timestamps() {
    let driver = TopologyTestDriver::new(filters());
    let input = driver.create_input_topic::<String, i64>("numbers");
    let even = driver.create_output_topic::<String, i64>("even");
    let odd = driver.create_output_topic::<String, i64>("odd");
    for (i, n) in [1i64, 2, 3, 4].into_iter().enumerate() {
        input.pipe_input_with_timestamp(format!("k{n}"), n, 100 + i as i64);
    }
    assert_eq!(
        even.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("k2"), 2, 101),
            TestRecord::with_timestamp(s("k4"), 4, 103)
        ]
    );
    assert_eq!(
        odd.read_key_values_to_list(),
        vec![(s("k1"), 1), (s("k3"), 3)]
    );
    assert!(even.is_empty() && odd.is_empty());
}

#[weir::topology]
fn mappers(suffix: String) -> impl Topology {
    let builder = StreamsBuilder::new();
    let lines = builder.stream::<String, String>("lines");
    lines
        .map(|k, v| (v.len() as i64, format!("{k}:{v}")))
        .to("mapped");
    lines
        .map_values(move |v| format!("{v}{suffix}"))
        .to("values");
    lines
        .map_values(|k, v| format!("{k}={v}"))
        .to("values-with-key");
    lines
        .select_key(|_k, v| v.chars().next().map(String::from).unwrap_or_default())
        .to("rekeyed");
    builder.build()
}

#[test]
fn map_map_values_and_select_key() {
    let driver = TopologyTestDriver::new(mappers(s("!")));
    let input = driver.create_input_topic::<String, String>("lines");
    input.pipe_input_with_timestamp(s("a"), s("hello"), 7);
    input.pipe_input_with_timestamp(s("b"), s("yo"), 8);
    let mapped = driver.create_output_topic::<i64, String>("mapped");
    assert_eq!(
        mapped.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(5, s("a:hello"), 7),
            TestRecord::with_timestamp(2, s("b:yo"), 8)
        ]
    );
    let values = driver.create_output_topic::<String, String>("values");
    assert_eq!(
        values.read_key_values_to_list(),
        vec![(s("a"), s("hello!")), (s("b"), s("yo!"))]
    );
    let with_key = driver.create_output_topic::<String, String>("values-with-key");
    assert_eq!(
        with_key.read_values_to_list(),
        vec![s("a=hello"), s("b=yo")]
    );
    let rekeyed = driver.create_output_topic::<String, String>("rekeyed");
    assert_eq!(
        rekeyed.read_key_values_to_list(),
        vec![(s("h"), s("hello")), (s("y"), s("yo"))]
    );
}

#[weir::topology]
fn flat_mappers() -> impl Topology {
    let builder = StreamsBuilder::new();
    let text = builder.stream::<String, String>("text");
    text.flat_map_values(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .to("words");
    text.flat_map(|k, v| {
        v.split_whitespace()
            .map(|w| (w.len() as i32, format!("{k}/{w}")))
            .collect::<Vec<_>>()
    })
    .to("by-length");
    text.flat_map_values(|k, v| {
        if k.is_empty() {
            vec![]
        } else {
            vec![v.len() as u32]
        }
    })
    .to("sizes");
    builder.build()
}

#[test]
fn flat_map_and_flat_map_values_keep_key_and_timestamp() {
    let driver = TopologyTestDriver::new(flat_mappers());
    let input = driver.create_input_topic::<String, String>("text");
    input.pipe_input_with_timestamp(s("doc1"), s("to be or"), 42);
    input.pipe_input_with_timestamp(s("doc2"), s(""), 43);
    input.pipe_input_with_timestamp(s(""), s("skipped size"), 44);
    let words = driver.create_output_topic::<String, String>("words");
    assert_eq!(
        words.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("doc1"), s("to"), 42),
            TestRecord::with_timestamp(s("doc1"), s("be"), 42),
            TestRecord::with_timestamp(s("doc1"), s("or"), 42),
            TestRecord::with_timestamp(s(""), s("skipped"), 44),
            TestRecord::with_timestamp(s(""), s("size"), 44),
        ]
    );
    let by_length = driver.create_output_topic::<i32, String>("by-length");
    assert_eq!(
        by_length.read_key_values_to_list(),
        vec![
            (2, s("doc1/to")),
            (2, s("doc1/be")),
            (2, s("doc1/or")),
            (7, s("/skipped")),
            (4, s("/size"))
        ]
    );
    let sizes = driver.create_output_topic::<String, u32>("sizes");
    assert_eq!(
        sizes.read_key_values_to_list(),
        vec![(s("doc1"), 8), (s("doc2"), 0)]
    );
}

#[weir::topology]
fn peek_and_foreach(seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>) -> impl Topology {
    let builder = StreamsBuilder::new();
    let peeked = seen.clone();
    builder
        .stream::<String, String>("events")
        .peek(move |k, v| peeked.lock().unwrap().push(format!("peek {k}={v}")))
        .foreach(move |k, v| seen.lock().unwrap().push(format!("foreach {k}={v}")));
    builder.build()
}

#[test]
fn peek_and_foreach_see_every_record_in_order() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let driver = TopologyTestDriver::new(peek_and_foreach(seen.clone()));
    let input = driver.create_input_topic::<String, String>("events");
    input.pipe_key_value_list(vec![(s("a"), s("1")), (s("b"), s("2"))]);
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["peek a=1", "foreach a=1", "peek b=2", "foreach b=2"]
    );
    assert!(driver.produced_topic_names().is_empty());
}

#[weir::topology]
fn routing() -> impl Topology {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream::<String, i64>("amounts")
        .split(named("route-"))
        .branch("big", |_k, v| *v >= 100)
        .branch("small", |_k, v| *v > 0)
        .default_branch("other");
    branches["big"].to("big");
    branches["small"].map_values(|v| v * 10).to("small");
    branches["other"].to("other");
    builder.build()
}

#[test]
fn split_routes_each_record_to_the_first_matching_branch() {
    let driver = TopologyTestDriver::new(routing());
    let input = driver.create_input_topic::<String, i64>("amounts");
    input.pipe_key_value_list(vec![
        (s("a"), 500),
        (s("b"), 5),
        (s("c"), 0),
        (s("d"), 100),
        (s("e"), -3),
    ]);
    let big = driver.create_output_topic::<String, i64>("big");
    let small = driver.create_output_topic::<String, i64>("small");
    let other = driver.create_output_topic::<String, i64>("other");
    assert_eq!(
        big.read_key_values_to_list(),
        vec![(s("a"), 500), (s("d"), 100)]
    );
    assert_eq!(small.read_key_values_to_list(), vec![(s("b"), 50)]);
    assert_eq!(
        other.read_key_values_to_list(),
        vec![(s("c"), 0), (s("e"), -3)]
    );
    let description = driver.describe().to_string();
    assert!(
        description.contains("Processor: route-big (stores: [])"),
        "{description}"
    );
}

#[weir::topology]
fn unnamed_branches_without_default() -> impl Topology {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream::<(), i64>("amounts")
        .split()
        .branch(|_k, v| *v > 0)
        .branch(|_k, v| *v < 0)
        .no_default_branch();
    branches["1"].to("positive");
    branches["2"].to("negative");
    builder.build()
}

#[test]
fn unnamed_branches_are_numbered_and_unmatched_records_dropped() {
    let driver = TopologyTestDriver::new(unnamed_branches_without_default());
    let input = driver.create_input_topic::<(), i64>("amounts");
    input.pipe_value_list(vec![3, 0, -2]);
    let positive = driver.create_output_topic::<(), i64>("positive");
    let negative = driver.create_output_topic::<(), i64>("negative");
    assert_eq!(positive.read_values_to_list(), vec![3]);
    assert_eq!(negative.read_values_to_list(), vec![-2]);
    assert_eq!(driver.skipped_records(), 0);
}

#[weir::topology]
fn merging() -> impl Topology {
    let builder = StreamsBuilder::new();
    let left = builder.stream::<String, String>("left");
    let right = builder
        .stream::<String, String>(["right-a", "right-b"])
        .map_values(|v| v.to_uppercase());
    left.merge(right)
        .map_values(|v| format!("<{v}>"))
        .to("merged");
    builder.build()
}

#[test]
fn merge_interleaves_in_processing_order() {
    let driver = TopologyTestDriver::new(merging());
    let left = driver.create_input_topic::<String, String>("left");
    let right_a = driver.create_input_topic::<String, String>("right-a");
    let right_b = driver.create_input_topic::<String, String>("right-b");
    left.pipe_input_with_timestamp(s("1"), s("l"), 1);
    right_b.pipe_input_with_timestamp(s("2"), s("rb"), 2);
    right_a.pipe_input_with_timestamp(s("3"), s("ra"), 3);
    left.pipe_input_with_timestamp(s("4"), s("l2"), 4);
    let merged = driver.create_output_topic::<String, String>("merged");
    assert_eq!(
        merged.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("1"), s("<l>"), 1),
            TestRecord::with_timestamp(s("2"), s("<RB>"), 2),
            TestRecord::with_timestamp(s("3"), s("<RA>"), 3),
            TestRecord::with_timestamp(s("4"), s("<l2>"), 4),
        ]
    );
}

#[weir::topology]
fn repartitioning() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, String>("clicks")
        .select_key(|_k, v| v.split('/').next().map(str::to_owned))
        .repartition(named("by-site"), partitions(4))
        .map_values(|v| v.len() as i64)
        .to("click-lengths");
    builder
        .stream::<String, String>("views")
        .repartition()
        .to("views-out");
    builder.build()
}

#[test]
fn repartition_goes_through_an_internal_topic_and_drops_null_keys() {
    let driver = TopologyTestDriver::new(repartitioning());
    let clicks = driver.create_input_topic::<Option<String>, String>("clicks");
    clicks.pipe_input_with_timestamp(None, s("a.com/x"), 10);
    clicks.pipe_input_with_timestamp(Some(s("k")), s(""), 11); // `split` yields "" → Some("")
    let out = driver.create_output_topic::<String, i64>("click-lengths");
    assert_eq!(
        out.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("a.com"), 7, 10),
            TestRecord::with_timestamp(s(""), 0, 11)
        ]
    );
    // The internal topic, readable by its full name as in Kafka Streams' driver.
    let internal = driver.create_output_topic::<String, String>("test-app-by-site-repartition");
    assert_eq!(internal.read_values_to_list(), vec![s("a.com/x"), s("")]);

    let views = driver.create_input_topic::<String, String>("views");
    views.pipe_input(s("v"), s("1"));
    let views_out = driver.create_output_topic::<String, String>("views-out");
    assert_eq!(views_out.read_key_value(), (s("v"), s("1")));

    let plan = driver.describe().0;
    assert_eq!(plan.subtopologies.len(), 4);
    assert_eq!(plan.internal_topics[0].name, "by-site-repartition");
    assert_eq!(plan.internal_topics[0].partitions, Some(4));
    assert!(plan.internal_topics[1]
        .name
        .starts_with("KSTREAM-REPARTITION-"));
}

#[weir::topology]
fn null_keys_dropped_by_repartition() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, String>("in")
        .select_key(|_k, v| if v.is_empty() { None } else { Some(v.clone()) })
        .repartition()
        .to("out");
    builder.build()
}

#[test]
fn repartition_drops_records_whose_key_is_null() {
    let driver = TopologyTestDriver::new(null_keys_dropped_by_repartition());
    let input = driver.create_input_topic::<Option<String>, String>("in");
    input.pipe_value(s(""));
    input.pipe_value(s("x"));
    let out = driver.create_output_topic::<Option<String>, String>("out");
    assert_eq!(out.read_key_values_to_list(), vec![(Some(s("x")), s("x"))]);
}

#[weir::topology]
fn topic_per_record() -> impl Topology {
    let builder = StreamsBuilder::new();
    let events = builder.stream::<String, String>("events");
    events.to(|k, _v, ctx| format!("{k}-from-{}", ctx.topic));
    events.filter(|_k, v| v.is_empty()).to(|_k, _v| "empties");
    builder.build()
}

#[test]
fn to_with_a_topic_extractor_chooses_the_topic_per_record() {
    let driver = TopologyTestDriver::new(topic_per_record());
    let input = driver.create_input_topic::<String, String>("events");
    input.pipe_input(s("eu"), s("a"));
    input.pipe_input(s("us"), s(""));
    let eu = driver.create_output_topic::<String, String>("eu-from-events");
    let us = driver.create_output_topic::<String, String>("us-from-events");
    let empties = driver.create_output_topic::<String, String>("empties");
    assert_eq!(eu.read_value(), s("a"));
    assert_eq!(us.read_value(), s(""));
    assert_eq!(empties.read_key_value(), (s("us"), s("")));
    assert_eq!(
        driver.produced_topic_names(),
        vec!["empties", "eu-from-events", "us-from-events"]
    );
}

#[weir::topology]
fn nullable() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<(), Option<String>>("maybe")
        .map_values(|v| v.map(|s| s.len() as i64))
        .to("lengths");
    builder.build()
}

#[test]
fn null_keys_and_values_are_representable() {
    let driver = TopologyTestDriver::new(nullable());
    let input = driver.create_input_topic::<(), Option<String>>("maybe");
    input.pipe_value(Some(s("four")));
    input.pipe_value(None);
    let out = driver.create_output_topic::<Option<Vec<u8>>, Option<i64>>("lengths");
    assert_eq!(
        out.read_key_values_to_list(),
        vec![(None, Some(4)), (None, None)]
    );
}

#[weir::topology]
fn printing() -> impl Topology {
    let builder = StreamsBuilder::new();
    let s = builder.stream::<String, i64>("numbers");
    s.print("numbers");
    s.print();
    builder.build()
}

#[test]
fn print_writes_kafka_streams_style_lines() {
    let driver = TopologyTestDriver::new(printing());
    driver
        .create_input_topic::<String, i64>("numbers")
        .pipe_input(s("k"), 3);
    assert_eq!(
        driver.printed_lines(),
        vec![
            "[numbers]: \"k\", 3",
            "[KSTREAM-PRINTER-0000000002]: \"k\", 3"
        ]
    );
}

#[test]
fn headers_travel_with_the_record() {
    let driver = TopologyTestDriver::new(flat_mappers());
    let input = driver.create_input_topic::<String, String>("text");
    let headers = Headers::new().with("trace", "t-1");
    input.pipe_record(TestRecord::with_headers_and_timestamp(
        s("d"),
        s("x y"),
        headers.clone(),
        5,
    ));
    let words = driver.create_output_topic::<String, String>("words");
    let records = words.read_records_to_list();
    assert_eq!(records.len(), 2, "one record per word");
    for record in records {
        assert_eq!(record.headers, headers);
        assert_eq!(record.timestamp, 5);
    }
}

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
struct Order {
    id: u32,
    amount: f64,
}

#[weir::topology]
fn json_orders() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, Json<Order>>("orders")
        .filter(|_k, o| o.0.amount > 10.0)
        .map_values(|o| o.0.amount)
        .to("amounts");
    builder.build()
}

#[test]
fn json_values_and_malformed_bytes() {
    let driver = TopologyTestDriver::new(json_orders());
    let raw = driver.create_input_topic::<String, Vec<u8>>("orders");
    raw.pipe_input(s("1"), br#"{"id":1,"amount":12.5}"#.to_vec());
    raw.pipe_input(s("2"), b"not json".to_vec());
    raw.pipe_input(s("3"), br#"{"id":3,"amount":1.0}"#.to_vec());
    let amounts = driver.create_output_topic::<String, f64>("amounts");
    assert_eq!(amounts.read_key_values_to_list(), vec![(s("1"), 12.5)]);
    assert_eq!(driver.skipped_records(), 1);
}

#[test]
fn the_description_matches_kafka_streams_format() {
    let text = filters().describe().to_string();
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [numbers])
      --> KSTREAM-FILTER-0000000001, KSTREAM-FILTER-0000000003
    Processor: KSTREAM-FILTER-0000000001 (stores: [])
      --> KSTREAM-SINK-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-FILTER-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Sink: KSTREAM-SINK-0000000002 (topic: even)
      <-- KSTREAM-FILTER-0000000001
    Sink: KSTREAM-SINK-0000000004 (topic: odd)
      <-- KSTREAM-FILTER-0000000003
";
    assert!(text.starts_with(expected), "{text}");
    assert!(filters().mermaid().starts_with("flowchart TD"));
}

#[weir::topology]
fn with_return() -> impl Topology {
    let builder = StreamsBuilder::new();
    let suffix = "!"; // a statement that is not part of the topology is kept
    builder
        .stream::<String, String>("words")
        .map_values(move |w| format!("{w}{suffix}"))
        .to("shouted");
    return builder.build();
}

#[test]
fn return_build_and_kept_statements() {
    let driver = TopologyTestDriver::new(with_return());
    driver
        .create_input_topic::<String, String>("words")
        .pipe_input(s("k"), s("hey"));
    assert_eq!(
        driver
            .create_output_topic::<String, String>("shouted")
            .read_value(),
        "hey!"
    );
}

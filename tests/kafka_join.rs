//! A stream-table join on a real broker: the join's tasks read both
//! co-partitioned topics and take their records in timestamp order, so a
//! click sees the region its user had at the click's time, whatever order
//! the consumer fetched them in; topics that are not co-partitioned stop
//! the application at start-up with a clear error.

#[path = "support/broker.rs"]
mod broker;

use broker::{config, consume, kafka, produce};
use weir::prelude::*;

#[weir::topology]
fn enrich() -> impl Topology {
    let builder = StreamsBuilder::new();
    let regions = builder.table::<String, String>("kj-regions");
    builder
        .stream::<String, String>("kj-clicks")
        .join(regions, |click, region| format!("{click}@{region}"))
        .to("kj-out");
    builder.build()
}

#[weir::topology]
fn enrich_mismatched() -> impl Topology {
    let builder = StreamsBuilder::new();
    let regions = builder.table::<String, String>("kjm-regions");
    builder
        .stream::<String, String>("kjm-clicks")
        .join(regions, |click, region| format!("{click}@{region}"))
        .to("kjm-out");
    builder.build()
}

#[test]
fn each_click_sees_the_region_of_its_time_on_two_partitions() {
    let kafka = kafka();
    for topic in ["kj-regions", "kj-clicks"] {
        kafka.create_topic(topic, 2).unwrap();
    }
    kafka.create_topic("kj-out", 1).unwrap();
    // User i lives on partition i % 2 of both topics. Every region,
    // including u0's later move (at 5000), is on the broker before any
    // click: in poll order u0's first click would see the move.
    let mut regions: Vec<_> = (0..10)
        .map(|i| (i % 2, format!("u{i}"), format!("r{i}"), 100 + i as i64))
        .collect();
    regions.push((0, "u0".into(), "moved".into(), 5_000));
    produce(kafka, "kj-regions", &regions);
    let mut clicks: Vec<_> = (0..10)
        .map(|i| (i % 2, format!("u{i}"), format!("c{i}"), 1_000 + i as i64))
        .collect();
    clicks.push((1, "nobody".into(), "lost".into(), 1_100)); // no region: no result
    clicks.push((0, "u0".into(), "after".into(), 6_000));
    produce(kafka, "kj-clicks", &clicks);
    let summary = App::new(enrich(), config(kafka, "kj-app"))
        .unwrap()
        .handle_signals(false)
        .run()
        .unwrap();
    assert_eq!(summary.processed, (regions.len() + clicks.len()) as u64);
    let mut out = consume(kafka, "kj-out", 11);
    out.sort();
    let mut want: Vec<_> = (0..10)
        .map(|i| (format!("u{i}"), format!("c{i}@r{i}"), 1_000 + i as i64))
        .collect();
    want.push(("u0".into(), "after@moved".into(), 6_000));
    want.sort();
    assert_eq!(out, want);
}

#[test]
fn a_join_of_topics_that_are_not_co_partitioned_does_not_start() {
    let kafka = kafka();
    kafka.create_topic("kjm-regions", 1).unwrap();
    kafka.create_topic("kjm-clicks", 2).unwrap();
    kafka.create_topic("kjm-out", 1).unwrap();
    let err = App::new(enrich_mismatched(), config(kafka, "kjm-app"))
        .unwrap()
        .handle_signals(false)
        .run()
        .expect_err("topics with 2 and 1 partitions");
    let message = err.to_string();
    assert!(
        message.contains("kjm-clicks") && message.contains("kjm-regions"),
        "{message}"
    );
}

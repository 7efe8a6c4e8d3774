//! A task reading several partitions takes their records in timestamp
//! order, on a real broker, as Kafka Streams' `PartitionGroup` does: a
//! merge of two co-partitioned topics whose timestamps interleave comes out
//! in timestamp order per partition, however the consumer fetched them; and
//! with `max.task.idle.ms` the task waits for an empty partition whose
//! records are earlier.

#[path = "support/broker.rs"]
mod broker;

use broker::{config, consume, kafka, produce};
use std::collections::BTreeMap;
use std::time::Duration;
use weir::prelude::*;

#[weir::topology]
fn merged() -> impl Topology {
    let builder = StreamsBuilder::new();
    let right = builder.stream::<String, String>("km-right");
    builder
        .stream::<String, String>("km-left")
        .merge(right)
        .to("km-out");
    builder.build()
}

#[weir::topology]
fn merged_idle() -> impl Topology {
    let builder = StreamsBuilder::new();
    let right = builder.stream::<String, String>("kmi-right");
    builder
        .stream::<String, String>("kmi-left")
        .merge(right)
        .to("kmi-out");
    builder.build()
}

#[test]
fn a_merge_of_co_partitioned_topics_comes_out_in_timestamp_order() {
    let kafka = kafka();
    for topic in ["km-left", "km-right"] {
        kafka.create_topic(topic, 2).unwrap();
    }
    kafka.create_topic("km-out", 1).unwrap();
    // Everything is on the broker before the application starts, left
    // first: in poll order most of the left partition would come first.
    const N: i64 = 400;
    for (topic, offset) in [("km-left", 0), ("km-right", 1)] {
        let records: Vec<_> = (0..2)
            .flat_map(|p| {
                (0..N).map(move |i| {
                    let ts = 1_000 + 2 * i + offset;
                    (p, format!("p{p}"), format!("{topic}-{i}"), ts)
                })
            })
            .collect();
        produce(kafka, topic, &records);
    }
    let summary = App::new(merged(), config(kafka, "km-app"))
        .unwrap()
        .handle_signals(false)
        .run()
        .unwrap();
    assert_eq!(summary.processed, 4 * N as u64);
    let out = consume(kafka, "km-out", 4 * N as usize);
    let mut by_partition: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (key, _, ts) in out {
        by_partition.entry(key).or_default().push(ts);
    }
    let want: Vec<i64> = (0..2 * N).map(|i| 1_000 + i).collect();
    assert_eq!(by_partition.len(), 2);
    for (key, stamps) in by_partition {
        assert_eq!(stamps, want, "task of {key}: records in timestamp order");
    }
}

#[test]
fn max_task_idle_ms_waits_for_the_earlier_records_of_an_empty_partition() {
    let kafka = kafka();
    for topic in ["kmi-left", "kmi-right"] {
        kafka.create_topic(topic, 1).unwrap();
    }
    kafka.create_topic("kmi-out", 1).unwrap();
    let record = |ts: i64| (0, "k".to_owned(), format!("v{ts}"), ts);
    produce(kafka, "kmi-left", &[record(10), record(20), record(30)]);
    let mut c = config(kafka, "kmi-app");
    // Processing waits up to 4 s for the empty partition, then goes on
    // without it (enforced processing), as Kafka Streams does.
    c.set("max.task.idle.ms", "4000").unwrap();
    c.max_idle_ms = Some(8_000);
    let app = std::thread::spawn(move || {
        App::new(merged_idle(), c)
            .unwrap()
            .handle_signals(false)
            .run()
    });
    // The right partition is empty for a while, then gets earlier records.
    std::thread::sleep(Duration::from_millis(1_500));
    produce(kafka, "kmi-right", &[record(5), record(15), record(25)]);
    let out = consume(kafka, "kmi-out", 6);
    let stamps: Vec<i64> = out.iter().map(|r| r.2).collect();
    assert_eq!(stamps, [5, 10, 15, 20, 25, 30]);
    let summary = app.join().unwrap().unwrap();
    assert_eq!(summary.processed, 6);
}

//! A stream-table join on a real broker: the join's tasks read both
//! co-partitioned topics and take their records in timestamp order, so a
//! click sees the region its user had at the click's time, whatever order
//! the consumer fetched them in; topics that are not co-partitioned stop
//! the application at start-up with a clear error.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;
use std::time::{Duration, Instant};
use weir::prelude::*;
use weir_test_kafka::LocalKafka;

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

fn kafka() -> &'static LocalKafka {
    weir::init_logging();
    LocalKafka::shared().expect("a local Kafka broker (needs Java 17 and Maven)")
}

/// Produces `(partition, key, value, timestamp)` records to `topic`.
fn produce(kafka: &LocalKafka, topic: &str, records: &[(i32, String, String, i64)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .create()
        .unwrap();
    for (partition, key, value, ts) in records {
        let record = BaseRecord::to(topic)
            .partition(*partition)
            .key(key.as_bytes())
            .payload(value.as_bytes())
            .timestamp(*ts);
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// Reads `count` records of `topic`: (key, value, timestamp), in order.
fn consume(kafka: &LocalKafka, topic: &str, count: usize) -> Vec<(String, String, i64)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .set("group.id", format!("reader-{topic}"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < count && Instant::now() < deadline {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m.unwrap();
            out.push((
                String::from_utf8(m.key().unwrap().to_vec()).unwrap(),
                String::from_utf8(m.payload().unwrap().to_vec()).unwrap(),
                m.timestamp().to_millis().unwrap(),
            ));
        }
    }
    assert_eq!(out.len(), count, "records on {topic}");
    out
}

fn config(kafka: &LocalKafka, app: &str) -> StreamsConfig {
    let mut c = StreamsConfig::new(app);
    c.set("bootstrap.servers", &kafka.bootstrap_servers())
        .unwrap();
    c.set("commit.interval.ms", "500").unwrap();
    c.max_idle_ms = Some(3_000);
    c
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

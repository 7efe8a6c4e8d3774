//! What the Kafka tests of task record order share: the broker, producing
//! records to explicit partitions with explicit timestamps, reading a topic
//! back, and an application's configuration.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;
use std::time::{Duration, Instant};
use weir::StreamsConfig;
use weir_test_kafka::LocalKafka;

pub fn kafka() -> &'static LocalKafka {
    weir::init_logging();
    LocalKafka::shared().expect("a local Kafka broker (needs Java 17 and Maven)")
}

/// Produces `(partition, key, value, timestamp)` records to `topic`.
pub fn produce(kafka: &LocalKafka, topic: &str, records: &[(i32, String, String, i64)]) {
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
pub fn consume(kafka: &LocalKafka, topic: &str, count: usize) -> Vec<(String, String, i64)> {
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

pub fn config(kafka: &LocalKafka, app: &str) -> StreamsConfig {
    let mut c = StreamsConfig::new(app);
    c.set("bootstrap.servers", &kafka.bootstrap_servers())
        .unwrap();
    c.set("commit.interval.ms", "500").unwrap();
    c.max_idle_ms = Some(3_000);
    c
}

//! End to end through a real Apache Kafka broker (started by the test
//! harness from Maven jars): a compiled topology with a repartition and a
//! split, run by `weir::App` with two threads, fed malformed records too.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers as _, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use weir::app::AppError;
use weir::prelude::*;
use weir_test_kafka::LocalKafka;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Payment {
    account: String,
    cents: i64,
}

#[weir::topology]
fn payments() -> impl Topology {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream::<(), Json<Payment>>("e2e-payments")
        .select_key(|_, p| p.0.account.clone())
        .repartition(named("by-account"), partitions(3))
        .split()
        .branch("big", |_, p| p.0.cents >= 1000)
        .default_branch("small");
    branches["big"].map_values(|p| p.0.cents).to("e2e-big");
    branches["small"].map_values(|p| p.0.cents).to("e2e-small");
    builder.build()
}

#[weir::topology]
fn longs() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("e2e-longs")
        .map_values(|v| v * 2)
        .to("e2e-doubled");
    builder.build()
}

/// Kafka's `Utils.murmur2`, which the Java producer's default partitioner
/// (and Kafka Streams) use: `(murmur2(key) & 0x7fffffff) % partitions`.
fn murmur2(data: &[u8]) -> i32 {
    const M: i32 = 0x5bd1e995;
    let mut h: i32 = 0x9747b28c_u32 as i32 ^ data.len() as i32;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= ((k as u32) >> 24) as i32;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    if tail.len() >= 3 {
        h ^= (tail[2] as i32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as i32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as i32;
        h = h.wrapping_mul(M);
    }
    h ^= ((h as u32) >> 13) as i32;
    h = h.wrapping_mul(M);
    h ^= ((h as u32) >> 15) as i32;
    h
}

fn java_partition(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fffffff) % partitions
}

#[test]
fn murmur2_matches_kafkas_test_vectors() {
    // From Kafka's UtilsTest.testMurmur2.
    assert_eq!(murmur2(b"21"), -973932308);
    assert_eq!(murmur2(b"foobar"), -790332482);
    assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
    assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
    assert_eq!(
        murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
        -58897971
    );
    assert_eq!(murmur2(b"abc"), 479470107);
}

fn kafka() -> &'static LocalKafka {
    weir::init_logging();
    LocalKafka::shared().expect("a local Kafka broker (needs Java 17 and Maven)")
}

/// Key, value, timestamp and an optional header of a record to produce.
type Input<'a> = (Option<Vec<u8>>, Vec<u8>, i64, Option<(&'a str, &'a str)>);

fn produce(bootstrap: &str, topic: &str, records: &[Input<'_>]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (key, value, ts, header) in records {
        let mut record = BaseRecord::<Vec<u8>, Vec<u8>>::to(topic)
            .payload(value)
            .timestamp(*ts);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some((name, v)) = header {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: name,
                value: Some(*v),
            }));
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

struct Out {
    key: String,
    value: i64,
    partition: i32,
    timestamp: i64,
    trace: Option<String>,
}

fn consume(bootstrap: &str, topic: &str, count: usize) -> Vec<Out> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
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
            let trace = m.headers().and_then(|h| {
                h.iter()
                    .find(|h| h.key == "trace")
                    .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).into_owned()))
            });
            out.push(Out {
                key: String::from_utf8(m.key().unwrap().to_vec()).unwrap(),
                value: i64::from_be_bytes(m.payload().unwrap().try_into().unwrap()),
                partition: m.partition(),
                timestamp: m.timestamp().to_millis().unwrap(),
                trace,
            });
        }
    }
    assert!(
        consumer.poll(Duration::from_millis(500)).is_none(),
        "more than {count} records on {topic}"
    );
    out
}

fn config(kafka: &LocalKafka, app: &str) -> StreamsConfig {
    let mut c = StreamsConfig::new(app);
    c.set("bootstrap.servers", &kafka.bootstrap_servers())
        .unwrap();
    c.set("num.stream.threads", "2").unwrap();
    c.set("commit.interval.ms", "500").unwrap();
    c.max_idle_ms = Some(3_000);
    c
}

#[test]
fn a_compiled_topology_runs_against_kafka_exactly() {
    let kafka = kafka();
    let bootstrap = kafka.bootstrap_servers();
    // One input partition keeps the input order; the repartition topic has
    // three (set in the topology), so per account the order must survive
    // the repartition and the two threads.
    kafka.create_topic("e2e-payments", 1).unwrap();
    for topic in ["e2e-big", "e2e-small"] {
        kafka.create_topic(topic, 3).unwrap();
    }
    let accounts = ["alice", "bob", "carol", "dave", "erin"];
    let mut input = Vec::new();
    let mut want: BTreeMap<(&str, String), Vec<(i64, i64)>> = BTreeMap::new();
    for i in 0..60i64 {
        let account = accounts[i as usize % accounts.len()];
        let cents = (i * 137) % 2000;
        let ts = 1_700_000_000_000 + i * 1000;
        if i % 17 == 5 {
            input.push((None, b"{not json".to_vec(), ts, Some(("trace", "bad"))));
            continue;
        }
        let value = serde_json::to_vec(&Payment {
            account: account.into(),
            cents,
        })
        .unwrap();
        input.push((None, value, ts, Some(("trace", "t"))));
        let topic = if cents >= 1000 {
            "e2e-big"
        } else {
            "e2e-small"
        };
        want.entry((topic, account.to_string()))
            .or_default()
            .push((cents, ts));
    }
    let malformed = input
        .iter()
        .filter(|r| r.3 == Some(("trace", "bad")))
        .count() as u64;
    produce(&bootstrap, "e2e-payments", &input);

    let summary = App::new(payments(), config(kafka, "e2e-payments-app"))
        .unwrap()
        .handle_signals(false)
        .run()
        .unwrap();
    // Records from e2e-payments, then the same minus the malformed from the repartition topic.
    assert_eq!(summary.skipped_records, malformed);
    assert_eq!(summary.processed, 2 * (60 - malformed));

    let count = |t: &str| {
        want.iter()
            .filter(|((topic, _), _)| *topic == t)
            .map(|(_, v)| v.len())
            .sum::<usize>()
    };
    for topic in ["e2e-big", "e2e-small"] {
        let out = consume(&bootstrap, topic, count(topic));
        let mut got: BTreeMap<(&str, String), Vec<(i64, i64)>> = BTreeMap::new();
        for r in &out {
            // Partitioned as a Java producer (and Kafka Streams) would.
            assert_eq!(
                r.partition,
                java_partition(r.key.as_bytes(), 3),
                "key {}",
                r.key
            );
            assert_eq!(
                r.trace.as_deref(),
                Some("t"),
                "headers travel with the record"
            );
            got.entry((topic, r.key.clone()))
                .or_default()
                .push((r.value, r.timestamp));
        }
        let want: BTreeMap<_, _> = want
            .iter()
            .filter(|((t, _), _)| *t == topic)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // Exact content, and per key in input order with the input's timestamps.
        assert_eq!(got, want, "{topic}");
    }
}

#[test]
fn log_and_fail_stops_at_the_malformed_record_and_commits_what_came_before() {
    let kafka = kafka();
    let bootstrap = kafka.bootstrap_servers();
    kafka.create_topic("e2e-longs", 1).unwrap();
    kafka.create_topic("e2e-doubled", 1).unwrap();
    let records: Vec<_> = [Some(1i64), Some(2), None, Some(4)]
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let bytes = v.map_or(b"xyz".to_vec(), |v| v.to_be_bytes().to_vec());
            (
                Some(format!("k{i}").into_bytes()),
                bytes,
                1000 + i as i64,
                None,
            )
        })
        .collect();
    produce(&bootstrap, "e2e-longs", &records);

    let mut c = config(kafka, "e2e-longs-app");
    c.set("default.deserialization.exception.handler", "log-and-fail")
        .unwrap();
    let err = App::new(longs(), c.clone())
        .unwrap()
        .handle_signals(false)
        .run()
        .unwrap_err();
    assert!(matches!(err, AppError::Process { .. }), "{err}");
    assert!(err.to_string().contains("e2e-longs-0@2"), "{err}");
    let doubled = consume(&bootstrap, "e2e-doubled", 2);
    assert_eq!(doubled.iter().map(|r| r.value).collect::<Vec<_>>(), [2, 4]);

    // Under log-and-continue, the same application resumes at the bad record,
    // skips it (counted) and processes the rest once.
    c.set(
        "default.deserialization.exception.handler",
        "log-and-continue",
    )
    .unwrap();
    let summary = App::new(longs(), c)
        .unwrap()
        .handle_signals(false)
        .run()
        .unwrap();
    assert_eq!((summary.processed, summary.skipped_records), (1, 1));
    let doubled = consume(&bootstrap, "e2e-doubled", 3);
    assert_eq!(
        doubled.iter().map(|r| r.value).collect::<Vec<_>>(),
        [2, 4, 8]
    );
}

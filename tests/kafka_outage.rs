//! Broker outages: an application started while its broker is down waits
//! for it, and one whose broker goes down mid-run carries on when it is
//! back, losing nothing (at-least-once: records may come out twice, never
//! not at all).
//!
//! The test runs its own broker (not the shared one of the other Kafka
//! tests), because it stops it: [`LocalKafka::pause`] stops the JVM and keeps
//! its data and ports, [`LocalKafka::resume`] starts it again.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use weir::prelude::*;
use weir_test_kafka::LocalKafka;

/// A repartition in the middle, so the outage hits the application's own
/// internal topic as well as its input and output. The first step takes
/// 100 µs a record, so that the outage comes while records are in flight.
#[weir::topology]
fn tens() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("outage-in")
        .map(|_, v| {
            thread::sleep(Duration::from_micros(100));
            ((v % 7).to_string(), v)
        })
        .repartition(named("by-residue"))
        .map_values(|v| v * 10)
        .to("outage-out");
    builder.build()
}

/// The log, kept for the test to read, and written to stderr as usual.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    fn install() -> Log {
        let log = Log::default();
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
            )
            .with_ansi(false)
            .with_writer(log.clone())
            .init();
        log
    }

    /// Lines written so far, from line `from` on.
    fn lines(&self, from: usize) -> Vec<String> {
        let bytes = self.0.lock().unwrap();
        String::from_utf8_lossy(&bytes)
            .lines()
            .skip(from)
            .map(str::to_owned)
            .collect()
    }

    fn len(&self) -> usize {
        self.lines(0).len()
    }

    /// Waits up to `timeout` for a line from line `from` on containing `text`.
    fn wait_for(&self, from: usize, text: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.lines(from).iter().any(|l| l.contains(text)) {
                return true;
            }
            thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        io::stderr().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
    type Writer = Log;

    fn make_writer(&'a self) -> Log {
        self.clone()
    }
}

fn produce(kafka: &LocalKafka, values: std::ops::Range<i64>) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .create()
        .unwrap();
    let ts = weir_test_kafka::an_hour_ago_ms(1);
    for v in values {
        let key = format!("k{}", v % 13);
        let value = v.to_be_bytes();
        let mut record = BaseRecord::to("outage-in")
            .key(&key)
            .payload(&value[..])
            .timestamp(ts + v);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    producer.poll(Duration::from_millis(10));
                    record = back;
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Reads `outage-out` from the beginning until `want` distinct values came,
/// at most 120 s. Returns the distinct values and the number of records.
fn read_until(kafka: &LocalKafka, want: usize) -> (BTreeSet<i64>, usize) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .set("group.id", format!("outage-reader-{want}"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&["outage-out"]).unwrap();
    let (mut values, mut records) = (BTreeSet::new(), 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    while values.len() < want && Instant::now() < deadline {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m.unwrap();
            let value = i64::from_be_bytes(m.payload().unwrap().try_into().unwrap());
            let key: String = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            assert_eq!(key, (value / 10 % 7).to_string(), "key of {value}");
            values.insert(value);
            records += 1;
        }
    }
    (values, records)
}

fn expected(values: std::ops::Range<i64>) -> BTreeSet<i64> {
    values.map(|v| v * 10).collect()
}

#[test]
fn an_application_waits_for_its_broker_and_survives_its_outage() {
    let log = Log::install();
    let mut kafka = LocalKafka::start().expect("a local Kafka broker (needs Java 17 and Maven)");
    kafka.create_topic("outage-in", 2).unwrap();
    kafka.create_topic("outage-out", 2).unwrap();
    produce(&kafka, 0..1_000);

    // Down before the application starts: it must wait, not fail.
    kafka.pause();
    let mut config = StreamsConfig::new("outage-app");
    config
        .set("bootstrap.servers", &kafka.bootstrap_servers())
        .unwrap();
    config.set("num.stream.threads", "2").unwrap();
    config.set("commit.interval.ms", "200").unwrap();
    let app = App::new(tens(), config).unwrap().handle_signals(false);
    let shutdown = app.shutdown_handle();
    let running = thread::spawn(move || app.run());
    thread::sleep(Duration::from_secs(4));
    assert!(
        !running.is_finished(),
        "the application gave up on a broker that is down: {:?}",
        running.join()
    );
    kafka.resume().unwrap();
    let (values, _) = read_until(&kafka, 1_000);
    assert_eq!(values, expected(0..1_000), "after a late broker start");

    // Down in the middle of a batch: the application is reading, producing
    // to its repartition topic and output, and committing when it goes.
    produce(&kafka, 1_000..31_000);
    thread::sleep(Duration::from_millis(300));
    let outage_log = log.len();
    kafka.pause();
    thread::sleep(Duration::from_secs(5));
    assert!(
        !running.is_finished(),
        "the application gave up during an outage: {:?}",
        running.join()
    );
    kafka.resume().unwrap();
    assert!(
        log.wait_for(
            outage_log,
            "Kafka brokers reachable again after",
            Duration::from_secs(10)
        ),
        "no end of the outage in the log"
    );
    // One warning for the outage, not one per reconnection attempt.
    let outage: Vec<String> = log.lines(outage_log);
    let warnings: Vec<&String> = outage.iter().filter(|l| l.contains(" WARN ")).collect();
    assert_eq!(
        warnings
            .iter()
            .filter(|l| l.contains("Kafka brokers unreachable for"))
            .count(),
        1,
        "{warnings:#?}"
    );
    assert!(warnings.len() <= 3, "a flood of warnings: {warnings:#?}");
    let (values, records) = read_until(&kafka, 31_000);
    assert_eq!(
        values.len(),
        31_000,
        "lost {} records",
        31_000 - values.len()
    );
    assert_eq!(values, expected(0..31_000), "after an outage mid-run");
    eprintln!(
        "outage: {records} records out for 31000 in ({} duplicates)",
        records - 31_000
    );

    shutdown.shutdown();
    // A hung stream thread fails the test instead of hanging it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !running.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the application did not stop within 60 s of its shutdown"
        );
        thread::sleep(Duration::from_millis(100));
    }
    let summary = running
        .join()
        .expect("no panic")
        .expect("a clean shutdown after the outage");
    // Every input record and every repartitioned one, at least once.
    assert!(summary.processed >= 2 * 31_000, "{summary:?}");
    kafka.stop();
}

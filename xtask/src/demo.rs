//! `cargo xtask demo`: the word-split example end to end against a real,
//! local Apache Kafka broker. Starts the broker, creates the topics, produces
//! a few lines, runs the `wordcount` example executable until it is idle,
//! reads what it wrote, prints it, checks it, and stops the broker.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};
use weir_test_kafka::LocalKafka;

const LINES: &[&str] = &[
    "Kafka Streams made stream processing a library",
    "weir compiles the topology at build time",
    "a stream is an unbounded, ordered, replayable sequence of events",
    "",
    "Tables and streams: the stream-table duality",
];

/// What the example must produce to `words`: (word, count), and to `long-words`.
fn expected() -> (BTreeMap<String, usize>, usize) {
    let mut words = BTreeMap::new();
    let mut long = 0;
    for line in LINES {
        for w in line
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 2)
        {
            *words.entry(w.to_lowercase()).or_insert(0) += 1;
            long += usize::from(w.chars().count() >= 8);
        }
    }
    (words, long)
}

pub fn run() -> Result<(), String> {
    eprintln!(
        "demo: starting a local Apache Kafka broker (first run resolves its jars with Maven)..."
    );
    let kafka = LocalKafka::start().map_err(|e| e.to_string())?;
    let result = with_broker(&kafka);
    kafka.stop();
    result
}

fn with_broker(kafka: &LocalKafka) -> Result<(), String> {
    let bootstrap = kafka.bootstrap_servers();
    eprintln!("demo: broker up at {bootstrap}");
    for topic in ["text-lines", "words", "long-words"] {
        kafka.create_topic(topic, 3).map_err(|e| e.to_string())?;
    }

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .map_err(|e| format!("producer: {e}"))?;
    for (i, line) in LINES.iter().enumerate() {
        let record = BaseRecord::<(), str>::to("text-lines")
            .payload(*line)
            .timestamp(1_700_000_000_000 + i as i64);
        producer
            .send(record)
            .map_err(|(e, _)| format!("produce: {e}"))?;
    }
    producer
        .flush(Duration::from_secs(10))
        .map_err(|e| format!("flush: {e}"))?;
    eprintln!("demo: produced {} lines to text-lines", LINES.len());

    eprintln!(
        "demo: running `cargo run --example wordcount` (it stops after 3 s without input)..."
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["run", "--quiet", "--example", "wordcount", "--"])
        .args([
            "--bootstrap-servers",
            &bootstrap,
            "--application-id",
            "weir-demo-wordcount",
        ])
        .args([
            "--threads",
            "2",
            "--max-idle-ms",
            "3000",
            "--config",
            "commit.interval.ms=1000",
        ])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("the wordcount example failed: {status}"));
    }

    let (want, want_long) = expected();
    let total: usize = want.values().sum();
    let words = consume(&bootstrap, "words", total)?;
    let long = consume(&bootstrap, "long-words", want_long)?;
    println!("words ({} records, key -> value @ partition):", words.len());
    for (key, value, partition) in &words {
        println!("  {key} -> {value} @ {partition}");
    }
    println!(
        "long-words: {}",
        long.iter()
            .map(|(k, _, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for (key, value, _) in &words {
        if key != value {
            return Err(format!("record keyed `{key}` carries `{value}`"));
        }
        *got.entry(key.clone()).or_insert(0) += 1;
    }
    if got != want || long.len() != want_long {
        return Err(format!(
            "unexpected output: got {got:?} and {} long words, want {want:?} and {want_long}",
            long.len()
        ));
    }
    println!(
        "demo: OK — {} words from {} lines, exactly as expected",
        words.len(),
        LINES.len()
    );
    Ok(())
}

/// Reads `count` records from the start of `topic` (or fails after 30 s).
fn consume(
    bootstrap: &str,
    topic: &str,
    count: usize,
) -> Result<Vec<(String, String, i32)>, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("weir-demo-reader-{topic}"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| format!("consumer: {e}"))?;
    consumer
        .subscribe(&[topic])
        .map_err(|e| format!("subscribe: {e}"))?;
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < count && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let m = message.map_err(|e| format!("consume {topic}: {e}"))?;
            let text =
                |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
            out.push((text(m.key()), text(m.payload()), m.partition()));
        }
    }
    // Nothing more may follow: the example wrote exactly `count`.
    let extra = consumer.poll(Duration::from_millis(500)).is_some();
    if out.len() != count || extra {
        return Err(format!(
            "expected {count} records on {topic}, got {}{}",
            out.len(),
            if extra { "+" } else { "" }
        ));
    }
    Ok(out)
}

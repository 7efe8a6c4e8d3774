//! A windowed count application killed with SIGKILL between two batches of
//! input, then restarted with the same application id and state directory:
//! it resumes from its committed offsets, reopens its window store (flushed
//! and checkpointed at every commit) and restores only the changelog's tail,
//! and its final counts are exact. (A kill between a store write and the
//! next commit would count that input twice: at-least-once.)
//!
//! The killed member leaves no group behind it only after its session times
//! out, so the application runs with `consumer.session.timeout.ms=6000`.
//!
//! The application runs in a child process: this test binary itself, asked
//! to run the ignored test `child_app` (which runs only when the parent sets
//! `WEIR_CRASH_CHILD`).

#[path = "support/child.rs"]
mod child;

use child::{child_command, ChildApp};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use weir::prelude::*;
use weir_test_kafka::{an_hour_ago_ms, LocalKafka};

const WINDOW_MS: i64 = 10_000;

#[weir::topology]
fn clicks_per_window() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("crash-clicks")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(WINDOW_MS as u64),
            Duration::from_secs(3600),
        ))
        .count()
        .to_stream()
        .map(|page, n| (format!("{}@{}", page.key, page.window.start), n))
        .to("crash-counts");
    builder.build()
}

/// The application, when run as the child process.
#[test]
#[ignore = "run by a_killed_application_restores_its_windows_and_counts_exactly"]
fn child_app() {
    let Ok(config_line) = std::env::var("WEIR_CRASH_CHILD") else {
        return;
    };
    weir::init_logging();
    let mut config = StreamsConfig::new("unset");
    for pair in config_line.split(' ') {
        config.set_pair(pair).unwrap();
    }
    let summary = App::new(clicks_per_window(), config)
        .unwrap()
        .handle_signals(false)
        .run()
        .unwrap();
    eprintln!("child: {summary:?}");
}

fn spawn_child(config: &str) -> ChildApp {
    ChildApp(
        child_command("WEIR_CRASH_CHILD", config)
            .spawn()
            .expect("the test binary runs as the application"),
    )
}

fn produce(bootstrap: &str, records: &[(String, i64)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (page, ts) in records {
        producer
            .send(
                BaseRecord::to("crash-clicks")
                    .key(page.as_bytes())
                    .payload("c")
                    .timestamp(*ts),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// Every (key, count) record on `crash-counts`, read until `done` holds or 60 s pass.
fn read_counts(
    bootstrap: &str,
    group: &str,
    done: impl Fn(&[(String, i64)]) -> bool,
) -> Vec<(String, i64)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&["crash-counts"]).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(&out) && Instant::now() < deadline {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m.unwrap();
            let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            out.push((
                key,
                i64::from_be_bytes(m.payload().unwrap().try_into().unwrap()),
            ));
        }
    }
    out
}

fn batch(base: i64, n: usize, seed: u64) -> Vec<(String, i64)> {
    let pages = ["home", "cart", "search", "about"];
    (0..n)
        .map(|i| {
            let x = (i as u64).wrapping_mul(2_654_435_761).wrapping_add(seed);
            (
                pages[(x % 4) as usize].to_string(),
                base + (x % 40_000) as i64,
            )
        })
        .collect()
}

fn expected(records: &[(String, i64)]) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for (page, ts) in records {
        *counts
            .entry(format!("{page}@{}", ts - ts % WINDOW_MS))
            .or_insert(0) += 1;
    }
    counts
}

fn last_per_key(records: &[(String, i64)]) -> BTreeMap<String, i64> {
    records.iter().cloned().collect()
}

#[test]
fn a_killed_application_restores_its_windows_and_counts_exactly() {
    weir::init_logging();
    let kafka = LocalKafka::shared().expect("a local Kafka broker (needs Java 17 and Maven)");
    let bootstrap = kafka.bootstrap_servers();
    for topic in ["crash-clicks", "crash-counts"] {
        kafka.create_topic(topic, 2).unwrap();
    }
    let state_dir = std::env::temp_dir().join(format!("weir-crash-{}", std::process::id()));
    // Caching off: every update is emitted, so each input record has
    // exactly one output to count (kafka_state.rs tests the cache).
    let config = format!(
        "application.id=crash-app bootstrap.servers={bootstrap} state.dir={} commit.interval.ms=100 num.stream.threads=2 consumer.session.timeout.ms=6000 statestore.cache.max.bytes=0",
        state_dir.display()
    );

    // Batch 1, processed and committed; then SIGKILL.
    let base = an_hour_ago_ms(WINDOW_MS);
    let first = batch(base, 400, 1);
    produce(&bootstrap, &first);
    let mut child = spawn_child(&config);
    let seen = read_counts(&bootstrap, "crash-reader-1", |out| out.len() >= first.len());
    assert_eq!(
        seen.len(),
        first.len(),
        "one running count per input record"
    );
    assert_eq!(last_per_key(&seen), expected(&first));
    std::thread::sleep(Duration::from_secs(2)); // several commit intervals: offsets committed
    child.0.kill().unwrap(); // SIGKILL: no flush, no checkpoint, no leaving the group
    child.0.wait().unwrap();

    // Batch 2, then the same application again, until it is idle.
    let second = batch(base, 300, 7);
    produce(&bootstrap, &second);
    let mut child = spawn_child(&format!("{config} weir.max.idle.ms=4000"));
    assert!(
        child.0.wait().unwrap().success(),
        "the restarted application ends cleanly"
    );

    let all: Vec<(String, i64)> = first.iter().chain(&second).cloned().collect();
    let out = read_counts(&bootstrap, "crash-reader-2", |out| out.len() >= all.len());
    assert_eq!(out.len(), all.len(), "nothing reprocessed, nothing lost");
    assert_eq!(
        last_per_key(&out),
        expected(&all),
        "counts continue from the restored windows"
    );
    let _ = std::fs::remove_dir_all(&state_dir);
}

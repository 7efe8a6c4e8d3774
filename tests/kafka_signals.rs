//! Graceful shutdown on SIGTERM: an application whose results wait in its
//! record cache (the commit interval is ten minutes, so nothing is flushed or
//! committed on its own) is sent SIGTERM. It must flush its caches, write
//! the counts, commit its offsets and exit with success, so that a restart
//! has nothing to redo.
//!
//! The application runs in a child process (this test binary, asked to run
//! the ignored test `child_app`), with weir's signal handling on, as an
//! executable built with `weir::run_app` has it.

#[path = "support/child.rs"]
mod child;

use child::{child_command, ChildApp};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use weir::prelude::*;
use weir_test_kafka::{an_hour_ago_ms, LocalKafka};

const APP: &str = "signals-app";

#[weir::topology]
fn word_count() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<(), String>("signals-lines")
        .flat_map_values(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .group_by(|_, word| word.clone())
        .count()
        .to_stream()
        .to("signals-counts");
    builder.build()
}

/// The application, when run as the child process.
#[test]
#[ignore = "run by sigterm_flushes_commits_and_exits_cleanly"]
fn child_app() {
    let Ok(config_line) = std::env::var("WEIR_SIGNALS_CHILD") else {
        return;
    };
    weir::init_logging();
    let mut config = StreamsConfig::new(APP);
    for pair in config_line.split(' ') {
        config.set_pair(pair).unwrap();
    }
    let summary = App::new(word_count(), config)
        .unwrap()
        .handle_signals(true)
        .run()
        .unwrap();
    eprintln!("child: clean exit after {} records", summary.processed);
}

/// Starts the child and collects its log lines (also echoed to stderr).
fn spawn_child(config: &str) -> (ChildApp, Arc<Mutex<Vec<String>>>) {
    let mut child = child_command("WEIR_SIGNALS_CHILD", config)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary runs as the application");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = Arc::clone(&lines);
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            sink.lock().unwrap().push(line);
        }
    });
    (ChildApp(child), lines)
}

fn wait_for_line(lines: &Mutex<Vec<String>>, text: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if lines.lock().unwrap().iter().any(|l| l.contains(text)) {
            return true;
        }
        thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn sigterm_flushes_commits_and_exits_cleanly() {
    weir::init_logging();
    let kafka = LocalKafka::shared().expect("a local Kafka broker (needs Java 17 and Maven)");
    let bootstrap = kafka.bootstrap_servers();
    kafka.create_topic("signals-lines", 2).unwrap();
    kafka.create_topic("signals-counts", 2).unwrap();

    let vocabulary = ["kafka", "streams", "weir", "rust", "table", "window"];
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    let ts = an_hour_ago_ms(1);
    for i in 0..500usize {
        let line: Vec<&str> = (0..1 + i % 4)
            .map(|j| vocabulary[(i * 7 + j * 3) % vocabulary.len()])
            .collect();
        for word in &line {
            *want.entry(word.to_string()).or_default() += 1;
        }
        let line = line.join(" ");
        producer
            .send(
                BaseRecord::<(), str>::to("signals-lines")
                    .partition((i % 2) as i32)
                    .payload(&line)
                    .timestamp(ts + i as i64),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let state = std::env::temp_dir().join(format!("weir-signals-{}", std::process::id()));
    let config = format!(
        "bootstrap.servers={bootstrap} state.dir={} commit.interval.ms=600000 \
         consumer.session.timeout.ms=6000",
        state.display()
    );
    let (mut child, log) = spawn_child(&config);
    assert!(
        wait_for_line(&log, "task created", Duration::from_secs(60)),
        "the application did not start"
    );
    // Time to process 500 lines and their repartitioned words.
    thread::sleep(Duration::from_secs(3));
    let started = Instant::now();
    let pid = child.0.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no exit 30 s after SIGTERM"
        );
        thread::sleep(Duration::from_millis(50));
    };
    eprintln!("exit {status} {:?} after SIGTERM", started.elapsed());
    assert!(status.success(), "exit status {status}");
    assert!(
        wait_for_line(&log, "child: clean exit", Duration::from_secs(5)),
        "no clean exit line"
    );

    // The counts were in the cache: only the shutdown's flush wrote them.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "signals-reader")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&["signals-counts"]).unwrap();
    let mut got: BTreeMap<String, i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got != want && Instant::now() < deadline {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m.unwrap();
            let word = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            let n = i64::from_be_bytes(m.payload().unwrap().try_into().unwrap());
            got.insert(word, n);
        }
    }
    assert_eq!(got, want, "the final counts, flushed at shutdown");

    // And the offsets were committed: every input record is behind them.
    let group: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", APP)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..2 {
        tpl.add_partition("signals-lines", p);
    }
    let committed = group
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    for p in 0..2 {
        let (_, high) = group
            .fetch_watermarks("signals-lines", p, Duration::from_secs(10))
            .unwrap();
        let offset = committed
            .find_partition("signals-lines", p)
            .unwrap()
            .offset();
        assert_eq!(offset, Offset::Offset(high), "partition {p}");
    }
    let _ = std::fs::remove_dir_all(&state);
}

//! Stateful applications on a real Kafka broker: a compiled word count whose
//! counts survive restarts, through its changelog and checkpoints.
//!
//! Each run stops once idle (`weir.max.idle.ms`); the next run uses the same
//! application id (so it resumes after the committed offsets) and, unless
//! said otherwise, the same state directory.

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};
use weir::app::RunSummary;
use weir::plan::InternalTopicKind;
use weir::prelude::*;
use weir_test_kafka::{an_hour_ago_ms, LocalKafka};

#[weir::topology]
fn rocks_word_count() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<(), String>("kstate-rocks-lines")
        .flat_map_values(|line| {
            line.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .group_by(|_, word| word.clone())
        .count()
        .to_stream()
        .to("kstate-rocks-counts");
    builder.build()
}

#[weir::topology]
fn windowed_clicks() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("kstate-clicks")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(1000),
            Duration::from_secs(86_400),
        ))
        .count()
        .to_stream()
        .to("kstate-click-counts");
    builder.build()
}

#[weir::topology]
fn memory_word_count() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<(), String>("kstate-memory-lines")
        .flat_map_values(|line| {
            line.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .group_by(|_, word| word.clone())
        .count()
        .to_stream()
        .to("kstate-memory-counts");
    builder.build()
}

#[weir::topology]
fn cached_word_count() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<(), String>("kstate-cache-lines")
        .flat_map_values(|line| {
            line.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .group_by(|_, word| word.clone())
        .count()
        .to_stream()
        .to("kstate-cache-counts");
    builder.build()
}

fn kafka() -> &'static LocalKafka {
    weir::init_logging();
    LocalKafka::shared().expect("a local Kafka broker (needs Java 17 and Maven)")
}

/// A fresh state directory for one test, removed at the end.
struct StateDir(PathBuf);

impl StateDir {
    fn new(test: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("weir-kafka-state-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        StateDir(path)
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const WORDS: &[&str] = &[
    "apple", "banana", "cherry", "date", "elder", "fig", "grape", "hazel", "iris", "juniper",
    "kiwi", "lemon", "mango", "nectar", "olive", "peach", "quince", "rowan", "sloe", "tansy",
    "ugli", "vanilla", "walnut", "xigua", "yam", "zest",
];

/// `lines` lines of 1 to 6 words, deterministic per `seed`.
fn batch(seed: u64, lines: usize) -> Vec<String> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..lines)
        .map(|_| {
            let n = 1 + next() % 6;
            (0..n)
                .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn add_counts(totals: &mut BTreeMap<String, i64>, lines: &[String]) {
    for line in lines {
        for word in line.split_whitespace() {
            *totals.entry(word.to_owned()).or_default() += 1;
        }
    }
}

fn word_total(lines: &[String]) -> u64 {
    lines
        .iter()
        .map(|l| l.split_whitespace().count() as u64)
        .sum()
}

fn produce(kafka: &LocalKafka, topic: &str, lines: &[String], first_ts: i64) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .create()
        .unwrap();
    for (i, line) in lines.iter().enumerate() {
        let record = BaseRecord::<(), str>::to(topic)
            .payload(line.as_str())
            .timestamp(first_ts + i as i64);
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Every record of `topic` (expected: `n`), as (partition, key, i64 value,
/// timestamp, header count), in partition order; checks for 1 s that no
/// more come.
fn read_all(kafka: &LocalKafka, topic: &str, n: u64) -> Vec<(i32, String, i64, i64, usize)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .set("group.id", format!("reader-{topic}"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet_until = None;
    loop {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} records in `{topic}`",
            out.len()
        );
        if out.len() as u64 >= n {
            let until = *quiet_until.get_or_insert(Instant::now() + Duration::from_secs(1));
            if Instant::now() >= until {
                break;
            }
        }
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            let value = m
                .payload()
                .map_or(-1, |v| i64::from_be_bytes(v.try_into().unwrap()));
            let headers = m.headers().map_or(0, |h| h.count());
            out.push((
                m.partition(),
                key,
                value,
                m.timestamp().to_millis().unwrap(),
                headers,
            ));
        }
    }
    assert_eq!(out.len() as u64, n, "records in `{topic}`");
    out
}

/// The last value per key.
fn last_values(records: &[(i32, String, i64, i64, usize)]) -> BTreeMap<String, i64> {
    records
        .iter()
        .map(|(_, k, v, _, _)| (k.clone(), *v))
        .collect()
}

/// The tests' configuration: commits every 100 ms and, unless a test
/// turns it back on, no record cache (every update is emitted and logged,
/// so outputs and changelogs can be counted per input).
fn config(kafka: &LocalKafka, app: &str, state: &Path) -> StreamsConfig {
    let mut c = StreamsConfig::new(app);
    c.set("statestore.cache.max.bytes", "0").unwrap();
    c.set("bootstrap.servers", &kafka.bootstrap_servers())
        .unwrap();
    c.set("commit.interval.ms", "100").unwrap();
    c.set("weir.max.idle.ms", "3000").unwrap();
    c.set("state.dir", state.to_str().unwrap()).unwrap();
    c
}

fn run<T: Topology>(topology: T, config: StreamsConfig) -> RunSummary {
    App::new(topology, config)
        .unwrap()
        .handle_signals(false)
        .run()
        .unwrap()
}

fn changelog_name<T: Topology>(topology: &T, app: &str) -> String {
    let plan = topology.plan();
    let index = plan
        .internal_topics
        .iter()
        .position(|t| t.kind == InternalTopicKind::Changelog)
        .expect("a changelog");
    plan.internal_topic_name(app, index)
}

/// Per partition, the end offset of `topic`.
fn end_offsets(kafka: &LocalKafka, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .create()
        .unwrap();
    (0..partitions)
        .map(|p| {
            let (_, high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .unwrap();
            (p, high)
        })
        .collect()
}

/// The checkpoint file of task `task`, as (topic, partition) → offset.
fn checkpoint(state: &Path, app: &str, task: &str) -> BTreeMap<(String, i32), i64> {
    weir::store::checkpoint::read(&state.join(app).join(task).join(".checkpoint")).unwrap()
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// A topic's `cleanup.policy`, as the broker describes it.
fn cleanup_policy(kafka: &LocalKafka, topic: &str) -> String {
    topic_config(kafka, topic, "cleanup.policy")
}

/// One of a topic's configuration values, as the broker describes it.
fn topic_config(kafka: &LocalKafka, topic: &str, key: &str) -> String {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .create()
        .unwrap();
    let results = block_on(admin.describe_configs(
        &[ResourceSpecifier::Topic(topic)],
        &AdminOptions::new().request_timeout(Some(Duration::from_secs(10))),
    ))
    .unwrap();
    let resource = results.into_iter().next().unwrap().unwrap();
    resource.get(key).and_then(|e| e.value.clone()).unwrap()
}

#[test]
fn counts_survive_restarts_through_checkpoints_and_full_restoration() {
    let kafka = kafka();
    let app = "kstate-rocks-app";
    let state = StateDir::new("rocks");
    kafka.create_topic("kstate-rocks-lines", 2).unwrap();
    kafka.create_topic("kstate-rocks-counts", 2).unwrap();
    let changelog = changelog_name(&rocks_word_count(), app);
    let mut totals = BTreeMap::new();
    let mut words = 0;

    // Run 1: an empty store, nothing to restore.
    let first = batch(1, 150);
    add_counts(&mut totals, &first);
    words += word_total(&first);
    produce(kafka, "kstate-rocks-lines", &first, 1_000_000);
    let summary = run(rocks_word_count(), config(kafka, app, &state.0));
    assert_eq!(summary.restored, 0);
    assert_eq!(summary.processed, first.len() as u64 + words);
    // RocksDB stores: each stateful task (sub-topology 1) checkpointed the
    // changelog's end offset of its partition at shutdown.
    let ends = end_offsets(kafka, &changelog, 2);
    assert_eq!(ends.values().sum::<i64>() as u64, words);
    for p in 0..2 {
        assert_eq!(
            checkpoint(&state.0, app, &format!("1_{p}")),
            BTreeMap::from([((changelog.clone(), p), ends[&p])]),
            "task 1_{p}"
        );
    }
    assert!(
        !state.0.join(app).join("0_0").exists(),
        "stateless tasks have no directory"
    );
    assert_eq!(cleanup_policy(kafka, &changelog), "compact");
    assert_eq!(
        cleanup_policy(
            kafka,
            &format!("{app}-KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition")
        ),
        "delete"
    );

    // Run 2, same state directory: the stores restore nothing (the
    // checkpoints cover the whole changelog) and count on.
    let second = batch(2, 100);
    add_counts(&mut totals, &second);
    words += word_total(&second);
    produce(kafka, "kstate-rocks-lines", &second, 2_000_000);
    let summary = run(rocks_word_count(), config(kafka, app, &state.0));
    assert_eq!(summary.restored, 0, "restored from the checkpoints");
    assert_eq!(summary.processed, second.len() as u64 + word_total(&second));
    let out = read_all(kafka, "kstate-rocks-counts", words);
    assert_eq!(last_values(&out), totals);

    // Changelog records: the plain count, the aggregate's timestamp, no
    // headers, in the task's partition, last value per key = the count.
    let log = read_all(kafka, &changelog, words);
    assert_eq!(last_values(&log), totals);
    assert!(
        log.iter().all(|r| r.4 == 0),
        "changelog records carry no headers"
    );
    let out_ts: BTreeMap<(String, i64), i64> =
        out.iter().map(|r| ((r.1.clone(), r.2), r.3)).collect();
    for (partition, key, count, ts, _) in &log {
        assert_eq!(out_ts[&(key.clone(), *count)], *ts, "{key}");
        let same_key_out = out.iter().find(|r| &r.1 == key).unwrap();
        assert_eq!(same_key_out.0, *partition, "{key}");
    }

    // Run 3 without the state directory: the whole changelog is restored.
    // Two threads: if tasks move between them while the group forms, the
    // new owner waits for the old one to release the stores' locks, then
    // restores from the checkpoint written on closing them (nothing more).
    std::fs::remove_dir_all(&state.0).unwrap();
    let third = batch(3, 50);
    add_counts(&mut totals, &third);
    let restored_expected = words;
    words += word_total(&third);
    produce(kafka, "kstate-rocks-lines", &third, 3_000_000);
    let mut c = config(kafka, app, &state.0);
    c.set("num.stream.threads", "2").unwrap();
    let summary = run(rocks_word_count(), c);
    assert_eq!(
        summary.restored, restored_expected,
        "the whole changelog, once"
    );
    assert_eq!(summary.processed, third.len() as u64 + word_total(&third));
    let out = read_all(kafka, "kstate-rocks-counts", words);
    assert_eq!(last_values(&out), totals);
    let ends = end_offsets(kafka, &changelog, 2);
    for p in 0..2 {
        assert_eq!(
            checkpoint(&state.0, app, &format!("1_{p}")),
            BTreeMap::from([((changelog.clone(), p), ends[&p])]),
        );
    }
}

#[test]
fn in_memory_stores_restore_the_whole_changelog_on_restart() {
    let kafka = kafka();
    let app = "kstate-memory-app";
    let state = StateDir::new("memory");
    kafka.create_topic("kstate-memory-lines", 3).unwrap();
    kafka.create_topic("kstate-memory-counts", 3).unwrap();
    let in_memory = || {
        let mut c = config(kafka, app, &state.0);
        c.set("default.dsl.store", "in_memory").unwrap();
        c
    };
    let mut totals = BTreeMap::new();

    let first = batch(11, 120);
    add_counts(&mut totals, &first);
    let first_words = word_total(&first);
    produce(kafka, "kstate-memory-lines", &first, 1_000_000);
    let summary = run(memory_word_count(), in_memory());
    assert_eq!(summary.restored, 0);
    // Nothing is checkpointed for in-memory stores.
    for p in 0..3 {
        assert!(checkpoint(&state.0, app, &format!("1_{p}")).is_empty());
    }

    // The restart rebuilds the counts from the changelog; two threads, so
    // tasks may also move between threads while the group forms.
    let second = batch(12, 80);
    add_counts(&mut totals, &second);
    produce(kafka, "kstate-memory-lines", &second, 2_000_000);
    let mut c = in_memory();
    c.set("num.stream.threads", "2").unwrap();
    let summary = run(memory_word_count(), c);
    assert!(
        summary.restored >= first_words,
        "restored {} of {first_words}",
        summary.restored
    );
    assert_eq!(summary.processed, second.len() as u64 + word_total(&second));
    let out = read_all(
        kafka,
        "kstate-memory-counts",
        first_words + word_total(&second),
    );
    assert_eq!(last_values(&out), totals);
}

/// Clicks: key `user<i % 7>`, timestamps from `base` spread over five
/// 1-second windows (out of order; the grace period keeps every window open).
fn clicks(base: i64, from: usize, to: usize) -> Vec<(String, i64)> {
    (from..to)
        .map(|i| (format!("user{}", i % 7), base + (i as i64 * 137) % 5000))
        .collect()
}

#[test]
fn window_stores_restore_from_their_changelog() {
    let kafka = kafka();
    let app = "kstate-windows-app";
    let state = StateDir::new("windows");
    kafka.create_topic("kstate-clicks", 2).unwrap();
    kafka.create_topic("kstate-click-counts", 2).unwrap();
    let produce_clicks = |clicks: &[(String, i64)]| {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", kafka.bootstrap_servers())
            .create()
            .unwrap();
        for (key, ts) in clicks {
            let record = BaseRecord::<str, str>::to("kstate-clicks")
                .key(key.as_str())
                .payload("click")
                .timestamp(*ts);
            producer.send(record).map_err(|(e, _)| e).unwrap();
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    };
    let mut totals: BTreeMap<(String, i64), i64> = BTreeMap::new();
    let mut count = |clicks: &[(String, i64)]| {
        for (key, ts) in clicks {
            *totals.entry((key.clone(), ts - ts % 1000)).or_default() += 1;
        }
    };
    let in_memory = || {
        let mut c = config(kafka, app, &state.0);
        c.set("default.dsl.store", "in_memory").unwrap();
        c
    };

    let base = an_hour_ago_ms(60_000);
    let first = clicks(base, 0, 300);
    count(&first);
    produce_clicks(&first);
    let summary = run(windowed_clicks(), in_memory());
    assert_eq!((summary.processed, summary.restored), (300, 0));
    // A window store's changelog is compacted and deleted by time: the
    // store's retention (size + grace) plus a day, as in Kafka Streams.
    let changelog = changelog_name(&windowed_clicks(), app);
    assert_eq!(cleanup_policy(kafka, &changelog), "compact,delete");
    assert_eq!(
        topic_config(kafka, &changelog, "retention.ms"),
        (1000 + 86_400_000 + 86_400_000).to_string()
    );

    // In memory: the restart rebuilds every window from the changelog.
    let second = clicks(base, 300, 500);
    count(&second);
    produce_clicks(&second);
    let summary = run(windowed_clicks(), in_memory());
    assert_eq!((summary.processed, summary.restored), (200, 300));

    // Output keys are Kafka Streams' windowed keys: key bytes, then the
    // window start (8 bytes, big-endian).
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .set("group.id", "reader-kstate-click-counts")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&["kstate-click-counts"]).unwrap();
    let mut last: BTreeMap<(String, i64), i64> = BTreeMap::new();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen < 500 {
        assert!(Instant::now() < deadline, "only {seen} of 500 counts");
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            let key = m.key().unwrap();
            let (user, start) = key.split_at(key.len() - 8);
            let start = i64::from_be_bytes(start.try_into().unwrap());
            let value = i64::from_be_bytes(m.payload().unwrap().try_into().unwrap());
            last.insert((String::from_utf8(user.to_vec()).unwrap(), start), value);
            seen += 1;
        }
    }
    assert_eq!(last, totals);
}

#[test]
fn the_record_cache_emits_and_logs_the_latest_count_per_key_per_commit() {
    let kafka = kafka();
    let app = "kstate-cache-app";
    let state = StateDir::new("cache");
    kafka.create_topic("kstate-cache-lines", 2).unwrap();
    kafka.create_topic("kstate-cache-counts", 2).unwrap();
    let changelog = changelog_name(&cached_word_count(), app);
    // The default cache (10 MiB) and no commit before shutdown: each
    // word's updates collapse into one, flushed by the final commit.
    let cached = || {
        let mut c = config(kafka, app, &state.0);
        c.set("statestore.cache.max.bytes", "10485760").unwrap();
        c.set("commit.interval.ms", "600000").unwrap();
        c
    };
    let mut totals = BTreeMap::new();

    let first = batch(21, 200);
    add_counts(&mut totals, &first);
    produce(kafka, "kstate-cache-lines", &first, 1_000_000);
    let summary = run(cached_word_count(), cached());
    assert_eq!(summary.processed, first.len() as u64 + word_total(&first));
    let distinct = totals.len() as u64;
    assert!(word_total(&first) > 3 * distinct, "many updates per word");
    let out = read_all(kafka, "kstate-cache-counts", distinct);
    assert_eq!(last_values(&out), totals, "one final count per word");
    let log = read_all(kafka, &changelog, distinct);
    assert_eq!(last_values(&log), totals, "one changelog record per word");

    // A restart counts on from the stores; again one update per word seen.
    let second = batch(22, 100);
    add_counts(&mut totals, &second);
    let mut seen = BTreeMap::new();
    add_counts(&mut seen, &second);
    produce(kafka, "kstate-cache-lines", &second, 2_000_000);
    run(cached_word_count(), cached());
    let out = read_all(kafka, "kstate-cache-counts", distinct + seen.len() as u64);
    assert_eq!(last_values(&out), totals);
}

/// Forwards each key's first record; every 200 ms of wall-clock time, the
/// total number of records seen (key `#total`).
struct FirstSeen;

impl Processor for FirstSeen {
    type KeyIn = String;
    type ValueIn = String;
    type KeyOut = String;
    type ValueOut = String;

    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) {
        ctx.schedule(Duration::from_millis(200), PunctuationType::WallClockTime);
    }

    fn process(
        &mut self,
        record: Record<'_, String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), weir::ProcessError> {
        let mut seen = ctx.key_value_store::<String, i64>("seen")?;
        let n = seen.get(&record.key)?;
        seen.put(&record.key, &(n.unwrap_or(0) + 1))?;
        if n.is_none() {
            ctx.forward(record.key, record.value);
        }
        Ok(())
    }

    fn punctuate(
        &mut self,
        _punctuation: Punctuation,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), weir::ProcessError> {
        let total: i64 = ctx
            .key_value_store::<String, i64>("seen")?
            .all()?
            .iter()
            .map(|(_, n)| n)
            .sum();
        ctx.forward("#total".into(), total.to_string());
        Ok(())
    }
}

#[weir::topology]
fn first_seen() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.add_state_store("seen");
    builder
        .stream::<String, String>("kstate-proc-in")
        .process(|| FirstSeen, "seen")
        .to("kstate-proc-out");
    builder.build()
}

/// Records of `topic` (read from the start by a fresh group), each
/// `decode`d, until `done` holds.
fn consume<R>(
    kafka: &LocalKafka,
    topic: &str,
    group: &str,
    decode: impl Fn(&rdkafka::message::BorrowedMessage<'_>) -> R,
    done: impl Fn(&[R]) -> bool,
) -> Vec<R>
where
    R: std::fmt::Debug,
{
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(&out) {
        assert!(Instant::now() < deadline, "only {out:?} in `{topic}`");
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            out.push(decode(&m.unwrap()));
        }
    }
    out
}

/// Every (partition, key, value) of `topic` so far, waiting until `done`
/// holds.
fn read_strings(
    kafka: &LocalKafka,
    topic: &str,
    group: &str,
    done: impl Fn(&[(i32, String, String)]) -> bool,
) -> Vec<(i32, String, String)> {
    let decode = |m: &rdkafka::message::BorrowedMessage<'_>| {
        (
            m.partition(),
            String::from_utf8(m.key().unwrap().to_vec()).unwrap(),
            String::from_utf8(m.payload().unwrap().to_vec()).unwrap(),
        )
    };
    consume(kafka, topic, group, decode, done)
}

#[test]
fn a_processor_keeps_its_store_across_restarts_and_punctuates_on_wall_clock_time() {
    let kafka = kafka();
    let app = "kstate-proc-app";
    let state = StateDir::new("proc");
    kafka.create_topic("kstate-proc-in", 1).unwrap();
    kafka.create_topic("kstate-proc-out", 2).unwrap();
    let produce_keys = |keys: &[&str]| {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", kafka.bootstrap_servers())
            .create()
            .unwrap();
        for (i, key) in keys.iter().enumerate() {
            let value = i.to_string();
            let record = BaseRecord::<str, str>::to("kstate-proc-in")
                .key(*key)
                .payload(value.as_str())
                .timestamp(an_hour_ago_ms(1) + i as i64);
            producer.send(record).map_err(|(e, _)| e).unwrap();
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    };
    let firsts = |out: &[(i32, String, String)]| -> Vec<String> {
        let mut keys: Vec<String> = out
            .iter()
            .filter(|(_, k, _)| k != "#total")
            .map(|(_, k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    };
    // One input partition: one task, one store, one running total.
    let saw_total = |out: &[(i32, String, String)], n: i64| {
        out.iter()
            .any(|(_, k, v)| k == "#total" && v.parse::<i64>() == Ok(n))
    };

    produce_keys(&["a", "b", "a", "c", "b", "a"]);
    let summary = run(first_seen(), config(kafka, app, &state.0));
    assert_eq!(summary.processed, 6);
    let out = read_strings(kafka, "kstate-proc-out", "reader-proc-1", |o| {
        firsts(o).len() >= 3 && saw_total(o, 6)
    });
    assert_eq!(firsts(&out), ["a", "b", "c"]);

    // The store comes back (checkpoint or changelog): keys seen before are
    // not forwarded again, and the totals count on.
    produce_keys(&["c", "d"]);
    run(first_seen(), config(kafka, app, &state.0));
    let out = read_strings(kafka, "kstate-proc-out", "reader-proc-2", |o| {
        firsts(o).len() >= 4 && saw_total(o, 8)
    });
    assert_eq!(firsts(&out), ["a", "b", "c", "d"]);
}

#[weir::topology]
fn users_per_region() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .table::<String, String>("kstate-user-regions")
        .group_by(|_user, region| (region.clone(), 1i64))
        .count()
        .to_stream()
        .to("kstate-region-counts");
    builder.build()
}

#[test]
fn a_table_store_is_restored_from_its_source_topic_up_to_the_committed_offset() {
    let kafka = kafka();
    let app = "kstate-table-app";
    let state = StateDir::new("table");
    kafka.create_topic("kstate-user-regions", 1).unwrap();
    kafka.create_topic("kstate-region-counts", 1).unwrap();
    let produce_users =
        |users: &[(&str, Option<&str>)]| produce_user_regions(kafka, "kstate-user-regions", users);
    let region_counts =
        |group: &str, n: usize| latest_counts(kafka, "kstate-region-counts", group, n);

    produce_users(&[
        ("ann", Some("eu")),
        ("bob", Some("eu")),
        ("cid", Some("us")),
    ]);
    run(users_per_region(), config(kafka, app, &state.0));
    assert_eq!(
        region_counts("reader-table-1", 3),
        BTreeMap::from([(s("eu"), Some(2)), (s("us"), Some(1))])
    );
    // No changelog topic for the table's store: its topic is the changelog.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    let topics: Vec<&str> = md.topics().iter().map(|t| t.name()).collect();
    assert!(
        !topics
            .iter()
            .any(|t| t.starts_with(app) && t.contains("kstate-user-regions-STATE-STORE")),
        "{topics:?}"
    );

    // A fresh state directory: the table store comes back from the topic
    // (up to the committed offset), so moving ann subtracts her old region.
    std::fs::remove_dir_all(&state.0).unwrap();
    produce_users(&[("ann", Some("us")), ("bob", None)]);
    let summary = run(users_per_region(), config(kafka, app, &state.0));
    // The two new records, then their three changes through the
    // repartition topic (ann: -eu +us; bob: -eu): nothing read twice.
    assert_eq!(summary.processed, 5);
    assert_eq!(
        region_counts("reader-table-2", 6),
        BTreeMap::from([(s("eu"), Some(0)), (s("us"), Some(2))])
    );
}

fn s(x: &str) -> String {
    x.to_string()
}

/// Writes `(user, region)` records to `topic` (a `None` region is a
/// tombstone), a millisecond apart from an hour ago.
fn produce_user_regions<V: AsRef<[u8]> + ?Sized>(
    kafka: &LocalKafka,
    topic: &str,
    users: &[(&str, Option<&V>)],
) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .create()
        .unwrap();
    for (i, (user, region)) in users.iter().enumerate() {
        let mut record = BaseRecord::<str, [u8]>::to(topic)
            .key(*user)
            .timestamp(an_hour_ago_ms(1) + i as i64);
        if let Some(region) = region {
            record = record.payload(region.as_ref());
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// The latest (i64-or-null) value per key of `topic`, expecting `n` records.
fn latest_counts(
    kafka: &LocalKafka,
    topic: &str,
    group: &str,
    n: usize,
) -> BTreeMap<String, Option<i64>> {
    read_strings_or_null(kafka, topic, group, n)
        .into_iter()
        .collect()
}

/// Every (key, i64-or-null value) of `topic`, expecting `n` records.
fn read_strings_or_null(
    kafka: &LocalKafka,
    topic: &str,
    group: &str,
    n: usize,
) -> Vec<(String, Option<i64>)> {
    let decode = |m: &rdkafka::message::BorrowedMessage<'_>| {
        (
            String::from_utf8(m.key().unwrap().to_vec()).unwrap(),
            m.payload()
                .map(|v| i64::from_be_bytes(v.try_into().unwrap())),
        )
    };
    consume(kafka, topic, group, decode, |out| out.len() >= n)
}

#[weir::topology]
fn users_per_region_checked() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .table::<String, String>("kstate-bad-user-regions")
        .group_by(|_user, region| (region.clone(), 1i64))
        .count()
        .to_stream()
        .to("kstate-bad-region-counts");
    builder.build()
}

/// A table record whose value is not UTF-8 is skipped by processing
/// (log-and-continue) and must be skipped by restoration from the source
/// topic too: loaded into the store, it would fail the next update of its
/// key (the old value is read back) or reappear in the table.
#[test]
fn a_malformed_table_record_is_skipped_when_restoring_as_when_processing() {
    let kafka = kafka();
    let app = "kstate-badtable-app";
    let state = StateDir::new("badtable");
    kafka.create_topic("kstate-bad-user-regions", 1).unwrap();
    kafka.create_topic("kstate-bad-region-counts", 1).unwrap();
    let produce_users = |users: &[(&str, Option<&[u8]>)]| {
        produce_user_regions(kafka, "kstate-bad-user-regions", users)
    };
    let region_counts =
        |group: &str, n: usize| latest_counts(kafka, "kstate-bad-region-counts", group, n);

    produce_users(&[
        ("ann", Some(b"eu")),
        ("bad", Some(b"\xff\xfe")),
        ("cid", Some(b"us")),
    ]);
    let summary = run(users_per_region_checked(), config(kafka, app, &state.0));
    assert_eq!(summary.skipped_records, 1, "{summary:?}");
    assert_eq!(
        region_counts("reader-badtable-1", 2),
        BTreeMap::from([(s("eu"), Some(1)), (s("us"), Some(1))])
    );

    // Restored from the topic into a fresh state directory: `bad` must not
    // be in the store, so its first valid region is an addition only.
    std::fs::remove_dir_all(&state.0).unwrap();
    produce_users(&[("bad", Some(b"us"))]);
    let summary = run(users_per_region_checked(), config(kafka, app, &state.0));
    assert_eq!(summary.skipped_records, 0, "{summary:?}");
    assert_eq!(
        region_counts("reader-badtable-2", 3),
        BTreeMap::from([(s("eu"), Some(1)), (s("us"), Some(2))])
    );
}

#[weir::topology]
fn users_per_region_ckpt() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .table::<String, String>("kstate-ckpt-user-regions")
        .group_by(|_user, region| (region.clone(), 1i64))
        .count()
        .to_stream()
        .to("kstate-ckpt-region-counts");
    builder.build()
}

/// A RocksDB `table(topic)` store is checkpointed at the committed offset
/// of its source partition: a restart with the state directory kept
/// restores nothing, and still subtracts the old values it keeps.
#[test]
fn a_table_store_is_checkpointed_at_the_committed_offset_of_its_source() {
    let kafka = kafka();
    let app = "kstate-ckpt-app";
    let state = StateDir::new("ckpt");
    kafka.create_topic("kstate-ckpt-user-regions", 1).unwrap();
    kafka.create_topic("kstate-ckpt-region-counts", 1).unwrap();
    let produce_users = |users: &[(&str, Option<&str>)]| {
        produce_user_regions(kafka, "kstate-ckpt-user-regions", users)
    };
    let region_counts =
        |group: &str, n: usize| latest_counts(kafka, "kstate-ckpt-region-counts", group, n);

    produce_users(&[
        ("ann", Some("eu")),
        ("bob", Some("eu")),
        ("cid", Some("us")),
    ]);
    let first = run(users_per_region_ckpt(), config(kafka, app, &state.0));
    assert_eq!(first.restored, 0);
    let task = state.0.join(app).join("0_0");
    let offsets = checkpoint(&state.0, app, "0_0");
    assert_eq!(
        offsets.get(&("kstate-ckpt-user-regions".to_string(), 0)),
        Some(&3),
        "checkpoint in {}: {offsets:?}",
        task.display()
    );

    produce_users(&[("ann", Some("us")), ("bob", None)]);
    let second = run(users_per_region_ckpt(), config(kafka, app, &state.0));
    assert_eq!(second.restored, 0, "nothing to restore: {second:?}");
    assert_eq!(second.processed, 5);
    assert_eq!(
        region_counts("reader-ckpt-1", 6),
        BTreeMap::from([(s("eu"), Some(0)), (s("us"), Some(2))])
    );
}

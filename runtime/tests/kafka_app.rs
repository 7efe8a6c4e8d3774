//! The Kafka runtime against a real broker ([`LocalKafka`]): hand-written
//! topologies shaped like generated code (a `SubTopology` per sub-topology,
//! serdes through `__private`), run by [`App`].

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers as _, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, Timestamp, TopicPartitionList};
use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};
use weir_runtime::__private::{
    self, InternalTopic, InternalTopicKind, Plan, ProcessError, RecordCollector, RecordPart,
    SinkTopic, SourcePlan, SourceRecord, SubTopology, SubTopologyPlan, SubVisitor, TaskContext,
    TopicRef, Topology,
};
use weir_runtime::app::{AppError, RunSummary};
use weir_runtime::{App, DeserializationHandler, StreamsConfig};
use weir_test_kafka::LocalKafka;

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn kafka() -> &'static LocalKafka {
    init_tracing();
    LocalKafka::shared().expect("local Kafka broker")
}

// ---------------------------------------------------------------------------
// Topology 1: `upper-in` → repartition (through an internal topic) →
// uppercase the value → `upper-out`. Two sub-topologies, like
// `stream("upper-in").repartition().mapValues(toUpperCase).to("upper-out")`.

static UPPER_PLAN: Plan = Plan {
    name: "upper",
    subtopologies: &[
        SubTopologyPlan {
            copartitioned: false,
            clocked: false,
            cached: false,
            sources: &[SourcePlan {
                name: "KSTREAM-SOURCE-0000000000",
                topics: &[TopicRef::Named("upper-in")],
            }],
        },
        SubTopologyPlan {
            copartitioned: false,
            clocked: false,
            cached: false,
            sources: &[SourcePlan {
                name: "KSTREAM-SOURCE-0000000003",
                topics: &[TopicRef::Internal(0)],
            }],
        },
    ],
    internal_topics: &[InternalTopic {
        name: "KSTREAM-REPARTITION-0000000001-repartition",
        partitions: None,
        written_by: 0,
        kind: InternalTopicKind::Repartition,
    }],
    stores: &[],
    description: "",
    mermaid: "",
};

#[derive(Clone, Default)]
struct UpperSub0 {
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
    cx: TaskContext,
}

impl SubTopology for UpperSub0 {
    fn context(&mut self) -> &mut TaskContext {
        &mut self.cx
    }
    fn process<C: RecordCollector>(
        &mut self,
        source: usize,
        record: SourceRecord<'_>,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        let ctx = &record.context;
        match source {
            0 => {
                let k: String = __private::key(&record)?;
                let v: String = __private::value(&record)?;
                let sink = "KSTREAM-SINK-0000000002";
                let key = __private::ser(&k, &mut self.key_buf, sink, RecordPart::Key)?;
                let value = __private::ser(&v, &mut self.value_buf, sink, RecordPart::Value)?;
                out.send(SinkTopic::Internal(0), key, value, ctx)
            }
            _ => Err(__private::no_such_source(0, source)),
        }
    }
}

#[derive(Clone, Default)]
struct UpperSub1 {
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
    cx: TaskContext,
}

impl SubTopology for UpperSub1 {
    fn context(&mut self) -> &mut TaskContext {
        &mut self.cx
    }
    fn process<C: RecordCollector>(
        &mut self,
        source: usize,
        record: SourceRecord<'_>,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        let ctx = &record.context;
        match source {
            0 => {
                let k: String = __private::key(&record)?;
                let v: String = __private::value(&record)?;
                let v = v.to_uppercase();
                let sink = "KSTREAM-SINK-0000000005";
                let key = __private::ser(&k, &mut self.key_buf, sink, RecordPart::Key)?;
                let value = __private::ser(&v, &mut self.value_buf, sink, RecordPart::Value)?;
                out.send(SinkTopic::Named("upper-out"), key, value, ctx)
            }
            _ => Err(__private::no_such_source(1, source)),
        }
    }
}

#[derive(Clone, Default)]
struct Upper {
    s0: UpperSub0,
    s1: UpperSub1,
}

impl Topology for Upper {
    fn plan(&self) -> &'static Plan {
        &UPPER_PLAN
    }
    fn with_sub<'a, V: SubVisitor<'a>>(&'a mut self, sub: usize, v: V) -> Option<V::Output> {
        match sub {
            0 => Some(v.visit(&mut self.s0)),
            1 => Some(v.visit(&mut self.s1)),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Topology 2: `nums-in` (i64 values) → double → `nums-out`.

static DOUBLE_PLAN: Plan = Plan {
    name: "double",
    subtopologies: &[SubTopologyPlan {
        copartitioned: false,
        clocked: false,
        cached: false,
        sources: &[SourcePlan {
            name: "KSTREAM-SOURCE-0000000000",
            topics: &[TopicRef::Named("nums-in")],
        }],
    }],
    internal_topics: &[],
    stores: &[],
    description: "",
    mermaid: "",
};

#[derive(Clone, Default)]
struct Double {
    value_buf: Vec<u8>,
    cx: TaskContext,
}

impl Topology for Double {
    fn plan(&self) -> &'static Plan {
        &DOUBLE_PLAN
    }
    fn with_sub<'a, V: SubVisitor<'a>>(&'a mut self, sub: usize, v: V) -> Option<V::Output> {
        (sub == 0).then(|| v.visit(self))
    }
}

impl SubTopology for Double {
    fn context(&mut self) -> &mut TaskContext {
        &mut self.cx
    }
    fn process<C: RecordCollector>(
        &mut self,
        source: usize,
        record: SourceRecord<'_>,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        if source != 0 {
            return Err(__private::no_such_source(0, source));
        }
        let v: i64 = __private::value(&record)?;
        let sink = "KSTREAM-SINK-0000000002";
        let value = __private::ser(&(v * 2), &mut self.value_buf, sink, RecordPart::Value)?;
        out.send(
            SinkTopic::Named("nums-out"),
            record.key,
            value,
            &record.context,
        )
    }
}

// ---------------------------------------------------------------------------
// Topology 3: reads what its plan says, writes nothing (start-up checks).

#[derive(Clone)]
struct Reads(&'static Plan, TaskContext);

impl Topology for Reads {
    fn plan(&self) -> &'static Plan {
        self.0
    }
    fn with_sub<'a, V: SubVisitor<'a>>(&'a mut self, sub: usize, v: V) -> Option<V::Output> {
        (sub == 0).then(|| v.visit(self))
    }
}

impl SubTopology for Reads {
    fn context(&mut self) -> &mut TaskContext {
        &mut self.1
    }
    fn process<C: RecordCollector>(
        &mut self,
        _: usize,
        _: SourceRecord<'_>,
        _: &mut C,
    ) -> Result<(), ProcessError> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Helpers.

fn config(kafka: &LocalKafka, application_id: &str) -> StreamsConfig {
    let mut c = StreamsConfig::new(application_id);
    c.set("bootstrap.servers", &kafka.bootstrap_servers())
        .unwrap();
    c.set("commit.interval.ms", "200").unwrap();
    // A safety net: no test can hang on an app that never stops.
    c.max_idle_ms = Some(30_000);
    c
}

struct Input<'a> {
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    timestamp: i64,
    headers: &'a [(&'a str, &'a str)],
}

fn produce(kafka: &LocalKafka, topic: &str, records: &[Input<'_>]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .create()
        .unwrap();
    for r in records {
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).timestamp(r.timestamp);
        rec.key = r.key;
        rec.payload = r.value;
        if !r.headers.is_empty() {
            let mut h = OwnedHeaders::new();
            for (k, v) in r.headers {
                h = h.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
            rec = rec.headers(h);
        }
        producer.send(rec).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Reads `n` records from every partition of `topic`, failing after 60 s;
/// then checks for 1 s that no more come.
fn read(kafka: &LocalKafka, topic: &str, n: usize) -> Vec<OwnedMessage> {
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
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} records in `{topic}`",
            out.len()
        );
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            out.push(m.unwrap().detach());
        }
    }
    let quiet = Instant::now() + Duration::from_secs(1);
    while Instant::now() < quiet {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            panic!(
                "unexpected extra record in `{topic}`: {:?}",
                m.unwrap().detach()
            );
        }
    }
    out
}

fn run_in_thread<T: Topology>(app: App<T>) -> thread::JoinHandle<Result<RunSummary, AppError>> {
    thread::spawn(move || app.run())
}

fn committed(kafka: &LocalKafka, group: &str, topic: &str, partitions: i32) -> Vec<Option<i64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let c = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    (0..partitions)
        .map(|p| {
            c.find_partition(topic, p)
                .and_then(|e| e.offset().to_raw())
                .filter(|o| *o >= 0)
        })
        .collect()
}

// ---------------------------------------------------------------------------

#[test]
fn uppercases_through_a_repartition_topic_keeping_timestamps_and_headers() {
    let kafka = kafka();
    kafka.create_topic("upper-in", 3).unwrap();
    kafka.create_topic("upper-out", 2).unwrap();
    let n = 12;
    let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    let values: Vec<String> = (0..n).map(|i| format!("hello {i}")).collect();
    let traces: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
    let headers: Vec<[(&str, &str); 1]> = traces.iter().map(|t| [("trace", t.as_str())]).collect();
    let inputs: Vec<Input<'_>> = (0..n)
        .map(|i| Input {
            key: Some(keys[i].as_bytes()),
            value: Some(values[i].as_bytes()),
            timestamp: 1_700_000_000_000 + i as i64,
            headers: &headers[i],
        })
        .collect();
    produce(kafka, "upper-in", &inputs);

    let mut c = config(kafka, "upper-app");
    c.set("num.stream.threads", "2").unwrap();
    let app = App::new(Upper::default(), c).unwrap().handle_signals(false);
    let handle = app.shutdown_handle();
    let runner = run_in_thread(app);

    let out = read(kafka, "upper-out", n);
    handle.shutdown();
    let summary = runner.join().unwrap().unwrap();
    // Each record goes through both sub-topologies.
    assert_eq!(
        summary,
        RunSummary {
            processed: 2 * n as u64,
            skipped_records: 0,
            dropped_records: 0,
            produced: 2 * n as u64,
            restored: 0,
        }
    );

    let mut got = BTreeMap::new();
    for m in &out {
        let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
        let value = String::from_utf8(m.payload().unwrap().to_vec()).unwrap();
        let headers: Vec<(String, Vec<u8>)> = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        got.insert(key, (value, m.timestamp(), headers));
    }
    let want: BTreeMap<String, _> = (0..n)
        .map(|i| {
            (
                format!("k{i}"),
                (
                    format!("HELLO {i}"),
                    Timestamp::CreateTime(1_700_000_000_000 + i as i64),
                    vec![("trace".to_owned(), format!("t{i}").into_bytes())],
                ),
            )
        })
        .collect();
    assert_eq!(got, want);

    // The repartition topic was created with the upstream partition count.
    let admin: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .create()
        .unwrap();
    let md = admin
        .fetch_metadata(
            Some("upper-app-KSTREAM-REPARTITION-0000000001-repartition"),
            Duration::from_secs(10),
        )
        .unwrap();
    assert_eq!(md.topics()[0].partitions().len(), 3);

    // Offsets were committed: a second run processes nothing.
    let mut c = config(kafka, "upper-app");
    c.max_idle_ms = Some(3000);
    let again = App::new(Upper::default(), c)
        .unwrap()
        .handle_signals(false)
        .run()
        .unwrap();
    assert_eq!(again, RunSummary::default());
}

#[test]
fn malformed_records_are_skipped_or_fail_by_handler_and_offsets_are_committed() {
    let kafka = kafka();
    kafka.create_topic("nums-in", 1).unwrap();
    kafka.create_topic("nums-out", 1).unwrap();
    let one = 1i64.to_be_bytes();
    let three = 3i64.to_be_bytes();
    let four = 4i64.to_be_bytes();
    let malformed = [1u8, 2, 3]; // an i64 needs 8 bytes
    produce(
        kafka,
        "nums-in",
        &[
            Input {
                key: Some(b"a"),
                value: Some(&one),
                timestamp: 10,
                headers: &[],
            },
            Input {
                key: Some(b"b"),
                value: Some(&malformed),
                timestamp: 20,
                headers: &[],
            },
            Input {
                key: Some(b"c"),
                value: Some(&three),
                timestamp: 30,
                headers: &[],
            },
        ],
    );

    // Log-and-continue (the default): the bad record is counted and skipped.
    let mut c = config(kafka, "nums-continue");
    c.max_idle_ms = Some(4000);
    let summary = App::new(Double::default(), c)
        .unwrap()
        .handle_signals(false)
        .run()
        .unwrap();
    assert_eq!(
        summary,
        RunSummary {
            processed: 2,
            skipped_records: 1,
            dropped_records: 0,
            produced: 2,
            restored: 0,
        }
    );
    // The skipped record counts as processed for the offset.
    assert_eq!(
        committed(kafka, "nums-continue", "nums-in", 1),
        vec![Some(3)]
    );
    let out = read(kafka, "nums-out", 2);
    let got: Vec<(Vec<u8>, i64, Timestamp)> = out
        .iter()
        .map(|m| {
            let v = i64::from_be_bytes(m.payload().unwrap().try_into().unwrap());
            (m.key().unwrap().to_vec(), v, m.timestamp())
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (b"a".to_vec(), 2, Timestamp::CreateTime(10)),
            (b"c".to_vec(), 6, Timestamp::CreateTime(30)),
        ]
    );

    // Log-and-fail: the run stops with an error naming the record, after
    // committing what came before it.
    let mut c = config(kafka, "nums-fail");
    c.deserialization_handler = DeserializationHandler::LogAndFail;
    c.max_idle_ms = Some(20_000);
    let e = App::new(Double::default(), c)
        .unwrap()
        .handle_signals(false)
        .run()
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("nums-in-0@1"), "{text}");
    match e {
        AppError::Process {
            source: ProcessError::Deserialization { offset, part, .. },
            ..
        } => {
            assert_eq!(offset, 1);
            assert_eq!(part, RecordPart::Value);
        }
        other => panic!("unexpected error: {other}"),
    }
    assert_eq!(committed(kafka, "nums-fail", "nums-in", 1), vec![Some(1)]);

    // A new record after the committed ones: the log-and-continue
    // application resumes where it stopped and processes only that one.
    produce(
        kafka,
        "nums-in",
        &[Input {
            key: Some(b"d"),
            value: Some(&four),
            timestamp: 40,
            headers: &[],
        }],
    );
    let mut c = config(kafka, "nums-continue");
    c.max_idle_ms = Some(3000);
    let summary = App::new(Double::default(), c)
        .unwrap()
        .handle_signals(false)
        .run()
        .unwrap();
    assert_eq!(
        summary,
        RunSummary {
            processed: 1,
            skipped_records: 0,
            dropped_records: 0,
            produced: 1,
            restored: 0,
        }
    );
    assert_eq!(
        committed(kafka, "nums-continue", "nums-in", 1),
        vec![Some(4)]
    );
    // nums-out: a (continue), c (continue), a (fail run), d (continue).
    let out = read(kafka, "nums-out", 4);
    let values: Vec<i64> = out
        .iter()
        .map(|m| i64::from_be_bytes(m.payload().unwrap().try_into().unwrap()))
        .collect();
    assert_eq!(values, vec![2, 6, 2, 8]);
}

#[test]
fn start_up_refuses_missing_and_non_copartitioned_source_topics() {
    static MISSING: Plan = Plan {
        name: "missing",
        subtopologies: &[SubTopologyPlan {
            copartitioned: false,
            clocked: false,
            cached: false,
            sources: &[SourcePlan {
                name: "s",
                topics: &[
                    TopicRef::Named("no-such-topic-1"),
                    TopicRef::Named("no-such-topic-2"),
                ],
            }],
        }],
        internal_topics: &[],
        stores: &[],
        description: "",
        mermaid: "",
    };
    static JOIN: Plan = Plan {
        name: "join",
        subtopologies: &[SubTopologyPlan {
            copartitioned: true,
            clocked: false,
            cached: false,
            sources: &[
                SourcePlan {
                    name: "left",
                    topics: &[TopicRef::Named("co-left")],
                },
                SourcePlan {
                    name: "right",
                    topics: &[TopicRef::Named("co-right")],
                },
            ],
        }],
        internal_topics: &[],
        stores: &[],
        description: "",
        mermaid: "",
    };
    let kafka = kafka();
    let e = App::new(
        Reads(&MISSING, TaskContext::default()),
        config(kafka, "missing-app"),
    )
    .unwrap()
    .handle_signals(false)
    .run()
    .unwrap_err();
    match &e {
        AppError::MissingSourceTopics(t) => assert_eq!(t, &["no-such-topic-1", "no-such-topic-2"]),
        other => panic!("unexpected error: {other}"),
    }

    kafka.create_topic("co-left", 2).unwrap();
    kafka.create_topic("co-right", 3).unwrap();
    let e = App::new(
        Reads(&JOIN, TaskContext::default()),
        config(kafka, "join-app"),
    )
    .unwrap()
    .handle_signals(false)
    .run()
    .unwrap_err();
    match &e {
        AppError::NotCopartitioned {
            subtopology,
            topics,
        } => {
            assert_eq!(*subtopology, 0);
            assert_eq!(
                topics,
                &[("co-left".to_owned(), 2), ("co-right".to_owned(), 3)]
            );
        }
        other => panic!("unexpected error: {other}"),
    }
}

// ---------------------------------------------------------------------------
// Topology 4: `share-in` → uppercase → `share-out`, one sub-topology.

static SHARE_PLAN: Plan = Plan {
    name: "share",
    subtopologies: &[SubTopologyPlan {
        copartitioned: false,
        clocked: false,
        cached: false,
        sources: &[SourcePlan {
            name: "KSTREAM-SOURCE-0000000000",
            topics: &[TopicRef::Named("share-in")],
        }],
    }],
    internal_topics: &[],
    stores: &[],
    description: "",
    mermaid: "",
};

#[derive(Clone, Default)]
struct Share {
    value_buf: Vec<u8>,
    cx: TaskContext,
}

impl Topology for Share {
    fn plan(&self) -> &'static Plan {
        &SHARE_PLAN
    }
    fn with_sub<'a, V: SubVisitor<'a>>(&'a mut self, sub: usize, v: V) -> Option<V::Output> {
        (sub == 0).then(|| v.visit(self))
    }
}

impl SubTopology for Share {
    fn context(&mut self) -> &mut TaskContext {
        &mut self.cx
    }
    fn process<C: RecordCollector>(
        &mut self,
        source: usize,
        record: SourceRecord<'_>,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        if source != 0 {
            return Err(__private::no_such_source(0, source));
        }
        let v: String = __private::value(&record)?;
        let sink = "KSTREAM-SINK-0000000002";
        let value = __private::ser(
            &v.to_uppercase(),
            &mut self.value_buf,
            sink,
            RecordPart::Value,
        )?;
        out.send(
            SinkTopic::Named("share-out"),
            record.key,
            value,
            &record.context,
        )
    }
}

fn wait_for_stable_group(kafka: &LocalKafka, group: &str, members: usize) {
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .create()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = client
            .fetch_group_list(Some(group), Duration::from_secs(10))
            .unwrap();
        if let Some(g) = list.groups().iter().find(|g| g.name() == group) {
            if g.state() == "Stable" && g.members().len() == members {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "group {group} never stable with {members} members"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_second_instance_takes_over_partitions_without_duplicates() {
    let kafka = kafka();
    kafka.create_topic("share-in", 4).unwrap();
    kafka.create_topic("share-out", 4).unwrap();
    let batch = |from: usize, to: usize| {
        let keys: Vec<String> = (from..to).map(|i| format!("key-{i}")).collect();
        let values: Vec<String> = (from..to).map(|i| format!("value {i}")).collect();
        let inputs: Vec<Input<'_>> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| Input {
                key: Some(k.as_bytes()),
                value: Some(v.as_bytes()),
                timestamp: 1000,
                headers: &[],
            })
            .collect();
        produce(kafka, "share-in", &inputs);
    };
    // No periodic commit during the test: only the commit on revocation
    // keeps the second instance from processing the first batch again.
    let instance = || {
        let mut c = config(kafka, "share-app");
        c.set("commit.interval.ms", "600000").unwrap();
        let app = App::new(Share::default(), c).unwrap().handle_signals(false);
        let handle = app.shutdown_handle();
        (handle, run_in_thread(app))
    };

    batch(0, 40);
    let (stop_a, a) = instance();
    read(kafka, "share-out", 40);
    let (stop_b, b) = instance();
    wait_for_stable_group(kafka, "share-app", 2);
    batch(40, 80);
    let out = read(kafka, "share-out", 80);
    stop_a.shutdown();
    stop_b.shutdown();
    let a = a.join().unwrap().unwrap();
    let b = b.join().unwrap().unwrap();
    assert_eq!(a.processed + b.processed, 80, "{a:?} {b:?}");
    assert!(b.processed > 0, "the second instance got partitions: {b:?}");
    let mut keys: Vec<Vec<u8>> = out.iter().map(|m| m.key().unwrap().to_vec()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 80);
    assert!(out
        .iter()
        .all(|m| m.payload().unwrap().starts_with(b"VALUE ")));
}

// ---------------------------------------------------------------------------
// Topology 5: `lost-in` → `no-such-output` (a topic that does not exist).

static LOST_PLAN: Plan = Plan {
    name: "lost",
    subtopologies: &[SubTopologyPlan {
        copartitioned: false,
        clocked: false,
        cached: false,
        sources: &[SourcePlan {
            name: "KSTREAM-SOURCE-0000000000",
            topics: &[TopicRef::Named("lost-in")],
        }],
    }],
    internal_topics: &[],
    stores: &[],
    description: "",
    mermaid: "",
};

#[derive(Clone, Default)]
struct Lost {
    cx: TaskContext,
}

impl Topology for Lost {
    fn plan(&self) -> &'static Plan {
        &LOST_PLAN
    }
    fn with_sub<'a, V: SubVisitor<'a>>(&'a mut self, sub: usize, v: V) -> Option<V::Output> {
        (sub == 0).then(|| v.visit(self))
    }
}

impl SubTopology for Lost {
    fn context(&mut self) -> &mut TaskContext {
        &mut self.cx
    }
    fn process<C: RecordCollector>(
        &mut self,
        _: usize,
        record: SourceRecord<'_>,
        out: &mut C,
    ) -> Result<(), ProcessError> {
        out.send(
            SinkTopic::Named("no-such-output"),
            record.key,
            record.value,
            &record.context,
        )
    }
}

#[test]
fn a_failed_delivery_stops_the_app_without_committing() {
    let kafka = kafka();
    kafka.create_topic("lost-in", 1).unwrap();
    produce(
        kafka,
        "lost-in",
        &[Input {
            key: Some(b"k"),
            value: Some(b"v"),
            timestamp: 5,
            headers: &[],
        }],
    );
    let mut c = config(kafka, "lost-app");
    c.set("producer.message.timeout.ms", "2000").unwrap();
    c.max_idle_ms = Some(30_000);
    let e = App::new(Lost::default(), c)
        .unwrap()
        .handle_signals(false)
        .run()
        .unwrap_err();
    match &e {
        AppError::Delivery { topic, failed, .. } => {
            assert_eq!(topic, "no-such-output");
            assert_eq!(*failed, 1);
        }
        other => panic!("unexpected error: {other}"),
    }
    assert!(e.to_string().contains("offsets not committed"), "{e}");
    assert_eq!(committed(kafka, "lost-app", "lost-in", 1), vec![None]);
}

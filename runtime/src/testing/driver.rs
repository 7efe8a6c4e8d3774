//! [`TopologyTestDriver`]: runs a compiled topology in memory, without Kafka,
//! as Kafka Streams' `kafka-streams-test-utils` does.
//!
//! Records piped into a [`TestInputTopic`] are serialised with their
//! [`Serde`] impls and the bytes run through [`Task::process`], the same
//! per-record path the Kafka runtime uses (deserialization handler
//! included). What the topology sends is captured per topic and read back,
//! deserialised, through a [`TestOutputTopic`]. Records sent to an internal
//! (repartition) topic, or to a topic the topology itself reads, are fed
//! back into the sub-topology reading it once the current record is done,
//! first in first out, until nothing is left: the driver is synchronous, so
//! when `pipe_*` returns every consequence of the record is readable.
//!
//! ```text
//! let driver = TopologyTestDriver::new(my_topology());
//! let input = driver.create_input_topic::<String, String>("input");
//! let output = driver.create_output_topic::<String, String>("output");
//! input.pipe_input("k".to_string(), "v".to_string());
//! assert_eq!(output.read_key_value(), ("k".to_string(), "V".to_string()));
//! assert!(output.is_empty());
//! ```
//!
//! The driver runs [`Task`]s, as the Kafka runtime does, in one
//! [`Tasks`] set (one task per sub-topology, partition 0); records waiting
//! to be processed are ordered by one [`PartitionGroup`] over every topic
//! the topology reads, as Kafka Streams' driver runs its single task.

use super::topics::{TestInputTopic, TestOutputTopic};
use crate::config::StreamsConfig;
use crate::error::ProcessError;
use crate::record::{Headers, RecordContext, SourceRecord};
use crate::serde::Serde;
use crate::task::{PartitionGroup, Task, TaskId, TaskMetrics, Tasks, Timestamped};
use crate::topology::{Plan, RecordCollector, SinkTopic, Topology, TopologyDescription};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Application id used when none is configured.
const DEFAULT_APPLICATION_ID: &str = "test-app";

/// Milliseconds since the epoch, now.
fn system_time_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, duration_ms)
}

/// A duration in whole milliseconds, saturating.
pub(super) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// One serialised record, as piped in or as sent by the topology.
#[derive(Debug, Clone)]
pub(super) struct RawRecord {
    pub(super) topic: String,
    pub(super) key: Option<Vec<u8>>,
    pub(super) value: Option<Vec<u8>>,
    pub(super) timestamp: i64,
    pub(super) headers: Headers,
}

impl Timestamped for RawRecord {
    fn timestamp(&self) -> i64 {
        self.timestamp
    }
}

/// Collects what one `Task::process` call sends and prints.
struct Collector<'a> {
    plan: &'static Plan,
    application_id: &'a str,
    sent: &'a mut Vec<RawRecord>,
    printed: &'a mut Vec<String>,
}

impl RecordCollector for Collector<'_> {
    fn send(
        &mut self,
        topic: SinkTopic<'_>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        context: &RecordContext<'_>,
    ) -> Result<(), ProcessError> {
        let topic = match topic {
            SinkTopic::Named(name) => name.to_owned(),
            SinkTopic::Internal(i) if i < self.plan.internal_topics.len() => {
                self.plan.internal_topic_name(self.application_id, i)
            }
            SinkTopic::Internal(i) => {
                return Err(ProcessError::Send {
                    topic: format!("<internal topic #{i}>"),
                    reason: format!(
                        "the plan has {} internal topic(s)",
                        self.plan.internal_topics.len()
                    ),
                })
            }
        };
        self.sent.push(RawRecord {
            topic,
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            timestamp: context.timestamp,
            headers: context.headers.clone(),
        });
        Ok(())
    }

    fn print(&mut self, line: fmt::Arguments<'_>) {
        let line = line.to_string();
        println!("{line}");
        self.printed.push(line);
    }
}

/// One task per sub-topology (partition 0), each with its own copy of the
/// topology and, under `state_dir`, its own stores (opened, not started).
fn new_tasks<T: Topology>(
    topology: &T,
    config: &StreamsConfig,
    state_dir: Option<&std::path::Path>,
    application_id: &str,
) -> Tasks<T> {
    let mut tasks = Tasks::new();
    for sub in 0..topology.plan().subtopologies.len() {
        let id = TaskId {
            subtopology: sub,
            partition: 0,
        };
        let mut task = Task::new(id, topology.clone(), config);
        task.set_cache_max_bytes(config.cache_max_bytes);
        if let Some(dir) = state_dir {
            let dir = crate::store::TaskDirectory(dir.join(application_id).join(id.to_string()));
            if let Err(e) = task.open(&dir, config.default_dsl_store) {
                panic!("task {id}: cannot open its state stores: {e}");
            }
        }
        tasks.insert(task, ());
    }
    tasks
}

/// Starts every task on the mock clock (processors are initialised now:
/// their wall-clock punctuations count from here).
fn start_tasks<T: Topology>(tasks: &mut Tasks<T>, wall_clock_ms: i64) {
    for (task, ()) in tasks.iter_mut() {
        task.start(wall_clock_ms);
    }
}

/// Records waiting to be processed, in Kafka Streams' order: one queue per
/// topic the topology reads (partition 0), in one partition group.
#[derive(Default)]
struct Pending {
    group: PartitionGroup<RawRecord>,
    queues: HashMap<String, usize>,
}

impl Pending {
    fn add(&mut self, record: RawRecord) {
        let next = self.queues.len();
        let queue = *self.queues.entry(record.topic.clone()).or_insert(next);
        self.group.push(queue, record);
    }

    fn next(&mut self) -> Option<RawRecord> {
        self.group.pop().map(|(_, record)| record)
    }

    fn clear(&mut self) {
        self.group.clear();
    }
}

/// The driver's mutable state, behind a `RefCell` so that several input and
/// output topics can borrow the driver at once.
pub(super) struct State<T: Topology> {
    /// One task per sub-topology, partition 0.
    pub(super) tasks: Tasks<T>,
    /// Topic (internal ones by full name) → the (sub-topology, source) reading it.
    sources: HashMap<String, Vec<(usize, usize)>>,
    /// Next offset of each topic fed into the topology (partition 0).
    offsets: HashMap<String, i64>,
    /// Records sent per topic, not yet read.
    outputs: HashMap<String, VecDeque<RawRecord>>,
    /// Every topic written so far.
    produced: BTreeSet<String>,
    /// Records waiting to be processed.
    pending: Pending,
    /// `print` lines.
    printed: Vec<String>,
    /// Mock wall-clock time, ms since the epoch.
    wall_clock_ms: i64,
    /// Every record written to a changelog topic, kept for [`TopologyTestDriver::restart`].
    changelogs: HashMap<String, Vec<RawRecord>>,
    /// Changelog topics by full name.
    changelog_topics: BTreeSet<String>,
    /// Source topics serving as changelogs (`table(topic)` stores): their
    /// processed records are kept for [`TopologyTestDriver::restart`].
    source_changelogs: BTreeSet<String>,
}

impl<T: Topology> State<T> {
    /// Processes `record` and everything it causes to be fed back.
    fn pipe(
        &mut self,
        plan: &'static Plan,
        application_id: &str,
        record: RawRecord,
    ) -> Result<(), String> {
        if !self.sources.contains_key(&record.topic) {
            return Err(format!(
                "Unknown topic: {} (no source of the topology reads it; source topics: {:?})",
                record.topic,
                self.source_topic_names()
            ));
        }
        self.pending.add(record);
        while let Some(record) = self.pending.next() {
            if let Err(e) = self.process_one(plan, application_id, record) {
                self.pending.clear();
                return Err(e);
            }
        }
        Ok(())
    }

    fn source_topic_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.sources.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Runs one record through every source that reads its topic.
    fn process_one(
        &mut self,
        plan: &'static Plan,
        application_id: &str,
        record: RawRecord,
    ) -> Result<(), String> {
        let offset = {
            let next = self.offsets.entry(record.topic.clone()).or_insert(0);
            let offset = *next;
            *next += 1;
            offset
        };
        let readers = self.sources.get(&record.topic).cloned().unwrap_or_default();
        if self.source_changelogs.contains(&record.topic) {
            self.changelogs
                .entry(record.topic.clone())
                .or_default()
                .push(record.clone());
        }
        let mut sent = Vec::new();
        for (sub, source) in readers {
            let id = TaskId {
                subtopology: sub,
                partition: 0,
            };
            let Some((task, ())) = self.tasks.get_mut(id) else {
                return Err(format!("no task {id} for topic {}", record.topic));
            };
            let source_record = SourceRecord {
                context: RecordContext {
                    topic: &record.topic,
                    partition: 0,
                    offset,
                    timestamp: record.timestamp,
                    headers: &record.headers,
                },
                key: record.key.as_deref(),
                value: record.value.as_deref(),
            };
            let mut collector = Collector {
                plan,
                application_id,
                sent: &mut sent,
                printed: &mut self.printed,
            };
            if task.is_clocked() {
                task.set_wall_clock(self.wall_clock_ms);
            }
            // Kafka Streams' test driver commits after every record, which
            // flushes the record cache.
            let result = task
                .process(source, source_record, &mut collector)
                .and_then(|()| task.flush_cache(&mut collector));
            // What was sent before a failure was handed to the "producer":
            // capture it either way.
            self.capture(&mut sent);
            if let Err(e) = result {
                return Err(format!(
                    "task {id} failed to process record {}-0@{offset}: {e}",
                    record.topic
                ));
            }
        }
        Ok(())
    }

    /// Runs every task's due wall-clock punctuations (each followed by a
    /// commit), then processes what they sent to topics the topology reads.
    fn punctuate_wall_clock(
        &mut self,
        plan: &'static Plan,
        application_id: &str,
    ) -> Result<(), String> {
        let now = self.wall_clock_ms;
        let mut sent = Vec::new();
        let mut collector = Collector {
            plan,
            application_id,
            sent: &mut sent,
            printed: &mut self.printed,
        };
        // A commit (the cache flushes) after each task's punctuations.
        let result = self.tasks.punctuate_wall_clock(now, true, &mut collector);
        self.capture(&mut sent);
        if let Err((id, e)) = result {
            return Err(format!("task {id} failed in a wall-clock punctuation: {e}"));
        }
        while let Some(record) = self.pending.next() {
            if let Err(e) = self.process_one(plan, application_id, record) {
                self.pending.clear();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Makes sent records readable and queues those the topology reads.
    fn capture(&mut self, sent: &mut Vec<RawRecord>) {
        for record in sent.drain(..) {
            if !self.produced.contains(&record.topic) {
                self.produced.insert(record.topic.clone());
            }
            if self.sources.contains_key(&record.topic) {
                self.pending.add(record.clone());
            }
            if self.changelog_topics.contains(&record.topic) {
                self.changelogs
                    .entry(record.topic.clone())
                    .or_default()
                    .push(record.clone());
            }
            self.outputs
                .entry(record.topic.clone())
                .or_default()
                .push_back(record);
        }
    }
}

/// Runs a [`Topology`] in memory, synchronously: Kafka Streams'
/// `TopologyTestDriver`.
///
/// There is one [`Task`] per sub-topology (partition 0), each with its own
/// clone of the topology, and the deserialization handler of the
/// configuration. Under log-and-fail a record that does not deserialize makes
/// `pipe_*` panic with the error (Kafka Streams throws a `StreamsException`);
/// under log-and-continue (the default) it is skipped and counted in
/// [`TopologyTestDriver::skipped_records`].
pub struct TopologyTestDriver<T: Topology> {
    topology: T,
    pub(super) plan: &'static Plan,
    application_id: String,
    pub(super) state: RefCell<State<T>>,
    /// This driver's own state directory (removed on drop), when the
    /// topology has stores.
    state_dir: Option<std::path::PathBuf>,
    /// The configuration tasks are created with.
    config: StreamsConfig,
    /// How many times [`TopologyTestDriver::restart`] ran.
    restarts: std::cell::Cell<u32>,
}

impl<T: Topology> Drop for TopologyTestDriver<T> {
    fn drop(&mut self) {
        // Close the stores before deleting their files.
        self.state.get_mut().tasks = Tasks::new();
        if let Some(dir) = &self.state_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl<T: Topology> fmt::Debug for TopologyTestDriver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopologyTestDriver")
            .field("topology", &self.plan.name)
            .field("application_id", &self.application_id)
            .finish_non_exhaustive()
    }
}

impl<T: Topology> TopologyTestDriver<T> {
    /// A driver for `topology` with the default configuration and application
    /// id `test-app` (so internal topics are named `test-app-<name>`).
    pub fn new(topology: T) -> Self {
        Self::with_config(topology, StreamsConfig::new(DEFAULT_APPLICATION_ID))
    }

    /// A driver for `topology` with `config`: its application id (`test-app`
    /// if empty) names internal topics, its deserialization handler decides
    /// what happens to records that do not deserialize. Nothing connects to
    /// `bootstrap.servers`.
    pub fn with_config(topology: T, config: StreamsConfig) -> Self {
        let plan = topology.plan();
        let application_id = if config.application_id.is_empty() {
            DEFAULT_APPLICATION_ID.to_owned()
        } else {
            config.application_id.clone()
        };
        let mut sources: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (sub, source, topic) in plan.source_topics(&application_id) {
            sources.entry(topic).or_default().push((sub, source));
        }
        // Each driver has a state directory of its own, so tests may run in
        // parallel; Kafka Streams' driver deletes its state on close too.
        let state_dir = (!plan.stores.is_empty()).then(|| {
            static DRIVERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = DRIVERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            config.state_dir.join(format!(
                "test-driver-{}-{n}-{}",
                std::process::id(),
                system_time_ms()
            ))
        });
        let wall_clock_ms = system_time_ms();
        let mut tasks = new_tasks(&topology, &config, state_dir.as_deref(), &application_id);
        start_tasks(&mut tasks, wall_clock_ms);
        let changelog_topics = plan
            .stores
            .iter()
            .filter_map(|st| st.changelog)
            .map(|i| plan.internal_topic_name(&application_id, i))
            .collect();
        let source_changelogs = plan
            .stores
            .iter()
            .filter_map(|st| st.source_changelog)
            .map(str::to_owned)
            .collect();
        TopologyTestDriver {
            state_dir,
            config,
            restarts: std::cell::Cell::new(0),
            topology,
            plan,
            application_id,
            state: RefCell::new(State {
                tasks,
                sources,
                offsets: HashMap::new(),
                outputs: HashMap::new(),
                produced: BTreeSet::new(),
                pending: Pending::default(),
                printed: Vec::new(),
                wall_clock_ms,
                changelogs: HashMap::new(),
                changelog_topics,
                source_changelogs,
            }),
        }
    }

    /// Simulates a restart that lost all local state: every task is closed
    /// and reopened with empty stores (in a fresh directory), its stores are
    /// rebuilt from the changelog records captured so far, and in-memory
    /// processor state (stream time of windowed aggregations, `suppress`
    /// buffers, which have no changelog yet) starts anew. Records written
    /// before stay readable. Panics if a store cannot be rebuilt.
    pub fn restart(&self) {
        let n = self.restarts.get() + 1;
        self.restarts.set(n);
        let dir = self
            .state_dir
            .as_ref()
            .map(|d| d.join(format!("restart-{n}")));
        let mut state = self.state.borrow_mut();
        // Close the old stores before opening new ones.
        state.tasks = Tasks::new();
        let mut tasks = new_tasks(
            &self.topology,
            &self.config,
            dir.as_deref(),
            &self.application_id,
        );
        for store in self.plan.stores {
            // The changelog, or the source topic serving as one (its piped
            // records were kept, with null keys: skipped below).
            let topic = match (store.changelog, store.source_changelog) {
                (Some(changelog), _) => self
                    .plan
                    .internal_topic_name(&self.application_id, changelog),
                (None, Some(source)) => source.to_owned(),
                (None, None) => continue,
            };
            let batch: Vec<(Vec<u8>, Option<Vec<u8>>)> = state
                .changelogs
                .get(&topic)
                .map(|records| {
                    records
                        .iter()
                        .filter(|r| r.key.is_some())
                        .map(|r| {
                            let value =
                                crate::store::restore::store_value(r.timestamp, r.value.as_deref());
                            (r.key.clone().unwrap_or_default(), value)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let Some((subtopology, index, _)) = self.plan.locate_store(store.name) else {
                continue;
            };
            let id = TaskId {
                subtopology,
                partition: 0,
            };
            let target = tasks
                .get_mut(id)
                .and_then(|(task, ())| task.stores())
                .and_then(|stores| stores.get_mut(index));
            let Some(target) = target else {
                panic!("store `{}` is not open after the restart", store.name)
            };
            if let Err(e) = target.restore_target().apply(&batch) {
                panic!("cannot rebuild store `{}` from `{topic}`: {e}", store.name);
            }
        }
        // Processors start once their stores are rebuilt.
        start_tasks(&mut tasks, state.wall_clock_ms);
        state.tasks = tasks;
    }

    /// The application id in use (prefix of internal topic names).
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// An input topic whose records, unless given a timestamp, are stamped
    /// with the system time at creation; the time does not auto-advance.
    /// Piping to a topic no source reads panics with `Unknown topic`.
    pub fn create_input_topic<K: Serde, V: Serde>(&self, name: &str) -> TestInputTopic<'_, K, V> {
        self.create_input_topic_with_time(name, system_time_ms(), Duration::ZERO)
    }

    /// An input topic whose records, unless given a timestamp, are stamped
    /// with `start_timestamp_ms`, then the time advances by `auto_advance`
    /// after each record.
    pub fn create_input_topic_with_time<K: Serde, V: Serde>(
        &self,
        name: &str,
        start_timestamp_ms: i64,
        auto_advance: Duration,
    ) -> TestInputTopic<'_, K, V> {
        TestInputTopic {
            driver: self,
            topic: name.to_owned(),
            current_time_ms: Cell::new(start_timestamp_ms),
            auto_advance_ms: duration_ms(auto_advance),
            _types: PhantomData,
        }
    }

    /// An output topic, reading what the topology sent to `name` (an internal
    /// topic by its full name, `<application.id>-<name>`).
    pub fn create_output_topic<K: Serde, V: Serde>(&self, name: &str) -> TestOutputTopic<'_, K, V> {
        TestOutputTopic {
            driver: self,
            topic: name.to_owned(),
            _types: PhantomData,
        }
    }

    /// Advances the mock wall-clock time. Wall-clock punctuations, when they
    /// exist, will fire here.
    pub fn advance_wall_clock_time(&self, advance: Duration) {
        let mut state = self.state.borrow_mut();
        state.wall_clock_ms = state.wall_clock_ms.saturating_add(duration_ms(advance));
        // Wall-clock punctuations, then a commit (the cache flushes), then
        // what they sent to topics the topology reads is processed.
        if let Err(e) = state.punctuate_wall_clock(self.plan, &self.application_id) {
            panic!("{e}");
        }
    }

    /// The mock wall-clock time, ms since the epoch (system time at creation
    /// plus every [`TopologyTestDriver::advance_wall_clock_time`]).
    pub fn wall_clock_time_ms(&self) -> i64 {
        self.state.borrow().wall_clock_ms
    }

    /// Lines printed by `print` operators so far, in order (also echoed to
    /// stdout).
    pub fn printed_lines(&self) -> Vec<String> {
        self.state.borrow().printed.clone()
    }

    /// Counters summed over every task.
    pub fn metrics(&self) -> TaskMetrics {
        self.state.borrow_mut().tasks.metrics()
    }

    /// Records the processors dropped (late for their window, or a null key
    /// or value an aggregation cannot take), over every task.
    pub fn dropped_records(&self) -> u64 {
        self.metrics().dropped_records
    }

    /// Records skipped by the deserialization handler, over every task.
    pub fn skipped_records(&self) -> u64 {
        self.metrics().skipped_records
    }

    /// Counters of each task, by task id.
    pub fn task_metrics(&self) -> BTreeMap<TaskId, TaskMetrics> {
        self.state.borrow_mut().tasks.task_metrics()
    }

    /// The topology's description (Kafka Streams' `Topology.describe()`).
    pub fn describe(&self) -> TopologyDescription {
        self.topology.describe()
    }

    /// Names of the topics written so far, internal ones by full name,
    /// sorted (Kafka Streams' `producedTopicNames()`).
    pub fn produced_topic_names(&self) -> Vec<String> {
        self.state.borrow().produced.iter().cloned().collect()
    }

    /// Every topic the topology reads, internal ones by full name, sorted.
    pub fn source_topic_names(&self) -> Vec<String> {
        self.state
            .borrow()
            .source_topic_names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    fn pipe_raw(&self, record: RawRecord) {
        let result = self
            .state
            .borrow_mut()
            .pipe(self.plan, &self.application_id, record);
        if let Err(message) = result {
            panic!("{message}");
        }
    }

    fn pop_output(&self, topic: &str) -> Option<RawRecord> {
        self.state
            .borrow_mut()
            .outputs
            .get_mut(topic)
            .and_then(VecDeque::pop_front)
    }

    fn output_len(&self, topic: &str) -> usize {
        self.state
            .borrow()
            .outputs
            .get(topic)
            .map_or(0, VecDeque::len)
    }
}

/// What topics need of a driver, without its topology type.
pub(super) trait DriverAccess {
    fn pipe_raw(&self, record: RawRecord);
    fn pop_output(&self, topic: &str) -> Option<RawRecord>;
    fn output_len(&self, topic: &str) -> usize;
}

impl<T: Topology> DriverAccess for TopologyTestDriver<T> {
    fn pipe_raw(&self, record: RawRecord) {
        TopologyTestDriver::pipe_raw(self, record)
    }
    fn pop_output(&self, topic: &str) -> Option<RawRecord> {
        TopologyTestDriver::pop_output(self, topic)
    }
    fn output_len(&self, topic: &str) -> usize {
        TopologyTestDriver::output_len(self, topic)
    }
}

#[cfg(test)]
mod tests {
    use super::super::TestRecord;
    use super::*;
    use crate::__private::{
        key, ser, value, InternalTopic, InternalTopicKind, RecordPart, SourcePlan, SubTopology,
        SubTopologyPlan, SubVisitor, TaskContext, TopicRef,
    };
    use crate::config::DeserializationHandler;

    // ---- A hand-written topology, shaped as the compiler will generate it ----
    //
    // sub 0: input --filter(v != "drop")--> mapValues(upper) --> "upper"
    //                                                        \-> repartition (internal 0)
    // sub 1: repartition --> "after-repartition"

    static PLAN: Plan = Plan {
        name: "upper_and_repartition",
        subtopologies: &[
            SubTopologyPlan {
                copartitioned: false,
                clocked: false,
                cached: false,
                sources: &[SourcePlan {
                    name: "KSTREAM-SOURCE-0000000000",
                    topics: &[TopicRef::Named("input")],
                }],
            },
            SubTopologyPlan {
                copartitioned: false,
                clocked: false,
                cached: false,
                sources: &[SourcePlan {
                    name: "KSTREAM-SOURCE-0000000005",
                    topics: &[TopicRef::Internal(0)],
                }],
            },
        ],
        internal_topics: &[InternalTopic {
            name: "rep-repartition",
            partitions: None,
            written_by: 0,
            kind: InternalTopicKind::Repartition,
        }],
        stores: &[],
        description: "Topologies:\n   Sub-topology: 0\n   Sub-topology: 1\n",
        mermaid: "flowchart TD",
    };

    #[derive(Clone, Default)]
    struct Sub0 {
        key_buf: Vec<u8>,
        value_buf: Vec<u8>,
        cx: TaskContext,
    }

    impl SubTopology for Sub0 {
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
                return Err(crate::__private::no_such_source(0, source));
            }
            let k: Option<String> = key(&record)?;
            let v: String = value(&record)?;
            if v == "drop" {
                return Ok(());
            }
            let v = v.to_uppercase();
            let kb = ser(
                &k,
                &mut self.key_buf,
                "KSTREAM-SINK-0000000003",
                RecordPart::Key,
            )?;
            let vb = ser(
                &v,
                &mut self.value_buf,
                "KSTREAM-SINK-0000000003",
                RecordPart::Value,
            )?;
            out.send(SinkTopic::Named("upper"), kb, vb, &record.context)?;
            out.send(SinkTopic::Internal(0), kb, vb, &record.context)?;
            out.print(format_args!(
                "[upper]: {}, {v}",
                k.as_deref().unwrap_or("null")
            ));
            Ok(())
        }
    }

    #[derive(Clone, Default)]
    struct Sub1 {
        key_buf: Vec<u8>,
        value_buf: Vec<u8>,
        cx: TaskContext,
    }

    impl SubTopology for Sub1 {
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
                return Err(crate::__private::no_such_source(1, source));
            }
            let k: Option<String> = key(&record)?;
            let v: String = value(&record)?;
            out.print(format_args!(
                "[after]: {}, {v}",
                k.as_deref().unwrap_or("null")
            ));
            let kb = ser(
                &k,
                &mut self.key_buf,
                "KSTREAM-SINK-0000000007",
                RecordPart::Key,
            )?;
            let vb = ser(
                &v,
                &mut self.value_buf,
                "KSTREAM-SINK-0000000007",
                RecordPart::Value,
            )?;
            out.send(
                SinkTopic::Named("after-repartition"),
                kb,
                vb,
                &record.context,
            )
        }
    }

    #[derive(Clone, Default)]
    struct UpperTopology {
        sub0: Sub0,
        sub1: Sub1,
    }

    impl Topology for UpperTopology {
        fn plan(&self) -> &'static Plan {
            &PLAN
        }
        fn with_sub<'a, V: SubVisitor<'a>>(&'a mut self, sub: usize, v: V) -> Option<V::Output> {
            match sub {
                0 => Some(v.visit(&mut self.sub0)),
                1 => Some(v.visit(&mut self.sub1)),
                _ => None,
            }
        }
    }

    // ---- A second one: i64 values, writing back to its own source topic ----
    //
    // sub 0: numbers --> v < 100 ? "numbers" (v * 10) : "big"

    static NUMBERS_PLAN: Plan = Plan {
        name: "numbers",
        subtopologies: &[SubTopologyPlan {
            copartitioned: false,
            clocked: false,
            cached: false,
            sources: &[SourcePlan {
                name: "KSTREAM-SOURCE-0000000000",
                topics: &[TopicRef::Named("numbers")],
            }],
        }],
        internal_topics: &[],
        stores: &[],
        description: "Topologies:\n   Sub-topology: 0\n",
        mermaid: "flowchart TD",
    };

    #[derive(Clone, Default)]
    struct Numbers {
        value_buf: Vec<u8>,
        cx: TaskContext,
    }

    impl Topology for Numbers {
        fn plan(&self) -> &'static Plan {
            &NUMBERS_PLAN
        }
        fn with_sub<'a, V: SubVisitor<'a>>(&'a mut self, sub: usize, v: V) -> Option<V::Output> {
            (sub == 0).then(|| v.visit(self))
        }
    }

    impl SubTopology for Numbers {
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
                return Err(crate::__private::no_such_source(0, source));
            }
            let v: i64 = value(&record)?;
            out.print(format_args!("[numbers]: {v}@{}", record.context.offset));
            let (topic, v) = if v < 100 {
                ("numbers", v * 10)
            } else {
                ("big", v)
            };
            let vb = ser(
                &v,
                &mut self.value_buf,
                "KSTREAM-SINK-0000000001",
                RecordPart::Value,
            )?;
            out.send(SinkTopic::Named(topic), None, vb, &record.context)
        }
    }

    fn s(x: &str) -> String {
        x.to_owned()
    }

    fn log_and_fail() -> StreamsConfig {
        let mut config = StreamsConfig::new("test-app");
        config.deserialization_handler = DeserializationHandler::LogAndFail;
        config
    }

    // ---- Tests ----

    #[test]
    fn pipes_through_serdes_and_filters() {
        let driver = TopologyTestDriver::new(UpperTopology::default());
        let input = driver.create_input_topic::<String, String>("input");
        let upper = driver.create_output_topic::<String, String>("upper");
        input.pipe_input(s("k1"), s("hello"));
        input.pipe_input(s("k2"), s("drop"));
        input.pipe_input(s("k3"), s("world"));
        assert_eq!(upper.queue_size(), 2);
        assert!(!upper.is_empty());
        assert_eq!(upper.read_key_value(), (s("k1"), s("HELLO")));
        assert_eq!(upper.read_value(), s("WORLD"));
        assert!(upper.is_empty());
        // The dropped record was processed (filtered), not skipped.
        assert_eq!(
            driver.metrics(),
            TaskMetrics {
                processed: 5,
                skipped_records: 0,
                dropped_records: 0,
            }
        );
        let per_task = driver.task_metrics();
        assert_eq!(
            per_task[&TaskId {
                subtopology: 0,
                partition: 0
            }]
                .processed,
            3
        );
        assert_eq!(
            per_task[&TaskId {
                subtopology: 1,
                partition: 0
            }]
                .processed,
            2
        );
    }

    #[test]
    fn timestamps_explicit_and_auto_advanced() {
        let driver = TopologyTestDriver::new(UpperTopology::default());
        let input = driver.create_input_topic_with_time::<String, String>(
            "input",
            1_000,
            Duration::from_millis(10),
        );
        let upper = driver.create_output_topic::<Option<String>, String>("upper");
        input.pipe_input(s("a"), s("1"));
        input.pipe_input(s("b"), s("2"));
        input.pipe_input_with_timestamp(s("c"), s("3"), 42);
        input.advance_time(Duration::from_secs(1));
        input.pipe_value(s("4"));
        input.pipe_record(TestRecord::new(s("e"), s("5")));
        input.pipe_record(TestRecord::with_timestamp(s("f"), s("6"), 7));
        assert_eq!(input.current_time_ms(), 2_040);
        let stamps: Vec<i64> = upper
            .read_records_to_list()
            .iter()
            .map(TestRecord::timestamp)
            .collect();
        assert_eq!(stamps, vec![1_000, 1_010, 42, 2_020, 2_030, 7]);

        input.pipe_key_value_list_with_time(
            vec![(s("g"), s("7")), (s("h"), s("8"))],
            500,
            Duration::from_millis(5),
        );
        assert_eq!(input.current_time_ms(), 2_040);
        let stamps: Vec<i64> = upper
            .read_records_to_list()
            .iter()
            .map(|r| r.timestamp)
            .collect();
        assert_eq!(stamps, vec![500, 505]);
    }

    #[test]
    fn default_input_time_is_system_time() {
        let before = system_time_ms();
        let driver = TopologyTestDriver::new(UpperTopology::default());
        assert!(driver.wall_clock_time_ms() >= before);
        let input = driver.create_input_topic::<String, String>("input");
        input.pipe_input(s("a"), s("x"));
        input.pipe_input(s("b"), s("y"));
        let records = driver
            .create_output_topic::<String, String>("upper")
            .read_records_to_list();
        assert!(records[0].timestamp >= before);
        assert_eq!(
            records[0].timestamp, records[1].timestamp,
            "no auto-advance"
        );
    }

    #[test]
    fn headers_are_kept_through_repartition() {
        let driver = TopologyTestDriver::new(UpperTopology::default());
        let input = driver.create_input_topic::<String, String>("input");
        let headers = Headers::new().with("trace", "abc").with("n", [1u8, 2]);
        input.pipe_record(TestRecord::with_headers_and_timestamp(
            s("k"),
            s("v"),
            headers.clone(),
            99,
        ));
        let expected = TestRecord::with_headers_and_timestamp(s("k"), s("V"), headers, 99);
        let upper = driver.create_output_topic::<String, String>("upper");
        assert_eq!(upper.read_record(), expected);
        let after = driver.create_output_topic::<String, String>("after-repartition");
        let record = after.read_record();
        assert_eq!(record, expected);
        assert_eq!(record.headers().last("trace"), Some(Some(&b"abc"[..])));
    }

    #[test]
    fn null_keys_via_pipe_value() {
        let driver = TopologyTestDriver::new(UpperTopology::default());
        let input = driver.create_input_topic::<Option<String>, String>("input");
        let upper = driver.create_output_topic::<Option<String>, String>("upper");
        input.pipe_value(s("a"));
        input.pipe_value_list(vec![s("b"), s("c")]);
        input.pipe_input(Some(s("k")), s("d"));
        input.pipe_input(None, s("e"));
        assert_eq!(
            upper.read_key_values_to_list(),
            vec![
                (None, s("A")),
                (None, s("B")),
                (None, s("C")),
                (Some(s("k")), s("D")),
                (None, s("E")),
            ]
        );
        // A `String` key type still pipes null key bytes with `pipe_value`.
        let string_keys = driver.create_input_topic::<String, String>("input");
        string_keys.pipe_value(s("f"));
        assert_eq!(upper.read_key_value(), (None, s("F")));
        assert_eq!(driver.printed_lines()[0], "[upper]: null, A");
    }

    #[test]
    fn repartition_records_are_fed_back_after_each_input_record() {
        let driver = TopologyTestDriver::new(UpperTopology::default());
        let input = driver.create_input_topic::<String, String>("input");
        input.pipe_key_value_list(vec![(s("k1"), s("a")), (s("k2"), s("b"))]);
        assert_eq!(
            driver.printed_lines(),
            vec![
                "[upper]: k1, A",
                "[after]: k1, A",
                "[upper]: k2, B",
                "[after]: k2, B"
            ]
        );
        // The repartition topic is no output under its short name...
        let short = driver.create_output_topic::<String, String>("rep-repartition");
        assert!(short.is_empty());
        // ...but is readable under its full name, as in Kafka Streams.
        let full = driver.create_output_topic::<String, String>("test-app-rep-repartition");
        assert_eq!(
            full.read_key_values_to_list(),
            vec![(s("k1"), s("A")), (s("k2"), s("B"))]
        );
        let after = driver.create_output_topic::<String, String>("after-repartition");
        assert_eq!(
            after.read_key_values_to_list(),
            vec![(s("k1"), s("A")), (s("k2"), s("B"))]
        );
        assert_eq!(
            driver.produced_topic_names(),
            vec!["after-repartition", "test-app-rep-repartition", "upper"]
        );
        assert_eq!(
            driver.source_topic_names(),
            vec!["input", "test-app-rep-repartition"]
        );
    }

    #[test]
    fn application_id_names_internal_topics() {
        let driver =
            TopologyTestDriver::with_config(UpperTopology::default(), StreamsConfig::new("orders"));
        assert_eq!(driver.application_id(), "orders");
        driver
            .create_input_topic::<String, String>("input")
            .pipe_input(s("k"), s("v"));
        let rep = driver.create_output_topic::<String, String>("orders-rep-repartition");
        assert_eq!(rep.read_value(), s("V"));
        let fallback =
            TopologyTestDriver::with_config(UpperTopology::default(), StreamsConfig::default());
        assert_eq!(fallback.application_id(), "test-app");
    }

    #[test]
    fn read_variants() {
        let driver = TopologyTestDriver::new(UpperTopology::default());
        let input =
            driver.create_input_topic_with_time::<String, String>("input", 0, Duration::ZERO);
        let upper = driver.create_output_topic::<String, String>("upper");
        input.pipe_record_list(vec![
            TestRecord::new(s("a"), s("1")),
            TestRecord::new(s("b"), s("2")),
            TestRecord::new(s("a"), s("3")),
        ]);
        assert_eq!(upper.queue_size(), 3);
        assert_eq!(
            upper.read_record(),
            TestRecord::with_timestamp(s("a"), s("1"), 0)
        );
        let map = upper.read_key_values_to_map();
        assert_eq!(map.len(), 2);
        assert_eq!(map[&s("a")], s("3"));
        assert_eq!(map[&s("b")], s("2"));
        assert!(upper.is_empty());

        input.pipe_input(s("c"), s("x"));
        input.pipe_input(s("d"), s("y"));
        assert_eq!(upper.read_values_to_list(), vec![s("X"), s("Y")]);
        assert!(upper.read_values_to_list().is_empty());
        // Several topics alive at once on the same driver.
        let after = driver.create_output_topic::<String, String>("after-repartition");
        let again = driver.create_output_topic::<String, String>("after-repartition");
        assert_eq!(after.queue_size(), 5);
        assert_eq!(again.read_key_value(), (s("a"), s("1")));
        assert_eq!(after.queue_size(), 4);
        let record = after.read_record();
        assert_eq!(record.key(), "b");
        assert_eq!(record.value(), "2");
        assert_eq!(record.timestamp(), 0);
        assert!(record.headers().is_empty());
        assert_eq!(after.read_records_to_list().len(), 3);
    }

    #[test]
    #[should_panic(expected = "Empty topic: upper")]
    fn reading_an_empty_topic_panics() {
        let driver = TopologyTestDriver::new(UpperTopology::default());
        driver
            .create_output_topic::<String, String>("upper")
            .read_value();
    }

    #[test]
    #[should_panic(expected = "Unknown topic: nope")]
    fn piping_to_an_unknown_topic_panics() {
        let driver = TopologyTestDriver::new(UpperTopology::default());
        driver
            .create_input_topic::<String, String>("nope")
            .pipe_input(s("k"), s("v"));
    }

    #[test]
    #[should_panic(expected = "cannot deserialize value of a record read from output topic upper")]
    fn reading_with_the_wrong_serde_panics() {
        let driver = TopologyTestDriver::new(UpperTopology::default());
        driver
            .create_input_topic::<String, String>("input")
            .pipe_input(s("k"), s("v"));
        driver
            .create_output_topic::<String, i64>("upper")
            .read_value();
    }

    #[test]
    fn describe_delegates_to_the_topology() {
        let driver = TopologyTestDriver::new(UpperTopology::default());
        assert_eq!(driver.describe().to_string(), PLAN.description);
        assert!(driver.produced_topic_names().is_empty());
    }

    #[test]
    fn wall_clock_advances() {
        let driver = TopologyTestDriver::new(UpperTopology::default());
        let start = driver.wall_clock_time_ms();
        driver.advance_wall_clock_time(Duration::from_secs(60));
        assert_eq!(driver.wall_clock_time_ms(), start + 60_000);
    }

    #[test]
    fn named_source_topics_are_fed_back_with_offsets_from_zero() {
        let driver = TopologyTestDriver::new(Numbers::default());
        let input = driver.create_input_topic::<(), i64>("numbers");
        input.pipe_value(5);
        input.pipe_value(200);
        assert_eq!(
            driver.printed_lines(),
            vec![
                "[numbers]: 5@0",
                "[numbers]: 50@1",
                "[numbers]: 500@2",
                "[numbers]: 200@3"
            ]
        );
        let numbers = driver.create_output_topic::<(), i64>("numbers");
        assert_eq!(numbers.read_values_to_list(), vec![50, 500]);
        let big = driver.create_output_topic::<(), i64>("big");
        assert_eq!(big.read_values_to_list(), vec![500, 200]);
    }

    #[test]
    fn malformed_bytes_are_skipped_and_counted_by_default() {
        let driver = TopologyTestDriver::new(Numbers::default());
        let raw = driver.create_input_topic::<Vec<u8>, Vec<u8>>("numbers");
        raw.pipe_value(vec![1, 2, 3]);
        raw.pipe_value(1000i64.to_be_bytes().to_vec());
        assert_eq!(driver.skipped_records(), 1);
        assert_eq!(
            driver.metrics(),
            TaskMetrics {
                processed: 1,
                skipped_records: 1,
                dropped_records: 0,
            }
        );
        let big = driver.create_output_topic::<(), i64>("big");
        assert_eq!(big.read_values_to_list(), vec![1000]);
        // The skipped record still took offset 0.
        assert_eq!(driver.printed_lines(), vec!["[numbers]: 1000@1"]);
    }

    #[test]
    #[should_panic(expected = "cannot deserialize value of record numbers-0@0")]
    fn malformed_bytes_panic_under_log_and_fail() {
        let driver = TopologyTestDriver::with_config(Numbers::default(), log_and_fail());
        let raw = driver.create_input_topic::<Vec<u8>, Vec<u8>>("numbers");
        raw.pipe_value(vec![1, 2, 3]);
    }

    #[test]
    fn log_and_fail_leaves_the_driver_usable() {
        let driver = TopologyTestDriver::with_config(Numbers::default(), log_and_fail());
        let raw = driver.create_input_topic::<Vec<u8>, Vec<u8>>("numbers");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            raw.pipe_value(vec![1, 2, 3]);
        }));
        let message = result.unwrap_err();
        let message = message.downcast_ref::<String>().unwrap();
        assert!(message.contains("task 0_0"), "{message}");
        assert!(message.contains("needs 8 bytes, got 3"), "{message}");
        assert_eq!(driver.skipped_records(), 0);
        raw.pipe_value(300i64.to_be_bytes().to_vec());
        let big = driver.create_output_topic::<(), i64>("big");
        assert_eq!(big.read_values_to_list(), vec![300]);
    }
}

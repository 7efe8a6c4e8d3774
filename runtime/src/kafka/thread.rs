//! A stream thread: one consumer, one producer, the tasks of its partitions
//! (and a restore consumer for their stores' changelogs). A task reading one
//! partition processes each record as it is polled; a task reading several
//! (a merge of topics, later every join) buffers them per partition and
//! takes them in timestamp order, as Kafka Streams' `PartitionGroup` does,
//! waiting for a partition that may still have earlier records as
//! `max.task.idle.ms` says.

use super::callbacks::{Change, CommitOutcome, ConsumerCtx, ProducerCtx};
use super::clients::{consumer_config, producer_config, thread_client_id};
use super::collector::KafkaCollector;
use super::connectivity::Connectivity;
use super::error::AppError;
use super::routing::Routing;
use super::state::{checkpoint, close_task, open_task, Restorer, TaskState, LOCK_WAIT};
use crate::config::StreamsConfig;
use crate::record::{Headers, RecordContext, SourceRecord};
use crate::task::{PartitionGroup, Task, TaskId, TaskMetrics, Tasks, Timestamped};
use crate::topology::Topology;
use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers as _};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often an idle stream thread asks unreachable brokers whether they
/// are back, and how long it waits for the answer.
const PROBE_EVERY: Duration = Duration::from_secs(2);
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a commit waits for the producer to drain.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// Records between two non-blocking polls of the producer (delivery reports).
const PRODUCER_POLL_EVERY: u32 = 64;

/// What one stream thread did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ThreadSummary {
    pub tasks: TaskMetrics,
    pub produced: u64,
    /// Changelog records restored into stores.
    pub restored: u64,
}

/// Stops the application once every stream thread has seen no record for
/// `max_idle` (`weir.max.idle.ms`).
#[derive(Debug)]
pub(crate) struct IdleTracker {
    threads: usize,
    idle: AtomicUsize,
    max_idle: Option<Duration>,
}

impl IdleTracker {
    pub fn new(threads: usize, max_idle: Option<Duration>) -> Self {
        IdleTracker {
            threads,
            idle: AtomicUsize::new(0),
            max_idle,
        }
    }
}

/// One thread's view of the idle clock. A thread counts as active when it
/// receives a record or an assignment; the clock only runs once the thread
/// has joined the group (its first assignment, even an empty one), since
/// joining can take longer than the idle limit on a busy broker.
struct IdleClock<'a> {
    tracker: &'a IdleTracker,
    last: Instant,
    idle: bool,
    joined: bool,
}

impl<'a> IdleClock<'a> {
    fn new(tracker: &'a IdleTracker) -> Self {
        IdleClock {
            tracker,
            last: Instant::now(),
            idle: false,
            joined: false,
        }
    }

    #[inline]
    fn touch(&mut self, now: Instant) {
        self.last = now;
        if self.idle {
            self.idle = false;
            self.tracker.idle.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// True when this call makes every thread idle.
    #[inline]
    fn all_idle(&mut self, now: Instant) -> bool {
        let Some(max) = self.tracker.max_idle else {
            return false;
        };
        if !self.joined || self.idle || now.duration_since(self.last) < max {
            return false;
        }
        self.idle = true;
        self.tracker.idle.fetch_add(1, Ordering::AcqRel) + 1 >= self.tracker.threads
    }
}

/// Records a task reading several partitions buffers per partition before
/// it stops taking more from librdkafka (Kafka Streams'
/// `buffered.records.per.partition`).
const BUFFERED_PER_PARTITION: usize = 1000;
/// How long a committed-offset query of newly assigned partitions may take.
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(10);
/// How often, at most, a task asks the broker whether an empty partition
/// of its has more records, and how long the answer may take.
const LAG_CHECK_EVERY: Duration = Duration::from_secs(1);
const LAG_CHECK_TIMEOUT: Duration = Duration::from_millis(500);
/// The consumer poll timeout while partitions have queues of their own
/// (which the main poll does not wait on).
const SPLIT_POLL: Duration = Duration::from_millis(5);

/// A consumed record buffered by a task that reads several partitions,
/// until its partition group picks it.
struct Buffered {
    /// Its source, within the sub-topology.
    source: usize,
    /// Its topic, by routing index.
    topic: usize,
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Headers,
}

impl Timestamped for Buffered {
    fn timestamp(&self) -> i64 {
        self.timestamp
    }
}

impl Buffered {
    fn of(msg: &BorrowedMessage<'_>, source: usize, topic: usize) -> Self {
        let mut headers = Headers::new();
        if let Some(h) = msg.headers() {
            for h in h.iter() {
                headers.add(h.key, h.value);
            }
        }
        Buffered {
            source,
            topic,
            offset: msg.offset(),
            timestamp: msg.timestamp().to_millis().unwrap_or(-1),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
            headers,
        }
    }
}

/// The input of a task reading several partitions (a merge of topics, a
/// join, several repartition topics): buffered per partition, taken in
/// timestamp order (Kafka Streams' `PartitionGroup`), and only while every
/// partition has a record or is known to have nothing more, as
/// `max.task.idle.ms` says. Queues follow the sub-topology's inputs
/// ([`Routing::inputs`]).
struct Input {
    group: PartitionGroup<Buffered>,
    lag: Lag,
}

/// What a task knows of how far behind each of its partitions it is.
struct Lag {
    /// Per queue: an end-of-partition event came after its last record.
    at_end: Vec<bool>,
    /// Per queue: the offset after its last record.
    position: Vec<Option<i64>>,
    /// Per queue: where consumption started (the committed offset), if known.
    start: Vec<Option<i64>>,
    /// Per queue: when the broker was last asked for its end offset.
    asked: Vec<Option<Instant>>,
}

impl Input {
    fn new(queues: usize) -> Self {
        Input {
            group: PartitionGroup::new(queues),
            lag: Lag {
                at_end: vec![false; queues],
                position: vec![None; queues],
                start: vec![None; queues],
                asked: vec![None; queues],
            },
        }
    }

    fn push(&mut self, queue: usize, record: Buffered) {
        self.lag.at_end[queue] = false;
        self.lag.position[queue] = Some(record.offset + 1);
        self.group.push(queue, record);
    }
}

impl Input {
    /// The next record, if the task is ready to process one now
    /// (Kafka Streams' `isProcessable`, then `nextRecord`).
    fn take_ready(
        &mut self,
        now: i64,
        max_idle_ms: i64,
        consumer: &BaseConsumer<ConsumerCtx>,
        routing: &Routing,
        id: TaskId,
    ) -> Option<Buffered> {
        let topics = routing.inputs(id.subtopology);
        let lag = &mut self.lag;
        let ready = self.group.ready(now, max_idle_ms, |q| {
            lag.caught_up(q, consumer, routing.topic(topics[q]), id.partition)
        });
        if !ready {
            return None;
        }
        self.group.pop().map(|(_, record)| record)
    }
}

impl Lag {
    /// Whether the partition of `queue` is known to have nothing more for
    /// now: its lag is zero (Kafka Streams' `fetchedLag == 0`). Known from
    /// the end-of-partition event of its own queue; failing that (an event
    /// that came before the queue was split off), from the broker's end
    /// offset, asked at most once per [`LAG_CHECK_EVERY`].
    fn caught_up(
        &mut self,
        queue: usize,
        consumer: &BaseConsumer<ConsumerCtx>,
        topic: &str,
        partition: i32,
    ) -> bool {
        if self.at_end[queue] {
            return true;
        }
        let now = Instant::now();
        if self.asked[queue].is_some_and(|t| now.duration_since(t) < LAG_CHECK_EVERY) {
            return false;
        }
        self.asked[queue] = Some(now);
        let Ok((low, high)) = consumer.fetch_watermarks(topic, partition, LAG_CHECK_TIMEOUT) else {
            return false;
        };
        let position = self.position[queue].or(self.start[queue]).unwrap_or(low);
        let caught_up = position >= high;
        self.at_end[queue] = caught_up;
        caught_up
    }
}

/// What a stream thread keeps with each task.
struct Slot {
    state: TaskState,
    span: tracing::Span,
    /// Next offsets to commit per source topic (routing index) of a task
    /// with cached stores, held back until its cache is flushed: an offset
    /// is committed only once every update it caused is in the changelog.
    unflushed: Vec<(usize, i64)>,
    /// Buffered input, for a task reading several partitions.
    input: Option<Input>,
}

/// A partition whose records come through a queue of its own (see
/// [`Input`]): its end-of-partition events then name it.
struct SplitQueue {
    task: TaskId,
    queue: usize,
    topic: usize,
    inner: PartitionQueue<ConsumerCtx>,
}

/// Whether every record produced so far is acknowledged, none failed: then
/// the stores hold nothing their changelogs lack, and may be checkpointed.
fn drained(ctx: &ConsumerCtx) -> bool {
    ctx.producer.in_flight_count() == 0 && ctx.producer.context().no_failure()
}

struct StreamThread<'a, T: Topology> {
    topology: T,
    config: &'a StreamsConfig,
    routing: Arc<Routing>,
    tasks: Tasks<T, Slot>,
    produced: u64,
    headers: Headers,
    restorer: Restorer,
    /// Changelog records restored into stores.
    restored: u64,
    stop: &'a AtomicBool,
    /// Whether any sub-topology needs the wall clock (user processors,
    /// final-result aggregations): otherwise the poll loop skips it.
    clocked: bool,
    /// Partitions of tasks reading several partitions, on queues of their own.
    split: Vec<SplitQueue>,
    /// Queues split since the consumer's main queue was last seen empty:
    /// records fetched before the split may still be there, and go first.
    fresh_split: bool,
    /// The tasks with buffered input.
    buffered_tasks: Vec<TaskId>,
}

impl<T: Topology> StreamThread<'_, T> {
    /// Creates task `id`: opens its stores and restores them from their
    /// changelogs, synchronously (the thread processes nothing meanwhile).
    /// `None` if shutdown interrupted the restoration: the task was closed
    /// (its checkpoint records how far it got) and must not run.
    fn open_slot(
        &mut self,
        id: TaskId,
        ctx: &ConsumerCtx,
    ) -> Result<Option<(Task<T>, Slot)>, AppError> {
        let mut task = Task::new(id, self.topology.clone(), self.config);
        let dir = self.config.task_directory(id);
        let mut state = TaskState::new(self.topology.plan(), &self.config.application_id, id, dir);
        let span = tracing::info_span!("task", task = %id);
        let opened = {
            let _entered = span.enter();
            open_task(
                &mut task,
                &mut state,
                self.config,
                &mut self.restorer,
                self.stop,
                LOCK_WAIT,
            )?
        };
        self.restored += opened.restored;
        if !opened.complete {
            close_task(
                &mut task,
                &mut state,
                ctx.producer.context(),
                &committed_of(&self.routing, ctx),
                true,
            );
            tracing::info!(task = %id, "shutdown requested while restoring: task not started");
            return Ok(None);
        }
        tracing::info!(task = %id, restored = opened.restored, "task created");
        // User processors start now (their wall-clock punctuations count
        // from here), with the stores restored.
        task.start(crate::time::now_ms());
        let inputs = self.routing.inputs(id.subtopology).len();
        let slot = Slot {
            state,
            span,
            unflushed: Vec::new(),
            input: (inputs > 1).then(|| Input::new(inputs)),
        };
        Ok(Some((task, slot)))
    }

    /// Makes sure task `id` exists; false if shutdown interrupted its creation.
    fn ensure_task(
        &mut self,
        id: TaskId,
        consumer: &Arc<BaseConsumer<ConsumerCtx>>,
    ) -> Result<bool, AppError> {
        if self.tasks.contains(id) {
            return Ok(true);
        }
        let ctx = consumer.context();
        let Some((task, mut slot)) = self.open_slot(id, ctx)? else {
            return Ok(false);
        };
        if let Some(input) = &mut slot.input {
            self.split_inputs(id, input, consumer);
            self.buffered_tasks.push(id);
        }
        self.tasks.insert(task, slot);
        self.size_caches();
        Ok(true)
    }

    /// Gives each partition of a task reading several partitions a queue of
    /// its own, and reads where consumption starts on each.
    fn split_inputs(
        &mut self,
        id: TaskId,
        input: &mut Input,
        consumer: &Arc<BaseConsumer<ConsumerCtx>>,
    ) {
        let topics = self.routing.inputs(id.subtopology).to_vec();
        let mut tpl = TopicPartitionList::with_capacity(topics.len());
        for (queue, &topic) in topics.iter().enumerate() {
            let name = self.routing.topic(topic);
            tpl.add_partition(name, id.partition);
            match consumer.split_partition_queue(name, id.partition) {
                Some(inner) => {
                    self.split.push(SplitQueue {
                        task: id,
                        queue,
                        topic,
                        inner,
                    });
                    self.fresh_split = true;
                }
                None => {
                    tracing::warn!(task = %id, topic = name, "cannot give the partition a queue of its own")
                }
            }
        }
        match consumer.committed_offsets(tpl, COMMITTED_TIMEOUT) {
            Ok(committed) => {
                for (queue, &topic) in topics.iter().enumerate() {
                    let offset = committed
                        .find_partition(self.routing.topic(topic), id.partition)
                        .and_then(|p| match p.offset() {
                            Offset::Offset(o) => Some(o),
                            _ => None,
                        });
                    input.lag.start[queue] = offset;
                }
            }
            Err(e) => tracing::debug!(task = %id, "cannot read the committed offsets: {e}"),
        }
    }

    /// Closes a task, checkpointing its stores if `clean`.
    fn close_slot(&mut self, id: TaskId, ctx: &ConsumerCtx, clean: bool) {
        self.split.retain(|q| q.task != id);
        self.buffered_tasks.retain(|&t| t != id);
        let Some((mut task, slot)) = self.tasks.remove(id) else {
            return;
        };
        let Slot {
            mut state,
            span,
            unflushed,
            input,
        } = slot;
        let _entered = span.enter();
        // Updates still in the cache are dropped: their records' offsets
        // were not committed, so they are processed again (by whichever
        // thread gets the partition), from the state in the changelog. So
        // are buffered records.
        task.clear_cache();
        if !unflushed.is_empty() {
            tracing::debug!(task = %id, "dropping cached updates of uncommitted records");
        }
        if let Some(n) = input.map(|i| i.group.buffered()).filter(|&n| n > 0) {
            tracing::debug!(task = %id, records = n, "dropping buffered records, not committed");
        }
        close_task(
            &mut task,
            &mut state,
            ctx.producer.context(),
            &committed_of(&self.routing, ctx),
            clean,
        );
        let m = task.metrics();
        tracing::info!(task = %id, processed = m.processed,
            skipped = m.skipped_records, clean, "task closed");
    }

    /// Closes every task (shutdown).
    fn close_all(&mut self, ctx: &ConsumerCtx, clean: bool) {
        for id in self.tasks.ids() {
            self.close_slot(id, ctx, clean);
        }
    }

    /// Flushes every task's record cache (before a commit): cached updates
    /// go to the stores, changelogs and downstream, and the offsets of the
    /// records behind them become committable.
    fn flush_caches(&mut self, ctx: &ConsumerCtx) -> Result<(), AppError> {
        let mut out = KafkaCollector {
            producer: &ctx.producer,
            routing: &self.routing,
            produced: &mut self.produced,
        };
        self.tasks
            .flush_caches(&mut out, |id, slot| {
                for (topic, offset) in slot.unflushed.drain(..) {
                    ctx.processed(topic, id.partition, offset);
                }
            })
            .map_err(|(task, source)| AppError::Process { task, source })
    }

    /// Runs the wall-clock punctuations that are due in every clocked task.
    fn punctuate_wall_clock(&mut self, ctx: &ConsumerCtx) -> Result<(), AppError> {
        let now = crate::time::now_ms();
        let mut out = KafkaCollector {
            producer: &ctx.producer,
            routing: &self.routing,
            produced: &mut self.produced,
        };
        self.tasks
            .punctuate_wall_clock(now, false, &mut out)
            .map_err(|(task, source)| AppError::Process { task, source })
    }

    /// Shares `statestore.cache.max.bytes` among the threads, and a
    /// thread's share evenly among its tasks with cached stores (Kafka
    /// Streams shares one cache per thread; weir gives each task its part).
    fn size_caches(&mut self) {
        let per_thread = self.config.cache_max_bytes / self.config.num_stream_threads.max(1);
        self.tasks.share_cache(per_thread);
    }

    /// Checkpoints every task's stores, after a commit drained the producer.
    fn checkpoint_all(&mut self, ctx: &ConsumerCtx) -> Result<(), AppError> {
        let producer = ctx.producer.context();
        let committed = committed_of(&self.routing, ctx);
        for (task, slot) in self.tasks.iter_mut() {
            checkpoint(task, &mut slot.state, producer, &committed)?;
        }
        Ok(())
    }

    fn apply(
        &mut self,
        change: Change,
        consumer: &Arc<BaseConsumer<ConsumerCtx>>,
    ) -> Result<(), AppError> {
        let ctx = consumer.context();
        match change {
            Change::Assigned(parts) => {
                for (topic, partition) in parts {
                    let sub = match self.routing.route(self.routing.topic(topic)) {
                        Some(r) => r.sub,
                        None => continue,
                    };
                    let id = TaskId {
                        subtopology: sub,
                        partition,
                    };
                    if !self.ensure_task(id, consumer)? {
                        return Ok(());
                    }
                }
            }
            Change::Revoked(parts) => {
                // The revocation callback committed (draining the producer)
                // unless the partitions were lost.
                let clean = drained(ctx);
                for (topic, partition) in parts {
                    let Some(route) = self.routing.route(self.routing.topic(topic)) else {
                        continue;
                    };
                    let id = TaskId {
                        subtopology: route.sub,
                        partition,
                    };
                    self.close_slot(id, ctx, clean);
                }
            }
        }
        Ok(())
    }

    /// Runs one record through its task, or buffers it if the task reads
    /// several partitions.
    fn consume(
        &mut self,
        consumer: &Arc<BaseConsumer<ConsumerCtx>>,
        msg: &BorrowedMessage<'_>,
    ) -> Result<(), AppError> {
        let topic = msg.topic();
        let Some(route) = self.routing.route(topic) else {
            tracing::warn!(
                topic,
                "record from a topic the topology does not read: ignored"
            );
            return Ok(());
        };
        let partition = msg.partition();
        let id = TaskId {
            subtopology: route.sub,
            partition,
        };
        if !self.ensure_task(id, consumer)? {
            return Ok(());
        }
        let ctx = consumer.context();
        let Some((task, slot)) = self.tasks.get_mut(id) else {
            return Ok(());
        };
        if let Some(input) = &mut slot.input {
            if let Some(queue) = self.routing.input_position(route.sub, route.topic) {
                input.push(queue, Buffered::of(msg, route.source, route.topic));
                return Ok(());
            }
        }
        self.headers.clear();
        if let Some(h) = msg.headers() {
            for h in h.iter() {
                self.headers.add(h.key, h.value);
            }
        }
        let record = SourceRecord {
            context: RecordContext {
                topic,
                partition,
                offset: msg.offset(),
                timestamp: msg.timestamp().to_millis().unwrap_or(-1),
                headers: &self.headers,
            },
            key: msg.key(),
            value: msg.payload(),
        };
        let mut out = KafkaCollector {
            producer: &ctx.producer,
            routing: &self.routing,
            produced: &mut self.produced,
        };
        run(task, slot, ctx, &mut out, route.source, route.topic, record)
    }

    /// Takes records from the partitions' own queues into their tasks'
    /// buffers, up to [`BUFFERED_PER_PARTITION`] each; notes where a
    /// partition has reached its end. True if a record came.
    fn drain_split(&mut self, consumer: &Arc<BaseConsumer<ConsumerCtx>>) -> Result<bool, AppError> {
        if self.fresh_split {
            return Ok(false);
        }
        let mut any = false;
        for q in &self.split {
            let Some((_, slot)) = self.tasks.get_mut(q.task) else {
                continue;
            };
            let Some(input) = &mut slot.input else {
                continue;
            };
            let source = self
                .routing
                .route(self.routing.topic(q.topic))
                .map_or(0, |r| r.source);
            while input.group.len_of(q.queue) < BUFFERED_PER_PARTITION {
                match q.inner.poll(Duration::ZERO) {
                    None => break,
                    Some(Ok(msg)) => {
                        any = true;
                        input.push(q.queue, Buffered::of(&msg, source, q.topic));
                    }
                    Some(Err(KafkaError::PartitionEOF(_))) => {
                        tracing::debug!(task = %q.task, topic = self.routing.topic(q.topic), "end of partition");
                        input.lag.at_end[q.queue] = true;
                        break;
                    }
                    Some(Err(e @ KafkaError::MessageConsumptionFatal(_))) => {
                        return Err(AppError::kafka("consuming", e));
                    }
                    Some(Err(e)) => {
                        consumer
                            .context()
                            .logger()
                            .client_error("consumer error", &e);
                        break;
                    }
                }
            }
        }
        Ok(any)
    }

    /// Processes the buffered records of tasks reading several partitions,
    /// in their partition group's order, while they are ready to
    /// (`max.task.idle.ms`).
    fn process_buffered(&mut self, consumer: &BaseConsumer<ConsumerCtx>) -> Result<(), AppError> {
        let ctx = consumer.context();
        let max_idle = self.config.max_task_idle_ms;
        let now = crate::time::now_ms();
        for &id in &self.buffered_tasks {
            let Some((task, slot)) = self.tasks.get_mut(id) else {
                continue;
            };
            while let Some(record) = slot
                .input
                .as_mut()
                .and_then(|input| input.take_ready(now, max_idle, consumer, &self.routing, id))
            {
                let source_record = SourceRecord {
                    context: RecordContext {
                        topic: self.routing.topic(record.topic),
                        partition: id.partition,
                        offset: record.offset,
                        timestamp: record.timestamp,
                        headers: &record.headers,
                    },
                    key: record.key.as_deref(),
                    value: record.value.as_deref(),
                };
                let mut out = KafkaCollector {
                    producer: &ctx.producer,
                    routing: &self.routing,
                    produced: &mut self.produced,
                };
                run(
                    task,
                    slot,
                    ctx,
                    &mut out,
                    record.source,
                    record.topic,
                    source_record,
                )?;
            }
        }
        Ok(())
    }

    fn poll_loop(
        &mut self,
        consumer: &Arc<BaseConsumer<ConsumerCtx>>,
        idle: &IdleTracker,
    ) -> Result<(), AppError> {
        let stop = self.stop;
        let ctx = consumer.context();
        let poll_timeout = Duration::from_millis(self.config.poll_ms);
        let commit_interval = Duration::from_millis(self.config.commit_interval_ms);
        let mut next_commit = Instant::now() + commit_interval;
        let mut clock = IdleClock::new(idle);
        let mut since_producer_poll = 0u32;
        let mut next_probe = Instant::now();
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let timeout = if self.split.is_empty() {
                poll_timeout
            } else {
                poll_timeout.min(SPLIT_POLL)
            };
            let polled = consumer.poll(timeout);
            let now = Instant::now();
            for change in ctx.take_changes() {
                let assigned = matches!(change, Change::Assigned(_));
                self.apply(change, consumer)?;
                self.size_caches();
                if assigned {
                    // After the restoration of the new tasks, if any.
                    clock.joined = true;
                    clock.touch(Instant::now());
                }
            }
            if let Some(e) = ctx.take_failure() {
                return Err(e);
            }
            if stop.load(Ordering::Relaxed) {
                // Possibly while restoring: process nothing more (the polled
                // record, if any, is not committed and will come again).
                return Ok(());
            }
            match polled {
                None => {
                    self.fresh_split = false;
                    ctx.producer.poll(Duration::ZERO);
                    since_producer_poll = 0;
                    if ctx.logger().links().is_down() && now >= next_probe {
                        // Nothing to do: ask the brokers whether they are back
                        // (an idle application has no other answer to see),
                        // or confirm the outage (librdkafka reports repeated
                        // connection failures only now and then).
                        match consumer.fetch_metadata(None, PROBE_TIMEOUT) {
                            Ok(_) => ctx.logger().links().reached(),
                            Err(e) => ctx.logger().links().unreachable("broker probe", &e),
                        }
                        next_probe = Instant::now() + PROBE_EVERY;
                    }
                }
                // The end of a partition on the main queue: its partition
                // number alone does not say which topic's (and only tasks
                // with several partitions ask; theirs have queues of their own).
                Some(Err(KafkaError::PartitionEOF(_))) => {}
                Some(Err(e @ KafkaError::MessageConsumptionFatal(_))) => {
                    return Err(AppError::kafka("consuming", e));
                }
                Some(Err(e)) => ctx.logger().client_error("consumer error", &e),
                Some(Ok(msg)) => {
                    ctx.logger().links().reached();
                    clock.touch(now);
                    if let Err(e) = self.consume(consumer, &msg) {
                        drop(msg);
                        // Commit what was processed before the failing record.
                        if let Err(commit_error) = ctx.commit(consumer, "failure") {
                            tracing::error!("{commit_error}");
                        }
                        return Err(e);
                    }
                    since_producer_poll += 1;
                    if since_producer_poll >= PRODUCER_POLL_EVERY {
                        ctx.producer.poll(Duration::ZERO);
                        since_producer_poll = 0;
                    }
                }
            }
            if !self.split.is_empty() && self.drain_split(consumer)? {
                ctx.logger().links().reached();
                clock.touch(now);
            }
            if !self.buffered_tasks.is_empty() {
                if let Err(e) = self.process_buffered(consumer) {
                    if let Err(commit_error) = ctx.commit(consumer, "failure") {
                        tracing::error!("{commit_error}");
                    }
                    return Err(e);
                }
            }
            ctx.producer.context().check()?;
            if self.clocked {
                self.punctuate_wall_clock(ctx)?;
            }
            if now >= next_commit {
                self.flush_caches(ctx)?;
                if ctx.commit(consumer, "commit.interval.ms")? != CommitOutcome::NotFlushed {
                    self.checkpoint_all(ctx)?;
                }
                next_commit = Instant::now() + commit_interval;
            }
            if clock.all_idle(now) {
                tracing::info!(
                    "no record for {:?} on any stream thread: stopping (weir.max.idle.ms)",
                    idle.max_idle.unwrap_or_default()
                );
                stop.store(true, Ordering::Relaxed);
            }
        }
    }

    fn summary(&mut self) -> ThreadSummary {
        ThreadSummary {
            tasks: self.tasks.metrics(),
            produced: self.produced,
            restored: self.restored,
        }
    }
}

/// Runs one record through `task` and records its offset: processed, or
/// held back until the task's cache is flushed.
fn run<T: Topology>(
    task: &mut Task<T>,
    slot: &mut Slot,
    ctx: &ConsumerCtx,
    out: &mut KafkaCollector<'_>,
    source: usize,
    topic: usize,
    record: SourceRecord<'_>,
) -> Result<(), AppError> {
    let id = task.id();
    let offset = record.context.offset;
    let _entered = slot.span.enter();
    if task.is_clocked() {
        task.set_wall_clock(crate::time::now_ms());
    }
    match task.process(source, record, out) {
        Ok(()) => {
            if task.has_cache() {
                match slot.unflushed.iter_mut().find(|(t, _)| *t == topic) {
                    Some((_, o)) => *o = offset,
                    None => slot.unflushed.push((topic, offset)),
                }
            } else {
                ctx.processed(topic, id.partition, offset);
            }
            Ok(())
        }
        Err(source) => Err(AppError::Process { task: id, source }),
    }
}

/// The offset this thread's consumer last committed for a source topic's
/// partition, by topic name.
fn committed_of<'a>(
    routing: &'a Routing,
    ctx: &'a ConsumerCtx,
) -> impl Fn(&str, i32) -> Option<i64> + 'a {
    move |topic, partition| {
        let index = routing.topics().iter().position(|t| t == topic)?;
        ctx.committed((index, partition))
    }
}

/// Runs stream thread `index` until `stop` is set or an error occurs; on
/// the way out, commits what was processed (unless a delivery failed).
pub(crate) fn run_stream_thread<T: Topology>(
    index: usize,
    topology: T,
    config: &StreamsConfig,
    routing: Arc<Routing>,
    stop: &AtomicBool,
    idle: &IdleTracker,
    links: &Arc<Connectivity>,
) -> Result<ThreadSummary, AppError> {
    let client_id = thread_client_id(config, index);
    let span = tracing::info_span!("stream_thread", thread = %client_id);
    let _entered = span.enter();

    let producer: BaseProducer<ProducerCtx> = producer_config(config, index)
        .create_with_context(ProducerCtx::new(
            format!("{client_id}-producer"),
            Arc::clone(links),
        ))
        .map_err(|e| AppError::kafka("creating the producer", e))?;
    let ctx = ConsumerCtx::new(
        format!("{client_id}-consumer"),
        Arc::clone(links),
        producer,
        Arc::clone(&routing),
        FLUSH_TIMEOUT,
    );
    let consumer: Arc<BaseConsumer<ConsumerCtx>> = Arc::new(
        consumer_config(config, index)
            .create_with_context(ctx)
            .map_err(|e| AppError::kafka("creating the consumer", e))?,
    );
    let topics: Vec<&str> = routing.topics().iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|e| AppError::kafka("subscribing", e))?;
    tracing::info!(topics = ?topics, "stream thread started");

    let plan = topology.plan();
    let clocked = (0..plan.subtopologies.len()).any(|sub| plan.clocked(sub));
    let mut thread = StreamThread {
        topology,
        config,
        routing,
        tasks: Tasks::new(),
        produced: 0,
        headers: Headers::new(),
        restorer: Restorer::new(config, index, Arc::clone(links)),
        restored: 0,
        stop,
        clocked,
        split: Vec::new(),
        fresh_split: false,
        buffered_tasks: Vec::new(),
    };
    let result = match thread
        .poll_loop(&consumer, idle)
        .inspect(|()| {
            tracing::info!("shutting down: flushing caches, committing, leaving the group")
        })
        .and_then(|()| thread.flush_caches(consumer.context()))
    {
        Ok(()) => match consumer.context().commit(&consumer, "shutdown") {
            Ok(CommitOutcome::NotFlushed) | Ok(CommitOutcome::Refused) => {
                tracing::warn!(
                    "final commit did not complete: some records will be processed again"
                );
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    consumer.context().close();
    // Checkpoint the stores only after a clean run whose output is all
    // acknowledged; otherwise the next start restores more.
    let clean = result.is_ok() && drained(consumer.context());
    thread.close_all(consumer.context(), clean);
    if result.is_err() {
        // Let the other threads stop too.
        stop.store(true, Ordering::Relaxed);
    }
    let summary = thread.summary();
    // Partition queues hold the consumer too: gone first, it leaves the group.
    drop(thread);
    drop(consumer);
    tracing::info!(
        processed = summary.tasks.processed,
        skipped = summary.tasks.skipped_records,
        produced = summary.produced,
        restored = summary.restored,
        "stream thread stopped"
    );
    result.map(|()| summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_stops_only_when_every_thread_is_idle() {
        let tracker = IdleTracker::new(2, Some(Duration::from_millis(10)));
        let mut a = IdleClock::new(&tracker);
        let mut b = IdleClock::new(&tracker);
        let t0 = a.last.max(b.last);
        assert!(
            !a.all_idle(t0 + Duration::from_secs(3600)),
            "not joined yet"
        );
        a.joined = true;
        b.joined = true;
        let later = t0 + Duration::from_millis(20);
        assert!(!a.all_idle(t0));
        assert!(!a.all_idle(later), "b is still active");
        assert!(!a.all_idle(later), "counted once");
        b.touch(later);
        a.touch(later);
        let much_later = later + Duration::from_millis(20);
        assert!(!a.all_idle(much_later));
        assert!(b.all_idle(much_later));
    }

    #[test]
    fn no_max_idle_never_stops() {
        let tracker = IdleTracker::new(1, None);
        let mut a = IdleClock::new(&tracker);
        assert!(!a.all_idle(Instant::now() + Duration::from_secs(3600)));
    }
}

//! A stream thread: one consumer, one producer, the tasks of its partitions
//! (and a restore consumer for their stores' changelogs).

use super::clients::{consumer_config, producer_config, thread_client_id};
use super::collector::KafkaCollector;
use super::connectivity::Connectivity;
use super::context::{Change, CommitOutcome, ConsumerCtx, ProducerCtx};
use super::routing::Routing;
use super::state::{checkpoint, close_task, open_task, Restorer, TaskState, LOCK_WAIT};
use crate::app::AppError;
use crate::config::StreamsConfig;
use crate::record::{Headers, RecordContext, SourceRecord};
use crate::task::{Task, TaskId, TaskMetrics};
use crate::topology::Topology;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers as _};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::Message;
use std::collections::HashMap;
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

struct TaskSlot<T: Topology> {
    task: Task<T>,
    state: TaskState,
    span: tracing::Span,
    /// Next offsets to commit per source topic (routing index) of a task
    /// with cached stores, held back until its cache is flushed: an offset
    /// is committed only once every update it caused is in the changelog.
    unflushed: Vec<(usize, i64)>,
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
    tasks: HashMap<TaskId, TaskSlot<T>>,
    /// Metrics of closed tasks.
    retired: TaskMetrics,
    produced: u64,
    headers: Headers,
    restorer: Restorer,
    /// Changelog records restored into stores.
    restored: u64,
    stop: &'a AtomicBool,
    /// Whether any sub-topology needs the wall clock (user processors,
    /// final-result aggregations): otherwise the poll loop skips it.
    clocked: bool,
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
    ) -> Result<Option<TaskSlot<T>>, AppError> {
        let mut task = Task::new(
            id,
            self.topology.clone(),
            self.config.deserialization_handler,
        )
        .with_timestamp_policy(self.config.timestamp_policy);
        task.set_emit_interval(self.config.emit_interval_ms);
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
        task.set_wall_clock(crate::time::now_ms());
        Ok(Some(TaskSlot {
            task,
            state,
            span,
            unflushed: Vec::new(),
        }))
    }

    /// Makes sure task `id` exists; false if shutdown interrupted its creation.
    fn ensure_task(&mut self, id: TaskId, ctx: &ConsumerCtx) -> Result<bool, AppError> {
        if self.tasks.contains_key(&id) {
            return Ok(true);
        }
        match self.open_slot(id, ctx)? {
            Some(slot) => {
                self.tasks.insert(id, slot);
                self.size_caches();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Closes a task, checkpointing its stores if `clean`.
    fn close_slot(&mut self, id: TaskId, slot: TaskSlot<T>, ctx: &ConsumerCtx, clean: bool) {
        let TaskSlot {
            mut task,
            mut state,
            span,
            unflushed,
        } = slot;
        let _entered = span.enter();
        // Updates still in the cache are dropped: their records' offsets
        // were not committed, so they are processed again (by whichever
        // thread gets the partition), from the state in the changelog.
        task.clear_cache();
        if !unflushed.is_empty() {
            tracing::debug!(task = %id, "dropping cached updates of uncommitted records");
        }
        close_task(
            &mut task,
            &mut state,
            ctx.producer.context(),
            &committed_of(&self.routing, ctx),
            clean,
        );
        let m = task.metrics();
        self.retired.processed += m.processed;
        self.retired.skipped_records += m.skipped_records;
        self.retired.dropped_records += m.dropped_records;
        tracing::info!(task = %id, processed = m.processed,
            skipped = m.skipped_records, clean, "task closed");
    }

    /// Closes every task (shutdown).
    fn close_all(&mut self, ctx: &ConsumerCtx, clean: bool) {
        let mut tasks: Vec<_> = self.tasks.drain().collect();
        tasks.sort_by_key(|(id, _)| *id);
        for (id, slot) in tasks {
            self.close_slot(id, slot, ctx, clean);
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
        for (id, slot) in &mut self.tasks {
            if !slot.task.has_cache() {
                continue;
            }
            let _entered = slot.span.enter();
            slot.task
                .flush_cache(&mut out)
                .map_err(|source| AppError::Process { task: *id, source })?;
            for (topic, offset) in slot.unflushed.drain(..) {
                ctx.processed(topic, id.partition, offset);
            }
        }
        Ok(())
    }

    /// Runs the wall-clock punctuations that are due in every task with
    /// user processors.
    fn punctuate_wall_clock(&mut self, ctx: &ConsumerCtx) -> Result<(), AppError> {
        let now = crate::time::now_ms();
        let mut out = KafkaCollector {
            producer: &ctx.producer,
            routing: &self.routing,
            produced: &mut self.produced,
        };
        for (id, slot) in &mut self.tasks {
            if !slot.task.has_processors() {
                continue;
            }
            let _entered = slot.span.enter();
            slot.task.set_wall_clock(now);
            slot.task
                .punctuate_wall_clock(&mut out)
                .map_err(|source| AppError::Process { task: *id, source })?;
        }
        Ok(())
    }

    /// Shares `statestore.cache.max.bytes` among the threads, and a
    /// thread's share evenly among its tasks with cached stores (Kafka
    /// Streams shares one cache per thread; weir gives each task its part).
    fn size_caches(&mut self) {
        let cached = self.tasks.values().filter(|s| s.task.has_cache()).count();
        if cached == 0 {
            return;
        }
        let per_thread = self.config.cache_max_bytes / self.config.num_stream_threads.max(1);
        // A positive budget stays positive: 0 would strip the caching layer.
        let per_task = match per_thread {
            0 => 0,
            n => (n / cached).max(1),
        };
        for slot in self.tasks.values_mut() {
            slot.task.set_cache_max_bytes(per_task);
        }
    }

    /// Checkpoints every task's stores, after a commit drained the producer.
    fn checkpoint_all(&mut self, ctx: &ConsumerCtx) -> Result<(), AppError> {
        let producer = ctx.producer.context();
        let committed = committed_of(&self.routing, ctx);
        for slot in self.tasks.values_mut() {
            checkpoint(&mut slot.task, &mut slot.state, producer, &committed)?;
        }
        Ok(())
    }

    fn apply(&mut self, change: Change, ctx: &ConsumerCtx) -> Result<(), AppError> {
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
                    if !self.ensure_task(id, ctx)? {
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
                    if let Some(slot) = self.tasks.remove(&id) {
                        self.close_slot(id, slot, ctx, clean);
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs one consumed record through its task.
    fn process(&mut self, ctx: &ConsumerCtx, msg: &BorrowedMessage<'_>) -> Result<(), AppError> {
        let topic = msg.topic();
        let Some(route) = self.routing.route(topic) else {
            tracing::warn!(
                topic,
                "record from a topic the topology does not read: ignored"
            );
            return Ok(());
        };
        let partition = msg.partition();
        let offset = msg.offset();
        let id = TaskId {
            subtopology: route.sub,
            partition,
        };
        if !self.ensure_task(id, ctx)? {
            return Ok(());
        }
        let Some(slot) = self.tasks.get_mut(&id) else {
            return Ok(());
        };
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
                offset,
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
        let _entered = slot.span.enter();
        if slot.task.has_processors() {
            slot.task.set_wall_clock(crate::time::now_ms());
        }
        match slot.task.process(route.source, record, &mut out) {
            Ok(()) => {
                if slot.task.has_cache() {
                    match slot.unflushed.iter_mut().find(|(t, _)| *t == route.topic) {
                        Some((_, o)) => *o = offset,
                        None => slot.unflushed.push((route.topic, offset)),
                    }
                } else {
                    ctx.processed(route.topic, partition, offset);
                }
                Ok(())
            }
            Err(source) => Err(AppError::Process { task: id, source }),
        }
    }

    fn poll_loop(
        &mut self,
        consumer: &BaseConsumer<ConsumerCtx>,
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
            let polled = consumer.poll(poll_timeout);
            let now = Instant::now();
            for change in ctx.take_changes() {
                let assigned = matches!(change, Change::Assigned(_));
                self.apply(change, ctx)?;
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
                Some(Err(e @ KafkaError::MessageConsumptionFatal(_))) => {
                    return Err(AppError::kafka("consuming", e));
                }
                Some(Err(e)) => ctx.logger().client_error("consumer error", &e),
                Some(Ok(msg)) => {
                    ctx.logger().links().reached();
                    clock.touch(now);
                    if let Err(e) = self.process(ctx, &msg) {
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

    fn summary(&self) -> ThreadSummary {
        let mut tasks = self.retired;
        for slot in self.tasks.values() {
            let m = slot.task.metrics();
            tasks.processed += m.processed;
            tasks.skipped_records += m.skipped_records;
            tasks.dropped_records += m.dropped_records;
        }
        ThreadSummary {
            tasks,
            produced: self.produced,
            restored: self.restored,
        }
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
    let consumer: BaseConsumer<ConsumerCtx> = consumer_config(config, index)
        .create_with_context(ctx)
        .map_err(|e| AppError::kafka("creating the consumer", e))?;
    let topics: Vec<&str> = routing.topics().iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|e| AppError::kafka("subscribing", e))?;
    tracing::info!(topics = ?topics, "stream thread started");

    let clocked = (0..topology.plan().subtopologies.len()).any(|sub| topology.has_processors(sub));
    let mut thread = StreamThread {
        topology,
        config,
        routing,
        tasks: HashMap::new(),
        retired: TaskMetrics::default(),
        produced: 0,
        headers: Headers::new(),
        restorer: Restorer::new(config, index, Arc::clone(links)),
        restored: 0,
        stop,
        clocked,
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
    drop(consumer); // leaves the group
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

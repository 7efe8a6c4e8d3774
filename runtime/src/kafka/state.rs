//! Stateful tasks on Kafka: Kafka Streams' `ProcessorStateManager` and
//! `StoreChangelogReader`, simplified, under at-least-once.
//!
//! - **Opening**: a task with stores gets `<state.dir>/<application.id>/<task>`
//!   (created if missing); its stores are opened there. A RocksDB store that
//!   is locked (the previous owner of the task, another thread of this
//!   process, is still closing it) is retried for [`LOCK_WAIT`]; after that
//!   the task fails, naming the task and the directory (another instance
//!   uses the same state directory).
//! - **Restoration** happens synchronously when the task is created, before
//!   it processes anything, on the stream thread (which is blocked meanwhile:
//!   its other tasks wait, and its consumer is not polled, so a restoration
//!   longer than `max.poll.interval.ms` costs a rebalance). Each changelogged
//!   store reads its changelog partition (the task's partition) with the
//!   thread's restore consumer, from the checkpointed offset (persistent
//!   stores) or the beginning (in-memory stores, or no checkpoint) up to the
//!   end offset observed when restoration starts, in write batches.
//! - **Checkpoints** (persistent stores only): read when the task is created,
//!   then deleted, so that a crash before the next checkpoint restores from
//!   the beginning; written again (stores flushed first) after every commit
//!   that drained the producer, and when the task is closed cleanly. The
//!   offsets are those restored up to, then those of acknowledged changelog
//!   records (the producer's delivery reports), plus one.

use super::callbacks::{ChangelogPartition, ClientLogger, ProducerCtx};
use super::clients::restore_consumer_config;
use super::connectivity::Connectivity;
use super::error::AppError;
use crate::config::DeserializationHandler;
use crate::config::StreamsConfig;
use crate::store::checkpoint::{self, Offsets};
use crate::store::restore::{store_value, StoreMut, RESTORE_BATCH};
use crate::store::{StoreError, TaskDirectory};
use crate::task::{Task, TaskId};
use crate::topology::{Plan, SourceRecordCheck, Topology};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Changelog records per store write batch during restoration (Kafka
/// Streams restores what one poll of the restore consumer returns, at most
/// `max.poll.records` = 1000).
/// How long one poll of the restore consumer waits.
const RESTORE_POLL: Duration = Duration::from_millis(100);
/// How long one watermark query may take.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to keep asking for the changelog's watermarks before failing.
const WATERMARK_DEADLINE: Duration = Duration::from_secs(60);
/// Interval of progress lines during a long restoration.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// How long a task waits for its locked stores.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(10);
/// Pause between two attempts to open locked stores.
const LOCK_RETRY: Duration = Duration::from_millis(100);

/// One changelogged store of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChangelogStore {
    /// Its index among the task's stores ([`crate::store::TaskStores`]).
    pub index: usize,
    /// Store name.
    pub name: &'static str,
    /// The changelog, by index into the plan's internal topics.
    pub internal: usize,
    /// The changelog's full name.
    pub topic: String,
    /// Whether the store survives a restart (RocksDB): only those are
    /// checkpointed and restored from a checkpoint.
    pub persistent: bool,
    /// The offset after the last changelog record the store is known to
    /// hold (restored up to, or checkpointed); `None` before restoration.
    pub offset: Option<i64>,
    /// The changelog is the store's source topic (a `table(topic)` store):
    /// restored up to the application's committed offset, never written,
    /// not checkpointed.
    pub source: bool,
}

/// The state of one task: its directory and changelogged stores.
#[derive(Debug)]
pub(crate) struct TaskState {
    id: TaskId,
    dir: TaskDirectory,
    /// Whether the task's sub-topology has stores at all.
    stateful: bool,
    changelogs: Vec<ChangelogStore>,
    /// The offsets of the last checkpoint written (none since the task was
    /// opened: the file is deleted then).
    last_checkpoint: Option<Offsets>,
}

/// What opening a task did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Opened {
    /// Changelog records written into stores.
    pub restored: u64,
    /// False when shutdown was requested before restoration finished: the
    /// task must not process anything.
    pub complete: bool,
}

impl TaskState {
    /// The stores of task `id` in `plan`, with changelogs named for
    /// `application_id`.
    pub fn new(plan: &Plan, application_id: &str, id: TaskId, dir: TaskDirectory) -> Self {
        let own = || {
            plan.stores
                .iter()
                .filter(|s| s.subtopology == id.subtopology)
        };
        let stateful = own().next().is_some();
        let mut changelogs = Vec::new();
        for (index, store) in plan.stores_of(id.subtopology).enumerate() {
            let (internal, topic, source) = match (store.changelog, store.source_changelog) {
                (Some(internal), _) => (
                    internal,
                    plan.internal_topic_name(application_id, internal),
                    false,
                ),
                // The store's source topic is its changelog.
                (None, Some(topic)) => (usize::MAX, topic.to_owned(), true),
                (None, None) => continue,
            };
            changelogs.push(ChangelogStore {
                index,
                name: store.name,
                internal,
                topic,
                persistent: false,
                offset: None,
                source,
            });
        }
        TaskState {
            id,
            dir,
            stateful,
            changelogs,
            last_checkpoint: None,
        }
    }

    /// The changelog partitions this task writes.
    pub fn changelog_partitions(&self) -> Vec<ChangelogPartition> {
        self.changelogs
            .iter()
            .filter(|c| !c.source)
            .map(|c| (c.internal, self.id.partition))
            .collect()
    }

    /// Takes the offsets a checkpoint has for the task's persistent stores
    /// (the others restore from the beginning).
    fn load(&mut self, loaded: &Offsets) {
        let partition = self.id.partition;
        for c in &mut self.changelogs {
            c.offset = if c.persistent {
                loaded.get(&(c.topic.clone(), partition)).copied()
            } else {
                None
            };
        }
    }

    /// Advances the offsets of stores whose source topic is their changelog
    /// to the offset committed for that topic's partition (`committed`): at a
    /// commit the store holds every record before it.
    fn source_committed(&mut self, committed: &dyn Fn(&str, i32) -> Option<i64>) {
        let partition = self.id.partition;
        for c in self.changelogs.iter_mut().filter(|c| c.source) {
            if let Some(offset) = committed(&c.topic, partition) {
                c.offset = Some(c.offset.map_or(offset, |o| o.max(offset)));
            }
        }
    }

    /// Advances the offsets with what the producer has acknowledged since.
    fn acknowledged(&mut self, producer: &ProducerCtx) {
        let partition = self.id.partition;
        for c in &mut self.changelogs {
            if let Some(acked) = producer.changelog_offset((c.internal, partition)) {
                c.offset = Some(c.offset.map_or(acked, |o| o.max(acked)));
            }
        }
    }

    /// The checkpoint of the persistent stores' offsets; `None` if the task
    /// has no persistent changelogged store.
    fn checkpoint_offsets(&self) -> Option<Offsets> {
        let mut any = false;
        let mut offsets = Offsets::new();
        for c in self.changelogs.iter().filter(|c| c.persistent) {
            any = true;
            if let Some(o) = c.offset {
                offsets.insert((c.topic.clone(), self.id.partition), o);
            }
        }
        any.then_some(offsets)
    }
}

/// Task `task`'s store described by `changelog`.
fn store_of<'t, T: Topology>(
    task: &'t mut Task<T>,
    changelog: &ChangelogStore,
) -> Option<StoreMut<'t>> {
    task.stores()?
        .get_mut(changelog.index)
        .map(|s| s.restore_target())
}

/// Flushes every store of a task.
fn flush_stores<T: Topology>(task: &mut Task<T>) -> Result<(), StoreError> {
    match task.stores() {
        Some(stores) => stores.flush(),
        None => Ok(()),
    }
}

fn is_lock_error(e: &StoreError) -> bool {
    matches!(e, StoreError::Backend { reason, .. } if reason.contains("LOCK"))
}

/// Opens task `task`'s stores in its directory (waiting up to `lock_wait`
/// for locked ones), reads and deletes its checkpoint, and restores its
/// changelogged stores. Shutdown (`stop`) interrupts the wait and the
/// restoration: the result then says it is not complete.
pub(crate) fn open_task<T: Topology>(
    task: &mut Task<T>,
    state: &mut TaskState,
    config: &StreamsConfig,
    restorer: &mut Restorer,
    stop: &AtomicBool,
    lock_wait: Duration,
) -> Result<Opened, AppError> {
    let id = state.id;
    let mut opened = Opened {
        restored: 0,
        complete: true,
    };
    if !state.stateful {
        task.open(&state.dir, config.default_dsl_store)
            .map_err(|source| AppError::Store { task: id, source })?;
        return Ok(opened);
    }
    let dir_error = |path: &std::path::Path, source| AppError::StateDirectory {
        task: id,
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(&state.dir.0).map_err(|e| dir_error(&state.dir.0, e))?;

    let deadline = Instant::now() + lock_wait;
    let mut waited = false;
    loop {
        match task.open(&state.dir, config.default_dsl_store) {
            Ok(()) => break,
            Err(e) if is_lock_error(&e) => {
                if stop.load(Ordering::Relaxed) {
                    opened.complete = false;
                    return Ok(opened);
                }
                if Instant::now() >= deadline {
                    return Err(AppError::StateDirectoryLocked {
                        task: id,
                        path: state.dir.0.clone(),
                        reason: e.to_string(),
                    });
                }
                if !waited {
                    tracing::debug!(task = %id, "stores locked, waiting: {e}");
                    waited = true;
                }
                std::thread::sleep(LOCK_RETRY);
            }
            Err(source) => return Err(AppError::Store { task: id, source }),
        }
    }

    for c in &mut state.changelogs {
        // A source-topic changelog is checkpointed at the committed offset
        // of its partition (see `TaskState::source_committed`).
        c.persistent = store_of(task, c).is_some_and(|s| s.persistent());
    }
    let path = state.dir.checkpoint_path();
    let loaded = match checkpoint::read(&path) {
        Ok(loaded) => loaded,
        Err(e @ StoreError::Corrupt { .. }) => {
            tracing::warn!(task = %id, "ignoring the checkpoint, restoring from the beginning: {e}");
            Offsets::new()
        }
        Err(source) => return Err(AppError::Store { task: id, source }),
    };
    state.load(&loaded);
    // Under at-least-once the store runs ahead of any checkpoint from now
    // on: without a newer one, a crash must restore from the beginning.
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(dir_error(&path, e)),
    }

    for c in &mut state.changelogs {
        let check = task.source_record_check(c.index);
        let Some(store) = store_of(task, c) else {
            return Err(AppError::InvalidTopology(format!(
                "task {id}: store `{}` was not opened",
                c.name
            )));
        };
        let r = restorer.restore(id, store, c, check, stop)?;
        opened.restored += r.restored;
        if !r.complete {
            opened.complete = false;
            break;
        }
    }
    Ok(opened)
}

/// Flushes the task's stores and writes its checkpoint: the offsets
/// restored up to and acknowledged by `producer`, which the caller has
/// drained (every changelog record written so far is acknowledged). Does
/// nothing for a task without persistent changelogged stores, or when no
/// offset moved since the last checkpoint. A checkpoint that cannot be
/// written is logged: the next start restores more.
pub(crate) fn checkpoint<T: Topology>(
    task: &mut Task<T>,
    state: &mut TaskState,
    producer: &ProducerCtx,
    committed: &dyn Fn(&str, i32) -> Option<i64>,
) -> Result<(), AppError> {
    state.acknowledged(producer);
    state.source_committed(committed);
    let Some(offsets) = state.checkpoint_offsets() else {
        return Ok(());
    };
    if state.last_checkpoint.as_ref() == Some(&offsets) {
        return Ok(());
    }
    let id = state.id;
    flush_stores(task).map_err(|source| AppError::Store { task: id, source })?;
    match checkpoint::write(&state.dir.checkpoint_path(), &offsets) {
        Ok(()) => {
            tracing::debug!(task = %id, ?offsets, "checkpoint written");
            state.last_checkpoint = Some(offsets);
        }
        Err(e) => tracing::warn!(task = %id, "cannot write the checkpoint: {e}"),
    }
    Ok(())
}

/// Closes a task: cleanly (`clean`: the producer is drained) the stores are
/// flushed and the checkpoint written; dirtily (after an error, or with
/// changelog records not acknowledged) nothing is written, so the next start restores
/// from the last checkpoint written, or from the beginning. The stores close
/// when the task is dropped.
pub(crate) fn close_task<T: Topology>(
    task: &mut Task<T>,
    state: &mut TaskState,
    producer: &ProducerCtx,
    committed: &dyn Fn(&str, i32) -> Option<i64>,
    clean: bool,
) {
    if clean {
        if let Err(e) = checkpoint(task, state, producer, committed) {
            tracing::error!(task = %state.id, "closing the task: {e}");
        }
    }
    producer.forget_changelogs(&state.changelog_partitions());
}

/// What restoring one store did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Restored {
    /// Changelog records written into the store.
    pub restored: u64,
    /// False if shutdown interrupted it.
    pub complete: bool,
}

/// A stream thread's restore consumer, created on first use.
pub(crate) struct Restorer {
    config: ClientConfig,
    consumer: Option<BaseConsumer<ClientLogger>>,
    client: String,
    /// A consumer in the application's group that only reads its committed
    /// offsets (for source-topic changelogs), created on first use.
    offsets_config: ClientConfig,
    offsets: Option<BaseConsumer<ClientLogger>>,
    links: Arc<Connectivity>,
}

impl Restorer {
    /// The restorer of stream thread `thread` (0-based), of the application
    /// whose broker reachability `links` tracks.
    pub fn new(config: &StreamsConfig, thread: usize, links: Arc<Connectivity>) -> Self {
        let mut offsets_config = restore_consumer_config(config, thread);
        offsets_config.set("group.id", &config.application_id);
        let config = restore_consumer_config(config, thread);
        let client = config
            .get("client.id")
            .unwrap_or("restore-consumer")
            .to_owned();
        Restorer {
            config,
            consumer: None,
            client,
            offsets_config,
            offsets: None,
            links,
        }
    }

    /// The application's committed offset of `topic`-`partition`, `None`
    /// when nothing was committed (Kafka Streams restores a source-topic
    /// changelog up to it: what comes after is processed, not restored).
    fn committed(&mut self, topic: &str, partition: i32) -> Result<Option<i64>, KafkaError> {
        let consumer = match self.offsets.take() {
            Some(c) => c,
            None => self.offsets_config.create_with_context(ClientLogger::new(
                format!("{}-offsets", self.client),
                Arc::clone(&self.links),
            ))?,
        };
        let consumer = self.offsets.insert(consumer);
        let mut tpl = TopicPartitionList::with_capacity(1);
        tpl.add_partition(topic, partition);
        let committed = consumer.committed_offsets(tpl, WATERMARK_TIMEOUT)?;
        Ok(committed
            .find_partition(topic, partition)
            .and_then(|p| match p.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            }))
    }

    fn consumer(&mut self) -> Result<&BaseConsumer<ClientLogger>, AppError> {
        let consumer = match self.consumer.take() {
            Some(consumer) => consumer,
            None => self
                .config
                .create_with_context(ClientLogger::new(
                    self.client.clone(),
                    Arc::clone(&self.links),
                ))
                .map_err(|e| AppError::kafka("creating the restore consumer", e))?,
        };
        Ok(self.consumer.insert(consumer))
    }

    /// Restores `store` from its changelog partition, from `changelog.offset`
    /// (or the beginning) to the end offset observed now, advancing
    /// `changelog.offset` after every batch written.
    ///
    /// `check`, for a store whose source topic is its changelog, is the
    /// table's deserialization check: a record failing it is skipped (and
    /// logged) or fails the restoration, as the deserialization handler
    /// says, so the store holds what processing would have put there.
    pub fn restore(
        &mut self,
        task: TaskId,
        mut store: StoreMut<'_>,
        changelog: &mut ChangelogStore,
        check: Option<(SourceRecordCheck, DeserializationHandler)>,
        stop: &AtomicBool,
    ) -> Result<Restored, AppError> {
        let partition = task.partition;
        let consumer = self.consumer()?;
        let restore_error = |reason: String| AppError::Restore {
            task,
            store: changelog.name.to_owned(),
            topic: format!("{}-{partition}", changelog.topic),
            reason,
        };
        let interrupted = Restored {
            restored: 0,
            complete: false,
        };
        let Some((low, end)) = watermarks(consumer, &changelog.topic, partition, stop)
            .map_err(|e| restore_error(format!("cannot read its offsets: {e}")))?
        else {
            return Ok(interrupted);
        };
        let end = if changelog.source {
            let committed = self
                .committed(&changelog.topic, partition)
                .map_err(|e| restore_error(format!("cannot read the committed offset: {e}")))?;
            committed.unwrap_or(low).clamp(low, end)
        } else {
            end
        };
        let consumer = self.consumer()?;
        let start = match changelog.offset {
            Some(o) if (low..=end).contains(&o) => o,
            Some(o) => {
                // The changelog was deleted and re-created, or truncated: what
                // the store holds cannot be trusted (Kafka Streams wipes it).
                tracing::warn!(task = %task, store = changelog.name,
                    "checkpointed offset {o} is outside the changelog's offsets [{low}, {end}]: \
                     wiping the store and restoring from the beginning");
                store
                    .clear()
                    .map_err(|source| AppError::Store { task, source })?;
                low
            }
            None => low,
        };
        if start >= end {
            changelog.offset = Some(start);
            tracing::debug!(task = %task, store = changelog.name, offset = start,
                "store is up to date with its changelog");
            return Ok(Restored {
                restored: 0,
                complete: true,
            });
        }

        let started = Instant::now();
        tracing::debug!(task = %task, store = changelog.name, topic = %changelog.topic,
            partition, from = start, to = end, "restoring");
        let mut tpl = TopicPartitionList::with_capacity(1);
        tpl.add_partition_offset(&changelog.topic, partition, Offset::Offset(start))
            .map_err(|e| restore_error(e.to_string()))?;
        consumer
            .assign(&tpl)
            .map_err(|e| restore_error(format!("cannot assign the partition: {e}")))?;

        let mut batch: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::with_capacity(RESTORE_BATCH);
        let mut position = start;
        let mut restored = 0u64;
        let mut skipped = 0u64;
        let mut skipped_malformed = 0u64;
        let mut next_progress = started + PROGRESS_EVERY;
        let mut complete = true;
        let write = |store: &mut StoreMut<'_>,
                     batch: &mut Vec<(Vec<u8>, Option<Vec<u8>>)>|
         -> Result<(), AppError> {
            store
                .apply(batch)
                .map_err(|source| AppError::Store { task, source })?;
            batch.clear();
            Ok(())
        };
        while position < end {
            if stop.load(Ordering::Relaxed) {
                complete = false;
                break;
            }
            match consumer.poll(RESTORE_POLL) {
                None => {}
                Some(Ok(msg)) => {
                    let offset = msg.offset();
                    if offset >= end {
                        // Written after restoration started: not ours to apply.
                        position = end;
                        break;
                    }
                    let malformed = match (msg.key(), check) {
                        (Some(key), Some((check, handler))) => {
                            check(Some(key), msg.payload()).err().map(|e| (e, handler))
                        }
                        _ => None,
                    };
                    match (msg.key(), malformed) {
                        (Some(_), Some((e, DeserializationHandler::LogAndFail))) => {
                            return Err(restore_error(format!(
                                "malformed record at offset {offset}: {e} \
                                 (default.deserialization.exception.handler=log-and-fail)"
                            )));
                        }
                        (Some(_), Some((e, DeserializationHandler::LogAndContinue))) => {
                            tracing::warn!(task = %task, store = changelog.name,
                                topic = %changelog.topic, partition, offset,
                                "skipping a malformed record while restoring from the source topic: {e}");
                            skipped_malformed += 1;
                        }
                        (Some(key), None) => {
                            let ts = msg.timestamp().to_millis().unwrap_or(-1);
                            batch.push((key.to_vec(), store_value(ts, msg.payload())));
                            restored += 1;
                        }
                        (None, _) => skipped += 1,
                    }
                    position = position.max(offset + 1);
                    if batch.len() >= RESTORE_BATCH {
                        write(&mut store, &mut batch)?;
                        changelog.offset = Some(position);
                    }
                }
                // Every record up to the partition's end was read (the last
                // offsets may be compacted away or transaction markers).
                Some(Err(KafkaError::PartitionEOF(_))) => position = end,
                Some(Err(e @ KafkaError::MessageConsumptionFatal(_))) => {
                    return Err(restore_error(e.to_string()));
                }
                Some(Err(e)) => consumer
                    .context()
                    .client_error("restore consumer error", &e),
            }
            let now = Instant::now();
            if now >= next_progress {
                tracing::info!(task = %task, store = changelog.name,
                    "restoring: {restored} records so far, at offset {position} of {end}");
                next_progress = now + PROGRESS_EVERY;
            }
        }
        write(&mut store, &mut batch)?;
        changelog.offset = Some(position);
        if let Err(e) = consumer.unassign() {
            tracing::warn!(task = %task, "restore consumer: cannot unassign: {e}");
        }
        if skipped > 0 {
            tracing::warn!(task = %task, store = changelog.name,
                "skipped {skipped} changelog records without a key");
        }
        if skipped_malformed > 0 {
            tracing::warn!(task = %task, store = changelog.name,
                "skipped {skipped_malformed} malformed source-topic records");
        }
        let elapsed = started.elapsed();
        let ms = elapsed.as_millis();
        if complete {
            tracing::info!(task = %task, store = changelog.name, records = restored,
                elapsed_ms = ms as u64,
                "restored {restored} records of {} for task {task} in {ms} ms", changelog.name);
        } else {
            tracing::info!(task = %task, store = changelog.name, records = restored,
                "restoration of {} for task {task} interrupted by shutdown after {restored} \
                 records, at offset {position} of {end}", changelog.name);
        }
        Ok(Restored { restored, complete })
    }
}

/// The changelog partition's (low, end) offsets, retried while the broker
/// does not answer; `None` if shutdown was requested.
fn watermarks(
    consumer: &BaseConsumer<ClientLogger>,
    topic: &str,
    partition: i32,
    stop: &AtomicBool,
) -> Result<Option<(i64, i64)>, KafkaError> {
    let deadline = Instant::now() + WATERMARK_DEADLINE;
    loop {
        match consumer.fetch_watermarks(topic, partition, WATERMARK_TIMEOUT) {
            Ok(w) => return Ok(Some(w)),
            Err(_) if stop.load(Ordering::Relaxed) => return Ok(None),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(e) => {
                tracing::warn!(
                    topic,
                    partition,
                    "cannot read changelog offsets, retrying: {e}"
                );
                if super::admin::sleep_unless_stopped(Duration::from_secs(1), stop) {
                    return Ok(None);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DeserializationHandler;
    use crate::error::ProcessError;
    use crate::record::SourceRecord;
    use crate::store::kv::tests::TempDir;
    use crate::store::{Backend, KvStore, WinStore};
    use crate::store::{KeyValueStore, StoreKind, StoreSpec, TaskStores, WindowStore};
    use crate::topology::{
        InternalTopic, InternalTopicKind, RecordCollector, SourcePlan, StorePlan, SubTopology,
        SubTopologyPlan, SubVisitor, TaskContext, TopicRef,
    };

    /// Sub-topology 0 is stateless; sub-topology 1 has a changelogged store
    /// and one without changelog (both RocksDB unless overridden).
    static PLAN: Plan = Plan {
        name: "stateful",
        subtopologies: &[
            SubTopologyPlan {
                copartitioned: false,
                clocked: false,
                cached: false,
                sources: &[SourcePlan {
                    name: "s0",
                    topics: &[TopicRef::Named("in")],
                }],
            },
            SubTopologyPlan {
                copartitioned: false,
                clocked: false,
                cached: false,
                sources: &[SourcePlan {
                    name: "s1",
                    topics: &[TopicRef::Internal(0)],
                }],
            },
        ],
        internal_topics: &[
            InternalTopic {
                name: "counts-repartition",
                partitions: None,
                written_by: 0,
                kind: InternalTopicKind::Repartition,
            },
            InternalTopic {
                name: "counts-changelog",
                partitions: None,
                written_by: 1,
                kind: InternalTopicKind::Changelog,
            },
        ],
        stores: &[
            StorePlan {
                name: "counts",
                subtopology: 1,
                changelog: Some(1),
                source_changelog: None,
                source_check: None,
                backend: Backend::RocksDb,
                kind: StoreKind::KeyValue,
            },
            StorePlan {
                name: "local",
                subtopology: 1,
                changelog: None,
                source_changelog: None,
                source_check: None,
                backend: Backend::RocksDb,
                kind: StoreKind::KeyValue,
            },
        ],
        description: "",
        mermaid: "",
    };

    /// A sub-topology that processes nothing.
    #[derive(Clone, Default)]
    struct Idle(TaskContext);

    impl SubTopology for Idle {
        fn context(&mut self) -> &mut TaskContext {
            &mut self.0
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

    /// The plan's two sub-topologies, idle: a task opens the stores.
    #[derive(Clone, Default)]
    struct Stores([Idle; 2]);

    impl Topology for Stores {
        fn plan(&self) -> &'static Plan {
            &PLAN
        }
        fn with_sub<'a, V: SubVisitor<'a>>(&'a mut self, sub: usize, v: V) -> Option<V::Output> {
            self.0.get_mut(sub).map(|s| v.visit(s))
        }
    }

    const TASK: TaskId = TaskId {
        subtopology: 1,
        partition: 2,
    };
    const CHANGELOG: &str = "app-counts-changelog";

    fn task() -> Task<Stores> {
        let mut config = StreamsConfig::new("app");
        config.deserialization_handler = DeserializationHandler::LogAndFail;
        Task::new(TASK, Stores::default(), &config)
    }

    fn config(dir: &TempDir) -> StreamsConfig {
        let mut c = StreamsConfig::new("app");
        c.state_dir = dir.path().to_owned();
        c
    }

    fn offsets(entries: &[(&str, i32, i64)]) -> Offsets {
        entries
            .iter()
            .map(|&(t, p, o)| ((t.to_owned(), p), o))
            .collect()
    }

    #[test]
    fn changelog_records_become_timestamped_store_values() {
        let ts = 1_700_000_000_123i64;
        let value = store_value(ts, Some(&7i64.to_be_bytes())).unwrap();
        assert_eq!(&value[..8], &ts.to_be_bytes());
        assert_eq!(&value[8..], &7i64.to_be_bytes());
        assert_eq!(
            crate::format::timestamped::split_timestamped(&value),
            Some((ts, &7i64.to_be_bytes()[..]))
        );
        assert_eq!(
            store_value(-1, Some(b"")),
            Some((-1i64).to_be_bytes().to_vec())
        );
        assert_eq!(store_value(ts, None), None, "a tombstone deletes");

        // Restored entries read back as the aggregation wrote them.
        let spec = StoreSpec {
            name: "s",
            kind: StoreKind::KeyValue,
            backend: Backend::InMemory,
            retention_ms: 0,
        };
        let mut stores = TaskStores::open([spec], &TaskDirectory("unused".into())).unwrap();
        let batch = vec![
            (b"a".to_vec(), store_value(10, Some(&1i64.to_be_bytes()))),
            (b"b".to_vec(), store_value(11, Some(&5i64.to_be_bytes()))),
            (b"a".to_vec(), store_value(12, Some(&2i64.to_be_bytes()))),
            (b"b".to_vec(), store_value(13, None)),
        ];
        stores.kv_mut(0, "s").unwrap().write_batch(&batch).unwrap();
        assert_eq!(
            crate::__private::store_get::<i64>(&stores, 0, "s", b"a").unwrap(),
            Some((2, 12))
        );
        assert_eq!(
            crate::__private::store_get::<i64>(&stores, 0, "s", b"b").unwrap(),
            None
        );
    }

    #[test]
    fn a_task_knows_its_changelogs() {
        let dir = TaskDirectory("d".into());
        let state = TaskState::new(&PLAN, "app", TASK, dir.clone());
        assert!(state.stateful);
        assert_eq!(
            state.changelogs,
            [ChangelogStore {
                index: 0,
                name: "counts",
                internal: 1,
                topic: CHANGELOG.into(),
                persistent: false,
                source: false,
                offset: None,
            }]
        );
        assert_eq!(state.changelog_partitions(), vec![(1, 2)]);
        let stateless = TaskState::new(
            &PLAN,
            "app",
            TaskId {
                subtopology: 0,
                partition: 2,
            },
            dir,
        );
        assert!(!stateless.stateful);
        assert!(stateless.changelogs.is_empty());
        assert_eq!(stateless.checkpoint_offsets(), None);
    }

    #[test]
    fn checkpoint_offsets_follow_restoration_then_acknowledgements() {
        let mut state = TaskState::new(&PLAN, "app", TASK, TaskDirectory("d".into()));
        state.changelogs[0].persistent = true;
        // Another partition's entry and another topic are ignored.
        state.load(&offsets(&[
            (CHANGELOG, 2, 40),
            (CHANGELOG, 1, 99),
            ("other", 2, 5),
        ]));
        assert_eq!(state.changelogs[0].offset, Some(40));
        assert_eq!(
            state.checkpoint_offsets(),
            Some(offsets(&[(CHANGELOG, 2, 40)]))
        );

        // Delivery reports: the offset after the highest acknowledged one,
        // whatever the order; other partitions and topics do not count.
        let producer = ProducerCtx::new("p", Arc::default());
        state.acknowledged(&producer);
        assert_eq!(state.changelogs[0].offset, Some(40), "nothing written");
        for offset in [41, 45, 43] {
            producer.acknowledged((1, 2), offset);
        }
        producer.acknowledged((1, 3), 1000);
        producer.acknowledged((0, 2), 2000);
        producer.acknowledged((1, 2), -1); // no offset known: ignored
        assert_eq!(producer.changelog_offset((1, 2)), Some(46));
        state.acknowledged(&producer);
        assert_eq!(
            state.checkpoint_offsets(),
            Some(offsets(&[(CHANGELOG, 2, 46)]))
        );

        // Stale acknowledgements (from before the task last moved away) do
        // not take the offset back.
        state.changelogs[0].offset = Some(100);
        state.acknowledged(&producer);
        assert_eq!(state.changelogs[0].offset, Some(100));
        producer.forget_changelogs(&state.changelog_partitions());
        assert_eq!(producer.changelog_offset((1, 2)), None);
        assert_eq!(producer.changelog_offset((1, 3)), Some(1001));

        // In memory: never loaded from nor written to a checkpoint.
        let mut state = TaskState::new(&PLAN, "app", TASK, TaskDirectory("d".into()));
        state.load(&offsets(&[(CHANGELOG, 2, 40)]));
        assert_eq!(state.changelogs[0].offset, None);
        assert_eq!(state.checkpoint_offsets(), None);
    }

    #[test]
    fn opening_creates_the_directory_and_consumes_the_checkpoint() {
        let tmp = TempDir::new("state-open");
        let config = config(&tmp);
        let dir = config.task_directory(TASK);
        assert_eq!(dir.0, tmp.path().join("app").join("1_2"));
        // A checkpoint left by a previous run. Restoring the changelogged
        // store needs a broker: leave it out of the task's changelogs, so
        // that only opening and the checkpoint's deletion run.
        std::fs::create_dir_all(&dir.0).unwrap();
        checkpoint::write(&dir.checkpoint_path(), &offsets(&[(CHANGELOG, 2, 7)])).unwrap();
        let mut state = TaskState::new(&PLAN, "app", TASK, dir.clone());
        state.changelogs.clear();
        let mut task = task();
        let stop = AtomicBool::new(false);
        let mut restorer = Restorer::new(&config, 0, Arc::default());
        let opened = open_task(
            &mut task,
            &mut state,
            &config,
            &mut restorer,
            &stop,
            LOCK_WAIT,
        )
        .unwrap();
        assert_eq!(
            opened,
            Opened {
                restored: 0,
                complete: true
            }
        );
        assert!(dir.store_path("counts").is_dir());
        assert!(dir.store_path("local").is_dir());
        assert!(
            !dir.checkpoint_path().exists(),
            "the checkpoint is deleted while the task runs"
        );
        assert!(restorer.consumer.is_none(), "no restore consumer needed");
    }

    #[test]
    fn checkpoints_flush_persistent_stores_and_skip_unchanged_offsets() {
        let tmp = TempDir::new("state-checkpoint");
        let config = config(&tmp);
        let dir = config.task_directory(TASK);
        let mut task = task();
        task.open(&dir, None).unwrap();
        let mut state = TaskState::new(&PLAN, "app", TASK, dir.clone());
        state.changelogs[0].persistent = true;
        state.changelogs[0].offset = Some(3);
        let producer = ProducerCtx::new("p", Arc::default());

        task.stores()
            .unwrap()
            .kv_mut(0, "counts")
            .unwrap()
            .put(b"k", b"v")
            .unwrap();
        checkpoint(&mut task, &mut state, &producer, &|_, _| None).unwrap();
        let path = dir.checkpoint_path();
        assert_eq!(
            checkpoint::read(&path).unwrap(),
            offsets(&[(CHANGELOG, 2, 3)])
        );
        // Unchanged offsets: the file is not rewritten.
        std::fs::remove_file(&path).unwrap();
        checkpoint(&mut task, &mut state, &producer, &|_, _| None).unwrap();
        assert!(!path.exists());
        // New acknowledged records: written again.
        producer.acknowledged((1, 2), 9);
        checkpoint(&mut task, &mut state, &producer, &|_, _| None).unwrap();
        assert_eq!(
            checkpoint::read(&path).unwrap(),
            offsets(&[(CHANGELOG, 2, 10)])
        );

        // A clean close writes the checkpoint and forgets the partitions; a
        // dirty one writes nothing.
        producer.acknowledged((1, 2), 10);
        close_task(&mut task, &mut state, &producer, &|_, _| None, false);
        assert_eq!(
            checkpoint::read(&path).unwrap(),
            offsets(&[(CHANGELOG, 2, 10)])
        );
        assert_eq!(producer.changelog_offset((1, 2)), None);
        producer.acknowledged((1, 2), 11);
        close_task(&mut task, &mut state, &producer, &|_, _| None, true);
        assert_eq!(
            checkpoint::read(&path).unwrap(),
            offsets(&[(CHANGELOG, 2, 12)])
        );
        drop(task);
        // What was flushed is on disk.
        let store = KvStore::open("counts", Backend::RocksDb, &dir).unwrap();
        assert_eq!(store.get(b"k").unwrap(), Some(b"v".to_vec()));
    }

    #[test]
    fn in_memory_stores_are_not_checkpointed() {
        let tmp = TempDir::new("state-in-memory");
        let mut config = config(&tmp);
        config.default_dsl_store = Some(Backend::InMemory);
        let dir = config.task_directory(TASK);
        let mut task = task();
        task.open(&dir, config.default_dsl_store).unwrap();
        std::fs::create_dir_all(&dir.0).unwrap();
        let mut state = TaskState::new(&PLAN, "app", TASK, dir.clone());
        state.changelogs[0].persistent = task.stores().unwrap().get_mut(0).unwrap().persistent();
        assert!(!state.changelogs[0].persistent);
        let producer = ProducerCtx::new("p", Arc::default());
        producer.acknowledged((1, 2), 5);
        checkpoint(&mut task, &mut state, &producer, &|_, _| None).unwrap();
        assert!(!dir.checkpoint_path().exists());
    }

    #[test]
    fn a_locked_task_directory_is_a_clear_error() {
        let tmp = TempDir::new("state-locked");
        let config = config(&tmp);
        let dir = config.task_directory(TASK);
        // Another owner holds the store.
        let _held = KvStore::open("counts", Backend::RocksDb, &dir).unwrap();
        let mut state = TaskState::new(&PLAN, "app", TASK, dir.clone());
        let stop = AtomicBool::new(false);
        let mut restorer = Restorer::new(&config, 0, Arc::default());
        let started = Instant::now();
        let e = open_task(
            &mut task(),
            &mut state,
            &config,
            &mut restorer,
            &stop,
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
        assert!(
            matches!(&e, AppError::StateDirectoryLocked { task, path, .. }
                if *task == TASK && *path == dir.0),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(text.contains("task 1_2"), "{text}");
        assert!(text.contains(&dir.0.display().to_string()), "{text}");

        // Shutdown ends the wait without an error: the task is not opened.
        stop.store(true, Ordering::Relaxed);
        let opened = open_task(
            &mut task(),
            &mut state,
            &config,
            &mut restorer,
            &stop,
            LOCK_WAIT,
        )
        .unwrap();
        assert!(!opened.complete);
    }

    #[test]
    fn clearing_a_store_deletes_every_entry() {
        let tmp = TempDir::new("state-clear");
        let mut store = KvStore::open("s", Backend::RocksDb, &tmp.task_dir()).unwrap();
        for i in 0..2500u32 {
            store.put(&i.to_be_bytes(), b"x").unwrap();
        }
        StoreMut::KeyValue(&mut store).clear().unwrap();
        assert_eq!(store.all().unwrap(), Vec::new());

        let mut windows = WinStore::open("w", Backend::RocksDb, i64::MAX, &tmp.task_dir()).unwrap();
        for start in 0..50 {
            windows.put(b"k", start * 10, Some(b"x")).unwrap();
        }
        StoreMut::Window(&mut windows).clear().unwrap();
        assert!(windows.all().unwrap().is_empty());
    }

    #[test]
    fn window_changelog_records_go_to_their_window() {
        let tmp = TempDir::new("state-window");
        let mut windows =
            WinStore::open("w", Backend::InMemory, i64::MAX, &tmp.task_dir()).unwrap();
        let key = |k: &[u8], start: i64| {
            let mut out = Vec::new();
            crate::store::window_changelog_key(k, start, &mut out);
            out
        };
        let batch = vec![
            (key(b"a", 0), store_value(5, Some(b"1"))),
            (key(b"a", 100), store_value(105, Some(b"2"))),
            (key(b"b", 0), store_value(7, Some(b"3"))),
            (key(b"a", 0), store_value(9, Some(b"4"))),
            (key(b"b", 0), store_value(11, None)),
        ];
        StoreMut::Window(&mut windows).apply(&batch).unwrap();
        assert_eq!(
            windows.all().unwrap(),
            vec![
                (b"a".to_vec(), 0, store_value(9, Some(b"4")).unwrap()),
                (b"a".to_vec(), 100, store_value(105, Some(b"2")).unwrap()),
            ]
        );
        // A key too short to hold a window start is corruption.
        let e = StoreMut::Window(&mut windows)
            .apply(&[(b"short".to_vec(), None)])
            .unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    }

    // ---- restoration against the test broker ----

    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use std::collections::BTreeMap;
    use weir_test_kafka::LocalKafka;

    type Model = BTreeMap<Vec<u8>, Vec<u8>>;

    /// Writes `n` changelog records to partition 1 of a new 2-partition
    /// topic: keys `k0..k{keys}`, value = index (8 bytes, big-endian),
    /// timestamp 1000 + index, every 97th a tombstone. Returns the store
    /// contents they restore to.
    fn changelog(kafka: &LocalKafka, topic: &str, n: usize, keys: usize) -> Model {
        kafka.create_topic(topic, 2).unwrap();
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", kafka.bootstrap_servers())
            .set("linger.ms", "20")
            .create()
            .unwrap();
        let mut model = Model::new();
        for i in 0..n {
            let key = format!("k{}", i % keys).into_bytes();
            let value = (i as i64).to_be_bytes();
            let ts = 1000 + i as i64;
            let tombstone = i % 97 == 0;
            let mut record = BaseRecord::<[u8], [u8]>::to(topic)
                .partition(1)
                .key(&key[..])
                .timestamp(ts);
            if !tombstone {
                record = record.payload(&value[..]);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        record = back;
                        producer.poll(Duration::from_millis(10));
                    }
                }
            }
            match store_value(ts, (!tombstone).then_some(&value[..])) {
                Some(v) => model.insert(key, v),
                None => model.remove(&key),
            };
        }
        producer.flush(Duration::from_secs(30)).unwrap();
        model
    }

    fn contents(store: &KvStore) -> Model {
        store.all().unwrap().into_iter().collect()
    }

    fn changelog_store(topic: &str, offset: Option<i64>) -> ChangelogStore {
        ChangelogStore {
            index: 0,
            name: "counts",
            internal: 1,
            topic: topic.to_owned(),
            persistent: true,
            offset,
            source: false,
        }
    }

    #[test]
    fn restores_from_the_beginning_or_a_checkpoint_in_batches() {
        let kafka = LocalKafka::shared().unwrap();
        let topic = "state-restore-changelog";
        let n = 2 * RESTORE_BATCH + 500;
        let model = changelog(kafka, topic, n, 700);
        let mut config = StreamsConfig::new("restore-test");
        config.bootstrap_servers = kafka.bootstrap_servers();
        let mut restorer = Restorer::new(&config, 0, Arc::default());
        let stop = AtomicBool::new(false);
        let tmp = TempDir::new("state-restore");
        let mut store = KvStore::open("counts", Backend::RocksDb, &tmp.task_dir()).unwrap();

        // No checkpoint: everything, tombstones included.
        let mut c = changelog_store(topic, None);
        let r = restorer
            .restore(TASK_P1, StoreMut::KeyValue(&mut store), &mut c, None, &stop)
            .unwrap();
        assert_eq!(
            r,
            Restored {
                restored: n as u64,
                complete: true
            }
        );
        assert_eq!(c.offset, Some(n as i64));
        assert_eq!(contents(&store), model);

        // From a checkpoint: only what follows it.
        let mut c = changelog_store(topic, Some(n as i64 - 300));
        let r = restorer
            .restore(TASK_P1, StoreMut::KeyValue(&mut store), &mut c, None, &stop)
            .unwrap();
        assert_eq!(r.restored, 300);
        assert_eq!(c.offset, Some(n as i64));
        assert_eq!(contents(&store), model);
        // Up to date: nothing.
        let r = restorer
            .restore(TASK_P1, StoreMut::KeyValue(&mut store), &mut c, None, &stop)
            .unwrap();
        assert_eq!(r.restored, 0);

        // A checkpoint beyond the changelog's end (a re-created topic): the
        // store is wiped and restored from the beginning.
        store.put(b"stale", b"x").unwrap();
        let mut c = changelog_store(topic, Some(n as i64 + 10));
        let r = restorer
            .restore(TASK_P1, StoreMut::KeyValue(&mut store), &mut c, None, &stop)
            .unwrap();
        assert_eq!(r.restored, n as u64);
        assert_eq!(contents(&store), model);

        // An empty partition.
        let mut empty = KvStore::open("s", Backend::InMemory, &tmp.task_dir()).unwrap();
        let mut c = changelog_store(topic, None);
        let task_p0 = TaskId {
            subtopology: 1,
            partition: 0,
        };
        let r = restorer
            .restore(task_p0, StoreMut::KeyValue(&mut empty), &mut c, None, &stop)
            .unwrap();
        assert_eq!(
            r,
            Restored {
                restored: 0,
                complete: true
            }
        );
        assert_eq!(c.offset, Some(0));

        // Shutdown interrupts; the offset says how far it got.
        stop.store(true, Ordering::Relaxed);
        let mut c = changelog_store(topic, None);
        let r = restorer.restore(TASK_P1, StoreMut::KeyValue(&mut empty), &mut c, None, &stop);
        assert!(
            matches!(
                r,
                Ok(Restored {
                    complete: false,
                    ..
                })
            ),
            "{r:?}"
        );
        assert!(c.offset.is_none_or(|o| o <= n as i64));
    }

    const TASK_P1: TaskId = TaskId {
        subtopology: 1,
        partition: 1,
    };

    /// Restoration speed of a store of `WEIR_RESTORE_RECORDS` (default one
    /// million) distinct keys: `cargo test -p weir-runtime --lib --release
    /// restore_speed -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement"]
    fn restore_speed() {
        let kafka = LocalKafka::shared().unwrap();
        let n = std::env::var("WEIR_RESTORE_RECORDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        let topic = "state-restore-speed";
        changelog(kafka, topic, n, n);
        let mut config = StreamsConfig::new("restore-speed");
        config.bootstrap_servers = kafka.bootstrap_servers();
        let stop = AtomicBool::new(false);
        let tmp = TempDir::new("state-restore-speed");
        for backend in [Backend::RocksDb, Backend::InMemory] {
            let mut restorer = Restorer::new(&config, 0, Arc::default());
            let dir = TaskDirectory(tmp.path().join(format!("{backend:?}")));
            let mut store = KvStore::open("counts", backend, &dir).unwrap();
            let mut c = changelog_store(topic, None);
            let started = Instant::now();
            let r = restorer
                .restore(TASK_P1, StoreMut::KeyValue(&mut store), &mut c, None, &stop)
                .unwrap();
            let elapsed = started.elapsed();
            assert_eq!(r.restored, n as u64);
            eprintln!(
                "{backend:?}: restored {n} records in {elapsed:?}: {:.0} records/s",
                n as f64 / elapsed.as_secs_f64()
            );
        }
    }
}

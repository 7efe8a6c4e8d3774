//! Committing what a stream thread processed: one interface, [`Committer`],
//! behind which each processing guarantee commits in its own way. Under
//! at-least-once (the only guarantee so far) a commit waits until every
//! record produced so far is acknowledged, then commits the consumed
//! offsets; exactly-once will send them inside the producer's transaction
//! instead. The stream thread calls it at `commit.interval.ms`, before
//! partitions are revoked, on a failure and at shutdown.

use super::callbacks::{ConsumerCtx, ProducerCtx};
use super::error::AppError;
use super::routing::Routing;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long one wait for the producer to drain lasts, within a commit's
/// flush timeout: between two, an ongoing outage is reported.
const FLUSH_SLICE: Duration = Duration::from_millis(500);

/// A partition by source topic index ([`Routing::topic`]) and number.
pub(crate) type PartitionKey = (usize, i32);

/// Locks, ignoring poisoning (a panicking stream thread stops the app anyway).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a commit attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CommitOutcome {
    /// Nothing processed since the last commit.
    Nothing,
    /// Offsets committed for this many partitions.
    Committed(usize),
    /// The producer did not drain in time: nothing committed, try later.
    NotFlushed,
    /// The broker refused the commit (e.g. during a rebalance): the records
    /// will be processed again, which at-least-once allows.
    Refused,
}

/// How a commit makes processed records count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guarantee {
    /// Flush the producer, then commit the consumer's offsets.
    AtLeastOnce,
}

/// The offsets a stream thread processed and committed, and how it commits
/// them. Shared between the thread and its consumer's rebalance callback
/// (which commits before partitions are revoked).
#[derive(Debug)]
pub(crate) struct Committer {
    guarantee: Guarantee,
    /// How long a commit waits for the producer to drain.
    flush_timeout: Duration,
    /// Next offset to commit (last processed + 1) per partition.
    pending: Mutex<HashMap<PartitionKey, i64>>,
    /// The last offset committed per partition (what a checkpoint of a
    /// store whose source topic is its changelog records).
    committed: Mutex<HashMap<PartitionKey, i64>>,
}

impl Committer {
    /// At-least-once: offsets are committed once every record produced
    /// before them is acknowledged.
    pub fn at_least_once(flush_timeout: Duration) -> Self {
        Committer {
            guarantee: Guarantee::AtLeastOnce,
            flush_timeout,
            pending: Mutex::new(HashMap::new()),
            committed: Mutex::new(HashMap::new()),
        }
    }

    /// Records that `offset` of a partition was processed.
    #[inline]
    pub fn processed(&self, key: PartitionKey, offset: i64) {
        lock(&self.pending).insert(key, offset + 1);
    }

    /// The offset last committed for a partition by this thread.
    pub fn committed(&self, key: PartitionKey) -> Option<i64> {
        lock(&self.committed).get(&key).copied()
    }

    /// Forgets what was processed of revoked partitions (committed, or to
    /// be processed again by their next owner).
    pub fn revoked(&self, keys: &[PartitionKey]) {
        let mut pending = lock(&self.pending);
        for k in keys {
            pending.remove(k);
        }
    }

    /// Commits what was processed. Under at-least-once: waits until every
    /// record produced so far is acknowledged (a failed delivery is an
    /// error and nothing is committed), then commits the next offsets of
    /// what was processed, asynchronously.
    pub fn commit(
        &self,
        consumer: &BaseConsumer<ConsumerCtx>,
        producer: &BaseProducer<ProducerCtx>,
        routing: &Routing,
        reason: &'static str,
    ) -> Result<CommitOutcome, AppError> {
        match self.guarantee {
            Guarantee::AtLeastOnce => {}
        }
        // In slices: while it waits for the broker, the outage is reported.
        let deadline = Instant::now() + self.flush_timeout;
        let flushed = loop {
            match producer.flush(FLUSH_SLICE) {
                Err(_) if Instant::now() < deadline => consumer.context().logger().links().tick(),
                done => break done,
            }
        };
        producer.context().check()?;
        if let Err(e) = flushed {
            tracing::warn!(
                "not committing ({reason}): producer did not drain within {:?}: {e}",
                self.flush_timeout
            );
            return Ok(CommitOutcome::NotFlushed);
        }
        let snapshot: Vec<(PartitionKey, i64)> = lock(&self.pending).drain().collect();
        if snapshot.is_empty() {
            return Ok(CommitOutcome::Nothing);
        }
        let mut tpl = TopicPartitionList::with_capacity(snapshot.len());
        for &((topic, partition), offset) in &snapshot {
            tpl.add_partition_offset(routing.topic(topic), partition, Offset::Offset(offset))
                .map_err(|e| AppError::kafka("preparing offsets", e))?;
        }
        // Asynchronous: a synchronous commit waits without a timeout, and
        // after a broker outage it can wait for a rebalance that only this
        // thread's poll would serve: the thread hung (found by
        // tests/kafka_outage.rs). librdkafka retries an asynchronous commit
        // and waits for outstanding ones when the consumer closes; a lost
        // one means records processed again, which at-least-once allows.
        match consumer.commit(&tpl, CommitMode::Async) {
            Ok(()) => {
                lock(&self.committed).extend(snapshot.iter().copied());
                tracing::debug!(partitions = snapshot.len(), "committing offsets ({reason})");
                Ok(CommitOutcome::Committed(snapshot.len()))
            }
            Err(e) => {
                self.failed(reason, &e, snapshot);
                Ok(CommitOutcome::Refused)
            }
        }
    }

    /// A commit the broker refused, or that could not be sent: its offsets
    /// are committed with the next one (unless newer ones are pending).
    pub fn failed(&self, reason: &str, e: &KafkaError, offsets: Vec<(PartitionKey, i64)>) {
        tracing::warn!(
            "offset commit failed ({reason}): {e}; retried with the next commit (records since \
             the last commit are processed again if the partitions move meanwhile)"
        );
        let issued = lock(&self.committed).clone();
        let mut pending = lock(&self.pending);
        for (key, offset) in offsets {
            // Never behind a later commit already sent for the partition.
            if issued.get(&key).is_none_or(|&later| later <= offset) {
                pending.entry(key).or_insert(offset);
            }
        }
    }
}

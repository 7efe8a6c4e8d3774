//! librdkafka callbacks: logging through `tracing`, delivery reports, and
//! the consumer's rebalance hooks (commit on revocation, task changes).
//! What a commit does is [`super::commit`]'s.

use super::connectivity::{is_unreachable, Connectivity};
use super::error::AppError;
use super::routing::Routing;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, ProducerContext};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Locks, ignoring poisoning (a panicking stream thread stops the app anyway).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Routes librdkafka's logs and errors to `tracing`. librdkafka retries on
/// its own (broker down, leader moves), so errors are warnings unless fatal;
/// failures to reach a broker go to the application's [`Connectivity`],
/// which logs an outage once rather than every reconnection attempt.
pub(crate) struct ClientLogger {
    client: String,
    quiet: bool,
    links: Arc<Connectivity>,
}

impl ClientLogger {
    /// Logs for a client named `client` of the application whose brokers'
    /// reachability `links` tracks.
    pub fn new(client: impl Into<String>, links: Arc<Connectivity>) -> Self {
        ClientLogger {
            client: client.into(),
            quiet: false,
            links,
        }
    }

    /// Non-fatal errors at debug level: for the start-up admin client,
    /// whose caller reports unavailability itself.
    pub fn quiet(client: impl Into<String>) -> Self {
        ClientLogger {
            client: client.into(),
            quiet: true,
            links: Arc::default(),
        }
    }

    /// The application's account of broker reachability.
    pub fn links(&self) -> &Connectivity {
        &self.links
    }

    /// An error from a client call (`poll`, a fetch): a failure to reach
    /// the brokers goes to [`Connectivity`], anything else is a warning.
    pub fn client_error(&self, what: &str, error: &KafkaError) {
        if is_unreachable(error) {
            self.links.unreachable(&self.client, error);
        } else {
            tracing::warn!(client = %self.client, "{what} (retrying): {error}");
        }
    }
}

impl ClientContext for ClientLogger {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let client = self.client.as_str();
        // Connection failures ("FAIL") also reach the error callback, which
        // reports them through `Connectivity`; metadata cache updates
        // ("METADATAUPDATE": a leader not known yet while a broker restarts)
        // sort themselves out.
        let quiet = self.quiet || fac == "FAIL" || fac == "METADATAUPDATE";
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning
                if !quiet =>
            {
                tracing::warn!(client, facility = fac, "librdkafka: {log_message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info if !quiet => {
                tracing::info!(client, facility = fac, "librdkafka: {log_message}")
            }
            _ => tracing::debug!(client, facility = fac, "librdkafka: {log_message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let client = self.client.as_str();
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            // Not an error: the end of a partition, which tasks reading
            // several partitions take from their partitions' own queues.
            tracing::trace!(client, "{error}: {reason}");
        } else if error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) {
            tracing::error!(client, "fatal Kafka client error: {error}: {reason}");
        } else if self.quiet {
            tracing::debug!(client, "Kafka client error: {error}: {reason}");
        } else if is_unreachable(&error) {
            self.links
                .unreachable(client, &format_args!("{error}: {reason}"));
        } else {
            tracing::warn!(client, "Kafka client error (retrying): {error}: {reason}");
        }
    }
}

/// A changelog partition: internal topic index and partition number.
pub(crate) type ChangelogPartition = (usize, i32);

/// The delivery opaque of a record: `0` for any record but a changelog's,
/// `i + 1` for a record of internal topic `i`, a changelog (whose delivered
/// offsets are kept for the task's checkpoint).
pub(crate) fn changelog_opaque(internal: usize) -> usize {
    internal + 1
}

/// A consumer that needs no rebalance hooks (the restore consumer).
impl ConsumerContext for ClientLogger {}

/// The producer's context: counts failed deliveries, and keeps the offsets
/// of changelog records the broker acknowledged.
pub(crate) struct ProducerCtx {
    log: ClientLogger,
    failed: AtomicU64,
    first_failure: Mutex<Option<(String, String)>>,
    /// Per changelog partition, the offset after the highest acknowledged
    /// record (what a checkpoint records).
    changelog_offsets: Mutex<HashMap<ChangelogPartition, i64>>,
}

impl ProducerCtx {
    pub fn new(client: impl Into<String>, links: Arc<Connectivity>) -> Self {
        ProducerCtx {
            log: ClientLogger::new(client, links),
            failed: AtomicU64::new(0),
            first_failure: Mutex::new(None),
            changelog_offsets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether every delivery so far succeeded.
    pub fn no_failure(&self) -> bool {
        self.failed.load(Ordering::Acquire) == 0
    }

    /// The offset after the highest acknowledged record of a changelog
    /// partition, if this producer wrote to it.
    pub fn changelog_offset(&self, partition: ChangelogPartition) -> Option<i64> {
        lock(&self.changelog_offsets).get(&partition).copied()
    }

    /// Forgets changelog partitions (their task was closed).
    pub fn forget_changelogs(&self, partitions: &[ChangelogPartition]) {
        let mut offsets = lock(&self.changelog_offsets);
        for p in partitions {
            offsets.remove(p);
        }
    }

    /// Records the acknowledgement of offset `offset` of a changelog
    /// partition (from a delivery report; `-1`, unknown, is ignored).
    pub(crate) fn acknowledged(&self, partition: ChangelogPartition, offset: i64) {
        if offset < 0 {
            return;
        }
        let mut offsets = lock(&self.changelog_offsets);
        let next = offsets.entry(partition).or_insert(offset + 1);
        *next = (*next).max(offset + 1);
    }

    /// `Err` naming the first failed delivery's topic and reason, if any failed.
    pub fn check(&self) -> Result<(), AppError> {
        let failed = self.failed.load(Ordering::Acquire);
        if failed == 0 {
            return Ok(());
        }
        let (topic, reason) = lock(&self.first_failure)
            .clone()
            .unwrap_or_else(|| ("?".into(), "unknown".into()));
        Err(AppError::Delivery {
            topic,
            reason,
            failed,
        })
    }
}

impl ClientContext for ProducerCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.log.log(level, fac, log_message)
    }
    fn error(&self, error: KafkaError, reason: &str) {
        self.log.error(error, reason)
    }
}

impl ProducerContext for ProducerCtx {
    /// See [`changelog_opaque`].
    type DeliveryOpaque = usize;

    fn delivery(&self, delivery_result: &DeliveryResult<'_>, opaque: usize) {
        if delivery_result.is_ok() {
            self.log.links.reached();
        }
        if let (Ok(message), Some(internal)) = (delivery_result, opaque.checked_sub(1)) {
            self.acknowledged((internal, message.partition()), message.offset());
        }
        if let Err((error, message)) = delivery_result {
            let topic = message.topic().to_owned();
            tracing::error!(client = %self.log.client, topic = %topic,
                partition = message.partition(), "record could not be delivered: {error}");
            let mut first = lock(&self.first_failure);
            if first.is_none() {
                *first = Some((topic, error.to_string()));
            }
            self.failed.fetch_add(1, Ordering::Release);
        }
    }
}

use super::commit::Committer;
pub(crate) use super::commit::{CommitOutcome, PartitionKey};

/// Assignment changes, applied by the stream thread after `poll` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Assigned(Vec<PartitionKey>),
    Revoked(Vec<PartitionKey>),
}

/// The consumer's context. Owns the thread's producer (so a revocation can
/// flush it before committing) and the offsets processed but not committed.
pub(crate) struct ConsumerCtx {
    log: ClientLogger,
    pub producer: BaseProducer<ProducerCtx>,
    routing: Arc<Routing>,
    /// Offsets processed and committed, and how they are committed.
    committer: Committer,
    changes: Mutex<Vec<Change>>,
    has_changes: AtomicBool,
    failure: Mutex<Option<AppError>>,
    /// Set once the final commit was attempted: the revocation on close
    /// must not flush and commit again.
    closed: AtomicBool,
}

impl ConsumerCtx {
    pub fn new(
        client: impl Into<String>,
        links: Arc<Connectivity>,
        producer: BaseProducer<ProducerCtx>,
        routing: Arc<Routing>,
        flush_timeout: Duration,
    ) -> Self {
        ConsumerCtx {
            log: ClientLogger::new(client, links),
            producer,
            committer: Committer::at_least_once(flush_timeout),
            routing,
            changes: Mutex::new(Vec::new()),
            has_changes: AtomicBool::new(false),
            failure: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }

    /// The consumer's logger (and, through it, the application's account
    /// of broker reachability).
    pub fn logger(&self) -> &ClientLogger {
        &self.log
    }

    /// The offset last committed for `(topic, partition)` by this consumer.
    pub fn committed(&self, key: PartitionKey) -> Option<i64> {
        self.committer.committed(key)
    }

    /// Records that `offset` of `(topic, partition)` was processed.
    #[inline]
    pub fn processed(&self, topic: usize, partition: i32, offset: i64) {
        self.committer.processed((topic, partition), offset);
    }

    /// Assignment changes since the last call.
    pub fn take_changes(&self) -> Vec<Change> {
        // A plain load first: this runs after every poll.
        if !self.has_changes.load(Ordering::Acquire)
            || !self.has_changes.swap(false, Ordering::AcqRel)
        {
            return Vec::new();
        }
        std::mem::take(&mut *lock(&self.changes))
    }

    /// An error raised inside a callback (which cannot return one).
    pub fn take_failure(&self) -> Option<AppError> {
        lock(&self.failure).take()
    }

    /// No more commits from the revocation callback.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    fn keys(&self, tpl: &TopicPartitionList) -> Vec<PartitionKey> {
        tpl.elements()
            .iter()
            .filter_map(|e| {
                self.routing
                    .route(e.topic())
                    .map(|r| (r.topic, e.partition()))
            })
            .collect()
    }

    /// Commits what was processed (see [`Committer::commit`]).
    pub fn commit(
        &self,
        consumer: &BaseConsumer<ConsumerCtx>,
        reason: &'static str,
    ) -> Result<CommitOutcome, AppError> {
        self.committer
            .commit(consumer, &self.producer, &self.routing, reason)
    }

    fn push_change(&self, change: Change) {
        lock(&self.changes).push(change);
        self.has_changes.store(true, Ordering::Release);
    }
}

impl ClientContext for ConsumerCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.log.log(level, fac, log_message)
    }
    fn error(&self, error: KafkaError, reason: &str) {
        self.log.error(error, reason)
    }
}

impl ConsumerContext for ConsumerCtx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                let keys = self.keys(tpl);
                tracing::info!(partitions = tpl.count(), "partitions revoked");
                if self.closed.load(Ordering::Acquire) {
                    // The final commit already ran.
                } else if consumer.assignment_lost() {
                    tracing::warn!(
                        "partitions lost (session expired?): not committing; their records \
                         since the last commit will be processed again"
                    );
                } else if let Err(e) = self.commit(consumer, "revocation") {
                    let mut failure = lock(&self.failure);
                    if failure.is_none() {
                        *failure = Some(e);
                    }
                }
                self.committer.revoked(&keys);
                self.push_change(Change::Revoked(keys));
            }
            Rebalance::Assign(tpl) => {
                tracing::info!(partitions = tpl.count(), "partitions assigned");
                self.push_change(Change::Assigned(self.keys(tpl)));
            }
            Rebalance::Error(e) => tracing::warn!("rebalance error: {e}"),
        }
    }

    fn commit_callback(
        &self,
        result: rdkafka::error::KafkaResult<()>,
        offsets: &TopicPartitionList,
    ) {
        let committed: Vec<(PartitionKey, i64)> = offsets
            .elements()
            .iter()
            .filter_map(|e| {
                let route = self.routing.route(e.topic())?;
                match e.offset() {
                    Offset::Offset(o) => Some(((route.topic, e.partition()), o)),
                    _ => None,
                }
            })
            .collect();
        match result {
            Ok(()) => {
                self.log.links.reached();
                tracing::debug!(partitions = committed.len(), "committed offsets");
            }
            Err(e) => self.committer.failed("answer", &e, committed),
        }
    }
}

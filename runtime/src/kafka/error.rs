//! Why an application could not start or stopped: [`AppError`], the error
//! of the Kafka runtime's every part (start-up, stream threads, state,
//! commits) and of [`crate::app::App`].

use crate::config::ConfigError;
use crate::error::ProcessError;
use crate::task::TaskId;

/// Why an application could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// Invalid configuration.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A plan the runtime cannot run (e.g. a topic read by two sources).
    #[error("invalid topology: {0}")]
    InvalidTopology(String),
    /// Source topics that do not exist: they must be created before the
    /// application starts, as with Kafka Streams.
    #[error("source topics do not exist: {} (create them before starting the application)", .0.join(", "))]
    MissingSourceTopics(Vec<String>),
    /// Source topics of one sub-topology with different partition counts.
    #[error("topics of sub-topology {subtopology} are not co-partitioned: {}", fmt_counts(.topics))]
    NotCopartitioned {
        /// The sub-topology.
        subtopology: usize,
        /// Its source topics with their partition counts.
        topics: Vec<(String, i32)>,
    },
    /// An existing internal topic whose partition count is not the one the
    /// topology needs.
    #[error("existing internal topic `{topic}` has {actual} partitions, expected {expected}")]
    InternalTopicPartitions {
        /// Full topic name.
        topic: String,
        /// What the topology needs.
        expected: i32,
        /// What the broker has.
        actual: i32,
    },
    /// An internal topic could not be created.
    #[error("cannot create internal topic `{topic}`: {reason}")]
    CreateTopic {
        /// Full topic name(s).
        topic: String,
        /// The broker's answer.
        reason: String,
    },
    /// A Kafka client operation failed.
    #[error("Kafka error while {operation}: {reason}")]
    Kafka {
        /// What was being done.
        operation: &'static str,
        /// librdkafka's error.
        reason: String,
    },
    /// Produced records that the broker did not acknowledge: offsets were
    /// not committed, so their inputs will be processed again on restart.
    #[error("{failed} record(s) could not be delivered, the first to `{topic}`: {reason} (offsets not committed)")]
    Delivery {
        /// Destination topic of the first failed record.
        topic: String,
        /// Why it failed.
        reason: String,
        /// Failed deliveries counted.
        failed: u64,
    },
    /// A record could not be processed (including a deserialization error
    /// under log-and-fail).
    #[error("task {task} failed: {source}")]
    Process {
        /// The task.
        task: TaskId,
        /// What went wrong (its message names topic, partition and offset).
        source: ProcessError,
    },
    /// A task's state stores could not be opened or written.
    #[error("task {task}: {source}")]
    Store {
        /// The task.
        task: TaskId,
        /// The store error.
        source: crate::store::StoreError,
    },
    /// A task's state directory could not be created, or a file in it
    /// removed.
    #[error("task {task}: state directory: `{}`: {source}", .path.display())]
    StateDirectory {
        /// The task.
        task: TaskId,
        /// The directory or file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A task's stores are locked by someone else: another application
    /// instance (or process) using the same `state.dir`.
    #[error("task {task}: state directory `{}` is in use by another instance of the application (each instance needs its own `state.dir`): {reason}", .path.display())]
    StateDirectoryLocked {
        /// The task.
        task: TaskId,
        /// Its state directory.
        path: std::path::PathBuf,
        /// The lock error.
        reason: String,
    },
    /// A store could not be restored from its changelog.
    #[error("task {task}: cannot restore store `{store}` from changelog `{topic}`: {reason}")]
    Restore {
        /// The task.
        task: TaskId,
        /// The store.
        store: String,
        /// The changelog partition (`topic-partition`).
        topic: String,
        /// What went wrong.
        reason: String,
    },
    /// A stream thread panicked.
    #[error("stream thread `{0}` panicked")]
    ThreadPanicked(String),
    /// An operating-system error (starting a thread, installing signal handlers).
    #[error("cannot {what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

fn fmt_counts(topics: &[(String, i32)]) -> String {
    topics
        .iter()
        .map(|(t, n)| format!("`{t}` ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl AppError {
    pub(crate) fn kafka(operation: &'static str, e: rdkafka::error::KafkaError) -> Self {
        AppError::Kafka {
            operation,
            reason: e.to_string(),
        }
    }
}

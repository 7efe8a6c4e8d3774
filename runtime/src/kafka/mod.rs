//! The Kafka runtime, at-least-once, on librdkafka (through `rdkafka`).
//!
//! [`crate::app::App`] is the entry point; this module holds its parts:
//!
//! - client configuration (`clients`): what each librdkafka client is given,
//!   Kafka Streams' defaults first, then the user's `consumer.*` /
//!   `producer.*` / `admin.*` entries;
//! - start-up (`admin`): wait for the broker, check that source topics exist
//!   and are co-partitioned, create internal (repartition) topics;
//! - stream threads (`thread`): one consumer and one producer each, one
//!   [`crate::Task`] per (sub-topology, partition), offsets committed only
//!   once every record produced before them is acknowledged;
//! - task state (`state`): state directories, restoration of stores from
//!   their changelogs before a task runs, checkpoint files.
//!
//! Partitioning: producers use librdkafka's `murmur2_random` partitioner,
//! the same hash as Java's default partitioner for keyed records, so a
//! weir application and a Kafka Streams one put a key in the same partition.
//! Changelog records go to the partition of the task that writes them.

mod admin;
mod callbacks;
mod clients;
mod collector;
mod commit;
mod connectivity;
mod error;
mod routing;
mod state;
mod thread;

pub use error::AppError;

pub use clients::{admin_config, consumer_config, producer_config, restore_consumer_config};

pub(crate) use admin::prepare_topics;
pub(crate) use connectivity::Connectivity;
pub(crate) use routing::Routing;
pub(crate) use thread::{run_stream_thread, IdleTracker, ThreadSummary};

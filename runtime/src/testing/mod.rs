//! Test support: running compiled topologies without Kafka, as Kafka
//! Streams' `kafka-streams-test-utils` does.
//!
//! - [`driver`]: [`TopologyTestDriver`], a topology run in memory through
//!   the same tasks as the Kafka runtime.
//! - [`topics`]: its input and output topics.
//! - [`stores`]: typed views of its tasks' stores.
//! - [`test_record`]: [`TestRecord`], a record with timestamp and headers.
//!
//! A real broker for integration tests is the dev-only crate
//! `weir-test-kafka` (`LocalKafka`), which applications do not link.

pub mod driver;
pub mod stores;
pub mod test_record;
pub mod topics;

pub use driver::TopologyTestDriver;
pub use stores::{TestKeyValueStore, TestSessionStore, TestWindowStore};
pub use test_record::TestRecord;
pub use topics::{TestInputTopic, TestOutputTopic};

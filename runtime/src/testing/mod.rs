//! Test support: what weir's own tests, examples and `cargo xtask` use to run
//! topologies without, or against real, Kafka.
//!
//! - [`driver`]: [`TopologyTestDriver`], a topology run in memory, as Kafka
//!   Streams' `kafka-streams-test-utils`.
//! - [`broker`]: a real single-node Apache Kafka broker (KRaft), installed
//!   with Maven and run as a child JVM ([`broker::LocalKafka`]).

pub mod broker;
pub mod driver;
pub mod test_record;

pub use driver::{
    TestInputTopic, TestKeyValueStore, TestOutputTopic, TestWindowStore, TopologyTestDriver,
};
pub use test_record::TestRecord;

//! weir-runtime: what compiled weir topologies link against. It knows nothing
//! of the DSL's syntax: generated code reaches it through [`__private`].
//!
//! Modules, from the bottom up (a module uses only those above it in this
//! list):
//!
//! - records and bytes: [`serde`], [`error`], [`record`], [`time`] (windows,
//!   windowed keys), [`format`] (every byte layout);
//! - state: [`store`] (backends, the record cache, the task's store
//!   registry, restoration, checkpoints);
//! - the contract with generated code: [`topology`] (traits, static plan,
//!   the task context);
//! - what generated code calls: [`ops`] (stateful operators), [`processor`]
//!   (the Processor API), [`suppress`] (its configuration);
//! - running: [`config`], [`task`] (a task's life, the partition group),
//!   [`kafka`] (stream threads on librdkafka), [`testing`] (the
//!   `TopologyTestDriver`), [`app`] and [`cli`].

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod format;
pub mod record;
pub mod serde;
pub mod time;

pub mod store;

pub mod topology;

pub mod ops;
pub mod processor;
pub mod suppress;

pub mod app;
pub mod cli;
pub mod config;
pub mod kafka;
pub mod task;
pub mod testing;

#[doc(hidden)]
pub mod __private;

pub use app::App;
pub use config::{ConfigError, DeserializationHandler, StreamsConfig};
pub use error::{ProcessError, RecordPart};
pub use record::{Headers, RecordContext, SourceRecord};
pub use serde::{Json, Serde, SerdeError};
pub use task::{Task, TaskId, TaskMetrics};
pub use time::{
    EmitStrategy, SessionWindowed, SessionWindows, SlidingWindows, TimeWindows, Window, Windowed,
};
pub use topology::{Plan, RecordCollector, SinkTopic, Topology, TopologyDescription};

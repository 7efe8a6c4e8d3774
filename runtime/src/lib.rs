//! weir-runtime: what compiled weir topologies link against. It knows nothing
//! of the DSL's syntax: generated code reaches it through [`__private`].

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod record;
pub mod serde;
pub mod topology;

#[doc(hidden)]
pub mod __private;

pub use error::{ProcessError, RecordPart};
pub use record::{Headers, RecordContext, SourceRecord};
pub use serde::{Json, Serde, SerdeError};
pub use topology::{Plan, RecordCollector, SinkTopic, Topology, TopologyDescription};
pub mod config;
pub mod store;
pub mod suppress;
pub mod task;
pub mod time;
pub use config::{ConfigError, DeserializationHandler, StreamsConfig};
pub use session::SessionWindows;
pub use sliding::SlidingWindows;
pub use task::{Task, TaskId, TaskMetrics};
pub use time::{EmitStrategy, SessionWindowed, TimeWindows, Window, Windowed};
pub mod app;
pub mod cached;
pub mod cli;
pub mod kafka;
pub mod processor;
pub mod session;
pub mod sliding;
pub mod testing;
pub use app::App;

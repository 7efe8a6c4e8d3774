//! # weir
//!
//! Kafka Streams' semantics for Rust, with the topology compiled at build
//! time. Write a topology in Kafka Streams' vocabulary inside
//! `#[weir::topology]`; the compiler turns it into one specialised processor
//! per sub-topology; run it against Kafka with [`App`] or without a broker
//! with [`testing::TopologyTestDriver`].
//!
//! ```
//! use weir::prelude::*;
//!
//! #[weir::topology]
//! fn shout() -> impl Topology {
//!     let builder = StreamsBuilder::new();
//!     builder
//!         .stream::<String, String>("words")
//!         .filter(|_key, word| !word.is_empty())
//!         .map_values(|word| word.to_uppercase())
//!         .to("shouted");
//!     builder.build()
//! }
//!
//! let driver = TopologyTestDriver::new(shout());
//! let input = driver.create_input_topic::<String, String>("words");
//! let output = driver.create_output_topic::<String, String>("shouted");
//! input.pipe_input("k".to_string(), "hello".to_string());
//! assert_eq!(output.read_value(), "HELLO");
//! ```

#![deny(unsafe_code)]

pub use weir_macros::topology;
// TODO(lead): re-export app, cli, kafka, App once they land.
pub use weir_runtime::{
    config, error, record, serde, task, testing, topology as plan,
    ConfigError, DeserializationHandler, Headers, Json, Plan, ProcessError, RecordCollector,
    RecordContext, Serde, SerdeError, StreamsConfig, Topology, TopologyDescription,
};

#[doc(hidden)]
pub use weir_runtime::__private;

/// The DSL's vocabulary. `StreamsBuilder` exists only for the compiler to
/// read inside `#[weir::topology]`: nothing of it exists at run time.
pub struct StreamsBuilder(());

impl StreamsBuilder {
    /// Starts a topology (inside `#[weir::topology]` only).
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        StreamsBuilder(())
    }
}

/// What a topology module usually needs.
pub mod prelude {
    pub use crate::testing::{TestRecord, TopologyTestDriver};
    pub use crate::{topology, Headers, Json, RecordContext, StreamsBuilder, Topology};
}

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
pub use weir_runtime::{
    app, cli, config, error, kafka, processor, record, serde, store, suppress, task, testing, time,
    topology as plan, App, ConfigError, DeserializationHandler, EmitStrategy, Headers, Json, Plan,
    ProcessError, RecordCollector, RecordContext, Serde, SerdeError, SessionWindowed,
    SessionWindows, SlidingWindows, StreamsConfig, TimeWindows, Topology, TopologyDescription,
    Window, Windowed,
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
    pub use crate::cli::AppArgs;
    pub use crate::processor::{
        FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord, Processor, ProcessorContext,
        Punctuation, PunctuationType, Record,
    };
    pub use crate::suppress::{
        max_records, unbounded, until_time_limit, until_window_closes, BufferConfig, Suppressed,
    };
    pub use crate::testing::{TestRecord, TopologyTestDriver};
    pub use crate::{
        topology, App, EmitStrategy, Headers, Json, RecordContext, SessionWindowed, SessionWindows,
        SlidingWindows, StreamsBuilder, StreamsConfig, TimeWindows, Topology, Windowed,
    };
}

/// Runs `topology` as the executable's application: parses the command line
/// (`--bootstrap-servers`, `--application-id`, `--threads`, `--config
/// KEY=VALUE`, `--max-idle-ms`, `--help`), sets up logging (`RUST_LOG`,
/// default `info`), runs until SIGINT/SIGTERM (or idle), and prints what it
/// did. The process exit code tells success.
pub fn run_app<T: Topology>(name: &str, about: &str, topology: T) -> std::process::ExitCode {
    let args = cli::AppArgs::from_env(name, about);
    init_logging();
    let outcome = args
        .config()
        .map_err(app::AppError::from)
        .and_then(|config| App::new(topology, config))
        .and_then(App::run);
    match outcome {
        Ok(summary) => {
            eprintln!(
                "{name}: processed {} records, produced {}, skipped {} malformed, dropped {} (late or null keys)",
                summary.processed, summary.produced, summary.skipped_records, summary.dropped_records
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to stderr with `tracing`, filtered by `RUST_LOG` (default `info`).
/// Does nothing if a subscriber is already installed.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

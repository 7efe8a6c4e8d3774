//! Running a compiled topology against Kafka, at-least-once.
//!
//! ```no_run
//! # fn demo<T: weir_runtime::Topology>(topology: T) -> Result<(), weir_runtime::app::AppError> {
//! use weir_runtime::{App, StreamsConfig};
//! let mut config = StreamsConfig::new("wordcount");
//! config.set("bootstrap.servers", "localhost:9092")?;
//! let summary = App::new(topology, config)?.run()?; // until SIGINT/SIGTERM
//! println!("processed {} records", summary.processed);
//! # Ok(()) }
//! ```
//!
//! Semantics follow Kafka Streams under `processing.guarantee=at_least_once`:
//! the consumer group is `application.id`; each of `num.stream.threads`
//! threads has its own consumer and producer; there is one task per
//! (sub-topology, partition); offsets are committed every
//! `commit.interval.ms`, on revocation and at shutdown, and only once every
//! record produced before them is acknowledged by the broker.
//!
//! Stateful tasks keep their stores in `<state.dir>/<application.id>/<task>`;
//! a task restores its stores from their changelogs before it processes
//! anything (from the checkpoint a clean close or a commit wrote, for RocksDB
//! stores), and checkpoints the changelog offsets after every commit.

use crate::config::StreamsConfig;
pub use crate::kafka::AppError;
use crate::kafka::{
    prepare_topics, run_stream_thread, Connectivity, IdleTracker, Routing, ThreadSummary,
};
use crate::topology::Topology;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a run did, summed over threads and tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Records run through the topology.
    pub processed: u64,
    /// Records skipped by the deserialization handler (log-and-continue).
    pub skipped_records: u64,
    /// Records the processors dropped: late for their window, or a null key
    /// (or value) an aggregation cannot take.
    pub dropped_records: u64,
    /// Records handed to the producer (and acknowledged, unless the run failed).
    pub produced: u64,
    /// Changelog records written into stores while restoring them, before
    /// their tasks ran (from a checkpoint: only what came after it).
    pub restored: u64,
}

impl RunSummary {
    fn add(&mut self, t: &ThreadSummary) {
        self.processed += t.tasks.processed;
        self.skipped_records += t.tasks.skipped_records;
        self.dropped_records += t.tasks.dropped_records;
        self.produced += t.produced;
        self.restored += t.restored;
    }
}

/// Stops a running [`App`] gracefully: threads finish their current record,
/// flush, commit and leave the group. Cloneable, `Send`.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<AtomicBool>);

impl ShutdownHandle {
    /// Requests shutdown; [`App::run`] returns once it is done.
    pub fn shutdown(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown was requested (by a handle, a signal, an error or
    /// `weir.max.idle.ms`).
    pub fn is_shutdown(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A topology bound to a configuration, ready to run against Kafka.
pub struct App<T: Topology> {
    topology: T,
    config: Arc<StreamsConfig>,
    routing: Arc<Routing>,
    stop: Arc<AtomicBool>,
    handle_signals: bool,
}

impl<T: Topology> std::fmt::Debug for App<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("topology", &self.topology.plan().name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Signal handlers installed for one run; removed on drop.
struct Signals(Vec<signal_hook::SigId>);

impl Signals {
    /// First SIGINT/SIGTERM: graceful shutdown. Second: exit at once.
    fn install(stop: &Arc<AtomicBool>) -> Result<Self, AppError> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let io = |source| AppError::Io {
            what: "install signal handlers",
            source,
        };
        let signalled = Arc::new(AtomicBool::new(false));
        let mut ids = Vec::new();
        for sig in [SIGINT, SIGTERM] {
            // Order matters: the exit check runs before the flag is set.
            ids.push(
                signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&signalled))
                    .map_err(io)?,
            );
            ids.push(signal_hook::flag::register(sig, Arc::clone(&signalled)).map_err(io)?);
            ids.push(signal_hook::flag::register(sig, Arc::clone(stop)).map_err(io)?);
        }
        Ok(Signals(ids))
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.0.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// Sets the stop flag if the thread unwinds.
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

impl<T: Topology> App<T> {
    /// Binds `topology` to `config`, checking the configuration and the plan.
    pub fn new(topology: T, config: StreamsConfig) -> Result<Self, AppError> {
        config.validate()?;
        let routing = Routing::new(topology.plan(), &config.application_id)?;
        Ok(App {
            topology,
            config: Arc::new(config),
            routing: Arc::new(routing),
            stop: Arc::new(AtomicBool::new(false)),
            handle_signals: true,
        })
    }

    /// Whether [`App::run`] installs SIGINT/SIGTERM handlers (default: yes).
    /// A first signal shuts down gracefully, a second exits at once.
    pub fn handle_signals(mut self, yes: bool) -> Self {
        self.handle_signals = yes;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &StreamsConfig {
        &self.config
    }

    /// A handle that stops [`App::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(Arc::clone(&self.stop))
    }

    /// Runs until shutdown (handle, signal, `weir.max.idle.ms`) or an error:
    /// waits for the broker, checks source topics, creates internal topics,
    /// then runs `num.stream.threads` stream threads.
    pub fn run(self) -> Result<RunSummary, AppError> {
        let _signals = if self.handle_signals {
            Some(Signals::install(&self.stop)?)
        } else {
            None
        };
        let plan = self.topology.plan();
        let span = tracing::info_span!("weir_app", app = %self.config.application_id);
        let _entered = span.enter();
        tracing::info!(
            topology = plan.name,
            threads = self.config.num_stream_threads,
            bootstrap_servers = %self.config.bootstrap_servers,
            "starting"
        );
        // Window stores' retention is known once the topology's windows
        // are constructed: their changelogs are created with it.
        let mut prototype = self.topology.clone();
        let window_retention: std::collections::HashMap<String, i64> = plan
            .stores
            .iter()
            .filter_map(|st| {
                let changelog = st.changelog?;
                let (sub, index, _) = plan.locate_store(st.name)?;
                let retention = prototype.context(sub)?.retention_ms(index)?;
                Some((
                    plan.internal_topic_name(&self.config.application_id, changelog),
                    retention,
                ))
            })
            .collect();
        let Some(setup) = prepare_topics(&self.config, plan, &window_retention, &self.stop)? else {
            tracing::info!("shutdown requested before the broker answered");
            return Ok(RunSummary::default());
        };
        tracing::debug!(partitions = ?setup.partitions, "topics ready");

        let threads = self.config.num_stream_threads.max(1);
        let idle = Arc::new(IdleTracker::new(
            threads,
            self.config.max_idle_ms.map(Duration::from_millis),
        ));
        // One account of broker reachability for all clients of all threads.
        let links = Arc::new(Connectivity::default());
        let mut handles = Vec::with_capacity(threads);
        let mut spawn_error = None;
        for index in 0..threads {
            let name = format!("{}-StreamThread-{}", self.config.application_id, index + 1);
            let topology = self.topology.clone();
            let config = Arc::clone(&self.config);
            let routing = Arc::clone(&self.routing);
            let stop = Arc::clone(&self.stop);
            let idle = Arc::clone(&idle);
            let links = Arc::clone(&links);
            let spawned = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    let _guard = StopOnPanic(&stop);
                    run_stream_thread(index, topology, &config, routing, &stop, &idle, &links)
                });
            match spawned {
                Ok(h) => handles.push((name, h)),
                Err(source) => {
                    self.stop.store(true, Ordering::SeqCst);
                    spawn_error = Some(AppError::Io {
                        what: "start a stream thread",
                        source,
                    });
                    break;
                }
            }
        }

        let mut summary = RunSummary::default();
        let mut first_error = spawn_error;
        for (name, handle) in handles {
            match handle.join() {
                Ok(Ok(s)) => summary.add(&s),
                Ok(Err(e)) => {
                    tracing::error!(thread = %name, "stream thread failed: {e}");
                    first_error.get_or_insert(e);
                }
                Err(_) => {
                    first_error.get_or_insert(AppError::ThreadPanicked(name));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => {
                tracing::info!(
                    processed = summary.processed,
                    skipped = summary.skipped_records,
                    produced = summary.produced,
                    restored = summary.restored,
                    "stopped"
                );
                Ok(summary)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;
    use crate::error::ProcessError;
    use crate::record::SourceRecord;
    use crate::topology::{
        Plan, RecordCollector, SourcePlan, SubTopology, SubTopologyPlan, SubVisitor, TaskContext,
        TopicRef,
    };

    static PLAN: Plan = Plan {
        name: "passthrough",
        subtopologies: &[SubTopologyPlan {
            copartitioned: false,
            clocked: false,
            cached: false,
            sources: &[SourcePlan {
                name: "KSTREAM-SOURCE-0000000000",
                topics: &[TopicRef::Named("in")],
            }],
        }],
        internal_topics: &[],
        stores: &[],
        description: "",
        mermaid: "",
    };

    #[derive(Clone, Default)]
    struct Passthrough(TaskContext);

    impl Topology for Passthrough {
        fn plan(&self) -> &'static Plan {
            &PLAN
        }
        fn with_sub<'a, V: SubVisitor<'a>>(&'a mut self, sub: usize, v: V) -> Option<V::Output> {
            (sub == 0).then(|| v.visit(self))
        }
    }

    impl SubTopology for Passthrough {
        fn context(&mut self) -> &mut TaskContext {
            &mut self.0
        }
        fn process<C: RecordCollector>(
            &mut self,
            _source: usize,
            record: SourceRecord<'_>,
            out: &mut C,
        ) -> Result<(), ProcessError> {
            out.send(
                crate::topology::SinkTopic::Named("out"),
                record.key,
                record.value,
                &record.context,
            )
        }
    }

    #[test]
    fn new_validates_the_configuration() {
        let e = App::new(Passthrough::default(), StreamsConfig::new("")).unwrap_err();
        assert!(matches!(
            e,
            AppError::Config(ConfigError::Missing("application.id"))
        ));
        let app = App::new(Passthrough::default(), StreamsConfig::new("app")).unwrap();
        assert_eq!(app.config().application_id, "app");
    }

    #[test]
    fn shutdown_before_the_broker_answers_returns_an_empty_summary() {
        let mut config = StreamsConfig::new("app");
        // Nothing listens on port 1.
        config.set("bootstrap.servers", "127.0.0.1:1").unwrap();
        let app = App::new(Passthrough::default(), config)
            .unwrap()
            .handle_signals(false);
        let handle = app.shutdown_handle();
        let runner = std::thread::spawn(move || app.run());
        std::thread::sleep(Duration::from_millis(300));
        handle.shutdown();
        assert!(handle.is_shutdown());
        let summary = runner.join().unwrap().unwrap();
        assert_eq!(summary, RunSummary::default());
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let e = AppError::NotCopartitioned {
            subtopology: 1,
            topics: vec![("a".into(), 3), ("b".into(), 4)],
        };
        assert_eq!(
            e.to_string(),
            "topics of sub-topology 1 are not co-partitioned: `a` (3), `b` (4)"
        );
        let e = AppError::MissingSourceTopics(vec!["x".into(), "y".into()]);
        assert!(e
            .to_string()
            .starts_with("source topics do not exist: x, y"));
    }
}

//! weir-test-kafka (dev only): a real Apache Kafka broker for integration tests and `cargo xtask broker`,
//! installed and run by the project itself: no Docker, no system-wide Kafka.
//!
//! [`LocalKafka::start`] runs one single-node KRaft cluster (broker and
//! controller in one JVM) on free loopback ports, with its data in a fresh
//! temporary directory. The broker's jars come from Maven Central: the first
//! use runs `mvn dependency:build-classpath` on `test-kafka/broker/pom.xml`
//! (`org.apache.kafka:kafka_2.13:4.1.1` and its log4j2 binding) and caches the
//! classpath, see [`classpath`]. Java 17+ and Maven must be on `PATH`.
//!
//! ```no_run
//! use weir_test_kafka::LocalKafka;
//!
//! let kafka = LocalKafka::shared()?; // one broker per test process
//! kafka.create_topic("orders", 3)?;
//! let bootstrap = kafka.bootstrap_servers(); // "127.0.0.1:<port>"
//! # Ok::<(), weir_test_kafka::BrokerError>(())
//! ```
//!
//! The JVM never outlives the process that started it, even when that process
//! is killed or exits without running destructors (a test binary does not
//! drop its statics): it is started by a small `bash` supervisor that holds
//! the read end of a pipe whose write end only the Rust process holds. End of
//! file on that pipe (an explicit [`LocalKafka::stop`], `Drop`, or the death
//! of the owner) makes the supervisor stop the broker (SIGTERM, then SIGKILL
//! after 10 s) and delete its directory.
//!
//! Environment:
//! - `WEIR_KAFKA_CACHE`: directory for `classpath.txt` and `mvn.log`
//!   (default `$HOME/.cache/weir/kafka-4.1.1`).
//! - `WEIR_KAFKA_KEEP_DIR=1`: keep the broker's directory (data, config,
//!   `broker.log`) after it stops, for post-mortems.
//! - `JAVA_HOME`: the `java` to use (default: `java` on `PATH`).

use std::collections::hash_map::RandomState;
use std::fs::{self, File};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

/// The Apache Kafka version run (`org.apache.kafka:kafka_2.13`, see
/// `test-kafka/broker/pom.xml`).
pub const KAFKA_VERSION: &str = "4.1.1";

/// The Maven project listing the broker's jars.
const POM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/broker/pom.xml");

/// The broker's log4j2 configuration, written into each broker directory.
const LOG4J2: &str = include_str!("../broker/log4j2.properties");

/// How long [`LocalKafka::start`] waits for the broker to answer metadata.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long [`LocalKafka::stop`] waits for the JVM before killing it. The
/// supervisor itself sends SIGKILL after 10 s of SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(12);

/// How long [`LocalKafka::create_topic`] waits for the topic to be usable.
const TOPIC_TIMEOUT: Duration = Duration::from_secs(30);

/// The JVM options of the broker: a small heap and a serial collector (the
/// broker is idle most of the time; tests often run on two cores), C1 only
/// (faster start-up, plenty fast for test traffic).
const BROKER_JVM_OPTS: &[&str] = &[
    "-Xms64m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
];

/// The JVM options of the one-shot `StorageTool format`.
const TOOL_JVM_OPTS: &[&str] = &[
    "-Xmx128m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
];

/// The supervisor: `bash -c SUPERVISOR weir-kafka <dir> <keep> <java> <args>...`.
///
/// Starts java in the background with the pipe from the Rust process moved to
/// fd 3, prints java's pid on stdout, and exits with java's status. A
/// background subshell blocks reading fd 3; at end of file it stops java
/// (SIGTERM, SIGKILL after 10 s) and removes `<dir>` unless `<keep>` is 1 or
/// the line `keep` came through the pipe first ([`LocalKafka::pause`]).
/// SIGINT is ignored by both (and thus by java, a background job): a Ctrl-C
/// reaches the whole foreground process group, and the owner decides.
const SUPERVISOR: &str = r#"
set -u
dir=$1; keep=$2; shift 2
exec 3<&0 0</dev/null
trap '' INT
"$@" 3<&- 1>&2 &
java=$!
echo "$java"
(
  while read -r line <&3; do [ "$line" = keep ] && keep=1; done
  exec 3<&-
  if [ ! -e "$dir/java.exited" ] && kill -0 "$java" 2>/dev/null; then
    kill -TERM "$java" 2>/dev/null
    i=0
    while [ ! -e "$dir/java.exited" ] && kill -0 "$java" 2>/dev/null && [ "$i" -lt 100 ]; do
      sleep 0.1; i=$((i + 1))
    done
    if [ ! -e "$dir/java.exited" ] && kill -0 "$java" 2>/dev/null; then
      echo "weir: the broker ignored SIGTERM for 10 s: SIGKILL" >&2
      kill -KILL "$java" 2>/dev/null
    fi
  fi
  if [ "$keep" != 1 ]; then
    i=0
    while [ ! -e "$dir/java.exited" ] && [ "$i" -lt 50 ]; do
      sleep 0.1; i=$((i + 1))
    done
    rm -rf -- "$dir"
  fi
) >/dev/null &
exec 3<&-
wait "$java"
status=$?
echo "weir: the broker exited with status $status" >&2
: 2>/dev/null >"$dir/java.exited"
exit "$status"
"#;

/// Why the local broker could not be installed, started or used.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// `mvn` or `java` is not installed.
    #[error(
        "{tool} not found ({source}): install Maven and Java 17 to run the local Kafka broker"
    )]
    ToolMissing {
        /// `mvn`, `java` or `bash`.
        tool: String,
        /// The error spawning it.
        source: io::Error,
    },
    /// `mvn dependency:build-classpath` failed.
    #[error("resolving the Kafka broker's classpath with Maven failed ({status}); end of {log}:\n{tail}")]
    Maven {
        /// Exit status, or what else went wrong.
        status: String,
        /// Maven's full output.
        log: PathBuf,
        /// The end of that output.
        tail: String,
    },
    /// `kafka.tools.StorageTool format` failed.
    #[error("formatting the Kafka storage failed ({status}):\n{output}")]
    Format {
        /// Exit status.
        status: String,
        /// The tool's output.
        output: String,
    },
    /// The broker process exited during start-up.
    #[error("the Kafka broker exited during start-up ({status}); end of {log}:\n{tail}")]
    Exited {
        /// Exit status.
        status: String,
        /// The broker's log.
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },
    /// The broker did not answer in time.
    #[error("the Kafka broker was not ready after {waited:?} ({reason}); end of {log}:\n{tail}")]
    NotReady {
        /// How long start-up waited.
        waited: Duration,
        /// The last thing that failed.
        reason: String,
        /// The broker's log.
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },
    /// A topic could not be created or did not get leaders in time.
    #[error("cannot create topic `{topic}`: {reason}")]
    Topic {
        /// The topic.
        topic: String,
        /// What went wrong.
        reason: String,
    },
    /// An rdkafka client could not be created.
    #[error("Kafka client error ({context}): {source}")]
    Client {
        /// What the client was for.
        context: &'static str,
        /// The client's error.
        source: rdkafka::error::KafkaError,
    },
    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// The process-wide broker of [`LocalKafka::shared`] failed to start.
    #[error("the shared Kafka broker failed to start: {0}")]
    Shared(String),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> BrokerError {
    let context = context.into();
    move |source| BrokerError::Io { context, source }
}

/// A timestamp an hour before now, rounded down to a multiple of `align_ms`:
/// a base for test records that a broker's time-based retention keeps.
/// Window changelogs are deleted by time (retention = size + grace + one
/// day, judged against the records' timestamps), so windowed test data must
/// be recent or the broker may delete it behind the test's back.
pub fn an_hour_ago_ms(align_ms: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let base = now - 3_600_000;
    base - base.rem_euclid(align_ms.max(1))
}

/// A running single-node Kafka cluster (KRaft, combined broker and
/// controller, node id 1) on `127.0.0.1`.
///
/// The broker is stopped by [`LocalKafka::stop`], by `Drop`, or, failing both,
/// when the process that started it exits.
#[derive(Debug)]
pub struct LocalKafka {
    dir: PathBuf,
    log: PathBuf,
    port: u16,
    controller_port: u16,
    keep_dir: bool,
    process: Option<Supervised>,
}

/// The supervisor and its pipe.
#[derive(Debug)]
struct Supervised {
    shell: Child,
    /// The write end of the supervisor's pipe: closing it stops the broker.
    pipe: Option<ChildStdin>,
    java_pid: Option<u32>,
}

impl LocalKafka {
    /// Starts a new broker and waits until it answers metadata requests
    /// (at most 60 s). The first call on a machine downloads Kafka with Maven
    /// (see [`classpath`]).
    pub fn start() -> Result<LocalKafka, BrokerError> {
        let started = Instant::now();
        let classpath = classpath()?;
        let keep_dir = std::env::var("WEIR_KAFKA_KEEP_DIR").is_ok_and(|v| v == "1");
        // Free ports are found by binding port 0 and releasing it; another
        // process may grab one in between: then start again on new ports.
        let mut attempt = 1;
        loop {
            match Self::start_once(&classpath, keep_dir) {
                Ok(kafka) => {
                    tracing::info!(
                        bootstrap = %kafka.bootstrap_servers(),
                        log = %kafka.log.display(),
                        elapsed = ?started.elapsed(),
                        "Kafka {KAFKA_VERSION} broker ready"
                    );
                    return Ok(kafka);
                }
                Err(e) if attempt < 3 && is_port_clash(&e) => {
                    tracing::warn!("Kafka broker start-up lost a port race, retrying: {e}");
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The process-wide broker: started on first use, shared by every test
    /// of the process, stopped when the process exits. A start-up failure is
    /// returned to every caller.
    pub fn shared() -> Result<&'static LocalKafka, BrokerError> {
        static SHARED: OnceLock<Result<LocalKafka, String>> = OnceLock::new();
        match SHARED.get_or_init(|| LocalKafka::start().map_err(|e| e.to_string())) {
            Ok(kafka) => Ok(kafka),
            Err(e) => Err(BrokerError::Shared(e.clone())),
        }
    }

    fn start_once(classpath: &str, keep_dir: bool) -> Result<LocalKafka, BrokerError> {
        let dir = fresh_dir()?;
        let log = dir.join("broker.log");
        let (port, controller_port) = free_ports()?;
        let mut kafka = LocalKafka {
            dir,
            log,
            port,
            controller_port,
            keep_dir,
            process: None,
        };
        // From here on, an error drops `kafka`, which cleans up.
        let properties = kafka.write_config()?;
        kafka.format(classpath, &properties)?;
        kafka.spawn(classpath, &properties)?;
        kafka.wait_ready()?;
        Ok(kafka)
    }

    /// `host:port` of the broker's PLAINTEXT listener, for
    /// `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's log (stdout and stderr of the JVM). It is deleted with
    /// the broker's directory when the broker stops, unless
    /// `WEIR_KAFKA_KEEP_DIR=1`.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Creates `name` with `partitions` partitions (replication factor 1) and
    /// waits until every partition has a leader, at most 30 s. Creating an
    /// existing topic is an error.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), BrokerError> {
        let topic_err = |reason: String| BrokerError::Topic {
            topic: name.to_string(),
            reason,
        };
        let admin = self.admin_client()?;
        let deadline = Instant::now() + TOPIC_TIMEOUT;
        let options = AdminOptions::new()
            .request_timeout(Some(Duration::from_secs(10)))
            .operation_timeout(Some(Duration::from_secs(10)));
        let new_topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match block_on(admin.create_topics([&new_topic], &options)) {
                Ok(results) => match results.into_iter().next() {
                    Some(Ok(_)) => Ok(()),
                    // A retry after a lost response finds its own topic.
                    Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) if attempt > 1 => Ok(()),
                    Some(Err((_, code))) if is_transient(code) => Err(format!("{code}")),
                    Some(Err((_, code))) => return Err(topic_err(format!("{code}"))),
                    None => Err("no result from the broker".to_string()),
                },
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(()) => break,
                Err(reason) if Instant::now() < deadline => {
                    tracing::debug!(topic = name, "create_topic retrying: {reason}");
                    thread::sleep(Duration::from_millis(200));
                }
                Err(reason) => return Err(topic_err(reason)),
            }
        }
        // CreateTopics returns once the controller committed the topic; the
        // broker still has to learn it and elect the leaders.
        let expected = usize::try_from(partitions).unwrap_or(0);
        loop {
            let state = match admin
                .inner()
                .fetch_metadata(Some(name), Duration::from_secs(5))
            {
                Ok(metadata) => match metadata.topics().iter().find(|t| t.name() == name) {
                    Some(topic) if topic.error().is_some() => {
                        format!("metadata error {:?}", topic.error())
                    }
                    Some(topic) if topic.partitions().len() != expected => {
                        format!("{} of {expected} partitions", topic.partitions().len())
                    }
                    Some(topic) => match topic
                        .partitions()
                        .iter()
                        .find(|p| p.leader() < 0 || p.error().is_some())
                    {
                        Some(p) => format!("partition {} has no leader", p.id()),
                        None => return Ok(()),
                    },
                    None => "not in metadata".to_string(),
                },
                Err(e) => format!("metadata request failed: {e}"),
            };
            if Instant::now() >= deadline {
                return Err(topic_err(format!(
                    "created, but not ready after {TOPIC_TIMEOUT:?}: {state}"
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the broker process is still running (it may have crashed;
    /// [`LocalKafka::log_path`] tells why).
    pub fn is_running(&mut self) -> bool {
        self.check_running().is_ok() && self.process.is_some()
    }

    /// Stops the broker: closes the supervisor's pipe, waits for the JVM
    /// (the broker shuts down cleanly in about a second) and kills it if it
    /// is still running after 12 s. Then deletes the broker's directory.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Stops the broker process as [`LocalKafka::stop`] does, but keeps its
    /// data, configuration and ports: for the clients, a broker outage.
    /// [`LocalKafka::resume`] starts it again. Pausing a paused broker does
    /// nothing.
    pub fn pause(&mut self) {
        if let Some(mut process) = self.process.take() {
            if let Some(pipe) = process.pipe.as_mut() {
                // Tells the supervisor not to delete the directory.
                let _ = pipe.write_all(b"keep\n").and_then(|()| pipe.flush());
            }
            self.stop_process(process);
            tracing::info!(bootstrap = %self.bootstrap_servers(), "Kafka broker paused");
        }
    }

    /// Starts a broker stopped by [`LocalKafka::pause`] again on the same
    /// ports and data, and waits until it answers metadata requests.
    /// Resuming a running broker does nothing.
    pub fn resume(&mut self) -> Result<(), BrokerError> {
        if self.process.is_some() {
            return Ok(());
        }
        let started = Instant::now();
        let exited = self.dir.join("java.exited");
        fs::remove_file(&exited)
            .or_else(|e| match e.kind() {
                io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            })
            .map_err(io_err(format!("removing {}", exited.display())))?;
        let classpath = classpath()?;
        self.spawn(&classpath, &self.dir.join("server.properties"))?;
        self.wait_ready()?;
        tracing::info!(
            bootstrap = %self.bootstrap_servers(),
            elapsed = ?started.elapsed(),
            "Kafka broker resumed"
        );
        Ok(())
    }

    fn shutdown(&mut self) {
        if let Some(process) = self.process.take() {
            self.stop_process(process);
        }
        if !self.keep_dir {
            // The supervisor deletes it too, possibly at the same time: retry
            // until it is gone.
            let deadline = Instant::now() + Duration::from_secs(2);
            while self.dir.exists() && Instant::now() < deadline {
                if fs::remove_dir_all(&self.dir).is_err() {
                    thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }

    fn stop_process(&self, mut process: Supervised) {
        drop(process.pipe.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            match process.shell.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) | Err(_) => break None,
            }
        };
        match status {
            Some(status) => tracing::debug!(port = self.port, %status, "Kafka broker stopped"),
            None => {
                tracing::warn!(port = self.port, "Kafka broker did not stop: killing it");
                if let Some(pid) = process.java_pid {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .stderr(Stdio::null())
                        .status();
                }
                let _ = process.shell.kill();
                let _ = process.shell.wait();
            }
        }
    }

    fn admin_client(&self) -> Result<AdminClient<DefaultClientContext>, BrokerError> {
        ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap_servers())
            .set("broker.address.family", "v4")
            .create()
            .map_err(|source| BrokerError::Client {
                context: "admin client",
                source,
            })
    }

    /// Writes `server.properties` and the log4j2 configuration.
    fn write_config(&self) -> Result<PathBuf, BrokerError> {
        let (dir, port, cport) = (self.dir.display(), self.port, self.controller_port);
        let properties = format!(
            "# Written by weir_test_kafka.\n\
             process.roles=broker,controller\n\
             node.id=1\n\
             controller.quorum.voters=1@127.0.0.1:{cport}\n\
             listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
             controller.listener.names=CONTROLLER\n\
             inter.broker.listener.name=PLAINTEXT\n\
             log.dirs={dir}/data\n\
             num.partitions=1\n\
             default.replication.factor=1\n\
             min.insync.replicas=1\n\
             auto.create.topics.enable=false\n\
             offsets.topic.replication.factor=1\n\
             offsets.topic.num.partitions=1\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             transaction.state.log.num.partitions=1\n\
             share.coordinator.state.topic.replication.factor=1\n\
             share.coordinator.state.topic.min.isr=1\n\
             group.initial.rebalance.delay.ms=0\n\
             num.network.threads=2\n\
             num.io.threads=2\n\
             num.recovery.threads.per.data.dir=1\n\
             log.cleaner.threads=1\n\
             log.cleaner.dedupe.buffer.size=8388608\n\
             # Tests and demos write records with fixed, historical timestamps:\n\
             # no time-based deletion unless a topic sets its own retention.ms\n\
             # (window changelogs do). The first retention pass runs 30 s after\n\
             # start-up and would otherwise delete such records mid-test.\n\
             log.retention.ms=-1\n"
        );
        let path = self.dir.join("server.properties");
        fs::write(&path, properties).map_err(io_err(format!("writing {}", path.display())))?;
        let log4j = self.dir.join("log4j2.properties");
        fs::write(&log4j, LOG4J2).map_err(io_err(format!("writing {}", log4j.display())))?;
        Ok(path)
    }

    /// The JVM's system properties: logging.
    fn system_properties(&self) -> Vec<String> {
        vec![
            format!(
                "-Dlog4j2.configurationFile={}",
                self.dir.join("log4j2.properties").display()
            ),
            format!("-Dkafka.logs.dir={}", self.dir.display()),
            // Kafka's own shutdown hook logs until the end: log4j's would
            // stop logging first and complain.
            "-Dlog4j2.shutdownHookEnabled=false".to_string(),
        ]
    }

    /// `kafka-storage.sh format`: a KRaft broker refuses to start on an
    /// unformatted log directory.
    fn format(&self, classpath: &str, properties: &Path) -> Result<(), BrokerError> {
        let output = Command::new(java())
            .args(TOOL_JVM_OPTS)
            .args(self.system_properties())
            .arg("-cp")
            .arg(classpath)
            .args(storage_format_args(&cluster_id()))
            .arg(properties)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => BrokerError::ToolMissing {
                    tool: java().display().to_string(),
                    source,
                },
                _ => io_err("running kafka.tools.StorageTool")(source),
            })?;
        if !output.status.success() {
            return Err(BrokerError::Format {
                status: output.status.to_string(),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            });
        }
        Ok(())
    }

    fn spawn(&mut self, classpath: &str, properties: &Path) -> Result<(), BrokerError> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io_err(format!("creating {}", self.log.display())))?;
        let mut shell = Command::new("bash")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("weir-kafka")
            .arg(&self.dir)
            .arg(if self.keep_dir { "1" } else { "0" })
            .arg(java())
            .args(BROKER_JVM_OPTS)
            .args(self.system_properties())
            .arg("-cp")
            .arg(classpath)
            .arg("kafka.Kafka")
            .arg(properties)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => BrokerError::ToolMissing {
                    tool: "bash".to_string(),
                    source,
                },
                _ => io_err("starting the Kafka broker")(source),
            })?;
        let pipe = shell.stdin.take();
        // The supervisor prints java's pid, then nothing more.
        let java_pid = shell.stdout.take().and_then(|stdout| {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).ok()?;
            line.trim().parse().ok()
        });
        tracing::debug!(
            port = self.port,
            controller_port = self.controller_port,
            dir = %self.dir.display(),
            java_pid,
            "Kafka broker spawned"
        );
        self.process = Some(Supervised {
            shell,
            pipe,
            java_pid,
        });
        Ok(())
    }

    /// Waits for the listener to accept connections, then for a metadata
    /// response listing the broker.
    fn wait_ready(&mut self) -> Result<(), BrokerError> {
        let started = Instant::now();
        let deadline = started + START_TIMEOUT;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut reason = "the listener is not accepting connections".to_string();
        let mut admin = None;
        loop {
            self.check_running()?;
            if admin.is_none()
                && TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok()
            {
                admin = Some(self.admin_client()?);
            }
            if let Some(admin) = &admin {
                match admin.inner().fetch_metadata(None, Duration::from_secs(2)) {
                    Ok(metadata) if metadata.brokers().iter().any(|b| b.id() == 1) => return Ok(()),
                    Ok(_) => reason = "the metadata response lists no broker".to_string(),
                    Err(e) => reason = format!("metadata request failed: {e}"),
                }
            }
            if Instant::now() >= deadline {
                return Err(BrokerError::NotReady {
                    waited: started.elapsed(),
                    reason,
                    log: self.log.clone(),
                    tail: log_tail(&self.log),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// An error if the broker process has exited.
    fn check_running(&mut self) -> Result<(), BrokerError> {
        let status: Option<ExitStatus> = match &mut self.process {
            Some(process) => process
                .shell
                .try_wait()
                .map_err(io_err("checking the Kafka broker process"))?,
            None => None,
        };
        match status {
            None => Ok(()),
            Some(status) => Err(BrokerError::Exited {
                status: status.to_string(),
                log: self.log.clone(),
                tail: log_tail(&self.log),
            }),
        }
    }
}

impl Drop for LocalKafka {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The process-wide broker, see [`LocalKafka::shared`].
pub fn shared() -> Result<&'static LocalKafka, BrokerError> {
    LocalKafka::shared()
}

/// The broker's classpath (`:`-separated jars), resolved with Maven from
/// `test-kafka/broker/pom.xml` and cached in `$WEIR_KAFKA_CACHE/classpath.txt`
/// (default `$HOME/.cache/weir/kafka-4.1.1/classpath.txt`).
///
/// Maven runs only when the cache is missing, older than the POM, or names a
/// jar that no longer exists (e.g. a cleaned `~/.m2`); its output goes to
/// `mvn.log` beside the cache. The first resolution downloads about 40 MB
/// from Maven Central.
pub fn classpath() -> Result<String, BrokerError> {
    // One resolution at a time within a process; across processes the cache
    // is replaced atomically, so concurrent resolutions only waste time.
    static RESOLVING: Mutex<()> = Mutex::new(());
    let _guard = RESOLVING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());

    let cache = cache_dir();
    let cached = cache.join("classpath.txt");
    if let Some(classpath) = read_cached(&cached) {
        return Ok(classpath);
    }
    fs::create_dir_all(&cache).map_err(io_err(format!("creating {}", cache.display())))?;
    let log_path = cache.join("mvn.log");
    let log =
        File::create(&log_path).map_err(io_err(format!("creating {}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(io_err(format!("opening {}", log_path.display())))?;
    let partial = cache.join(format!("classpath.txt.{}.tmp", std::process::id()));
    tracing::info!(
        pom = POM,
        log = %log_path.display(),
        "resolving the Kafka {KAFKA_VERSION} classpath with Maven (first use downloads ~40 MB)"
    );
    let started = Instant::now();
    let status = Command::new("mvn")
        .args([
            "-B",
            "-Dstyle.color=never",
            "-f",
            POM,
            "dependency:build-classpath",
        ])
        .arg(format!("-Dmdep.outputFile={}", partial.display()))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .status()
        .map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => BrokerError::ToolMissing {
                tool: "mvn".to_string(),
                source,
            },
            _ => io_err("running mvn")(source),
        })?;
    let maven_err = |status: String| BrokerError::Maven {
        status,
        tail: log_tail(&log_path),
        log: log_path.clone(),
    };
    if !status.success() {
        let _ = fs::remove_file(&partial);
        return Err(maven_err(status.to_string()));
    }
    fs::rename(&partial, &cached).map_err(io_err(format!("writing {}", cached.display())))?;
    tracing::info!(elapsed = ?started.elapsed(), "Kafka classpath resolved");
    read_cached(&cached).ok_or_else(|| {
        maven_err(format!(
            "{} is empty or names missing jars",
            cached.display()
        ))
    })
}

/// The cached classpath, if it is usable.
fn read_cached(cached: &Path) -> Option<String> {
    let classpath = fs::read_to_string(cached).ok()?;
    let classpath = classpath.trim();
    let modified = |path: &Path| fs::metadata(path).and_then(|m| m.modified()).ok();
    match (modified(cached), modified(Path::new(POM))) {
        (Some(cache), Some(pom)) if cache < pom => return None,
        _ => {}
    }
    let jars: Vec<&str> = classpath.split(':').filter(|jar| !jar.is_empty()).collect();
    let complete = jars.iter().any(|jar| jar.contains("kafka_2.13-"))
        && jars.iter().all(|jar| Path::new(jar).is_file());
    complete.then(|| classpath.to_string())
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WEIR_KAFKA_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let base = match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache"),
        None => std::env::temp_dir(),
    };
    base.join("weir").join(format!("kafka-{KAFKA_VERSION}"))
}

fn java() -> PathBuf {
    match std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join("bin").join("java"),
        None => PathBuf::from("java"),
    }
}

/// A new directory `$TMPDIR/weir-kafka-<pid>-<nanos>-<n>`.
fn fresh_dir() -> Result<PathBuf, BrokerError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "weir-kafka-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    Ok(dir)
}

/// Two distinct free loopback ports (both held while the second is found).
fn free_ports() -> Result<(u16, u16), BrokerError> {
    let bind = || {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| Ok((l.local_addr()?.port(), l)))
            .map_err(io_err("finding a free port"))
    };
    let (port, _held) = bind()?;
    let (controller_port, _held2) = bind()?;
    Ok((port, controller_port))
}

fn is_port_clash(error: &BrokerError) -> bool {
    match error {
        BrokerError::Exited { tail, .. } | BrokerError::NotReady { tail, .. } => {
            tail.contains("Address already in use")
        }
        _ => false,
    }
}

fn is_transient(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::NotController
            | RDKafkaErrorCode::InvalidReplicationFactor
            | RDKafkaErrorCode::BrokerNotAvailable
            | RDKafkaErrorCode::LeaderNotAvailable
            | RDKafkaErrorCode::NetworkException
            | RDKafkaErrorCode::BrokerTransportFailure
    )
}

/// The `StorageTool format` arguments before the properties file. The id
/// goes in `--cluster-id=<id>` form: a base64url id may start with `-`, which
/// the tool would otherwise read as an option (and refuse to format).
fn storage_format_args(cluster_id: &str) -> [String; 4] {
    [
        "kafka.tools.StorageTool".into(),
        "format".into(),
        format!("--cluster-id={cluster_id}"),
        "-c".into(),
    ]
}

/// A random KRaft cluster id: 16 bytes, base64url without padding (what
/// `kafka-storage.sh random-uuid` prints).
fn cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut bytes = Vec::with_capacity(16);
    for half in 0..2u8 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_u8(half);
        bytes.extend_from_slice(&hasher.finish().to_le_bytes());
    }
    // 128 bits = 21 groups of 6 bits + 2 bits.
    let mut bits: u128 = bytes.iter().fold(0, |acc, b| (acc << 8) | u128::from(*b));
    let mut out = vec![0u8; 22];
    // The last character holds the 2 leftover bits, shifted up.
    out[21] = ALPHABET[((bits & 0b11) << 4) as usize];
    bits >>= 2;
    for slot in out[..21].iter_mut().rev() {
        *slot = ALPHABET[(bits & 0b11_1111) as usize];
        bits >>= 6;
    }
    out.into_iter().map(char::from).collect()
}

/// The last 60 lines (at most 16 KiB) of a log file.
fn log_tail(path: &Path) -> String {
    const MAX: u64 = 16 * 1024;
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(MAX)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(60)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Runs a future on the current thread. rdkafka's admin futures are completed
/// by rdkafka's own polling thread: no async runtime is needed.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::{Offset, TopicPartitionList};

    #[test]
    fn a_cluster_id_starting_with_a_dash_stays_one_argument() {
        let args = storage_format_args("-7xQ");
        assert_eq!(args[2], "--cluster-id=-7xQ");
    }

    #[test]
    fn cluster_ids_are_22_base64url_chars_and_differ() {
        let (a, b) = (cluster_id(), cluster_id());
        assert_eq!(a.len(), 22);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn broker_round_trip() {
        let started = Instant::now();
        let kafka = LocalKafka::start().expect("the broker starts");
        eprintln!(
            "LocalKafka::start() took {:?} ({})",
            started.elapsed(),
            kafka.bootstrap_servers()
        );
        assert!(kafka.log_path().is_file());

        let started = Instant::now();
        kafka.create_topic("round-trip", 3).expect("topic created");
        eprintln!("create_topic took {:?}", started.elapsed());
        let again = kafka.create_topic("round-trip", 3);
        assert!(matches!(again, Err(BrokerError::Topic { .. })), "{again:?}");

        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", kafka.bootstrap_servers())
            .set("enable.idempotence", "true")
            .create()
            .expect("producer");
        for partition in 0..3 {
            let key = format!("k{partition}");
            let value = format!("v{partition}");
            producer
                .send(
                    BaseRecord::to("round-trip")
                        .partition(partition)
                        .key(&key)
                        .payload(&value),
                )
                .expect("enqueued");
        }
        producer.flush(Duration::from_secs(30)).expect("flushed");

        let read_back = |kafka: &LocalKafka| {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", kafka.bootstrap_servers())
                .set("group.id", "round-trip-test")
                .set("enable.auto.commit", "false")
                .create()
                .expect("consumer");
            let mut assignment = TopicPartitionList::new();
            for partition in 0..3 {
                assignment
                    .add_partition_offset("round-trip", partition, Offset::Beginning)
                    .expect("assignment");
            }
            consumer.assign(&assignment).expect("assigned");
            let mut received = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(30);
            while received.len() < 3 && Instant::now() < deadline {
                if let Some(message) = consumer.poll(Duration::from_millis(200)) {
                    let message = message.expect("no consumer error");
                    received.push((
                        message.partition(),
                        message.offset(),
                        String::from_utf8(message.key().expect("key").to_vec()).expect("utf-8"),
                        String::from_utf8(message.payload().expect("value").to_vec())
                            .expect("utf-8"),
                    ));
                }
            }
            received.sort();
            received
        };
        let written = vec![
            (0, 0, "k0".to_string(), "v0".to_string()),
            (1, 0, "k1".to_string(), "v1".to_string()),
            (2, 0, "k2".to_string(), "v2".to_string()),
        ];
        assert_eq!(read_back(&kafka), written);
        drop(producer);

        // A pause is an outage: the port closes, the data stays.
        let mut kafka = kafka;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, kafka.port));
        let started = Instant::now();
        kafka.pause();
        eprintln!("pause() took {:?}", started.elapsed());
        assert!(
            TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err(),
            "port still open after pause()"
        );
        assert!(kafka.dir.join("data").is_dir(), "data deleted by pause()");
        let started = Instant::now();
        kafka.resume().expect("the broker resumes");
        eprintln!("resume() took {:?}", started.elapsed());
        assert_eq!(read_back(&kafka), written, "records survive a pause");

        let (port, dir, keep_dir) = (kafka.port, kafka.dir.clone(), kafka.keep_dir);
        let started = Instant::now();
        kafka.stop();
        eprintln!("stop() took {:?}", started.elapsed());
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert!(
            TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err(),
            "port {port} still open after stop()"
        );
        if !keep_dir {
            assert!(!dir.exists(), "{} not deleted", dir.display());
        }
    }

    #[test]
    fn shared_broker_is_started_once() {
        let a = LocalKafka::shared().expect("shared broker");
        let b = shared().expect("shared broker");
        assert!(std::ptr::eq(a, b));
        a.create_topic("shared-once", 1).expect("topic created");
    }
}

//! Application configuration, in Kafka Streams' keys.

use std::collections::BTreeMap;
use std::str::FromStr;

/// A configuration problem, reported before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A key weir does not know (and that is not `consumer.*`/`producer.*`/`admin.*`).
    #[error("unknown configuration key `{0}`")]
    UnknownKey(String),
    /// A value that does not parse for its key.
    #[error("invalid value `{value}` for `{key}`: {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A required key that was not given.
    #[error("missing required configuration `{0}`")]
    Missing(&'static str),
    /// A `--config` argument that is not `KEY=VALUE`.
    #[error("expected KEY=VALUE, got `{0}`")]
    NotKeyValue(String),
}

/// What to do with a record whose bytes do not deserialize
/// (`default.deserialization.exception.handler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeserializationHandler {
    /// Log it, count it (`skipped_records`), and go on: Kafka Streams'
    /// `LogAndContinueExceptionHandler`. The default.
    #[default]
    LogAndContinue,
    /// Log it and stop processing with an error: `LogAndFailExceptionHandler`.
    LogAndFail,
}

impl FromStr for DeserializationHandler {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "log-and-continue"
            | "LogAndContinueExceptionHandler"
            | "org.apache.kafka.streams.errors.LogAndContinueExceptionHandler" => {
                Ok(DeserializationHandler::LogAndContinue)
            }
            "log-and-fail"
            | "LogAndFailExceptionHandler"
            | "org.apache.kafka.streams.errors.LogAndFailExceptionHandler" => {
                Ok(DeserializationHandler::LogAndFail)
            }
            _ => Err("expected `log-and-continue` or `log-and-fail`".into()),
        }
    }
}

/// How a record's timestamp is found when the topology does not extract it
/// itself (`default.timestamp.extractor`), and what happens to an invalid
/// (negative) one: Kafka Streams' built-in extractors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampPolicy {
    /// The record's timestamp; a negative one stops processing with an error
    /// (`FailOnInvalidTimestamp`, Kafka Streams' default).
    #[default]
    FailOnInvalid,
    /// The record's timestamp; a record with a negative one is logged,
    /// counted and skipped (`LogAndSkipOnInvalidTimestamp`).
    LogAndSkipOnInvalid,
    /// The record's timestamp; a negative one is replaced by the partition
    /// time (the largest timestamp processed from that partition), and
    /// processing stops if there is none yet (`UsePartitionTimeOnInvalidTimestamp`).
    UsePartitionTimeOnInvalid,
    /// The wall-clock time when the record is processed (`WallclockTimestampExtractor`).
    WallClock,
}

impl FromStr for TimestampPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let class = s.rsplit('.').next().unwrap_or(s);
        match class {
            "FailOnInvalidTimestamp" | "fail-on-invalid" => Ok(TimestampPolicy::FailOnInvalid),
            "LogAndSkipOnInvalidTimestamp" | "log-and-skip" => {
                Ok(TimestampPolicy::LogAndSkipOnInvalid)
            }
            "UsePartitionTimeOnInvalidTimestamp" | "use-partition-time" => {
                Ok(TimestampPolicy::UsePartitionTimeOnInvalid)
            }
            "WallclockTimestampExtractor" | "wall-clock" => Ok(TimestampPolicy::WallClock),
            _ => Err(
                "expected FailOnInvalidTimestamp, LogAndSkipOnInvalidTimestamp, \
                 UsePartitionTimeOnInvalidTimestamp or WallclockTimestampExtractor"
                    .into(),
            ),
        }
    }
}

pub use crate::store::cache::DEFAULT_CACHE_MAX_BYTES;

/// Configuration of a weir application, set with Kafka Streams' keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsConfig {
    /// `application.id`: consumer group id and prefix of internal topics.
    pub application_id: String,
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// `num.stream.threads` (default 1).
    pub num_stream_threads: usize,
    /// `commit.interval.ms` (default 30000, as Kafka Streams under at-least-once).
    pub commit_interval_ms: u64,
    /// `default.deserialization.exception.handler`.
    pub deserialization_handler: DeserializationHandler,
    /// `default.timestamp.extractor`.
    pub timestamp_policy: TimestampPolicy,
    /// `replication.factor` of internal topics (default 1 here; use 3 in production).
    pub replication_factor: i32,
    /// `consumer.*` settings, passed to librdkafka's consumer without the prefix.
    pub consumer: BTreeMap<String, String>,
    /// `producer.*` settings, passed to librdkafka's producer without the prefix.
    pub producer: BTreeMap<String, String>,
    /// `admin.*` settings, passed to librdkafka's admin client without the prefix.
    pub admin: BTreeMap<String, String>,
    /// `poll.ms`: how long a stream thread blocks polling for records (default 100).
    pub poll_ms: u64,
    /// `weir.max.idle.ms`: stop the application once no record has arrived for
    /// this long (not a Kafka Streams setting; for demos and tests). Unset by default.
    pub max_idle_ms: Option<u64>,
    /// `state.dir`: where tasks keep their stores, one folder per task under
    /// `<state.dir>/<application.id>/` (default `<temp dir>/weir-streams`).
    pub state_dir: std::path::PathBuf,
    /// `default.dsl.store`: `rocksDB` (default) or `in_memory`, for stores
    /// the topology does not pin with `in_memory()`.
    pub default_dsl_store: Option<crate::store::Backend>,
    /// `statestore.cache.max.bytes` (or the deprecated
    /// `cache.max.bytes.buffering`): the record cache's budget over all
    /// threads (default 10 MiB); 0 forwards every store update at once.
    pub cache_max_bytes: usize,
    /// `emit.interval.ms.kstreams.windowed.aggregation` (Kafka Streams'
    /// internal `__emit.interval.ms.kstreams.windowed.aggregation__` is read
    /// too): how often, in wall-clock time, a windowed aggregation with
    /// `EmitStrategy::on_window_close()` looks for closed windows (default
    /// 1000).
    pub emit_interval_ms: i64,
    /// `max.task.idle.ms` (Kafka Streams' KIP-695): how long a task with
    /// several input partitions waits for data on an empty one, whose
    /// records may be earlier than those it has, before it processes what
    /// it has. 0 (the default) waits only until the consumer knows the
    /// partition has nothing more (its lag is zero); -1 never waits.
    pub max_task_idle_ms: i64,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        StreamsConfig {
            application_id: String::new(),
            bootstrap_servers: "localhost:9092".into(),
            num_stream_threads: 1,
            commit_interval_ms: 30_000,
            deserialization_handler: DeserializationHandler::LogAndContinue,
            timestamp_policy: TimestampPolicy::FailOnInvalid,
            replication_factor: 1,
            consumer: BTreeMap::new(),
            producer: BTreeMap::new(),
            admin: BTreeMap::new(),
            poll_ms: 100,
            max_idle_ms: None,
            state_dir: std::env::temp_dir().join("weir-streams"),
            default_dsl_store: None,
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            emit_interval_ms: 1000,
            max_task_idle_ms: 0,
        }
    }
}

fn parse<T: FromStr>(key: &str, value: &str, what: &str) -> Result<T, ConfigError> {
    value.parse().map_err(|_| ConfigError::InvalidValue {
        key: key.into(),
        value: value.into(),
        reason: what.into(),
    })
}

impl StreamsConfig {
    /// A configuration for `application_id` with defaults elsewhere.
    pub fn new(application_id: impl Into<String>) -> Self {
        StreamsConfig {
            application_id: application_id.into(),
            ..Self::default()
        }
    }

    /// Sets one key, as `--config KEY=VALUE` or a properties file would.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, ConfigError> {
        match key {
            "application.id" => self.application_id = value.to_owned(),
            "bootstrap.servers" => self.bootstrap_servers = value.to_owned(),
            "num.stream.threads" => {
                self.num_stream_threads = parse(key, value, "a positive integer")?;
                if self.num_stream_threads == 0 {
                    return Err(ConfigError::InvalidValue {
                        key: key.into(),
                        value: value.into(),
                        reason: "a positive integer".into(),
                    });
                }
            }
            "commit.interval.ms" => {
                self.commit_interval_ms = parse(key, value, "milliseconds, >= 0")?
            }
            "default.deserialization.exception.handler" | "deserialization.exception.handler" => {
                self.deserialization_handler =
                    value.parse().map_err(|reason| ConfigError::InvalidValue {
                        key: key.into(),
                        value: value.into(),
                        reason,
                    })?
            }
            "default.timestamp.extractor" | "timestamp.extractor" => {
                self.timestamp_policy =
                    value.parse().map_err(|reason| ConfigError::InvalidValue {
                        key: key.into(),
                        value: value.into(),
                        reason,
                    })?
            }
            "replication.factor" => {
                self.replication_factor = parse(key, value, "a positive integer")?
            }
            "poll.ms" => self.poll_ms = parse(key, value, "milliseconds, >= 0")?,
            "state.dir" => self.state_dir = value.into(),
            "default.dsl.store" => {
                self.default_dsl_store = Some(match value {
                    "rocksDB" | "rocksdb" => crate::store::Backend::RocksDb,
                    "in_memory" => crate::store::Backend::InMemory,
                    _ => {
                        return Err(ConfigError::InvalidValue {
                            key: key.into(),
                            value: value.into(),
                            reason: "`rocksDB` or `in_memory`".into(),
                        })
                    }
                })
            }
            "emit.interval.ms.kstreams.windowed.aggregation"
            | "__emit.interval.ms.kstreams.windowed.aggregation__" => {
                self.emit_interval_ms = parse(key, value, "milliseconds, >= 0")?
            }
            "max.task.idle.ms" => {
                self.max_task_idle_ms = parse(key, value, "milliseconds, >= -1")?;
                if self.max_task_idle_ms < -1 {
                    return Err(ConfigError::InvalidValue {
                        key: key.into(),
                        value: value.into(),
                        reason: "milliseconds, >= -1".into(),
                    });
                }
            }
            "statestore.cache.max.bytes" | "cache.max.bytes.buffering" => {
                self.cache_max_bytes = parse(key, value, "bytes, >= 0")?
            }
            "weir.max.idle.ms" => self.max_idle_ms = Some(parse(key, value, "milliseconds, >= 0")?),
            "processing.guarantee" if value == "at_least_once" => {}
            "processing.guarantee" => {
                return Err(ConfigError::InvalidValue {
                    key: key.into(),
                    value: value.into(),
                    reason: "only `at_least_once` is supported so far".into(),
                })
            }
            _ => {
                if let Some(k) = key.strip_prefix("consumer.") {
                    self.consumer.insert(k.to_owned(), value.to_owned());
                } else if let Some(k) = key.strip_prefix("producer.") {
                    self.producer.insert(k.to_owned(), value.to_owned());
                } else if let Some(k) = key.strip_prefix("admin.") {
                    self.admin.insert(k.to_owned(), value.to_owned());
                } else {
                    return Err(ConfigError::UnknownKey(key.to_owned()));
                }
            }
        }
        Ok(self)
    }

    /// Sets from a `KEY=VALUE` string.
    pub fn set_pair(&mut self, pair: &str) -> Result<&mut Self, ConfigError> {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| ConfigError::NotKeyValue(pair.to_owned()))?;
        self.set(k.trim(), v.trim())
    }

    /// The state directory of one task: `<state.dir>/<application.id>/<task>`.
    pub fn task_directory(&self, task: impl std::fmt::Display) -> crate::store::TaskDirectory {
        crate::store::TaskDirectory(
            self.state_dir
                .join(&self.application_id)
                .join(task.to_string()),
        )
    }

    /// Checks that what must be set is set.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.application_id.is_empty() {
            return Err(ConfigError::Missing("application.id"));
        }
        if self.bootstrap_servers.is_empty() {
            return Err(ConfigError::Missing("bootstrap.servers"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_streams_keys_parse() {
        let mut c = StreamsConfig::new("app");
        c.set_pair("num.stream.threads=3").unwrap();
        c.set_pair("default.deserialization.exception.handler=LogAndFailExceptionHandler")
            .unwrap();
        c.set_pair("consumer.fetch.min.bytes=10").unwrap();
        assert_eq!(c.num_stream_threads, 3);
        assert_eq!(
            c.deserialization_handler,
            DeserializationHandler::LogAndFail
        );
        assert_eq!(c.consumer["fetch.min.bytes"], "10");
        c.validate().unwrap();
    }

    #[test]
    fn runtime_keys_parse() {
        let mut c = StreamsConfig::new("app");
        assert_eq!(c.max_idle_ms, None);
        assert_eq!(c.poll_ms, 100);
        c.set_pair("weir.max.idle.ms=2500").unwrap();
        c.set_pair("poll.ms=50").unwrap();
        c.set_pair("admin.request.timeout.ms=1000").unwrap();
        assert_eq!(c.max_idle_ms, Some(2500));
        assert_eq!(c.poll_ms, 50);
        assert_eq!(c.admin["request.timeout.ms"], "1000");
        assert!(c
            .set_pair("weir.max.idle.ms=-1")
            .unwrap_err()
            .to_string()
            .contains("weir.max.idle.ms"));
    }

    #[test]
    fn bad_configuration_is_a_clear_error() {
        let mut c = StreamsConfig::new("app");
        assert_eq!(
            c.set_pair("num.stream.thread=2").unwrap_err(),
            ConfigError::UnknownKey("num.stream.thread".into())
        );
        assert!(c
            .set_pair("num.stream.threads=zero")
            .unwrap_err()
            .to_string()
            .contains("positive integer"));
        assert_eq!(
            c.set_pair("novalue").unwrap_err(),
            ConfigError::NotKeyValue("novalue".into())
        );
        assert_eq!(
            StreamsConfig::new("").validate(),
            Err(ConfigError::Missing("application.id"))
        );
    }
}

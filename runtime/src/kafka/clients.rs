//! What each librdkafka client is configured with.

use crate::config::StreamsConfig;
use rdkafka::ClientConfig;
use std::collections::BTreeMap;

/// Settings the runtime depends on for correctness: a user value is ignored
/// (with a warning), as Kafka Streams does.
const CONSUMER_FIXED: &[&str] = &["group.id", "enable.auto.commit"];

fn apply_overrides(
    cc: &mut ClientConfig,
    overrides: &BTreeMap<String, String>,
    fixed: &[&str],
    what: &str,
) {
    for (k, v) in overrides {
        if fixed.contains(&k.as_str()) {
            tracing::warn!(
                "ignoring user {what} setting `{k}={v}`: weir needs `{}`",
                cc.get(k).unwrap_or("its own value")
            );
            continue;
        }
        cc.set(k, v);
    }
}

/// Client id prefix of stream thread `thread` (0-based), as Kafka Streams
/// names its clients: `<application.id>-StreamThread-<n>`.
pub(crate) fn thread_client_id(config: &StreamsConfig, thread: usize) -> String {
    format!("{}-StreamThread-{}", config.application_id, thread + 1)
}

/// The consumer of stream thread `thread` (0-based): group `application.id`,
/// no auto-commit (the runtime commits after its output is acknowledged),
/// `auto.offset.reset=earliest` and the range assignor (so partition p of
/// co-partitioned topics lands on one consumer), end-of-partition events (a
/// task reading several partitions learns from them that one has nothing
/// more: `max.task.idle.ms`), then `consumer.*` entries.
pub fn consumer_config(config: &StreamsConfig, thread: usize) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &config.bootstrap_servers)
        .set("group.id", &config.application_id)
        .set(
            "client.id",
            format!("{}-consumer", thread_client_id(config, thread)),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "range")
        .set("enable.partition.eof", "true");
    apply_overrides(&mut cc, &config.consumer, CONSUMER_FIXED, "consumer");
    cc
}

/// Settings the restore consumer depends on: a user value is ignored.
const RESTORE_CONSUMER_FIXED: &[&str] = &[
    "group.id",
    "enable.auto.commit",
    "enable.partition.eof",
    "isolation.level",
];

/// The restore consumer of stream thread `thread` (0-based), which reads
/// changelogs into stores before their task runs (Kafka Streams' restore
/// consumer): partitions are assigned with offsets, never subscribed, and
/// nothing is committed (librdkafka wants a `group.id` for `assign` all the
/// same: the client id, never joined); committed records only;
/// end-of-partition events (how restoration knows it is done when the last
/// offsets are compacted away); short fetch waits; then `consumer.*`
/// entries, which apply to every consumer as in Kafka Streams.
pub fn restore_consumer_config(config: &StreamsConfig, thread: usize) -> ClientConfig {
    let client_id = format!("{}-restore-consumer", thread_client_id(config, thread));
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &config.bootstrap_servers)
        .set("group.id", &client_id)
        .set("client.id", &client_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true")
        // A fetch left waiting at a changelog's end would delay the offset
        // query of the next restoration on the same connection by up to
        // this long (librdkafka's default: 500 ms per restored store).
        .set("fetch.wait.max.ms", "10")
        // Restoration reads whole changelogs: bigger fetches, more queued.
        .set("fetch.message.max.bytes", "8388608")
        .set("queued.min.messages", "1000000");
    apply_overrides(
        &mut cc,
        &config.consumer,
        RESTORE_CONSUMER_FIXED,
        "restore consumer",
    );
    cc
}

/// The producer of stream thread `thread` (0-based): Java-compatible
/// partitioning (`murmur2_random`), Kafka Streams' `linger.ms=100`, no
/// delivery deadline (`message.timeout.ms=0`: through a broker outage of any
/// length records wait to be delivered, and offsets to be committed, rather
/// than the application failing after librdkafka's default 5 minutes), then
/// `producer.*` entries.
pub fn producer_config(config: &StreamsConfig, thread: usize) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &config.bootstrap_servers)
        .set(
            "client.id",
            format!("{}-producer", thread_client_id(config, thread)),
        )
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "100");
    // `delivery.timeout.ms` is librdkafka's alias: a user's value under
    // either name wins.
    if !config.producer.contains_key("delivery.timeout.ms") {
        cc.set("message.timeout.ms", "0");
    }
    apply_overrides(&mut cc, &config.producer, &[], "producer");
    cc
}

/// The admin client used at start-up (metadata, internal topic creation),
/// then `admin.*` entries.
pub fn admin_config(config: &StreamsConfig) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &config.bootstrap_servers)
        .set("client.id", format!("{}-admin", config.application_id));
    apply_overrides(&mut cc, &config.admin, &[], "admin");
    cc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> StreamsConfig {
        let mut c = StreamsConfig::new("wordcount");
        c.set_pair("bootstrap.servers=broker:9093").unwrap();
        c
    }

    #[test]
    fn consumer_has_kafka_streams_defaults() {
        let cc = consumer_config(&config(), 0);
        assert_eq!(cc.get("bootstrap.servers"), Some("broker:9093"));
        assert_eq!(cc.get("group.id"), Some("wordcount"));
        assert_eq!(cc.get("enable.auto.commit"), Some("false"));
        assert_eq!(cc.get("auto.offset.reset"), Some("earliest"));
        assert_eq!(cc.get("partition.assignment.strategy"), Some("range"));
        assert_eq!(
            cc.get("client.id"),
            Some("wordcount-StreamThread-1-consumer")
        );
    }

    #[test]
    fn user_entries_override_except_what_correctness_needs() {
        let mut c = config();
        c.set_pair("consumer.auto.offset.reset=latest").unwrap();
        c.set_pair("consumer.enable.auto.commit=true").unwrap();
        c.set_pair("consumer.group.id=other").unwrap();
        c.set_pair("producer.linger.ms=5").unwrap();
        c.set_pair("producer.partitioner=consistent_random")
            .unwrap();
        c.set_pair("admin.request.timeout.ms=1000").unwrap();
        let cc = consumer_config(&c, 2);
        assert_eq!(cc.get("auto.offset.reset"), Some("latest"));
        assert_eq!(cc.get("enable.auto.commit"), Some("false"));
        assert_eq!(cc.get("group.id"), Some("wordcount"));
        assert_eq!(
            cc.get("client.id"),
            Some("wordcount-StreamThread-3-consumer")
        );
        let pc = producer_config(&c, 0);
        assert_eq!(pc.get("linger.ms"), Some("5"));
        assert_eq!(pc.get("partitioner"), Some("consistent_random"));
        assert_eq!(
            producer_config(&config(), 0).get("message.timeout.ms"),
            Some("0"),
            "no delivery deadline by default"
        );
        c.set_pair("producer.delivery.timeout.ms=60000").unwrap();
        let pc = producer_config(&c, 0);
        assert_eq!(pc.get("delivery.timeout.ms"), Some("60000"));
        assert_eq!(pc.get("message.timeout.ms"), None, "the user's alias wins");
        let ac = admin_config(&c);
        assert_eq!(ac.get("request.timeout.ms"), Some("1000"));
        assert_eq!(ac.get("bootstrap.servers"), Some("broker:9093"));
    }

    #[test]
    fn restore_consumer_reads_committed_records_outside_the_group() {
        let mut c = config();
        c.set_pair("consumer.group.id=other").unwrap();
        c.set_pair("consumer.isolation.level=read_uncommitted")
            .unwrap();
        c.set_pair("consumer.fetch.max.bytes=1000000").unwrap();
        let cc = restore_consumer_config(&c, 1);
        assert_eq!(
            cc.get("group.id"),
            Some("wordcount-StreamThread-2-restore-consumer"),
            "not the application's group"
        );
        assert_eq!(cc.get("enable.auto.commit"), Some("false"));
        assert_eq!(cc.get("isolation.level"), Some("read_committed"));
        assert_eq!(cc.get("enable.partition.eof"), Some("true"));
        assert_eq!(cc.get("fetch.wait.max.ms"), Some("10"));
        assert_eq!(cc.get("fetch.max.bytes"), Some("1000000"));
        assert_eq!(
            cc.get("client.id"),
            Some("wordcount-StreamThread-2-restore-consumer")
        );
    }

    #[test]
    fn producer_partitions_like_java() {
        let pc = producer_config(&config(), 0);
        assert_eq!(pc.get("partitioner"), Some("murmur2_random"));
        assert_eq!(pc.get("bootstrap.servers"), Some("broker:9093"));
        assert_eq!(
            pc.get("client.id"),
            Some("wordcount-StreamThread-1-producer")
        );
    }
}

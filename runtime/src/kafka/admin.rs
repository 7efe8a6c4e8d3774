//! Start-up: wait for the broker, check source topics, create internal ones.

use super::callbacks::ClientLogger;
use super::clients::admin_config;
use super::error::AppError;
use crate::config::StreamsConfig;
use crate::topology::{InternalTopicKind, Plan, TopicRef};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::metadata::Metadata;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// How long one metadata request may take before the broker counts as unavailable.
const METADATA_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between two attempts to reach the broker.
const RETRY_PAUSE: Duration = Duration::from_secs(2);
/// How long newly created topics may take to appear in metadata.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);

/// What start-up found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TopicSetup {
    /// Partition count of every source and internal topic of the plan.
    pub partitions: HashMap<String, i32>,
    /// Internal topics to create (missing before).
    pub to_create: Vec<NewInternalTopic>,
}

/// An internal topic that start-up creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewInternalTopic {
    /// Full name (`<application.id>-<name>`).
    pub name: String,
    /// Partition count.
    pub partitions: i32,
    /// Repartition or changelog, which decides its configuration.
    pub kind: InternalTopicKind,
}

/// The topic configuration an internal topic is created with, as Kafka
/// Streams creates them: repartition topics are deleted by time
/// (`cleanup.policy=delete`), changelogs are compacted so that the latest
/// value of every key survives (`cleanup.policy=compact`).
/// Kept on a window store's changelog beyond the store's retention (Kafka
/// Streams' `windowstore.changelog.additional.retention.ms` default: a day).
pub(crate) const WINDOW_CHANGELOG_EXTRA_RETENTION_MS: i64 = 86_400_000;

pub(crate) fn internal_topic_config(
    kind: InternalTopicKind,
) -> &'static [(&'static str, &'static str)] {
    match kind {
        InternalTopicKind::Repartition => &[("cleanup.policy", "delete")],
        InternalTopicKind::Changelog => &[("cleanup.policy", "compact")],
    }
}

/// Checks `plan`'s topics against the cluster's (`existing`: name → partition
/// count): source topics must exist, internal topics get the partition count
/// Kafka Streams would give them, sub-topologies must be co-partitioned.
pub(crate) fn plan_topics(
    plan: &Plan,
    application_id: &str,
    existing: &HashMap<String, i32>,
) -> Result<TopicSetup, AppError> {
    let mut missing: Vec<String> = Vec::new();
    for st in plan.subtopologies {
        for sp in st.sources {
            for t in sp.topics {
                if let TopicRef::Named(n) = *t {
                    if !existing.contains_key(n) && !missing.iter().any(|m| m == n) {
                        missing.push(n.to_owned());
                    }
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(AppError::MissingSourceTopics(missing));
    }

    // Partition counts of internal topics: fixed, or the maximum over the
    // source topics of the sub-topology that writes them (which may itself
    // read internal topics, hence the fixed point).
    let n = plan.internal_topics.len();
    let mut counts: Vec<Option<i32>> = plan.internal_topics.iter().map(|t| t.partitions).collect();
    let mut progress = true;
    while progress {
        progress = false;
        for i in 0..n {
            if counts[i].is_some() {
                continue;
            }
            let it = &plan.internal_topics[i];
            let st = plan.subtopologies.get(it.written_by).ok_or_else(|| {
                AppError::InvalidTopology(format!(
                    "internal topic `{}` is written by sub-topology {}, which does not exist",
                    it.name, it.written_by
                ))
            })?;
            let mut max: Option<i32> = None;
            let mut resolved = true;
            for t in st.sources.iter().flat_map(|sp| sp.topics.iter()) {
                let c = match *t {
                    TopicRef::Named(name) => existing.get(name).copied(),
                    TopicRef::Internal(j) => counts.get(j).copied().flatten(),
                };
                match c {
                    Some(c) => max = Some(max.map_or(c, |m: i32| m.max(c))),
                    None => resolved = false,
                }
            }
            if resolved {
                if let Some(m) = max {
                    counts[i] = Some(m);
                    progress = true;
                }
            }
        }
    }

    let mut setup = TopicSetup::default();
    for (i, count) in counts.iter().enumerate() {
        let name = plan.internal_topic_name(application_id, i);
        let Some(expected) = *count else {
            return Err(AppError::InvalidTopology(format!(
                "cannot determine the partition count of internal topic `{name}`"
            )));
        };
        match existing.get(&name) {
            Some(&actual) if actual != expected => {
                return Err(AppError::InternalTopicPartitions {
                    topic: name,
                    expected,
                    actual,
                })
            }
            Some(_) => {}
            None => setup.to_create.push(NewInternalTopic {
                name: name.clone(),
                partitions: expected,
                kind: plan.internal_topics[i].kind,
            }),
        }
        setup.partitions.insert(name, expected);
    }

    for (sub, st) in plan.subtopologies.iter().enumerate() {
        let mut topics: Vec<(String, i32)> = Vec::new();
        for t in st.sources.iter().flat_map(|sp| sp.topics.iter()) {
            let (name, count) = match *t {
                TopicRef::Named(name) => (name.to_owned(), existing.get(name).copied()),
                TopicRef::Internal(j) => {
                    let name = plan.internal_topic_name(application_id, j);
                    let c = setup.partitions.get(&name).copied();
                    (name, c)
                }
            };
            let count = count.ok_or_else(|| {
                AppError::InvalidTopology(format!("no partition count for topic `{name}`"))
            })?;
            setup.partitions.insert(name.clone(), count);
            topics.push((name, count));
        }
        if st.copartitioned && topics.windows(2).any(|w| w[0].1 != w[1].1) {
            return Err(AppError::NotCopartitioned {
                subtopology: sub,
                topics,
            });
        }
    }
    Ok(setup)
}

/// Name → partition count of the topics in `metadata` (topics reported with
/// an error are left out).
fn partition_counts(metadata: &Metadata) -> HashMap<String, i32> {
    metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .map(|t| (t.name().to_owned(), t.partitions().len() as i32))
        .collect()
}

/// Sleeps up to `d`, waking early when `stop` is set. Returns `true` if stopped.
pub(crate) fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let now = Instant::now();
        if now >= end {
            return false;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// Fetches cluster metadata, retrying while the broker is unreachable.
/// `None` if shutdown was requested first.
fn wait_for_metadata(
    admin: &AdminClient<ClientLogger>,
    servers: &str,
    stop: &AtomicBool,
) -> Option<Metadata> {
    loop {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        match admin.inner().fetch_metadata(None, METADATA_TIMEOUT) {
            Ok(m) => return Some(m),
            Err(_) if stop.load(Ordering::Relaxed) => return None,
            Err(e) => {
                tracing::warn!("broker not available at {servers}, retrying ({e})");
                if sleep_unless_stopped(RETRY_PAUSE, stop) {
                    return None;
                }
            }
        }
    }
}

/// Waits for the broker, checks the plan's topics and creates missing
/// internal topics. `None` if shutdown was requested while waiting.
pub(crate) fn prepare_topics(
    config: &StreamsConfig,
    plan: &Plan,
    window_retention: &HashMap<String, i64>,
    stop: &AtomicBool,
) -> Result<Option<TopicSetup>, AppError> {
    let admin: AdminClient<ClientLogger> = admin_config(config)
        .create_with_context(ClientLogger::quiet("admin"))
        .map_err(|e| AppError::kafka("creating the admin client", e))?;
    let Some(metadata) = wait_for_metadata(&admin, &config.bootstrap_servers, stop) else {
        return Ok(None);
    };
    let setup = plan_topics(plan, &config.application_id, &partition_counts(&metadata))?;
    if setup.to_create.is_empty() {
        return Ok(Some(setup));
    }

    let retention_ms: Vec<Option<String>> = setup
        .to_create
        .iter()
        .map(|t| {
            window_retention.get(&t.name).map(|ms| {
                ms.saturating_add(WINDOW_CHANGELOG_EXTRA_RETENTION_MS)
                    .to_string()
            })
        })
        .collect();
    let new_topics: Vec<NewTopic<'_>> = setup
        .to_create
        .iter()
        .zip(&retention_ms)
        .map(|(t, retention)| {
            let topic = NewTopic::new(
                &t.name,
                t.partitions,
                TopicReplication::Fixed(config.replication_factor),
            );
            match retention {
                // A window store's changelog: compacted and deleted by time.
                Some(ms) => topic
                    .set("cleanup.policy", "compact,delete")
                    .set("retention.ms", ms),
                None => internal_topic_config(t.kind)
                    .iter()
                    .fold(topic, |topic, &(key, value)| topic.set(key, value)),
            }
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(CREATE_TIMEOUT));
    let results = block_on(admin.create_topics(&new_topics, &opts))
        .map_err(|e| AppError::kafka("creating internal topics", e))?;
    for r in results {
        match r {
            Ok(name) => tracing::info!(topic = %name, "created internal topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(AppError::CreateTopic {
                    topic,
                    reason: code.to_string(),
                })
            }
        }
    }

    // Creation is asynchronous on the broker side: wait until metadata shows
    // every new topic with its partitions.
    let deadline = Instant::now() + CREATE_TIMEOUT;
    loop {
        let ready = match admin.inner().fetch_metadata(None, METADATA_TIMEOUT) {
            Ok(m) => {
                let counts = partition_counts(&m);
                let ready = setup
                    .to_create
                    .iter()
                    .all(|t| counts.get(&t.name) == Some(&t.partitions));
                if ready {
                    // Another instance may have created a topic with other counts.
                    plan_topics(plan, &config.application_id, &counts)?;
                }
                ready
            }
            Err(e) => {
                tracing::warn!(
                    "broker not available at {}, retrying ({e})",
                    config.bootstrap_servers
                );
                false
            }
        };
        if ready {
            return Ok(Some(setup));
        }
        if Instant::now() >= deadline {
            let names: Vec<&str> = setup.to_create.iter().map(|t| t.name.as_str()).collect();
            return Err(AppError::CreateTopic {
                topic: names.join(", "),
                reason: format!("not visible in metadata after {CREATE_TIMEOUT:?}"),
            });
        }
        if sleep_unless_stopped(Duration::from_millis(200), stop) {
            return Ok(None);
        }
    }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread (the admin client's futures
/// are completed by its own background thread).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{InternalTopic, InternalTopicKind, SourcePlan, SubTopologyPlan};

    static JOINISH: Plan = Plan {
        name: "joinish",
        subtopologies: &[
            SubTopologyPlan {
                copartitioned: false,
                clocked: false,
                cached: false,
                sources: &[SourcePlan {
                    name: "s0",
                    topics: &[TopicRef::Named("in")],
                }],
            },
            SubTopologyPlan {
                copartitioned: true,
                clocked: false,
                cached: false,
                sources: &[
                    SourcePlan {
                        name: "s1",
                        topics: &[TopicRef::Internal(0)],
                    },
                    SourcePlan {
                        name: "s2",
                        topics: &[TopicRef::Named("table")],
                    },
                ],
            },
            SubTopologyPlan {
                copartitioned: false,
                clocked: false,
                cached: false,
                sources: &[SourcePlan {
                    name: "s3",
                    topics: &[TopicRef::Internal(1)],
                }],
            },
        ],
        internal_topics: &[
            InternalTopic {
                name: "rekey-repartition",
                partitions: None,
                written_by: 0,
                kind: InternalTopicKind::Repartition,
            },
            InternalTopic {
                name: "fixed-repartition",
                partitions: Some(2),
                written_by: 1,
                kind: InternalTopicKind::Repartition,
            },
        ],
        stores: &[],
        description: "",
        mermaid: "",
    };

    fn created(setup: &TopicSetup) -> Vec<(&str, i32, InternalTopicKind)> {
        setup
            .to_create
            .iter()
            .map(|t| (t.name.as_str(), t.partitions, t.kind))
            .collect()
    }

    fn existing(pairs: &[(&str, i32)]) -> HashMap<String, i32> {
        pairs.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
    }

    #[test]
    fn internal_topics_get_upstream_partition_counts() {
        let setup = plan_topics(&JOINISH, "app", &existing(&[("in", 4), ("table", 4)])).unwrap();
        assert_eq!(
            created(&setup),
            vec![
                ("app-rekey-repartition", 4, InternalTopicKind::Repartition),
                ("app-fixed-repartition", 2, InternalTopicKind::Repartition)
            ]
        );
        assert_eq!(setup.partitions["app-rekey-repartition"], 4);
        assert_eq!(setup.partitions["table"], 4);
    }

    #[test]
    fn existing_internal_topics_are_kept_when_they_match() {
        let setup = plan_topics(
            &JOINISH,
            "app",
            &existing(&[
                ("in", 4),
                ("table", 4),
                ("app-rekey-repartition", 4),
                ("app-fixed-repartition", 2),
            ]),
        )
        .unwrap();
        assert!(setup.to_create.is_empty());
        let e = plan_topics(
            &JOINISH,
            "app",
            &existing(&[("in", 4), ("table", 4), ("app-fixed-repartition", 3)]),
        )
        .unwrap_err();
        assert!(matches!(
            e,
            AppError::InternalTopicPartitions { ref topic, expected: 2, actual: 3 }
                if topic == "app-fixed-repartition"
        ));
    }

    /// `in` → count after a key change: the store's changelog is written by
    /// sub-topology 1, which reads the repartition topic.
    static COUNTING: Plan = Plan {
        name: "counting",
        subtopologies: &[
            SubTopologyPlan {
                copartitioned: false,
                clocked: false,
                cached: false,
                sources: &[SourcePlan {
                    name: "s0",
                    topics: &[TopicRef::Named("in")],
                }],
            },
            SubTopologyPlan {
                copartitioned: false,
                clocked: false,
                cached: false,
                sources: &[SourcePlan {
                    name: "s1",
                    topics: &[TopicRef::Internal(0)],
                }],
            },
        ],
        internal_topics: &[
            InternalTopic {
                name: "counts-repartition",
                partitions: Some(3),
                written_by: 0,
                kind: InternalTopicKind::Repartition,
            },
            InternalTopic {
                name: "counts-changelog",
                partitions: None,
                written_by: 1,
                kind: InternalTopicKind::Changelog,
            },
        ],
        stores: &[],
        description: "",
        mermaid: "",
    };

    #[test]
    fn changelogs_are_compacted_and_partitioned_like_their_tasks() {
        let setup = plan_topics(&COUNTING, "app", &existing(&[("in", 5)])).unwrap();
        assert_eq!(
            created(&setup),
            vec![
                ("app-counts-repartition", 3, InternalTopicKind::Repartition),
                // As many partitions as the writing sub-topology has tasks.
                ("app-counts-changelog", 3, InternalTopicKind::Changelog),
            ]
        );
        assert_eq!(
            internal_topic_config(InternalTopicKind::Changelog),
            [("cleanup.policy", "compact")]
        );
        assert_eq!(
            internal_topic_config(InternalTopicKind::Repartition),
            [("cleanup.policy", "delete")]
        );

        // An existing changelog is kept when it matches, refused otherwise.
        let ok = existing(&[("in", 5), ("app-counts-changelog", 3)]);
        let setup = plan_topics(&COUNTING, "app", &ok).unwrap();
        assert_eq!(
            created(&setup),
            vec![("app-counts-repartition", 3, InternalTopicKind::Repartition)]
        );
        let wrong = existing(&[("in", 5), ("app-counts-changelog", 5)]);
        let e = plan_topics(&COUNTING, "app", &wrong).unwrap_err();
        assert!(matches!(
            e,
            AppError::InternalTopicPartitions { ref topic, expected: 3, actual: 5 }
                if topic == "app-counts-changelog"
        ));
    }

    #[test]
    fn missing_source_topics_are_named() {
        let e = plan_topics(&JOINISH, "app", &existing(&[("other", 1)])).unwrap_err();
        assert!(matches!(&e, AppError::MissingSourceTopics(v) if v == &["in", "table"]));
        assert!(e.to_string().contains("in, table"), "{e}");
    }

    #[test]
    fn sources_of_one_subtopology_must_be_copartitioned() {
        let e = plan_topics(&JOINISH, "app", &existing(&[("in", 4), ("table", 3)])).unwrap_err();
        match &e {
            AppError::NotCopartitioned {
                subtopology,
                topics,
            } => {
                assert_eq!(*subtopology, 1);
                assert_eq!(
                    topics,
                    &vec![
                        ("app-rekey-repartition".to_owned(), 4),
                        ("table".to_owned(), 3)
                    ]
                );
            }
            other => panic!("unexpected {other}"),
        }
        let text = e.to_string();
        assert!(
            text.contains("`table` (3)") && text.contains("(4)"),
            "{text}"
        );
    }

    #[test]
    fn block_on_runs_ready_and_pending_futures() {
        assert_eq!(block_on(async { 7 }), 7);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = Arc::clone(&flag);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            f2.store(true, Ordering::SeqCst);
            let _ = tx.send(());
        });
        let out = block_on(std::future::poll_fn(|cx| {
            if flag.load(Ordering::SeqCst) {
                Poll::Ready(1)
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }));
        assert_eq!(out, 1);
        let _ = rx.recv();
    }
}

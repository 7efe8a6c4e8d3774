//! Which task a consumed record goes to, and the resolved names of topics.

use super::error::AppError;
use crate::topology::{InternalTopicKind, Plan};
use std::collections::HashMap;

/// Where records of one source topic enter the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    /// Sub-topology reading the topic.
    pub sub: usize,
    /// Source index within that sub-topology.
    pub source: usize,
    /// Index of the topic in [`Routing::topics`].
    pub topic: usize,
}

/// Topic name → (sub-topology, source), computed once per application.
#[derive(Debug, Clone)]
pub(crate) struct Routing {
    topics: Vec<String>,
    by_name: HashMap<String, Route>,
    internal: Vec<String>,
    /// Whether internal topic `i` is a changelog.
    changelog: Vec<bool>,
    /// The source topics (indices into `topics`) of each sub-topology.
    inputs: Vec<Vec<usize>>,
}

impl Routing {
    /// Resolves `plan`'s topics for `application_id`. A topic read by two
    /// sources is refused, as Kafka Streams refuses to subscribe it twice.
    pub fn new(plan: &Plan, application_id: &str) -> Result<Self, AppError> {
        let mut topics = Vec::new();
        let mut by_name = HashMap::new();
        let mut inputs = vec![Vec::new(); plan.subtopologies.len()];
        for (sub, source, name) in plan.source_topics(application_id) {
            inputs[sub].push(topics.len());
            let route = Route {
                sub,
                source,
                topic: topics.len(),
            };
            if by_name.insert(name.clone(), route).is_some() {
                return Err(AppError::InvalidTopology(format!(
                    "topic `{name}` is read by more than one source"
                )));
            }
            topics.push(name);
        }
        if topics.is_empty() {
            return Err(AppError::InvalidTopology(format!(
                "topology `{}` reads no topic",
                plan.name
            )));
        }
        let internal = (0..plan.internal_topics.len())
            .map(|i| plan.internal_topic_name(application_id, i))
            .collect();
        let changelog = plan
            .internal_topics
            .iter()
            .map(|t| t.kind == InternalTopicKind::Changelog)
            .collect();
        Ok(Routing {
            topics,
            by_name,
            internal,
            changelog,
            inputs,
        })
    }

    /// Where records of `topic` go.
    #[inline]
    pub fn route(&self, topic: &str) -> Option<Route> {
        self.by_name.get(topic).copied()
    }

    /// Source topic by index.
    pub fn topic(&self, index: usize) -> &str {
        &self.topics[index]
    }

    /// Every source topic, in plan order (the subscription).
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// The source topics (indices) of sub-topology `sub`: a task of it
    /// reads their partition of its number.
    pub fn inputs(&self, sub: usize) -> &[usize] {
        self.inputs.get(sub).map_or(&[], Vec::as_slice)
    }

    /// Where `topic` (an index) sits among its sub-topology's inputs: the
    /// queue of a task's partition group it fills.
    pub fn input_position(&self, sub: usize, topic: usize) -> Option<usize> {
        self.inputs(sub).iter().position(|&t| t == topic)
    }

    /// Full name of internal topic `index`.
    #[inline]
    pub fn internal(&self, index: usize) -> Option<&str> {
        self.internal.get(index).map(String::as_str)
    }

    /// Whether internal topic `index` is a store's changelog (written to the
    /// task's own partition, its offsets checkpointed).
    #[inline]
    pub fn is_changelog(&self, index: usize) -> bool {
        self.changelog.get(index).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{
        InternalTopic, InternalTopicKind, SourcePlan, SubTopologyPlan, TopicRef,
    };

    static REPARTITIONED: Plan = Plan {
        name: "repartitioned",
        subtopologies: &[
            SubTopologyPlan {
                copartitioned: false,
                clocked: false,
                cached: false,
                sources: &[
                    SourcePlan {
                        name: "KSTREAM-SOURCE-0000000000",
                        topics: &[TopicRef::Named("a"), TopicRef::Named("b")],
                    },
                    SourcePlan {
                        name: "KSTREAM-SOURCE-0000000001",
                        topics: &[TopicRef::Named("c")],
                    },
                ],
            },
            SubTopologyPlan {
                copartitioned: false,
                clocked: false,
                cached: false,
                sources: &[SourcePlan {
                    name: "KSTREAM-SOURCE-0000000004",
                    topics: &[TopicRef::Internal(0)],
                }],
            },
        ],
        internal_topics: &[InternalTopic {
            name: "KSTREAM-REPARTITION-0000000003-repartition",
            partitions: None,
            written_by: 0,
            kind: InternalTopicKind::Repartition,
        }],
        stores: &[],
        description: "",
        mermaid: "",
    };

    #[test]
    fn topics_route_to_their_subtopology_and_source() {
        let r = Routing::new(&REPARTITIONED, "app").unwrap();
        assert_eq!(
            r.topics(),
            [
                "a",
                "b",
                "c",
                "app-KSTREAM-REPARTITION-0000000003-repartition"
            ]
        );
        assert_eq!(
            r.route("a"),
            Some(Route {
                sub: 0,
                source: 0,
                topic: 0
            })
        );
        assert_eq!(
            r.route("b"),
            Some(Route {
                sub: 0,
                source: 0,
                topic: 1
            })
        );
        assert_eq!(
            r.route("c"),
            Some(Route {
                sub: 0,
                source: 1,
                topic: 2
            })
        );
        assert_eq!(
            r.route("app-KSTREAM-REPARTITION-0000000003-repartition"),
            Some(Route {
                sub: 1,
                source: 0,
                topic: 3
            })
        );
        assert_eq!(r.route("KSTREAM-REPARTITION-0000000003-repartition"), None);
        assert_eq!(r.route("d"), None);
        assert_eq!(r.topic(2), "c");
        assert_eq!(
            r.internal(0),
            Some("app-KSTREAM-REPARTITION-0000000003-repartition")
        );
        assert_eq!(r.internal(1), None);
        assert!(!r.is_changelog(0));
        assert!(!r.is_changelog(1));
    }

    #[test]
    fn a_topic_read_twice_is_refused() {
        static TWICE: Plan = Plan {
            name: "twice",
            subtopologies: &[
                SubTopologyPlan {
                    copartitioned: false,
                    clocked: false,
                    cached: false,
                    sources: &[SourcePlan {
                        name: "s0",
                        topics: &[TopicRef::Named("a")],
                    }],
                },
                SubTopologyPlan {
                    copartitioned: false,
                    clocked: false,
                    cached: false,
                    sources: &[SourcePlan {
                        name: "s1",
                        topics: &[TopicRef::Named("a")],
                    }],
                },
            ],
            internal_topics: &[],
            stores: &[],
            description: "",
            mermaid: "",
        };
        let e = Routing::new(&TWICE, "app").unwrap_err();
        assert!(e.to_string().contains("`a`"), "{e}");
    }
}

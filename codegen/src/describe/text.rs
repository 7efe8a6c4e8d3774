//! The description as text, in the format of Kafka Streams'
//! `Topology.describe()`, with the rewrites applied.

use super::*;
use std::fmt::Write;

impl Description {
    /// The text, as `Topology.describe().toString()` prints it, followed by
    /// weir's internal topics and rewrites.
    pub fn text(&self) -> String {
        let mut s = String::from("Topologies:\n");
        for (i, nodes) in self.subs.iter().enumerate() {
            let _ = writeln!(s, "   Sub-topology: {i}");
            for n in nodes {
                match &n.kind {
                    DescKind::Source(topics) => {
                        let _ = writeln!(
                            s,
                            "    Source: {} (topics: [{}])",
                            n.name,
                            topics.join(", ")
                        );
                        let _ = writeln!(s, "      --> {}", names(&n.successors));
                    }
                    DescKind::Processor => {
                        let _ = writeln!(
                            s,
                            "    Processor: {} (stores: [{}])",
                            n.name,
                            n.stores.join(", ")
                        );
                        let _ = writeln!(s, "      --> {}", names(&n.successors));
                        let _ = writeln!(s, "      <-- {}", names(&n.predecessors));
                    }
                    DescKind::Sink(topic) if topic.is_empty() => {
                        let _ = writeln!(s, "    Sink: {} (extractor class: closure)", n.name);
                        let _ = writeln!(s, "      <-- {}", names(&n.predecessors));
                    }
                    DescKind::Sink(topic) => {
                        let _ = writeln!(s, "    Sink: {} (topic: {topic})", n.name);
                        let _ = writeln!(s, "      <-- {}", names(&n.predecessors));
                    }
                }
            }
            s.push('\n');
        }
        if !self.internal.is_empty() {
            s.push_str("Internal topics:\n");
            for (name, partitions, writer, kind) in &self.internal {
                let p = partitions.map_or("as its writer's sources".to_string(), |p| p.to_string());
                let kind = match kind {
                    InternalKind::Repartition => "repartition",
                    InternalKind::Changelog => "changelog, compacted",
                };
                let _ = writeln!(
                    s,
                    "   {name} ({kind}; written by sub-topology {writer}; partitions: {p})"
                );
            }
            s.push('\n');
        }
        s.push_str("Rewrites:\n");
        for r in &self.rewrites {
            let _ = writeln!(s, "   {}: {}", r.name, r.detail);
        }
        s
    }
}

pub(crate) fn names(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

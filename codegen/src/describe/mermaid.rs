//! The description as a Mermaid flowchart.

use super::*;
use std::fmt::Write;

impl Description {
    /// A Mermaid flowchart: sub-topologies as subgraphs, topics as stadiums.
    pub fn mermaid(&self) -> String {
        let mut s = String::from("flowchart TD\n");
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut id_of = |name: &str| -> String {
            let next = ids.len();
            ids.entry(name.to_owned())
                .or_insert_with(|| format!("n{next}"))
                .clone()
        };
        let mut topics: Vec<String> = Vec::new();
        let mut edges = Vec::new();
        for (i, nodes) in self.subs.iter().enumerate() {
            let _ = writeln!(s, "  subgraph sub{i} [\"Sub-topology {i}\"]");
            for n in nodes {
                let id = id_of(&n.name);
                let _ = writeln!(s, "    {id}[\"{}\"]", n.name);
                for succ in &n.successors {
                    edges.push(format!("  {id} --> {}", id_of(succ)));
                }
                match &n.kind {
                    DescKind::Source(ts) => {
                        for t in ts {
                            topics.push(t.clone());
                            edges.push(format!("  {} --> {id}", id_of(&format!("topic:{t}"))));
                        }
                    }
                    DescKind::Sink(t) if !t.is_empty() => {
                        topics.push(t.clone());
                        edges.push(format!("  {id} --> {}", id_of(&format!("topic:{t}"))));
                    }
                    _ => {}
                }
            }
            s.push_str("  end\n");
        }
        topics.sort();
        topics.dedup();
        for t in topics {
            let _ = writeln!(s, "  {}([\"{t}\"])", id_of(&format!("topic:{t}")));
        }
        edges.sort();
        edges.dedup();
        for e in edges {
            s.push_str(&e);
            s.push('\n');
        }
        s
    }
}

//! `source-topic-changelog`: the store of a `table(topic)` uses its source
//! topic as its changelog (Kafka Streams' source-topic changelog
//! optimisation): the plan loses that store's changelog topic, and the
//! store writes no changelog records; it restores from the source topic.

use super::Rewrite;
use crate::graph::{Graph, NodeKind};
use crate::ops::{Source, TableSource};
use crate::plan::Plan;

/// Rewrites every `table(topic)` store's changelog to its source topic.
pub fn run(graph: &Graph, plan: &mut Plan) -> Vec<Rewrite> {
    let mut rewrites = Vec::new();
    for s in 0..plan.stores.len() {
        let Some(topic) = source_topic(graph, plan.stores[s].node) else {
            continue;
        };
        let removed = plan.stores[s].changelog;
        if removed == usize::MAX {
            continue;
        }
        plan.internal.remove(removed);
        for st in &mut plan.stores {
            if st.changelog != usize::MAX && st.changelog > removed {
                st.changelog -= 1;
            }
        }
        let st = &mut plan.stores[s];
        st.changelog = usize::MAX;
        rewrites.push(Rewrite {
            name: "source-topic-changelog",
            detail: format!(
                "store `{}` of `table(\"{topic}\")` uses its source topic `{topic}` as its changelog: no changelog topic, no changelog writes",
                st.name
            ),
        });
        st.source_changelog = Some(topic);
    }
    rewrites
}

/// The topic of a `table(topic)` node's source.
fn source_topic(graph: &Graph, node: usize) -> Option<String> {
    let NodeKind::TableSource(TableSource {
        from_topic: true, ..
    }) = &graph.nodes[node].kind
    else {
        return None;
    };
    let source = *graph.nodes[node].inputs.first()?;
    match &graph.nodes[source].kind {
        NodeKind::Source(Source { topics, .. }) => topics.first().map(syn::LitStr::value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::compile_for_test as compile;
    use crate::plan::InternalKind;
    use quote::quote;

    #[test]
    fn a_table_restores_from_its_topic_and_other_stores_keep_theirs() {
        let c = compile(quote! {
            fn t() -> impl Topology {
                let builder = StreamsBuilder::new();
                let regions = builder.table::<String, String>("regions");
                regions.group_by(|k, v| (v, k)).count(named("per-region"));
                builder.stream::<String, String>("clicks").group_by_key().count(named("clicks"));
                builder.build()
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let changelogs: Vec<&str> = c
            .plan
            .internal
            .iter()
            .filter(|i| i.kind == InternalKind::Changelog)
            .map(|i| i.topic.as_str())
            .collect();
        assert_eq!(changelogs, ["per-region-changelog", "clicks-changelog"]);
        let table = &c.plan.stores[0];
        assert_eq!(table.source_changelog.as_deref(), Some("regions"));
        assert_eq!(table.changelog, usize::MAX);
        for st in &c.plan.stores[1..] {
            assert_eq!(
                c.plan.internal[st.changelog].topic,
                format!("{}-changelog", st.name)
            );
        }
    }
}

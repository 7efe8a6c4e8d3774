//! The compiler's phases as a library, without the macro: the graph it
//! builds, the sub-topologies it cuts, the types it solves, the rewrites it
//! names.

use quote::quote;
use weir_codegen::graph::NodeKind;
use weir_codegen::ops;
use weir_codegen::plan::{Entry, Ty};

fn compile(tokens: proc_macro2::TokenStream) -> weir_codegen::Compiled {
    match weir_codegen::compile(syn::parse2(tokens).expect("a fn")) {
        Ok(c) => c,
        Err(e) => panic!("compile error: {e}"),
    }
}

#[test]
fn nodes_are_named_and_connected_like_kafka_streams() {
    let c = compile(quote! {
        fn t() -> impl Topology {
            let builder = StreamsBuilder::new();
            let s = builder.stream::<String, String>("in");
            s.filter(|_k, v| true).to("a");
            s.map_values(|v| v.len() as i64).to("b");
            builder.build()
        }
    });
    let names: Vec<&str> = c.graph.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "KSTREAM-SOURCE-0000000000",
            "KSTREAM-FILTER-0000000001",
            "KSTREAM-SINK-0000000002",
            "KSTREAM-MAPVALUES-0000000003",
            "KSTREAM-SINK-0000000004"
        ]
    );
    assert_eq!(c.graph.nodes[0].outputs, [1, 3]);
    assert_eq!(c.graph.nodes[3].inputs, [0]);
    // One sub-topology: everything fuses into one processor.
    assert_eq!(c.plan.subs.len(), 1);
    assert_eq!(c.plan.subs[0].entries, [Entry::Source(0)]);
    assert_eq!(c.description.rewrites.len(), 1);
    assert_eq!(c.description.rewrites[0].name, "fuse");
}

#[test]
fn repartition_cuts_sub_topologies_and_types_flow_across() {
    let c = compile(quote! {
        fn t() -> impl Topology {
            let builder = StreamsBuilder::new();
            builder.stream::<String, String>("in")
                .map(|k, v| (v, k))
                .repartition(named("swap"))
                .filter(|_k, _v| true)
                .to("out");
            builder.build()
        }
    });
    assert_eq!(c.plan.subs.len(), 2);
    assert_eq!(c.plan.subs[0].nodes, [0, 1, 2]);
    assert_eq!(c.plan.subs[1].nodes, [3, 4]);
    assert_eq!(c.plan.subs[1].entries, [Entry::Repartition(2)]);
    assert_eq!(c.plan.internal.len(), 1);
    assert_eq!(c.plan.internal[0].topic, "swap-repartition");
    assert_eq!(
        (c.plan.internal[0].written_by, c.plan.internal[0].read_by),
        (0, 1)
    );
    // The map's output types are inferred (generic) and shared by everything downstream.
    let (k_map, v_map) = c.plan.types.node[1];
    let (k_sink, v_sink) = c.plan.types.node[3];
    assert!(matches!(c.plan.types.resolve(k_map), Ty::Generic(_)));
    assert!(
        matches!((c.plan.types.resolve(k_map), c.plan.types.resolve(k_sink)), (Ty::Generic(a), Ty::Generic(b)) if a == b)
    );
    assert!(
        matches!((c.plan.types.resolve(v_map), c.plan.types.resolve(v_sink)), (Ty::Generic(a), Ty::Generic(b)) if a == b)
    );
    let text = c.description.text();
    assert!(
        text.contains("Sink: swap-repartition-sink (topic: swap-repartition)"),
        "{text}"
    );
    assert!(
        text.contains("Source: swap-repartition-source (topics: [swap-repartition])"),
        "{text}"
    );
}

#[test]
fn merge_unifies_types_and_stays_in_one_sub_topology() {
    let c = compile(quote! {
        fn t() -> impl Topology {
            let builder = StreamsBuilder::new();
            let a = builder.stream::<String, i64>("a");
            let b = builder.stream::<String, String>("b").map_values(|v| v.len() as i64);
            a.merge(b).to("out");
            builder.build()
        }
    });
    assert_eq!(c.plan.subs.len(), 1);
    assert_eq!(c.plan.subs[0].entries, [Entry::Source(0), Entry::Source(1)]);
    // The map_values output is unified with the declared i64 of `a`.
    let (_, v) = c.plan.types.node[2];
    assert!(matches!(c.plan.types.resolve(v), Ty::Concrete(t) if quote!(#t).to_string() == "i64"));
    assert!(matches!(c.graph.nodes[3].kind, NodeKind::Merge(ops::Merge)));
}

#[test]
fn independent_sources_are_separate_sub_topologies() {
    let c = compile(quote! {
        fn t() -> impl Topology {
            let builder = StreamsBuilder::new();
            builder.stream::<String, String>("a").to("a-out");
            builder.stream::<String, String>("b").to("b-out");
            builder.build()
        }
    });
    assert_eq!(c.plan.subs.len(), 2);
    assert_eq!(c.description.rewrites.len(), 2);
}

#[test]
fn errors_are_all_reported_at_once() {
    let err = weir_codegen::compile(syn::parse_quote! {
        fn t() -> impl Topology {
            let builder = StreamsBuilder::new();
            builder.stream::<String, String>("in").fliter(|k, v| true);
            builder.stream("untyped").to("x");
            builder.stream::<String, String>("in").foreach(|k, v| ()).to("x");
            builder.build()
        }
    })
    .err()
    .expect("errors");
    let messages: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(messages[0].contains("did you mean `filter`"));
    assert!(messages[1].contains("key and value types"));
    assert!(messages[2].contains("`to` cannot follow `foreach`"));
}

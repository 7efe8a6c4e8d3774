//! Snapshot tests of the code the compiler emits, formatted with prettyplease:
//! a change in a snapshot is a reviewed change in what users run.

use quote::quote;

fn expand(tokens: proc_macro2::TokenStream) -> String {
    let out = weir_codegen::expand(quote!(), tokens);
    let file: syn::File = syn::parse2(out).expect("emitted code parses");
    prettyplease::unparse(&file)
}

/// The benchmark's topology (benches/fused_chain.rs): a fused four-operator chain.
#[test]
fn fused_chain() {
    let code = expand(quote! {
        pub fn fused_chain() -> impl Topology {
            let builder = StreamsBuilder::new();
            builder
                .stream::<i64, i64>("input")
                .map_values(|v| v.wrapping_mul(3))
                .filter(|_k, v| v % 2 == 0)
                .map(|k, v| (k.wrapping_add(1), v))
                .flat_map_values(|v| [v, v.wrapping_add(1)])
                .to("output");
            builder.build()
        }
    });
    // The per-record path of the one processor adds no indirection or allocation.
    let process = code.split("fn process").nth(1).expect("a process method");
    for banned in ["dyn ", "Box", "channel", "Vec::new", "vec!", "collect"] {
        let path = process.split("impl<").next().unwrap_or_default();
        assert!(
            !path.contains(banned),
            "`{banned}` in the per-record path:\n{path}"
        );
    }
    insta::assert_snapshot!(code);
}

#[test]
fn branching_merge_and_repartition() {
    let code = expand(quote! {
        fn routing(limit: i64) -> impl Topology {
            let builder = StreamsBuilder::new();
            let orders = builder.stream::<String, i64>("orders");
            let refunds = builder.stream::<String, i64>(["refunds-eu", "refunds-us"]);
            let routed = orders
                .merge(refunds)
                .split(named("route-"))
                .branch("big", move |_k, v| *v >= limit)
                .branch("small", |_k, v| *v > 0)
                .default_branch("rest");
            routed["big"].peek(|k, v| tracing::info!(%k, v, "big")).to("big-orders");
            routed["small"].select_key(|_k, v| v.to_string()).repartition(partitions(3)).to("small-orders");
            routed["rest"].to(|_k, v, _ctx| if *v < 0 { "negative" } else { "zero" });
            builder.build()
        }
    });
    insta::assert_snapshot!(code);
}

/// A count behind the record cache: both paths (through the cache, and
/// straight to the store when `statestore.cache.max.bytes=0`), and the
/// flush method that writes, logs and forwards what the cache hands back.
#[test]
fn cached_count() {
    let code = expand(quote! {
        fn counts() -> impl Topology {
            let builder = StreamsBuilder::new();
            builder
                .stream::<String, String>("words")
                .group_by_key()
                .count(named("counts"))
                .to_stream()
                .to("word-counts");
            builder.build()
        }
    });
    assert!(code.contains("fn flush_store"), "{code}");
    assert!(code.contains("self.cx.cache.is_enabled()"), "{code}");
    insta::assert_snapshot!(code);
}

/// A user processor with a store: a type parameter of the sub-topology
/// (no trait object), its forwards buffered and run through the chain.
#[test]
fn processor() {
    let code = expand(quote! {
        fn first_seen() -> impl Topology {
            let builder = StreamsBuilder::new();
            builder.add_state_store("seen");
            builder
                .stream::<String, String>("events")
                .process(|| FirstSeen, "seen")
                .to("firsts");
            builder.build()
        }
    });
    assert!(!code.contains("dyn "), "{code}");
    insta::assert_snapshot!(code);
}

/// A stream read by three chains: the first only reads the record (filter,
/// sink) and borrows it, the second takes it by value (map_values) and gets
/// a clone, the last gets the record itself. Nothing else is allocated.
#[test]
fn fan_out() {
    let code = expand(quote! {
        fn fan_out() -> impl Topology {
            let builder = StreamsBuilder::new();
            let lines = builder.stream::<String, String>("lines");
            lines.filter(|_k, v| !v.is_empty()).to("non-empty");
            lines.map_values(|v| v.len() as i64).to("lengths");
            lines.to("copy");
            builder.build()
        }
    });
    let process = code.split("fn process").nth(1).expect("a process method");
    let path = process.split("impl<").next().unwrap_or_default();
    assert_eq!(path.matches("Clone::clone(&k)").count(), 1, "{path}");
    assert_eq!(path.matches("Clone::clone(&v)").count(), 1, "{path}");
    for banned in ["dyn ", "Box", "Vec::new", "vec!", "collect"] {
        assert!(!path.contains(banned), "`{banned}` in the per-record path");
    }
    insta::assert_snapshot!(code);
}

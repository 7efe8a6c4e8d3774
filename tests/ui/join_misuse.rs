use weir::prelude::*;

#[weir::topology]
fn enrich() -> impl Topology {
    let builder = StreamsBuilder::new();
    let regions = builder.table::<i64, String>("regions");
    let clicks = builder.stream::<String, String>("clicks");
    // The sides have different key types.
    clicks.join(regions, |click, region| format!("{click}@{region}")).to("a");
    // Stream-stream joins come later.
    let other = builder.stream::<String, String>("other");
    clicks.join(other, |a, b| format!("{a}{b}")).to("b");
    // A joiner takes the stream's value and the table's (and the key first).
    let users = builder.table::<String, String>("users");
    clicks.left_join(users, |v| v.clone()).to("c");
    // A filtered table is not joinable yet.
    let named = builder.table::<String, String>("names").filter(|_k, v| !v.is_empty());
    clicks.join(named, |v, n| format!("{v}{n}")).to("d");
    builder.build()
}

fn main() {}

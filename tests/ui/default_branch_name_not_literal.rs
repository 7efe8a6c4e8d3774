use weir::prelude::*;

const REST: &str = "rest";

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .split()
        .branch("long", |_k, w| w.len() > 5)
        .default_branch(REST);
    builder.build()
}

fn main() {}

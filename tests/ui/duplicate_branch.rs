use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream::<String, String>("words")
        .split()
        .branch("long", |_k, w| w.len() > 5)
        .branch("long", |_k, w| w.len() > 10)
        .default_branch("long");
    branches["long"].to("long-words");
    builder.build()
}

fn main() {}

use weir::prelude::*;

const LONG: &str = "long";

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .split()
        .branch(LONG, |_k, w| w.len() > 5)
        .default_branch(LONG);
    builder.build()
}

fn main() {}

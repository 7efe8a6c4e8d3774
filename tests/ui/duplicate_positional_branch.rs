use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .split()
        .branch("2", |_k, w| w.len() > 5)
        .branch(|_k, w| w.len() > 10)
        .no_default_branch();
    builder.build()
}

fn main() {}

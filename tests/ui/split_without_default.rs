use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .split()
        .branch("long", |_k, w| w.len() > 5);
    builder.build()
}

fn main() {}

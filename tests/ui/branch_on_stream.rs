use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .branch("long", |_k, w| w.len() > 5)
        .to("shouted");
    builder.build()
}

fn main() {}

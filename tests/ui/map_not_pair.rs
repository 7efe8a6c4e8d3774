use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .map(|_k, w| w.to_uppercase())
        .to("shouted");
    builder.build()
}

fn main() {}

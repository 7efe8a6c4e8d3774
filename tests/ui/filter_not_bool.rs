use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .filter(|_k, w| w.len())
        .to("shouted");
    builder.build()
}

fn main() {}

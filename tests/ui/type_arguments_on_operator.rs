use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .map_values::<String>(|w| w.to_uppercase())
        .to("shouted");
    builder.build()
}

fn main() {}

use weir::prelude::*;

struct Word(String);

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, Word>("words")
        .map_values(|w| w.0.to_uppercase())
        .to("shouted");
    builder.build()
}

fn main() {}

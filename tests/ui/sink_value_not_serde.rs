use weir::prelude::*;

struct Shout {
    text: String,
}

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .map_values(|w| Shout { text: w.to_uppercase() })
        .to("shouted");
    builder.build()
}

fn main() {}

use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .map_values(|w: i64| w + 1)
        .to("shouted");
    builder.build()
}

fn main() {}

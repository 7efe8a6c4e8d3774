use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .filter(|_k, w| !w.is_empty(), named("step"))
        .map_values(|w| w.to_uppercase(), named("step"))
        .to("shouted");
    builder.build()
}

fn main() {}

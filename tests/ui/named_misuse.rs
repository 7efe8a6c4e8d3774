use weir::prelude::*;

const NAME: &str = "upper";

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .filter(|_k, w| !w.is_empty(), named(""))
        .map_values(|w| w.to_uppercase(), named(NAME))
        .peek(|_k, _w| {}, named("a", "b"))
        .split()
        .branch("all", |_k, _w| true, named("x"))
        .no_default_branch();
    builder.build()
}

fn main() {}

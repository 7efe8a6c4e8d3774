use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .filter(|w| !w.is_empty())
        .map_values(|_k, _v, w: String| w.to_uppercase())
        .foreach(|w| drop(w));
    builder.build()
}

fn main() {}

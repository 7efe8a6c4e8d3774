use weir::prelude::*;

struct Opaque;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .map_values(|_w| Opaque)
        .print();
    builder.build()
}

fn main() {}

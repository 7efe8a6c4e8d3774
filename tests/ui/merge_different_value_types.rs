use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let words = builder.stream::<String, String>("words");
    let counts = builder.stream::<String, i64>("counts");
    words.merge(counts).to("merged");
    builder.build()
}

fn main() {}

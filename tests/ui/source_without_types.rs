use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.stream("words").to("shouted");
    builder.build()
}

fn main() {}

use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let other = StreamsBuilder::new();
    builder.stream::<String, String>("words").to("shouted");
    other.build()
}

fn main() {}

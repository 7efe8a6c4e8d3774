use weir::prelude::*;

const INPUT: &str = "words";

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.stream::<String, String>(&INPUT).to("shouted");
    builder.build()
}

fn main() {}

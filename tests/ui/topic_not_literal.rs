use weir::prelude::*;

const INPUT: &str = "words";

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let output = "shouted";
    builder.stream::<String, String>(INPUT).to(output);
    builder.stream::<String, String>(["a", INPUT]).to(42);
    builder.build()
}

fn main() {}

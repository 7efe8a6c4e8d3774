use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.stream::<String, String>([]).to("shouted");
    builder.build()
}

fn main() {}

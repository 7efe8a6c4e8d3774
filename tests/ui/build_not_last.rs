use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.build();
    builder.stream::<String, String>("words").to("shouted");
}

fn main() {}

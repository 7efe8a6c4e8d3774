use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let words = builder.stream::<String, String>("words");
    words["long"].to("shouted");
    builder.build()
}

fn main() {}

use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let split = builder
        .stream::<String, String>("words")
        .split()
        .branch("long", |_k, w| w.len() > 5);
    split["long"].to("long-words");
    builder.build()
}

fn main() {}

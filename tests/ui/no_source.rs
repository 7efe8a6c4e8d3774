use weir::prelude::*;

#[weir::topology]
fn nothing() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.build()
}

fn main() {}

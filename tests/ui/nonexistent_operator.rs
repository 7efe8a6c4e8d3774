use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .window_by(|_k, w| !w.is_empty())
        .to("shouted");
    builder.build()
}

fn main() {}

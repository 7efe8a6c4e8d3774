use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .to(|_k, w, _ctx| w.len());
    builder.build()
}

fn main() {}

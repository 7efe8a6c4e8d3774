use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let words = builder.stream::<String, String>("words").fliter(|_k, w| !w.is_empty());
    words.to("shouted");
    builder.build()
}

fn main() {}

use weir::prelude::*;

struct Len(usize);

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let lengths = builder
        .stream::<String, String>("words")
        .map_values(|w| Len(w.len()));
    lengths.foreach(|_k, v| drop(v.0));
    lengths.foreach(|_k, v| drop(v.0));
    builder.build()
}

fn main() {}

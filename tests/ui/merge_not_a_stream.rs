use weir::prelude::*;

fn other_stream() -> u32 {
    0
}

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let words = builder.stream::<String, String>("words");
    let local = 5;
    words.merge(local).to("merged");
    words.merge(builder).to("merged");
    words.merge(other_stream()).to("merged");
    builder.build()
}

fn main() {}

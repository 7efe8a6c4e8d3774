use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let words = builder.stream::<String, String>("words");
    let numbered = builder.stream::<i64, String>("numbered");
    words.merge(numbered).to("merged");
    builder.build()
}

fn main() {}

use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let label = "words";
    builder.stream::<String, String>("words").print(label);
    builder.build()
}

fn main() {}

use weir::prelude::*;

#[weir::topology]
fn misused() -> impl Topology {
    let builder = StreamsBuilder::new();
    let input = builder.stream::<String, String>("in");
    input
        .group_by_key()
        .count(with_caching_disabled(true))
        .to_stream()
        .to("a");
    input
        .filter(|_, _| true, with_caching_disabled())
        .to("b");
    builder.build()
}

fn main() {}

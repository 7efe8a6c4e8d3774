use std::time::Duration;
use weir::prelude::*;

#[weir::topology]
fn counts() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .group_by_key()
        .count()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))
        .to_stream()
        .to("counts");
    builder.build()
}

fn main() {}

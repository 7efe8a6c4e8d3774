use std::time::Duration;
use weir::prelude::*;

#[weir::topology]
fn counts() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(Duration::from_secs(5)))
        .count()
        .to_stream()
        .to("counts");
    builder.build()
}

fn main() {}

use std::time::Duration;
use weir::prelude::*;

#[weir::topology]
fn misused() -> impl Topology {
    let builder = StreamsBuilder::new();
    let input = builder.stream::<String, String>("in");
    input
        .group_by_key()
        .windowed_by(SlidingWindows::of_time_difference_with_no_grace(Duration::ZERO))
        .count()
        .to_stream()
        .to("a");
    input
        .group_by_key()
        .windowed_by(SlidingWindows::of_time_difference_with_no_grace(Duration::from_secs(1)))
        .count(with_caching_disabled())
        .to_stream()
        .to("b");
    builder.build()
}

fn main() {}

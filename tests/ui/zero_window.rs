use std::time::Duration;
use weir::prelude::*;

#[weir::topology]
fn counts() -> impl Topology {
    let builder = StreamsBuilder::new();
    let grouped = builder.stream::<String, String>("words").group_by_key();
    grouped
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::ZERO))
        .count()
        .to_stream()
        .to("a");
    grouped
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(10)).advance_by(Duration::from_millis(0)))
        .count()
        .to_stream()
        .to("b");
    builder.build()
}

fn main() {}

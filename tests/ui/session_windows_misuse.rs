use std::time::Duration;
use weir::prelude::*;

#[weir::topology]
fn misused() -> impl Topology {
    let builder = StreamsBuilder::new();
    let input = builder.stream::<String, String>("in");
    // A zero gap.
    input
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(Duration::ZERO))
        .count()
        .to_stream()
        .to("a");
    // Sessions merge: `aggregate` needs a merger.
    input
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(Duration::from_secs(5)))
        .aggregate(String::new, |_k, v, agg| agg + &v)
        .to_stream()
        .to("b");
    // Only sessions merge.
    input
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(5)))
        .aggregate(String::new, |_k, v, agg| agg + &v, |_k, a, b| a + &b)
        .to_stream()
        .to("c");
    // Windows are built in place.
    let windows = SessionWindows::of_inactivity_gap_with_no_grace(Duration::from_secs(5));
    input
        .group_by_key()
        .windowed_by(windows)
        .count()
        .to_stream()
        .to("d");
    builder.build()
}

fn main() {}

#[weir::topology]
fn final_results() -> impl Topology {
    let builder = StreamsBuilder::new();
    let input = builder.stream::<String, String>("in");
    input
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(Duration::from_secs(5)))
        .emit_strategy(EmitStrategy::on_window_close())
        .count()
        .to_stream()
        .to("a");
    input
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(5)))
        .emit_strategy(EmitStrategy::eventually())
        .count()
        .to_stream()
        .to("b");
    builder.build()
}

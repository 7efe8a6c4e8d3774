use weir::prelude::*;

#[weir::topology]
fn counts() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .group_by_key()
        .count()
        .suppress(until_window_closes(unbounded()))
        .to_stream()
        .to("counts");
    builder.build()
}

fn main() {}

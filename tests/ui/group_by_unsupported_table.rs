use weir::prelude::*;

#[weir::topology]
fn regroup_windows() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("clicks")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(std::time::Duration::from_secs(60)))
        .count()
        .group_by(|w, n| (w.key.clone(), n))
        .count()
        .to_stream()
        .to("per-user");
    builder.build()
}

#[weir::topology]
fn regroup_filtered() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("clicks")
        .group_by_key()
        .count()
        .filter(|_k, n| *n > 1)
        .group_by(|k, n| (n.to_string(), k.clone()))
        .count()
        .to_stream()
        .to("users-per-count");
    builder.build()
}

fn main() {}

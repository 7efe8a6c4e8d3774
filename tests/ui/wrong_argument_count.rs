use weir::prelude::*;

#[weir::topology]
fn none() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.stream::<String, String>("words").filter().to("shouted");
    builder.build()
}

#[weir::topology]
fn two() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .filter(|_k, w| !w.is_empty(), |_k, w| w.len() > 3)
        .to("shouted");
    builder.build()
}

#[weir::topology]
fn split_with_argument() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .split("prefix-")
        .no_default_branch();
    builder.build()
}

fn main() {}

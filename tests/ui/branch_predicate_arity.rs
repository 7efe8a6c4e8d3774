use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .split()
        .branch("long", |w: &String| w.len() > 5)
        .no_default_branch();
    builder.build()
}

fn main() {}

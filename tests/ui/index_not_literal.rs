use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream::<String, String>("words")
        .split()
        .branch("long", |_k, w| w.len() > 5)
        .no_default_branch();
    let name = "long";
    branches[name].to("long-words");
    builder.build()
}

fn main() {}

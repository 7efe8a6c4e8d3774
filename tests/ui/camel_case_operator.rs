use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let words = builder.stream::<String, String>("words");
    words.mapValues(|w| w.to_uppercase()).to("shouted");
    words
        .split()
        .brnach("long", |_k, w| w.len() > 5)
        .defaultBranch("short");
    builder.build()
}

fn main() {}

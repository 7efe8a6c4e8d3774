use weir::prelude::*;

fn shout_with_key(key: &String, word: String) -> String {
    format!("{key}: {}", word.to_uppercase())
}

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .map_values(shout_with_key)
        .to("shouted");
    builder.build()
}

fn main() {}

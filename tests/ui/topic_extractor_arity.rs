use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.stream::<String, String>("words").to(|w: &String| w.clone());
    builder.build()
}

fn main() {}

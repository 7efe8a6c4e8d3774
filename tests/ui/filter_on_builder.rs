use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.filter(|_k, _v: &String| true).to("shouted");
    builder.stream::<String, String>("words").to("shouted");
    builder.build()
}

fn main() {}

use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let words = builder.stream::<String, String>("bad topic!");
    words.fliter(|_k, w| !w.is_empty()).to("shouted");
    words.map_values(|w| w.to_uppercase(), named("upper")).to("upper");
    words.peek(|_k, _w| {}, named("upper")).to(42);
    words
        .split()
        .branch("long", |_k, w| w.len() > 5)
        .branch("long", |_k, w| w.len() > 10);
    builder.filter(|_k, _v: &String| true);
}

fn main() {}

use weir::prelude::*;

#[weir::topology]
fn shout(loud: bool) -> impl Topology {
    let builder = StreamsBuilder::new();
    let words = builder.stream::<String, String>("words");
    if loud {
        words.map_values(|w| w.to_uppercase()).to("shouted");
    }
    builder.build()
}

fn main() {}

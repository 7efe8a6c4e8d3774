use std::rc::Rc;
use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    let suffix = Rc::new(String::from("!"));
    builder
        .stream::<String, String>("words")
        .map_values(move |w| w + &suffix)
        .to("shouted");
    builder.build()
}

fn main() {}

use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .flat_map_values(|w| w.len() as i64)
        .to("lengths");
    builder.build()
}

fn main() {}

use weir::prelude::*;

#[weir::topology]
fn counts() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.stream::<String, String>("words").count().to_stream().to("counts");
    builder.build()
}

fn main() {}

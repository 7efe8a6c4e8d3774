use weir::prelude::*;

#[weir::topology]
fn counts() -> impl Topology {
    let builder = StreamsBuilder::new();
    let words = builder.stream::<String, String>("words");
    words.group_by_key().count(named("counts")).to_stream().to("a");
    words.group_by_key().reduce(|a, b| a + &b, named("counts")).to_stream().to("b");
    builder.build()
}

fn main() {}

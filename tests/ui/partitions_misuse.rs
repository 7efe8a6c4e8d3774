use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words")
        .repartition(partitions(0))
        .repartition(partitions("four"))
        .repartition(partitions(-1))
        .filter(|_k, w| !w.is_empty(), partitions(4))
        .to("shouted");
    builder.build()
}

fn main() {}

use weir::prelude::*;

struct Nothing;

impl Processor for Nothing {
    type KeyIn = String;
    type ValueIn = String;
    type KeyOut = String;
    type ValueOut = String;
    fn process(
        &mut self,
        _record: Record<'_, String, String>,
        _ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), weir::ProcessError> {
        Ok(())
    }
}

#[weir::topology]
fn misused() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.add_state_store("seen");
    builder.add_state_store("seen");
    builder
        .stream::<String, String>("in")
        .process(|| Nothing, "sen")
        .to("out");
    builder.build()
}

fn main() {}

#[weir::topology]
fn clashing() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.add_state_store("counts");
    builder
        .stream::<String, String>("in")
        .group_by_key()
        .count(named("counts"))
        .to_stream()
        .to("out");
    builder.build()
}

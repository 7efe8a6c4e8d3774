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

use weir::prelude::*;

struct Numbers;

impl Processor for Numbers {
    type KeyIn = String;
    type ValueIn = i64;
    type KeyOut = String;
    type ValueOut = i64;
    fn process(
        &mut self,
        record: Record<'_, String, i64>,
        ctx: &mut ProcessorContext<'_, String, i64>,
    ) -> Result<(), weir::ProcessError> {
        ctx.forward(record.key, record.value);
        Ok(())
    }
}

#[weir::topology]
fn mistyped() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in")
        .process(|| Numbers)
        .to("out");
    builder.build()
}

fn main() {}

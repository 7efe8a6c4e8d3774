//! The Processor API through the TopologyTestDriver, in the style of Kafka
//! Streams' `KStream.process` tests: a user processor with a state store,
//! stream-time and wall-clock punctuations.

use std::time::Duration;
use weir::prelude::*;
use weir::testing::TestRecord;
use weir::ProcessError;

fn s(x: &str) -> String {
    x.to_string()
}

/// Forwards the first record of each key; counts every key's records in
/// the `seen` store; every 100 ms of stream time and every 10 s of wall
/// time forwards the total count.
struct FirstSeen;

impl Processor for FirstSeen {
    type KeyIn = String;
    type ValueIn = String;
    type KeyOut = String;
    type ValueOut = String;

    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) {
        ctx.schedule(Duration::from_millis(100), PunctuationType::StreamTime);
        ctx.schedule(Duration::from_secs(10), PunctuationType::WallClockTime);
    }

    fn process(
        &mut self,
        record: Record<'_, String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), ProcessError> {
        let mut seen = ctx.key_value_store::<String, i64>("seen")?;
        let n = seen.get(&record.key)?.unwrap_or(0);
        seen.put(&record.key, &(n + 1))?;
        if n == 0 {
            ctx.forward(record.key, record.value);
        }
        Ok(())
    }

    fn punctuate(
        &mut self,
        punctuation: Punctuation,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), ProcessError> {
        let seen = ctx.key_value_store::<String, i64>("seen")?;
        let total: i64 = seen.all()?.iter().map(|(_, n)| n).sum();
        let key = match punctuation.kind {
            PunctuationType::StreamTime => "stream-time",
            PunctuationType::WallClockTime => "wall-clock",
        };
        ctx.forward(key.to_string(), total.to_string());
        Ok(())
    }
}

#[weir::topology]
fn first_seen() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.add_state_store("seen");
    builder
        .stream::<String, String>("events")
        .process(|| FirstSeen, "seen")
        .to("firsts");
    builder.build()
}

#[test]
fn a_processor_forwards_uses_its_store_and_punctuates_on_stream_time() {
    let driver = TopologyTestDriver::new(first_seen());
    let events = driver.create_input_topic::<String, String>("events");
    let out = driver.create_output_topic::<String, String>("firsts");
    events.pipe_input_with_timestamp(s("a"), s("1"), 10);
    // The first stream-time punctuation fires as soon as there is data.
    assert_eq!(
        out.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("a"), s("1"), 10),
            TestRecord::with_timestamp(s("stream-time"), s("1"), 10),
        ]
    );
    events.pipe_input_with_timestamp(s("a"), s("2"), 50);
    events.pipe_input_with_timestamp(s("b"), s("3"), 60);
    assert_eq!(out.read_key_values_to_list(), vec![(s("b"), s("3"))]);
    // Stream time reaches 100: the next punctuation (aligned to 100).
    events.pipe_input_with_timestamp(s("a"), s("4"), 130);
    assert_eq!(
        out.read_records_to_list(),
        vec![TestRecord::with_timestamp(s("stream-time"), s("4"), 130)]
    );
    // Stream time jumps past 200 and 300: one punctuation, the next at 400.
    events.pipe_input_with_timestamp(s("c"), s("5"), 390);
    assert_eq!(
        out.read_key_values_to_list(),
        vec![(s("c"), s("5")), (s("stream-time"), s("5"))]
    );
    events.pipe_input_with_timestamp(s("c"), s("6"), 399);
    assert!(out.is_empty());
    // The store is the task's, logged to its changelog.
    let store = driver.get_key_value_store::<String, i64>("seen");
    assert_eq!(store.get(&s("a")), Some(3));
    assert_eq!(store.get(&s("c")), Some(2));
    let changelog = driver.create_output_topic::<String, i64>("test-app-seen-changelog");
    assert_eq!(changelog.queue_size(), 6);
    let text = driver.describe().to_string();
    assert!(
        text.contains("Processor: KSTREAM-PROCESSOR-0000000001 (stores: [seen])"),
        "{text}"
    );
}

#[test]
fn wall_clock_punctuations_fire_as_the_driver_clock_advances() {
    let driver = TopologyTestDriver::new(first_seen());
    let events = driver.create_input_topic::<String, String>("events");
    let out = driver.create_output_topic::<String, String>("firsts");
    events.pipe_input_with_timestamp(s("a"), s("1"), 10);
    out.read_records_to_list();
    driver.advance_wall_clock_time(Duration::from_secs(9));
    assert!(out.is_empty());
    driver.advance_wall_clock_time(Duration::from_secs(1));
    let now = driver.wall_clock_time_ms();
    assert_eq!(
        out.read_records_to_list(),
        vec![TestRecord::with_timestamp(s("wall-clock"), s("1"), now)]
    );
    // A restart rebuilds the store from its changelog; the processor is new.
    driver.restart();
    assert_eq!(
        driver
            .get_key_value_store::<String, i64>("seen")
            .get(&s("a")),
        Some(1)
    );
    events.pipe_input_with_timestamp(s("a"), s("2"), 20);
    assert_eq!(
        out.read_key_values_to_list(),
        vec![(s("stream-time"), s("2"))]
    );
}

/// Keeps each key; replaces the value with the key's running total of
/// value lengths.
struct RunningTotal;

impl FixedKeyProcessor for RunningTotal {
    type Key = String;
    type ValueIn = String;
    type ValueOut = i64;

    fn process(
        &mut self,
        record: FixedKeyRecord<String, String>,
        ctx: &mut FixedKeyProcessorContext<'_, String, i64>,
    ) -> Result<(), ProcessError> {
        let mut totals = ctx.key_value_store::<String, i64>("totals")?;
        let total = totals.get(record.key())?.unwrap_or(0) + record.value().len() as i64;
        totals.put(record.key(), &total)?;
        ctx.forward(record.with_value(total));
        Ok(())
    }
}

#[weir::topology]
fn running_totals() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.add_state_store("totals", in_memory());
    builder
        .stream::<String, String>("events")
        .process_values(|| RunningTotal, "totals")
        .group_by_key()
        .reduce(|a, b| a.max(b))
        .to_stream()
        .to("max-totals");
    builder.build()
}

#[test]
fn process_values_keeps_keys_so_grouping_needs_no_repartition() {
    let driver = TopologyTestDriver::new(running_totals());
    let events = driver.create_input_topic::<String, String>("events");
    events.pipe_input_with_timestamp(s("a"), s("xx"), 1);
    events.pipe_input_with_timestamp(s("b"), s("y"), 2);
    events.pipe_input_with_timestamp(s("a"), s("zzz"), 3);
    let out = driver.create_output_topic::<String, i64>("max-totals");
    assert_eq!(
        out.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("a"), 2, 1),
            TestRecord::with_timestamp(s("b"), 1, 2),
            TestRecord::with_timestamp(s("a"), 5, 3),
        ]
    );
    let text = driver.describe().to_string();
    assert!(!text.contains("repartition"), "{text}");
    assert!(
        text.contains("Processor: KSTREAM-PROCESSVALUES-0000000001 (stores: [totals])"),
        "{text}"
    );
}

/// Punctuates every 100 ms of stream time and cancels itself after the
/// third time, from within `punctuate` (Kafka Streams' `Cancellable`).
#[derive(Default)]
struct ThreeTicks {
    fired: u32,
}

impl Processor for ThreeTicks {
    type KeyIn = String;
    type ValueIn = String;
    type KeyOut = String;
    type ValueOut = String;

    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) {
        let id = ctx.schedule(Duration::from_millis(100), PunctuationType::StreamTime);
        assert_eq!(id, 0);
        // A cancelled schedule's id is not given out again.
        let other = ctx.schedule(Duration::from_secs(1), PunctuationType::StreamTime);
        assert!(ctx.cancel(other));
        assert!(!ctx.cancel(other), "already cancelled");
    }

    fn process(
        &mut self,
        _record: Record<'_, String, String>,
        _ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), ProcessError> {
        Ok(())
    }

    fn punctuate(
        &mut self,
        punctuation: Punctuation,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), ProcessError> {
        assert_eq!(punctuation.id, 0);
        self.fired += 1;
        ctx.forward(s("tick"), self.fired.to_string());
        if self.fired == 3 {
            assert!(ctx.cancel(punctuation.id));
        }
        Ok(())
    }
}

#[weir::topology]
fn three_ticks() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("events")
        .process(ThreeTicks::default)
        .to("ticks");
    builder.build()
}

#[test]
fn a_punctuation_cancelled_from_its_own_punctuate_fires_no_more() {
    let driver = TopologyTestDriver::new(three_ticks());
    let events = driver.create_input_topic::<String, String>("events");
    for ts in (0..1_000).step_by(50) {
        events.pipe_input_with_timestamp(s("k"), s("v"), ts);
    }
    let ticks = driver.create_output_topic::<String, String>("ticks");
    assert_eq!(
        ticks.read_records_to_list(),
        vec![
            TestRecord::with_timestamp(s("tick"), s("1"), 0),
            TestRecord::with_timestamp(s("tick"), s("2"), 100),
            TestRecord::with_timestamp(s("tick"), s("3"), 200),
        ]
    );
}

//! Conformance: weir checked against Kafka Streams itself.
//!
//! Every topology here has a twin of the same name written with Kafka
//! Streams 4.1.1 in `tests/conformance/src/main/java/dev/weir/conformance/
//! Topologies.java`. The test generates scenarios (hand-written edge cases and
//! seeded random input sequences), runs all of them through Kafka Streams' own
//! `TopologyTestDriver` in one JVM (`tests/conformance/`, built with Maven on
//! first use), runs the same scenarios through weir's `TopologyTestDriver`,
//! and compares what each side wrote, record by record, per (scenario, output
//! topic), keys, values, timestamps and headers included.
//!
//! Reproduce one seed:
//! `WEIR_CONFORMANCE_TOPOLOGY=filter WEIR_CONFORMANCE_SEED=2 cargo test --test conformance`.
//! See `tests/conformance/README.md` for the format and how to add a topology.

// `map_values(|v| upper(v))`, not `map_values(upper)`: the topology compiler
// tells `|v|` from `|k, v|` by the closure's parameters.
#![allow(clippy::redundant_closure)]

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use weir::prelude::*;
use weir::testing::TestInputTopic;

/// `application.id` on both sides; internal topics are `conformance-...`.
const APPLICATION_ID: &str = "conformance";

// ---------------------------------------------------------------------------
// Helpers shared by the weir topologies, mirrored in Topologies.java.
// ---------------------------------------------------------------------------

/// Words: split on single spaces, empty pieces dropped (Java: `split(" ")`).
fn words(v: &Option<String>) -> Vec<String> {
    v.as_deref()
        .map(|v| {
            v.split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn upper(v: Option<String>) -> Option<String> {
    v.map(|v| v.to_uppercase())
}

fn char_count(v: &Option<String>) -> usize {
    v.as_deref().map_or(0, |v| v.chars().count())
}

/// The first character, "" for "", null for null.
fn first_char(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(|v| v.chars().next().map(String::from).unwrap_or_default())
}

fn or_null(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("<null>")
}

fn starts_with(v: &Option<String>, prefix: &str) -> bool {
    v.as_deref().is_some_and(|v| v.starts_with(prefix))
}

/// out-a / out-b by the value's first character, out-other otherwise.
fn bucket(v: &Option<String>) -> &'static str {
    if starts_with(v, "a") {
        "out-a"
    } else if starts_with(v, "b") {
        "out-b"
    } else {
        "out-other"
    }
}

// ---------------------------------------------------------------------------
// The weir topologies: one per entry of SPECS, same name minus `_topology`.
// ---------------------------------------------------------------------------

#[weir::topology]
fn filter_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .filter(|_k, v| v.is_some() && char_count(v) % 2 == 0)
        .to("out");
    builder.build()
}

#[weir::topology]
fn filter_not_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .filter_not(|k, _v| k.as_deref().map_or(true, |k| k < "c"))
        .to("out");
    builder.build()
}

#[weir::topology]
fn map_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .map(|k, v| (v, k))
        .to("out");
    builder.build()
}

#[weir::topology]
fn map_values_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .map_values(|v| upper(v))
        .to("out");
    builder.build()
}

#[weir::topology]
fn map_values_with_key_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .map_values(|k, v| k.as_ref().map(|k| format!("{k}={}", or_null(&v))))
        .to("out");
    builder.build()
}

#[weir::topology]
fn flat_map_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .flat_map(|k, v| {
            words(&v)
                .into_iter()
                .map(|w| (Some(w), k.clone()))
                .collect::<Vec<_>>()
        })
        .to("out");
    builder.build()
}

#[weir::topology]
fn flat_map_values_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .flat_map_values(|v| {
            if v.is_none() {
                vec![None]
            } else {
                words(&v).into_iter().map(Some).collect::<Vec<_>>()
            }
        })
        .to("out");
    builder.build()
}

#[weir::topology]
fn flat_map_values_with_key_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .flat_map_values(|k, v| {
            if v.is_none() {
                vec![Some(or_null(k).to_owned())]
            } else {
                words(&v)
                    .into_iter()
                    .map(|w| Some(format!("{}/{w}", or_null(k))))
                    .collect::<Vec<_>>()
            }
        })
        .to("out");
    builder.build()
}

#[weir::topology]
fn select_key_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .select_key(|_k, v| first_char(v))
        .to("out");
    builder.build()
}

#[weir::topology]
fn peek_topology(peeked: Arc<AtomicU64>) -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .peek(move |_k, _v| {
            peeked.fetch_add(1, Ordering::Relaxed);
        })
        .to("out");
    builder.build()
}

#[weir::topology]
fn split_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream::<Option<String>, Option<String>>("in")
        .split(named("p-"))
        .branch("a", |_k, v| starts_with(v, "a"))
        .branch("nullkey", |k, _v| k.is_none())
        .default_branch("other");
    branches["a"].to("out-a");
    branches["nullkey"]
        .map_values(|v| upper(v))
        .to("out-nullkey");
    branches["other"].to("out-other");
    builder.build()
}

#[weir::topology]
fn merge_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    let left = builder.stream::<Option<String>, Option<String>>("left");
    let right = builder
        .stream::<Option<String>, Option<String>>(["right-a", "right-b"])
        .map_values(|v| upper(v));
    left.merge(right).to("out");
    builder.build()
}

#[weir::topology]
fn repartition_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .repartition()
        .to("out");
    builder.build()
}

#[weir::topology]
fn repartition_named_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .repartition(named("rp"))
        .map_values(|v| upper(v))
        .to("out");
    builder.build()
}

#[weir::topology]
fn repartition_fanout_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    let halves = builder
        .stream::<Option<String>, Option<String>>("in")
        .filter(|k, _v| k.is_some())
        .flat_map_values(|v| words(&v).into_iter().map(Some).collect::<Vec<_>>())
        .split(named("half-"))
        .branch("low", |_k, w| w.as_deref().is_some_and(|w| w < "m"))
        .default_branch("high");
    let low = halves["low"].repartition(named("low"));
    let high = halves["high"]
        .repartition(named("high"))
        .map_values(|v| upper(v));
    low.merge(high).to("out");
    builder.build()
}

#[weir::topology]
fn to_extractor_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .to(|_k, v| bucket(v));
    builder.build()
}

#[weir::topology]
fn to_extractor_ctx_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>(["in-x", "in-y"])
        .to(|_k, _v, ctx| format!("from-{}", ctx.topic));
    builder.build()
}

#[weir::topology]
fn chain_repartition_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .filter(|_k, v| v.is_some())
        .select_key(|_k, v| {
            if v.as_deref() == Some("") {
                None
            } else {
                first_char(v)
            }
        })
        .repartition()
        .map_values(|k, v| Some(format!("{}:{}", or_null(k), or_null(&upper(v)))))
        .to("out");
    builder.build()
}

#[weir::topology]
fn chain_mixed_topology(peeked: Arc<AtomicU64>) -> impl Topology {
    let builder = StreamsBuilder::new();
    let left = builder.stream::<Option<String>, Option<String>>("left");
    let right = builder.stream::<Option<String>, Option<String>>("right");
    let branches = left
        .merge(right)
        .flat_map_values(|v| words(&v).into_iter().map(Some).collect::<Vec<_>>())
        .filter_not(|_k, w| starts_with(w, "x"))
        .peek(move |_k, _w| {
            peeked.fetch_add(1, Ordering::Relaxed);
        })
        .map_values(|k, w| Some(format!("{}:{}", or_null(k), or_null(&w))))
        .split(named("len-"))
        .branch("long", |_k, v| char_count(v) > 6)
        .default_branch("short");
    branches["long"].to("out-long");
    branches["short"]
        .select_key(|_k, v| first_char(v))
        .to("out-short");
    builder.build()
}

#[weir::topology]
fn count_by_key_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .count()
        .to_stream()
        .map_values(|v| Some(v.to_string()))
        .to("out");
    builder.build()
}

#[weir::topology]
fn count_group_by_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by(|_k, v| first_char(v))
        .count()
        .to_stream()
        .map_values(|v| Some(v.to_string()))
        .to("out");
    builder.build()
}

#[weir::topology]
fn reduce_concat_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .reduce(|agg, v| Some(format!("{}|{}", or_null(&agg), or_null(&v))))
        .to_stream()
        .to("out");
    builder.build()
}

#[weir::topology]
fn aggregate_after_map_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .map(|k, v| {
            (
                if v.is_none() {
                    None
                } else {
                    upper(first_char(&v))
                },
                k,
            )
        })
        .group_by_key()
        .aggregate(
            || Some(String::new()),
            |_k, v, agg| Some(format!("{}<{}>", or_null(&agg), or_null(&v))),
        )
        .to_stream()
        .to("out");
    builder.build()
}

/// A windowed key as `key@start-end`.
fn windowed(wk: &weir::Windowed<Option<String>>) -> Option<String> {
    Some(format!(
        "{}@{}-{}",
        or_null(&wk.key),
        wk.window.start,
        wk.window.end
    ))
}

#[weir::topology]
fn windowed_count_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(weir::TimeWindows::of_size_and_grace(
            Duration::from_millis(500),
            Duration::from_millis(300),
        ))
        .count()
        .to_stream()
        .map(|wk, v| (windowed(&wk), Some(v.to_string())))
        .to("out");
    builder.build()
}

#[weir::topology]
fn windowed_count_hopping_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by(|_k, v| first_char(v))
        .windowed_by(
            weir::TimeWindows::of_size_with_no_grace(Duration::from_millis(500))
                .advance_by(Duration::from_millis(200)),
        )
        .count()
        .to_stream()
        .map(|wk, v| (windowed(&wk), Some(v.to_string())))
        .to("out");
    builder.build()
}

#[weir::topology]
fn windowed_reduce_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(weir::TimeWindows::of_size_and_grace(
            Duration::from_millis(1000),
            Duration::from_millis(500),
        ))
        // Java's `agg + "|" + v` prints a null value as "null".
        .reduce(|agg, v| {
            Some(format!(
                "{}|{}",
                or_null(&agg),
                v.as_deref().unwrap_or("null")
            ))
        })
        .to_stream()
        .map(|wk, v| (windowed(&wk), v))
        .to("out");
    builder.build()
}

#[weir::topology]
fn sliding_count_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(weir::SlidingWindows::of_time_difference_and_grace(
            Duration::from_millis(300),
            Duration::from_millis(500),
        ))
        .count()
        .to_stream()
        .map(|wk, n| (windowed(&wk), Some(n.to_string())))
        .to("out");
    builder.build()
}

#[weir::topology]
fn sliding_reduce_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(weir::SlidingWindows::of_time_difference_with_no_grace(
            Duration::from_millis(200),
        ))
        .reduce(|agg, v| {
            Some(format!(
                "{}|{}",
                or_null(&agg),
                v.as_deref().unwrap_or("null")
            ))
        })
        .to_stream()
        .map(|wk, v| (windowed(&wk), v))
        .to("out");
    builder.build()
}

#[weir::topology]
fn sliding_aggregate_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by(|_k, v| first_char(v))
        .windowed_by(weir::SlidingWindows::of_time_difference_and_grace(
            Duration::from_millis(1000),
            Duration::from_millis(2000),
        ))
        .aggregate(
            || Some(String::new()),
            |_k, v, agg| Some(format!("{}{}", or_null(&agg), char_count(&v))),
        )
        .to_stream()
        .map(|wk, v| (windowed(&wk), v))
        .to("out");
    builder.build()
}

#[weir::topology]
fn windowed_count_bytes_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(weir::TimeWindows::of_size_and_grace(
            Duration::from_millis(500),
            Duration::from_millis(300),
        ))
        .count()
        .to_stream()
        .to("out-bytes");
    builder.build()
}

#[weir::topology]
fn session_count_bytes_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(weir::SessionWindows::of_inactivity_gap_and_grace(
            Duration::from_millis(300),
            Duration::from_millis(500),
        ))
        .count()
        .to_stream()
        .map(|wk, n| (weir::SessionWindowed(wk), n))
        .to("out-bytes");
    builder.build()
}

#[weir::topology]
fn numbers_bytes_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    let s = builder.stream::<Option<String>, Option<String>>("in");
    s.map_values(|v| {
        v.as_ref()
            .map(|_| char_count(&v) as i64 * 1_000_000_007 - 3_000_000_000)
    })
    .to("longs-bytes");
    s.map_values(|v| v.as_ref().map(|_| -(char_count(&v) as i32)))
        .to("ints-bytes");
    s.map_values(|v| v.as_ref().map(|_| char_count(&v) as f64 / 3.0))
        .to("doubles-bytes");
    builder.build()
}

#[weir::topology]
fn session_count_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(weir::SessionWindows::of_inactivity_gap_and_grace(
            Duration::from_millis(300),
            Duration::from_millis(500),
        ))
        .count()
        .to_stream()
        .map(|wk, n| (windowed(&wk), n.map(|n| n.to_string())))
        .to("out");
    builder.build()
}

#[weir::topology]
fn session_reduce_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(weir::SessionWindows::of_inactivity_gap_with_no_grace(
            Duration::from_millis(200),
        ))
        .reduce(|agg, v| {
            Some(format!(
                "{}|{}",
                agg.as_deref().unwrap_or("null"),
                v.as_deref().unwrap_or("null")
            ))
        })
        .to_stream()
        .map(|wk, v| (windowed(&wk), v.flatten()))
        .to("out");
    builder.build()
}

#[weir::topology]
fn session_aggregate_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by(|_k, v| first_char(v))
        .windowed_by(weir::SessionWindows::of_inactivity_gap_and_grace(
            Duration::from_millis(1000),
            Duration::from_millis(2000),
        ))
        .aggregate(
            String::new,
            |_k, v, agg| format!("{agg}{}", char_count(&v)),
            |_k, a, b| format!("{a}+{b}"),
        )
        .to_stream()
        .map(|wk, v| (windowed(&wk), v))
        .to("out");
    builder.build()
}

/// Forwards each key's first record; every second of stream time, the
/// total count (the twin of `Topologies.FirstSeen`).
struct FirstSeen;

impl weir::processor::Processor for FirstSeen {
    type KeyIn = Option<String>;
    type ValueIn = Option<String>;
    type KeyOut = Option<String>;
    type ValueOut = Option<String>;

    fn init(
        &mut self,
        ctx: &mut weir::processor::ProcessorContext<'_, Option<String>, Option<String>>,
    ) {
        ctx.schedule(
            Duration::from_millis(1000),
            weir::processor::PunctuationType::StreamTime,
        );
    }

    fn process(
        &mut self,
        record: weir::processor::Record<'_, Option<String>, Option<String>>,
        ctx: &mut weir::processor::ProcessorContext<'_, Option<String>, Option<String>>,
    ) -> Result<(), weir::ProcessError> {
        let Some(key) = record.key else {
            return Ok(());
        };
        let mut seen = ctx.key_value_store::<String, i64>("seen")?;
        let n = seen.get(&key)?;
        seen.put(&key, &(n.unwrap_or(0) + 1))?;
        if n.is_none() {
            ctx.forward(Some(key), record.value);
        }
        Ok(())
    }

    fn punctuate(
        &mut self,
        _punctuation: weir::processor::Punctuation,
        ctx: &mut weir::processor::ProcessorContext<'_, Option<String>, Option<String>>,
    ) -> Result<(), weir::ProcessError> {
        let seen = ctx.key_value_store::<String, i64>("seen")?;
        let total: i64 = seen.all()?.iter().map(|(_, n)| n).sum();
        ctx.forward(Some("stream-time".into()), Some(total.to_string()));
        Ok(())
    }
}

#[weir::topology]
fn processor_first_seen_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.add_state_store("seen", in_memory());
    builder
        .stream::<Option<String>, Option<String>>("in")
        .process(|| FirstSeen, "seen")
        .to("out");
    builder.build()
}

/// Per key, the running total of the values' lengths (the twin of
/// `Topologies.RunningTotal`).
struct RunningTotal;

impl weir::processor::FixedKeyProcessor for RunningTotal {
    type Key = Option<String>;
    type ValueIn = Option<String>;
    type ValueOut = Option<String>;

    fn process(
        &mut self,
        record: weir::processor::FixedKeyRecord<Option<String>, Option<String>>,
        ctx: &mut weir::processor::FixedKeyProcessorContext<'_, Option<String>, Option<String>>,
    ) -> Result<(), weir::ProcessError> {
        let (Some(key), Some(_)) = (record.key().clone(), record.value()) else {
            return Ok(());
        };
        let mut totals = ctx.key_value_store::<String, i64>("totals")?;
        let total = totals.get(&key)?.unwrap_or(0) + char_count(record.value()) as i64;
        totals.put(&key, &total)?;
        ctx.forward(record.with_value(Some(format!("{key}={total}"))));
        Ok(())
    }
}

#[weir::topology]
fn processor_values_totals_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder.add_state_store("totals", in_memory());
    let totals = builder
        .stream::<Option<String>, Option<String>>("in")
        .process_values(|| RunningTotal, "totals");
    totals.to("out");
    totals
        .group_by_key()
        .count()
        .to_stream()
        .map_values(|n| Some(n.to_string()))
        .to("counts");
    builder.build()
}

#[weir::topology]
fn windowed_count_final_retained_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(
            weir::TimeWindows::of_size_and_grace(
                Duration::from_millis(1000),
                Duration::from_millis(500),
            )
            .with_retention(Duration::from_millis(5000)),
        )
        .emit_strategy(weir::EmitStrategy::on_window_close())
        .count()
        .to_stream()
        .map(|wk, n| (windowed(&wk), Some(n.to_string())))
        .to("out");
    builder.build()
}

#[weir::topology]
fn sliding_count_final_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(weir::SlidingWindows::of_time_difference_and_grace(
            Duration::from_millis(300),
            Duration::from_millis(500),
        ))
        .emit_strategy(weir::EmitStrategy::on_window_close())
        .count()
        .to_stream()
        .map(|wk, n| (windowed(&wk), Some(n.to_string())))
        .to("out");
    builder.build()
}

#[weir::topology]
fn session_count_final_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(
            weir::SessionWindows::of_inactivity_gap_and_grace(
                Duration::from_millis(300),
                Duration::from_millis(500),
            )
            .with_retention(Duration::from_millis(5000)),
        )
        .emit_strategy(weir::EmitStrategy::on_window_close())
        .count()
        .to_stream()
        .map(|wk, n| (windowed(&wk), n.map(|n| n.to_string())))
        .to("out");
    builder.build()
}

#[weir::topology]
fn windowed_count_final_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(weir::TimeWindows::of_size_and_grace(
            Duration::from_millis(1000),
            Duration::from_millis(500),
        ))
        .emit_strategy(weir::EmitStrategy::on_window_close())
        .count()
        .to_stream()
        .map(|wk, n| (windowed(&wk), Some(n.to_string())))
        .to("out");
    builder.build()
}

#[weir::topology]
fn windowed_aggregate_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(weir::TimeWindows::of_size_with_no_grace(
            Duration::from_millis(300),
        ))
        .aggregate(
            || Some(String::new()),
            |_k, v, agg| Some(format!("{}{}", or_null(&agg), char_count(&v))),
        )
        .to_stream()
        .map(|wk, v| (windowed(&wk), v))
        .to("out");
    builder.build()
}

#[weir::topology]
fn windowed_count_suppressed_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .windowed_by(weir::TimeWindows::of_size_and_grace(
            Duration::from_millis(500),
            Duration::from_millis(300),
        ))
        .count()
        .suppress(until_window_closes(unbounded()))
        .to_stream()
        .map(|wk, v| (windowed(&wk), Some(v.to_string())))
        .to("out");
    builder.build()
}

#[weir::topology]
fn reduce_time_limited_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .reduce(|_agg, v| v)
        .suppress(until_time_limit(Duration::from_millis(200), max_records(3)))
        .to_stream()
        .to("out");
    builder.build()
}

fn text(x: &Option<String>) -> &str {
    x.as_deref().unwrap_or("null")
}

#[weir::topology]
fn stream_table_join_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    let table = builder.table::<Option<String>, String>("table-in");
    builder
        .stream::<Option<String>, Option<String>>("in")
        .join(table, |v: &Option<String>, t: &String| {
            format!("{}+{t}", text(v))
        })
        .to("out");
    builder.build()
}

#[weir::topology]
fn stream_table_left_join_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    let table = builder.table::<Option<String>, String>("table-in");
    builder
        .stream::<Option<String>, Option<String>>("in")
        .left_join(
            table,
            |k: &Option<String>, v: &Option<String>, t: Option<&String>| {
                format!(
                    "{}:{}+{}",
                    text(k),
                    text(v),
                    t.map_or("null", |t| t.as_str())
                )
            },
        )
        .to("out");
    builder.build()
}

#[weir::topology]
fn stream_table_join_rekeyed_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    let table = builder.table::<Option<String>, String>("table-in");
    builder
        .stream::<Option<String>, Option<String>>("in")
        .select_key(|k, v| match v {
            Some(v) => v.chars().next().map(|c| c.to_string()),
            None => k.clone(),
        })
        .join(
            table,
            |k: &Option<String>, v: &Option<String>, t: &String| {
                format!("{}:{}+{t}", text(k), text(v))
            },
        )
        .to("out");
    builder.build()
}

#[weir::topology]
fn stream_table_left_join_to_table_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    let table = builder
        .stream::<Option<String>, Option<String>>("table-in")
        .map_values(|v| upper(v))
        .to_table();
    builder
        .stream::<Option<String>, Option<String>>("in")
        // The table's value type is the stream's, inferred: `Option<String>`.
        .left_join(table, |v: &Option<String>, t: Option<&Option<String>>| {
            format!("{}+{}", text(v), t.map_or("null", |t| text(t)))
        })
        .to("out");
    builder.build()
}

#[weir::topology]
fn table_filter_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .table::<Option<String>, String>("in")
        .filter(|_k, v| v.chars().count() % 2 == 0)
        .to_stream()
        .to("out");
    builder.build()
}

#[weir::topology]
fn table_filter_not_map_values_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .table::<Option<String>, String>("in")
        .filter_not(|_k, v| v.starts_with('a'))
        .map_values(|k, v| format!("{}:{}", or_null(k), v.to_uppercase()))
        .to_stream()
        .to("out");
    builder.build()
}

#[weir::topology]
fn to_table_map_values_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .to_table()
        // A stream's null value is a tombstone: the mapper never sees it.
        .map_values(|v| format!("<{v}>"))
        .to_stream()
        .to("out");
    builder.build()
}

#[weir::topology]
fn count_filter_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .count()
        .filter(|_k, n| n % 2 == 0)
        .to_stream()
        .map_values(|n| n.map(|n| n.to_string()))
        .to("out");
    builder.build()
}

#[weir::topology]
fn cogroup_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    let left = builder
        .stream::<Option<String>, Option<String>>("left")
        .group_by_key();
    let right = builder
        .stream::<Option<String>, Option<String>>("right")
        .group_by(|_k, v| first_char(v));
    left.cogroup(|_k, v, agg: Option<String>| {
        Some(format!("{}L{}", agg.unwrap_or_default(), char_count(&v)))
    })
    .cogroup(right, |_k, v, agg| {
        Some(format!("{}R{}", agg.unwrap_or_default(), char_count(&v)))
    })
    .aggregate(|| Some(String::new()))
    .to_stream()
    .to("out");
    builder.build()
}

#[weir::topology]
fn table_group_by_count_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .table::<Option<String>, String>("in")
        .group_by(|_k, v| (first_char(&Some(v.clone())), v))
        .count()
        .to_stream()
        .map_values(|n| n.map(|n| n.to_string()))
        .to("out");
    builder.build()
}

#[weir::topology]
fn to_table_group_by_count_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .to_table()
        .group_by(|_k, v: String| (first_char(&Some(v.clone())), v))
        .count()
        .to_stream()
        .map_values(|n| n.map(|n| n.to_string()))
        .to("out");
    builder.build()
}

#[weir::topology]
fn count_regroup_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .count()
        .group_by(|k, n| (Some(n.to_string()), k.clone()))
        .count()
        .to_stream()
        .map_values(|n| n.map(|n| n.to_string()))
        .to("out");
    builder.build()
}

#[weir::topology]
fn aggregate_regroup_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .aggregate(String::new, |_k, v, agg| {
            format!("{agg}{}", first_char(&v).unwrap_or_default())
        })
        .group_by(|k, agg| (Some(agg.chars().count().to_string()), k.clone()))
        .count()
        .to_stream()
        .map_values(|n| n.map(|n| n.to_string()))
        .to("out");
    builder.build()
}

#[weir::topology]
fn reduce_regroup_reduce_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in")
        .group_by_key()
        .reduce(|agg, v| Some(format!("{}|{}", or_null(&agg), or_null(&v))))
        .group_by(|k, agg| (first_char(&agg), or_null(k).to_string()))
        .reduce(|agg, k| format!("{agg}+{k}"), |agg, k| format!("{agg}-{k}"))
        .to_stream()
        .to("out");
    builder.build()
}

#[weir::topology]
fn table_group_by_reduce_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .table::<Option<String>, String>("in")
        .filter(|_k, v| !v.is_empty())
        .group_by(|k, v| (first_char(&Some(v.clone())), format!("{}={v}", or_null(k))))
        .reduce(|agg, v| format!("{agg}+{v}"), |agg, v| format!("{agg}-{v}"))
        .to_stream()
        .to("out");
    builder.build()
}

#[weir::topology]
fn table_group_by_aggregate_topology() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .table::<Option<String>, String>("in")
        .map_values(|v| v.to_uppercase())
        .group_by(|k, v| (first_char(k), v))
        .aggregate(
            String::new,
            |_k, v, agg| format!("{agg}[{v}]"),
            |_k, v, agg| format!("{agg}({v})"),
        )
        .to_stream()
        .to("out");
    builder.build()
}

/// Runs `inputs` through the weir topology called `name`.
/// `cache` is `statestore.cache.max.bytes`.
fn run_weir(name: &str, inputs: &[InRecord], cache: usize) -> Result<SideRun, String> {
    let spec = SPECS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| format!("no spec named `{name}` in SPECS (tests/conformance.rs)"))?;
    let peeked = Arc::new(AtomicU64::new(0));
    let records = (spec.weir)(inputs, cache, &peeked)?;
    Ok(SideRun {
        records,
        peeked: peeked.load(Ordering::Relaxed),
    })
}

// ---------------------------------------------------------------------------
// What is tested: one entry per topology, with its generator setting.
// ---------------------------------------------------------------------------

/// How random scenarios of a topology are generated.
#[derive(Clone, Copy, Debug)]
struct Gen {
    /// Non-null keys are drawn from these (a small key space).
    keys: &'static [&'static str],
    /// Values are 1–4 of these words joined by spaces.
    words: &'static [&'static str],
    /// Percent of null keys.
    null_keys: u64,
    /// Percent of null values.
    null_values: u64,
    /// Records per scenario: `records` plus up to 20% more.
    records: usize,
}

const GEN: Gen = Gen {
    keys: &["a", "b", "c", "d", "e"],
    words: &[
        "a",
        "ab",
        "apple",
        "avocado",
        "b",
        "banana",
        "berry",
        "cherry",
        "kiwi",
        "m",
        "melon",
        "x",
        "xylophone",
        "zest",
        "héllo",
        "日本",
    ],
    null_keys: 10,
    null_values: 10,
    records: 1_000,
};

/// A topology under test, the same name on both sides.
struct Spec {
    name: &'static str,
    /// The Kafka Streams feature it checks (for the summary table).
    feature: &'static str,
    /// Input topics, in the order records are spread over.
    inputs: &'static [&'static str],
    /// The user topics it may write (internal ones are not compared).
    outputs: &'static [&'static str],
    gen: Gen,
    /// Runs the weir twin through weir's driver: inputs, cache bytes, the
    /// counter `peek` closures add to.
    weir: WeirRun,
}

/// Output records per user topic.
type Records = BTreeMap<String, Vec<OutRecord>>;

/// The weir side of a spec (see `Spec::weir`).
type WeirRun = fn(&[InRecord], usize, &Arc<AtomicU64>) -> Result<Records, String>;

const SPECS: &[Spec] = &[
    Spec {
        name: "filter",
        weir: |i, c, _| drive(filter_topology(), i, c),
        feature: "filter",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "filter_not",
        weir: |i, c, _| drive(filter_not_topology(), i, c),
        feature: "filterNot",
        inputs: &["in"],
        outputs: &["out"],
        // Keys around the predicate's boundary ("c").
        gen: Gen {
            keys: &["a", "b", "bz", "c", "ca", "d", "e"],
            ..GEN
        },
    },
    Spec {
        name: "map",
        weir: |i, c, _| drive(map_topology(), i, c),
        feature: "map (swap key and value)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "map_values",
        weir: |i, c, _| drive(map_values_topology(), i, c),
        feature: "mapValues (upper-case, null kept)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "map_values_with_key",
        weir: |i, c, _| drive(map_values_with_key_topology(), i, c),
        feature: "mapValues with key",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "flat_map",
        weir: |i, c, _| drive(flat_map_topology(), i, c),
        feature: "flatMap (words, keyed by word)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "flat_map_values",
        weir: |i, c, _| drive(flat_map_values_topology(), i, c),
        feature: "flatMapValues (null → one null)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "flat_map_values_with_key",
        weir: |i, c, _| drive(flat_map_values_with_key_topology(), i, c),
        feature: "flatMapValues with key",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "select_key",
        weir: |i, c, _| drive(select_key_topology(), i, c),
        feature: "selectKey",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "peek",
        weir: |i, c, p| drive(peek_topology(p.clone()), i, c),
        feature: "peek (count compared too)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "split",
        weir: |i, c, _| drive(split_topology(), i, c),
        feature: "split / branch / defaultBranch",
        inputs: &["in"],
        outputs: &["out-a", "out-nullkey", "out-other"],
        gen: GEN,
    },
    Spec {
        name: "merge",
        weir: |i, c, _| drive(merge_topology(), i, c),
        feature: "merge (3 topics, 2 sources)",
        inputs: &["left", "right-a", "right-b"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "repartition",
        weir: |i, c, _| drive(repartition_topology(), i, c),
        feature: "repartition()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "repartition_named",
        weir: |i, c, _| drive(repartition_named_topology(), i, c),
        feature: "repartition(Repartitioned.as)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "repartition_fanout",
        weir: |i, c, _| drive(repartition_fanout_topology(), i, c),
        feature: "2 repartitions merged (order)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "to_extractor",
        weir: |i, c, _| drive(to_extractor_topology(), i, c),
        feature: "to(TopicNameExtractor)",
        inputs: &["in"],
        outputs: &["out-a", "out-b", "out-other"],
        gen: GEN,
    },
    Spec {
        name: "to_extractor_ctx",
        weir: |i, c, _| drive(to_extractor_ctx_topology(), i, c),
        feature: "to(extractor) using RecordContext.topic",
        inputs: &["in-x", "in-y"],
        outputs: &["from-in-x", "from-in-y"],
        gen: GEN,
    },
    Spec {
        name: "chain_repartition",
        weir: |i, c, _| drive(chain_repartition_topology(), i, c),
        feature: "filter→selectKey→repartition→mapValues→to",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "chain_mixed",
        weir: |i, c, p| drive(chain_mixed_topology(p.clone()), i, c),
        feature: "merge→flatMapValues→filterNot→peek→mapValues→split→selectKey",
        inputs: &["left", "right"],
        outputs: &["out-long", "out-short"],
        gen: GEN,
    },
    Spec {
        name: "count_by_key",
        weir: |i, c, _| drive(count_by_key_topology(), i, c),
        feature: "groupByKey().count()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "count_group_by",
        weir: |i, c, _| drive(count_group_by_topology(), i, c),
        feature: "groupBy(selector).count() (repartition, null keys)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "reduce_concat",
        weir: |i, c, _| drive(reduce_concat_topology(), i, c),
        feature: "groupByKey().reduce()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "windowed_count",
        weir: |i, c, _| drive(windowed_count_topology(), i, c),
        feature: "windowedBy(TimeWindows.ofSizeAndGrace).count() (late records)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "windowed_count_hopping",
        weir: |i, c, _| drive(windowed_count_hopping_topology(), i, c),
        feature: "groupBy→windowedBy(hopping, no grace).count()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "windowed_reduce",
        weir: |i, c, _| drive(windowed_reduce_topology(), i, c),
        feature: "windowedBy(TimeWindows).reduce()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "sliding_count",
        weir: |i, c, _| drive(sliding_count_topology(), i, c),
        feature: "windowedBy(SlidingWindows.ofTimeDifferenceAndGrace).count()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "sliding_reduce",
        weir: |i, c, _| drive(sliding_reduce_topology(), i, c),
        feature: "windowedBy(SlidingWindows, no grace).reduce()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "sliding_aggregate",
        weir: |i, c, _| drive(sliding_aggregate_topology(), i, c),
        feature: "groupBy→windowedBy(SlidingWindows).aggregate()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "session_count",
        weir: |i, c, _| drive(session_count_topology(), i, c),
        feature: "windowedBy(SessionWindows.ofInactivityGapAndGrace).count() (merges)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "windowed_count_bytes",
        weir: |i, c, _| drive(windowed_count_bytes_topology(), i, c),
        feature: "windowed count written with TimeWindowedSerde + LongSerde (bytes)",
        inputs: &["in"],
        outputs: &["out-bytes"],
        gen: GEN,
    },
    Spec {
        name: "session_count_bytes",
        weir: |i, c, _| drive(session_count_bytes_topology(), i, c),
        feature: "session count written with SessionWindowedSerde + LongSerde (bytes)",
        inputs: &["in"],
        outputs: &["out-bytes"],
        gen: GEN,
    },
    Spec {
        name: "numbers_bytes",
        weir: |i, c, _| drive(numbers_bytes_topology(), i, c),
        feature: "Long, Integer, Double serdes, nulls kept (bytes)",
        inputs: &["in"],
        outputs: &["longs-bytes", "ints-bytes", "doubles-bytes"],
        gen: GEN,
    },
    Spec {
        name: "session_reduce",
        weir: |i, c, _| drive(session_reduce_topology(), i, c),
        feature: "windowedBy(SessionWindows, no grace).reduce()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "session_aggregate",
        weir: |i, c, _| drive(session_aggregate_topology(), i, c),
        feature: "groupBy→windowedBy(SessionWindows).aggregate(init, agg, merger)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "processor_first_seen",
        weir: |i, c, _| drive(processor_first_seen_topology(), i, c),
        feature: "process(Processor) with a store and a stream-time punctuation",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "processor_values_totals",
        weir: |i, c, _| drive(processor_values_totals_topology(), i, c),
        feature: "processValues(FixedKeyProcessor) with a store, then groupByKey().count() (no repartition)",
        inputs: &["in"],
        outputs: &["out", "counts"],
        gen: GEN,
    },
    Spec {
        name: "windowed_count_final_retained",
        weir: |i, c, _| drive(windowed_count_final_retained_topology(), i, c),
        feature: "windowedBy(TimeWindows).emitStrategy(onWindowClose()).count(Materialized.withRetention)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "sliding_count_final",
        weir: |i, c, _| drive(sliding_count_final_topology(), i, c),
        feature: "windowedBy(SlidingWindows).emitStrategy(onWindowClose()).count()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "session_count_final",
        weir: |i, c, _| drive(session_count_final_topology(), i, c),
        feature: "windowedBy(SessionWindows).emitStrategy(onWindowClose()).count(Materialized.withRetention)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "windowed_count_final",
        weir: |i, c, _| drive(windowed_count_final_topology(), i, c),
        feature: "windowedBy(TimeWindows).emitStrategy(onWindowClose()).count()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "windowed_aggregate",
        weir: |i, c, _| drive(windowed_aggregate_topology(), i, c),
        feature: "windowedBy(TimeWindows).aggregate()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "table_group_by_count",
        weir: |i, c, _| drive(table_group_by_count_topology(), i, c),
        feature: "table.groupBy().count() (adder/subtractor)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "to_table_group_by_count",
        weir: |i, c, _| drive(to_table_group_by_count_topology(), i, c),
        feature: "stream.toTable().groupBy().count() (materialized to_table store)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "count_regroup",
        weir: |i, c, _| drive(count_regroup_topology(), i, c),
        feature: "groupByKey().count().groupBy().count() (old counts subtracted)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "aggregate_regroup",
        weir: |i, c, _| drive(aggregate_regroup_topology(), i, c),
        feature: "groupByKey().aggregate().groupBy().count() (the initializer as a new key's old value)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "reduce_regroup_reduce",
        weir: |i, c, _| drive(reduce_regroup_reduce_topology(), i, c),
        feature: "groupByKey().reduce().groupBy().reduce(adder, subtractor)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "table_group_by_reduce",
        weir: |i, c, _| drive(table_group_by_reduce_topology(), i, c),
        feature: "table.filter().groupBy().reduce(adder, subtractor)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "table_group_by_aggregate",
        weir: |i, c, _| drive(table_group_by_aggregate_topology(), i, c),
        feature: "table.mapValues().groupBy().aggregate(init, adder, subtractor)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "cogroup",
        weir: |i, c, _| drive(cogroup_topology(), i, c),
        feature: "cogroup(groupByKey, groupBy).aggregate()",
        inputs: &["left", "right"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "stream_table_join",
        weir: |i, c, _| drive(stream_table_join_topology(), i, c),
        feature: "stream.join(table)",
        inputs: &["in", "table-in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "stream_table_left_join",
        weir: |i, c, _| drive(stream_table_left_join_topology(), i, c),
        feature: "stream.leftJoin(table), joiner with key (null keys join)",
        inputs: &["in", "table-in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "stream_table_join_rekeyed",
        weir: |i, c, _| drive(stream_table_join_rekeyed_topology(), i, c),
        feature: "selectKey then join(table) (repartition)",
        inputs: &["in", "table-in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "stream_table_left_join_to_table",
        weir: |i, c, _| drive(stream_table_left_join_to_table_topology(), i, c),
        feature: "stream.leftJoin(stream.toTable())",
        inputs: &["in", "table-in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "table_filter",
        weir: |i, c, _| drive(table_filter_topology(), i, c),
        feature: "table(topic).filter() (tombstones)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "table_filter_not_map_values",
        weir: |i, c, _| drive(table_filter_not_map_values_topology(), i, c),
        feature: "table(topic).filterNot().mapValues(with key)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "to_table_map_values",
        weir: |i, c, _| drive(to_table_map_values_topology(), i, c),
        feature: "stream.toTable().mapValues()",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "count_filter",
        weir: |i, c, _| drive(count_filter_topology(), i, c),
        feature: "count().filter() (misses become tombstones)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "windowed_count_suppressed",
        weir: |i, c, _| drive(windowed_count_suppressed_topology(), i, c),
        feature: "windowed count + suppress(untilWindowCloses(unbounded))",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "reduce_time_limited",
        weir: |i, c, _| drive(reduce_time_limited_topology(), i, c),
        feature: "reduce + suppress(untilTimeLimit, maxRecords(3) emit early)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
    Spec {
        name: "aggregate_after_map",
        weir: |i, c, _| drive(aggregate_after_map_topology(), i, c),
        feature: "map→groupByKey().aggregate() (auto repartition)",
        inputs: &["in"],
        outputs: &["out"],
        gen: GEN,
    },
];

/// Seeds run for every topology by default (`WEIR_CONFORMANCE_SEEDS=n` runs 1..=n).
const DEFAULT_SEEDS: u64 = 3;

// ---------------------------------------------------------------------------
// Records and scenarios, as written to and read from the JSON lines files.
// ---------------------------------------------------------------------------

type Header = (String, Option<String>);

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct InRecord {
    topic: String,
    key: Option<String>,
    value: Option<String>,
    timestamp: i64,
    headers: Vec<Header>,
}

/// Writes one scenario's weir outputs as the runner writes Kafka Streams':
/// a line per record (topic by topic, in order within each), then a summary
/// line, or an error line.
fn write_weir_lines(
    out: &mut impl io::Write,
    scenario: &str,
    run: &Result<SideRun, String>,
) -> io::Result<()> {
    let summary = match run {
        Ok(run) => {
            for record in run.records.values().flatten() {
                let mut line = serde_json::to_value(record).map_err(io::Error::other)?;
                line["scenario"] = scenario.into();
                writeln!(out, "{line}")?;
            }
            serde_json::json!({
                "scenario": scenario,
                "produced": run.records.keys().collect::<Vec<_>>(),
                "peeked": run.peeked,
                "records": run.records.values().map(Vec::len).sum::<usize>(),
            })
        }
        Err(error) => serde_json::json!({ "scenario": scenario, "error": error }),
    };
    writeln!(out, "{summary}")
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct OutRecord {
    topic: String,
    key: Option<String>,
    value: Option<String>,
    timestamp: i64,
    headers: Vec<Header>,
    /// Index of the input record whose piping produced it.
    input: usize,
}

#[derive(Serialize, Debug)]
struct Scenario {
    scenario: String,
    topology: &'static str,
    /// The generator seed; none for hand-written scenarios.
    seed: Option<u64>,
    /// `statestore.cache.max.bytes` on both sides: 0 (no caching layer) or
    /// Kafka Streams' default (the record cache, which the test drivers
    /// flush after every record).
    cache_bytes: usize,
    inputs: Vec<InRecord>,
}

/// What one side wrote in one scenario.
#[derive(Debug, Default)]
struct SideRun {
    /// Records per user topic, in order.
    records: Records,
    /// Records `peek` saw.
    peeked: u64,
}

// ---------------------------------------------------------------------------
// The weir side.
// ---------------------------------------------------------------------------

fn is_internal(topic: &str) -> bool {
    topic.starts_with(&format!("{APPLICATION_ID}-"))
}

/// Pipes `inputs` into a fresh driver, draining every user topic after each
/// record (so each output knows which input produced it).
/// Output topics whose name ends with this are compared byte for byte (as
/// `0x` and lowercase hex); others as UTF-8 text. The same rule as
/// `Runner.RAW_SUFFIX` on the Kafka Streams side.
const RAW_SUFFIX: &str = "-bytes";

fn render(bytes: Option<Vec<u8>>, raw: bool) -> Option<String> {
    let bytes = bytes?;
    Some(if raw {
        bytes.iter().fold(String::from("0x"), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn drive<T: Topology>(topology: T, inputs: &[InRecord], cache: usize) -> Result<Records, String> {
    let run = || {
        let mut config = StreamsConfig::new(APPLICATION_ID);
        config.cache_max_bytes = cache;
        // As the Kafka Streams side: final results looked for on every record.
        config.emit_interval_ms = 0;
        let driver = TopologyTestDriver::with_config(topology, config);
        let mut topics: BTreeMap<String, TestInputTopic<'_, Option<String>, Option<String>>> =
            BTreeMap::new();
        let mut out: BTreeMap<String, Vec<OutRecord>> = BTreeMap::new();
        for (index, record) in inputs.iter().enumerate() {
            let topic = topics
                .entry(record.topic.clone())
                .or_insert_with(|| driver.create_input_topic(&record.topic));
            let mut headers = Headers::new();
            for (name, value) in &record.headers {
                headers.add(name.clone(), value.as_deref().map(str::as_bytes));
            }
            topic.pipe_record(TestRecord::with_headers_and_timestamp(
                record.key.clone(),
                record.value.clone(),
                headers,
                record.timestamp,
            ));
            for produced in driver.produced_topic_names() {
                if is_internal(&produced) {
                    continue;
                }
                let raw = produced.ends_with(RAW_SUFFIX);
                let output =
                    driver.create_output_topic::<Option<Vec<u8>>, Option<Vec<u8>>>(&produced);
                for r in output.read_records_to_list() {
                    out.entry(produced.clone()).or_default().push(OutRecord {
                        topic: produced.clone(),
                        key: render(r.key, raw),
                        value: render(r.value, raw),
                        timestamp: r.timestamp,
                        headers: r
                            .headers
                            .iter()
                            .map(|(n, v)| {
                                (
                                    n.to_owned(),
                                    v.map(|v| String::from_utf8_lossy(v).into_owned()),
                                )
                            })
                            .collect(),
                        input: index,
                    });
                }
            }
        }
        out
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "weir panicked".to_string())
    })
}

// ---------------------------------------------------------------------------
// Scenario generation.
// ---------------------------------------------------------------------------

/// splitmix64: small, seedable, good enough for test data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A random input sequence for `spec`, reproducible from `seed` alone. With
/// `records` given, the first `records` records of the same sequence.
fn generate(spec: &Spec, seed: u64, records: Option<usize>) -> Vec<InRecord> {
    let gen = &spec.gen;
    let mut rng = Rng::new(seed);
    let drawn = gen.records + rng.below(gen.records as u64 / 5 + 1) as usize;
    let count = records.unwrap_or(drawn);
    let mut timestamp = rng.below(10_000) as i64;
    (0..count)
        .map(|_| {
            let topic = rng.pick(spec.inputs).to_owned();
            let key = if rng.percent(gen.null_keys) {
                None
            } else if rng.percent(3) {
                Some(String::new())
            } else {
                Some(rng.pick(gen.keys).to_owned())
            };
            let value = if rng.percent(gen.null_values) {
                None
            } else {
                Some(match rng.below(100) {
                    0..=4 => String::new(),
                    5..=7 => " ".repeat(1 + rng.below(3) as usize),
                    roll => {
                        let separator = if roll < 15 { "  " } else { " " };
                        let n = 1 + rng.below(4);
                        let mut words: Vec<&str> = (0..n).map(|_| rng.pick(gen.words)).collect();
                        if roll >= 95 {
                            words.insert(0, ""); // a leading space
                        }
                        words.join(separator)
                    }
                })
            };
            // Mostly forward, with duplicates and out-of-order steps back.
            match rng.below(100) {
                0..=9 => {}
                10..=24 => timestamp = (timestamp - rng.below(2_000) as i64).max(0),
                _ => timestamp += 1 + rng.below(100) as i64,
            }
            let headers = if rng.percent(50) {
                Vec::new()
            } else {
                (0..1 + rng.below(3))
                    .map(|_| {
                        let name = rng.pick(&["trace", "h", "x-id"]).to_owned();
                        let value = match rng.below(100) {
                            0..=14 => None,
                            15..=24 => Some(String::new()),
                            _ => Some(format!("v{}", rng.below(50))),
                        };
                        (name, value)
                    })
                    .collect()
            };
            InRecord {
                topic,
                key,
                value,
                timestamp,
                headers,
            }
        })
        .collect()
}

fn h(name: &str, value: Option<&str>) -> Header {
    (name.to_owned(), value.map(str::to_owned))
}

/// The hand-written edge cases, the same for every topology: (name, records
/// as key, value, timestamp, headers). Records go to the topology's input
/// topics in turn.
#[allow(clippy::type_complexity)]
fn edge_cases() -> Vec<(
    &'static str,
    Vec<(Option<&'static str>, Option<&'static str>, i64, Vec<Header>)>,
)> {
    let plain = |k, v, t| (k, v, t, Vec::new());
    vec![
        (
            "nulls",
            vec![
                plain(None, None, 10),
                plain(None, Some("apple pie"), 11),
                plain(Some("a"), None, 12),
                plain(Some(""), None, 13),
                plain(None, Some(""), 14),
                plain(Some("c"), Some("banana"), 15),
                plain(None, Some("b x"), 16),
            ],
        ),
        (
            "empty-strings",
            vec![
                plain(Some(""), Some(""), 1),
                plain(Some(""), Some(" "), 2),
                plain(Some("a"), Some("  "), 3),
                plain(Some("b"), Some(" a  b "), 4),
                plain(Some(""), Some("x"), 5),
                plain(Some("d"), Some("a"), 6),
            ],
        ),
        (
            "timestamps",
            vec![
                plain(Some("a"), Some("one"), 5),
                plain(Some("a"), Some("two"), 5),
                plain(Some("b"), Some("three"), 3),
                plain(Some("c"), Some("four"), 0),
                plain(Some("d"), Some("five"), 1_000),
                plain(Some("d"), Some("six"), 999),
                plain(Some("e"), Some("seven"), 1_700_000_000_000),
                plain(Some("e"), Some("eight"), 253_402_300_799_999),
                plain(Some("a"), Some("nine"), 4),
            ],
        ),
        (
            "headers",
            vec![
                (Some("a"), Some("apple"), 1, vec![h("trace", None)]),
                (
                    Some("b"),
                    Some("banana split"),
                    2,
                    vec![h("h", Some("1")), h("h", Some("2")), h("h", None)],
                ),
                (
                    None,
                    Some("avocado"),
                    3,
                    vec![h("", Some("")), h("x-id", Some(""))],
                ),
                (
                    Some("c"),
                    None,
                    4,
                    vec![
                        h("trace", Some("t1")),
                        h("other", Some("o")),
                        h("trace", Some("t2")),
                    ],
                ),
                (
                    Some("d"),
                    Some("x y z"),
                    5,
                    (0..10).map(|i| h(&format!("n{i}"), Some("v"))).collect(),
                ),
            ],
        ),
        (
            "unicode",
            vec![
                plain(Some("é"), Some("héllo wörld"), 1),
                plain(Some("日本"), Some("日本 語"), 2),
                plain(Some("a"), Some("ÿ ß"), 3),
                plain(Some("ca"), Some("ábc"), 4),
            ],
        ),
        (
            // One record fanned out to two internal topics (repartition_fanout).
            "fanout-order",
            vec![
                plain(Some("k"), Some("x m ab"), 7),
                plain(Some("k"), Some("ab x m cd"), 8),
            ],
        ),
        (
            "same-key-burst",
            (0..20)
                .map(|i| {
                    let v: &'static str = ["a", "b", "apple x", "banana", "m n o p"][i % 5];
                    plain(Some("k"), Some(v), 42)
                })
                .collect(),
        ),
    ]
}

/// The scenarios to run, honouring `WEIR_CONFORMANCE_TOPOLOGY`,
/// `WEIR_CONFORMANCE_SEED`, `WEIR_CONFORMANCE_SEEDS` and `WEIR_CONFORMANCE_RECORDS`.
/// `statestore.cache.max.bytes` of the `+cache` scenarios: Kafka Streams'
/// default.
const CACHE_ON_BYTES: usize = 10 * 1024 * 1024;

/// Topologies compared with the cache off only, and why.
/// `windowed_count_final` (and `_retained`): Kafka Streams keeps the record cache in front of
/// a final-result aggregation's store and emits from it windows the store
/// itself already expired (after a stream-time jump past the retention);
/// weir's final-result stores are not cached (a decision in the README).
const CACHE_OFF_ONLY: &[&str] = &["windowed_count_final", "windowed_count_final_retained"];

fn scenarios() -> Vec<Scenario> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let list = |value: String| -> Vec<String> {
        value
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let parse = |name: &str, s: &str| -> u64 {
        s.parse()
            .unwrap_or_else(|_| panic!("{name}: `{s}` is not a non-negative integer"))
    };
    let topologies = env("WEIR_CONFORMANCE_TOPOLOGY").map(list);
    if let Some(names) = &topologies {
        for name in names {
            assert!(
                SPECS.iter().any(|s| s.name == name),
                "WEIR_CONFORMANCE_TOPOLOGY: no topology `{name}`; known: {:?}",
                SPECS.iter().map(|s| s.name).collect::<Vec<_>>()
            );
        }
    }
    let only_seeds: Option<Vec<u64>> = env("WEIR_CONFORMANCE_SEED").map(|v| {
        list(v)
            .iter()
            .map(|s| parse("WEIR_CONFORMANCE_SEED", s))
            .collect()
    });
    let seed_count = env("WEIR_CONFORMANCE_SEEDS")
        .map(|v| parse("WEIR_CONFORMANCE_SEEDS", &v))
        .unwrap_or(DEFAULT_SEEDS);
    let records =
        env("WEIR_CONFORMANCE_RECORDS").map(|v| parse("WEIR_CONFORMANCE_RECORDS", &v) as usize);
    // Every scenario runs with the record cache off (no caching layer) and
    // on (`+cache`), unless WEIR_CONFORMANCE_CACHING says `off` or `on`.
    let caching: &[usize] = match env("WEIR_CONFORMANCE_CACHING").as_deref() {
        None | Some("both") => &[0, CACHE_ON_BYTES],
        Some("off") => &[0],
        Some("on") => &[CACHE_ON_BYTES],
        Some(other) => panic!("WEIR_CONFORMANCE_CACHING: `{other}` is not `off`, `on` or `both`"),
    };
    let suffix = |cache: usize| if cache == 0 { "" } else { "+cache" };

    let mut out = Vec::new();
    for spec in SPECS {
        if topologies
            .as_ref()
            .is_some_and(|names| !names.iter().any(|n| n == spec.name))
        {
            continue;
        }
        let caching: &[usize] = if CACHE_OFF_ONLY.contains(&spec.name) {
            &[0]
        } else {
            caching
        };
        if only_seeds.is_none() {
            for (name, records) in edge_cases() {
                let inputs = records
                    .into_iter()
                    .enumerate()
                    .map(|(i, (key, value, timestamp, headers))| InRecord {
                        topic: spec.inputs[i % spec.inputs.len()].to_owned(),
                        key: key.map(str::to_owned),
                        value: value.map(str::to_owned),
                        timestamp,
                        headers,
                    })
                    .collect::<Vec<_>>();
                for &cache in caching {
                    out.push(Scenario {
                        scenario: format!("{}/edge-{name}{}", spec.name, suffix(cache)),
                        topology: spec.name,
                        seed: None,
                        cache_bytes: cache,
                        inputs: inputs.clone(),
                    });
                }
            }
        }
        let seeds = only_seeds
            .clone()
            .unwrap_or_else(|| (1..=seed_count).collect());
        for seed in seeds {
            let inputs = generate(spec, seed, records);
            for &cache in caching {
                out.push(Scenario {
                    scenario: format!("{}/seed-{seed}{}", spec.name, suffix(cache)),
                    topology: spec.name,
                    seed: Some(seed),
                    cache_bytes: cache,
                    inputs: inputs.clone(),
                });
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The Kafka Streams side: build the Maven module once, run one JVM.
// ---------------------------------------------------------------------------

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WEIR_CONFORMANCE_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache/weir/conformance"),
        None => std::env::temp_dir().join("weir-conformance-cache"),
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time among `dir`'s files, recursively.
fn newest(dir: &Path) -> Option<SystemTime> {
    let mut latest = modified(dir);
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest(&path)
        } else {
            modified(&path)
        };
        latest = latest.max(t);
    }
    latest
}

fn tool_missing(tool: &Path, e: &io::Error) -> ! {
    panic!(
        "the conformance test cannot run `{}` ({e}): it needs Java 17+ and Maven 3.8+ \
         (`java` from $JAVA_HOME/bin if JAVA_HOME is set, else from PATH; `mvn` from PATH; \
         Debian: apt-get install openjdk-17-jdk-headless maven). It compares weir with \
         Kafka Streams' own TopologyTestDriver and is not skipped.",
        tool.display()
    )
}

fn java() -> PathBuf {
    match std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join("bin/java"),
        None => PathBuf::from("java"),
    }
}

/// The cached classpath if it is usable: newer than the POM, every jar present.
fn cached_classpath(file: &Path, pom: &Path) -> Option<String> {
    if modified(file)? < modified(pom)? {
        return None;
    }
    let classpath = fs::read_to_string(file).ok()?.trim().to_owned();
    let jars: Vec<&str> = classpath.split(':').filter(|j| !j.is_empty()).collect();
    let complete = jars.iter().any(|j| j.contains("kafka-streams-test-utils-"))
        && jars.iter().all(|j| Path::new(j).is_file());
    complete.then_some(classpath)
}

/// Compiles the runner and resolves its classpath with Maven when the
/// classes or the cached classpath are missing or older than the sources;
/// returns the classpath to run it with.
fn reference_runner_classpath() -> String {
    let dir = conformance_dir();
    let pom = dir.join("pom.xml");
    let classes = dir.join("target/classes");
    let stamp = dir.join("target/weir-build.stamp");
    let cache = cache_dir();
    let classpath_file = cache.join("classpath.txt");
    let sources_time = newest(&dir.join("src")).max(modified(&pom));
    let classes_fresh = modified(&stamp).is_some_and(|s| Some(s) >= sources_time)
        && classes.join("dev/weir/conformance/Runner.class").is_file();
    let cached = cached_classpath(&classpath_file, &pom);
    if let (true, Some(classpath)) = (classes_fresh, cached) {
        return format!("{}:{classpath}", classes.display());
    }

    fs::create_dir_all(&cache).expect("creating the conformance cache directory");
    let log_path = cache.join("mvn.log");
    let log = fs::File::create(&log_path).expect("creating mvn.log");
    let partial = cache.join(format!("classpath.txt.{}.tmp", std::process::id()));
    eprintln!(
        "conformance: building the Kafka Streams runner with Maven (log: {}); the first run downloads Kafka Streams",
        log_path.display()
    );
    let started = Instant::now();
    let status = Command::new("mvn")
        .args(["-B", "-Dstyle.color=never", "-f"])
        .arg(&pom)
        .args(["compile", "dependency:build-classpath"])
        .arg(format!("-Dmdep.outputFile={}", partial.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("mvn.log"))
        .stderr(log)
        .status()
        .unwrap_or_else(|e| tool_missing(Path::new("mvn"), &e));
    if !status.success() {
        let _ = fs::remove_file(&partial);
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "building tests/conformance with Maven failed ({status}); end of {}:\n{}",
            log_path.display(),
            tail.join("\n")
        );
    }
    fs::rename(&partial, &classpath_file).expect("writing the cached classpath");
    fs::write(&stamp, b"built by tests/conformance.rs\n").expect("writing the build stamp");
    eprintln!(
        "conformance: Maven done in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let classpath = cached_classpath(&classpath_file, &pom).unwrap_or_else(|| {
        panic!(
            "{} is empty or names missing jars after a successful Maven run",
            classpath_file.display()
        )
    });
    format!("{}:{classpath}", classes.display())
}

/// What the Kafka Streams runner wrote for one scenario.
#[derive(Debug, Default)]
struct KafkaRun {
    run: SideRun,
    /// Every topic produced, internal ones included.
    produced: Vec<String>,
    error: Option<String>,
    done: bool,
}

fn run_kafka_streams(classpath: &str, input: &Path, output: &Path) -> BTreeMap<String, KafkaRun> {
    let started = Instant::now();
    let java = java();
    let result = Command::new(&java)
        .args([
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            classpath,
        ])
        .arg("dev.weir.conformance.Runner")
        .arg(input)
        .arg(output)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| tool_missing(&java, &e));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "the Kafka Streams runner failed ({}):\n{stderr}",
        result.status
    );
    eprintln!(
        "conformance: Kafka Streams side (one JVM) took {:.1}s: {}",
        started.elapsed().as_secs_f64(),
        stderr.trim()
    );

    let mut runs: BTreeMap<String, KafkaRun> = BTreeMap::new();
    let file = fs::File::open(output).expect("opening the runner's output");
    for line in io::BufReader::new(file).lines() {
        let line = line.expect("reading the runner's output");
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("runner output is not JSON ({e}): {line}"));
        let scenario = value["scenario"]
            .as_str()
            .unwrap_or_else(|| panic!("runner output without scenario: {line}"))
            .to_owned();
        let run = runs.entry(scenario).or_default();
        if let Some(error) = value.get("error") {
            run.error = Some(error.as_str().unwrap_or_default().to_owned());
            run.done = true;
        } else if let Some(produced) = value.get("produced") {
            run.produced = serde_json::from_value(produced.clone()).expect("produced topics");
            run.run.peeked = value["peeked"].as_u64().unwrap_or_default();
            let expected = value["records"].as_u64().unwrap_or_default();
            let got: usize = run.run.records.values().map(Vec::len).sum();
            assert_eq!(
                expected, got as u64,
                "runner output for {} is incomplete",
                value["scenario"]
            );
            run.done = true;
        } else {
            let record: OutRecord = serde_json::from_value(value)
                .unwrap_or_else(|e| panic!("bad output record ({e}): {line}"));
            run.run
                .records
                .entry(record.topic.clone())
                .or_default()
                .push(record);
        }
    }
    runs
}

// ---------------------------------------------------------------------------
// Comparison and report.
// ---------------------------------------------------------------------------

fn show<T: Serialize>(x: &T) -> String {
    serde_json::to_string(x).unwrap_or_else(|e| format!("<{e}>"))
}

/// The first difference between the two sides in one scenario, described.
fn first_differences(
    scenario: &Scenario,
    kafka: &KafkaRun,
    weir: &Result<SideRun, String>,
) -> Vec<String> {
    let mut diffs = Vec::new();
    let header = || {
        format!(
            "MISMATCH in scenario `{}` (topology `{}`, seed {}, {} input records)",
            scenario.scenario,
            scenario.topology,
            scenario
                .seed
                .map_or("- (hand-written edge case)".to_string(), |s| s.to_string()),
            scenario.inputs.len()
        )
    };
    let weir = match (&kafka.error, weir) {
        (Some(k), Err(w)) => {
            diffs.push(format!(
                "{}\n  both sides failed\n  Kafka Streams: {k}\n  weir: {w}",
                header()
            ));
            return diffs;
        }
        (Some(k), Ok(_)) => {
            diffs.push(format!(
                "{}\n  Kafka Streams failed, weir did not:\n{k}",
                header()
            ));
            return diffs;
        }
        (None, Err(w)) => {
            diffs.push(format!(
                "{}\n  weir failed, Kafka Streams did not: {w}",
                header()
            ));
            return diffs;
        }
        (None, Ok(w)) => w,
    };
    if !kafka.done {
        diffs.push(format!(
            "{}\n  the Kafka Streams runner wrote no result for it",
            header()
        ));
        return diffs;
    }
    let topics: BTreeSet<&String> = kafka
        .run
        .records
        .keys()
        .chain(weir.records.keys())
        .collect();
    let empty = Vec::new();
    for topic in topics {
        let k = kafka.run.records.get(topic).unwrap_or(&empty);
        let w = weir.records.get(topic).unwrap_or(&empty);
        let Some(index) = (0..k.len().max(w.len())).find(|&i| k.get(i) != w.get(i)) else {
            continue;
        };
        let mut text = format!(
            "{}\n  topic `{topic}`: Kafka Streams wrote {} records, weir {}; first difference at record #{index}:\n",
            header(),
            k.len(),
            w.len()
        );
        let side = |r: Option<&OutRecord>| r.map_or("(no record)".to_string(), show);
        let _ = writeln!(text, "    Kafka Streams: {}", side(k.get(index)));
        let _ = writeln!(text, "    weir:          {}", side(w.get(index)));
        let inputs: BTreeSet<usize> = [k.get(index), w.get(index)]
            .into_iter()
            .flatten()
            .map(|r| r.input)
            .collect();
        for i in inputs {
            let _ = writeln!(text, "    input #{i}: {}", show(&scenario.inputs[i]));
        }
        if index > 0 {
            let _ = writeln!(
                text,
                "    (records #0..#{} are equal; the last equal one: {})",
                index - 1,
                show(&k[index - 1])
            );
        }
        diffs.push(text);
    }
    if kafka.run.peeked != weir.peeked {
        diffs.push(format!(
            "{}\n  peek saw {} records in Kafka Streams, {} in weir",
            header(),
            kafka.run.peeked,
            weir.peeked
        ));
    }
    diffs
}

fn reproduce_hint(scenario: &Scenario) -> String {
    match scenario.seed {
        Some(seed) => format!(
            "  reproduce: WEIR_CONFORMANCE_TOPOLOGY={} WEIR_CONFORMANCE_SEED={seed} cargo test --test conformance\n  (add WEIR_CONFORMANCE_RECORDS=<n> to keep only the first n records of the sequence)",
            scenario.topology
        ),
        None => format!(
            "  reproduce: WEIR_CONFORMANCE_TOPOLOGY={} WEIR_CONFORMANCE_SEEDS=0 cargo test --test conformance",
            scenario.topology
        ),
    }
}

#[derive(Default)]
struct Tally {
    edge: usize,
    edge_ok: usize,
    seeds: usize,
    seeds_ok: usize,
    kafka_records: usize,
    weir_records: usize,
    topics: BTreeSet<String>,
}

fn fresh_temp_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("weir-conformance-{}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir).expect("creating a temporary directory");
    dir
}

#[test]
fn weir_matches_kafka_streams() {
    let started = Instant::now();
    let scenarios = scenarios();
    assert!(!scenarios.is_empty(), "no scenario selected");

    let dir = fresh_temp_dir();
    let input = dir.join("scenarios.jsonl");
    let output = dir.join("out.jsonl");
    {
        let mut w = BufWriter::new(fs::File::create(&input).expect("scenarios.jsonl"));
        for s in &scenarios {
            serde_json::to_writer(&mut w, s).expect("writing a scenario");
            w.write_all(b"\n").expect("writing a scenario");
        }
        w.flush().expect("writing scenarios.jsonl");
    }

    let classpath = reference_runner_classpath();
    let kafka = run_kafka_streams(&classpath, &input, &output);

    let weir_started = Instant::now();
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    let missing = KafkaRun::default();
    // weir's outputs in the runner's JSON form, kept with the others on a
    // failure: out.jsonl (Kafka Streams) and weir-out.jsonl side by side.
    let mut weir_out =
        BufWriter::new(fs::File::create(dir.join("weir-out.jsonl")).expect("weir-out.jsonl"));
    for scenario in &scenarios {
        let k = kafka.get(&scenario.scenario).unwrap_or(&missing);
        let w = run_weir(scenario.topology, &scenario.inputs, scenario.cache_bytes);
        write_weir_lines(&mut weir_out, &scenario.scenario, &w).expect("writing weir-out.jsonl");
        let diffs = first_differences(scenario, k, &w);
        let tally = tallies.entry(scenario.topology).or_default();
        let ok = diffs.is_empty();
        match scenario.seed {
            Some(_) => {
                tally.seeds += 1;
                tally.seeds_ok += usize::from(ok);
            }
            None => {
                tally.edge += 1;
                tally.edge_ok += usize::from(ok);
            }
        }
        tally.kafka_records += k.run.records.values().map(Vec::len).sum::<usize>();
        if let Ok(w) = &w {
            tally.weir_records += w.records.values().map(Vec::len).sum::<usize>();
        }
        tally.topics.extend(k.run.records.keys().cloned());
        // Kafka Streams must only write topics the spec declares (or internal ones).
        let spec = SPECS.iter().find(|s| s.name == scenario.topology).unwrap();
        let undeclared: Vec<&String> = k
            .produced
            .iter()
            .filter(|t| !is_internal(t) && !spec.outputs.contains(&t.as_str()))
            .collect();
        assert!(
            undeclared.is_empty(),
            "test bug: Kafka Streams wrote {undeclared:?} in {}, not in the spec's outputs {:?}",
            scenario.scenario,
            spec.outputs
        );
        for diff in diffs {
            failures.push(format!("{diff}{}\n", reproduce_hint(scenario)));
        }
    }
    weir_out.flush().expect("writing weir-out.jsonl");
    let weir_elapsed = weir_started.elapsed();

    // The summary table (markdown, pasted into tests/conformance/README.md).
    let mut table = String::from(
        "| topology | feature | edge cases matching | seeds matching | records compared (Kafka Streams / weir) |\n|---|---|---|---|---|\n",
    );
    for spec in SPECS {
        let Some(t) = tallies.get(spec.name) else {
            continue;
        };
        let _ = writeln!(
            table,
            "| `{}` | {} | {}/{} | {}/{} | {} / {} |",
            spec.name,
            spec.feature,
            t.edge_ok,
            t.edge,
            t.seeds_ok,
            t.seeds,
            t.kafka_records,
            t.weir_records
        );
        for declared in spec.outputs {
            // (Not with WEIR_CONFORMANCE_RECORDS: a short prefix may miss some.)
            let full_length = std::env::var_os("WEIR_CONFORMANCE_RECORDS").is_none();
            if full_length && t.seeds > 0 && !t.topics.contains(*declared) {
                failures.push(format!(
                    "test bug: the generated scenarios of `{}` never reach its output `{declared}` in Kafka Streams\n",
                    spec.name
                ));
            }
        }
    }
    eprintln!("\n{table}");
    eprintln!(
        "conformance: {} scenarios, {} input records; weir side {:.1}s; total {:.1}s; files in {}",
        scenarios.len(),
        scenarios.iter().map(|s| s.inputs.len()).sum::<usize>(),
        weir_elapsed.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        dir.display()
    );

    if failures.is_empty() {
        let _ = fs::remove_dir_all(&dir);
    } else {
        let shown = 12;
        let mut text = String::new();
        for f in failures.iter().take(shown) {
            let _ = writeln!(text, "{f}");
        }
        if failures.len() > shown {
            let _ = writeln!(text, "... and {} more differences", failures.len() - shown);
        }
        panic!(
            "weir differs from Kafka Streams in {} place(s) (scenarios and outputs kept in {}):\n\n{text}{table}",
            failures.len(),
            dir.display()
        );
    }
}

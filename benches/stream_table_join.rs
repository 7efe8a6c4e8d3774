//! A stream-table join against a hand-written `HashMap` lookup loop, in
//! the same run: a table of 100,000 keys (read from its topic first), then
//! stream records with pseudo-random keys of that table, each joined with
//! its key's table value and written out. The compiled topology runs
//! through `Topology::process` with its table store in memory (and, for
//! reference, in RocksDB), the record cache off, as Kafka Streams without
//! its caching layer; the hand-written loop decodes the same bytes, looks
//! the key up in a `HashMap<u64, u64>` and encodes the same output bytes.
//! Prints the throughput ratio.
//!
//! Run: `cargo bench --bench stream_table_join`

#[path = "support/stateful.rs"]
mod stateful;
#[path = "support/mod.rs"]
mod support;

use stateful::{Checksum, TempDir};

use criterion::{criterion_group, BatchSize, Criterion, SamplingMode, Throughput};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;
use weir::plan::TopicRef;
use weir::prelude::*;
use weir::record::SourceRecord;
use weir::store::{Backend, TaskDirectory};
use weir::{Headers, RecordContext};

/// Table keys.
const KEYS: u64 = 100_000;
/// Stream records per criterion iteration.
const RECORDS: u64 = 1_000_000;
/// Stream records of the one full run.
const FULL_RECORDS: u64 = 5_000_000;

#[weir::topology]
fn enrich() -> impl Topology {
    let builder = StreamsBuilder::new();
    let profiles = builder.table::<u64, u64>("profiles");
    builder
        .stream::<u64, u64>("events")
        .join(profiles, |v, p| v ^ p)
        .to("enriched");
    builder.build()
}

/// Stream record `i`: a pseudo-random key of the table (SplitMix64 of `i`),
/// a value, timestamp `KEYS + i`.
#[inline]
fn event(i: u64) -> ([u8; 8], [u8; 8], i64) {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    ((z % KEYS).to_be_bytes(), i.to_be_bytes(), (KEYS + i) as i64)
}

/// Table record `key`: its value and timestamp.
fn profile(key: u64) -> ([u8; 8], [u8; 8], i64) {
    (
        key.to_be_bytes(),
        key.wrapping_mul(31).to_be_bytes(),
        key as i64,
    )
}

/// The compiled topology with its table loaded, the index of its stream
/// source, and its task directory (dropped after it).
struct Task<T> {
    topology: T,
    events: usize,
    _dir: TempDir,
}

fn source_index(plan: &weir::plan::Plan, topic: &str) -> usize {
    plan.subtopologies[0]
        .sources
        .iter()
        .position(|s| matches!(s.topics, [TopicRef::Named(t)] if *t == topic))
        .expect("a source of the topic")
}

fn task(backend: Backend) -> Task<impl Topology> {
    let dir = TempDir::new("join");
    let mut topology = enrich();
    let plan = topology.plan();
    assert_eq!(plan.subtopologies.len(), 1, "the join runs with its table");
    let (profiles, events) = (source_index(plan, "profiles"), source_index(plan, "events"));
    let cx = topology.context(0).expect("sub-topology 0");
    cx.open_stores(plan, 0, &TaskDirectory(dir.0.clone()), Some(backend))
        .expect("opens the table's store");
    cx.cache.set_max_bytes(0);
    let headers = Headers::new();
    let mut out = Checksum::default();
    for key in 0..KEYS {
        let (k, v, ts) = profile(key);
        let record = SourceRecord {
            context: RecordContext {
                topic: "profiles",
                partition: 0,
                offset: key as i64,
                timestamp: ts,
                headers: &headers,
            },
            key: Some(&k),
            value: Some(&v),
        };
        topology
            .process(0, profiles, record, &mut out)
            .expect("loads the table");
    }
    assert_eq!(out.records, 0, "table updates produce nothing");
    Task {
        topology,
        events,
        _dir: dir,
    }
}

fn compiled<T: Topology>(task: &mut Task<T>, n: u64) -> Checksum {
    let headers = Headers::new();
    let mut out = Checksum::default();
    for i in 0..n {
        let (k, v, ts) = event(i);
        let record = SourceRecord {
            context: RecordContext {
                topic: "events",
                partition: 0,
                offset: i as i64,
                timestamp: ts,
                headers: &headers,
            },
            key: Some(&k),
            value: Some(&v),
        };
        task.topology
            .process(0, task.events, record, &mut out)
            .expect("processes");
    }
    out.finish()
}

fn decode(bytes: Option<&[u8]>) -> Result<u64, &'static str> {
    let bytes = bytes.ok_or("null")?;
    let bytes: [u8; 8] = bytes.try_into().map_err(|_| "not 8 bytes")?;
    Ok(u64::from_be_bytes(bytes))
}

/// The table as a `HashMap`, loaded from the same bytes.
fn hand_table() -> HashMap<u64, u64> {
    (0..KEYS)
        .map(|key| {
            let (k, v, _) = profile(key);
            (decode(Some(&k)).unwrap(), decode(Some(&v)).unwrap())
        })
        .collect()
}

fn hand_written(table: &HashMap<u64, u64>, n: u64) -> Checksum {
    let mut out = Checksum::default();
    let (mut kbuf, mut vbuf) = (Vec::new(), Vec::new());
    for i in 0..n {
        let (kb, vb, ts) = event(i);
        let k = decode(Some(&kb)).expect("key");
        let v = decode(Some(&vb)).expect("value");
        let Some(p) = table.get(&k) else { continue };
        kbuf.clear();
        kbuf.extend_from_slice(&k.to_be_bytes());
        vbuf.clear();
        vbuf.extend_from_slice(&(v ^ p).to_be_bytes());
        out.add(Some(&kbuf), Some(&vbuf), ts);
    }
    out.finish()
}

fn bench(c: &mut Criterion) {
    let table = hand_table();
    let mut memory = task(Backend::InMemory);
    let (a, b) = (
        compiled(&mut memory, 100_000),
        hand_written(&table, 100_000),
    );
    assert_eq!(
        (a.records, a.sum),
        (b.records, b.sum),
        "both loops produce the same bytes"
    );
    let mut group = c.benchmark_group("stream_table_join");
    group.throughput(Throughput::Elements(RECORDS));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("hand_written", |bench| {
        bench.iter(|| black_box(hand_written(&table, black_box(RECORDS))))
    });
    group.bench_function("memory_compiled", |bench| {
        bench.iter(|| black_box(compiled(&mut memory, black_box(RECORDS))))
    });
    group.bench_function("rocksdb_compiled", |bench| {
        bench.iter_batched_ref(
            || task(Backend::RocksDb),
            |t| black_box(compiled(t, black_box(RECORDS / 4))),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    support::start();
    benches();
    Criterion::default().configure_from_args().final_summary();
    let per_s = |ns: f64, n: u64| n as f64 / ns * 1e3;
    if let (Some(hand), Some(memory)) = (
        support::mean_ns("stream_table_join", "hand_written"),
        support::mean_ns("stream_table_join", "memory_compiled"),
    ) {
        println!(
            "stream_table_join (criterion means, {RECORDS} records over {KEYS} keys): compiled in-memory {:.2} M records/s, hand-written HashMap {:.2} M records/s, ratio compiled/hand-written = {:.3}",
            per_s(memory, RECORDS),
            per_s(hand, RECORDS),
            hand / memory
        );
        if let Some(rocks) = support::mean_ns("stream_table_join", "rocksdb_compiled") {
            println!(
                "stream_table_join RocksDB table store (criterion mean, {} records): compiled {:.2} M records/s, ratio RocksDB/in-memory = {:.3}",
                RECORDS / 4,
                per_s(rocks, RECORDS / 4),
                per_s(rocks, RECORDS / 4) / per_s(memory, RECORDS)
            );
        }
        // One full run of each, interleaved best of 3.
        let table = hand_table();
        let mut t = task(Backend::InMemory);
        let (mut best_hand, mut best_compiled) = (f64::MAX, f64::MAX);
        for _ in 0..3 {
            let start = Instant::now();
            black_box(hand_written(&table, FULL_RECORDS));
            best_hand = best_hand.min(start.elapsed().as_secs_f64());
            let start = Instant::now();
            black_box(compiled(&mut t, FULL_RECORDS));
            best_compiled = best_compiled.min(start.elapsed().as_secs_f64());
        }
        println!(
            "stream_table_join full runs ({FULL_RECORDS} records, best of 3): compiled in-memory {:.2} M records/s, hand-written {:.2} M records/s, ratio = {:.3}",
            FULL_RECORDS as f64 / best_compiled / 1e6,
            FULL_RECORDS as f64 / best_hand / 1e6,
            best_hand / best_compiled
        );
    }
}

//! The compiler should add nothing measurable: 10 million in-memory records
//! through a fused four-operator chain (`map_values` → `filter` → `map` →
//! `flat_map_values` → `to`), driven through `Topology::process` (the entry
//! point the Kafka runtime and the test driver use), against a hand-written
//! loop doing identical work, in the same run. Prints the throughput ratio.
//!
//! Run: `cargo bench --bench fused_chain`

#[path = "support/mod.rs"]
mod support;

use criterion::{criterion_group, Criterion, Throughput};
use std::hint::black_box;
use weir::plan::SinkTopic;
use weir::prelude::*;
use weir::record::SourceRecord;
use weir::{Headers, ProcessError, RecordCollector, RecordContext};

const RECORDS: u64 = 10_000_000;

#[weir::topology]
fn fused_chain() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<i64, i64>("input")
        .map_values(|v| v.wrapping_mul(3))
        .filter(|_k, v| v % 2 == 0)
        .map(|k, v| (k.wrapping_add(1), v))
        .flat_map_values(|v| [v, v.wrapping_add(1)])
        .to("output");
    builder.build()
}

/// Takes every produced record the way a producer does: appends key, value
/// and timestamp to a batch buffer (flushed every 64 KiB), folding what it
/// flushes into a checksum so no work can be elided.
struct Checksum {
    batch: Vec<u8>,
    records: u64,
    sum: u64,
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum {
            batch: Vec::with_capacity(1 << 16),
            records: 0,
            sum: 0,
        }
    }
}

impl Checksum {
    #[inline]
    fn add(&mut self, key: Option<&[u8]>, value: Option<&[u8]>, timestamp: i64) {
        self.records += 1;
        self.batch.extend_from_slice(key.unwrap_or_default());
        self.batch.extend_from_slice(value.unwrap_or_default());
        self.batch.extend_from_slice(&timestamp.to_le_bytes());
        if self.batch.len() >= (1 << 16) - 64 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let words = self
            .batch
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()));
        self.sum = words.fold(self.sum, |a, w| a.rotate_left(7) ^ w);
        self.batch.clear();
    }

    fn finish(mut self) -> Self {
        self.flush();
        self
    }
}

impl RecordCollector for Checksum {
    #[inline]
    fn send(
        &mut self,
        _topic: SinkTopic<'_>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        context: &RecordContext<'_>,
    ) -> Result<(), ProcessError> {
        self.add(key, value, context.timestamp);
        Ok(())
    }
    fn print(&mut self, _line: std::fmt::Arguments<'_>) {}
}

fn compiled(n: u64) -> Checksum {
    let mut topology = fused_chain();
    let headers = Headers::new();
    let mut out = Checksum::default();
    for i in 0..n {
        let (k, v) = ((i as i64).to_be_bytes(), ((i * 7) as i64).to_be_bytes());
        let record = SourceRecord {
            context: RecordContext {
                topic: "input",
                partition: 0,
                offset: i as i64,
                timestamp: i as i64,
                headers: &headers,
            },
            key: Some(&k),
            value: Some(&v),
        };
        topology.process(0, 0, record, &mut out).expect("processes");
    }
    out.finish()
}

/// Decodes an i64 from record bytes as any consumer must: null and length checked.
#[inline]
fn decode(bytes: Option<&[u8]>) -> Result<i64, &'static str> {
    let bytes = bytes.ok_or("null")?;
    Ok(i64::from_be_bytes(bytes.try_into().map_err(|_| "size")?))
}

/// The same work written by hand: decode, the four operators, encode into
/// reused buffers, hand the bytes over.
fn hand_written(n: u64) -> Checksum {
    let mut out = Checksum::default();
    let (mut kbuf, mut vbuf) = (Vec::new(), Vec::new());
    for i in 0..n {
        let (kb, vb) = ((i as i64).to_be_bytes(), ((i * 7) as i64).to_be_bytes());
        let k = decode(Some(&kb)).expect("key");
        let v = decode(Some(&vb)).expect("value").wrapping_mul(3);
        if v % 2 != 0 {
            continue;
        }
        let k = k.wrapping_add(1);
        for v in [v, v.wrapping_add(1)] {
            kbuf.clear();
            kbuf.extend_from_slice(&k.to_be_bytes());
            vbuf.clear();
            vbuf.extend_from_slice(&v.to_be_bytes());
            out.add(Some(&kbuf), Some(&vbuf), i as i64);
        }
    }
    out.finish()
}

fn bench(c: &mut Criterion) {
    let (a, b) = (compiled(100_000), hand_written(100_000));
    assert_eq!(
        (a.records, a.sum),
        (b.records, b.sum),
        "both loops do the same work"
    );
    let mut group = c.benchmark_group("fused_chain");
    group.throughput(Throughput::Elements(RECORDS));
    group.sample_size(10);
    group.bench_function("hand_written", |bench| {
        bench.iter(|| black_box(hand_written(black_box(RECORDS))))
    });
    group.bench_function("compiled", |bench| {
        bench.iter(|| black_box(compiled(black_box(RECORDS))))
    });
    group.finish();
}

criterion_group!(benches, bench);

/// Alternates the two loops `rounds` times and keeps each one's fastest run:
/// on a shared machine, interference only ever slows a run down, so the
/// ratio of minima is the steadier figure.
fn interleaved_best(rounds: usize) -> (f64, f64) {
    let time = |f: fn(u64) -> Checksum| {
        let start = std::time::Instant::now();
        black_box(f(black_box(RECORDS)));
        start.elapsed().as_secs_f64()
    };
    let (mut hand, mut fused) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        hand = hand.min(time(hand_written));
        fused = fused.min(time(compiled));
    }
    (hand, fused)
}

fn main() {
    support::start();
    benches();
    Criterion::default().configure_from_args().final_summary();
    if let (Some(hand), Some(fused)) = (
        support::mean_ns("fused_chain", "hand_written"),
        support::mean_ns("fused_chain", "compiled"),
    ) {
        println!(
            "fused_chain (criterion means): compiled {:.1} M records/s, hand-written {:.1} M records/s, ratio compiled/hand-written = {:.3}",
            RECORDS as f64 / fused * 1e3,
            RECORDS as f64 / hand * 1e3,
            hand / fused
        );
        let (hand, fused) = interleaved_best(15);
        println!(
            "fused_chain (interleaved, best of 15): compiled {:.1} M records/s, hand-written {:.1} M records/s, ratio compiled/hand-written = {:.3}",
            RECORDS as f64 / fused / 1e6,
            RECORDS as f64 / hand / 1e6,
            hand / fused
        );
    }
}

//! The State issue's benchmarks: a tumbling-window count (60 s windows, no
//! grace) of 10 million records over 100,000 keys, driven through
//! `Topology::process` (the entry point the Kafka runtime and the test driver
//! use) after `Topology::init`:
//!
//! (a) with the in-memory window store and no record cache
//!     (`statestore.cache.max.bytes=0`), against a hand-written loop doing
//!     the same logical work (decode, window start, `HashMap` increment,
//!     encode the output and changelog records, hand them to the same
//!     collector, expire windows by retention = size), in the same run —
//!     both produce the same bytes;
//! (b) with the RocksDB window store (a temporary directory, removed
//!     afterwards) behind the record cache (Kafka Streams' default 10 MiB,
//!     flushed by a commit every `COMMIT_EVERY` records), compared with (a);
//! (a') for reference, the in-memory store behind the cache.
//!
//! With 100,000 keys and 60,000 records per window, a (key, window) is
//! updated less than once per window on average: the cache has almost
//! nothing to collapse here, so (b) and (a') measure its cost, not its gain.
//!
//! Criterion runs a smaller N per iteration (see `CRITERION_RECORDS`) to keep
//! the bench short; each variant is also timed once over the full
//! 10 million records. Prints the throughputs and ratios at the end.
//!
//! Run: `cargo bench --bench windowed_count`

#[path = "support/stateful.rs"]
mod stateful;
#[path = "support/mod.rs"]
mod support;

use stateful::{Checksum, TempDir};

use criterion::{criterion_group, BatchSize, Criterion, SamplingMode, Throughput};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};
use weir::plan::SinkTopic;
use weir::prelude::*;
use weir::record::SourceRecord;
use weir::store::{Backend, TaskDirectory};
use weir::{Headers, ProcessError, RecordCollector, RecordContext};

/// Records of the full runs.
const RECORDS: u64 = 10_000_000;
/// Records per criterion iteration of (a) (10 million take too long per
/// sample).
const CRITERION_RECORDS: u64 = 1_000_000;
/// Records per criterion iteration of (b) (slower still).
const ROCKSDB_CRITERION_RECORDS: u64 = 250_000;
/// Distinct keys.
const KEYS: u64 = 100_000;
/// Records between two commits (cache flushes) in the cached variants.
const COMMIT_EVERY: u64 = 100_000;
/// Kafka Streams' default `statestore.cache.max.bytes`.
const CACHE_BYTES: usize = 10 * 1024 * 1024;
/// Window size (and retention: no grace), in ms. Timestamps advance 1 ms per
/// record, so a window holds 60,000 records.
const WINDOW_MS: i64 = 60_000;

#[weir::topology]
fn windowed_count() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<u64, u64>("events")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))
        .count(in_memory())
        .to_stream()
        .to("counts");
    builder.build()
}

/// The same topology with the default store (RocksDB): an `in_memory()`
/// store is not switched by a backend override.
#[weir::topology]
fn windowed_count_rocksdb() -> impl Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<u64, u64>("events")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))
        .count()
        .to_stream()
        .to("counts");
    builder.build()
}

/// Keys of the hot-key variant: few enough that the cache collapses most
/// updates between commits.
const HOT_KEYS: u64 = 1_000;

/// Record `i`: a pseudo-random key of `KEYS` (SplitMix64 of `i`), a value,
/// and timestamp `i` ms.
#[inline]
fn input(i: u64) -> ([u8; 8], [u8; 8], i64) {
    input_of(i, KEYS)
}

/// Record `i` with a key among `keys`.
#[inline]
fn input_of(i: u64, keys: u64) -> ([u8; 8], [u8; 8], i64) {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    ((z % keys).to_be_bytes(), i.to_be_bytes(), i as i64)
}

/// An initialised topology and its task directory (dropped after it, so
/// RocksDB is closed before its files are removed).
struct Task<T> {
    topology: T,
    _dir: TempDir,
}

/// An initialised topology: its window store on `backend`, its record
/// cache `cache_bytes` large (0: none).
fn task<T: Topology>(mut topology: T, backend: Backend, cache_bytes: usize) -> Task<T> {
    let dir = TempDir::new("windowed-count");
    let plan = topology.plan();
    let cx = topology.context(0).expect("sub-topology 0");
    cx.open_stores(plan, 0, &TaskDirectory(dir.0.clone()), Some(backend))
        .expect("opens the window store");
    cx.cache.set_max_bytes(cache_bytes);
    assert_eq!(cx.stores.len(), 1, "one window store");
    let Some(weir::store::StateStore::Window(store)) = cx.stores.get_mut(0) else {
        panic!("a window store");
    };
    assert_eq!(
        store.backend(),
        backend,
        "the store has the backend asked for"
    );
    Task {
        topology,
        _dir: dir,
    }
}

fn memory_task() -> Task<impl Topology> {
    task(windowed_count(), Backend::InMemory, 0)
}

fn memory_cached_task() -> Task<impl Topology> {
    task(windowed_count(), Backend::InMemory, CACHE_BYTES)
}

fn rocksdb_task() -> Task<impl Topology> {
    task(windowed_count_rocksdb(), Backend::RocksDb, CACHE_BYTES)
}

fn rocksdb_uncached_task() -> Task<impl Topology> {
    task(windowed_count_rocksdb(), Backend::RocksDb, 0)
}

/// Runs `n` records through the compiled topology.
fn compiled<T: Topology>(task: &mut Task<T>, n: u64) -> Checksum {
    compiled_keys(task, n, KEYS)
}

/// Runs `n` records with keys among `keys` through the compiled topology.
fn compiled_keys<T: Topology>(task: &mut Task<T>, n: u64, keys: u64) -> Checksum {
    let headers = Headers::new();
    let mut out = Checksum::default();
    for i in 0..n {
        let (k, v, ts) = input_of(i, keys);
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
            .process(0, 0, record, &mut out)
            .expect("processes");
        if (i + 1) % COMMIT_EVERY == 0 {
            // A commit: the cache (if any) flushes.
            task.topology.flush_cache(0, &mut out).expect("flushes");
        }
    }
    task.topology.flush_cache(0, &mut out).expect("flushes");
    out.finish()
}

/// The last value sent per key (output and changelog records alike).
#[derive(Default)]
struct Last(HashMap<Vec<u8>, Vec<u8>>);

impl RecordCollector for Last {
    fn send(
        &mut self,
        _topic: SinkTopic<'_>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        _context: &RecordContext<'_>,
    ) -> Result<(), ProcessError> {
        self.0.insert(
            key.unwrap_or_default().to_vec(),
            value.unwrap_or_default().to_vec(),
        );
        Ok(())
    }
    fn print(&mut self, _line: std::fmt::Arguments<'_>) {}
}

/// The last values `n` records leave per key, through `task`.
fn last_values<T: Topology>(task: &mut Task<T>, n: u64) -> Last {
    let headers = Headers::new();
    let mut out = Last::default();
    for i in 0..n {
        let (k, v, ts) = input(i);
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
            .process(0, 0, record, &mut out)
            .expect("processes");
        if (i + 1) % COMMIT_EVERY == 0 {
            task.topology.flush_cache(0, &mut out).expect("flushes");
        }
    }
    task.topology.flush_cache(0, &mut out).expect("flushes");
    out
}

/// Decodes a u64 from record bytes as any consumer must: null and length checked.
#[inline]
fn decode(bytes: Option<&[u8]>) -> Result<u64, &'static str> {
    let bytes = bytes.ok_or("null")?;
    Ok(u64::from_be_bytes(bytes.try_into().map_err(|_| "size")?))
}

/// The same logical work written by hand: decode, drop records of closed
/// windows, expire windows older than the retention (= size) when stream
/// time enters a new window, increment the count in a `HashMap`, encode the
/// changelog record (key, start, 4-byte sequence number → count) and the
/// output record (key, start → count) into reused buffers, hand both over.
fn hand_written(n: u64) -> Checksum {
    let mut out = Checksum::default();
    let mut counts: HashMap<(u64, i64), i64> = HashMap::new();
    let (mut stream_time, mut observed) = (i64::MIN, i64::MIN);
    let (mut kbuf, mut cbuf, mut vbuf) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let (kb, vb, ts) = input(i);
        let key = decode(Some(&kb)).expect("key");
        let _value = decode(Some(&vb)).expect("value");
        stream_time = stream_time.max(ts);
        let start = ts - ts.rem_euclid(WINDOW_MS);
        if start + WINDOW_MS <= stream_time {
            continue; // closed window (no grace): a late record
        }
        if start > observed {
            observed = start;
            counts.retain(|&(_, s), _| s > observed - WINDOW_MS);
        }
        let count = counts.entry((key, start)).or_insert(0);
        *count += 1;
        vbuf.clear();
        vbuf.extend_from_slice(&count.to_be_bytes());
        kbuf.clear();
        kbuf.extend_from_slice(&kb);
        kbuf.extend_from_slice(&start.to_be_bytes());
        cbuf.clear();
        cbuf.extend_from_slice(&kbuf);
        cbuf.extend_from_slice(&0u32.to_be_bytes());
        out.add(Some(&cbuf), Some(&vbuf), ts);
        out.add(Some(&kbuf), Some(&vbuf), ts);
    }
    out.finish()
}

fn bench(c: &mut Criterion) {
    // Same records, same bytes, in the same order: across several windows.
    let n = 250_000;
    let hand = hand_written(n);
    let memory = compiled(&mut memory_task(), n);
    assert_eq!(hand.records, 2 * n, "two records out per record in");
    assert_eq!(
        (memory.records, memory.sum),
        (hand.records, hand.sum),
        "compiled (in-memory, no cache) and hand-written produce the same bytes"
    );
    // Behind the cache, fewer records but the same final values.
    let uncached = last_values(&mut memory_task(), n).0;
    assert!(
        last_values(&mut rocksdb_task(), n).0 == uncached,
        "RocksDB behind the cache: the same last value per key as without it"
    );
    assert!(
        last_values(&mut memory_cached_task(), n).0 == uncached,
        "in-memory behind the cache: the same last value per key as without it"
    );

    let mut group = c.benchmark_group("windowed_count");
    group.throughput(Throughput::Elements(CRITERION_RECORDS));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("memory_hand_written", |b| {
        b.iter(|| black_box(hand_written(black_box(CRITERION_RECORDS))))
    });
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("memory_compiled", |b| {
        b.iter_batched(
            memory_task,
            |mut task| black_box(compiled(&mut task, black_box(CRITERION_RECORDS))),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("memory_cached_compiled", |b| {
        b.iter_batched(
            memory_cached_task,
            |mut task| black_box(compiled(&mut task, black_box(CRITERION_RECORDS))),
            BatchSize::PerIteration,
        )
    });
    group.throughput(Throughput::Elements(ROCKSDB_CRITERION_RECORDS));
    // About one iteration per sample (criterion may warn that 10 samples
    // take slightly longer than the target: harmless).
    group.measurement_time(Duration::from_secs(14));
    group.bench_function("rocksdb_compiled", |b| {
        b.iter_batched(
            rocksdb_task,
            |mut task| {
                let out = compiled(&mut task, black_box(ROCKSDB_CRITERION_RECORDS));
                // Closing RocksDB and removing its files is not measured.
                (black_box(out), task)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);

/// The 1-minute load average (the machine is shared: figures are noisy).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Seconds `f` takes (setup excluded by the caller).
fn time<R>(f: impl FnOnce() -> R) -> f64 {
    let start = Instant::now();
    black_box(f());
    start.elapsed().as_secs_f64()
}

/// Alternates the in-memory compiled run and the hand-written loop `rounds`
/// times over `n` records and keeps each one's fastest run: on a shared
/// machine interference only slows a run down, so the ratio of minima is
/// the steadier figure.
fn interleaved_best(rounds: usize, n: u64) -> (f64, f64) {
    let (mut hand, mut memory) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        hand = hand.min(time(|| hand_written(black_box(n))));
        let mut task = memory_task();
        memory = memory.min(time(|| compiled(&mut task, black_box(n))));
    }
    (hand, memory)
}

fn mrps(n: u64, secs: f64) -> f64 {
    n as f64 / secs / 1e6
}

/// For profilers (`valgrind --tool=callgrind`): `WINDOWED_COUNT_ONLY=
/// memory_compiled|rocksdb_compiled|hand_written` runs only that variant
/// over `WINDOWED_COUNT_N` records (default 1,000,000), without criterion.
fn only(variant: &str) {
    let n = std::env::var("WINDOWED_COUNT_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let out = match variant {
        "memory_compiled" => compiled(&mut memory_task(), n),
        "rocksdb_compiled" => compiled(&mut rocksdb_task(), n),
        "memory_cached_compiled" => compiled(&mut memory_cached_task(), n),
        "rocksdb_hot_uncached" => compiled_keys(&mut rocksdb_uncached_task(), n, HOT_KEYS),
        "rocksdb_hot_cached" => compiled_keys(&mut rocksdb_task(), n, HOT_KEYS),
        "hand_written" => hand_written(n),
        other => panic!("WINDOWED_COUNT_ONLY={other}: not a variant"),
    };
    println!(
        "{variant}: {n} records in, {} out, checksum {:x}",
        out.records, out.sum
    );
}

fn main() {
    support::start();
    if let Ok(variant) = std::env::var("WINDOWED_COUNT_ONLY") {
        return only(&variant);
    }
    println!(
        "windowed_count: tumbling 60 s windows, {KEYS} keys, 1 ms per record; \
         (a) in-memory without cache, (b) RocksDB and (a') in-memory behind a \
         {CACHE_BYTES}-byte record cache flushed every {COMMIT_EVERY} records"
    );
    benches();
    Criterion::default().configure_from_args().final_summary();
    let (Some(hand), Some(memory), Some(memory_cached), Some(rocksdb)) = (
        support::mean_ns("windowed_count", "memory_hand_written"),
        support::mean_ns("windowed_count", "memory_compiled"),
        support::mean_ns("windowed_count", "memory_cached_compiled"),
        support::mean_ns("windowed_count", "rocksdb_compiled"),
    ) else {
        return; // filtered, or `--test`
    };
    let n = CRITERION_RECORDS;
    // Million records per second from nanoseconds per iteration.
    let per_s = |n: u64, ns: f64| n as f64 / ns * 1e3;
    let criterion_load = load();
    let (best_hand, best_memory) = interleaved_best(5, n);
    let interleaved_load = load();

    // One full run of each variant.
    let full_hand = time(|| hand_written(black_box(RECORDS)));
    let mut task = memory_task();
    let full_memory = time(|| compiled(&mut task, black_box(RECORDS)));
    drop(task);
    let mut task = rocksdb_task();
    let full_rocksdb = time(|| compiled(&mut task, black_box(RECORDS)));
    drop(task);
    let full_load = load();

    // Hot keys: where the cache collapses updates (each (key, window) gets
    // 60 updates per window, a commit every 100,000 records).
    let hot = 1_000_000;
    let mut task = rocksdb_uncached_task();
    let hot_uncached = time(|| compiled_keys(&mut task, black_box(hot), HOT_KEYS));
    drop(task);
    let mut task = rocksdb_task();
    let hot_cached = time(|| compiled_keys(&mut task, black_box(hot), HOT_KEYS));
    drop(task);

    println!(
        "windowed_count (a) in-memory, criterion means, N = {n} records/iteration, load {criterion_load}: \
         compiled {:.2} M records/s, hand-written {:.2} M records/s, ratio compiled/hand-written = {:.3}",
        per_s(n, memory),
        per_s(n, hand),
        hand / memory
    );
    println!(
        "windowed_count (a) in-memory, interleaved best of 5, N = {n}, load {interleaved_load}: \
         compiled {:.2} M records/s, hand-written {:.2} M records/s, ratio compiled/hand-written = {:.3}",
        mrps(n, best_memory),
        mrps(n, best_hand),
        best_hand / best_memory
    );
    println!(
        "windowed_count (a') in-memory behind the cache, criterion mean, N = {n}: \
         compiled {:.2} M records/s, ratio to (a) = {:.3}",
        per_s(n, memory_cached),
        memory / memory_cached
    );
    let rn = ROCKSDB_CRITERION_RECORDS;
    println!(
        "windowed_count (b) RocksDB behind the cache, criterion mean, N = {rn} records/iteration, load {criterion_load}: \
         compiled {:.3} M records/s, ratio RocksDB/in-memory (compiled, criterion means) = {:.3}",
        per_s(rn, rocksdb),
        per_s(rn, rocksdb) / per_s(n, memory)
    );
    println!(
        "windowed_count full runs, N = {RECORDS} records, one run each, load {full_load}: \
         (a) compiled in-memory {:.2} M records/s ({full_memory:.2} s), hand-written {:.2} M records/s ({full_hand:.2} s), ratio = {:.3}; \
         (b) compiled RocksDB {:.2} M records/s ({full_rocksdb:.2} s), ratio RocksDB/in-memory = {:.3}",
        mrps(RECORDS, full_memory),
        mrps(RECORDS, full_hand),
        full_hand / full_memory,
        mrps(RECORDS, full_rocksdb),
        full_memory / full_rocksdb
    );
    println!(
        "windowed_count hot keys ({HOT_KEYS}), RocksDB, N = {hot}, one run each: \
         without cache {:.2} M records/s, with the cache {:.2} M records/s, ratio cached/uncached = {:.2}",
        mrps(hot, hot_uncached),
        mrps(hot, hot_cached),
        hot_uncached / hot_cached
    );
}

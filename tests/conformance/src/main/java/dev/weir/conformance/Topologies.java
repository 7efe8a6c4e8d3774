package dev.weir.conformance;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.state.Stores;

/**
 * The reference topologies, by name. Each one has a twin of the same name in
 * tests/conformance.rs, written in weir's DSL with the same closures: keep the
 * two in step (the helpers below are mirrored there too).
 *
 * Keys and values are nullable Strings (default String serdes), except on
 * output topics named `*-bytes`, which use Kafka's own serdes for numbers and
 * windowed keys and are compared byte for byte (see Runner.RAW_SUFFIX).
 */
public final class Topologies {
    private Topologies() {}

    /** What `peek` saw in the current scenario (reset by the runner). */
    static final AtomicLong PEEKED = new AtomicLong();

    private static final Map<String, Supplier<Topology>> ALL = new LinkedHashMap<>();

    static Supplier<Topology> get(final String name) {
        return ALL.get(name);
    }

    static Set<String> names() {
        return Collections.unmodifiableSet(ALL.keySet());
    }

    private static void define(final String name, final java.util.function.Consumer<StreamsBuilder> body) {
        ALL.put(name, () -> {
            final StreamsBuilder builder = new StreamsBuilder();
            body.accept(builder);
            return builder.build();
        });
    }

    private static KStream<String, String> in(final StreamsBuilder builder, final String topic) {
        return builder.stream(topic);
    }

    // ---- Helpers, mirrored in tests/conformance.rs ----

    /** A windowed key as `key@start-end`. */
    static String windowed(final Windowed<String> wk) {
        return wk.key() + "@" + wk.window().start() + "-" + wk.window().end();
    }

    /** Words: split on single spaces, empty pieces dropped. */
    static List<String> words(final String v) {
        final List<String> out = new ArrayList<>();
        if (v == null) {
            return out;
        }
        for (final String w : v.split(" ")) {
            if (!w.isEmpty()) {
                out.add(w);
            }
        }
        return out;
    }

    static String upper(final String v) {
        return v == null ? null : v.toUpperCase(Locale.ROOT);
    }

    static int charCount(final String v) {
        return v == null ? 0 : v.codePointCount(0, v.length());
    }

    /** The first character, "" for "", null for null. */
    static String firstChar(final String v) {
        if (v == null) {
            return null;
        }
        return v.isEmpty() ? "" : new String(Character.toChars(v.codePointAt(0)));
    }

    static String orNull(final String s) {
        return s == null ? "<null>" : s;
    }

    static boolean startsWith(final String v, final String prefix) {
        return v != null && v.startsWith(prefix);
    }

    /** out-a / out-b by the value's first character, out-other otherwise. */
    static String bucket(final String v) {
        if (startsWith(v, "a")) {
            return "out-a";
        }
        if (startsWith(v, "b")) {
            return "out-b";
        }
        return "out-other";
    }

    // ---- The topologies ----

    static {
        // -- filter family
        define("filter", b -> in(b, "in")
            .filter((k, v) -> v != null && charCount(v) % 2 == 0)
            .to("out"));

        define("filter_not", b -> in(b, "in")
            .filterNot((k, v) -> k == null || k.compareTo("c") < 0)
            .to("out"));

        // -- map family
        define("map", b -> in(b, "in")
            .map((k, v) -> KeyValue.pair(v, k))
            .to("out"));

        define("map_values", b -> in(b, "in")
            .mapValues(v -> upper(v))
            .to("out"));

        define("map_values_with_key", b -> in(b, "in")
            .mapValues((k, v) -> k == null ? null : k + "=" + orNull(v))
            .to("out"));

        define("flat_map", b -> in(b, "in")
            .flatMap((k, v) -> {
                final List<KeyValue<String, String>> out = new ArrayList<>();
                for (final String w : words(v)) {
                    out.add(KeyValue.pair(w, k));
                }
                return out;
            })
            .to("out"));

        define("flat_map_values", b -> in(b, "in")
            .flatMapValues(v -> v == null ? Collections.singletonList((String) null) : words(v))
            .to("out"));

        define("flat_map_values_with_key", b -> in(b, "in")
            .flatMapValues((k, v) -> {
                if (v == null) {
                    return List.of(orNull(k));
                }
                final List<String> out = new ArrayList<>();
                for (final String w : words(v)) {
                    out.add(orNull(k) + "/" + w);
                }
                return out;
            })
            .to("out"));

        define("select_key", b -> in(b, "in")
            .selectKey((k, v) -> firstChar(v))
            .to("out"));

        define("peek", b -> in(b, "in")
            .peek((k, v) -> PEEKED.incrementAndGet())
            .to("out"));

        // -- split / branch
        define("split", b -> {
            final Map<String, KStream<String, String>> branches = in(b, "in")
                .split(Named.as("p-"))
                .branch((k, v) -> startsWith(v, "a"), Branched.as("a"))
                .branch((k, v) -> k == null, Branched.as("nullkey"))
                .defaultBranch(Branched.as("other"));
            branches.get("p-a").to("out-a");
            branches.get("p-nullkey").mapValues(v -> upper(v)).to("out-nullkey");
            branches.get("p-other").to("out-other");
        });

        // -- merge (three input topics, two of them through one source)
        define("merge", b -> {
            final KStream<String, String> left = in(b, "left");
            final KStream<String, String> right = b.<String, String>stream(List.of("right-a", "right-b"))
                .mapValues(v -> upper(v));
            left.merge(right).to("out");
        });

        // -- repartition
        define("repartition", b -> in(b, "in")
            .repartition()
            .to("out"));

        define("repartition_named", b -> in(b, "in")
            .repartition(Repartitioned.as("rp"))
            .mapValues(v -> upper(v))
            .to("out"));

        // Two internal topics fed by one record, merged again: the order in
        // which the driver reads them back. Null keys are filtered first so
        // that this scenario is about ordering only.
        define("repartition_fanout", b -> {
            final Map<String, KStream<String, String>> halves = in(b, "in")
                .filter((k, v) -> k != null)
                .flatMapValues(v -> words(v))
                .split(Named.as("half-"))
                .branch((k, w) -> w.compareTo("m") < 0, Branched.as("low"))
                .defaultBranch(Branched.as("high"));
            final KStream<String, String> low = halves.get("half-low").repartition(Repartitioned.as("low"));
            final KStream<String, String> high = halves.get("half-high")
                .repartition(Repartitioned.as("high"))
                .mapValues(v -> upper(v));
            low.merge(high).to("out");
        });

        // -- to with a topic extractor
        define("to_extractor", b -> in(b, "in")
            .to((k, v, ctx) -> bucket(v)));

        define("to_extractor_ctx", b -> b.<String, String>stream(List.of("in-x", "in-y"))
            .to((k, v, ctx) -> "from-" + ctx.topic()));

        // -- chains
        define("chain_repartition", b -> in(b, "in")
            .filter((k, v) -> v != null)
            .selectKey((k, v) -> v.isEmpty() ? null : firstChar(v))
            .repartition()
            .mapValues((k, v) -> orNull(k) + ":" + upper(v))
            .to("out"));

        define("chain_mixed", b -> {
            final Map<String, KStream<String, String>> branches = in(b, "left")
                .merge(in(b, "right"))
                .flatMapValues(v -> words(v))
                .filterNot((k, w) -> startsWith(w, "x"))
                .peek((k, w) -> PEEKED.incrementAndGet())
                .mapValues((k, w) -> orNull(k) + ":" + w)
                .split(Named.as("len-"))
                .branch((k, v) -> charCount(v) > 6, Branched.as("long"))
                .defaultBranch(Branched.as("short"));
            branches.get("len-long").to("out-long");
            branches.get("len-short").selectKey((k, v) -> firstChar(v)).to("out-short");
        });

        // -- stream aggregations (outputs as Strings, so one serde serves all)
        define("count_by_key", b -> in(b, "in")
            .groupByKey()
            .count()
            .toStream()
            .mapValues(v -> String.valueOf(v))
            .to("out"));

        define("count_group_by", b -> in(b, "in")
            .groupBy((k, v) -> firstChar(v))
            .count()
            .toStream()
            .mapValues(v -> String.valueOf(v))
            .to("out"));

        define("reduce_concat", b -> in(b, "in")
            .groupByKey()
            .reduce((agg, v) -> agg + "|" + v)
            .toStream()
            .to("out"));

        // -- windowed aggregations (windowed keys printed as key@start-end)
        define("windowed_count", b -> in(b, "in")
            .groupByKey()
            .windowedBy(TimeWindows.ofSizeAndGrace(java.time.Duration.ofMillis(500), java.time.Duration.ofMillis(300)))
            .count()
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), String.valueOf(v)))
            .to("out"));

        define("windowed_count_hopping", b -> in(b, "in")
            .groupBy((k, v) -> firstChar(v))
            .windowedBy(TimeWindows.ofSizeWithNoGrace(java.time.Duration.ofMillis(500)).advanceBy(java.time.Duration.ofMillis(200)))
            .count()
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), String.valueOf(v)))
            .to("out"));

        define("windowed_reduce", b -> in(b, "in")
            .groupByKey()
            .windowedBy(TimeWindows.ofSizeAndGrace(java.time.Duration.ofMillis(1000), java.time.Duration.ofMillis(500)))
            .reduce((agg, v) -> agg + "|" + v)
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), v))
            .to("out"));

        define("windowed_aggregate", b -> in(b, "in")
            .groupByKey()
            .windowedBy(TimeWindows.ofSizeWithNoGrace(java.time.Duration.ofMillis(300)))
            .aggregate(() -> "", (k, v, agg) -> agg + charCount(v))
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), v))
            .to("out"));

        // -- sliding windows (both bounds inclusive; null values dropped)
        define("sliding_count", b -> in(b, "in")
            .groupByKey()
            .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(java.time.Duration.ofMillis(300), java.time.Duration.ofMillis(500)))
            .count()
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), String.valueOf(v)))
            .to("out"));

        define("sliding_reduce", b -> in(b, "in")
            .groupByKey()
            .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(java.time.Duration.ofMillis(200)))
            .reduce((agg, v) -> agg + "|" + v)
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), v))
            .to("out"));

        define("sliding_aggregate", b -> in(b, "in")
            .groupBy((k, v) -> firstChar(v))
            .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(java.time.Duration.ofMillis(1000), java.time.Duration.ofMillis(2000)))
            .aggregate(() -> "", (k, v, agg) -> agg + charCount(v))
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), v))
            .to("out"));

        // -- session windows (merged sessions are deleted: null values out)
        define("session_count", b -> in(b, "in")
            .groupByKey()
            .windowedBy(SessionWindows.ofInactivityGapAndGrace(java.time.Duration.ofMillis(300), java.time.Duration.ofMillis(500)))
            .count()
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), v == null ? null : String.valueOf(v)))
            .to("out"));

        // -- byte-level: Kafka's serdes for numbers and windowed keys
        define("windowed_count_bytes", b -> in(b, "in")
            .groupByKey()
            .windowedBy(TimeWindows.ofSizeAndGrace(java.time.Duration.ofMillis(500), java.time.Duration.ofMillis(300)))
            .count()
            .toStream()
            .to("out-bytes", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 500), Serdes.Long())));

        define("session_count_bytes", b -> in(b, "in")
            .groupByKey()
            .windowedBy(SessionWindows.ofInactivityGapAndGrace(java.time.Duration.ofMillis(300), java.time.Duration.ofMillis(500)))
            .count()
            .toStream()
            .to("out-bytes", Produced.with(WindowedSerdes.sessionWindowedSerdeFrom(String.class), Serdes.Long())));

        define("numbers_bytes", b -> {
            final KStream<String, String> s = in(b, "in");
            s.mapValues(v -> v == null ? null : charCount(v) * 1_000_000_007L - 3_000_000_000L)
                .to("longs-bytes", Produced.with(Serdes.String(), Serdes.Long()));
            s.mapValues(v -> v == null ? null : -charCount(v))
                .to("ints-bytes", Produced.with(Serdes.String(), Serdes.Integer()));
            s.mapValues(v -> v == null ? null : charCount(v) / 3.0)
                .to("doubles-bytes", Produced.with(Serdes.String(), Serdes.Double()));
        });

        define("session_reduce", b -> in(b, "in")
            .groupByKey()
            .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(java.time.Duration.ofMillis(200)))
            .reduce((agg, v) -> agg + "|" + v)
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), v))
            .to("out"));

        define("session_aggregate", b -> in(b, "in")
            .groupBy((k, v) -> firstChar(v))
            .windowedBy(SessionWindows.ofInactivityGapAndGrace(java.time.Duration.ofMillis(1000), java.time.Duration.ofMillis(2000)))
            .aggregate(() -> "", (k, v, agg) -> agg + charCount(v), (k, a, b2) -> a + "+" + b2)
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), v))
            .to("out"));

        // -- the Processor API: a store, forwards, stream-time punctuation
        define("processor_first_seen", b -> {
            b.addStateStore(Stores.keyValueStoreBuilder(
                Stores.inMemoryKeyValueStore("seen"), Serdes.String(), Serdes.Long()));
            in(b, "in")
                .process(FirstSeen::new, "seen")
                .to("out");
        });

        define("processor_values_totals", b -> {
            b.addStateStore(Stores.keyValueStoreBuilder(
                Stores.inMemoryKeyValueStore("totals"), Serdes.String(), Serdes.Long()));
            final KStream<String, String> totals = in(b, "in").processValues(RunningTotal::new, "totals");
            totals.to("out");
            totals.groupByKey().count().toStream()
                .mapValues(v -> v == null ? null : String.valueOf(v))
                .to("counts");
        });

        define("windowed_count_final", b -> in(b, "in")
            .groupByKey()
            .windowedBy(TimeWindows.ofSizeAndGrace(java.time.Duration.ofMillis(1000), java.time.Duration.ofMillis(500)))
            .emitStrategy(org.apache.kafka.streams.kstream.EmitStrategy.onWindowClose())
            .count()
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), String.valueOf(v)))
            .to("out"));

        define("windowed_count_final_retained", b -> in(b, "in")
            .groupByKey()
            .windowedBy(TimeWindows.ofSizeAndGrace(java.time.Duration.ofMillis(1000), java.time.Duration.ofMillis(500)))
            .emitStrategy(org.apache.kafka.streams.kstream.EmitStrategy.onWindowClose())
            .count(org.apache.kafka.streams.kstream.Materialized
                .<String, Long, org.apache.kafka.streams.state.WindowStore<org.apache.kafka.common.utils.Bytes, byte[]>>with(null, null)
                .withRetention(java.time.Duration.ofMillis(5000)))
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), String.valueOf(v)))
            .to("out"));

        define("sliding_count_final", b -> in(b, "in")
            .groupByKey()
            .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(java.time.Duration.ofMillis(300), java.time.Duration.ofMillis(500)))
            .emitStrategy(org.apache.kafka.streams.kstream.EmitStrategy.onWindowClose())
            .count()
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), String.valueOf(v)))
            .to("out"));

        define("session_count_final", b -> in(b, "in")
            .groupByKey()
            .windowedBy(SessionWindows.ofInactivityGapAndGrace(java.time.Duration.ofMillis(300), java.time.Duration.ofMillis(500)))
            .emitStrategy(org.apache.kafka.streams.kstream.EmitStrategy.onWindowClose())
            .count(org.apache.kafka.streams.kstream.Materialized
                .<String, Long, org.apache.kafka.streams.state.SessionStore<org.apache.kafka.common.utils.Bytes, byte[]>>with(null, null)
                .withRetention(java.time.Duration.ofMillis(5000)))
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), v == null ? null : String.valueOf(v)))
            .to("out"));

        // -- tables (a null value is a tombstone)
        // -- stream-table joins (only stream records trigger)
        define("stream_table_join", b -> {
            final KTable<String, String> table = b.table("table-in");
            in(b, "in").join(table, (v, t) -> v + "+" + t).to("out");
        });
        define("stream_table_left_join", b -> {
            final KTable<String, String> table = b.table("table-in");
            in(b, "in").leftJoin(table, (k, v, t) -> k + ":" + v + "+" + t).to("out");
        });
        define("stream_table_join_rekeyed", b -> {
            final KTable<String, String> table = b.table("table-in");
            in(b, "in")
                .selectKey((k, v) -> v == null ? k : v.isEmpty() ? null : v.substring(0, 1))
                .join(table, (k, v, t) -> k + ":" + v + "+" + t)
                .to("out");
        });
        define("stream_table_left_join_to_table", b -> {
            final KTable<String, String> table = in(b, "table-in").mapValues(v -> upper(v)).toTable();
            in(b, "in").leftJoin(table, (v, t) -> v + "+" + t).to("out");
        });

        define("table_filter", b -> b.<String, String>table("in")
            .filter((k, v) -> charCount(v) % 2 == 0)
            .toStream()
            .to("out"));

        define("table_filter_not_map_values", b -> b.<String, String>table("in")
            .filterNot((k, v) -> startsWith(v, "a"))
            .mapValues((k, v) -> orNull(k) + ":" + upper(v))
            .toStream()
            .to("out"));

        define("to_table_map_values", b -> in(b, "in")
            .toTable()
            .mapValues(v -> "<" + v + ">")
            .toStream()
            .to("out"));

        define("count_filter", b -> in(b, "in")
            .groupByKey()
            .count()
            .filter((k, n) -> n % 2 == 0)
            .toStream()
            .mapValues(n -> n == null ? null : String.valueOf(n))
            .to("out"));

        // -- table aggregations (adder and subtractor)
        define("table_group_by_count", b -> b.<String, String>table("in")
            .groupBy((k, v) -> KeyValue.pair(firstChar(v), v))
            .count()
            .toStream()
            .mapValues(n -> n == null ? null : String.valueOf(n))
            .to("out"));

        define("to_table_group_by_count", b -> in(b, "in")
            .toTable()
            .groupBy((k, v) -> KeyValue.pair(firstChar(v), v))
            .count()
            .toStream()
            .mapValues(n -> n == null ? null : String.valueOf(n))
            .to("out"));

        define("count_regroup", b -> in(b, "in")
            .groupByKey()
            .count()
            .groupBy((k, n) -> KeyValue.pair(String.valueOf(n), k))
            .count()
            .toStream()
            .mapValues(n -> n == null ? null : String.valueOf(n))
            .to("out"));

        define("aggregate_regroup", b -> in(b, "in")
            .groupByKey()
            .aggregate(() -> "", (k, v, agg) -> agg + firstChar(v))
            .groupBy((k, agg) -> KeyValue.pair(String.valueOf(charCount(agg)), k))
            .count()
            .toStream()
            .mapValues(n -> n == null ? null : String.valueOf(n))
            .to("out"));

        define("reduce_regroup_reduce", b -> in(b, "in")
            .groupByKey()
            .reduce((agg, v) -> agg + "|" + v)
            .groupBy((k, agg) -> KeyValue.pair(firstChar(agg), k))
            .reduce((agg, k) -> agg + "+" + k, (agg, k) -> agg + "-" + k)
            .toStream()
            .to("out"));

        define("table_group_by_reduce", b -> b.<String, String>table("in")
            .filter((k, v) -> !v.isEmpty())
            .groupBy((k, v) -> KeyValue.pair(firstChar(v), orNull(k) + "=" + v))
            .reduce((agg, v) -> agg + "+" + v, (agg, v) -> agg + "-" + v)
            .toStream()
            .to("out"));

        define("table_group_by_aggregate", b -> b.<String, String>table("in")
            .mapValues(v -> upper(v))
            .groupBy((k, v) -> KeyValue.pair(firstChar(k), v))
            .aggregate(() -> "", (k, v, agg) -> agg + "[" + v + "]", (k, v, agg) -> agg + "(" + v + ")")
            .toStream()
            .to("out"));

        // -- cogroup
        define("cogroup", b -> {
            final org.apache.kafka.streams.kstream.KGroupedStream<String, String> left = in(b, "left").groupByKey();
            final org.apache.kafka.streams.kstream.KGroupedStream<String, String> right =
                in(b, "right").groupBy((k, v) -> firstChar(v));
            left.cogroup((k, v, agg) -> agg + "L" + charCount(v))
                .cogroup(right, (k, v, agg) -> agg + "R" + charCount(v))
                .aggregate(() -> "")
                .toStream()
                .to("out");
        });

        // -- suppression
        define("windowed_count_suppressed", b -> in(b, "in")
            .groupByKey()
            .windowedBy(TimeWindows.ofSizeAndGrace(java.time.Duration.ofMillis(500), java.time.Duration.ofMillis(300)))
            // Serdes for the suppression buffer (Kafka Streams takes them from here).
            .count(org.apache.kafka.streams.kstream.Materialized.with(
                org.apache.kafka.common.serialization.Serdes.String(),
                org.apache.kafka.common.serialization.Serdes.Long()))
            .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
            .toStream()
            .map((wk, v) -> KeyValue.pair(windowed(wk), String.valueOf(v)))
            .to("out"));

        define("reduce_time_limited", b -> in(b, "in")
            .groupByKey()
            .reduce((agg, v) -> v)
            .suppress(Suppressed.untilTimeLimit(java.time.Duration.ofMillis(200), Suppressed.BufferConfig.maxRecords(3)))
            .toStream()
            .to("out"));

        define("aggregate_after_map", b -> in(b, "in")
            .map((k, v) -> KeyValue.pair(v == null ? null : upper(firstChar(v)), k))
            .groupByKey()
            .aggregate(() -> "", (k, v, agg) -> agg + "<" + orNull(v) + ">")
            .toStream()
            .to("out"));
    }

    /** Forwards each key's first record; every second of stream time, the total count. */
    static final class FirstSeen implements org.apache.kafka.streams.processor.api.Processor<String, String, String, String> {
        private org.apache.kafka.streams.processor.api.ProcessorContext<String, String> ctx;
        private org.apache.kafka.streams.state.KeyValueStore<String, Long> seen;

        @Override
        public void init(final org.apache.kafka.streams.processor.api.ProcessorContext<String, String> context) {
            ctx = context;
            seen = context.getStateStore("seen");
            context.schedule(java.time.Duration.ofMillis(1000), org.apache.kafka.streams.processor.PunctuationType.STREAM_TIME, ts -> {
                long total = 0;
                try (org.apache.kafka.streams.state.KeyValueIterator<String, Long> it = seen.all()) {
                    while (it.hasNext()) {
                        total += it.next().value;
                    }
                }
                ctx.forward(new org.apache.kafka.streams.processor.api.Record<>("stream-time", String.valueOf(total), ts));
            });
        }

        @Override
        public void process(final org.apache.kafka.streams.processor.api.Record<String, String> record) {
            if (record.key() == null) {
                return;
            }
            final Long n = seen.get(record.key());
            seen.put(record.key(), (n == null ? 0 : n) + 1);
            if (n == null) {
                ctx.forward(record);
            }
        }
    }

    /** Per key, the running total of the values' lengths: "key=total". */
    static final class RunningTotal implements org.apache.kafka.streams.processor.api.FixedKeyProcessor<String, String, String> {
        private org.apache.kafka.streams.processor.api.FixedKeyProcessorContext<String, String> ctx;
        private org.apache.kafka.streams.state.KeyValueStore<String, Long> totals;

        @Override
        public void init(final org.apache.kafka.streams.processor.api.FixedKeyProcessorContext<String, String> context) {
            ctx = context;
            totals = context.getStateStore("totals");
        }

        @Override
        public void process(final org.apache.kafka.streams.processor.api.FixedKeyRecord<String, String> record) {
            if (record.key() == null || record.value() == null) {
                return;
            }
            final Long before = totals.get(record.key());
            final long total = (before == null ? 0 : before) + charCount(record.value());
            totals.put(record.key(), total);
            ctx.forward(record.withValue(record.key() + "=" + total));
        }
    }
}

package dev.weir.conformance;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;

/**
 * Runs conformance scenarios through Kafka Streams' own TopologyTestDriver.
 *
 * <pre>java -cp ... dev.weir.conformance.Runner scenarios.jsonl out.jsonl</pre>
 *
 * One scenario per input line:
 * {"scenario", "topology", "inputs": [{"topic", "key", "value", "timestamp", "headers": [[name, value], ...]}]}
 * (keys, values and header values may be null). Each scenario gets a fresh
 * driver; its inputs are piped in order and, after each one, every user
 * topic the topology produced to is drained. Output lines:
 * <ul>
 * <li>one per output record: {"scenario", "topic", "key", "value", "timestamp", "headers", "input"},
 *     "input" being the index of the input record whose piping produced it;</li>
 * <li>then one per scenario: {"scenario", "produced": [topics], "peeked": n, "records": n},
 *     or {"scenario", "error": "..."} if the scenario failed.</li>
 * </ul>
 * Internal topics (named "conformance-...") are not written out.
 */
public final class Runner {
    static final String APPLICATION_ID = "conformance";

    private Runner() {}

    public static void main(final String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: Runner <scenarios.jsonl> <out.jsonl>");
            System.err.println("topologies: " + Topologies.names());
            System.exit(2);
        }
        final ObjectMapper mapper = new ObjectMapper();
        final Path stateDir = Files.createTempDirectory("weir-conformance-state-");
        int scenarios = 0;
        final long started = System.nanoTime();
        try (BufferedReader in = Files.newBufferedReader(Path.of(args[0]), StandardCharsets.UTF_8);
             BufferedWriter out = Files.newBufferedWriter(Path.of(args[1]), StandardCharsets.UTF_8)) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                runScenario(mapper, mapper.readTree(line), out, stateDir);
                scenarios++;
            }
        } finally {
            deleteRecursively(stateDir);
        }
        System.err.printf("Kafka Streams: %d scenarios in %d ms%n", scenarios, (System.nanoTime() - started) / 1_000_000);
    }

    private static Properties config(final Path stateDir, final long cacheBytes) {
        final Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, APPLICATION_ID);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "dummy:1234");
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        // 0 strips the caching layers; otherwise the record cache, flushed
        // by the test driver's commit after every record.
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, cacheBytes);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        // Final results (`EmitStrategy.onWindowClose`) are looked for at most
        // once per this much wall-clock time, which the test driver's mock
        // clock never advances: look on every record (weir is set alike).
        props.put("__emit.interval.ms.kstreams.windowed.aggregation__", 0L);
        // In-memory stores: the same semantics as RocksDB ones, without
        // opening a database per scenario (the weir side tests both backends).
        props.put(StreamsConfig.DSL_STORE_SUPPLIERS_CLASS_CONFIG,
            org.apache.kafka.streams.state.BuiltInDslStoreSuppliers.InMemoryDslStoreSuppliers.class);
        return props;
    }

    private static void runScenario(final ObjectMapper mapper,
                                    final JsonNode scenario,
                                    final BufferedWriter out,
                                    final Path stateDir) throws IOException {
        final String name = scenario.path("scenario").asText();
        final String topologyName = scenario.path("topology").asText();
        final ObjectNode summary = mapper.createObjectNode();
        summary.put("scenario", name);
        final Supplier<Topology> topology = Topologies.get(topologyName);
        if (topology == null) {
            summary.put("error", "no Kafka Streams topology named `" + topologyName + "` in Topologies.java; known: "
                + Topologies.names());
            writeLine(mapper, out, summary);
            return;
        }
        Topologies.PEEKED.set(0);
        final StringSerializer ser = new StringSerializer();
        final ByteArrayDeserializer de = new ByteArrayDeserializer();
        long records = 0;
        try (TopologyTestDriver driver = new TopologyTestDriver(topology.get(),
                config(stateDir, scenario.path("cache_bytes").asLong(0)))) {
            final Map<String, TestInputTopic<String, String>> inputs = new HashMap<>();
            final Map<String, TestOutputTopic<byte[], byte[]>> outputs = new HashMap<>();
            int index = 0;
            for (final JsonNode record : scenario.path("inputs")) {
                final String topic = record.path("topic").asText();
                final TestInputTopic<String, String> input =
                    inputs.computeIfAbsent(topic, t -> driver.createInputTopic(t, ser, ser));
                final Headers headers = new RecordHeaders();
                for (final JsonNode header : record.path("headers")) {
                    final String value = text(header.get(1));
                    headers.add(new RecordHeader(header.get(0).asText(),
                        value == null ? null : value.getBytes(StandardCharsets.UTF_8)));
                }
                input.pipeInput(new TestRecord<>(
                    text(record.get("key")),
                    text(record.get("value")),
                    headers,
                    Instant.ofEpochMilli(record.path("timestamp").asLong())));
                // Drain every user topic produced so far, in name order.
                for (final String produced : new TreeSet<>(driver.producedTopicNames())) {
                    if (produced.startsWith(APPLICATION_ID + "-")) {
                        continue;
                    }
                    final TestOutputTopic<byte[], byte[]> output =
                        outputs.computeIfAbsent(produced, t -> driver.createOutputTopic(t, de, de));
                    for (final TestRecord<byte[], byte[]> r : output.readRecordsToList()) {
                        writeLine(mapper, out, outputRecord(mapper, name, produced, r, index));
                        records++;
                    }
                }
                index++;
            }
            final ArrayNode produced = summary.putArray("produced");
            new TreeSet<>(driver.producedTopicNames()).forEach(produced::add);
            summary.put("peeked", Topologies.PEEKED.get());
            summary.put("records", records);
        } catch (final RuntimeException e) {
            final StringWriter trace = new StringWriter();
            e.printStackTrace(new PrintWriter(trace));
            summary.put("error", trace.toString());
        }
        writeLine(mapper, out, summary);
    }

    private static ObjectNode outputRecord(final ObjectMapper mapper,
                                           final String scenario,
                                           final String topic,
                                           final TestRecord<byte[], byte[]> r,
                                           final int input) {
        final ObjectNode line = mapper.createObjectNode();
        final boolean raw = topic.endsWith(RAW_SUFFIX);
        line.put("scenario", scenario);
        line.put("topic", topic);
        line.put("key", render(r.key(), raw));
        line.put("value", render(r.value(), raw));
        line.put("timestamp", r.timestamp());
        final ArrayNode headers = line.putArray("headers");
        for (final Header h : r.headers()) {
            final ArrayNode pair = headers.addArray();
            pair.add(h.key());
            pair.add(h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8));
        }
        line.put("input", input);
        return line;
    }

    /**
     * Output topics whose name ends with this are compared byte for byte: their
     * keys and values are written as "0x" and lowercase hex. Others are
     * UTF-8 text, as the String deserializer reads them.
     */
    static final String RAW_SUFFIX = "-bytes";

    private static String render(final byte[] bytes, final boolean raw) {
        if (bytes == null) {
            return null;
        }
        if (!raw) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
        final StringBuilder hex = new StringBuilder(2 + 2 * bytes.length).append("0x");
        for (final byte b : bytes) {
            hex.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return hex.toString();
    }

    private static String text(final JsonNode node) {
        return node == null || node.isNull() ? null : node.asText();
    }

    private static void writeLine(final ObjectMapper mapper, final BufferedWriter out, final JsonNode line)
        throws IOException {
        out.write(mapper.writeValueAsString(line));
        out.newLine();
    }

    private static void deleteRecursively(final Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (final IOException ignored) {
            // best effort: a temporary directory
        }
    }
}

package io.runnel.broker;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;

/**
 * The broker's metrics: every name, tag and registration is here, so the list below is the whole
 * contract a dashboard relies on. Names are Micrometer's dotted names; Prometheus shows them with
 * underscores, {@code _total} on counters and the base unit on timers (the exported names are in
 * brackets).
 *
 * <ul>
 *   <li>{@value #RECORDS_IN} [{@code runnel_produce_records_total}], tag {@code topic}: records
 *       appended by produce requests (counted once their partition accepted the batch).</li>
 *   <li>{@value #BYTES_IN} [{@code runnel_produce_bytes_total}], tag {@code topic}: bytes of those
 *       record batches as appended to the log.</li>
 *   <li>{@value #BYTES_OUT} [{@code runnel_fetch_bytes_total}], tag {@code topic}: bytes handed to
 *       consumers by fetches.</li>
 *   <li>{@value #RECORDS_OUT} [{@code runnel_fetch_records_total}], tag {@code topic}: records
 *       handed to consumers by adapters that look inside batches (HTTP consumers; a Kafka fetch
 *       sends batches unopened and counts bytes only).</li>
 *   <li>{@value #GROUP_LAG} [{@code runnel_group_lag}], tags {@code group}, {@code topic},
 *       {@code partition}: the partition's high watermark minus the group's committed offset, for
 *       every partition a group has committed to.</li>
 *   <li>{@value #PRODUCE_LATENCY} [{@code runnel_produce_latency_seconds}]: a produce request from
 *       arrival at the broker service to its answer (acks included), p50 and p99 published.</li>
 *   <li>{@value #FETCH_LATENCY} [{@code runnel_fetch_latency_seconds}]: a fetch from arrival to
 *       answer, long-poll wait included, p50 and p99 published.</li>
 *   <li>{@value #LOG_SIZE} [{@code runnel_log_size_bytes}], tags {@code topic}, {@code partition}:
 *       the bytes of a partition's log on disk, as of its last append or maintenance pass.</li>
 *   <li>{@value #LOG_SEGMENTS} [{@code runnel_log_segments}], tags {@code topic}, {@code partition}:
 *       the segment count of a partition's log, as of the same moment.</li>
 *   <li>{@value #HTTP_CONNECTIONS} [{@code runnel_http_connections_active}]: open HTTP
 *       connections.</li>
 * </ul>
 *
 * <p>Timers carry no topic tag: each publishes percentiles, and a series set per topic would grow
 * with the topic count. Meters of a topic are removed when it is deleted.
 *
 * <p>Thread-safe: Micrometer meters may be used from any thread. Gauges read values a partition
 * publishes (volatile fields set on its context), never the single-threaded log itself.
 */
public final class BrokerMetrics {

    static final String RECORDS_IN = "runnel.produce.records";
    static final String BYTES_IN = "runnel.produce.bytes";
    static final String BYTES_OUT = "runnel.fetch.bytes";
    static final String RECORDS_OUT = "runnel.fetch.records";
    static final String GROUP_LAG = "runnel.group.lag";
    static final String PRODUCE_LATENCY = "runnel.produce.latency";
    static final String FETCH_LATENCY = "runnel.fetch.latency";
    static final String LOG_SIZE = "runnel.log.size";
    static final String LOG_SEGMENTS = "runnel.log.segments";
    static final String HTTP_CONNECTIONS = "runnel.http.connections.active";

    private static final String TOPIC = "topic";
    private static final String PARTITION = "partition";

    private final MeterRegistry registry;
    /** The per-topic counters registered so far; a deleted topic's are dropped with its meters. */
    private final Map<CounterKey, Counter> counters = new ConcurrentHashMap<>();
    private final Timer produceLatency;
    private final Timer fetchLatency;
    private final AtomicInteger httpConnections = new AtomicInteger();

    private record CounterKey(String name, String topic) {
    }

    public BrokerMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.produceLatency = Timer.builder(PRODUCE_LATENCY)
                .description("Produce requests, from arrival at the broker service to the answer")
                .publishPercentiles(0.5, 0.99)
                .register(registry);
        this.fetchLatency = Timer.builder(FETCH_LATENCY)
                .description("Fetches, from arrival at the broker service to the answer, long-poll wait included")
                .publishPercentiles(0.5, 0.99)
                .register(registry);
        Gauge.builder(HTTP_CONNECTIONS, httpConnections, AtomicInteger::get)
                .description("Open HTTP connections")
                .register(registry);
    }

    /** Metrics that go nowhere: a registry of its own with no backend, for brokers built without one. */
    public static BrokerMetrics noop() {
        return new BrokerMetrics(new CompositeMeterRegistry());
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** A partition of {@code topic} accepted {@code records} records in a batch of {@code bytes}. */
    void recordsIn(String topic, int records, long bytes) {
        counter(RECORDS_IN, topic, "Records appended by produce requests", null).increment(records);
        counter(BYTES_IN, topic, "Bytes of record batches appended by produce requests", BaseUnits.BYTES)
                .increment(bytes);
    }

    /** A fetch of {@code topic} handed {@code bytes} to a consumer. */
    void bytesOut(String topic, long bytes) {
        counter(BYTES_OUT, topic, "Bytes handed to consumers by fetches", BaseUnits.BYTES).increment(bytes);
    }

    /** An adapter handed {@code records} records of {@code topic} to a consumer. */
    public void recordsOut(String topic, long records) {
        counter(RECORDS_OUT, topic, "Records handed to consumers by adapters that open batches", null)
                .increment(records);
    }

    /**
     * The counter {@code name} of {@code topic}, registered on first use and then taken from
     * {@link #counters}: building and registering it for every produce and fetch cost a meter id
     * and a registry lookup each time (seen in the leader's profile on the request path).
     */
    private Counter counter(String name, String topic, String description, String baseUnit) {
        return counters.computeIfAbsent(new CounterKey(name, topic), k -> Counter.builder(name)
                .description(description).baseUnit(baseUnit).tag(TOPIC, topic).register(registry));
    }

    /**
     * Publishes the lag of {@code group} on a partition: {@code lag} is read at each scrape.
     * Registering the same group and partition again is harmless (the first function stays).
     */
    public void groupLag(String group, String topic, int partition, java.util.function.LongSupplier lag) {
        Gauge.builder(GROUP_LAG, lag, l -> (double) l.getAsLong())
                .description("High watermark minus the group's committed offset")
                .tags("group", group, TOPIC, topic, PARTITION, Integer.toString(partition))
                .strongReference(true) // the supplier is a lambda held nowhere else; a weak one reads NaN after GC
                .register(registry);
    }

    void produceLatency(long nanos) {
        produceLatency.record(nanos, TimeUnit.NANOSECONDS);
    }

    void fetchLatency(long nanos) {
        fetchLatency.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** Registers the gauges of partition {@code index} of {@code topic} (again is harmless). */
    void partitionOpened(String topic, int index, Partition partition) {
        String p = Integer.toString(index);
        Gauge.builder(LOG_SIZE, partition, Partition::logSizeBytes)
                .description("Bytes of the partition's log on disk, as of its last append or maintenance pass")
                .baseUnit(BaseUnits.BYTES).tags(TOPIC, topic, PARTITION, p).register(registry);
        Gauge.builder(LOG_SEGMENTS, partition, Partition::segmentCount)
                .description("Segments of the partition's log, as of its last append or maintenance pass")
                .tags(TOPIC, topic, PARTITION, p).register(registry);
    }

    /** Removes every meter of a deleted topic, so a topic made again under its name starts afresh. */
    void topicDeleted(String topic) {
        counters.keySet().removeIf(k -> k.topic().equals(topic));
        List<Meter> meters = registry.getMeters().stream()
                .filter(m -> topic.equals(m.getId().getTag(TOPIC)))
                .toList();
        meters.forEach(registry::remove);
    }

    /** For the HTTP server's connection handler: one connection opened. */
    public void httpConnectionOpened() {
        httpConnections.incrementAndGet();
    }

    /** For the HTTP server's connection handler: one connection closed. */
    public void httpConnectionClosed() {
        httpConnections.decrementAndGet();
    }
}

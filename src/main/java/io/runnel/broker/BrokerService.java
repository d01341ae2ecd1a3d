package io.runnel.broker;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.utils.Utils;

import io.runnel.group.GroupCoordinator;
import io.runnel.log.LogAppendInfo;
import io.runnel.config.LogConfig;
import io.runnel.registry.SchemaRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

/**
 * The protocol-agnostic broker service: what every adapter (HTTP, Kafka, WebSocket, event bus)
 * calls, so a rule added here applies to all of them.
 *
 * <p>Produce: records are grouped by partition into one record batch per partition. A record's
 * partition is the one it names, else Kafka's default partitioner for a key (murmur2 of the key
 * bytes, positive, modulo the partition count, so a key lands where a Kafka client would put it),
 * else round robin. Unknown topics are created on first produce when
 * {@code auto.create.topics.enable} is on.
 *
 * <p>Fetch: waits (long poll, woken by appends) until {@code minBytes} are readable or
 * {@code maxWaitMs} has passed; serves only records below the high watermark.
 *
 * <p>Thread-safe: methods may be called from any thread. Called on a Vert.x context, a method's
 * future completes back on that context (the work itself runs on the partitions' contexts), so an
 * adapter's handlers keep running on its own event loop.
 *
 * <p>Schema validation: on topics that ask for it, every produce (records or client-built
 * batches) passes the {@link RecordValidator} before any partition sees it; a refusal fails the
 * call as a whole with Kafka's {@code InvalidRecordException}, nothing written. It runs on the
 * calling thread — the adapter's connection context — rather than on a worker or the partition's
 * context: decoding a batch is CPU work linear in its bytes (bounded by {@code max.message.bytes}
 * and the adapters' request limits; a 100-record batch of 1 KiB records decodes in well under a
 * millisecond), so a hop to a worker would cost more than it saves and contend with fsync for the
 * log's workers, while the partition's context, which serves every producer and fetcher of that
 * partition, is left to appends alone.
 *
 * <p>Metrics: records and bytes in per topic, bytes out per topic, and produce and fetch latency
 * go to the {@link BrokerMetrics} of its {@link TopicManager}.
 */
public final class BrokerService {

    /** One record to produce. {@code partition} and {@code timestamp} may be null. */
    public record ProduceRecord(byte[] key, byte[] value, Header[] headers, Integer partition, Long timestamp) {
    }

    /** Where a produced record went, or why it did not. Exactly one of {@code offset >= 0} and {@code error}. */
    public record ProduceResult(int partition, long offset, Throwable error) {
    }

    /** What a fetch read. */
    public record FetchResult(Partition.ReadResult read) {
    }

    private final BrokerIdentity identity;
    private final TopicManager topics;
    private final GroupCoordinator groups;
    private final BrokerMetrics metrics;
    private final boolean autoCreateTopics;
    private final int defaultPartitions;
    private final Map<String, AtomicInteger> roundRobin = new ConcurrentHashMap<>();
    private final ProducerIds producerIds;
    private final RecordValidator validator = new RecordValidator(this::schemaRegistryOrNull);
    /** Set once, when the registry has started (it stores its schemas in this broker's topics, so it starts after). */
    private volatile SchemaRegistry schemaRegistry;
    /** Committed offset by group, topic and partition, as of the last {@link #refreshGroupLag}. */
    private final Map<List<Object>, Long> committedForLag = new ConcurrentHashMap<>();

    /** Set once in a cluster: routing by partition leader. Null on a single node, which leads everything. */
    private volatile ReplicaManager cluster;
    private volatile LeaderForwarding forwarding;

    /** Joins this broker service to a cluster: produce goes to each partition's leader. */
    public void useCluster(ReplicaManager replicas, LeaderForwarding forwarding) {
        this.cluster = replicas;
        this.forwarding = forwarding;
    }

    /** The replica manager in a cluster; empty on a single node. */
    public java.util.Optional<ReplicaManager> cluster() {
        return java.util.Optional.ofNullable(cluster);
    }

    /** A broker service for tests and tools: broker 0 of a cluster whose id is made up now. */
    public BrokerService(TopicManager topics, boolean autoCreateTopics, int defaultPartitions) {
        this(new BrokerIdentity(0, org.apache.kafka.common.Uuid.randomUuid().toString()), topics, null,
                autoCreateTopics, defaultPartitions);
    }

    /** @param groups the consumer group coordinator; null for a broker that serves no groups (some tests) */
    public BrokerService(BrokerIdentity identity, TopicManager topics, GroupCoordinator groups, boolean autoCreateTopics,
                         int defaultPartitions) {
        this.identity = identity;
        this.topics = topics;
        this.groups = groups;
        this.producerIds = new ProducerIds(topics.vertx(), topics.dataDir());
        this.metrics = topics.metrics();
        this.autoCreateTopics = autoCreateTopics;
        this.defaultPartitions = defaultPartitions;
    }

    /** The partition count of a topic created without one ({@code num.partitions}). */
    public int defaultPartitions() {
        return defaultPartitions;
    }

    public BrokerIdentity identity() {
        return identity;
    }

    /** The consumer group coordinator: joins, assignments, committed offsets. */
    public GroupCoordinator groups() {
        if (groups == null) {
            throw new org.apache.kafka.common.errors.CoordinatorNotAvailableException(
                    "This broker service was built without a group coordinator");
        }
        return groups;
    }

    public TopicManager topics() {
        return topics;
    }

    /**
     * Gives the broker its schema registry, for validation at the edge and for the adapters that
     * encode and decode Avro. Until then a topic with validation on refuses every record (nothing
     * unvalidated is written). May be called once.
     */
    public void useSchemaRegistry(SchemaRegistry registry) {
        java.util.Objects.requireNonNull(registry, "registry");
        if (schemaRegistry != null && schemaRegistry != registry) {
            throw new IllegalStateException("This broker service already has a schema registry");
        }
        schemaRegistry = registry;
    }

    /** The broker's schema registry, if it has one (see {@link #useSchemaRegistry}). */
    public java.util.Optional<SchemaRegistry> schemaRegistry() {
        return java.util.Optional.ofNullable(schemaRegistry);
    }

    private SchemaRegistry schemaRegistryOrNull() {
        return schemaRegistry;
    }

    /** The topic, created with the broker's defaults if it is missing and auto-creation is on. */
    private Future<TopicManager.Topic> topicForProduce(String topic) {
        try {
            return Future.succeededFuture(topics.topic(topic));
        } catch (UnknownTopicOrPartitionException e) {
            if (!autoCreateTopics) {
                return Future.failedFuture(e);
            }
            return topics.createTopic(topic, defaultPartitions, Map.of())
                    .recover(error -> error instanceof org.apache.kafka.common.errors.TopicExistsException
                            ? Future.succeededFuture(topics.topic(topic)) : Future.failedFuture(error));
        }
    }

    /**
     * Produces {@code records} to {@code topic}; results come back in the records' order. A
     * partition's batch is accepted or refused as a whole (Kafka's rule), so records sharing a
     * partition share its outcome.
     */
    public Future<List<ProduceResult>> produce(String topic, List<ProduceRecord> records, Partition.Acks acks) {
        long startNanos = System.nanoTime();
        return onCaller(produceHere(topic, records, acks, false)
                .onComplete(r -> metrics.produceLatency(System.nanoTime() - startNanos)));
    }

    /**
     * Produces {@code records} to {@code topic} as one request that is refused whole or not at
     * all (the event bus's batch produce): unlike {@link #produce}, a record that would be refused
     * in any partition fails the call before anything is written. Results come back in the
     * records' order.
     *
     * <ul>
     *   <li>Partitions are chosen as by {@link #produce}.</li>
     *   <li>Each partition's records become as many record batches as {@code max.message.bytes}
     *       needs, appended in one log append (all or nothing by the log's rule). So a record is
     *       refused as too large only if it is too large alone, as it would be produced by itself.</li>
     *   <li>Before any partition is appended, every partition's batches pass the log's own checks
     *       ({@link io.runnel.log.Log#checkAppendable}): a refusal the records decide (too large,
     *       no key on a compacted topic) fails the call with the log's exception.</li>
     *   <li>What only the append can find (a storage failure, too few in-sync replicas, a lost
     *       leader) stays per partition, as in {@link #produce}: when the records span several
     *       partitions, some may be written and others not, and the results say which.</li>
     * </ul>
     */
    public Future<List<ProduceResult>> produceAllOrNothing(String topic, List<ProduceRecord> records,
                                                           Partition.Acks acks) {
        long startNanos = System.nanoTime();
        return onCaller(produceHere(topic, records, acks, true)
                .onComplete(r -> metrics.produceLatency(System.nanoTime() - startNanos)));
    }

    private Future<List<ProduceResult>> produceHere(String topic, List<ProduceRecord> records, Partition.Acks acks,
                                                    boolean allOrNothing) {
        if (records.isEmpty()) {
            return Future.failedFuture(new InvalidRequestException("A produce request needs at least one record"));
        }
        return topicForProduce(topic).compose(t -> {
            int count = t.partitions().size();
            int[] partitionOf = new int[records.size()];
            Map<Integer, List<Integer>> byPartition = new TreeMap<>();
            for (int i = 0; i < records.size(); i++) {
                ProduceRecord r = records.get(i);
                int p = partitionFor(topic, r, count);
                if (p < 0 || p >= count) {
                    return Future.failedFuture(new UnknownTopicOrPartitionException("Topic '" + topic
                            + "' has no partition " + p + " (it has " + count + ")"));
                }
                partitionOf[i] = p;
                byPartition.computeIfAbsent(p, x -> new ArrayList<>()).add(i);
            }
            return validator.checkAfterCatchUp(() -> validator.check(topic, t.config(), records))
                    .compose(valid -> appendValidated(t, records, partitionOf, byPartition, acks, allOrNothing));
        });
    }

    /**
     * Appends records that passed validation, each to its partition's leader; one result per
     * record. {@code allOrNothing}: see {@link #produceAllOrNothing}; otherwise one batch per
     * partition, judged by the log on its own.
     */
    private Future<List<ProduceResult>> appendValidated(TopicManager.Topic t, List<ProduceRecord> records,
                                                        int[] partitionOf, Map<Integer, List<Integer>> byPartition,
                                                        Partition.Acks acks, boolean allOrNothing) {
        String topic = t.name();
        long now = System.currentTimeMillis();
        LogConfig config = t.config();
        int batchBytesMax = allOrNothing ? config.maxMessageBytes : Integer.MAX_VALUE;
        Map<Integer, MemoryRecords> batches = new TreeMap<>();
        try {
            byPartition.forEach((p, indexes) -> {
                MemoryRecords batch = batchesOf(records, indexes, now, batchBytesMax);
                if (allOrNothing) {
                    io.runnel.log.Log.checkAppendable(batch, config);
                }
                batches.put(p, batch);
            });
        } catch (RuntimeException refused) {
            return Future.failedFuture(refused);
        }
        Map<Integer, Future<LogAppendInfo>> appended = new TreeMap<>();
        batches.forEach((p, batch) -> {
            int recordCount = byPartition.get(p).size();
            int batchBytes = batch.sizeInBytes();
            appended.put(p, appendToLeader(t, p, batch, acks)
                    .onSuccess(info -> metrics.recordsIn(topic, recordCount, batchBytes)));
        });
        return Future.join(new ArrayList<>(appended.values())).transform(ignored -> {
            List<ProduceResult> results = new ArrayList<>(records.size());
            Map<Integer, Integer> seen = new TreeMap<>();
            for (int i = 0; i < records.size(); i++) {
                int p = partitionOf[i];
                Future<LogAppendInfo> f = appended.get(p);
                int position = seen.merge(p, 1, Integer::sum) - 1;
                results.add(f.succeeded()
                        ? new ProduceResult(p, f.result().firstOffset() + position, null)
                        : new ProduceResult(p, -1, f.cause()));
            }
            return Future.succeededFuture(results);
        });
    }

    /**
     * Appends to the partition's leader: here, or (HTTP, WebSocket and event bus produce reaching
     * a broker that does not lead the partition) forwarded to the broker that does.
     */
    private Future<LogAppendInfo> appendToLeader(TopicManager.Topic t, int p, MemoryRecords batch, Partition.Acks acks) {
        ReplicaManager c = cluster;
        if (c != null) {
            int leader = c.leaderOf(t.name(), p);
            if (leader != c.metadata().localBrokerId()) {
                return forwarding.append(leader, t.name(), p, batch, acks);
            }
        }
        return t.partitions().get(p).append(batch, acks);
    }

    /**
     * Appends record batches a client built (the Kafka protocol's produce): stored as received,
     * offsets assigned in place; a producer's retried batch is answered with its original offsets
     * and not written again.
     */
    public Future<LogAppendInfo> appendBatches(String topic, int partition, MemoryRecords batches, Partition.Acks acks) {
        long startNanos = System.nanoTime();
        Partition p;
        LogConfig config;
        try {
            p = topics.partition(topic, partition);
            config = topics.topic(topic).config();
        } catch (RuntimeException e) {
            return onCaller(Future.failedFuture(e));
        }
        int bytes = batches.sizeInBytes();
        Future<Void> valid = validator.checkAfterCatchUp(() -> validator.check(topic, config, batches));
        if (valid.failed()) {
            return onCaller(Future.failedFuture(valid.cause()));
        }
        return onCaller(valid.compose(v -> p.append(batches, acks)).onComplete(r -> {
            metrics.produceLatency(System.nanoTime() - startNanos);
            if (r.succeeded() && !r.result().duplicate()) {
                metrics.recordsIn(topic, r.result().recordCount(), bytes);
            }
        }));
    }

    /**
     * A producer id never handed out before (InitProducerId): by this broker's data directory, and
     * in a cluster by no other broker either — each broker hands out the ids whose low 10 bits are
     * its {@code broker.id}.
     */
    public Future<Long> newProducerId() {
        ReplicaManager c = cluster;
        if (c == null) {
            return producerIds.next();
        }
        long brokerBits = c.metadata().localBrokerId() & 0x3FF;
        return producerIds.next().map(id -> (id << 10) | brokerBits);
    }

    /** OffsetForLeaderEpoch: the largest epoch at or below {@code epoch} in the partition's log, and where it ends. */
    public Future<io.runnel.log.EpochEndOffset> endOffsetForEpoch(String topic, int partition, int epoch) {
        try {
            return onCaller(topics.partition(topic, partition).endOffsetForEpoch(epoch));
        } catch (RuntimeException e) {
            return onCaller(Future.failedFuture(e));
        }
    }

    private int partitionFor(String topic, ProduceRecord r, int count) {
        if (r.partition() != null) {
            return r.partition();
        }
        if (r.key() != null) {
            return Utils.toPositive(Utils.murmur2(r.key())) % count;
        }
        return Math.floorMod(roundRobin.computeIfAbsent(topic, x -> new AtomicInteger()).getAndIncrement(), count);
    }

    /** More than a record batch's header (61 bytes) takes: {@link #estimatedBytes} is an upper bound. */
    private static final int BATCH_OVERHEAD_BYTES_MAX = 128;

    /**
     * The records at {@code indexes}, in order, as record batches of at most {@code batchBytesMax}
     * bytes each (judged by {@link #estimatedBytes}, an upper bound), one after another in one
     * buffer; a record too large for that alone gets a batch of its own, for the log to judge.
     * Offsets start at 0 in every batch; the log assigns the real ones, consecutively.
     */
    private static MemoryRecords batchesOf(List<ProduceRecord> records, List<Integer> indexes, long now,
                                           int batchBytesMax) {
        List<MemoryRecords> built = new ArrayList<>(1);
        int from = 0;
        while (from < indexes.size()) {
            int to = from;
            long bytes = BATCH_OVERHEAD_BYTES_MAX;
            do {
                bytes += estimatedBytes(records.get(indexes.get(to)));
                to++;
            } while (to < indexes.size() && bytes + estimatedBytes(records.get(indexes.get(to))) <= batchBytesMax);
            built.add(batchOf(records, indexes.subList(from, to), now, (int) Math.min(bytes, Integer.MAX_VALUE)));
            from = to;
        }
        if (built.size() == 1) {
            return built.get(0);
        }
        ByteBuffer all = ByteBuffer.allocate(built.stream().mapToInt(MemoryRecords::sizeInBytes).sum());
        built.forEach(b -> all.put(b.buffer().duplicate()));
        return MemoryRecords.readableRecords(all.flip());
    }

    /** An upper bound of the bytes a record takes in a batch (its varints and attributes at their largest). */
    private static long estimatedBytes(ProduceRecord r) {
        long estimate = 64 + (r.key() == null ? 0 : r.key().length) + (r.value() == null ? 0 : r.value().length);
        if (r.headers() != null) {
            for (Header h : r.headers()) {
                estimate += 16 + h.key().length() * 4L + (h.value() == null ? 0 : h.value().length);
            }
        }
        return estimate;
    }

    private static MemoryRecords batchOf(List<ProduceRecord> records, List<Integer> indexes, long now, int estimate) {
        MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(estimate), Compression.NONE,
                TimestampType.CREATE_TIME, 0L);
        for (int i : indexes) {
            ProduceRecord r = records.get(i);
            long ts = r.timestamp() == null ? now : r.timestamp();
            b.append(ts, r.key(), r.value(), r.headers() == null ? new Header[0] : r.headers());
        }
        return b.build();
    }

    /**
     * A follower's fetch of one partition (a Kafka Fetch with a replica id): records up to the log
     * end, waiting up to {@code maxWaitMs} for some; see {@link Partition#replicaRead}. Answered on
     * the caller's context.
     */
    public Future<Partition.ReadResult> replicaRead(String topic, int partition, int replicaId, int replicaEpoch,
                                                    long offset, int maxBytes, long maxWaitMs) {
        Partition p;
        try {
            p = topics.partition(topic, partition);
        } catch (RuntimeException e) {
            return onCaller(Future.failedFuture(e));
        }
        return onCaller(p.replicaRead(replicaId, replicaEpoch, offset, maxBytes, maxWaitMs));
    }

    /**
     * Reads from {@code offset}: returns as soon as at least {@code minBytes} are readable (at
     * least one batch when {@code minBytes} is 1), or when {@code maxWaitMs} has passed.
     */
    public Future<FetchResult> fetch(String topic, int partition, long offset, int maxBytes, int minBytes,
                                     long maxWaitMs) {
        long startNanos = System.nanoTime();
        return onCaller(fetchHere(topic, partition, offset, maxBytes, minBytes, maxWaitMs)
                .onComplete(r -> {
                    metrics.fetchLatency(System.nanoTime() - startNanos);
                    if (r.succeeded()) {
                        metrics.bytesOut(topic, r.result().read().slice().sizeBytes());
                    }
                }));
    }

    private Future<FetchResult> fetchHere(String topic, int partition, long offset, int maxBytes, int minBytes,
                                          long maxWaitMs) {
        Partition p;
        try {
            p = topics.partition(topic, partition);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        long deadline = System.nanoTime() + maxWaitMs * 1_000_000;
        return fetchUntil(p, offset, maxBytes, Math.max(1, minBytes), deadline).map(FetchResult::new);
    }

    private Future<Partition.ReadResult> fetchUntil(Partition p, long offset, int maxBytes, int minBytes, long deadline) {
        return p.read(offset, maxBytes).compose(r -> {
            long leftMs = (deadline - System.nanoTime()) / 1_000_000;
            if (r.slice().sizeBytes() >= minBytes || leftMs <= 0 || r.slice().sizeBytes() >= maxBytes) {
                return Future.succeededFuture(r);
            }
            // Wait for the high watermark to pass what is readable now, then look again.
            return p.readWhenAvailable(r.highWatermark(), 1, leftMs)
                    .compose(x -> fetchUntil(p, offset, maxBytes, minBytes, deadline));
        });
    }

    /** ListOffsets by time with the record's own timestamp (see {@link Partition#offsetForTimestamp}). */
    public Future<java.util.Optional<io.runnel.log.TimestampOffset>> offsetForTimestamp(String topic, int partition,
                                                                                      long timestamp) {
        try {
            return onCaller(topics.partition(topic, partition).offsetForTimestamp(timestamp));
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
    }

    /** ListOffsets for one partition (see {@link Partition#listOffset}). */
    public Future<Long> listOffset(String topic, int partition, long timestamp) {
        try {
            return onCaller(topics.partition(topic, partition).listOffset(timestamp));
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
    }

    /** DeleteRecords for one partition (see {@link Partition#deleteRecordsBefore}); answers the new log start offset. */
    public Future<Long> deleteRecords(String topic, int partition, long beforeOffset) {
        try {
            return onCaller(topics.partition(topic, partition).deleteRecordsBefore(beforeOffset));
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
    }

    /** ListOffsets MAX_TIMESTAMP for one partition (see {@link Partition#offsetOfMaxTimestamp}). */
    public Future<java.util.Optional<io.runnel.log.TimestampOffset>> offsetOfMaxTimestamp(String topic, int partition) {
        try {
            return onCaller(topics.partition(topic, partition).offsetOfMaxTimestamp());
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
    }

    /** DescribeProducers for one partition (see {@link Partition#activeProducers}). */
    public Future<List<io.runnel.log.Log.ProducerSnapshot>> activeProducers(String topic, int partition) {
        try {
            return onCaller(topics.partition(topic, partition).activeProducers());
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
    }

    /**
     * Brings the group lag gauges up to date with every group's committed offsets (call before a
     * scrape). The gauges read the partition's published high watermark at scrape time, so the
     * lag shown is as fresh as the scrape.
     */
    public Future<Void> refreshGroupLag() {
        if (groups == null) {
            return Future.succeededFuture();
        }
        return groups.listGroups().compose(overviews -> {
            List<Future<?>> fetched = new ArrayList<>();
            for (GroupCoordinator.GroupOverview o : overviews) {
                fetched.add(groups.fetchOffsets(o.groupId(), null).onSuccess(commits -> commits.forEach((tp, om) -> {
                    List<Object> key = List.of(o.groupId(), tp.topic(), tp.partition());
                    if (committedForLag.put(key, om.offset()) == null) {
                        metrics.groupLag(o.groupId(), tp.topic(), tp.partition(), () -> lagOf(key));
                    }
                })));
            }
            return Future.join(fetched).mapEmpty();
        });
    }

    private long lagOf(List<Object> key) {
        Long committed = committedForLag.get(key);
        try {
            long hw = topics.partition((String) key.get(1), (Integer) key.get(2)).highWatermarkPublished();
            return committed == null ? 0 : Math.max(0, hw - committed);
        } catch (RuntimeException e) {
            return 0; // the topic is gone; its meters go with it
        }
    }

    /** The same outcome, completed on the calling context (if there is one). */
    private static <T> Future<T> onCaller(Future<T> result) {
        Context caller = Vertx.currentContext();
        if (caller == null) {
            return result;
        }
        Promise<T> promise = Promise.promise();
        result.onComplete(outcome -> {
            if (Vertx.currentContext() == caller) {
                promise.handle(outcome);
            } else {
                caller.runOnContext(v -> promise.handle(outcome));
            }
        });
        return promise.future();
    }
}

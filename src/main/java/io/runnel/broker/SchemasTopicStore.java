package io.runnel.broker;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.utils.Utils;

import io.runnel.config.LogConfig;
import io.runnel.log.LogAppendInfo;
import io.runnel.registry.RegistryRecord;
import io.runnel.registry.SchemaStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * The registry's {@link SchemaStore} on this broker: partition 0 of the compacted topic
 * {@value #TOPIC}, Confluent's name for it (record format in {@link RegistryRecord}).
 *
 * <p>Invariants: the topic exists with {@code cleanup.policy=compact} once {@link #start}
 * completes, and only partition 0 is used (one partition keeps every change in one order; if
 * someone grew the topic, the others are ignored). Appends are acknowledged with
 * {@link Partition.Acks#ALL}: durable (in a cluster, replicated to the ISR) before the registry
 * answers, and answered with the offset of their first record. In a cluster only the broker that
 * leads {@value #TOPIC}-0 can append (elsewhere: NotLeaderOrFollowerException); the registry's
 * API forwards writes to it. Reads go from the log start
 * offset to the high watermark, so they see exactly what was acknowledged (in a cluster, what was
 * replicated: every broker's registry follows its local replica with {@link #readFrom}); the
 * batches are decoded on a worker thread (file I/O).
 *
 * <p>Thread-safe: immutable after start; the partition does its own confinement.
 */
public final class SchemasTopicStore implements SchemaStore {

    /** Confluent's default {@code kafkastore.topic}; tools that look for it find it. */
    public static final String TOPIC = "_schemas";
    /** How much one replay read copies into the heap at a time. */
    static final int REPLAY_READ_BYTES_MAX = 1 << 20;

    private final Vertx vertx;
    private final TopicManager topics;

    private SchemasTopicStore(Vertx vertx, TopicManager topics) {
        this.vertx = vertx;
        this.topics = topics;
    }

    /** Opens the store, creating {@value #TOPIC} (one partition, compacted) if it is missing. */
    public static Future<SchemasTopicStore> start(Vertx vertx, TopicManager topics) {
        return existingOrCreated(topics).map(t -> new SchemasTopicStore(vertx, topics));
    }

    private static Future<TopicManager.Topic> existingOrCreated(TopicManager topics) {
        try {
            return Future.succeededFuture(topics.topic(TOPIC));
        } catch (UnknownTopicOrPartitionException missing) {
            return topics.createTopic(TOPIC, 1, Map.of(LogConfig.CLEANUP_POLICY, "compact"))
                    .recover(e -> e instanceof TopicExistsException
                            ? topics.awaitTopic(TOPIC) : Future.failedFuture(e));
        }
    }

    @Override
    public Future<Long> append(List<RegistryRecord> records) {
        if (records.isEmpty()) {
            return Future.failedFuture(new IllegalArgumentException("An append to " + TOPIC + " needs records"));
        }
        try {
            return topics.partition(TOPIC, 0).append(batchOf(records), Partition.Acks.ALL)
                    .map(LogAppendInfo::firstOffset);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
    }

    private static MemoryRecords batchOf(List<RegistryRecord> records) {
        List<byte[][]> encoded = new ArrayList<>(records.size());
        int estimate = 128;
        for (RegistryRecord r : records) {
            byte[] key = r.key();
            byte[] value = r.value();
            // Pair assertion: what is written must read back as the same record.
            if (!RegistryRecord.read(key, value).equals(r)) {
                throw new IllegalStateException("A registry record does not survive its own encoding: " + r);
            }
            encoded.add(new byte[][] {key, value});
            estimate += 64 + key.length + (value == null ? 0 : value.length);
        }
        MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(estimate), Compression.NONE,
                TimestampType.CREATE_TIME, 0L);
        long now = System.currentTimeMillis();
        for (byte[][] kv : encoded) {
            b.append(now, kv[0], kv[1]);
        }
        return b.build();
    }

    /**
     * One read of at most {@value #REPLAY_READ_BYTES_MAX} bytes from {@code offset}, below the
     * high watermark (committed records only: in a cluster a replica's high watermark is what the
     * leader said was replicated). An offset below the log start (nothing has been read yet, or
     * the start moved) reads from the start.
     */
    @Override
    public Future<Tail> readFrom(long offset) {
        Partition p;
        try {
            p = topics.partition(TOPIC, 0);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return p.listOffset(Partition.EARLIEST_TIMESTAMP).compose(start -> readChunk(p, Math.max(offset, start)));
    }

    private Future<Tail> readChunk(Partition p, long offset) {
        return p.read(offset, REPLAY_READ_BYTES_MAX).compose(read -> {
            if (read.slice().isEmpty() || offset >= read.highWatermark()) {
                return Future.succeededFuture(new Tail(List.of(), offset));
            }
            return vertx.executeBlocking(() -> {
                List<RegistryRecord> out = new ArrayList<>();
                long next = offset;
                for (RecordBatch batch : read.slice().readRecords().batches()) {
                    if (batch.baseOffset() >= read.highWatermark()) {
                        break;
                    }
                    for (Record r : batch) {
                        if (r.offset() >= offset && r.offset() < read.highWatermark()) {
                            out.add(RegistryRecord.read(bytes(r.key()), bytes(r.value())));
                        }
                    }
                    next = Math.min(batch.nextOffset(), read.highWatermark());
                }
                if (next <= offset) {
                    throw new IllegalStateException("Reading " + p.name() + " made no progress at offset " + offset);
                }
                return new Tail(out, next);
            }, false);
        });
    }

    private static byte[] bytes(ByteBuffer buffer) {
        return buffer == null ? null : Utils.toArray(buffer);
    }
}

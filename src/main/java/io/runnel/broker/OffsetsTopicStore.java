package io.runnel.broker;

import java.util.Map;
import java.util.function.Consumer;

import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;

import io.runnel.config.LogConfig;
import io.runnel.group.GroupStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * The group coordinator's {@link GroupStore} on this broker: the compacted topic
 * {@value #TOPIC}, as in Kafka (record format in {@link GroupStore}'s Javadoc).
 *
 * <p>Invariants: the topic exists with {@code cleanup.policy=compact} once {@link #start}
 * completes; {@link #partitions()} is its partition count, which never changes afterwards (a
 * group's partition depends on it). If the topic already exists its count wins over the one asked
 * for, so groups stay where their records are.
 *
 * <p>Appends are acknowledged with {@link Partition.Acks#ALL}: durable before the coordinator
 * answers a commit. Replay reads from the log start offset up to the high watermark, so it sees
 * exactly what was acknowledged; the batches are copied into the heap on a worker thread
 * (file I/O), where {@code each} is called too, one record at a time.
 *
 * <p>Thread-safe: immutable after start; the partitions do their own confinement.
 */
public final class OffsetsTopicStore implements GroupStore {

    /** Kafka's name for the topic; tools that look for it find it. */
    public static final String TOPIC = "__consumer_offsets";
    /** Kafka's {@code offsets.topic.num.partitions} default. */
    public static final int DEFAULT_PARTITIONS = 50;
    /** How much one replay read copies into the heap at a time. */
    static final int REPLAY_READ_BYTES_MAX = 1 << 20;

    private final Vertx vertx;
    private final TopicManager topics;
    private final int partitions;

    private OffsetsTopicStore(Vertx vertx, TopicManager topics, int partitions) {
        this.vertx = vertx;
        this.topics = topics;
        this.partitions = partitions;
    }

    /** Opens the store, creating {@value #TOPIC} with {@code partitions} partitions if it is missing. */
    public static Future<OffsetsTopicStore> start(Vertx vertx, TopicManager topics, int partitions) {
        return existingOrCreated(topics, partitions).map(t -> new OffsetsTopicStore(vertx, topics, t.partitions().size()));
    }

    private static Future<TopicManager.Topic> existingOrCreated(TopicManager topics, int partitions) {
        try {
            return Future.succeededFuture(topics.topic(TOPIC));
        } catch (UnknownTopicOrPartitionException missing) {
            return topics.createTopic(TOPIC, partitions, Map.of(LogConfig.CLEANUP_POLICY, "compact"))
                    .recover(e -> e instanceof TopicExistsException
                            ? topics.awaitTopic(TOPIC) : Future.failedFuture(e));
        }
    }

    @Override
    public int partitions() {
        return partitions;
    }

    @Override
    public Future<Void> append(int partition, MemoryRecords records) {
        try {
            return topics.partition(TOPIC, partition).append(records, Partition.Acks.ALL).mapEmpty();
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
    }

    @Override
    public Future<Void> replay(int partition, Consumer<Record> each) {
        Partition p;
        try {
            p = topics.partition(TOPIC, partition);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return p.listOffset(Partition.EARLIEST_TIMESTAMP).compose(start -> replayFrom(p, start, each));
    }

    /** Reads from {@code offset} to the high watermark, one read at a time. */
    private Future<Void> replayFrom(Partition p, long offset, Consumer<Record> each) {
        return p.read(offset, REPLAY_READ_BYTES_MAX).compose(read -> {
            if (read.slice().isEmpty() || offset >= read.highWatermark()) {
                return Future.succeededFuture();
            }
            return vertx.executeBlocking(() -> {
                long next = offset;
                for (RecordBatch batch : read.slice().readRecords().batches()) {
                    for (Record r : batch) {
                        if (r.offset() >= offset && r.offset() < read.highWatermark()) {
                            each.accept(r);
                        }
                    }
                    next = batch.nextOffset();
                }
                return next;
            }, false).compose(next -> {
                if (next <= offset) {
                    return Future.failedFuture(new IllegalStateException("Replaying " + p.name() + " made no progress at"
                            + " offset " + offset));
                }
                return replayFrom(p, next, each);
            });
        });
    }
}

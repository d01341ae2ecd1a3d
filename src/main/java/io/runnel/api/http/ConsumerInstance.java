package io.runnel.api.http;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.group.GroupMember;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;

/**
 * One Confluent v2 consumer instance: a named member of a consumer group that an HTTP client
 * drives by polling {@code GET …/records}. It reads what its group assigns it (a subscription) or
 * exactly the partitions it was given (a manual assignment, no group membership), from a position
 * per partition, and commits offsets to its group.
 *
 * <p>Invariants:
 * <ul>
 *   <li>All state is confined to the context the instance was created on ({@link #home}); every
 *       operation enters through {@link #run}, so two requests for one instance never interleave
 *       their steps on different threads.</li>
 *   <li>A position is the offset of the next record to hand out: it moves only past records that
 *       a {@code GET …/records} answer contained, or where a seek put it.</li>
 *   <li>Subscription and manual assignment exclude each other (as in Kafka's consumer); with a
 *       subscription, the readable partitions are the group's latest assignment to this member.</li>
 *   <li>A partition seen for the first time starts at the group's committed offset, else at
 *       {@code auto.offset.reset}.</li>
 *   <li>With {@code auto.commit.enable}, positions are committed at the start of the next read and
 *       when the instance is deleted (Kafka's auto-commit: what was handed out is committed on the
 *       next poll and on close), so records are delivered at least once.</li>
 * </ul>
 */
final class ConsumerInstance {

    private static final Logger LOG = LoggerFactory.getLogger(ConsumerInstance.class);

    /**
     * How records are shown: the embedded format fixed when the instance is made. AVRO shows
     * keys and values stored in the schema wire format as JSON, decoded with the registry.
     */
    enum Format { BINARY, JSON, AVRO }

    /** Where a partition without a committed offset starts. */
    enum OffsetReset { EARLIEST, LATEST, NONE }

    /** One record handed out. */
    record ConsumedRecord(String topic, int partition, long offset, byte[] key, byte[] value) {
    }

    /** A partition's answer within one poll. */
    private record PartitionRead(TopicPartition partition, long position, BrokerService.FetchResult fetched,
                                 Throwable error) {
    }

    /** Per-partition cap of one read, as Kafka's max.partition.fetch.bytes. */
    static final int MAX_PARTITION_FETCH_BYTES = 1024 * 1024;

    final String group;
    final String name;
    final Format format;
    final OffsetReset offsetReset;
    final boolean autoCommit;
    final Context home;

    private final BrokerService broker;
    private final Supplier<GroupMember> memberFactory;
    private final Map<TopicPartition, Long> positions = new LinkedHashMap<>();
    private final Map<TopicPartition, Long> committedByUs = new HashMap<>();
    private Set<String> subscribedTopics;
    private Pattern subscribedPattern;
    private Set<TopicPartition> manualAssignment;
    private GroupMember member;
    private long lastUsedMs;
    private boolean closed;

    ConsumerInstance(String group, String name, Format format, OffsetReset offsetReset, boolean autoCommit,
                     Context home, BrokerService broker, Supplier<GroupMember> memberFactory) {
        this.group = group;
        this.name = name;
        this.format = format;
        this.offsetReset = offsetReset;
        this.autoCommit = autoCommit;
        this.home = home;
        this.broker = broker;
        this.memberFactory = memberFactory;
        this.lastUsedMs = System.currentTimeMillis();
    }

    /** Runs {@code step} on the instance's context; marks the instance used. */
    <T> Future<T> run(Supplier<Future<T>> step) {
        Promise<T> promise = Promise.promise();
        home.runOnContext(v -> {
            if (closed) {
                promise.fail(new HttpApiException(ErrorCodes.CONSUMER_INSTANCE_NOT_FOUND,
                        "Consumer instance '" + name + "' of group '" + group + "' was deleted"));
                return;
            }
            lastUsedMs = System.currentTimeMillis();
            try {
                step.get().onComplete(promise);
            } catch (RuntimeException e) {
                promise.fail(e);
            }
        });
        return promise.future();
    }

    /** Milliseconds since the last request; read from the expiry timer (a stale read only delays expiry). */
    long idleMs(long nowMs) {
        return nowMs - lastUsedMs;
    }

    // ---------------------------------------------------------------- subscription and assignment

    Future<Void> subscribe(Set<String> topics, Pattern pattern) {
        if (manualAssignment != null) {
            return Future.failedFuture(conflict("Subscription to topics, partitions and pattern are mutually exclusive:"
                    + " this instance has partitions assigned; DELETE its subscription first"));
        }
        if (member != null) {
            member.close();
        }
        subscribedTopics = topics;
        subscribedPattern = pattern;
        positions.clear();
        member = memberFactory.get();
        // Kafka's subscribe() does not wait for the group either: the first reads find the assignment.
        member.subscribe(subscriptionTopics()).onFailure(e -> {
            if (!closed) {
                LOG.warn("Consumer instance {} of group {} could not join its group", name, group, e);
            }
        });
        return Future.succeededFuture();
    }

    /** The topics a subscription covers now (a pattern matches the topics that exist). */
    private Set<String> subscriptionTopics() {
        if (subscribedTopics != null) {
            return subscribedTopics;
        }
        Set<String> matching = new TreeSet<>();
        for (String t : broker.topics().topicNames()) {
            if (subscribedPattern.matcher(t).matches()) {
                matching.add(t);
            }
        }
        return matching;
    }

    List<String> subscription() {
        return subscribedTopics != null ? List.copyOf(new TreeSet<>(subscribedTopics))
                : subscribedPattern != null ? List.copyOf(subscriptionTopics()) : List.of();
    }

    Future<Void> unsubscribe() {
        subscribedTopics = null;
        subscribedPattern = null;
        manualAssignment = null;
        positions.clear();
        if (member == null) {
            return Future.succeededFuture();
        }
        GroupMember leaving = member;
        member = null;
        return leaving.close();
    }

    Future<Void> assign(Set<TopicPartition> partitions) {
        if (subscribedTopics != null || subscribedPattern != null) {
            return Future.failedFuture(conflict("Subscription to topics, partitions and pattern are mutually exclusive:"
                    + " this instance is subscribed; DELETE its subscription first"));
        }
        for (TopicPartition tp : partitions) {
            Replies.partition(Replies.topic(broker, tp.topic()), Integer.toString(tp.partition()));
        }
        manualAssignment = Set.copyOf(partitions);
        positions.keySet().retainAll(manualAssignment);
        return Future.succeededFuture();
    }

    /** The partitions this instance reads now. */
    Set<TopicPartition> assignment() {
        if (manualAssignment != null) {
            return manualAssignment;
        }
        return member == null ? Set.of() : member.assignment();
    }

    // ---------------------------------------------------------------- positions

    /** Seeks: the next read of each partition starts at the given offset. */
    Future<Void> seek(Map<TopicPartition, Long> offsets) {
        Set<TopicPartition> assigned = assignment();
        for (TopicPartition tp : offsets.keySet()) {
            if (!assigned.contains(tp)) {
                return Future.failedFuture(conflict("No current assignment for partition " + tp
                        + "; subscribe and read once (or assign it) before seeking"));
            }
        }
        positions.putAll(offsets);
        return Future.succeededFuture();
    }

    /** Seeks to the beginning ({@link Partition#EARLIEST_TIMESTAMP}) or end ({@link Partition#LATEST_TIMESTAMP}). */
    Future<Void> seekTo(Collection<TopicPartition> partitions, long which) {
        Set<TopicPartition> assigned = assignment();
        List<Future<Long>> offsets = new ArrayList<>();
        for (TopicPartition tp : partitions) {
            if (!assigned.contains(tp)) {
                return Future.failedFuture(conflict("No current assignment for partition " + tp
                        + "; subscribe and read once (or assign it) before seeking"));
            }
            offsets.add(broker.listOffset(tp.topic(), tp.partition(), which));
        }
        return Future.all(offsets).map(done -> {
            int i = 0;
            for (TopicPartition tp : partitions) {
                positions.put(tp, offsets.get(i++).result());
            }
            return null;
        });
    }

    // ---------------------------------------------------------------- offsets

    /** Commits {@code offsets}, or every position when it is null. */
    Future<Void> commit(Map<TopicPartition, Long> offsets) {
        Map<TopicPartition, Long> toCommit = offsets != null ? offsets : new HashMap<>(positions);
        if (toCommit.isEmpty()) {
            return Future.succeededFuture();
        }
        Map<TopicPartition, OffsetAndMetadata> commits = new HashMap<>();
        toCommit.forEach((tp, o) -> commits.put(tp, new OffsetAndMetadata(o, "")));
        Future<Void> done = member != null ? member.commit(commits)
                : broker.groups().commitOffsets(group, -1, "", commits);
        return done.onSuccess(v -> committedByUs.putAll(toCommit));
    }

    Future<Map<TopicPartition, OffsetAndMetadata>> committed(Collection<TopicPartition> partitions) {
        return broker.groups().fetchOffsets(group, partitions);
    }

    // ---------------------------------------------------------------- reading

    /**
     * Up to {@code maxBytes} of keys and values (at least one record when any is readable), from
     * every assigned partition's position; waits up to {@code timeoutMs} for the first record
     * (and, with a subscription, for the group's first assignment).
     */
    Future<List<ConsumedRecord>> poll(long timeoutMs, long maxBytes) {
        long deadline = System.currentTimeMillis() + timeoutMs;
        if (manualAssignment == null && member == null) {
            return Future.failedFuture(conflict("Consumer is not subscribed to any topics or assigned any partitions"));
        }
        Future<Void> committed = autoCommit ? commitChangedPositions() : Future.succeededFuture();
        return committed.compose(v -> awaitAssignment(deadline))
                .compose(v -> initPositions())
                .compose(v -> readOnce(maxBytes, 0))
                .compose(records -> {
                    long left = deadline - System.currentTimeMillis();
                    if (!records.isEmpty() || left <= 0 || assignment().isEmpty()) {
                        return Future.succeededFuture(records);
                    }
                    return waitForData(left).compose(x -> readOnce(maxBytes, 0));
                });
    }

    private Future<Void> commitChangedPositions() {
        Map<TopicPartition, Long> changed = new HashMap<>();
        positions.forEach((tp, o) -> {
            if (!o.equals(committedByUs.get(tp))) {
                changed.put(tp, o);
            }
        });
        if (changed.isEmpty()) {
            return Future.succeededFuture();
        }
        // A failed auto-commit (say, during a rebalance) is retried on the next read, as Kafka's is.
        return commit(changed).recover(e -> {
            LOG.debug("Auto-commit of consumer {} in group {} failed: {}", name, group, e.toString());
            return Future.succeededFuture();
        });
    }

    /** Completes when the group has assigned this member something, or at the deadline. */
    private Future<Void> awaitAssignment(long deadline) {
        if (member == null || !member.assignment().isEmpty()) {
            return Future.succeededFuture();
        }
        Promise<Void> assigned = Promise.promise();
        GroupMember waitingOn = member;
        long left = Math.max(1, deadline - System.currentTimeMillis());
        long timer = home.owner().setTimer(left, t -> assigned.tryComplete());
        waitingOn.assignmentListener(partitions -> home.runOnContext(v -> {
            if (!partitions.isEmpty()) {
                home.owner().cancelTimer(timer);
                assigned.tryComplete();
            }
        }));
        return assigned.future();
    }

    /** Gives every newly assigned partition a position: the committed offset, else auto.offset.reset. */
    private Future<Void> initPositions() {
        Set<TopicPartition> assigned = assignment();
        positions.keySet().retainAll(assigned);
        List<TopicPartition> fresh = assigned.stream().filter(tp -> !positions.containsKey(tp)).toList();
        if (fresh.isEmpty()) {
            return Future.succeededFuture();
        }
        return committed(fresh).compose(commits -> {
            List<Future<?>> resets = new ArrayList<>();
            for (TopicPartition tp : fresh) {
                OffsetAndMetadata c = commits.get(tp);
                if (c != null) {
                    positions.put(tp, c.offset());
                    committedByUs.put(tp, c.offset());
                } else {
                    resets.add(reset(tp));
                }
            }
            return Future.all(resets).mapEmpty();
        });
    }

    private Future<Void> reset(TopicPartition tp) {
        if (offsetReset == OffsetReset.NONE) {
            return Future.failedFuture(new org.apache.kafka.clients.consumer.NoOffsetForPartitionException(tp));
        }
        long which = offsetReset == OffsetReset.EARLIEST ? Partition.EARLIEST_TIMESTAMP : Partition.LATEST_TIMESTAMP;
        return broker.listOffset(tp.topic(), tp.partition(), which).map(o -> {
            positions.put(tp, o);
            return null;
        });
    }

    /** Reads every assigned partition once, without waiting. */
    private Future<List<ConsumedRecord>> readOnce(long maxBytes, long waitMs) {
        List<Future<PartitionRead>> reads = new ArrayList<>();
        int perPartition = (int) Math.min(MAX_PARTITION_FETCH_BYTES, Math.max(1, maxBytes));
        for (Map.Entry<TopicPartition, Long> e : positions.entrySet()) {
            TopicPartition tp = e.getKey();
            long position = e.getValue();
            reads.add(broker.fetch(tp.topic(), tp.partition(), position, perPartition, 1, waitMs)
                    .map(r -> new PartitionRead(tp, position, r, null))
                    .otherwise(error -> new PartitionRead(tp, position, null, error)));
        }
        return Future.all(reads).compose(all -> {
            List<ConsumedRecord> out = new ArrayList<>();
            long budget = maxBytes;
            List<Future<Void>> resets = new ArrayList<>();
            for (Future<PartitionRead> f : reads) {
                PartitionRead read = f.result();
                if (read.error() instanceof OffsetOutOfRangeException) {
                    resets.add(reset(read.partition()));
                    continue;
                }
                if (read.error() instanceof UnknownTopicOrPartitionException) {
                    continue; // deleted under us; the group's next assignment drops it
                }
                if (read.error() != null) {
                    return Future.failedFuture(read.error());
                }
                // A seek or a rebalance may have moved the position while this read was out.
                if (!Long.valueOf(read.position()).equals(positions.get(read.partition()))) {
                    continue;
                }
                budget = decode(read, out, budget);
            }
            return Future.all(resets).map(x -> out);
        });
    }

    /** Appends the records of {@code read} at or after its position to {@code out} while the budget lasts. */
    private long decode(PartitionRead read, List<ConsumedRecord> out, long budget) {
        if (read.fetched().read().slice().isEmpty()) {
            return budget;
        }
        MemoryRecords records;
        try {
            records = read.fetched().read().slice().readRecords();
        } catch (IOException e) {
            throw new org.apache.kafka.common.errors.KafkaStorageException(
                    "Reading " + read.partition() + " failed: " + e.getMessage(), e);
        }
        TopicPartition tp = read.partition();
        long next = read.position();
        int handedOut = 0;
        outer:
        for (RecordBatch batch : records.batches()) {
            if (batch.isControlBatch()) {
                next = Math.max(next, batch.nextOffset());
                continue;
            }
            for (Record r : batch) {
                if (r.offset() < next) {
                    continue;
                }
                int size = r.keySize() + r.valueSize();
                if (budget < size && !out.isEmpty()) {
                    budget = -1;
                    break outer;
                }
                out.add(new ConsumedRecord(tp.topic(), tp.partition(), r.offset(), bytes(r.key()), bytes(r.value())));
                budget -= Math.max(0, size);
                next = r.offset() + 1;
                handedOut++;
            }
        }
        positions.put(tp, next);
        if (handedOut > 0) {
            broker.topics().metrics().recordsOut(tp.topic(), handedOut);
        }
        return budget;
    }

    private static byte[] bytes(java.nio.ByteBuffer buffer) {
        if (buffer == null) {
            return null;
        }
        byte[] out = new byte[buffer.remaining()];
        buffer.get(out);
        return out;
    }

    /** Long poll: completes when any assigned partition has a record past its position, or after {@code waitMs}. */
    private Future<Void> waitForData(long waitMs) {
        List<Future<BrokerService.FetchResult>> waits = new ArrayList<>();
        positions.forEach((tp, position) -> waits.add(broker.fetch(tp.topic(), tp.partition(), position, 1, 1, waitMs)));
        if (waits.isEmpty()) {
            return Future.succeededFuture();
        }
        // Any answer (data, timeout or error) ends the wait; the read that follows sees what is there.
        Promise<Void> woken = Promise.promise();
        waits.forEach(w -> w.onComplete(r -> woken.tryComplete()));
        return woken.future();
    }

    // ---------------------------------------------------------------- lifecycle

    /** Commits (with auto-commit) and leaves the group. Idempotent. */
    Future<Void> close() {
        if (closed) {
            return Future.succeededFuture();
        }
        Future<Void> committed = autoCommit ? commitChangedPositions() : Future.succeededFuture();
        return committed.eventually(() -> {
            closed = true;
            return member == null ? Future.succeededFuture() : member.close();
        });
    }

    private static HttpApiException conflict(String message) {
        return new HttpApiException(ErrorCodes.CONSUMER_STATE_CONFLICT, message);
    }
}

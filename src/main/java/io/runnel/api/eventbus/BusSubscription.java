package io.runnel.api.eventbus;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.IntStream;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.group.GroupMember;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * One {@code runnel.subscribe}: sends the records of the partitions it reads to its address as
 * they are appended, the event bus twin of the WebSocket API's subscriber session.
 *
 * <h2>Model</h2>
 * A <em>cursor</em> per partition read holds {@code fetchOffset}, the next offset to fetch; each
 * has at most one {@link BrokerService#fetch} out, a long poll the partition completes when an
 * append moves its high watermark (no timer polls the log). Fetched records wait in the
 * <em>outbox</em> until credit lets {@link #pump} send them, in order, with {@code EventBus.send}.
 *
 * <p>Which partitions: with {@code group} and no {@code partitions}, the group's share through a
 * {@link GroupMember} (eager rebalancing, as in the WebSocket API: revoked partitions' cursors go;
 * a partition assigned back resumes where it was, a new one at the group's committed offset).
 * Otherwise the listed partitions, or all of the topic's at the start. A partition without a
 * committed offset starts at {@code from}: earliest, latest (the default), an offset, or the first
 * record at or after a timestamp (latest when none is that recent). An offset before the log start
 * continues at the log start, one past the end at the end, each with an {@code error} message.
 *
 * <h2>Flow control and memory</h2>
 * Credit is unlimited until the subscriber grants some ({@code credit} in the request, or a
 * {@code runnel.credit}); from then on each record sent spends one and at zero nothing is sent
 * and no fetch starts, so the broker stops reading the log for this subscription. Whatever the
 * credit, no fetch starts while the outbox holds {@link #OUTBOX_MAX_RECORDS} or more, and a fetch
 * asks for at most {@code fetchMaxBytes} divided among the cursors: a subscription holds at most
 * that plus one batch per partition. Unlimited credit bounds nothing on the way to the subscriber
 * (the event bus has no back-pressure of its own), which is why the typed client always grants.
 *
 * <h2>Liveness</h2>
 * A subscriber silent (no credit, ack or probe reply) for {@code probeIntervalMs} is probed: a
 * {@code probe} request to its address. No consumer there (NO_HANDLERS: the application or its
 * bridge socket is gone) ends the subscription; a timeout means a consumer exists and did not
 * reply, which is allowed.
 *
 * <h2>Invariants</h2>
 * Per partition, records are sent in offset order, each at most once per cursor; a cursor dropped
 * by a rebalance has its unsent records dropped and its outstanding fetch ignored. After
 * {@link #close} nothing more is sent to the address and the group has been left.
 *
 * <h2>Threading</h2>
 * Confined to the context it was created on (the API's verticle): requests, broker futures (they
 * complete on the caller's context), the group member's listener (hopped onto it) and timers.
 */
final class BusSubscription {

    private static final Logger LOG = LoggerFactory.getLogger(BusSubscription.class);
    /** Kafka's session.timeout.ms default; the member heartbeats while the subscription lives. */
    static final int SESSION_TIMEOUT_MS = 45_000;
    /** How long the group waits for members to rejoin; they rejoin on their next heartbeat (≤ 1 s). */
    static final int REBALANCE_TIMEOUT_MS = 60_000;
    /** At most this many fetched records wait for credit: about one default fetch's worth. */
    static final int OUTBOX_MAX_RECORDS = 1_000;
    /** After a failed fetch (a storage error), how long a cursor waits before trying again. */
    static final long FETCH_RETRY_MS = 1_000;
    /** An empty answer well before its wait ended means the partition is closing; wait this long, not spin. */
    static final long EARLY_EMPTY_RETRY_MS = 100;

    private static final class Cursor {
        final int partition;
        long fetchOffset;
        boolean fetching;

        Cursor(int partition, long start) {
            this.partition = partition;
            this.fetchOffset = start;
        }
    }

    private record Outgoing(Cursor cursor, JsonObject message) {
    }

    private final Vertx vertx;
    private final Context context;
    private final BrokerService broker;
    private final BusRequests.Subscribe request;
    private final EventBusApi.Settings settings;
    private final String id;
    private final Runnable onClosed;

    private final Map<Integer, Cursor> cursors = new TreeMap<>();
    private final ArrayDeque<Outgoing> outbox = new ArrayDeque<>();
    private boolean creditCounted;
    private long credit;
    private GroupMember member;
    /** Bumped by every assignment; an assignment's late answers (start offsets) check it. */
    private int assignmentVersion;
    private final Map<Integer, Long> heldBeforeRebalance = new HashMap<>();
    private long probeTimerId = -1;
    private long lastHeardNanos;
    private boolean probing;
    private boolean closed;
    private Future<Void> closing;
    private long recordsSent;

    BusSubscription(Vertx vertx, BrokerService broker, BusRequests.Subscribe request, EventBusApi.Settings settings,
                    String id, Runnable onClosed) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.broker = broker;
        this.request = request;
        this.settings = settings;
        this.id = id;
        this.onClosed = onClosed;
        if (request.initialCredit() != null) {
            creditCounted = true;
            credit = request.initialCredit();
        }
        this.lastHeardNanos = System.nanoTime();
    }

    String id() {
        return id;
    }

    String address() {
        return request.address();
    }

    long recordsSent() {
        return recordsSent;
    }

    // ---------------------------------------------------------------- start

    /**
     * Starts reading; completes with the partitions read first (with a group, its first share),
     * or fails as the subscribe request's refusal (the subscription is then closed).
     */
    Future<Set<Integer>> start() {
        int count = partitionCount(request.topic());
        if (count == 0) {
            return refused(new BusException(BusErrorCodes.TOPIC_NOT_FOUND, "Topic '" + request.topic() + "' not found"));
        }
        if (request.partitions() != null) {
            for (int p : request.partitions()) {
                if (p >= count) {
                    return refused(new BusException(BusErrorCodes.PARTITION_NOT_FOUND, "Topic '" + request.topic()
                            + "' has no partition " + p + " (it has " + count + ")"));
                }
            }
        }
        probeTimerId = vertx.setPeriodic(settings.probeIntervalMs(), t -> probeIfSilent());
        if (request.group() != null && request.partitions() == null) {
            return joinGroup();
        }
        List<Integer> partitions = request.partitions() != null ? request.partitions()
                : IntStream.range(0, count).boxed().toList();
        return place(partitions, ++assignmentVersion).transform(placed -> placed.succeeded()
                ? Future.succeededFuture(new TreeSet<>(partitions))
                : refused(failure(placed.cause())));
    }

    private Future<Set<Integer>> refused(BusException error) {
        close();
        return Future.failedFuture(error);
    }

    private Future<Set<Integer>> joinGroup() {
        try {
            member = new GroupMember(vertx, broker.groups(), request.group(), "runnel-eventbus-" + request.address(),
                    "range", this::partitionCount, SESSION_TIMEOUT_MS, REBALANCE_TIMEOUT_MS);
        } catch (RuntimeException e) {
            return refused(failure(e));
        }
        member.assignmentListener(assigned -> onContext(() -> onAssignment(assigned)));
        return member.subscribe(Set.of(request.topic())).transform(joined -> {
            if (joined.failed()) {
                return refused(failure(joined.cause()));
            }
            Set<Integer> mine = new TreeSet<>();
            joined.result().stream().filter(tp -> tp.topic().equals(request.topic()))
                    .forEach(tp -> mine.add(tp.partition()));
            return Future.succeededFuture(mine);
        });
    }

    private Integer partitionCount(String topic) {
        try {
            return broker.topics().topic(topic).partitions().size();
        } catch (UnknownTopicOrPartitionException e) {
            return 0;
        }
    }

    /** A new share from the group: cursors of revoked partitions go, new ones start. */
    private void onAssignment(Set<TopicPartition> assigned) {
        if (closed) {
            return;
        }
        int version = ++assignmentVersion;
        Set<Integer> now = new TreeSet<>();
        assigned.stream().filter(tp -> tp.topic().equals(request.topic())).forEach(tp -> now.add(tp.partition()));
        for (Integer p : List.copyOf(cursors.keySet())) {
            if (!now.contains(p)) {
                heldBeforeRebalance.put(p, cursors.get(p).fetchOffset);
                dropCursor(p);
            }
        }
        List<Integer> added = now.stream().filter(p -> !cursors.containsKey(p)).toList();
        if (added.isEmpty()) {
            sendAssignment();
            return;
        }
        place(added, version).onFailure(e -> end(failure(e)));
    }

    /** Finds where each partition starts and puts its cursor there, unless a newer assignment came meanwhile. */
    private Future<Void> place(List<Integer> partitions, int version) {
        return startOffsets(partitions).compose(starts -> {
            if (closed || version != assignmentVersion) {
                return Future.succeededFuture();
            }
            starts.forEach((p, offset) -> cursors.put(p, new Cursor(p, offset)));
            heldBeforeRebalance.clear();
            sendAssignment();
            pump();
            return Future.succeededFuture();
        });
    }

    /** Where this subscription held a partition before a rebalance, else the group's committed offset, else {@code from}. */
    private Future<Map<Integer, Long>> startOffsets(List<Integer> partitions) {
        Future<Map<TopicPartition, OffsetAndMetadata>> committed;
        if (request.group() == null) {
            committed = Future.succeededFuture(Map.of());
        } else {
            try {
                committed = broker.groups().fetchOffsets(request.group(),
                        partitions.stream().map(p -> new TopicPartition(request.topic(), p)).toList());
            } catch (RuntimeException e) {
                return Future.failedFuture(e);
            }
        }
        return committed.compose(commits -> {
            Map<Integer, Future<Long>> starts = new TreeMap<>();
            for (int p : partitions) {
                OffsetAndMetadata c = commits.get(new TopicPartition(request.topic(), p));
                Long held = heldBeforeRebalance.get(p);
                starts.put(p, held != null ? Future.succeededFuture(held)
                        : c != null && c.offset() >= 0 ? Future.succeededFuture(c.offset()) : fromOffset(p));
            }
            return Future.all(List.copyOf(starts.values())).map(all -> {
                Map<Integer, Long> out = new TreeMap<>();
                starts.forEach((p, f) -> out.put(p, f.result()));
                return out;
            });
        });
    }

    private Future<Long> fromOffset(int partition) {
        BusRequests.From from = request.from();
        return switch (from.start()) {
            case EARLIEST -> broker.listOffset(request.topic(), partition, Partition.EARLIEST_TIMESTAMP);
            case LATEST -> broker.listOffset(request.topic(), partition, Partition.LATEST_TIMESTAMP);
            case OFFSET -> Future.succeededFuture(from.value());
            // No record that recent: start at the end, as Kafka's offsetsForTimes answers null and a consumer tails.
            case TIMESTAMP -> broker.listOffset(request.topic(), partition, from.value())
                    .compose(o -> o >= 0 ? Future.succeededFuture(o)
                            : broker.listOffset(request.topic(), partition, Partition.LATEST_TIMESTAMP));
        };
    }

    // ---------------------------------------------------------------- requests from the subscriber

    /** Grants {@code records} more; returns the credit now held. */
    long credit(long records) {
        heard();
        credit = creditCounted ? saturatedAdd(credit, records) : records;
        creditCounted = true;
        pump();
        return credit;
    }

    /** Commits {@code offset + 1} of {@code partition} for the group. */
    Future<Void> ack(int partition, long offset) {
        heard();
        if (request.group() == null) {
            return Future.failedFuture(new BusException(BusErrorCodes.CONSUMER_STATE_CONFLICT,
                    "Nothing to commit to: subscribe with a group to ack"));
        }
        if (!cursors.containsKey(partition)) {
            return Future.failedFuture(new BusException(BusErrorCodes.CONSUMER_STATE_CONFLICT, "Partition " + partition
                    + " is not read by this subscription; it reads " + cursors.keySet()));
        }
        Map<TopicPartition, OffsetAndMetadata> offsets = Map.of(new TopicPartition(request.topic(), partition),
                new OffsetAndMetadata(offset + 1, ""));
        try {
            return member != null ? member.commit(offsets)
                    : broker.groups().commitOffsets(request.group(), -1, "", offsets);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
    }

    private void heard() {
        lastHeardNanos = System.nanoTime();
    }

    private static long saturatedAdd(long a, long b) {
        long sum = a + b;
        return sum < 0 ? Long.MAX_VALUE : sum;
    }

    // ---------------------------------------------------------------- sending

    /** Sends what credit allows, then starts the fetches that may run. */
    private void pump() {
        if (closed) {
            return;
        }
        while (!outbox.isEmpty() && hasCredit()) {
            Outgoing o = outbox.poll();
            if (creditCounted) {
                credit--;
            }
            recordsSent++;
            vertx.eventBus().send(request.address(), o.message());
        }
        if (!hasCredit() || outbox.size() >= OUTBOX_MAX_RECORDS) {
            return;
        }
        for (Cursor c : List.copyOf(cursors.values())) {
            if (!c.fetching) {
                fetch(c);
            }
        }
    }

    private boolean hasCredit() {
        return !creditCounted || credit > 0;
    }

    private void sendAssignment() {
        JsonArray partitions = new JsonArray();
        cursors.forEach((p, c) -> partitions.add(new JsonObject().put("partition", p).put("offset", c.fetchOffset)));
        send(new JsonObject().put("type", EventBusAddresses.MESSAGE_ASSIGNMENT).put("partitions", partitions));
    }

    private void sendError(BusException error, Integer partition) {
        JsonObject message = new JsonObject().put("type", EventBusAddresses.MESSAGE_ERROR)
                .put("error_code", error.errorCode()).put("message", error.getMessage());
        if (partition != null) {
            message.put("partition", partition);
        }
        send(message);
    }

    /** A message that is not a record: sent at once, outside credit (the subscriber must learn of it). */
    private void send(JsonObject message) {
        if (!closed) {
            vertx.eventBus().send(request.address(), message.put("subscription", id));
        }
    }

    // ---------------------------------------------------------------- fetching

    private void fetch(Cursor c) {
        c.fetching = true;
        long offset = c.fetchOffset;
        int maxBytes = Math.max(1, settings.fetchMaxBytes() / Math.max(1, cursors.size()));
        long startedNanos = System.nanoTime();
        broker.fetch(request.topic(), c.partition, offset, maxBytes, 1, settings.fetchWaitMs()).onComplete(fetched -> {
            c.fetching = false;
            if (closed || cursors.get(c.partition) != c || c.fetchOffset != offset) {
                return; // revoked or closed meanwhile: this answer is for a position no longer wanted
            }
            if (fetched.failed()) {
                onFetchFailed(c, offset, fetched.cause());
                return;
            }
            Partition.ReadResult read = fetched.result().read();
            if (read.slice().isEmpty()) {
                if ((System.nanoTime() - startedNanos) / 1_000_000 < settings.fetchWaitMs() / 2) {
                    retryLater(c, EARLY_EMPTY_RETRY_MS);
                    return;
                }
            } else {
                BusRecords.Decoded decoded;
                try {
                    decoded = BusRecords.decode(request.topic(), c.partition, read, offset, Integer.MAX_VALUE,
                            request.encoding());
                } catch (RuntimeException e) {
                    onFetchFailed(c, offset, e);
                    return;
                }
                for (JsonObject r : decoded.records()) {
                    outbox.add(new Outgoing(c, r.put("type", EventBusAddresses.MESSAGE_RECORD).put("subscription", id)));
                }
                c.fetchOffset = decoded.nextOffset();
            }
            pump();
        });
    }

    private void onFetchFailed(Cursor c, long offset, Throwable error) {
        if (error instanceof UnknownTopicOrPartitionException) {
            end(new BusException(BusErrorCodes.TOPIC_NOT_FOUND, "Topic '" + request.topic() + "' was deleted"));
            return;
        }
        if (!(error instanceof OffsetOutOfRangeException)) {
            sendError(failure(error), c.partition);
            retryLater(c, FETCH_RETRY_MS);
            return;
        }
        c.fetching = true; // while the range is looked up
        Future<Long> start = broker.listOffset(request.topic(), c.partition, Partition.EARLIEST_TIMESTAMP);
        Future<Long> end = broker.listOffset(request.topic(), c.partition, Partition.LATEST_TIMESTAMP);
        Future.all(start, end).onComplete(range -> {
            c.fetching = false;
            if (closed || cursors.get(c.partition) != c) {
                return;
            }
            if (range.failed()) {
                sendError(failure(range.cause()), c.partition);
                retryLater(c, FETCH_RETRY_MS);
                return;
            }
            // No seek over the event bus: move to the nearest offset that exists, as Kafka's auto.offset.reset would.
            long next = offset < start.result() ? start.result() : end.result();
            sendError(new BusException(BusErrorCodes.KAFKA_BAD_REQUEST, "OFFSET_OUT_OF_RANGE: offset " + offset
                    + " of partition " + c.partition + " is outside [" + start.result() + ", " + end.result()
                    + "]; continuing from " + next), c.partition);
            c.fetchOffset = next;
            pump();
        });
    }

    private void retryLater(Cursor c, long delayMs) {
        c.fetching = true; // no other fetch of this cursor starts meanwhile
        vertx.setTimer(delayMs, t -> {
            c.fetching = false;
            pump();
        });
    }

    private void dropCursor(int partition) {
        cursors.remove(partition);
        outbox.removeIf(o -> o.cursor().partition == partition);
    }

    // ---------------------------------------------------------------- liveness

    private void probeIfSilent() {
        if (closed || probing || System.nanoTime() - lastHeardNanos < settings.probeIntervalMs() * 1_000_000) {
            return;
        }
        probing = true;
        JsonObject probe = new JsonObject().put("type", EventBusAddresses.MESSAGE_PROBE).put("subscription", id);
        vertx.eventBus().request(request.address(), probe, new DeliveryOptions().setSendTimeout(settings.probeTimeoutMs()))
                .onComplete(answered -> {
                    probing = false;
                    if (answered.succeeded()) {
                        heard();
                    } else if (answered.cause() instanceof ReplyException e && e.failureType() == ReplyFailure.NO_HANDLERS) {
                        LOG.debug("No consumer on {} any more: subscription {} ends", request.address(), id);
                        close();
                    }
                });
    }

    // ---------------------------------------------------------------- closing

    /** Tells the subscriber why it ends, then closes. */
    void end(BusException why) {
        if (closed) {
            return;
        }
        send(new JsonObject().put("type", EventBusAddresses.MESSAGE_END).put("reason", why.getMessage())
                .put("error_code", why.errorCode()));
        close();
    }

    /** Stops reading and sending and leaves the group. Idempotent. */
    Future<Void> close() {
        if (closing != null) {
            return closing;
        }
        closed = true;
        vertx.cancelTimer(probeTimerId);
        outbox.clear();
        cursors.clear();
        closing = (member == null ? Future.<Void>succeededFuture() : member.close().recover(e -> Future.succeededFuture()))
                .onComplete(x -> onClosed.run());
        return closing;
    }

    private BusException failure(Throwable error) {
        return BusErrorCodes.forFailure(error, partitionCount(request.topic()) > 0);
    }

    private void onContext(Runnable action) {
        if (Vertx.currentContext() == context) {
            action.run();
        } else {
            context.runOnContext(v -> action.run());
        }
    }
}

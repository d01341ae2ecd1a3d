package io.runnel.api.ws;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.broker.TopicManager;
import io.runnel.group.GroupMember;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.JsonObject;

/**
 * One subscribe socket ({@code /ws/v1/topics/{topic}/subscribe}): pushes the records of the
 * partitions it reads as they are appended, the push version of the HTTP API's consumer instance.
 *
 * <h2>Model</h2>
 * A <em>cursor</em> per partition read holds its {@code fetchOffset} (the next offset to fetch)
 * and {@code nextToSend} (the offset after the last record sent). Each cursor has at most one
 * read out, from the partition's {@link FrameFeed}: the frames already encoded for another
 * subscriber on this context, or a long poll ({@link BrokerService#fetch}, shared with every
 * subscriber here waiting at the same offset) that the partition completes when an append moves
 * its high watermark — no timers poll the log, and a record is read and encoded once per context,
 * not once per socket. The frames read go to the <em>outbox</em>, which {@link #pump} sends in
 * order while the client has credit and the socket's write queue has room.
 *
 * <p>Which partitions: with {@code group} and no {@code partitions}, the group's share, through a
 * {@link GroupMember} (eager rebalancing: on a rebalance the cursors go and come back with the new
 * assignment; a partition kept across it resumes where it was, a new one at the group's committed
 * offset). Otherwise the listed partitions, or all of them as the topic has them at the start.
 * A partition without a committed offset starts at {@code from}.
 *
 * <h2>Flow control and memory</h2>
 * <ul>
 *   <li>Credit: unlimited until the client's first {@code credit} frame, which switches to counted
 *       credit (n records, more with each frame); or counted from the start with {@code credit=n}
 *       in the query. At zero credit nothing is sent and no cursor
 *       starts a fetch: the server stops reading the log for this socket.</li>
 *   <li>The socket's write queue is capped at {@code socketBufferBytes}; while it is full nothing
 *       is sent and no fetch starts, until it drains.</li>
 *   <li>No read starts while the outbox holds {@code socketBufferBytes} or more. A read asks for
 *       at most the buffer divided among the cursors, in characters of frames (at least one frame
 *       comes back), so a socket holds at most about twice its buffer plus one frame per
 *       partition, however slow its reader. The frames themselves are shared with the other
 *       subscribers of the partition on this context, so a thousand sockets at one position hold
 *       one copy.
 *       A stalled socket costs the broker nothing else: producers never wait for subscribers.</li>
 * </ul>
 *
 * <h2>Invariants</h2>
 * Per partition, records are sent in offset order, each at most once per cursor; a cursor
 * replaced (seek, rebalance) has its unsent frames dropped and its outstanding fetch ignored.
 * Acks are committed one commit at a time, coalesced (the latest ack of each partition wins); the
 * session leaves its group only after the acks it took are committed, so a client that acks and
 * closes resumes after what it acked.
 *
 * <h2>Threading</h2>
 * Everything runs on the socket's context: socket handlers, broker futures (they complete on the
 * caller's context), the group member (created here, so its listener runs here too) and timers.
 * The statistics fields are volatile so {@link WebSocketApi#subscribers} may read them anywhere.
 */
final class SubscriberSession implements WebSocketApi.Session {

    private static final Logger LOG = LoggerFactory.getLogger(SubscriberSession.class);
    /** Kafka's session.timeout.ms default; the member heartbeats while the socket is open. */
    static final int SESSION_TIMEOUT_MS = 45_000;
    /** How long the group waits for members to rejoin; they rejoin on their next heartbeat (≤ 1 s). */
    static final int REBALANCE_TIMEOUT_MS = 60_000;
    /** After a failed fetch (a storage error), how long a cursor waits before trying again. */
    static final long FETCH_RETRY_MS = 1_000;
    /**
     * An empty fetch answer that came back well before its wait ended means the partition is
     * closing (the broker stops); waiting this long before the next keeps that from spinning.
     */
    static final long EARLY_EMPTY_RETRY_MS = 100;

    private static final class Cursor {
        final int partition;
        /** Where this cursor reads from: shared with the other sessions on this context. */
        final FrameFeed feed;
        long fetchOffset;
        long nextToSend;
        boolean fetching;
        /** Out of range past the log end: not read until a seek moves it. */
        boolean parked;

        Cursor(int partition, FrameFeed feed, long start) {
            this.partition = partition;
            this.feed = feed;
            this.fetchOffset = start;
            this.nextToSend = start;
        }
    }

    /** A record frame waiting to be sent (the frame is shared with other sessions: never changed). */
    private record Outgoing(Cursor cursor, FrameFeed.Frame frame) {
    }

    private final Vertx vertx;
    private final Context context;
    private final ServerWebSocket socket;
    private final BrokerService broker;
    private final SubscribeRequest request;
    private final WebSocketApi.Settings settings;
    private final Runnable onClosed;
    private final Liveness liveness;
    private final FrameFeed.Registry feeds;

    private final Map<Integer, Cursor> cursors = new TreeMap<>();
    private final ArrayDeque<Outgoing> outbox = new ArrayDeque<>();
    /** Characters of the frames in the outbox (written on the context, read by {@link #stats}). */
    private volatile long outboxChars;
    private boolean creditCounted;
    private long credit;

    private GroupMember member;
    /** Bumped by every assignment; an assignment's late answers (start offsets) check it. */
    private int assignmentVersion;
    /** Where revoked partitions stood, so one assigned straight back resumes there. */
    private final Map<Integer, Long> heldBeforeRebalance = new HashMap<>();

    private final Map<Integer, Long> acksToCommit = new TreeMap<>();
    private boolean commitInFlight;
    private final List<Promise<Void>> commitIdleWaiters = new ArrayList<>();

    /** {@link #pump} is running: a pump asked for meanwhile (a read answered at once) runs after it, not inside it. */
    private boolean pumping;
    private boolean pumpAgain;

    private boolean closed;
    private Future<Void> closing;

    private volatile long recordsSent;
    private volatile long unflushedChars;
    private volatile long bufferedCharsPeak;

    SubscriberSession(Vertx vertx, ServerWebSocket socket, BrokerService broker, SubscribeRequest request,
                      WebSocketApi.Settings settings, FrameFeed.Registry feeds, Runnable onClosed) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.socket = socket;
        this.broker = broker;
        this.request = request;
        this.settings = settings;
        this.onClosed = onClosed;
        this.feeds = feeds;
        this.liveness = new Liveness(vertx, socket, settings.pingIntervalMs(), () -> false, this::close);
        if (request.initialCredit() != null) {
            creditCounted = true;
            credit = request.initialCredit();
        }
    }

    // ---------------------------------------------------------------- start

    /** Starts reading; on the socket's context. */
    void start() {
        socket.setWriteQueueMaxSize(settings.socketBufferBytes());
        Sockets.consolidateFlushes(socket);
        socket.textMessageHandler(this::onText);
        socket.binaryMessageHandler(this::onBinary);
        socket.exceptionHandler(this::onSocketException);
        socket.drainHandler(v -> pump());
        socket.closeHandler(v -> close());
        TopicManager.Topic topic;
        try {
            topic = broker.topics().topic(request.topic());
        } catch (UnknownTopicOrPartitionException e) {
            refuse(new WsException(WsErrorCodes.TOPIC_NOT_FOUND, "Topic '" + request.topic() + "' not found"));
            return;
        }
        int count = topic.partitions().size();
        if (request.partitions() != null) {
            for (int p : request.partitions()) {
                if (p >= count) {
                    refuse(new WsException(WsErrorCodes.PARTITION_NOT_FOUND, "Topic '" + request.topic()
                            + "' has no partition " + p + " (it has " + count + ")"));
                    return;
                }
            }
        }
        if (request.group() != null && request.partitions() == null) {
            joinGroup();
            return;
        }
        List<Integer> partitions = request.partitions() != null ? request.partitions()
                : java.util.stream.IntStream.range(0, count).boxed().toList();
        int version = ++assignmentVersion;
        startOffsets(partitions).onComplete(starts -> {
            if (closed || version != assignmentVersion) {
                return;
            }
            if (starts.failed()) {
                refuse(failure(starts.cause()));
                return;
            }
            starts.result().forEach(this::putCursor);
            sendAssignment();
            pump();
        });
    }

    private void joinGroup() {
        try {
            member = new GroupMember(vertx, broker.groups(), request.group(), "runnel-ws-" + socket.remoteAddress(),
                    "range", this::partitionCount, SESSION_TIMEOUT_MS, REBALANCE_TIMEOUT_MS);
        } catch (RuntimeException e) {
            refuse(failure(e));
            return;
        }
        member.assignmentListener(assigned -> onContext(() -> onAssignment(assigned)));
        member.subscribe(Set.of(request.topic())).onFailure(e -> {
            if (!closed) {
                refuse(failure(e));
            }
        });
    }

    private Integer partitionCount(String topic) {
        try {
            return broker.topics().topic(topic).partitions().size();
        } catch (UnknownTopicOrPartitionException e) {
            return 0;
        }
    }

    /** A new assignment from the group: cursors of revoked partitions go, new ones start. */
    private void onAssignment(Set<TopicPartition> assigned) {
        if (closed) {
            return;
        }
        int version = ++assignmentVersion;
        Set<Integer> now = new TreeSet<>();
        assigned.stream().filter(tp -> tp.topic().equals(request.topic())).forEach(tp -> now.add(tp.partition()));
        for (Integer p : List.copyOf(cursors.keySet())) {
            if (!now.contains(p)) {
                heldBeforeRebalance.put(p, cursors.get(p).nextToSend);
                dropCursor(p);
            }
        }
        List<Integer> added = now.stream().filter(p -> !cursors.containsKey(p)).toList();
        if (added.isEmpty()) {
            sendAssignment();
            return;
        }
        startOffsets(added).onComplete(starts -> {
            if (closed || version != assignmentVersion) {
                return;
            }
            if (starts.failed()) {
                refuse(failure(starts.cause()));
                return;
            }
            starts.result().forEach(this::putCursor);
            heldBeforeRebalance.clear();
            sendAssignment();
            pump();
        });
    }

    /**
     * Where each partition starts: where this session held it before a rebalance, else the
     * group's committed offset, else {@code from}.
     */
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
                        : c != null ? Future.succeededFuture(c.offset()) : fromOffset(p));
            }
            return Future.all(new ArrayList<>(starts.values())).map(all -> {
                Map<Integer, Long> out = new TreeMap<>();
                starts.forEach((p, f) -> out.put(p, f.result()));
                return out;
            });
        });
    }

    private Future<Long> fromOffset(int partition) {
        SubscribeRequest.From from = request.from();
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

    // ---------------------------------------------------------------- sending

    /**
     * Sends what credit and the write queue allow, then starts the reads that may run. A read the
     * feed answers at once asks for another pump; that one runs after this one returns (a loop,
     * not a recursion as deep as the feed's window is long).
     */
    private void pump() {
        if (pumping) {
            pumpAgain = true;
            return;
        }
        pumping = true;
        try {
            do {
                pumpAgain = false;
                pumpOnce();
            } while (pumpAgain && !closed);
        } finally {
            pumping = false;
        }
    }

    private void pumpOnce() {
        if (closed) {
            return;
        }
        long sentNow = 0;
        while (!outbox.isEmpty() && hasCredit()) {
            if (Sockets.writeQueueFull(socket)) {
                break; // the drain handler pumps again
            }
            send(outbox.poll());
            sentNow++;
        }
        if (sentNow > 0) {
            broker.topics().metrics().recordsOut(request.topic(), sentNow);
        }
        if (!hasCredit() || outboxChars >= settings.socketBufferBytes() || Sockets.writeQueueFull(socket)) {
            return;
        }
        for (Cursor c : List.copyOf(cursors.values())) {
            if (!c.fetching && !c.parked) {
                fetch(c);
            }
        }
    }

    private boolean hasCredit() {
        return !creditCounted || credit > 0;
    }

    private void send(Outgoing o) {
        long chars = o.frame().chars();
        outboxChars -= chars;
        o.cursor().nextToSend = o.frame().offset() + 1;
        if (creditCounted) {
            credit--;
        }
        recordsSent++;
        unflushedChars += chars;
        notePeak();
        Sockets.writeText(socket, o.frame().bytes()).onComplete(written -> unflushedChars -= chars);
    }

    private void notePeak() {
        long buffered = outboxChars + unflushedChars;
        if (buffered > bufferedCharsPeak) {
            bufferedCharsPeak = buffered;
        }
    }

    private void sendAssignment() {
        Map<Integer, Long> starts = new TreeMap<>();
        cursors.forEach((p, c) -> starts.put(p, c.nextToSend));
        Sockets.writeText(socket, Frames.assignment(starts));
    }

    private void sendError(WsException error, boolean answersFrame, Object id, Integer partition) {
        if (!closed) {
            Sockets.writeText(socket, Frames.error(error, answersFrame, id, partition));
        }
    }

    // ---------------------------------------------------------------- fetching

    private void fetch(Cursor c) {
        c.fetching = true;
        long offset = c.fetchOffset;
        int maxChars = Math.max(1, settings.socketBufferBytes() / Math.max(1, cursors.size()));
        c.feed.read(offset, maxChars).onComplete(read -> {
            c.fetching = false;
            if (closed || cursors.get(c.partition) != c || c.fetchOffset != offset) {
                return; // seeked, revoked or closed meanwhile: this answer is for a position no longer wanted
            }
            if (read.failed()) {
                onFetchFailed(c, offset, read.cause());
                return;
            }
            FrameFeed.Slice slice = read.result();
            if (slice.frames().isEmpty() && slice.nextOffset() == offset) {
                long waitedMs = (System.nanoTime() - slice.fetchStartedNanos()) / 1_000_000;
                if (waitedMs < settings.fetchWaitMs() / 2) {
                    retryLater(c, EARLY_EMPTY_RETRY_MS);
                    return;
                }
            }
            for (FrameFeed.Frame f : slice.frames()) {
                if (f.offset() >= c.fetchOffset) {
                    outbox.add(new Outgoing(c, f));
                    outboxChars += f.chars();
                }
            }
            c.fetchOffset = Math.max(c.fetchOffset, slice.nextOffset());
            notePeak();
            pump();
        });
    }

    private void onFetchFailed(Cursor c, long offset, Throwable error) {
        if (error instanceof UnknownTopicOrPartitionException) {
            refuse(new WsException(WsErrorCodes.TOPIC_NOT_FOUND, "Topic '" + request.topic() + "' was deleted"));
            return;
        }
        if (!(error instanceof OffsetOutOfRangeException)) {
            sendError(failure(error), false, null, c.partition);
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
                sendError(failure(range.cause()), false, null, c.partition);
                retryLater(c, FETCH_RETRY_MS);
                return;
            }
            long logStart = start.result();
            if (offset < logStart) {
                // The records are gone (retention, deleted records): the next one that exists is the log start.
                sendError(new WsException(WsErrorCodes.KAFKA_BAD_REQUEST, "OFFSET_OUT_OF_RANGE: offset " + offset
                        + " of partition " + c.partition + " is before its log start offset " + logStart
                        + " (removed by retention); continuing from " + logStart), false, null, c.partition);
                c.fetchOffset = logStart;
                c.nextToSend = logStart;
            } else {
                sendError(new WsException(WsErrorCodes.KAFKA_BAD_REQUEST, "OFFSET_OUT_OF_RANGE: offset " + offset
                        + " of partition " + c.partition + " is past its end " + end.result()
                        + "; seek it to an offset from " + logStart + " to " + end.result()), false, null, c.partition);
                c.parked = true;
            }
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

    /** A new cursor of {@code partition} from {@code start}, replacing none (drop the old one first). */
    private void putCursor(int partition, long start) {
        // On the socket's context, so this thread is its event loop.
        FrameFeed feed = feeds.acquire(new FrameFeed.Key(Thread.currentThread(), request.topic(), partition,
                request.format()));
        cursors.put(partition, new Cursor(partition, feed, start));
    }

    private void dropCursor(int partition) {
        Cursor gone = cursors.remove(partition);
        if (gone != null) {
            gone.feed.release();
        }
        outbox.removeIf(o -> {
            if (o.cursor().partition != partition) {
                return false;
            }
            outboxChars -= o.frame().chars();
            return true;
        });
    }

    // ---------------------------------------------------------------- client frames

    private void onText(String text) {
        liveness.heard();
        Object id = null;
        try {
            JsonObject frame = Frames.object(text);
            id = Frames.id(frame);
            Frames.SubscriberFrame parsed = Frames.subscriberFrame(frame, id);
            if (parsed instanceof Frames.Ack ack) {
                ack(ack);
            } else if (parsed instanceof Frames.Credit grant) {
                credit(grant);
            } else if (parsed instanceof Frames.Seek seek) {
                seek(seek);
            }
        } catch (WsException e) {
            sendError(e, true, id, null);
        }
    }

    private void onBinary(Buffer data) {
        liveness.heard();
        sendError(new WsException(WsErrorCodes.BAD_REQUEST, "Frames are JSON text; a binary frame of "
                + data.length() + " bytes was ignored"), true, null, null);
    }

    private void onSocketException(Throwable error) {
        if (WebSocketApi.isOversizeMessage(error)) {
            liveness.heard();
            sendError(WebSocketApi.oversize(settings), true, null, null);
        } else {
            LOG.debug("Subscriber socket from {} failed: {}", socket.remoteAddress(), error.toString());
        }
    }

    private void ack(Frames.Ack ack) {
        if (request.group() == null) {
            throw new WsException(WsErrorCodes.CONSUMER_STATE_CONFLICT,
                    "Nothing to commit to: subscribe with group={id} to ack");
        }
        readPartition(ack.partition());
        acksToCommit.put(ack.partition(), ack.offset() + 1);
        commitAcks();
    }

    private void credit(Frames.Credit grant) {
        credit = creditCounted ? saturatedAdd(credit, grant.records()) : grant.records();
        creditCounted = true;
        pump();
    }

    private void seek(Frames.Seek seek) {
        readPartition(seek.partition());
        dropCursor(seek.partition());
        // A new cursor: the old one's fetch, still out, is recognised and ignored when it answers.
        putCursor(seek.partition(), seek.offset());
        pump();
    }

    /** The partition must be one this subscription reads now; otherwise 40402 or 40903. */
    private void readPartition(int partition) {
        if (cursors.containsKey(partition)) {
            return;
        }
        Integer count = partitionCount(request.topic());
        if (partition >= count) {
            throw new WsException(WsErrorCodes.PARTITION_NOT_FOUND, "Topic '" + request.topic() + "' has no partition "
                    + partition + " (it has " + count + ")");
        }
        throw new WsException(WsErrorCodes.CONSUMER_STATE_CONFLICT, "Partition " + partition
                + " is not read by this subscription; it reads " + cursors.keySet());
    }

    private static long saturatedAdd(long a, long b) {
        long sum = a + b;
        return sum < 0 ? Long.MAX_VALUE : sum;
    }

    // ---------------------------------------------------------------- commits

    /** Commits the latest ack of each partition; one commit at a time. */
    private void commitAcks() {
        if (commitInFlight) {
            return;
        }
        if (acksToCommit.isEmpty()) {
            List<Promise<Void>> idle = List.copyOf(commitIdleWaiters);
            commitIdleWaiters.clear();
            idle.forEach(Promise::complete);
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        acksToCommit.forEach((p, o) -> offsets.put(new TopicPartition(request.topic(), p), new OffsetAndMetadata(o, "")));
        Integer onlyPartition = acksToCommit.size() == 1 ? acksToCommit.keySet().iterator().next() : null;
        acksToCommit.clear();
        commitInFlight = true;
        Future<Void> committed;
        try {
            committed = member != null ? member.commit(offsets)
                    : broker.groups().commitOffsets(request.group(), -1, "", offsets);
        } catch (RuntimeException e) {
            committed = Future.failedFuture(e);
        }
        committed.onComplete(done -> {
            commitInFlight = false;
            if (done.failed()) {
                sendError(failure(done.cause()), false, null, onlyPartition);
            }
            commitAcks();
        });
    }

    private Future<Void> acksCommitted() {
        if (!commitInFlight && acksToCommit.isEmpty()) {
            return Future.succeededFuture();
        }
        Promise<Void> idle = Promise.promise();
        commitIdleWaiters.add(idle);
        return idle.future();
    }

    // ---------------------------------------------------------------- closing

    /** Sends {@code error}, then closes: the subscription cannot go on. */
    private void refuse(WsException error) {
        if (closed) {
            return;
        }
        Sockets.writeText(socket, Frames.error(error, false, null, null));
        Sockets.close(socket, Frames.CLOSE_REFUSED, error.getMessage());
        close();
    }

    /** Stops reading, commits the acks taken, leaves the group. Idempotent; on the context. */
    private Future<Void> close() {
        if (closing != null) {
            return closing;
        }
        closed = true;
        liveness.stop();
        outbox.clear();
        outboxChars = 0;
        cursors.values().forEach(c -> c.feed.release());
        cursors.clear();
        GroupMember leaving = member;
        closing = acksCommitted()
                .transform(x -> leaving == null ? Future.<Void>succeededFuture() : leaving.close())
                .onComplete(x -> onClosed.run());
        return closing;
    }

    @Override
    public Future<Void> shutdown() {
        Promise<Void> done = Promise.promise();
        onContext(() -> {
            Sockets.close(socket, Frames.CLOSE_GOING_AWAY, "The broker is shutting down");
            close().onComplete(done);
        });
        return done.future();
    }

    /** What this subscriber has been sent and holds; from any thread. */
    WebSocketApi.SubscriberStats stats() {
        return new WebSocketApi.SubscriberStats(String.valueOf(socket.remoteAddress()), request.topic(), request.group(),
                recordsSent, outboxChars + unflushedChars, bufferedCharsPeak);
    }

    private WsException failure(Throwable error) {
        boolean topicExists = partitionCount(request.topic()) > 0;
        return WsErrorCodes.forFailure(error, topicExists);
    }

    private void onContext(Runnable action) {
        if (Vertx.currentContext() == context) {
            action.run();
        } else {
            context.runOnContext(v -> action.run());
        }
    }
}

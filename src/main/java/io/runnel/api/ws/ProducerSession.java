package io.runnel.api.ws;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.JsonObject;

/**
 * One produce socket ({@code /ws/v1/topics/{topic}/produce}): each text message is one record
 * (see {@link Frames} for its fields), answered with a {@code receipt} or an {@code error}.
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>Answers go out in the order the messages came, one per message, whatever order the
 *       partitions finish in: each answer waits in a queue behind the ones before it. A message
 *       that cannot be read is answered in its place in the order too.</li>
 *   <li>Messages are produced as they arrive (pipelined), acknowledged with acks=all, so a receipt
 *       means the record is durable, as the HTTP API's answers do.</li>
 *   <li>Bounded: while {@link #MAX_IN_FLIGHT} messages or {@code socketBufferBytes} of them are
 *       unanswered, or the socket's write queue is full (the client does not read its receipts),
 *       the socket is paused; TCP then slows the client. One message may be up to
 *       {@code maxMessageBytes}; the server's message limit refuses larger ones with a 413.</li>
 * </ul>
 *
 * <p>Threading: everything runs on the socket's context; broker futures complete there.
 */
final class ProducerSession implements WebSocketApi.Session {

    private static final Logger LOG = LoggerFactory.getLogger(ProducerSession.class);
    /** Unanswered messages before the socket is paused: enough to keep a partition's group commit busy. */
    static final int MAX_IN_FLIGHT = 1_000;

    private final Context context;
    private final ServerWebSocket socket;
    private final BrokerService broker;
    private final String topic;
    private final Frames.Format format;
    private final WebSocketApi.Settings settings;
    private final Runnable onClosed;
    private final Liveness liveness;

    /** A message's answer, in the order the messages came. */
    private record Pending(Future<String> answer, long chars) {
    }

    /** Answers not yet written, oldest first; the head is written as soon as it is ready. */
    private final ArrayDeque<Pending> answers = new ArrayDeque<>();
    private final List<Promise<Void>> idleWaiters = new ArrayList<>();
    private int inFlight;
    private long inFlightChars;
    private boolean paused;
    private boolean closed;

    ProducerSession(Vertx vertx, ServerWebSocket socket, BrokerService broker, String topic, Frames.Format format,
                    WebSocketApi.Settings settings, Runnable onClosed) {
        this.context = vertx.getOrCreateContext();
        this.socket = socket;
        this.broker = broker;
        this.topic = topic;
        this.format = format;
        this.settings = settings;
        this.onClosed = onClosed;
        // While paused by us the peer's pongs wait unread behind its messages.
        this.liveness = new Liveness(vertx, socket, settings.pingIntervalMs(), () -> paused, this::close);
    }

    void start() {
        socket.setWriteQueueMaxSize(settings.socketBufferBytes());
        socket.textMessageHandler(this::onText);
        socket.binaryMessageHandler(this::onBinary);
        socket.exceptionHandler(this::onSocketException);
        socket.drainHandler(v -> updateReading());
        socket.closeHandler(v -> close());
    }

    // ---------------------------------------------------------------- messages

    private void onText(String text) {
        liveness.heard();
        Object id = null;
        Future<String> answer;
        try {
            JsonObject message = Frames.object(text);
            id = Frames.id(message);
            BrokerService.ProduceRecord record = Frames.produceRecord(message, format);
            answer = produce(record, id);
        } catch (WsException e) {
            answer = Future.succeededFuture(Frames.error(e, true, id, null));
        }
        inOrder(answer, text.length());
    }

    private void onBinary(Buffer data) {
        liveness.heard();
        inOrder(Future.succeededFuture(Frames.error(new WsException(WsErrorCodes.BAD_REQUEST,
                "Messages are JSON text; a binary frame of " + data.length() + " bytes was not produced"),
                true, null, null)), 0);
    }

    private void onSocketException(Throwable error) {
        if (WebSocketApi.isOversizeMessage(error)) {
            liveness.heard();
            inOrder(Future.succeededFuture(Frames.error(WebSocketApi.oversize(settings), true, null, null)), 0);
        } else {
            LOG.debug("Producer socket from {} failed: {}", socket.remoteAddress(), error.toString());
        }
    }

    /** Produces one record; the future is its answer frame (a receipt or an error), never a failure. */
    private Future<String> produce(BrokerService.ProduceRecord record, Object id) {
        return broker.produce(topic, List.of(record), Partition.Acks.ALL).transform(done -> {
            if (done.failed()) {
                return Future.succeededFuture(Frames.error(failure(done.cause()), true, id, null));
            }
            BrokerService.ProduceResult r = done.result().get(0);
            if (r.error() != null) {
                return Future.succeededFuture(Frames.error(WsErrorCodes.forRecordFailure(r.error()), true, id,
                        r.partition()));
            }
            return Future.succeededFuture(Frames.receipt(id, r.partition(), r.offset()));
        });
    }

    /**
     * Queues {@code answer} behind every answer before it; it counts as in flight until written.
     * A queue rather than a chain of futures: a long run of ready answers is written in a loop,
     * not in as many nested callbacks.
     */
    private void inOrder(Future<String> answer, long chars) {
        inFlight++;
        inFlightChars += chars;
        answers.add(new Pending(answer, chars));
        updateReading();
        answer.onComplete(ready -> writeReadyAnswers());
    }

    private void writeReadyAnswers() {
        while (!answers.isEmpty() && answers.peek().answer().isComplete()) {
            Pending head = answers.poll();
            inFlight--;
            inFlightChars -= head.chars();
            if (!closed && head.answer().succeeded()) {
                Sockets.writeText(socket, head.answer().result());
            }
        }
        updateReading();
        if (answers.isEmpty() && !idleWaiters.isEmpty()) {
            List<Promise<Void>> idle = List.copyOf(idleWaiters);
            idleWaiters.clear();
            idle.forEach(Promise::complete);
        }
    }

    /** Pauses the socket while too much is unanswered or unsent, resumes it once that clears. */
    private void updateReading() {
        if (closed) {
            return;
        }
        boolean tooMuch = inFlight >= MAX_IN_FLIGHT || inFlightChars >= settings.socketBufferBytes()
                || Sockets.writeQueueFull(socket);
        if (tooMuch && !paused) {
            paused = true;
            socket.pause();
        } else if (!tooMuch && paused) {
            paused = false;
            socket.resume();
        }
    }

    private WsException failure(Throwable error) {
        boolean topicExists;
        try {
            broker.topics().topic(topic);
            topicExists = true;
        } catch (UnknownTopicOrPartitionException e) {
            topicExists = false;
        }
        return WsErrorCodes.forFailure(error, topicExists);
    }

    // ---------------------------------------------------------------- closing

    private void close() {
        if (closed) {
            return;
        }
        closed = true;
        liveness.stop();
        onClosed.run();
    }

    @Override
    public Future<Void> shutdown() {
        Promise<Void> done = Promise.promise();
        Runnable action = () -> {
            Sockets.close(socket, Frames.CLOSE_GOING_AWAY, "The broker is shutting down");
            close();
            // Records already handed to the broker are written whether or not their receipts go out.
            if (answers.isEmpty()) {
                done.complete();
            } else {
                idleWaiters.add(done);
            }
        };
        if (Vertx.currentContext() == context) {
            action.run();
        } else {
            context.runOnContext(v -> action.run());
        }
        return done.future();
    }
}

package io.runnel.client;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * Sends the records {@link EventBusClient#produce} is given as batch produce requests
 * ({@code {"topic","records":[…],"encoding":"base64"}} to {@code runnel.produce}), the way Kafka's
 * producer batches with a small linger: one request per topic carries every record produced to it
 * in one event-loop turn, or while the topic's previous request was outstanding, up to
 * {@link #BATCH_RECORDS_MAX} records or {@link #BATCH_BYTES_MAX} bytes. The per-record cost of a
 * request (event bus message, JSON encode and parse, a reply, an append) is paid once per batch.
 *
 * <h2>Invariants</h2>
 * <ol>
 *   <li>Per topic, at most one batch request is outstanding, and a batch takes the oldest waiting
 *       records. So a topic's records reach the broker in the order {@code produce} was called
 *       (calls from one thread; calls racing on different threads have no order to keep), and a
 *       record is written after every record of its topic called before it that was written.</li>
 *   <li>Every record is in exactly one place: waiting, or in the outstanding batch of its topic.
 *       Its promise is completed exactly once, when its batch's answer (or failure) arrives: with
 *       its own partition and offset, or with the failure of the whole batch.</li>
 *   <li>A batch holds 1 to {@link #BATCH_RECORDS_MAX} records and at most
 *       {@link #BATCH_BYTES_MAX} bytes of keys, values and headers, except a single record larger
 *       than that, which goes alone.</li>
 *   <li>A topic with waiting records and no outstanding batch has a send scheduled on the
 *       context: nothing waits forever. A topic with neither is dropped from {@link #topics}.</li>
 * </ol>
 *
 * <h2>Threading</h2>
 * All state is confined to one context: the one the client was created on. {@link #produce} may
 * be called from any thread; off that context it hops onto it ({@code runOnContext}, which keeps
 * one thread's calls in order). The event bus replies arrive on that context too. A caller on
 * another Vert.x context gets its future completed back on its own context; a caller off any
 * context gets it completed on the client's.
 */
final class ProduceBatcher {

    /**
     * 500: about 100 KiB of JSON at 200-byte values, so one request carries a turn's records at
     * the rates one event loop produces, while one batch is still encoded and parsed in well under
     * a millisecond and the broker's bound (10,000) is far off.
     */
    static final int BATCH_RECORDS_MAX = 500;
    /**
     * 1 MiB of record bytes (about 1.4 MiB of JSON with base64): Kafka's default request size.
     * The broker packs a batch into record batches within the topic's {@code max.message.bytes},
     * so this bounds only the size of one event bus message.
     */
    static final long BATCH_BYTES_MAX = 1024 * 1024;

    /** A record produced and not yet answered. {@code bytes}: its key, value and headers, for the batch's bound. */
    private record Pending(JsonObject record, long bytes, Promise<RecordMetadata> promise) {
    }

    /** A topic's records: waiting to be sent, and whether a batch of them is outstanding. */
    private static final class TopicQueue {
        final String topic;
        final ArrayDeque<Pending> waiting = new ArrayDeque<>();
        boolean inFlight;
        boolean sendScheduled;

        TopicQueue(String topic) {
            this.topic = topic;
        }
    }

    private final Vertx vertx;
    private final Context context;
    private final DeliveryOptions requestOptions;
    /** By topic; on {@link #context} only. */
    private final Map<String, TopicQueue> topics = new HashMap<>();

    ProduceBatcher(Vertx vertx, Context context, DeliveryOptions requestOptions) {
        this.vertx = vertx;
        this.context = context;
        this.requestOptions = requestOptions;
    }

    /**
     * Queues one record of a batch request ({@code record}: its {@code key}, {@code value},
     * {@code headers}, {@code partition}, base64-encoded where they are bytes); the future
     * completes with where the broker wrote it.
     */
    Future<RecordMetadata> produce(String topic, JsonObject record, long bytes) {
        Context caller = Vertx.currentContext();
        Promise<RecordMetadata> promise = Promise.promise();
        Pending pending = new Pending(record, bytes, promise);
        if (caller == context) {
            enqueue(topic, pending);
            return promise.future();
        }
        context.runOnContext(v -> enqueue(topic, pending));
        if (caller == null) {
            return promise.future();
        }
        // Back to the caller's context, as a request the caller sent itself would have come back.
        Promise<RecordMetadata> onCaller = Promise.promise();
        promise.future().onComplete(done -> caller.runOnContext(v -> onCaller.handle(done)));
        return onCaller.future();
    }

    private void enqueue(String topic, Pending pending) {
        TopicQueue q = topics.computeIfAbsent(topic, TopicQueue::new);
        q.waiting.add(pending);
        scheduleSend(q);
    }

    /**
     * Sends the topic's next batch once the current task is done (a linger of the rest of the
     * event-loop turn), so that records produced in the same turn travel together.
     */
    private void scheduleSend(TopicQueue q) {
        if (q.inFlight || q.sendScheduled) {
            return; // the outstanding batch's answer, or the scheduled send, will take the waiting records
        }
        q.sendScheduled = true;
        context.runOnContext(v -> {
            q.sendScheduled = false;
            send(q);
        });
    }

    private void send(TopicQueue q) {
        if (q.inFlight) {
            throw new IllegalStateException("A second batch for topic " + q.topic + " while one is outstanding");
        }
        if (q.waiting.isEmpty()) {
            topics.remove(q.topic, q);
            return;
        }
        List<Pending> batch = takeBatch(q.waiting);
        JsonArray records = new JsonArray(new ArrayList<>(batch.size()));
        batch.forEach(p -> records.add(p.record()));
        JsonObject request = new JsonObject().put("topic", q.topic).put("records", records).put("encoding", "base64");
        q.inFlight = true;
        vertx.eventBus().<JsonObject>request(BusContract.PRODUCE, request, requestOptions).onComplete(reply -> {
            q.inFlight = false;
            complete(q.topic, batch, reply);
            // Records produced meanwhile (also by the handlers just run) go in the next batch.
            if (q.waiting.isEmpty()) {
                topics.remove(q.topic, q);
            } else {
                scheduleSend(q);
            }
        });
    }

    /** The oldest waiting records, within the batch's bounds (invariant 3). */
    private static List<Pending> takeBatch(ArrayDeque<Pending> waiting) {
        List<Pending> batch = new ArrayList<>(Math.min(waiting.size(), BATCH_RECORDS_MAX));
        long bytes = 0;
        while (!waiting.isEmpty() && batch.size() < BATCH_RECORDS_MAX
                && (batch.isEmpty() || bytes + waiting.peek().bytes() <= BATCH_BYTES_MAX)) {
            Pending p = waiting.poll();
            bytes += p.bytes();
            batch.add(p);
        }
        return batch;
    }

    /** Completes every record of the batch: each with its own offset, or all with the batch's failure. */
    private static void complete(String topic, List<Pending> batch, AsyncResult<Message<JsonObject>> reply) {
        if (reply.failed()) {
            batch.forEach(p -> p.promise().fail(reply.cause()));
            return;
        }
        JsonArray offsets = reply.result().body().getJsonArray("offsets");
        if (offsets == null || offsets.size() != batch.size()) {
            IllegalStateException wrong = new IllegalStateException("The broker answered a batch of " + batch.size()
                    + " records with " + (offsets == null ? "no offsets" : offsets.size() + " offsets"));
            batch.forEach(p -> p.promise().fail(wrong));
            return;
        }
        for (int i = 0; i < batch.size(); i++) {
            JsonObject o = offsets.getJsonObject(i);
            batch.get(i).promise().complete(new RecordMetadata(topic, o.getInteger("partition"), o.getLong("offset")));
        }
    }
}

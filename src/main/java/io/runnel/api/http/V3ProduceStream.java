package io.runnel.api.http;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.broker.TopicManager;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import static io.runnel.api.http.Replies.onRequestContext;

/**
 * One v3 produce request ({@code POST /v3/clusters/{c}/topics/{t}/records}): reads the records
 * of the request body as they arrive, produces them, and answers each in order.
 *
 * <h2>Model</h2>
 * The body is a stream of JSON objects, one record each ({@link V3Records}), split by
 * {@link JsonObjectSplitter} without buffering the body. Every object becomes one <em>answer</em>
 * in {@link #answers}, in body order: a record's answer completes when the broker acknowledged it
 * (acks=all) or refused it; a malformed object's answer is its 400 error at once. Answers are
 * written strictly in order, each as soon as it and all before it are complete.
 *
 * <h2>The response</h2>
 * <ul>
 *   <li>A body of exactly one object sent with a {@code Content-Length} (the common curl request)
 *       gets a plain answer: that record's answer with the HTTP status of its {@code error_code}
 *       (200, or e.g. 400 for a malformed record).</li>
 *   <li>Otherwise — a body of several objects, or a chunked request body (streaming mode,
 *       possibly open for a long time) — the response is 200 with
 *       {@code Transfer-Encoding: chunked}, and each answer is one JSON object followed by a
 *       newline (Confluent's streaming mode: errors are per record, inside the stream).</li>
 *   <li>A body without any object is a 400.</li>
 *   <li>After bytes that cannot begin an object the splitter gives up: that spot gets a 400
 *       answer, the rest of the body is ignored, and the response ends after the answers
 *       before it, cleanly.</li>
 * </ul>
 * For a single-object {@code Content-Length} body the first answer waits until the body has
 * ended or a second object appears; a chunked body never waits, so a client may send a record
 * and wait for its answer before sending the next.
 *
 * <h2>Batching and limits</h2>
 * The valid records read from one piece of the body go to the broker in one produce call (one
 * record batch per partition), bounded by {@link #MAX_BATCH_RECORDS} and by half the topic's
 * {@code max.message.bytes} (so a batch never exceeds what a record alone would be allowed).
 * The request is paused while {@link #MAX_UNANSWERED} answers are unwritten, while the records in
 * flight hold more than {@link #MAX_IN_FLIGHT_BYTES}, or while the response's write queue is full,
 * and resumed once they drain: memory stays bounded however long the stream and however slow the
 * client reads (a limit is passed by at most the records of the piece of body being read when it
 * was reached). An object larger than the API's body limit gets a 413 answer and is skipped.
 *
 * <h2>Threading</h2>
 * Every method runs on the request's context: request events arrive there, and broker answers
 * are brought back with {@link Replies#onRequestContext}. No locks.
 */
final class V3ProduceStream implements JsonObjectSplitter.Sink {

    /** Unwritten answers at which reading pauses: bounds the answers (and records) one request holds. */
    static final int MAX_UNANSWERED = 1000;
    /** Bytes of records sent to the broker and not yet answered, at which reading pauses. */
    static final long MAX_IN_FLIGHT_BYTES = 32L << 20;
    /** Records in one produce call at most. */
    static final int MAX_BATCH_RECORDS = 500;
    /** Batch bytes at most, whatever the topic allows: keeps one call's latency and memory modest. */
    static final int MAX_BATCH_BYTES = 1 << 20;

    private enum Output { UNDECIDED, STREAMING, DONE }

    /** A record read and waiting for its batch to be sent. */
    private record Pending(V3Records.Parsed parsed, Promise<JsonObject> answer) {
    }

    private final RoutingContext ctx;
    private final HttpServerRequest request;
    private final HttpServerResponse response;
    private final BrokerService broker;
    private final String topic;
    private final String clusterId;
    /** True when the body comes chunked (no Content-Length): streaming mode, answers never wait. */
    private final boolean chunkedBody;
    private final JsonObjectSplitter splitter;
    private final ArrayDeque<Future<JsonObject>> answers = new ArrayDeque<>();
    private final List<Pending> batch = new ArrayList<>();
    private long batchBytes;
    private long inFlightBytes;
    private int objectsSeen;
    private boolean inputDone;
    private boolean paused;
    private Output output = Output.UNDECIDED;

    private V3ProduceStream(RoutingContext ctx, BrokerService broker, String topic, long maxRecordBytes) {
        this.ctx = ctx;
        this.request = ctx.request();
        this.response = ctx.response();
        this.broker = broker;
        this.topic = topic;
        this.clusterId = broker.identity().clusterId();
        this.chunkedBody = request.getHeader(HttpHeaders.CONTENT_LENGTH) == null;
        this.splitter = new JsonObjectSplitter(maxRecordBytes, this);
    }

    /** Starts reading the request's body into {@code topic}, which the caller checked exists. */
    static void start(RoutingContext ctx, BrokerService broker, String topic, long maxRecordBytes) {
        V3ProduceStream stream = new V3ProduceStream(ctx, broker, topic, maxRecordBytes);
        HttpServerRequest request = ctx.request();
        request.handler(stream::onData);
        request.endHandler(v -> stream.onEnd());
        request.exceptionHandler(stream::onBroken);
        stream.response.exceptionHandler(stream::onBroken);
        stream.response.closeHandler(v -> stream.onBroken(null));
        stream.response.drainHandler(v -> stream.drain());
        if ("100-continue".equalsIgnoreCase(request.getHeader(HttpHeaders.EXPECT))) {
            stream.response.writeContinue();
        }
        // The router may have paused the request while routing; from here on this class decides.
        request.resume();
    }

    // ---------------------------------------------------------------- input

    private void onData(Buffer chunk) {
        if (output == Output.DONE || splitter.failed()) {
            return; // what is left of the body is read and dropped
        }
        splitter.feed(chunk);
        sendBatch();
        drain();
    }

    private void onEnd() {
        splitter.finish();
        sendBatch();
        inputDone = true;
        drain();
    }

    private void onBroken(Throwable error) {
        // The connection is gone: nothing more can be written; records already sent still complete.
        output = Output.DONE;
    }

    @Override
    public void object(Buffer json) {
        objectsSeen++;
        V3Records.Parsed parsed;
        try {
            TopicManager.Topic t = broker.topics().topic(topic);
            parsed = V3Records.parse(json, topic, t.partitions().size(), System.currentTimeMillis());
            int budget = Math.min(MAX_BATCH_BYTES, t.config().maxMessageBytes / 2);
            if (!batch.isEmpty() && (batch.size() >= MAX_BATCH_RECORDS || batchBytes + parsed.estimatedBytes() > budget)) {
                sendBatch();
            }
        } catch (HttpApiException e) {
            answers.add(Future.succeededFuture(V3Records.failed(e)));
            return;
        } catch (UnknownTopicOrPartitionException e) {
            answers.add(Future.succeededFuture(V3Records.failed(V3Api.topicNotFound(topic))));
            return;
        }
        Promise<JsonObject> answer = Promise.promise();
        answers.add(answer.future());
        batch.add(new Pending(parsed, answer));
        batchBytes += parsed.estimatedBytes();
    }

    @Override
    public void tooLarge(long maxObjectBytes) {
        objectsSeen++;
        answers.add(Future.succeededFuture(V3Records.failed(new HttpApiException(ErrorCodes.PAYLOAD_TOO_LARGE,
                "The record is larger than the limit of " + maxObjectBytes + " bytes; it was skipped"))));
    }

    @Override
    public void unsplittable(String why) {
        objectsSeen++;
        answers.add(Future.succeededFuture(V3Records.failed(V3Json.badRequest("The body is not a stream of JSON objects: "
                + why))));
        inputDone = true;
    }

    // ---------------------------------------------------------------- produce

    private void sendBatch() {
        if (batch.isEmpty()) {
            return;
        }
        List<Pending> sent = List.copyOf(batch);
        long sentBytes = batchBytes;
        batch.clear();
        batchBytes = 0;
        inFlightBytes += sentBytes;
        List<BrokerService.ProduceRecord> records = sent.stream().map(p -> p.parsed().record()).toList();
        onRequestContext(broker.produce(topic, records, Partition.Acks.ALL)).onComplete(done -> {
            inFlightBytes -= sentBytes;
            for (int i = 0; i < sent.size(); i++) {
                Pending p = sent.get(i);
                if (done.failed()) {
                    p.answer().complete(V3Records.failed(V3Api.failure(ctx, done.cause(), broker)));
                    continue;
                }
                BrokerService.ProduceResult r = done.result().get(i);
                p.answer().complete(r.error() == null
                        ? V3Records.produced(clusterId, topic, p.parsed(), r.partition(), r.offset())
                        : V3Records.failed(V3Api.failure(ctx, r.error(), broker)));
            }
            drain();
        });
    }

    // ---------------------------------------------------------------- output

    /** Writes every answer that is ready, in order; ends the response when all are written. */
    private void drain() {
        if (output == Output.UNDECIDED && !decideOutput()) {
            updateFlow();
            return;
        }
        while (output == Output.STREAMING && !answers.isEmpty() && answers.peek().isComplete()
                && !response.writeQueueFull()) {
            response.write(answers.poll().result().toBuffer().appendString("\n"));
        }
        if (output == Output.STREAMING && inputDone && answers.isEmpty()) {
            output = Output.DONE;
            response.end();
        }
        updateFlow();
    }

    /**
     * Chooses between a plain answer and a stream, once it can be known; false while it cannot.
     * Ends the response itself when the answer is plain.
     */
    private boolean decideOutput() {
        if (answers.isEmpty()) {
            if (inputDone) {
                output = Output.DONE;
                sendPlain(V3Records.failed(V3Json.badRequest("The body holds no record: send one JSON object per record,"
                        + " such as {\"value\":{\"type\":\"JSON\",\"data\":…}}")));
            }
            return false;
        }
        if (!answers.peek().isComplete()) {
            return false;
        }
        boolean singleKnown = !chunkedBody && inputDone && objectsSeen == 1;
        if (singleKnown) {
            output = Output.DONE;
            sendPlain(answers.poll().result());
            return false;
        }
        if (!chunkedBody && !inputDone && objectsSeen < 2) {
            return false; // a Content-Length body with one object so far: it may be the only one
        }
        output = Output.STREAMING;
        response.setStatusCode(200).setChunked(true).putHeader(HttpHeaders.CONTENT_TYPE, HttpApi.JSON);
        return true;
    }

    private void sendPlain(JsonObject answer) {
        Replies.send(ctx, ErrorCodes.httpStatus(answer.getInteger("error_code")), HttpApi.JSON, answer);
    }

    /** Pauses reading while too much is unanswered or the client reads slowly; resumes once it drains. */
    private void updateFlow() {
        boolean full = output != Output.DONE && (answers.size() >= MAX_UNANSWERED || inFlightBytes >= MAX_IN_FLIGHT_BYTES
                || (output == Output.STREAMING && response.writeQueueFull()));
        if (full && !paused) {
            paused = true;
            request.pause();
        } else if (!full && paused) {
            paused = false;
            request.resume();
        }
    }
}

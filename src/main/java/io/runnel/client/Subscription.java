package io.runnel.client;

import java.util.ArrayDeque;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import io.vertx.core.streams.ReadStream;

/**
 * A live subscription to a topic, as a {@link ReadStream} of records with back-pressure: made by
 * {@link EventBusClient#subscribe}.
 *
 * <h2>Model</h2>
 * The subscription consumes a private address ({@code runnel.sub.<uuid>}), registered before the
 * broker is asked to send there. Records arrive into a <em>queue</em> and leave it for the
 * handler while there is <em>demand</em> ({@link #pause} sets it to 0, {@link #resume} to
 * unlimited, {@link #fetch} adds to it). The broker sends only what this side granted: a window
 * of {@code creditWindow} records at the start, and again as many as the handler has taken, in
 * grants of at least half the window. So the queue never holds more than the window, and a paused
 * stream stops the broker from reading the log for it.
 *
 * <p>As with Vert.x's own streams, setting the first handler starts it: the address is registered
 * and the broker asked then, so set the exception and end handlers first.
 *
 * <h2>Ending</h2>
 * {@link #close} unsubscribes. When the broker ends the subscription (topic deleted, broker
 * stopping), the exception handler gets a {@link ReplyException} with the broker's error code,
 * the queued records are still delivered, then the end handler runs. A refused subscribe fails
 * {@link #completion()}, goes to the exception handler and ends the stream. Problems the
 * subscription survives (a fetch error) go to the exception handler as {@link ReplyException}s.
 *
 * <h2>Threading</h2>
 * Confined to the context it was created on: the handlers run there. Methods may be called from
 * any thread; they hop onto it.
 */
public final class Subscription implements ReadStream<ConsumedRecord> {

    private static final Logger LOG = LoggerFactory.getLogger(Subscription.class);

    private final Vertx vertx;
    private final Context context;
    private final String address;
    private final JsonObject request;
    private final int creditWindow;
    private final DeliveryOptions requestOptions;
    private final Promise<Void> subscribed = Promise.promise();
    private final Runnable onClosed;

    // Confined to the context.
    private final ArrayDeque<ConsumedRecord> queue = new ArrayDeque<>();
    private long demand = Long.MAX_VALUE;
    private int takenSinceGrant;
    private MessageConsumer<JsonObject> consumer;
    private Handler<ConsumedRecord> handler;
    private Handler<Void> endHandler;
    private Handler<Throwable> exceptionHandler;
    /** The broker will send no more: deliver the queue, then end. */
    private boolean ending;
    private boolean ended;
    private Future<Void> closing;

    Subscription(Vertx vertx, String topic, String group, String from, int creditWindow, DeliveryOptions requestOptions,
                 Runnable onClosed) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.address = BusContract.SUBSCRIPTION_PREFIX + java.util.UUID.randomUUID();
        this.creditWindow = creditWindow;
        this.requestOptions = requestOptions;
        this.onClosed = onClosed;
        this.request = new JsonObject().put("topic", topic).put("address", address).put("from", from)
                .put("credit", creditWindow).put("encoding", "base64");
        if (group != null) {
            request.put("group", group);
        }
    }

    /** Registers the address, then subscribes; on the context, once, when the first handler is set. */
    private void start() {
        consumer = vertx.eventBus().consumer(address, this::onMessage);
        consumer.completion()
                .compose(x -> vertx.eventBus().<JsonObject>request(BusContract.SUBSCRIBE, request, requestOptions))
                .onComplete(reply -> {
                    if (reply.succeeded()) {
                        subscribed.tryComplete();
                        return;
                    }
                    subscribed.tryFail(reply.cause());
                    fail(reply.cause());
                    ending = true;
                    close();
                });
    }

    /** The address this subscription's messages come to. */
    public String address() {
        return address;
    }

    /** Completes once the broker has accepted the subscription; fails with its refusal. */
    public Future<Void> completion() {
        return subscribed.future();
    }

    /** Commits the record for the subscription's group, so the group resumes after it. */
    public Future<Void> commit(ConsumedRecord record) {
        JsonObject ack = new JsonObject().put("address", address).put("partition", record.partition())
                .put("offset", record.offset());
        return vertx.eventBus().request(BusContract.ACK, ack, requestOptions).mapEmpty();
    }

    /** Unsubscribes and stops consuming; the end handler runs. Idempotent. */
    public Future<Void> close() {
        Promise<Void> done = Promise.promise();
        onContext(() -> closeHere().onComplete(done));
        return done.future();
    }

    private Future<Void> closeHere() {
        if (closing != null) {
            return closing;
        }
        queue.clear();
        if (consumer == null) { // never started: nothing was asked of the broker
            subscribed.tryFail(new IllegalStateException("Closed before a handler was set"));
            closing = Future.succeededFuture();
            end();
            onClosed.run();
            return closing;
        }
        // After the subscribe's answer, so the unsubscribe cannot overtake it; a refused one has nothing to undo.
        Future<Void> unsubscribed = subscribed.future().transform(accepted -> accepted.failed() ? Future.<Void>succeededFuture()
                : vertx.eventBus().request(BusContract.UNSUBSCRIBE, new JsonObject().put("address", address), requestOptions)
                        .<Void>mapEmpty()
                        .recover(e -> e instanceof ReplyException r && r.failureCode() == BusContract.CONSUMER_INSTANCE_NOT_FOUND
                                ? Future.succeededFuture() : Future.failedFuture(e)));
        closing = unsubscribed.eventually(() -> consumer.unregister()).onComplete(x -> {
            end();
            onClosed.run();
        });
        return closing;
    }

    // ---------------------------------------------------------------- ReadStream

    @Override
    public Subscription handler(Handler<ConsumedRecord> handler) {
        onContext(() -> {
            this.handler = handler;
            if (handler != null && consumer == null && closing == null) {
                start();
            }
            drain();
        });
        return this;
    }

    @Override
    public Subscription exceptionHandler(Handler<Throwable> handler) {
        onContext(() -> this.exceptionHandler = handler);
        return this;
    }

    @Override
    public Subscription endHandler(Handler<Void> endHandler) {
        onContext(() -> this.endHandler = endHandler);
        return this;
    }

    @Override
    public Subscription pause() {
        onContext(() -> demand = 0);
        return this;
    }

    @Override
    public Subscription resume() {
        onContext(() -> {
            demand = Long.MAX_VALUE;
            drain();
        });
        return this;
    }

    @Override
    public Subscription fetch(long amount) {
        if (amount < 0) {
            throw new IllegalArgumentException("Cannot fetch a negative number of records: " + amount);
        }
        onContext(() -> {
            demand = demand + amount < 0 ? Long.MAX_VALUE : demand + amount;
            drain();
        });
        return this;
    }

    // ---------------------------------------------------------------- messages from the broker

    private void onMessage(Message<JsonObject> message) {
        JsonObject body = message.body();
        String type = body == null ? null : body.getString("type");
        if (BusContract.MESSAGE_RECORD.equals(type)) {
            if (!ending) {
                queue.add(record(body));
                drain();
            }
        } else if (BusContract.MESSAGE_PROBE.equals(type)) {
            message.reply(new JsonObject()); // alive: the broker keeps the subscription
        } else if (BusContract.MESSAGE_ERROR.equals(type)) {
            fail(new ReplyException(ReplyFailure.RECIPIENT_FAILURE, body.getInteger("error_code", 500),
                    body.getString("message")));
        } else if (BusContract.MESSAGE_END.equals(type)) {
            fail(new ReplyException(ReplyFailure.RECIPIENT_FAILURE, body.getInteger("error_code", 500),
                    "The broker ended the subscription: " + body.getString("reason")));
            ending = true;
            consumer.unregister();
            drain();
        } else if (!BusContract.MESSAGE_ASSIGNMENT.equals(type)) {
            LOG.debug("Ignored a message of unknown type {} on {}", type, address);
        }
    }

    /** Hands queued records to the handler while there is demand; grants credit for what it took. */
    private void drain() {
        while (handler != null && demand > 0 && !queue.isEmpty()) {
            ConsumedRecord r = queue.poll();
            if (demand != Long.MAX_VALUE) {
                demand--;
            }
            takenSinceGrant++;
            handler.handle(r);
        }
        if (ending && queue.isEmpty()) {
            if (closing == null) {
                closing = Future.<Void>succeededFuture().onComplete(x -> onClosed.run());
            }
            end();
            return;
        }
        if (closing == null && takenSinceGrant >= Math.max(1, creditWindow / 2)) {
            grant(takenSinceGrant);
            takenSinceGrant = 0;
        }
    }

    private void grant(int records) {
        JsonObject credit = new JsonObject().put("address", address).put("records", records);
        vertx.eventBus().request(BusContract.CREDIT, credit, requestOptions).onFailure(e -> {
            if (closing == null && !ending) {
                fail(e);
            }
        });
    }

    private void fail(Throwable error) {
        Handler<Throwable> h = exceptionHandler;
        if (h != null) {
            h.handle(error);
        } else {
            LOG.warn("Subscription {} failed and has no exception handler: {}", address, error.toString());
        }
    }

    private void end() {
        if (ended) {
            return;
        }
        ended = true;
        Handler<Void> h = endHandler;
        if (h != null) {
            h.handle(null);
        }
    }

    private static ConsumedRecord record(JsonObject r) {
        Map<String, byte[]> headers = new LinkedHashMap<>();
        JsonObject rawHeaders = r.getJsonObject("headers", new JsonObject());
        for (String name : rawHeaders.fieldNames()) {
            headers.put(name, base64(rawHeaders.getString(name)));
        }
        return new ConsumedRecord(r.getString("topic"), r.getInteger("partition"), r.getLong("offset"),
                r.getLong("timestamp"), base64(r.getString("key")), base64(r.getString("value")), headers);
    }

    private static byte[] base64(String s) {
        return s == null ? null : Base64.getDecoder().decode(s);
    }

    private void onContext(Runnable action) {
        if (Vertx.currentContext() == context) {
            action.run();
        } else {
            context.runOnContext(v -> action.run());
        }
    }
}

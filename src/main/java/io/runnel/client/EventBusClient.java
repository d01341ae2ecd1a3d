package io.runnel.client;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;

/**
 * A typed client of a Runnel broker's event bus API, for Vert.x applications on the broker's
 * event bus: clustered with it (same Hazelcast cluster), or in the same process.
 *
 * <pre>{@code
 * EventBusClient client = EventBusClient.create(vertx);
 * client.produce("orders", "order-1", "{\"total\":42}")
 *       .onSuccess(meta -> log.info("at {}-{}@{}", meta.topic(), meta.partition(), meta.offset()));
 * Subscription orders = client.subscribe("orders", "billing", "earliest");
 * orders.handler(record -> bill(record.valueAsString()));   // pause(), resume(), fetch(n) pace the broker
 * }</pre>
 *
 * <p>Failures: a refused request fails its future with the broker's
 * {@link io.vertx.core.eventbus.ReplyException}, whose {@code failureCode()} is the HTTP API's
 * error code (40401 unknown topic, 422 a bad request, 50002/50003 a broker failure…); no broker
 * at all is NO_HANDLERS, a broker that did not answer in time TIMEOUT.
 *
 * <p>Batching: records produced to one topic in one event-loop turn, or while the topic's
 * previous batch is unanswered, go to the broker as one batch request (up to 500 records or
 * 1 MiB), the way Kafka's producer batches; each future still completes with its own record's
 * partition and offset, and a refused batch fails the future of every record in it. A topic's
 * records are sent in the order {@code produce} was called. See {@link ProduceBatcher}.
 *
 * <p>Thread-safe: methods may be called from any thread. The batching state lives on the context
 * the client was created on ({@link #create} called off any context makes one). Futures complete
 * on the caller's context (on the client's, for a caller off any context).
 * Depends on nothing of the broker (it is embedded in applications).
 */
public final class EventBusClient {

    /**
     * How the client is configured.
     *
     * @param requestTimeoutMs how long a request waits for the broker's reply
     * @param creditWindow     per subscription, the most records the broker may have sent and the
     *                         application not yet taken (the queue's bound)
     */
    public record Options(long requestTimeoutMs, int creditWindow) {

        /** 30 s: the event bus's own default, well above a produce's fsync. */
        public static final long DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
        /** 1,000 records: keeps a subscriber streaming at 10,000 records/s across a 100 ms round trip. */
        public static final int DEFAULT_CREDIT_WINDOW = 1_000;

        public Options {
            if (requestTimeoutMs < 1) {
                throw new IllegalArgumentException("requestTimeoutMs must be positive, not " + requestTimeoutMs);
            }
            if (creditWindow < 1) {
                throw new IllegalArgumentException("creditWindow must be positive, not " + creditWindow);
            }
        }

        public static Options defaults() {
            return new Options(DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_CREDIT_WINDOW);
        }
    }

    private final Vertx vertx;
    private final Options options;
    private final DeliveryOptions requestOptions;
    private final Set<Subscription> open = ConcurrentHashMap.newKeySet();
    private final ProduceBatcher batcher;

    private EventBusClient(Vertx vertx, Options options) {
        this.vertx = vertx;
        this.options = options;
        this.requestOptions = new DeliveryOptions().setSendTimeout(options.requestTimeoutMs());
        this.batcher = new ProduceBatcher(vertx, vertx.getOrCreateContext(), requestOptions);
    }

    public static EventBusClient create(Vertx vertx) {
        return create(vertx, Options.defaults());
    }

    public static EventBusClient create(Vertx vertx, Options options) {
        return new EventBusClient(vertx, options);
    }

    /** Produces a record with a text key and value (either may be null), stored as UTF-8. */
    public Future<RecordMetadata> produce(String topic, String key, String value) {
        return produce(topic, null, utf8(key), utf8(value), Map.of());
    }

    /** Produces a record with these bytes (either may be null). */
    public Future<RecordMetadata> produce(String topic, byte[] key, byte[] value) {
        return produce(topic, null, key, value, Map.of());
    }

    /**
     * Produces a record to {@code partition} (null: by the key's hash, else round robin), with
     * headers (a null value is a header without a value).
     */
    public Future<RecordMetadata> produce(String topic, Integer partition, byte[] key, byte[] value,
                                          Map<String, byte[]> headers) {
        JsonObject record = new JsonObject().put("key", base64(key)).put("value", base64(value));
        long bytes = length(key) + length(value);
        if (!headers.isEmpty()) {
            JsonObject encodedHeaders = new JsonObject();
            for (Map.Entry<String, byte[]> h : headers.entrySet()) {
                encodedHeaders.put(h.getKey(), base64(h.getValue()));
                bytes += h.getKey().length() + length(h.getValue());
            }
            record.put("headers", encodedHeaders);
        }
        if (partition != null) {
            record.put("partition", partition);
        }
        return batcher.produce(topic, record, bytes);
    }

    /**
     * Subscribes to {@code topic}. With a {@code group}, subscriptions in one group share the
     * topic's partitions and start from the group's committed offsets ({@link Subscription#commit}).
     * {@code from} says where a partition without a committed offset starts: {@code "earliest"},
     * {@code "latest"}, an offset, or {@code "timestamp:{ms}"}. Setting the stream's handler starts
     * it (set the exception and end handlers first); {@link Subscription#completion()} then says
     * whether the broker accepted.
     */
    public Subscription subscribe(String topic, String group, String from) {
        Subscription[] made = new Subscription[1];
        made[0] = new Subscription(vertx, topic, group, from, options.creditWindow(), requestOptions,
                () -> open.remove(made[0]));
        open.add(made[0]);
        return made[0];
    }

    /** Closes every open subscription (each unsubscribes). */
    public Future<Void> close() {
        List<Future<Void>> closing = new ArrayList<>();
        for (Subscription s : List.copyOf(open)) {
            closing.add(s.close());
        }
        return Future.join(closing).mapEmpty();
    }

    private static String base64(byte[] bytes) {
        return bytes == null ? null : Base64.getEncoder().encodeToString(bytes);
    }

    private static byte[] utf8(String text) {
        return text == null ? null : text.getBytes(StandardCharsets.UTF_8);
    }

    private static int length(byte[] bytes) {
        return bytes == null ? 0 : bytes.length;
    }
}

package io.runnel.api.eventbus;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;

import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.broker.TopicConfigs;
import io.runnel.broker.TopicManager;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * The event bus API (DESIGN.md, "Event bus"): the broker serves the addresses of
 * {@link EventBusAddresses} on its Vert.x event bus, so a Vert.x application in the same cluster
 * (Hazelcast) or a client of the TCP bridge ({@link EventBusBridge}) produces, fetches, subscribes
 * and manages topics. Every answer is a reply; every refusal a {@code ReplyException}
 * (RECIPIENT_FAILURE) whose failure code is the HTTP API's error code ({@link BusErrorCodes}).
 *
 * <h2>Use</h2>
 * <pre>{@code
 * EventBusApi api = EventBusApi.deploy(vertx, broker, EventBusApi.Settings.defaults()).await();
 * ...
 * api.close();   // ends every subscription (an "end" message each) and stops serving
 * }</pre>
 * {@link #deploy} completes once every consumer is registered, cluster-wide when the Vert.x is
 * clustered, so a request sent after it finds the broker.
 *
 * <h2>Invariants</h2>
 * At most one subscription per address; an address is free again once its subscription has
 * closed (unsubscribed, ended by the broker, or found without a consumer by its probe).
 *
 * <h2>Threading</h2>
 * A verticle: its consumers, the subscriptions and their timers all run on its one event-loop
 * context, and nothing here blocks it (broker calls return futures that complete back on it).
 */
public final class EventBusApi extends VerticleBase {

    /**
     * What the API is configured with.
     *
     * @param fetchWaitMs     how long a subscription's long poll of a partition waits before it is renewed
     * @param fetchMaxBytes   per subscription, the most one round of fetches asks for (divided among its partitions)
     * @param probeIntervalMs a subscriber silent this long is probed (see {@link BusSubscription}, "Liveness")
     * @param probeTimeoutMs  how long a probe waits for its reply; a timeout still proves a consumer exists
     */
    public record Settings(long fetchWaitMs, int fetchMaxBytes, long probeIntervalMs, long probeTimeoutMs) {

        /** 10 s: a waiting long poll costs nothing; renewing it more often only adds empty fetches. */
        public static final long DEFAULT_FETCH_WAIT_MS = 10_000;
        /** 256 KiB: about a thousand 200-byte records, enough to stream 10,000 records/s across a 100 ms round trip. */
        public static final int DEFAULT_FETCH_MAX_BYTES = 256 * 1024;
        /** 10 s: a vanished subscriber (and its reads) is let go within about this plus the timeout. */
        public static final long DEFAULT_PROBE_INTERVAL_MS = 10_000;
        /** 5 s: far above a cluster round trip, so only a consumer that does not reply times out. */
        public static final long DEFAULT_PROBE_TIMEOUT_MS = 5_000;

        public Settings {
            if (fetchWaitMs < 1 || fetchMaxBytes < 1 || probeIntervalMs < 1 || probeTimeoutMs < 1) {
                throw new IllegalArgumentException("Every setting must be positive: " + fetchWaitMs + ", "
                        + fetchMaxBytes + ", " + probeIntervalMs + ", " + probeTimeoutMs);
            }
        }

        public static Settings defaults() {
            return new Settings(DEFAULT_FETCH_WAIT_MS, DEFAULT_FETCH_MAX_BYTES, DEFAULT_PROBE_INTERVAL_MS,
                    DEFAULT_PROBE_TIMEOUT_MS);
        }
    }

    private final BrokerService broker;
    private final Settings settings;
    private final List<MessageConsumer<Object>> consumers = new ArrayList<>();
    /** By address; on the verticle's context only. */
    private final Map<String, BusSubscription> subscriptions = new HashMap<>();
    private volatile int subscriptionCount;
    private String deploymentId;
    private Future<Void> closing;

    private EventBusApi(BrokerService broker, Settings settings) {
        this.broker = broker;
        this.settings = settings;
    }

    /** Deploys the API on {@code vertx}; completes once its addresses are served. */
    public static Future<EventBusApi> deploy(Vertx vertx, BrokerService broker, Settings settings) {
        EventBusApi api = new EventBusApi(broker, settings);
        return vertx.deployVerticle(api).map(id -> {
            api.deploymentId = id;
            return api;
        });
    }

    /** Ends every subscription and stops serving. Idempotent. */
    public synchronized Future<Void> close() {
        if (closing == null) {
            closing = deploymentId == null ? Future.succeededFuture() : vertx.undeploy(deploymentId);
        }
        return closing;
    }

    /** How many subscriptions are open now (for metrics and tests); from any thread. */
    public int subscriptionCount() {
        return subscriptionCount;
    }

    @Override
    public Future<?> start() {
        serve(EventBusAddresses.PRODUCE, this::produce);
        serve(EventBusAddresses.FETCH, this::fetch);
        serve(EventBusAddresses.SUBSCRIBE, this::subscribe);
        serve(EventBusAddresses.UNSUBSCRIBE, this::unsubscribe);
        serve(EventBusAddresses.CREDIT, this::credit);
        serve(EventBusAddresses.ACK, this::ack);
        serve(EventBusAddresses.TOPICS_LIST, this::listTopics);
        serve(EventBusAddresses.TOPICS_CREATE, this::createTopic);
        serve(EventBusAddresses.TOPICS_DELETE, this::deleteTopic);
        serve(EventBusAddresses.TOPICS_DESCRIBE, this::describeTopic);
        return Future.all(consumers.stream().map(MessageConsumer::completion).toList());
    }

    /** Stops taking requests first, so no subscription starts while the open ones end. */
    @Override
    public Future<?> stop() {
        return Future.join(consumers.stream().map(MessageConsumer::unregister).toList())
                .transform(x -> Future.join(List.copyOf(subscriptions.values()).stream().map(s -> {
                    s.end(new BusException(BusErrorCodes.KAFKA_RETRIABLE_ERROR, "The broker is shutting down"));
                    return s.close();
                }).toList()));
    }

    /**
     * Serves {@code address} with {@code handler}: its future's value is the reply; a failure
     * becomes a {@code ReplyException} with the failure's error code, as does a refusal thrown
     * while reading the request.
     */
    private void serve(String address, Function<Message<Object>, Future<JsonObject>> handler) {
        consumers.add(vertx.eventBus().consumer(address, message -> {
            Future<JsonObject> answer;
            try {
                answer = handler.apply(message);
            } catch (RuntimeException e) {
                answer = Future.failedFuture(e);
            }
            answer.onComplete(done -> {
                if (done.succeeded()) {
                    message.reply(done.result());
                } else {
                    BusException refusal = BusErrorCodes.forFailure(done.cause(), topicExists(message.body()));
                    message.fail(refusal.errorCode(), refusal.getMessage());
                }
            });
        }));
    }

    /** Whether the topic a request names exists: it tells an unknown topic (40401) from an unknown partition (40402). */
    private boolean topicExists(Object body) {
        if (body instanceof JsonObject o && o.getValue("topic") instanceof String name) {
            try {
                broker.topics().topic(name);
                return true;
            } catch (UnknownTopicOrPartitionException e) {
                return false;
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- records

    private Future<JsonObject> produce(Message<Object> message) {
        if (BusRequests.isProduceBatch(message.body())) {
            return produceBatch(BusRequests.produceBatch(message.body()));
        }
        BusRequests.Produce request = BusRequests.produce(message.body());
        return broker.produce(request.topic(), List.of(request.record()), Partition.Acks.ALL).compose(results -> {
            BrokerService.ProduceResult r = results.get(0);
            if (r.error() != null) {
                return Future.failedFuture(BusErrorCodes.forRecordFailure(r.error()));
            }
            return Future.succeededFuture(new JsonObject().put("partition", r.partition()).put("offset", r.offset()));
        });
    }

    /**
     * The batch form (see {@link EventBusAddresses#PRODUCE}): refused whole by anything the
     * records decide, before anything is written ({@link BrokerService#produceAllOrNothing}). An
     * append failure in one partition fails the request with that partition's error; when the
     * batch spanned several partitions, the others may have been written (as a Kafka produce
     * request spanning partitions can be).
     */
    private Future<JsonObject> produceBatch(BusRequests.ProduceBatch request) {
        return broker.produceAllOrNothing(request.topic(), request.records(), Partition.Acks.ALL).compose(results -> {
            JsonArray offsets = new JsonArray(new ArrayList<>(results.size()));
            for (BrokerService.ProduceResult r : results) {
                if (r.error() != null) {
                    return Future.failedFuture(BusErrorCodes.forRecordFailure(r.error()));
                }
                offsets.add(new JsonObject().put("partition", r.partition()).put("offset", r.offset()));
            }
            return Future.succeededFuture(new JsonObject().put("offsets", offsets));
        });
    }

    /**
     * Kafka's max.partition.fetch.bytes: what one fetch reads at most. At least one batch comes
     * back whatever its size, so a record larger than this is still served.
     */
    static final int FETCH_MAX_BYTES = 1024 * 1024;

    private Future<JsonObject> fetch(Message<Object> message) {
        BusRequests.Fetch request = BusRequests.fetch(message.body());
        return broker.fetch(request.topic(), request.partition(), request.offset(), FETCH_MAX_BYTES, 1, request.maxWaitMs())
                .map(fetched -> {
                    Partition.ReadResult read = fetched.read();
                    BusRecords.Decoded decoded = BusRecords.decode(request.topic(), request.partition(), read,
                            request.offset(), request.maxRecords(), request.encoding());
                    return new JsonObject()
                            .put("records", new JsonArray(new ArrayList<>(decoded.records())))
                            .put("nextOffset", decoded.nextOffset())
                            .put("highWatermark", read.highWatermark())
                            .put("logStartOffset", read.logStartOffset());
                });
    }

    // ---------------------------------------------------------------- subscriptions

    private Future<JsonObject> subscribe(Message<Object> message) {
        BusRequests.Subscribe request = BusRequests.subscribe(message.body());
        if (subscriptions.containsKey(request.address())) {
            throw new BusException(BusErrorCodes.CONSUMER_ALREADY_EXISTS, "A subscription already sends to '"
                    + request.address() + "'; pick another address or unsubscribe it first");
        }
        String id = UUID.randomUUID().toString();
        BusSubscription[] made = new BusSubscription[1];
        made[0] = new BusSubscription(vertx, broker, request, settings, id, () -> {
            subscriptions.remove(request.address(), made[0]);
            subscriptionCount = subscriptions.size();
        });
        subscriptions.put(request.address(), made[0]);
        subscriptionCount = subscriptions.size();
        return made[0].start().map(partitions -> new JsonObject()
                .put("subscription", id)
                .put("address", request.address())
                .put("partitions", new JsonArray(new ArrayList<>(partitions))));
    }

    private BusSubscription subscription(String address) {
        BusSubscription s = subscriptions.get(address);
        if (s == null) {
            throw new BusException(BusErrorCodes.CONSUMER_INSTANCE_NOT_FOUND, "No subscription sends to '" + address
                    + "' (never made, unsubscribed, or ended by the broker)");
        }
        return s;
    }

    private Future<JsonObject> unsubscribe(Message<Object> message) {
        BusSubscription s = subscription(BusRequests.unsubscribe(message.body()));
        return s.close().map(x -> new JsonObject().put("subscription", s.id()).put("recordsSent", s.recordsSent()));
    }

    private Future<JsonObject> credit(Message<Object> message) {
        BusRequests.Credit request = BusRequests.credit(message.body());
        long now = subscription(request.address()).credit(request.records());
        return Future.succeededFuture(new JsonObject().put("credit", now));
    }

    private Future<JsonObject> ack(Message<Object> message) {
        BusRequests.Ack request = BusRequests.ack(message.body());
        return subscription(request.address()).ack(request.partition(), request.offset()).map(x -> new JsonObject());
    }

    // ---------------------------------------------------------------- topics

    private Future<JsonObject> listTopics(Message<Object> message) {
        BusRequests.topicsList(message.body());
        return Future.succeededFuture(new JsonObject().put("topics", new JsonArray(List.copyOf(broker.topics().topicNames()))));
    }

    private Future<JsonObject> createTopic(Message<Object> message) {
        BusRequests.CreateTopic request = BusRequests.createTopic(message.body());
        int partitions = request.partitions() != null ? request.partitions() : broker.defaultPartitions();
        return broker.topics().createTopic(request.topic(), partitions, request.configs()).compose(this::describe);
    }

    private Future<JsonObject> deleteTopic(Message<Object> message) {
        String topic = BusRequests.topic(message.body());
        return broker.topics().deleteTopic(topic).map(x -> new JsonObject().put("topic", topic));
    }

    private Future<JsonObject> describeTopic(Message<Object> message) {
        return describe(broker.topics().topic(BusRequests.topic(message.body())));
    }

    private Future<JsonObject> describe(TopicManager.Topic t) {
        List<Future<JsonObject>> partitions = new ArrayList<>();
        for (int p = 0; p < t.partitions().size(); p++) {
            int partition = p;
            Future<Long> start = broker.listOffset(t.name(), p, Partition.EARLIEST_TIMESTAMP);
            Future<Long> end = broker.listOffset(t.name(), p, Partition.LATEST_TIMESTAMP);
            partitions.add(Future.all(start, end).map(x -> new JsonObject().put("partition", partition)
                    .put("logStartOffset", start.result()).put("highWatermark", end.result())));
        }
        JsonObject configs = new JsonObject();
        TopicConfigs.effective(t.config(), t.configOverrides()).forEach(configs::put);
        return Future.all(partitions).map(x -> new JsonObject()
                .put("topic", t.name())
                .put("configs", configs)
                .put("partitions", new JsonArray(partitions.stream().map(Future::result).toList())));
    }
}

package io.runnel.api.eventbus;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.runnel.broker.BrokerIdentity;
import io.runnel.broker.BrokerService;
import io.runnel.broker.OffsetsTopicStore;
import io.runnel.broker.TopicManager;
import io.runnel.config.LogConfig;
import io.runnel.group.GroupConfig;
import io.runnel.group.GroupCoordinator;
import io.runnel.log.GroupCommitFlusher;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;

/**
 * A broker with the event bus API deployed on a given Vert.x (clustered or not), for the event
 * bus and client tests: topics on a temporary directory (durable acks, as the server runs), a
 * group coordinator (no initial rebalance delay), and helpers that send requests and collect a
 * subscription address's messages. Blocking helpers wait on the test's thread, never on an event
 * loop, and every wait is bounded.
 */
public final class EventBusFixture implements AutoCloseable {

    public static final long AWAIT_SECONDS = 10;

    public final Vertx vertx;
    public final TopicManager topics;
    public final GroupCoordinator groups;
    public final BrokerService broker;
    public final EventBusApi api;
    private final GroupCommitFlusher flusher;

    private EventBusFixture(Vertx vertx, TopicManager topics, GroupCoordinator groups, BrokerService broker,
                            EventBusApi api, GroupCommitFlusher flusher) {
        this.vertx = vertx;
        this.topics = topics;
        this.groups = groups;
        this.broker = broker;
        this.api = api;
        this.flusher = flusher;
    }

    public static EventBusFixture start(Vertx vertx, Path dataDir, EventBusApi.Settings settings,
                                        boolean autoCreateTopics) throws Exception {
        GroupCommitFlusher flusher = new GroupCommitFlusher();
        TopicManager topics = await(TopicManager.start(vertx, dataDir, LogConfig.defaults(), 2, flusher,
                vertx.createSharedWorkerExecutor("runnel-log-eventbus-test", 2), true));
        OffsetsTopicStore store = await(OffsetsTopicStore.start(vertx, topics, 1));
        GroupCoordinator groups = await(GroupCoordinator.start(vertx, store, new GroupConfig(0, 1, 1_800_000)));
        BrokerService broker = new BrokerService(new BrokerIdentity(0, "eventbus-test"), topics, groups,
                autoCreateTopics, 1);
        EventBusApi api = await(EventBusApi.deploy(vertx, broker, settings));
        return new EventBusFixture(vertx, topics, groups, broker, api, flusher);
    }

    public static EventBusApi.Settings settings() {
        return EventBusApi.Settings.defaults();
    }

    public static <T> T await(Future<T> f) throws Exception {
        return f.await(AWAIT_SECONDS, TimeUnit.SECONDS);
    }

    /** Creates a topic with {@code partitions} partitions. */
    public void createTopic(String topic, int partitions) throws Exception {
        await(topics.createTopic(topic, partitions, java.util.Map.of()));
    }

    /** Sends a request from {@code from}'s event bus and returns the reply's body. */
    public static JsonObject request(Vertx from, String address, Object body) throws Exception {
        return await(from.eventBus().<JsonObject>request(address, body)).body();
    }

    /** Sends a request that must be refused, and returns the refusal. */
    public static ReplyException refusal(Vertx from, String address, Object body) throws Exception {
        try {
            Object reply = await(from.eventBus().request(address, body)).body();
            throw new AssertionError("Expected " + address + " to refuse " + body + ", but it answered " + reply);
        } catch (ReplyException e) {
            return e;
        }
    }

    JsonObject request(String address, Object body) throws Exception {
        return request(vertx, address, body);
    }

    ReplyException refusal(String address, Object body) throws Exception {
        return refusal(vertx, address, body);
    }

    /** Consumes {@code address} on {@code on}, queueing every message body (probes are answered). */
    public static Inbox inbox(Vertx on, String address) throws Exception {
        Inbox inbox = new Inbox();
        inbox.consumer = on.eventBus().consumer(address, m -> {
            JsonObject body = m.body();
            if (EventBusAddresses.MESSAGE_PROBE.equals(body.getString("type"))) {
                inbox.probes.incrementAndGet();
                if (inbox.answerProbes) {
                    m.reply(new JsonObject());
                }
                return;
            }
            inbox.messages.add(body);
        });
        await(inbox.consumer.completion());
        return inbox;
    }

    Inbox inbox(String address) throws Exception {
        return inbox(vertx, address);
    }

    /** A test's subscription address: every message the broker sends there, in order. */
    public static final class Inbox {
        public final BlockingQueue<JsonObject> messages = new LinkedBlockingQueue<>();
        final java.util.concurrent.atomic.AtomicInteger probes = new java.util.concurrent.atomic.AtomicInteger();
        volatile boolean answerProbes = true;
        MessageConsumer<JsonObject> consumer;

        /** The next message of {@code type}, skipping others; fails when none comes in time. */
        public JsonObject next(String type) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(AWAIT_SECONDS);
            while (System.nanoTime() < deadline) {
                JsonObject m = messages.poll(Math.max(1, (deadline - System.nanoTime()) / 1_000_000), TimeUnit.MILLISECONDS);
                if (m != null && type.equals(m.getString("type"))) {
                    return m;
                }
            }
            throw new AssertionError("No " + type + " message within " + AWAIT_SECONDS + " s");
        }

        /** {@code n} records, skipping other messages. */
        public java.util.List<JsonObject> records(int n) throws Exception {
            java.util.List<JsonObject> out = new java.util.ArrayList<>();
            while (out.size() < n) {
                out.add(next(EventBusAddresses.MESSAGE_RECORD));
            }
            return out;
        }

        /** Asserts no record arrives within {@code ms} (other messages are let by). */
        public void assertNoRecordFor(long ms) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
            while (System.nanoTime() < deadline) {
                JsonObject m = messages.poll(Math.max(1, (deadline - System.nanoTime()) / 1_000_000), TimeUnit.MILLISECONDS);
                assertThat(m == null || !EventBusAddresses.MESSAGE_RECORD.equals(m.getString("type")))
                        .as("no record within %d ms, got %s", ms, m).isTrue();
            }
        }

        public void unregister() throws Exception {
            await(consumer.unregister());
        }
    }

    /** Waits until {@code condition} holds, polling on the test's thread. */
    public static void eventually(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(AWAIT_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Not within " + AWAIT_SECONDS + " s: " + what);
            }
            Thread.sleep(20);
        }
    }

    @Override
    public void close() throws Exception {
        await(api.close());
        await(groups.close());
        await(topics.close());
        flusher.close();
    }
}

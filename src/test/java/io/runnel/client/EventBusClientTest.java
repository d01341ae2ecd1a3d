package io.runnel.client;

import static io.runnel.api.eventbus.EventBusFixture.await;
import static io.runnel.api.eventbus.EventBusFixture.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.api.eventbus.EventBusFixture;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;

/**
 * The typed client against a broker in the same process (the clustered case is
 * {@link EventBusClientClusterTest}): produce, subscribe, and back-pressure that reaches the broker.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EventBusClientTest {

    static final int WINDOW = 4;

    @TempDir
    Path dataDir;

    EventBusFixture bus;
    EventBusClient client;

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        bus = EventBusFixture.start(vertx, dataDir, EventBusFixture.settings(), false);
        client = EventBusClient.create(vertx, new EventBusClient.Options(10_000, WINDOW));
    }

    @AfterEach
    void stop() throws Exception {
        await(client.close());
        bus.close();
    }

    @Test
    void produceAnswersWhereTheRecordWentWithItsBytesHeadersAndPartitionKept() throws Exception {
        bus.createTopic("orders", 2);
        RecordMetadata text = await(client.produce("orders", "k", "hello"));
        byte[] raw = {(byte) 0xff, 1, 2};
        RecordMetadata bytes = await(client.produce("orders", 1, null, raw, Map.of("h", new byte[] {9})));

        assertThat(text.topic()).isEqualTo("orders");
        assertThat(bytes).isEqualTo(new RecordMetadata("orders", 1, text.partition() == 1 ? 1 : 0));

        BlockingQueue<ConsumedRecord> received = new LinkedBlockingQueue<>();
        Subscription s = client.subscribe("orders", null, "earliest");
        s.handler(received::add);
        await(s.completion());
        List<ConsumedRecord> both = List.of(poll(received), poll(received));
        ConsumedRecord blob = both.stream().filter(r -> r.partition() == 1 && r.offset() == bytes.offset()).findFirst()
                .orElseThrow();
        assertThat(blob.value()).isEqualTo(raw);
        assertThat(blob.key()).isNull();
        assertThat(blob.headers().get("h")).isEqualTo(new byte[] {9});
        ConsumedRecord hello = both.get(both.get(0) == blob ? 1 : 0);
        assertThat(hello.keyAsString()).isEqualTo("k");
        assertThat(hello.valueAsString()).isEqualTo("hello");
    }

    @Test
    void aRefusalFailsTheFutureWithTheHttpApisCode() throws Exception {
        Throwable produce = await(client.produce("nowhere", "k", "v").map(x -> (Throwable) null).otherwise(e -> e));
        assertThat(produce).isInstanceOf(ReplyException.class);
        assertThat(((ReplyException) produce).failureCode()).isEqualTo(40401);

        List<Throwable> errors = new CopyOnWriteArrayList<>();
        AtomicBoolean ended = new AtomicBoolean();
        Subscription s = client.subscribe("nowhere", null, "earliest");
        s.exceptionHandler(errors::add).endHandler(v -> ended.set(true)).handler(r -> { });
        Throwable subscribe = await(s.completion().map(x -> (Throwable) null).otherwise(e -> e));

        assertThat(((ReplyException) subscribe).failureCode()).isEqualTo(40401);
        eventually("the stream ends", ended::get);
        assertThat(errors).hasSize(1);
    }

    @Test
    void aPausedStreamStopsTheBrokerAfterTheWindowAndFetchAndResumeDeliverTheRestInOrder(Vertx vertx) throws Exception {
        bus.createTopic("orders", 1);
        AtomicInteger recordsSentByBroker = new AtomicInteger();
        vertx.eventBus().addOutboundInterceptor(delivery -> {
            if (delivery.message().address().startsWith("runnel.sub.")
                    && delivery.message().body() instanceof JsonObject body && "record".equals(body.getString("type"))) {
                recordsSentByBroker.incrementAndGet();
            }
            delivery.next();
        });
        List<String> received = new CopyOnWriteArrayList<>();
        Subscription s = client.subscribe("orders", null, "earliest");
        s.pause().handler(r -> received.add(r.valueAsString()));
        await(s.completion());

        for (int i = 0; i < 20; i++) {
            await(client.produce("orders", null, "v" + i));
        }
        Thread.sleep(300);
        assertThat(received).as("paused: nothing delivered").isEmpty();
        assertThat(recordsSentByBroker.get()).as("the broker stops at the window").isEqualTo(WINDOW);

        s.fetch(3);
        eventually("three delivered", () -> received.size() == 3);
        Thread.sleep(200);
        assertThat(received).containsExactly("v0", "v1", "v2");

        s.resume();
        eventually("all delivered", () -> received.size() == 20);
        assertThat(received).containsExactlyElementsOf(java.util.stream.IntStream.range(0, 20).mapToObj(i -> "v" + i).toList());
        assertThat(recordsSentByBroker.get()).isEqualTo(20);
    }

    @Test
    void closingUnsubscribesAndEndsTheStream() throws Exception {
        bus.createTopic("orders", 1);
        AtomicBoolean ended = new AtomicBoolean();
        Subscription s = client.subscribe("orders", "g", "latest");
        s.endHandler(v -> ended.set(true)).handler(r -> { });
        await(s.completion());
        assertThat(bus.api.subscriptionCount()).isEqualTo(1);

        await(s.close());

        assertThat(ended).isTrue();
        assertThat(bus.api.subscriptionCount()).isZero();
    }

    @Test
    void aCommittedRecordIsNotDeliveredAgainToTheGroup() throws Exception {
        bus.createTopic("orders", 1);
        for (int i = 0; i < 3; i++) {
            await(client.produce("orders", null, "v" + i));
        }
        BlockingQueue<ConsumedRecord> first = new LinkedBlockingQueue<>();
        Subscription s = client.subscribe("orders", "billing", "earliest");
        s.handler(first::add);
        await(s.completion());
        poll(first);
        ConsumedRecord second = poll(first);
        await(s.commit(second));
        await(s.close());

        BlockingQueue<ConsumedRecord> again = new LinkedBlockingQueue<>();
        Subscription resumed = client.subscribe("orders", "billing", "earliest");
        resumed.handler(again::add);

        assertThat(poll(again).valueAsString()).isEqualTo("v2");
    }

    // ---------------------------------------------------------------- batching

    /** Produce requests the event bus carried, and the records in them. */
    record ProduceTraffic(AtomicInteger requests, AtomicInteger records) {
    }

    static ProduceTraffic watchProduceRequests(Vertx vertx) {
        ProduceTraffic traffic = new ProduceTraffic(new AtomicInteger(), new AtomicInteger());
        vertx.eventBus().addOutboundInterceptor(delivery -> {
            if (BusContract.PRODUCE.equals(delivery.message().address())
                    && delivery.message().body() instanceof JsonObject body) {
                traffic.requests().incrementAndGet();
                traffic.records().addAndGet(body.containsKey("records") ? body.getJsonArray("records").size() : 1);
            }
            delivery.next();
        });
        return traffic;
    }

    /**
     * Creates a client on a new context and, in one task there (one event-loop turn), produces
     * {@code values} to {@code topic} in order; returns the futures, in call order.
     */
    static List<Future<RecordMetadata>> produceInOneTurn(Vertx vertx, String topic, List<String> values) throws Exception {
        CompletableFuture<List<Future<RecordMetadata>>> made = new CompletableFuture<>();
        vertx.getOrCreateContext().runOnContext(v -> {
            EventBusClient onContext = EventBusClient.create(vertx);
            made.complete(values.stream().map(value -> onContext.produce(topic, null, value)).toList());
        });
        return made.get(EventBusFixture.AWAIT_SECONDS, TimeUnit.SECONDS);
    }

    static List<String> values(int n) {
        return IntStream.range(0, n).mapToObj(i -> "v" + i).toList();
    }

    @Test
    void produceCallsInOneTurnTravelAsFewBatchesAndEachFutureGetsItsOwnOffsetInCallOrder(Vertx vertx) throws Exception {
        bus.createTopic("orders", 1);
        ProduceTraffic traffic = watchProduceRequests(vertx);

        List<Future<RecordMetadata>> produced = produceInOneTurn(vertx, "orders", values(1000));
        await(Future.all(produced));

        int batchesExpected = (1000 + ProduceBatcher.BATCH_RECORDS_MAX - 1) / ProduceBatcher.BATCH_RECORDS_MAX;
        assertThat(traffic.requests().get()).as("requests for 1,000 records in one turn").isEqualTo(batchesExpected);
        assertThat(traffic.records().get()).isEqualTo(1000);
        for (int i = 0; i < produced.size(); i++) {
            assertThat(produced.get(i).result()).as("record %d", i).isEqualTo(new RecordMetadata("orders", 0, i));
        }
        JsonObject fetched = EventBusFixture.request(vertx, "runnel.fetch", new JsonObject().put("topic", "orders")
                .put("partition", 0).put("offset", 0).put("maxRecords", 1000));
        assertThat(fetched.getJsonArray("records").stream().map(r -> ((JsonObject) r).getString("value")).toList())
                .containsExactlyElementsOf(values(1000));
    }

    @Test
    void aRefusedBatchFailsTheFutureOfEveryRecordInItAndTheNextBatchGoesOn(Vertx vertx) throws Exception {
        await(bus.topics.createTopic("small", 1, Map.of("max.message.bytes", "300")));
        List<String> values = List.of("v0", "v1", "x".repeat(500), "v3");

        List<Future<RecordMetadata>> produced = produceInOneTurn(vertx, "small", values);
        await(Future.join(produced).transform(allDone -> Future.succeededFuture())); // some fail: wait for all

        for (Future<RecordMetadata> f : produced) {
            assertThat(f.failed()).as("every record of the refused batch fails").isTrue();
            assertThat(f.cause()).isInstanceOfSatisfying(ReplyException.class, e -> {
                assertThat(e.failureCode()).isEqualTo(50002);
                assertThat(e.getMessage()).startsWith("MESSAGE_TOO_LARGE");
            });
        }
        assertThat(await(bus.broker.listOffset("small", 0, io.runnel.broker.Partition.LATEST_TIMESTAMP)))
                .as("nothing of the refused batch was written").isZero();
        assertThat(await(client.produce("small", null, "after")).offset()).isZero();
    }

    @Test
    void recordsProducedFromOtherThreadsKeepTheirCallOrderAndAnswerOnTheCallersContext(Vertx vertx) throws Exception {
        bus.createTopic("orders", 1);
        ProduceTraffic traffic = watchProduceRequests(vertx);

        List<Future<RecordMetadata>> produced = values(2000).stream().map(v -> client.produce("orders", null, v)).toList();
        await(Future.all(produced));

        for (int i = 0; i < produced.size(); i++) {
            assertThat(produced.get(i).result().offset()).as("record %d", i).isEqualTo(i);
        }
        assertThat(traffic.records().get()).isEqualTo(2000);
        assertThat(traffic.requests().get()).as("records waiting for an outstanding batch go together")
                .isLessThan(2000);

        io.vertx.core.Context caller = vertx.getOrCreateContext();
        CompletableFuture<Boolean> answeredOnCaller = new CompletableFuture<>();
        caller.runOnContext(v -> client.produce("orders", null, "from a context")
                .onComplete(done -> answeredOnCaller.complete(done.succeeded() && Vertx.currentContext() == caller)));
        assertThat(answeredOnCaller.get(EventBusFixture.AWAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    }

    static ConsumedRecord poll(BlockingQueue<ConsumedRecord> queue) throws InterruptedException {
        ConsumedRecord r = queue.poll(EventBusFixture.AWAIT_SECONDS, TimeUnit.SECONDS);
        assertThat(r).as("a record within %d s", EventBusFixture.AWAIT_SECONDS).isNotNull();
        return r;
    }
}

package io.runnel.client;

import static io.runnel.api.eventbus.EventBusFixture.await;
import static io.runnel.api.eventbus.EventBusFixture.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.api.eventbus.EventBusFixture;
import io.runnel.testing.BlockedEventLoopExtension;
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

    static ConsumedRecord poll(BlockingQueue<ConsumedRecord> queue) throws InterruptedException {
        ConsumedRecord r = queue.poll(EventBusFixture.AWAIT_SECONDS, TimeUnit.SECONDS);
        assertThat(r).as("a record within %d s", EventBusFixture.AWAIT_SECONDS).isNotNull();
        return r;
    }
}

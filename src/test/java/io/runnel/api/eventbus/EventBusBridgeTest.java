package io.runnel.api.eventbus;

import static io.runnel.api.eventbus.EventBusFixture.await;
import static io.runnel.api.eventbus.EventBusFixture.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

/**
 * The TCP event bus bridge as a program in another language sees it: a plain socket speaking the
 * bridge's framing (a 4-byte big-endian length, then that many bytes of UTF-8 JSON). It produces,
 * subscribes and receives records; a forbidden address is refused.
 */
@ExtendWith(BlockedEventLoopExtension.class)
// A separate thread: a socket read does not heed an interrupt, so the timeout must not wait for it.
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class EventBusBridgeTest {

    @TempDir
    Path dataDir;

    EventBusFixture bus;
    EventBusBridge bridge;

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        bus = EventBusFixture.start(vertx, dataDir, new EventBusApi.Settings(
                EventBusApi.Settings.DEFAULT_FETCH_WAIT_MS, EventBusApi.Settings.DEFAULT_FETCH_MAX_BYTES, 200, 1_000), false);
        bridge = await(EventBusBridge.start(vertx, "127.0.0.1", 0));
    }

    @AfterEach
    void stop() throws Exception {
        await(bridge.close());
        bus.close();
    }

    /** A bridge client: blocking I/O on the test's thread, every read bounded by a socket timeout. */
    static final class BridgeSocket implements AutoCloseable {
        final Socket socket;
        final DataInputStream in;
        final DataOutputStream out;
        final java.util.List<JsonObject> passedOver = new java.util.ArrayList<>();

        BridgeSocket(int port) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout((int) TimeUnit.SECONDS.toMillis(EventBusFixture.AWAIT_SECONDS));
            in = new DataInputStream(socket.getInputStream());
            out = new DataOutputStream(socket.getOutputStream());
        }

        void write(JsonObject frame) throws IOException {
            byte[] json = frame.encode().getBytes(StandardCharsets.UTF_8);
            out.writeInt(json.length);
            out.write(json);
            out.flush();
        }

        JsonObject read() throws IOException {
            byte[] json = new byte[in.readInt()];
            in.readFully(json);
            return new JsonObject(new String(json, StandardCharsets.UTF_8));
        }

        /** Sends a request and reads frames until the one answering it. */
        JsonObject request(String address, JsonObject body, String replyAddress) throws IOException {
            write(new JsonObject().put("type", "send").put("address", address).put("replyAddress", replyAddress)
                    .put("body", body));
            return readUntil(f -> replyAddress.equals(f.getString("address")));
        }

        /**
         * The first frame that is {@code wanted}, read within the fixture's bound; frames passed
         * over are kept for later calls (a record may arrive before the produce reply).
         */
        JsonObject readUntil(java.util.function.Predicate<JsonObject> wanted) throws IOException {
            for (java.util.Iterator<JsonObject> kept = passedOver.iterator(); kept.hasNext(); ) {
                JsonObject f = kept.next();
                if (wanted.test(f)) {
                    kept.remove();
                    return f;
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(EventBusFixture.AWAIT_SECONDS);
            while (true) {
                long leftMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (leftMs <= 0) {
                    throw new AssertionError("No wanted frame within " + EventBusFixture.AWAIT_SECONDS + " s");
                }
                socket.setSoTimeout((int) leftMs);
                JsonObject f = read();
                if (wanted.test(f)) {
                    return f;
                }
                passedOver.add(f);
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    static boolean isRecordFor(JsonObject frame, String address) {
        return "message".equals(frame.getString("type")) && address.equals(frame.getString("address"))
                && "record".equals(frame.getJsonObject("body").getString("type"));
    }

    @Test
    void aPlainSocketProducesSubscribesAndReceivesRecords() throws Exception {
        try (BridgeSocket client = new BridgeSocket(bridge.port())) {
            JsonObject created = client.request(EventBusAddresses.TOPICS_CREATE,
                    new JsonObject().put("topic", "orders").put("partitions", 1), "r-create");
            assertThat(created.getString("type")).isEqualTo("message");
            assertThat(created.getJsonObject("body").getString("topic")).isEqualTo("orders");

            client.write(new JsonObject().put("type", "register").put("address", "runnel.sub.py-1"));
            JsonObject subscribed = client.request(EventBusAddresses.SUBSCRIBE, new JsonObject().put("topic", "orders")
                    .put("address", "runnel.sub.py-1").put("from", "earliest"), "r-subscribe");
            assertThat(subscribed.getJsonObject("body").getString("subscription")).isNotBlank();

            JsonObject produced = client.request(EventBusAddresses.PRODUCE, new JsonObject().put("topic", "orders")
                    .put("key", "k").put("value", "from a socket"), "r-produce");
            assertThat(produced.getJsonObject("body")).isEqualTo(new JsonObject().put("partition", 0).put("offset", 0L));

            JsonObject record = client.readUntil(f -> isRecordFor(f, "runnel.sub.py-1")).getJsonObject("body");
            assertThat(record.getString("value")).isEqualTo("from a socket");
            assertThat(record.getString("key")).isEqualTo("k");
            assertThat(record.getLong("offset")).isEqualTo(0L);
        }
        eventually("the subscription of a closed socket ends (its probe finds no consumer)",
                () -> bus.api.subscriptionCount() == 0);
    }

    @Test
    void aRefusedRequestComesBackAsAnErrFrameWithTheHttpApisCode() throws Exception {
        try (BridgeSocket client = new BridgeSocket(bridge.port())) {
            JsonObject refused = client.request(EventBusAddresses.PRODUCE, new JsonObject().put("topic", "nowhere")
                    .put("value", "v"), "r-1");

            assertThat(refused.getString("type")).isEqualTo("err");
            assertThat(refused.getInteger("failureCode")).isEqualTo(40401);
            assertThat(refused.getString("failureType")).isEqualTo("RECIPIENT_FAILURE");
            assertThat(refused.getString("message")).contains("nowhere");
        }
    }

    @Test
    void sendingToOrRegisteringAnAddressOutsideTheApiIsRefused(Vertx vertx) throws Exception {
        java.util.concurrent.atomic.AtomicInteger leaked = new java.util.concurrent.atomic.AtomicInteger();
        await(vertx.eventBus().consumer("internal.secrets", m -> leaked.incrementAndGet()).completion());
        try (BridgeSocket client = new BridgeSocket(bridge.port())) {
            client.write(new JsonObject().put("type", "send").put("address", "internal.secrets")
                    .put("replyAddress", "r-1").put("body", new JsonObject()));
            assertThat(client.read()).isEqualTo(new JsonObject().put("type", "err").put("message", "access_denied"));

            client.write(new JsonObject().put("type", "publish").put("address", "runnel.sub.someone")
                    .put("body", new JsonObject()));
            assertThat(client.read().getString("message")).isEqualTo("access_denied");

            for (String address : new String[] {"internal.secrets", EventBusAddresses.PRODUCE, "runnel.sub."}) {
                client.write(new JsonObject().put("type", "register").put("address", address));
                assertThat(client.read()).as("register %s", address)
                        .isEqualTo(new JsonObject().put("type", "err").put("message", "access_denied"));
            }

            // Still usable after the refusals.
            JsonObject listed = client.request(EventBusAddresses.TOPICS_LIST, new JsonObject(), "r-2");
            assertThat(listed.getJsonObject("body").getJsonArray("topics")).contains("__consumer_offsets");
        }
        assertThat(leaked).hasValue(0);
    }

    @Test
    void thePermissionsNameExactlyTheServedAddressesInAndSubscriptionAddressesOut() {
        assertThat(EventBusBridge.permissions().getInboundPermitteds())
                .extracting(p -> p.getAddress()).containsExactlyInAnyOrderElementsOf(EventBusAddresses.SERVED);
        assertThat(EventBusBridge.permissions().getOutboundPermitteds())
                .extracting(p -> p.getAddressRegex()).containsExactly(EventBusAddresses.SUBSCRIPTION_ADDRESS_REGEX);
        assertThat(bridge.port()).as("port 0 was resolved to the bound port").isPositive();
    }
}

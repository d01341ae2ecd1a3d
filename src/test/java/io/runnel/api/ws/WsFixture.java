package io.runnel.api.ws;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import io.runnel.broker.BrokerIdentity;
import io.runnel.broker.BrokerService;
import io.runnel.broker.OffsetsTopicStore;
import io.runnel.broker.Partition;
import io.runnel.broker.TopicManager;
import io.runnel.config.LogConfig;
import io.runnel.group.GroupConfig;
import io.runnel.group.GroupCoordinator;
import io.runnel.log.GroupCommitFlusher;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.ClientWebSocket;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;

/**
 * A broker with the WebSocket API in front of it, for the api.ws tests: topics on a temporary
 * directory (durable acks, as the server runs), a group coordinator (no initial rebalance delay),
 * an HTTP server on port 0 serving the API's upgrades and {@code /live.html}, and WebSocket
 * clients that queue every text frame they receive. Blocking helpers wait on the test's thread,
 * never on an event loop, and every wait is bounded.
 */
final class WsFixture implements AutoCloseable {

    static final long AWAIT_SECONDS = 10;

    final Vertx vertx;
    final TopicManager topics;
    final GroupCoordinator groups;
    final BrokerService broker;
    final WebSocketApi api;
    final int port;
    final WebSocketClient client;
    private final GroupCommitFlusher flusher;
    private final HttpServer server;
    private final List<Client> clients = new ArrayList<>();

    private WsFixture(Vertx vertx, TopicManager topics, GroupCoordinator groups, BrokerService broker, WebSocketApi api,
                      HttpServer server, GroupCommitFlusher flusher) {
        this.vertx = vertx;
        this.topics = topics;
        this.groups = groups;
        this.broker = broker;
        this.api = api;
        this.server = server;
        this.port = server.actualPort();
        this.flusher = flusher;
        this.client = vertx.createWebSocketClient(new WebSocketClientOptions().setMaxMessageSize(16 << 20));
    }

    static WsFixture start(Vertx vertx, Path dataDir, WebSocketApi.Settings settings, boolean autoCreateTopics)
            throws Exception {
        GroupCommitFlusher flusher = new GroupCommitFlusher();
        TopicManager topics = await(TopicManager.start(vertx, dataDir, LogConfig.defaults(), 2, flusher,
                vertx.createSharedWorkerExecutor("runnel-log-ws-test", 2), true));
        OffsetsTopicStore store = await(OffsetsTopicStore.start(vertx, topics, 1));
        GroupCoordinator groups = await(GroupCoordinator.start(vertx, store, new GroupConfig(0, 1, 1_800_000)));
        BrokerService broker = new BrokerService(new BrokerIdentity(0, "ws-test"), topics, groups, autoCreateTopics, 1);
        WebSocketApi api = WebSocketApi.create(vertx, broker, settings);
        Router router = Router.router(vertx);
        api.mountPage(router);
        HttpServer server = await(vertx.createHttpServer(api.configure(new HttpServerOptions()))
                .requestHandler(router)
                .webSocketHandshakeHandler(api::handshake)
                .listen(0, "127.0.0.1"));
        return new WsFixture(vertx, topics, groups, broker, api, server, flusher);
    }

    static WebSocketApi.Settings settings() {
        return WebSocketApi.Settings.defaults();
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.await(AWAIT_SECONDS, TimeUnit.SECONDS);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Produces values (no key) to one partition of a topic; returns the offsets. */
    List<Long> produce(String topic, int partition, String... values) throws Exception {
        List<BrokerService.ProduceRecord> records = new ArrayList<>();
        for (String v : values) {
            records.add(new BrokerService.ProduceRecord(null, bytes(v), null, partition, null));
        }
        List<Long> offsets = new ArrayList<>();
        for (BrokerService.ProduceResult r : await(broker.produce(topic, records, Partition.Acks.ALL))) {
            assertThat(r.error()).isNull();
            offsets.add(r.offset());
        }
        return offsets;
    }

    /** Opens a WebSocket on {@code uri}. */
    Client connect(String uri) throws Exception {
        return connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI(uri));
    }

    Client connect(WebSocketConnectOptions options) throws Exception {
        Client c = new Client();
        // Handlers are set before connecting, so no frame is missed, not even one the server sends
        // and closes after at once (a refused subscription).
        ClientWebSocket socket = client.webSocket();
        c.attach(socket);
        await(socket.connect(options));
        clients.add(c);
        return c;
    }

    /** A test's end of a WebSocket: every text frame it receives, in order, as JSON. */
    static final class Client {
        final BlockingQueue<JsonObject> frames = new LinkedBlockingQueue<>();
        volatile boolean closed;
        volatile Short closeStatus;
        WebSocket socket;

        private void attach(WebSocket socket) {
            this.socket = socket;
            socket.textMessageHandler(text -> frames.add(new JsonObject(text)));
            socket.closeHandler(v -> {
                closeStatus = socket.closeStatusCode();
                closed = true;
            });
        }

        void send(JsonObject frame) throws Exception {
            await(socket.writeTextMessage(frame.encode()));
        }

        void send(String text) throws Exception {
            await(socket.writeTextMessage(text));
        }

        /** The next frame, waiting up to the fixture's bound; fails when none comes. */
        JsonObject next() throws Exception {
            JsonObject f = frames.poll(AWAIT_SECONDS, TimeUnit.SECONDS);
            assertThat(f).as("a frame within %d s", AWAIT_SECONDS).isNotNull();
            return f;
        }

        /** The next frame of {@code type}, skipping others (e.g. assignments). */
        JsonObject next(String type) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(AWAIT_SECONDS);
            while (System.nanoTime() < deadline) {
                JsonObject f = frames.poll(Math.max(1, (deadline - System.nanoTime()) / 1_000_000), TimeUnit.MILLISECONDS);
                if (f != null && type.equals(f.getString("type"))) {
                    return f;
                }
            }
            throw new AssertionError("No " + type + " frame within " + AWAIT_SECONDS + " s");
        }

        /** The next {@code assignment} frame that satisfies {@code wanted}. */
        JsonObject assignment(Predicate<JsonObject> wanted) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(AWAIT_SECONDS);
            while (System.nanoTime() < deadline) {
                JsonObject f = next(Frames.ASSIGNMENT);
                if (wanted.test(f)) {
                    return f;
                }
            }
            throw new AssertionError("No matching assignment within " + AWAIT_SECONDS + " s");
        }

        /** {@code n} record frames, skipping other frames. */
        List<JsonObject> records(int n) throws Exception {
            List<JsonObject> out = new ArrayList<>();
            while (out.size() < n) {
                out.add(next(Frames.RECORD));
            }
            return out;
        }

        /** Asserts no frame arrives within {@code ms} (a bounded wait: the test's own clock). */
        void assertQuietFor(long ms) throws InterruptedException {
            JsonObject f = frames.poll(ms, TimeUnit.MILLISECONDS);
            assertThat(f).as("no frame within %d ms", ms).isNull();
        }

        /** Waits until the server has closed the socket. */
        void awaitClosed() throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(AWAIT_SECONDS);
            while (!closed && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(closed).as("closed by the server within %d s", AWAIT_SECONDS).isTrue();
        }

        void close() throws Exception {
            if (!closed) {
                await(socket.close());
            }
        }
    }

    @Override
    public void close() throws Exception {
        for (Client c : clients) {
            if (!c.closed) {
                try {
                    await(c.socket.close());
                } catch (Exception ignored) {
                    // already going
                }
            }
        }
        await(client.close());
        await(api.close());
        await(server.close());
        await(groups.close());
        await(topics.close());
        flusher.close();
    }
}

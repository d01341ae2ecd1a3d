package io.runnel.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import io.runnel.config.BrokerConfig;
import io.runnel.server.RunnelServer;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;

/**
 * Starts one whole broker on a throwaway, unwatched Vertx, reads a record from it over a
 * compressed WebSocket, and stops it: once per JVM, before the
 * first test class that asks for it ({@code @ExtendWith({BrokerWarmUp.class,
 * BlockedEventLoopExtension.class})}, in that order).
 *
 * <p>Why: the first broker of a JVM loads thousands of classes (Netty's transports, the HTTP
 * server, the Kafka message classes) on the event loops that bind its listeners; on a busy 2-core
 * machine that one-time work passes the blocked-loop limit, which is there to catch our blocking,
 * not the JVM's warm-up. Test classes that start a broker then see a warm JVM wherever they run in
 * the suite's order, or alone.
 */
public final class BrokerWarmUp implements BeforeAllCallback {

    private static final AtomicBoolean WARM = new AtomicBoolean();

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        once();
    }

    public static void once() throws Exception {
        if (!WARM.compareAndSet(false, true)) {
            return;
        }
        Path dir = Files.createTempDirectory("runnel-warm-up");
        Vertx throwaway = Vertx.vertx();
        try {
            BrokerConfig config = BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0",
                    "--data.dir=" + dir.resolve("data")), Map.of(), dir.resolve("none.properties"));
            RunnelServer server = RunnelServer.start(throwaway, config).await(60, TimeUnit.SECONDS);
            try {
                subscribeOnceOverACompressedWebSocket(throwaway, server.httpPort());
            } finally {
                server.stop().await(60, TimeUnit.SECONDS);
            }
        } finally {
            throwaway.close().await(30, TimeUnit.SECONDS);
            TestFilesDeleter.deleteTree(dir);
        }
    }

    /**
     * A browser's first subscription: a record produced over HTTP, then read over a WebSocket that
     * negotiated permessage-deflate. Its first run loads the subscriber's and the zlib encoder's
     * classes on an event loop (212 and 378 ms in suite runs here).
     */
    private static void subscribeOnceOverACompressedWebSocket(Vertx vertx, int httpPort) throws Exception {
        WebClient http = WebClient.create(vertx);
        WebSocketClient ws = vertx.createWebSocketClient(new WebSocketClientOptions().setTryUsePerMessageCompression(true));
        try {
            http.post(httpPort, "127.0.0.1", "/topics/warm-up")
                    .putHeader("Content-Type", "application/vnd.kafka.json.v2+json")
                    .sendJsonObject(new JsonObject().put("records", new JsonArray().add(new JsonObject().put("value", "warm"))))
                    .await(30, TimeUnit.SECONDS);
            CompletableFuture<String> first = new CompletableFuture<>();
            // The handler is set as the connection completes, on its event loop, before any frame.
            WebSocket socket = ws.connect(httpPort, "127.0.0.1", "/ws/v1/topics/warm-up/subscribe?from=earliest")
                    .onSuccess(s -> s.textMessageHandler(first::complete))
                    .await(30, TimeUnit.SECONDS);
            first.get(30, TimeUnit.SECONDS);
            socket.close().await(30, TimeUnit.SECONDS);
        } finally {
            ws.close();
            http.close();
        }
    }

    /** Recursive delete, children first. */
    static final class TestFilesDeleter {
        static void deleteTree(Path dir) throws Exception {
            try (var paths = Files.walk(dir)) {
                for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}

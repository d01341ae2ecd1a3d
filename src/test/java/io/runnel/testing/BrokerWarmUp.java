package io.runnel.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import io.runnel.config.BrokerConfig;
import io.runnel.server.RunnelServer;
import io.vertx.core.Vertx;

/**
 * Starts and stops one whole broker on a throwaway, unwatched Vertx, once per JVM, before the
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
            server.stop().await(60, TimeUnit.SECONDS);
        } finally {
            throwaway.close().await(30, TimeUnit.SECONDS);
            TestFilesDeleter.deleteTree(dir);
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

package io.runnel.registry;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.runnel.broker.SchemasTopicStore;
import io.runnel.broker.TopicManager;
import io.runnel.config.LogConfig;
import io.runnel.log.GroupCommitFlusher;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;

/**
 * A broker's topics on a directory (durable acks, as the server runs them), the registry over
 * its {@code _schemas} topic, and the registry's REST API on a port of its own, for the registry
 * tests. {@link #restart} closes all of it and opens it again on the same directory, as a broker
 * restart does. Blocking helpers await on the test's thread, never on an event loop.
 */
final class RegistryFixture implements AutoCloseable {

    static final String V1_JSON = RegistryApi.CONTENT_TYPE;
    static final long AWAIT_SECONDS = 10;

    final Vertx vertx;
    final Path dataDir;
    final long maxBodyBytes;
    final WebClient client;
    GroupCommitFlusher flusher;
    WorkerExecutor worker;
    TopicManager topics;
    SchemaRegistry registry;
    HttpServer server;
    private boolean open;
    private boolean topicsClosed;

    private RegistryFixture(Vertx vertx, Path dataDir, long maxBodyBytes) {
        this.vertx = vertx;
        this.dataDir = dataDir;
        this.maxBodyBytes = maxBodyBytes;
        this.client = WebClient.create(vertx);
    }

    static RegistryFixture start(Vertx vertx, Path dataDir) throws Exception {
        return start(vertx, dataDir, RegistryApi.DEFAULT_MAX_BODY_BYTES);
    }

    static RegistryFixture start(Vertx vertx, Path dataDir, long maxBodyBytes) throws Exception {
        warmUpOnce();
        RegistryFixture f = new RegistryFixture(vertx, dataDir, maxBodyBytes);
        f.open();
        return f;
    }

    private void open() throws Exception {
        flusher = new GroupCommitFlusher();
        worker = vertx.createSharedWorkerExecutor("runnel-log-registry-test", 2);
        topics = await(TopicManager.start(vertx, dataDir, LogConfig.defaults(), 2, flusher, worker, true));
        registry = await(SchemasTopicStore.start(vertx, topics).compose(store -> SchemaRegistry.start(vertx, store)));
        server = await(vertx.createHttpServer().requestHandler(RegistryApi.router(vertx, registry, maxBodyBytes))
                .listen(0, "127.0.0.1"));
        open = true;
    }

    /** Closes the server, the registry and the topics (clean shutdown), then opens them again. */
    void restart() throws Exception {
        shut();
        open();
    }

    private void shut() throws Exception {
        if (!open) {
            return;
        }
        open = false;
        await(server.close());
        await(registry.close());
        if (!topicsClosed) {
            await(topics.close());
        }
        topicsClosed = false;
        flusher.close();
        await(worker.close());
    }

    /** Closes the topics while the registry still serves, so its writes fail as on a broken disk. */
    void closeTopicsUnderTheRegistry() throws Exception {
        topicsClosed = true;
        await(topics.close());
    }

    int port() {
        return server.actualPort();
    }

    HttpResponse<Buffer> send(HttpMethod method, String path, String contentType, String body) throws Exception {
        HttpRequest<Buffer> request = client.request(method, port(), "127.0.0.1", path);
        if (contentType != null) {
            request.putHeader("Content-Type", contentType);
        }
        return await(body == null ? request.send() : request.sendBuffer(Buffer.buffer(body)));
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.await(AWAIT_SECONDS, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws Exception {
        client.close();
        shut();
    }

    private static final AtomicBoolean WARM = new AtomicBoolean();

    /**
     * Runs the registry and its API once per JVM on a throwaway, unwatched Vertx over an
     * in-memory store. The first request of a JVM loads hundreds of classes (Vert.x Web, Jackson,
     * Avro) and links record methods on an event loop; on a busy machine that one-time cost
     * alone can pass the blocked-loop limit, which is there to catch our blocking, not the JVM's.
     */
    private static void warmUpOnce() throws Exception {
        if (!WARM.compareAndSet(false, true)) {
            return;
        }
        Vertx throwaway = Vertx.vertx();
        try {
            SchemaRegistry r = await(SchemaRegistry.start(throwaway, new InMemorySchemaStore()));
            HttpServer s = await(throwaway.createHttpServer().requestHandler(RegistryApi.router(throwaway, r))
                    .listen(0, "127.0.0.1"));
            WebClient c = WebClient.create(throwaway);
            String body = "{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"W\\\",\\\"fields\\\":"
                    + "[{\\\"name\\\":\\\"a\\\",\\\"type\\\":\\\"int\\\"}]}\"}";
            await(c.post(s.actualPort(), "127.0.0.1", "/subjects/w/versions").putHeader("Content-Type", V1_JSON)
                    .sendBuffer(Buffer.buffer(body)));
            await(c.post(s.actualPort(), "127.0.0.1", "/subjects/w").sendBuffer(Buffer.buffer(body)));
            await(c.post(s.actualPort(), "127.0.0.1", "/compatibility/subjects/w/versions/latest?verbose=true")
                    .sendBuffer(Buffer.buffer(body)));
            await(c.get(s.actualPort(), "127.0.0.1", "/schemas/ids/1").send());
            await(c.get(s.actualPort(), "127.0.0.1", "/nope").send());
            await(c.delete(s.actualPort(), "127.0.0.1", "/subjects/w").send());
            c.close();
            await(r.close());
        } finally {
            await(throwaway.close());
        }
    }
}

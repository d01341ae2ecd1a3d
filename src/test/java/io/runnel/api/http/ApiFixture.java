package io.runnel.api.http;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;

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
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;

/**
 * A broker with the HTTP API in front of it, for the api.http tests: a {@link TopicManager} on a
 * temporary directory (durable acks, as the server runs), broker services over it, HTTP servers
 * on port 0 serving {@link HttpApi#router}, and a {@link WebClient}. Blocking helpers await on the
 * test's thread, never on an event loop.
 */
final class ApiFixture implements AutoCloseable {

    static final String JSON_V2 = "application/vnd.kafka.json.v2+json";
    static final String BINARY_V2 = "application/vnd.kafka.binary.v2+json";
    static final long AWAIT_SECONDS = 10;

    /** A record as the log holds it. */
    record Stored(long offset, byte[] key, byte[] value) {
        String keyText() {
            return key == null ? null : new String(key, StandardCharsets.UTF_8);
        }

        String valueText() {
            return value == null ? null : new String(value, StandardCharsets.UTF_8);
        }
    }

    final Vertx vertx;
    final TopicManager topics;
    final WebClient client;
    private final GroupCommitFlusher flusher;
    private final List<HttpServer> servers = new ArrayList<>();
    private final List<HttpApi> apis = new ArrayList<>();
    private final List<GroupCoordinator> coordinators = new ArrayList<>();
    private boolean topicsClosed;

    private ApiFixture(Vertx vertx, TopicManager topics, GroupCommitFlusher flusher) {
        this.vertx = vertx;
        this.topics = topics;
        this.flusher = flusher;
        this.client = WebClient.create(vertx);
    }

    static ApiFixture start(Vertx vertx, Path dataDir) throws Exception {
        GroupCommitFlusher flusher = new GroupCommitFlusher();
        TopicManager topics = await(TopicManager.start(vertx, dataDir, LogConfig.defaults(), 2, flusher,
                vertx.createSharedWorkerExecutor("runnel-log-http-test", 2), true));
        ApiFixture fixture = new ApiFixture(vertx, topics, flusher);
        fixture.warmUpOnce();
        return fixture;
    }

    private static final AtomicBoolean WARM = new AtomicBoolean();

    /**
     * Loads the HTTP client's, server's and router's classes on a throwaway, unwatched Vertx, once
     * per JVM. The first request of a JVM loads hundreds of classes on an event loop; on a busy
     * machine that alone can pass the blocked-loop limit, which is there to catch our blocking,
     * not the JVM's one-time class loading. The requests sent never reach the broker's partitions.
     */
    private void warmUpOnce() throws Exception {
        if (!WARM.compareAndSet(false, true)) {
            return;
        }
        Vertx throwaway = Vertx.vertx();
        try {
            HttpServer server = await(throwaway.createHttpServer()
                    .requestHandler(HttpApi.router(throwaway, broker(false, 1), 1024, () -> true))
                    .listen(0, "127.0.0.1"));
            WebClient warmClient = WebClient.create(throwaway);
            int port = server.actualPort();
            await(warmClient.get(port, "127.0.0.1", "/health").send());
            await(warmClient.get(port, "127.0.0.1", "/topics").send());
            await(warmClient.get(port, "127.0.0.1", "/nope").send());
            await(warmClient.post(port, "127.0.0.1", "/topics/warm").putHeader("Content-Type", JSON_V2)
                    .sendBuffer(Buffer.buffer("{\"records\":[{\"value\":{\"a\":[1]}}]")));
            await(warmClient.post(port, "127.0.0.1", "/topics/warm").putHeader("Content-Type", BINARY_V2)
                    .sendBuffer(Buffer.buffer("{\"records\":[{\"value\":\"!\"}]}")));
            warmClient.close();
        } finally {
            await(throwaway.close());
        }
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.await(AWAIT_SECONDS, TimeUnit.SECONDS);
    }

    BrokerService broker(boolean autoCreate, int defaultPartitions) {
        return new BrokerService(topics, autoCreate, defaultPartitions);
    }

    /**
     * A broker service with a group coordinator (offsets in this broker's {@code __consumer_offsets},
     * no initial rebalance delay, so tests need not wait for one).
     */
    BrokerService brokerWithGroups(boolean autoCreate, int defaultPartitions) throws Exception {
        OffsetsTopicStore store = await(OffsetsTopicStore.start(vertx, topics, 1));
        GroupCoordinator groups = await(GroupCoordinator.start(vertx, store, new GroupConfig(0, 1, 1_800_000)));
        coordinators.add(groups);
        return new BrokerService(new BrokerIdentity(0, "test-cluster"), topics, groups, autoCreate, defaultPartitions);
    }

    /** Serves an API with {@code settings} for {@code broker} on a new port; returns the API. */
    HttpApi serve(BrokerService broker, HttpApi.Settings settings, int[] port) throws Exception {
        HttpApi api = HttpApi.create(vertx, broker, settings);
        HttpServer server = await(vertx.createHttpServer().requestHandler(api.router()).listen(0, "127.0.0.1"));
        servers.add(server);
        apis.add(api);
        port[0] = server.actualPort();
        return api;
    }

    /** Serves the API for {@code broker} on a new port; returns it. */
    int serve(BrokerService broker, long maxBodyBytes, BooleanSupplier ready) throws Exception {
        HttpServer server = await(vertx.createHttpServer()
                .requestHandler(HttpApi.router(vertx, broker, maxBodyBytes, ready))
                .listen(0, "127.0.0.1"));
        servers.add(server);
        return server.actualPort();
    }

    HttpResponse<Buffer> send(int port, HttpMethod method, String path, String contentType, String body)
            throws Exception {
        return send(port, method, path, contentType, body == null ? null : Buffer.buffer(body));
    }

    HttpResponse<Buffer> send(int port, HttpMethod method, String path, String contentType, Buffer body)
            throws Exception {
        HttpRequest<Buffer> request = client.request(method, port, "127.0.0.1", path);
        if (contentType != null) {
            request.putHeader("Content-Type", contentType);
        }
        return await(body == null ? request.send() : request.sendBuffer(body));
    }

    HttpResponse<Buffer> get(int port, String path) throws Exception {
        return send(port, HttpMethod.GET, path, null, (Buffer) null);
    }

    /** Every record of a partition below its high watermark, read through the broker service. */
    static List<Stored> read(BrokerService broker, String topic, int partition) throws Exception {
        BrokerService.FetchResult fetched = await(broker.fetch(topic, partition, 0, 16 << 20, 1, 0));
        List<Stored> out = new ArrayList<>();
        if (fetched.read().slice().isEmpty()) {
            return out;
        }
        MemoryRecords records = fetched.read().slice().readRecords();
        for (RecordBatch batch : records.batches()) {
            for (Record r : batch) {
                out.add(new Stored(r.offset(), bytes(r.key()), bytes(r.value())));
            }
        }
        return out;
    }

    /** The log end offset of a partition. */
    static long logEndOffset(BrokerService broker, String topic, int partition) throws Exception {
        return await(broker.fetch(topic, partition, 0, 1, 1, 0)).read().logEndOffset();
    }

    private static byte[] bytes(ByteBuffer b) {
        if (b == null) {
            return null;
        }
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    /** Closes the topics now (the test goes on with a broker that is shutting down). */
    void closeTopics() throws Exception {
        topicsClosed = true;
        await(topics.close());
    }

    @Override
    public void close() throws Exception {
        client.close();
        for (HttpServer s : servers) {
            await(s.close());
        }
        for (HttpApi a : apis) {
            await(a.close());
        }
        for (GroupCoordinator g : coordinators) {
            await(g.close());
        }
        if (!topicsClosed) {
            await(topics.close());
        }
        flusher.close();
    }
}

package io.runnel.api.http;

import static io.runnel.api.http.ApiFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.broker.BrokerService;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;

/**
 * v3 produce ({@code POST /v3/clusters/{c}/topics/{t}/records}) end to end: one record per
 * request answered plainly, and streams of records in one chunked body answered record by record
 * in a chunked response; every record read back through {@link BrokerService#fetch} to check its
 * bytes, headers, partition and timestamp. Malformed single records are
 * {@link V3ProduceBadInputTest}'s.
 *
 * <p>The broker has auto-creation on, to show that v3 produce never creates a topic.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class V3ProduceTest {

    static final long BODY_LIMIT_BYTES = 1 << 20;

    /** A record as the log holds it, with what v3 adds over v2: headers and the timestamp. */
    record Stored(long offset, long timestamp, byte[] key, byte[] value, Header[] headers) {
        String valueText() {
            return value == null ? null : new String(value, StandardCharsets.UTF_8);
        }
    }

    @TempDir
    Path dataDir;

    ApiFixture api;
    BrokerService broker;
    int port;
    String clusterId;
    HttpClient http;

    void start(Vertx vertx) throws Exception {
        api = ApiFixture.start(vertx, dataDir);
        broker = api.broker(true, 3);
        port = api.serve(broker, BODY_LIMIT_BYTES, () -> true);
        clusterId = broker.identity().clusterId();
        http = vertx.createHttpClient();
    }

    @AfterEach
    void stop() throws Exception {
        if (http != null) {
            await(http.close());
        }
        if (api != null) {
            api.close();
        }
    }

    String records(String topic) {
        return "/v3/clusters/" + clusterId + "/topics/" + topic + "/records";
    }

    HttpResponse<Buffer> post(String path, String body) throws Exception {
        return api.send(port, HttpMethod.POST, path, "application/json", body);
    }

    static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Every record of a partition below its high watermark. */
    static List<Stored> read(BrokerService broker, String topic, int partition) throws Exception {
        BrokerService.FetchResult fetched = await(broker.fetch(topic, partition, 0, 16 << 20, 1, 0));
        List<Stored> out = new ArrayList<>();
        if (fetched.read().slice().isEmpty()) {
            return out;
        }
        MemoryRecords records = fetched.read().slice().readRecords();
        for (RecordBatch batch : records.batches()) {
            for (Record r : batch) {
                out.add(new Stored(r.offset(), r.timestamp(), bytes(r.key()), bytes(r.value()), r.headers()));
            }
        }
        return out;
    }

    private static byte[] bytes(ByteBuffer b) {
        if (b == null) {
            return null;
        }
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    /** The answers of a streamed response: one JSON object per line. */
    static List<JsonObject> answers(Buffer body) {
        List<JsonObject> out = new ArrayList<>();
        for (String line : body.toString(StandardCharsets.UTF_8).split("\n")) {
            if (!line.isBlank()) {
                out.add(new JsonObject(line));
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- one record

    @Test
    void oneJsonRecordWithHeadersAndPartitionIsAnsweredPlainly(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("orders", 3, Map.of()));
        JsonObject record = new JsonObject()
                .put("partition_id", 1)
                .put("headers", new JsonArray()
                        .add(new JsonObject().put("name", "trace").put("value", b64("abc-123")))
                        .add(new JsonObject().put("name", "empty").putNull("value")))
                .put("key", new JsonObject().put("type", "JSON").put("data", "customer-1"))
                .put("value", new JsonObject().put("type", "JSON").put("data", new JsonObject().put("total", 10)
                        .put("items", new JsonArray().add("tea"))))
                .put("timestamp", "2024-05-01T12:00:00.250Z");
        HttpResponse<Buffer> r = post(records("orders"), record.encode());
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
        assertThat(r.getHeader("Content-Type")).isEqualTo("application/json");
        assertThat(r.getHeader("Transfer-Encoding")).as("one record, one plain answer").isNull();
        JsonObject answer = r.bodyAsJsonObject();
        assertThat(answer.fieldNames()).containsExactly("error_code", "cluster_id", "topic_name", "partition_id",
                "offset", "timestamp", "key", "value");
        assertThat(answer.getInteger("error_code")).isEqualTo(200);
        assertThat(answer.getString("cluster_id")).isEqualTo(clusterId);
        assertThat(answer.getString("topic_name")).isEqualTo("orders");
        assertThat(answer.getInteger("partition_id")).isEqualTo(1);
        assertThat(answer.getLong("offset")).isEqualTo(0);
        assertThat(answer.getString("timestamp")).isEqualTo("2024-05-01T12:00:00.250Z");
        String valueText = "{\"total\":10,\"items\":[\"tea\"]}";
        assertThat(answer.getJsonObject("key")).isEqualTo(new JsonObject().put("type", "JSON").put("size", 12));
        assertThat(answer.getJsonObject("value"))
                .isEqualTo(new JsonObject().put("type", "JSON").put("size", utf8(valueText).length));

        List<Stored> stored = read(broker, "orders", 1);
        assertThat(stored).hasSize(1);
        Stored s = stored.get(0);
        assertThat(new String(s.key(), StandardCharsets.UTF_8)).isEqualTo("\"customer-1\"");
        assertThat(s.valueText()).isEqualTo(valueText);
        assertThat(s.timestamp()).isEqualTo(Instant.parse("2024-05-01T12:00:00.250Z").toEpochMilli());
        assertThat(s.headers()).hasSize(2);
        assertThat(s.headers()[0].key()).isEqualTo("trace");
        assertThat(s.headers()[0].value()).isEqualTo(utf8("abc-123"));
        assertThat(s.headers()[1].key()).isEqualTo("empty");
        assertThat(s.headers()[1].value()).isNull();
        assertThat(read(broker, "orders", 0)).isEmpty();
        assertThat(read(broker, "orders", 2)).isEmpty();
    }

    @Test
    void stringAndBinaryDataAreStoredAsTheirBytes(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("raw", 3, Map.of()));
        byte[] value = {0, 1, 2, (byte) 0xff, (byte) 0x80};
        JsonObject record = new JsonObject()
                .put("key", new JsonObject().put("type", "STRING").put("data", "clé"))
                .put("value", new JsonObject().put("type", "BINARY").put("data", Base64.getEncoder().encodeToString(value)))
                .put("timestamp", 1_700_000_000_123L);
        JsonObject answer = post(records("raw"), record.encode()).bodyAsJsonObject();
        assertThat(answer.getInteger("error_code")).as(answer.encode()).isEqualTo(200);
        int partition = BuiltInPartitioner.partitionForKey(utf8("clé"), 3);
        assertThat(answer.getInteger("partition_id")).as("the key's bytes pick the partition").isEqualTo(partition);
        assertThat(answer.getJsonObject("key")).isEqualTo(new JsonObject().put("type", "STRING").put("size", 4));
        assertThat(answer.getJsonObject("value")).isEqualTo(new JsonObject().put("type", "BINARY").put("size", 5));
        assertThat(answer.getString("timestamp")).isEqualTo(Instant.ofEpochMilli(1_700_000_000_123L).toString());

        Stored s = read(broker, "raw", partition).get(0);
        assertThat(s.key()).isEqualTo(utf8("clé"));
        assertThat(s.value()).isEqualTo(value);
        assertThat(s.timestamp()).isEqualTo(1_700_000_000_123L);
        assertThat(s.headers()).isEmpty();
    }

    @Test
    void aRecordWithoutKeyOrValueDataStoresNulls(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("sparse", 1, Map.of()));
        long before = System.currentTimeMillis();
        JsonObject answer = post(records("sparse"), "{\"value\":{\"type\":\"STRING\"}}").bodyAsJsonObject();
        assertThat(answer.getInteger("error_code")).as(answer.encode()).isEqualTo(200);
        assertThat(answer.getValue("key")).as("no key in the request, none in the answer").isNull();
        assertThat(answer.getJsonObject("value")).isEqualTo(new JsonObject().put("type", "STRING").put("size", 0));
        Stored s = read(broker, "sparse", 0).get(0);
        assertThat(s.key()).isNull();
        assertThat(s.value()).isNull();
        assertThat(s.timestamp()).isBetween(before, System.currentTimeMillis());
        assertThat(Instant.parse(answer.getString("timestamp")).toEpochMilli()).isEqualTo(s.timestamp());
    }

    @Test
    void anUnknownTopicIsNotFoundAndNotCreated(Vertx vertx) throws Exception {
        start(vertx);
        String record = "{\"value\":{\"type\":\"JSON\",\"data\":1}}";
        HttpResponse<Buffer> r = post(records("missing"), record);
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(r.bodyAsJsonObject().getInteger("error_code")).isEqualTo(404);
        assertThat(r.bodyAsJsonObject().getString("message")).contains("missing");
        HttpResponse<Buffer> otherCluster = post("/v3/clusters/elsewhere/topics/missing/records", record);
        assertThat(otherCluster.statusCode()).isEqualTo(404);
        assertThat(otherCluster.bodyAsJsonObject().getString("message")).contains("elsewhere");
        assertThat(api.topics.topicNames()).isEmpty();
    }

    // ---------------------------------------------------------------- streams

    @Test
    void aStreamOfRecordsIsAnsweredInOrderAndAMalformedOneInPlace(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("stream", 2, Map.of()));
        int count = 500;
        int malformedAt = 250;
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < count; i++) {
            if (i == malformedAt) {
                body.append("{\"partition_id\":0,\"value\":{\"type\":\"JSON\",\"data\": }}\n");
            }
            body.append("{\"partition_id\":0,\"value\":{\"type\":\"JSON\",\"data\":{\"n\":").append(i).append("}}}");
            body.append(i % 3 == 0 ? "\n" : i % 3 == 1 ? " " : "");
        }
        // Odd-sized chunks, so objects and their strings straddle chunk ends.
        byte[] bytes = utf8(body.toString());
        HttpClientRequest request = await(http.request(HttpMethod.POST, port, "127.0.0.1", records("stream")));
        request.setChunked(true).putHeader("Content-Type", "application/json");
        // The body is read as soon as the head arrives (on the event loop), or its first chunks would be dropped.
        Future<HttpClientResponse> response = request.response();
        Future<Buffer> responseBody = response.compose(HttpClientResponse::body);
        for (int from = 0; from < bytes.length; from += 997) {
            await(request.write(Buffer.buffer().appendBytes(bytes, from, Math.min(997, bytes.length - from))));
        }
        await(request.end());
        HttpClientResponse r = await(response);
        Buffer answerBytes = await(responseBody);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.getHeader("Transfer-Encoding")).isEqualTo("chunked");
        assertThat(r.getHeader("Content-Type")).isEqualTo("application/json");

        List<JsonObject> answers = answers(answerBytes);
        assertThat(answers).hasSize(count + 1);
        JsonObject malformed = answers.get(malformedAt);
        assertThat(malformed.getInteger("error_code")).isEqualTo(400);
        assertThat(malformed.getString("message")).contains("not valid JSON");
        long expected = 0;
        for (int i = 0; i < answers.size(); i++) {
            if (i == malformedAt) {
                continue;
            }
            JsonObject a = answers.get(i);
            assertThat(a.getInteger("error_code")).as("answer %d: %s", i, a).isEqualTo(200);
            assertThat(a.getInteger("partition_id")).isEqualTo(0);
            assertThat(a.getLong("offset")).as("answer %d", i).isEqualTo(expected++);
        }
        List<Stored> stored = read(broker, "stream", 0);
        assertThat(stored).hasSize(count);
        for (int i = 0; i < count; i++) {
            assertThat(stored.get(i).offset()).isEqualTo(i);
            assertThat(stored.get(i).valueText()).isEqualTo("{\"n\":" + i + "}");
        }
        assertThat(read(broker, "stream", 1)).isEmpty();
    }

    @Test
    void aStreamLongerThanTheInFlightLimitIsPausedAndResumedInOrder(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("long", 1, Map.of()));
        int count = V3ProduceStream.MAX_UNANSWERED * 5;
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < count; i++) {
            body.append("{\"value\":{\"type\":\"STRING\",\"data\":\"").append(i).append("\"}}");
        }
        HttpClientRequest request = await(http.request(HttpMethod.POST, port, "127.0.0.1", records("long")));
        request.setChunked(true).putHeader("Content-Type", "application/json");
        Future<HttpClientResponse> response = request.response();
        Future<Buffer> responseBody = response.compose(HttpClientResponse::body);
        // One large write: the server reads far more records than it may hold unanswered at once.
        await(request.end(body.toString()));
        List<JsonObject> answers = answers(await(responseBody));
        assertThat(answers).hasSize(count);
        for (int i = 0; i < count; i++) {
            assertThat(answers.get(i).getLong("offset")).as("answer %d: %s", i, answers.get(i)).isEqualTo(i);
        }
        assertThat(read(broker, "long", 0)).extracting(Stored::valueText).last().isEqualTo(Integer.toString(count - 1));
    }

    @Test
    void eachAnswerIsWrittenBeforeTheStreamEnds(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("live", 1, Map.of()));
        HttpClientRequest request = await(http.request(HttpMethod.POST, port, "127.0.0.1", records("live")));
        request.setChunked(true).putHeader("Content-Type", "application/json");
        StringBuffer received = new StringBuffer();
        request.response().onSuccess(r -> r.handler(b -> received.append(b.toString(StandardCharsets.UTF_8))));
        for (int i = 0; i < 3; i++) {
            await(request.write("{\"value\":{\"type\":\"STRING\",\"data\":\"r" + i + "\"}}"));
            int answered = i + 1;
            awaitCondition(() -> received.chars().filter(ch -> ch == '\n').count() == answered,
                    "answer " + i + " arrives while the request is still open");
        }
        await(request.end());
        List<JsonObject> answers = answers(Buffer.buffer(received.toString()));
        assertThat(answers).extracting(a -> a.getLong("offset")).containsExactly(0L, 1L, 2L);
    }

    @Test
    void severalObjectsWithAContentLengthAreStreamedToo(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("few", 1, Map.of()));
        HttpResponse<Buffer> r = post(records("few"), "{\"value\":{\"type\":\"STRING\",\"data\":\"a\"}}"
                + "{\"value\":{\"type\":\"STRING\",\"data\":\"b\"},\"partition_id\":7}"
                + "{\"value\":{\"type\":\"STRING\",\"data\":\"c\"}}");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.getHeader("Transfer-Encoding")).isEqualTo("chunked");
        List<JsonObject> answers = answers(r.body());
        assertThat(answers).extracting(a -> a.getInteger("error_code")).containsExactly(200, 400, 200);
        assertThat(answers.get(1).getString("message")).contains("partition_id 7");
        assertThat(answers).extracting(a -> a.getLong("offset")).containsExactly(0L, null, 1L);
        assertThat(read(broker, "few", 0)).extracting(Stored::valueText).containsExactly("a", "c");
    }

    @Test
    void aStreamThatCannotBeSplitEndsCleanlyAfterItsLastGoodRecord(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("broken", 1, Map.of()));
        HttpClientRequest request = await(http.request(HttpMethod.POST, port, "127.0.0.1", records("broken")));
        request.setChunked(true).putHeader("Content-Type", "application/json");
        Future<HttpClientResponse> response = request.response();
        Future<Buffer> responseBody = response.compose(HttpClientResponse::body);
        await(request.write("{\"value\":{\"type\":\"STRING\",\"data\":\"ok-1\"}}\n{\"value\":{\"type\":\"STRING\",\"data\":\"ok-2\"}}"));
        await(request.write(", [oops] {\"value\":{\"type\":\"STRING\",\"data\":\"never\"}}"));
        await(request.end());
        HttpClientResponse r = await(response);
        List<JsonObject> answers = answers(await(responseBody));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(answers).extracting(a -> a.getInteger("error_code")).containsExactly(200, 200, 400);
        assertThat(answers.get(2).getString("message")).contains("','");
        assertThat(read(broker, "broken", 0)).extracting(Stored::valueText).containsExactly("ok-1", "ok-2");
    }

    /** Waits on the test's thread (never an event loop) until {@code condition} holds. */
    static void awaitCondition(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(ApiFixture.AWAIT_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Timed out waiting: " + what);
            }
            Thread.sleep(5);
        }
    }
}

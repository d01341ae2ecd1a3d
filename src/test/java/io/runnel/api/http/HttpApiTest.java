package io.runnel.api.http;

import static io.runnel.api.http.ApiFixture.BINARY_V2;
import static io.runnel.api.http.ApiFixture.JSON_V2;
import static io.runnel.api.http.ApiFixture.await;
import static io.runnel.api.http.ApiFixture.read;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.broker.BrokerService;
import io.runnel.config.LogConfig;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;

/**
 * The HTTP API's happy paths and per-record failures, end to end: requests through a real HTTP
 * server, records read back through {@link BrokerService#fetch}. Malformed requests are
 * {@link HttpApiBadInputTest}'s.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HttpApiTest {

    static final long BODY_LIMIT_BYTES = 1 << 20;

    @TempDir
    Path dataDir;

    ApiFixture api;
    BrokerService broker;
    int port;

    void start(Vertx vertx) throws Exception {
        api = ApiFixture.start(vertx, dataDir);
        broker = api.broker(true, 3);
        port = api.serve(broker, BODY_LIMIT_BYTES, () -> true);
    }

    @AfterEach
    void stop() throws Exception {
        if (api != null) {
            api.close();
        }
    }

    HttpResponse<Buffer> post(String path, String contentType, JsonObject body) throws Exception {
        return api.send(port, HttpMethod.POST, path, contentType, body.encode());
    }

    static JsonObject records(JsonObject... records) {
        return new JsonObject().put("records", new JsonArray(List.of((Object[]) records)));
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static void assertOk(HttpResponse<Buffer> r) {
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
        assertThat(r.getHeader("Content-Type")).isEqualTo(HttpApi.V2_JSON);
    }

    @Test
    void jsonProduceStoresKeysAndValuesAsTheirJsonText(Vertx vertx) throws Exception {
        start(vertx);
        JsonObject order = new JsonObject().put("id", 7).put("items", new JsonArray().add("tea").add(2.5))
                .put("gift", false).putNull("note");
        HttpResponse<Buffer> r = post("/topics/orders", JSON_V2, records(
                new JsonObject().put("key", "customer-1").put("value", order),
                new JsonObject().put("value", 42),
                new JsonObject().put("key", new JsonObject().put("k", 1)).put("value", "plain \"text\" é"),
                new JsonObject().put("key", "customer-1").putNull("value")));
        assertOk(r);
        JsonObject body = r.bodyAsJsonObject();
        assertThat(body.fieldNames()).containsExactly("key_schema_id", "value_schema_id", "offsets");
        assertThat(body.getValue("key_schema_id")).isNull();
        JsonArray offsets = body.getJsonArray("offsets");
        assertThat(offsets).hasSize(4);

        // A JSON key is hashed as its JSON text, as Confluent's proxy does (the quotes are part of it).
        int customerPartition = BuiltInPartitioner.partitionForKey(utf8("\"customer-1\""), 3);
        assertThat(offsets.getJsonObject(0).getInteger("partition")).isEqualTo(customerPartition);
        assertThat(offsets.getJsonObject(3).getInteger("partition")).isEqualTo(customerPartition);
        assertThat(offsets.getJsonObject(3).getLong("offset")).isGreaterThan(offsets.getJsonObject(0).getLong("offset"));
        for (int i = 0; i < 4; i++) {
            JsonObject o = offsets.getJsonObject(i);
            assertThat(o.fieldNames()).containsExactly("partition", "offset", "error_code", "error");
            assertThat(o.getValue("error_code")).isNull();
            assertThat(o.getValue("error")).isNull();
        }

        ApiFixture.Stored first = stored(offsets.getJsonObject(0));
        assertThat(first.keyText()).isEqualTo("\"customer-1\"");
        assertThat(first.valueText()).isEqualTo("{\"id\":7,\"items\":[\"tea\",2.5],\"gift\":false,\"note\":null}");
        ApiFixture.Stored tombstone = stored(offsets.getJsonObject(3));
        assertThat(tombstone.keyText()).isEqualTo("\"customer-1\"");
        assertThat(tombstone.value()).as("JSON null is a null value (a tombstone), not the text null").isNull();

        ApiFixture.Stored unkeyed = stored(offsets.getJsonObject(1));
        assertThat(unkeyed.key()).isNull();
        assertThat(unkeyed.valueText()).isEqualTo("42");
        ApiFixture.Stored objectKey = stored(offsets.getJsonObject(2));
        assertThat(objectKey.keyText()).isEqualTo("{\"k\":1}");
        assertThat(objectKey.valueText()).isEqualTo("\"plain \\\"text\\\" é\"");
    }

    /** The record an offsets entry of topic orders points at. */
    ApiFixture.Stored stored(JsonObject offset) throws Exception {
        return read(broker, "orders", offset.getInteger("partition")).stream()
                .filter(s -> s.offset() == offset.getLong("offset")).findFirst().orElseThrow();
    }

    @Test
    void binaryProduceStoresTheBytesTheBase64Encodes(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("raw", 1, Map.of()));
        byte[] key = {0, 1, 2, (byte) 0xff};
        byte[] value = new byte[300];
        for (int i = 0; i < value.length; i++) {
            value[i] = (byte) (i * 7);
        }
        HttpResponse<Buffer> r = post("/topics/raw", BINARY_V2 + "; charset=utf-8", records(
                new JsonObject().put("key", Base64.getEncoder().encodeToString(key))
                        .put("value", Base64.getEncoder().encodeToString(value)),
                new JsonObject().put("value", ""),
                new JsonObject().put("key", "AA").putNull("value")));
        assertOk(r);
        assertThat(r.bodyAsJsonObject().getJsonArray("offsets").stream().map(o -> ((JsonObject) o).getLong("offset")))
                .containsExactly(0L, 1L, 2L);

        List<ApiFixture.Stored> stored = read(broker, "raw", 0);
        assertThat(stored.get(0).key()).containsExactly(key);
        assertThat(stored.get(0).value()).containsExactly(value);
        assertThat(stored.get(1).key()).isNull();
        assertThat(stored.get(1).value()).isEmpty();
        assertThat(stored.get(2).key()).as("unpadded base64 is accepted").containsExactly(0);
        assertThat(stored.get(2).value()).isNull();
    }

    @Test
    void thePartitionEndpointPutsEveryRecordOnItsPartition(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("pinned", 3, Map.of()));
        JsonObject[] batch = new JsonObject[5];
        for (int i = 0; i < batch.length; i++) {
            batch[i] = new JsonObject().put("key", "k" + i).put("value", i);
        }
        HttpResponse<Buffer> r = post("/topics/pinned/partitions/2", JSON_V2, records(batch));
        assertOk(r);
        JsonArray offsets = r.bodyAsJsonObject().getJsonArray("offsets");
        for (int i = 0; i < batch.length; i++) {
            assertThat(offsets.getJsonObject(i).getInteger("partition")).isEqualTo(2);
            assertThat(offsets.getJsonObject(i).getLong("offset")).isEqualTo(i);
        }
        assertThat(read(broker, "pinned", 2)).extracting(ApiFixture.Stored::valueText)
                .containsExactly("0", "1", "2", "3", "4");
        assertThat(read(broker, "pinned", 0)).isEmpty();
        assertThat(read(broker, "pinned", 1)).isEmpty();
    }

    @Test
    void offsetsComeBackInRecordOrderAcrossPartitions(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("mixed", 3, Map.of()));
        int[] partitions = {1, 0, 1, 2, 0, 1};
        JsonObject[] batch = new JsonObject[partitions.length];
        for (int i = 0; i < partitions.length; i++) {
            batch[i] = new JsonObject().put("value", "v" + i).put("partition", partitions[i]);
        }
        JsonArray offsets = post("/topics/mixed", JSON_V2, records(batch)).bodyAsJsonObject().getJsonArray("offsets");
        long[] expected = {0, 0, 1, 0, 1, 2};
        for (int i = 0; i < partitions.length; i++) {
            assertThat(offsets.getJsonObject(i).getInteger("partition")).isEqualTo(partitions[i]);
            assertThat(offsets.getJsonObject(i).getLong("offset")).as("record %d", i).isEqualTo(expected[i]);
        }
        assertThat(read(broker, "mixed", 1)).extracting(ApiFixture.Stored::valueText)
                .containsExactly("\"v0\"", "\"v2\"", "\"v5\"");
    }

    @Test
    void aPartitionThatRefusesItsBatchFailsOnlyItsRecords(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("small", 2, Map.of(LogConfig.MAX_MESSAGE_BYTES, "200")));
        HttpResponse<Buffer> r = post("/topics/small", JSON_V2, records(
                new JsonObject().put("value", "fits").put("partition", 0),
                new JsonObject().put("value", "x".repeat(500)).put("partition", 1),
                new JsonObject().put("value", "fits too").put("partition", 0),
                new JsonObject().put("value", "small, but shares partition 1's batch").put("partition", 1)));
        assertOk(r);
        JsonArray offsets = r.bodyAsJsonObject().getJsonArray("offsets");
        assertThat(offsets.getJsonObject(0).getLong("offset")).isZero();
        assertThat(offsets.getJsonObject(2).getLong("offset")).isOne();
        for (int i : new int[] {1, 3}) {
            JsonObject failed = offsets.getJsonObject(i);
            assertThat(failed.getInteger("partition")).isEqualTo(1);
            assertThat(failed.getValue("offset")).isNull();
            assertThat(failed.getInteger("error_code")).isEqualTo(ErrorCodes.KAFKA_ERROR);
            assertThat(failed.getString("error")).startsWith("MESSAGE_TOO_LARGE: ").contains("max.message.bytes");
        }
        assertThat(read(broker, "small", 0)).hasSize(2);
        assertThat(ApiFixture.logEndOffset(broker, "small", 1)).as("a refused batch leaves no trace").isZero();
    }

    @Test
    void topicsAreListedAndDescribedWithTheirEffectiveConfigs(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("b-events", 2, Map.of(LogConfig.RETENTION_MS, "60000",
                LogConfig.CLEANUP_POLICY, "compact")));
        await(api.topics.createTopic("a-log", 1, Map.of()));

        HttpResponse<Buffer> list = api.get(port, "/topics");
        assertOk(list);
        assertThat(list.bodyAsJsonArray()).containsExactly("a-log", "b-events");

        HttpResponse<Buffer> described = api.get(port, "/topics/b-events");
        assertOk(described);
        JsonObject topic = described.bodyAsJsonObject();
        assertThat(topic.fieldNames()).containsExactly("name", "configs", "partitions");
        assertThat(topic.getString("name")).isEqualTo("b-events");
        JsonObject configs = topic.getJsonObject("configs");
        assertThat(configs.fieldNames()).as("every topic config, effective").containsExactlyInAnyOrderElementsOf(LogConfig.KEYS);
        assertThat(configs.getValue(LogConfig.RETENTION_MS)).isEqualTo("60000");
        assertThat(configs.getValue(LogConfig.CLEANUP_POLICY)).isEqualTo("compact");
        assertThat(configs.getValue(LogConfig.MAX_MESSAGE_BYTES))
                .isEqualTo(Integer.toString(LogConfig.DEFAULT_MAX_MESSAGE_BYTES));
        JsonObject partition1 = new JsonObject().put("partition", 1).put("leader", 0).put("replicas",
                new JsonArray().add(new JsonObject().put("broker", 0).put("leader", true).put("in_sync", true)));
        assertThat(topic.getJsonArray("partitions")).hasSize(2);
        assertThat(topic.getJsonArray("partitions").getJsonObject(1)).isEqualTo(partition1);

        HttpResponse<Buffer> partitions = api.get(port, "/topics/b-events/partitions");
        assertOk(partitions);
        assertThat(partitions.bodyAsJsonArray()).isEqualTo(topic.getJsonArray("partitions"));
        HttpResponse<Buffer> one = api.get(port, "/topics/b-events/partitions/1");
        assertOk(one);
        assertThat(one.bodyAsJsonObject()).isEqualTo(partition1);
    }

    @Test
    void partitionOffsetsAreTheLogStartAndTheHighWatermark(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("counted", 2, Map.of()));
        assertThat(api.get(port, "/topics/counted/partitions/1/offsets").bodyAsJsonObject())
                .isEqualTo(new JsonObject().put("beginning_offset", 0).put("end_offset", 0));

        JsonObject[] batch = new JsonObject[4];
        for (int i = 0; i < batch.length; i++) {
            batch[i] = new JsonObject().put("value", i);
        }
        assertOk(post("/topics/counted/partitions/1", JSON_V2, records(batch)));
        HttpResponse<Buffer> r = api.get(port, "/topics/counted/partitions/1/offsets");
        assertOk(r);
        assertThat(r.bodyAsJsonObject()).isEqualTo(new JsonObject().put("beginning_offset", 0).put("end_offset", 4));
        assertThat(api.get(port, "/topics/counted/partitions/0/offsets").bodyAsJsonObject().getLong("end_offset")).isZero();
    }

    @Test
    void healthIsUpAndReadinessFollowsTheBroker(Vertx vertx) throws Exception {
        start(vertx);
        AtomicBoolean ready = new AtomicBoolean();
        int gated = api.serve(broker, BODY_LIMIT_BYTES, ready::get);

        HttpResponse<Buffer> health = api.get(gated, "/health");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.getHeader("Content-Type")).isEqualTo(HttpApi.JSON);
        assertThat(health.bodyAsJsonObject()).isEqualTo(new JsonObject().put("status", "UP"));

        HttpResponse<Buffer> notReady = api.get(gated, "/ready");
        assertThat(notReady.statusCode()).isEqualTo(503);
        assertThat(notReady.bodyAsJsonObject()).isEqualTo(new JsonObject().put("status", "DOWN"));
        ready.set(true);
        HttpResponse<Buffer> isReady = api.get(gated, "/ready");
        assertThat(isReady.statusCode()).isEqualTo(200);
        assertThat(isReady.bodyAsJsonObject()).isEqualTo(new JsonObject().put("status", "UP"));

        assertThat(api.get(port, "/ready").statusCode()).as("the three-argument router is ready at once").isEqualTo(200);
    }

    @Test
    void aStorageFailureIsA500WithARetriableCodeAndNoStackTrace(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("existing", 1, Map.of()));
        api.closeTopics();

        // The topic's partition is closed: its records fail, each with the retriable code.
        HttpResponse<Buffer> perRecord = post("/topics/existing", JSON_V2, records(new JsonObject().put("value", 1)));
        assertOk(perRecord);
        JsonObject failed = perRecord.bodyAsJsonObject().getJsonArray("offsets").getJsonObject(0);
        assertThat(failed.getInteger("error_code")).isEqualTo(ErrorCodes.KAFKA_RETRIABLE_ERROR);
        assertThat(failed.getString("error")).startsWith("KAFKA_STORAGE_ERROR: ");

        // Auto-creating a topic while the broker shuts down fails the whole request.
        HttpResponse<Buffer> whole = post("/topics/brand-new", JSON_V2, records(new JsonObject().put("value", 1)));
        assertThat(whole.statusCode()).isEqualTo(500);
        JsonObject error = whole.bodyAsJsonObject();
        assertThat(error.fieldNames()).containsExactly("error_code", "message");
        assertThat(error.getInteger("error_code")).isEqualTo(ErrorCodes.KAFKA_RETRIABLE_ERROR);
        assertThat(error.getString("message")).contains("shutting down").doesNotContain("\tat ", "Exception");
    }

    @Test
    void everyErrorCodeMapsToTheStatusItStartsWith() throws Exception {
        int checked = 0;
        for (Field f : ErrorCodes.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == int.class) {
                int code = f.getInt(null);
                int status = ErrorCodes.httpStatus(code);
                assertThat(status).as(f.getName()).isBetween(400, 599);
                assertThat(Integer.toString(code)).as(f.getName()).startsWith(Integer.toString(status));
                checked++;
            }
        }
        assertThat(checked).isGreaterThanOrEqualTo(12);
    }
}

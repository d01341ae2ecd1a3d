package io.runnel.api.http;

import static io.runnel.api.http.ApiFixture.BINARY_V2;
import static io.runnel.api.http.ApiFixture.JSON_V2;
import static io.runnel.api.http.ApiFixture.await;
import static io.vertx.core.http.HttpMethod.DELETE;
import static io.vertx.core.http.HttpMethod.GET;
import static io.vertx.core.http.HttpMethod.POST;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;

/**
 * Confluent v2 consumer instances, route by route: what a client of Confluent's REST Proxy does,
 * and every refusal with Confluent's code. Topic {@code t} has 2 partitions holding
 * {@code k0:v0 … k5:v5} (keys hashed, values JSON strings); consumer instances expire after
 * {@value #IDLE_MS} ms without a request.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ConsumerApiTest {

    static final long IDLE_MS = 1_000;
    static final String V2 = "application/vnd.kafka.v2+json";

    @TempDir
    Path dataDir;

    ApiFixture api;
    BrokerService broker;
    int port;

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        api = ApiFixture.start(vertx, dataDir);
        broker = api.brokerWithGroups(true, 2);
        int[] p = new int[1];
        api.serve(broker, new HttpApi.Settings(1 << 20, IDLE_MS, () -> true, null), p);
        port = p[0];
        await(api.topics.createTopic("t", 2, Map.of()));
        List<BrokerService.ProduceRecord> records = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            records.add(new BrokerService.ProduceRecord(bytes("\"k" + i + "\""), bytes("\"v" + i + "\""), null, null, null));
        }
        await(broker.produce("t", records, Partition.Acks.ALL));
    }

    @AfterEach
    void stop() throws Exception {
        api.close();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    HttpResponse<Buffer> call(HttpMethod method, String path, String accept, Object body) throws Exception {
        HttpRequest<Buffer> r = api.client.request(method, port, "127.0.0.1", path).putHeader("Content-Type", V2);
        if (accept != null) {
            r.putHeader("Accept", accept);
        }
        Future<HttpResponse<Buffer>> sent = body == null ? r.send()
                : body instanceof String s ? r.sendBuffer(Buffer.buffer(s)) : r.sendJsonObject((JsonObject) body);
        return await(sent);
    }

    JsonObject ok(HttpMethod method, String path, JsonObject body) throws Exception {
        HttpResponse<Buffer> r = call(method, path, null, body);
        assertThat(r.statusCode()).as(r.bodyAsString()).isBetween(200, 204);
        return r.body() == null || r.body().length() == 0 ? null : r.bodyAsJsonObject();
    }

    static void assertError(HttpResponse<Buffer> r, int status, int code) {
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(status);
        assertThat(r.bodyAsJsonObject().getInteger("error_code")).isEqualTo(code);
        assertThat(r.bodyAsJsonObject().getString("message")).isNotBlank().doesNotContain("Exception");
    }

    String create(String group, String name, String format, boolean autoCommit) throws Exception {
        JsonObject answer = ok(POST, "/consumers/" + group, new JsonObject().put("name", name).put("format", format)
                .put("auto.offset.reset", "earliest").put("auto.commit.enable", Boolean.toString(autoCommit)));
        assertThat(answer.getString("instance_id")).isEqualTo(name);
        String base = answer.getString("base_uri");
        assertThat(base).isEqualTo("http://127.0.0.1:" + port + "/consumers/" + group + "/instances/" + name);
        return base.substring(("http://127.0.0.1:" + port).length());
    }

    JsonObject partitions(int... ps) {
        JsonArray list = new JsonArray();
        for (int p : ps) {
            list.add(new JsonObject().put("topic", "t").put("partition", p));
        }
        return new JsonObject().put("partitions", list);
    }

    JsonArray read(String instance, String accept) throws Exception {
        HttpResponse<Buffer> r = call(GET, instance + "/records?timeout=200", accept, null);
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
        assertThat(r.getHeader("Content-Type")).isEqualTo(accept);
        return r.bodyAsJsonArray();
    }

    /** Reads until {@code n} records came (or 10 s passed). */
    List<JsonObject> readAll(String instance, String accept, int n) throws Exception {
        List<JsonObject> out = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 10_000;
        while (out.size() < n && System.currentTimeMillis() < deadline) {
            read(instance, accept).forEach(o -> out.add((JsonObject) o));
        }
        return out;
    }

    @Test
    void aBinaryInstanceReadsBase64KeysAndValuesWithTheirPlaces() throws Exception {
        String c = create("g", "bin", "binary", false);
        ok(POST, c + "/assignments", partitions(0, 1));

        List<JsonObject> records = readAll(c, BINARY_V2, 6);

        assertThat(records).hasSize(6);
        List<String> values = new ArrayList<>();
        for (JsonObject r : records) {
            assertThat(r.fieldNames()).containsExactlyInAnyOrder("topic", "key", "value", "partition", "offset");
            assertThat(r.getString("topic")).isEqualTo("t");
            String key = new String(Base64.getDecoder().decode(r.getString("key")), StandardCharsets.UTF_8);
            String value = new String(Base64.getDecoder().decode(r.getString("value")), StandardCharsets.UTF_8);
            assertThat(value).isEqualTo(key.replace('k', 'v'));
            values.add(value);
        }
        assertThat(values).containsExactlyInAnyOrder("\"v0\"", "\"v1\"", "\"v2\"", "\"v3\"", "\"v4\"", "\"v5\"");
        assertThat(read(c, BINARY_V2)).as("nothing is handed out twice").isEmpty();
    }

    @Test
    void aJsonInstanceShowsValuesAsJsonAndRefusesAnotherFormat() throws Exception {
        String c = create("g", "json", "json", false);
        ok(POST, c + "/assignments", partitions(0, 1));

        assertError(call(GET, c + "/records", BINARY_V2, null), 406, ErrorCodes.CONSUMER_FORMAT_MISMATCH);
        List<JsonObject> records = readAll(c, JSON_V2, 6);

        assertThat(records).extracting(r -> r.getValue("value"))
                .containsExactlyInAnyOrder("v0", "v1", "v2", "v3", "v4", "v5");
    }

    @Test
    void maxBytesBoundsAReadButAlwaysHandsOutOneRecord() throws Exception {
        String c = create("g", "small", "binary", false);
        ok(POST, c + "/assignments", partitions(0));

        HttpResponse<Buffer> r = call(GET, c + "/records?timeout=200&max_bytes=1", BINARY_V2, null);

        assertThat(r.bodyAsJsonArray()).hasSize(1);
    }

    @Test
    void aReadWaitsForTheNextRecordUntilItsTimeout() throws Exception {
        String c = create("g", "waiting", "binary", false);
        ok(POST, c + "/assignments", partitions(0, 1));
        readAll(c, BINARY_V2, 6);

        Future<HttpResponse<Buffer>> waiting = api.client.get(port, "127.0.0.1", c + "/records?timeout=10000")
                .putHeader("Accept", BINARY_V2).send();
        Thread.sleep(300);
        assertThat(waiting.isComplete()).as("nothing to read yet: the read waits").isFalse();
        await(broker.produce("t", List.of(new BrokerService.ProduceRecord(null, bytes("late"), null, 1, null)),
                Partition.Acks.ALL));

        JsonArray woken = await(waiting).bodyAsJsonArray();
        assertThat(woken).hasSize(1);
        assertThat(woken.getJsonObject(0).getString("value")).isEqualTo(Base64.getEncoder().encodeToString(bytes("late")));
    }

    @Test
    void seeksMovePositionsAndOnlyAssignedPartitionsCanBeSought() throws Exception {
        String c = create("g", "seeker", "binary", false);
        ok(POST, c + "/assignments", partitions(0));
        List<JsonObject> all = readAll(c, BINARY_V2, (int) ApiFixture.logEndOffset(broker, "t", 0));

        ok(POST, c + "/positions/beginning", partitions(0));
        assertThat(readAll(c, BINARY_V2, all.size())).hasSameSizeAs(all);
        ok(POST, c + "/positions", new JsonObject().put("offsets", new JsonArray()
                .add(new JsonObject().put("topic", "t").put("partition", 0).put("offset", all.size() - 1))));
        assertThat(read(c, BINARY_V2)).hasSize(1);
        ok(POST, c + "/positions/end", partitions(0));
        assertThat(read(c, BINARY_V2)).isEmpty();

        assertError(call(POST, c + "/positions/beginning", null, partitions(1)), 409, ErrorCodes.CONSUMER_STATE_CONFLICT);
    }

    @Test
    void committedOffsetsAreWhereTheGroupsNextInstanceStarts() throws Exception {
        String first = create("billing", "first", "binary", false);
        ok(POST, first + "/assignments", partitions(0, 1));
        assertThat(call(GET, first + "/offsets", null, partitions(0)).bodyAsJsonObject()
                .getJsonArray("offsets").getJsonObject(0).getLong("offset")).as("nothing committed yet").isEqualTo(-1);
        readAll(first, BINARY_V2, 6);
        ok(POST, first + "/offsets", new JsonObject().put("offsets", new JsonArray()
                .add(new JsonObject().put("topic", "t").put("partition", 0).put("offset", 1))));
        ok(POST, first + "/offsets", new JsonObject().put("offsets", new JsonArray()
                .add(new JsonObject().put("topic", "t").put("partition", 1).put("offset", 0))));
        ok(DELETE, first, null);

        String second = create("billing", "second", "binary", false);
        ok(POST, second + "/assignments", partitions(0, 1));
        JsonArray committed = call(GET, second + "/offsets", null, partitions(0, 1)).bodyAsJsonObject()
                .getJsonArray("offsets");
        assertThat(committed.getJsonObject(0).getLong("offset")).isEqualTo(1);
        assertThat(committed.getJsonObject(1).getLong("offset")).isEqualTo(0);
        assertThat(readAll(second, BINARY_V2, 5)).hasSize(5);
    }

    @Test
    void autoCommitCommitsWhatWasHandedOutWhenTheInstanceIsDeleted() throws Exception {
        String reader = create("auto", "reader", "binary", true);
        ok(POST, reader + "/subscription", new JsonObject().put("topics", new JsonArray().add("t")));
        assertThat(readAll(reader, BINARY_V2, 6)).hasSize(6);
        ok(DELETE, reader, null);

        String next = create("auto", "next", "binary", true);
        ok(POST, next + "/subscription", new JsonObject().put("topics", new JsonArray().add("t")));
        assertThat(readAll(next, BINARY_V2, 1)).as("the group already consumed everything").isEmpty();
    }

    @Test
    void subscriptionIsReportedAndExcludesManualAssignment() throws Exception {
        String c = create("g", "sub", "binary", false);
        ok(POST, c + "/subscription", new JsonObject().put("topic_pattern", "t.*"));
        assertThat(ok(GET, c + "/subscription", null).getJsonArray("topics")).containsExactly("t");

        assertError(call(POST, c + "/assignments", null, partitions(0)), 409, ErrorCodes.CONSUMER_STATE_CONFLICT);
        ok(DELETE, c + "/subscription", null);
        assertError(call(GET, c + "/records", BINARY_V2, null), 409, ErrorCodes.CONSUMER_STATE_CONFLICT);
        ok(POST, c + "/assignments", partitions(1));
        assertThat(ok(GET, c + "/assignments", null).getJsonArray("partitions"))
                .containsExactly(new JsonObject().put("topic", "t").put("partition", 1));
    }

    @Test
    void namesAreUniqueInAGroupAndIdleInstancesExpire() throws Exception {
        String c = create("g", "dup", "binary", false);
        assertError(call(POST, "/consumers/g", null, new JsonObject().put("name", "dup")), 409,
                ErrorCodes.CONSUMER_ALREADY_EXISTS);
        assertThat(create("other-group", "dup", "binary", false)).as("another group may use the name").isNotNull();

        // Any request would keep it alive, so the test only waits: well past the timeout and the expiry check.
        Thread.sleep(IDLE_MS * 3);
        assertError(call(GET, c + "/assignments", null, null), 404, ErrorCodes.CONSUMER_INSTANCE_NOT_FOUND);
    }

    @Test
    void badRequestsGetConfluentsCodes() throws Exception {
        String c = create("g", "strict", "binary", false);
        assertError(call(POST, "/consumers/g", null, "{not json"), 400, ErrorCodes.BAD_REQUEST);
        assertError(call(POST, "/consumers/g", null, new JsonObject().put("format", "avro")), 422,
                ErrorCodes.UNPROCESSABLE_ENTITY);
        assertError(call(POST, "/consumers/g", null, new JsonObject().put("auto.offset.reset", "soon")), 422,
                ErrorCodes.UNPROCESSABLE_ENTITY);
        assertError(call(POST, "/consumers/g", null, new JsonObject().put("colour", "blue")), 422,
                ErrorCodes.UNPROCESSABLE_ENTITY);
        assertError(call(POST, c + "/subscription", null, new JsonObject().put("topics", "t")), 422,
                ErrorCodes.UNPROCESSABLE_ENTITY);
        assertError(call(POST, c + "/subscription", null, new JsonObject()), 409, ErrorCodes.CONSUMER_STATE_CONFLICT);
        assertError(call(POST, c + "/assignments", null, new JsonObject().put("partitions", new JsonArray()
                .add(new JsonObject().put("topic", "nope").put("partition", 0)))), 404, ErrorCodes.TOPIC_NOT_FOUND);
        assertError(call(POST, c + "/assignments", null, partitions(7)), 404, ErrorCodes.PARTITION_NOT_FOUND);
        assertError(call(GET, c + "/records?timeout=soon", BINARY_V2, null), 400, ErrorCodes.BAD_REQUEST);
        assertError(call(POST, c + "/offsets", null, new JsonObject().put("offsets", new JsonArray()
                .add(new JsonObject().put("topic", "t").put("partition", 0).put("offset", -3)))), 422,
                ErrorCodes.UNPROCESSABLE_ENTITY);
        assertError(call(DELETE, "/consumers/g/instances/ghost", null, null), 404, ErrorCodes.CONSUMER_INSTANCE_NOT_FOUND);
    }
}

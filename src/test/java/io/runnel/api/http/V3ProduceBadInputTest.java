package io.runnel.api.http;

import static io.runnel.api.http.ApiFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;

/**
 * Malformed and misaddressed v3 produce requests of one record each (sent with a Content-Length,
 * so each gets a plain answer), one table row each: every one gets its status and error code in a
 * JSON error body, none a 500, and after all of them nothing was written (no record, no topic).
 *
 * <p>The broker: topic {@code existing} with 2 partitions and a few records, auto-creation on (v3
 * must still not create), a {@value #BODY_LIMIT_BYTES}-byte body limit (here: per record).
 */
@ExtendWith(BlockedEventLoopExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class V3ProduceBadInputTest {

    static final long BODY_LIMIT_BYTES = 4096;

    /** One malformed request and the answer it must get. */
    record Case(String name, String topic, Buffer body, int status, int errorCode, String messagePart) {
        @Override
        public String toString() {
            return name + " → " + status + "/" + errorCode;
        }
    }

    @TempDir
    static Path dataDir;

    ApiFixture api;
    BrokerService broker;
    int port;
    Set<String> topicsBefore;
    final Map<Integer, Long> logEndOffsetsBefore = new TreeMap<>();

    @BeforeAll
    void start(Vertx vertx) throws Exception {
        api = ApiFixture.start(vertx, dataDir);
        await(api.topics.createTopic("existing", 2, Map.of()));
        broker = api.broker(true, 2);
        List<BrokerService.ProduceRecord> seed = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            seed.add(new BrokerService.ProduceRecord(null, ("seed-" + i).getBytes(StandardCharsets.UTF_8), null, i % 2, null));
        }
        await(broker.produce("existing", seed, Partition.Acks.ALL));
        port = api.serve(broker, BODY_LIMIT_BYTES, () -> true);
        topicsBefore = api.topics.topicNames();
        for (int p = 0; p < 2; p++) {
            logEndOffsetsBefore.put(p, ApiFixture.logEndOffset(broker, "existing", p));
        }
        assertThat(logEndOffsetsBefore.values()).containsExactly(3L, 2L);
    }

    @AfterAll
    void stop() throws Exception {
        if (api != null) {
            api.close();
        }
    }

    static Case bad(String name, String body, String messagePart) {
        return new Case(name, "existing", Buffer.buffer(body), 400, ErrorCodes.BAD_REQUEST, messagePart);
    }

    /** A record with {@code fields} added to a valid JSON value. */
    static String record(String fields) {
        return "{\"value\":{\"type\":\"JSON\",\"data\":1}," + fields + "}";
    }

    static List<Case> cases() {
        List<Case> t = new ArrayList<>();
        // Not a stream of JSON objects at all.
        t.add(bad("not JSON at all", "records, please", "expected a JSON object"));
        t.add(bad("empty body", "", "no record"));
        t.add(bad("only whitespace", " \n\t ", "no record"));
        t.add(bad("a JSON array", "[{\"value\":{\"type\":\"JSON\",\"data\":1}}]", "'['"));
        t.add(bad("a JSON string", "\"value\"", "expected a JSON object"));
        t.add(bad("unterminated object", "{\"value\":{\"type\":\"JSON\",\"data\":1}", "ended inside a record"));
        t.add(bad("broken inside a balanced object", "{\"value\":{\"type\":\"JSON\",\"data\": }}", "not valid JSON"));
        t.add(new Case("invalid UTF-8", "existing", Buffer.buffer("{\"value\":{\"type\":\"STRING\",\"data\":\"")
                .appendBytes(new byte[] {(byte) 0xff, (byte) 0xfe}).appendString("\"}}"), 400, 400, "not valid JSON"));
        // Wrong shapes and types.
        t.add(bad("an unknown record field", "{\"records\":[]}", "Unrecognized field: records"));
        t.add(bad("value is not an object", "{\"value\":\"plain\"}", "value must be an object"));
        t.add(bad("unknown key type", "{\"key\":{\"type\":\"AVRO\",\"data\":1}}", "key.type 'AVRO' is not supported"));
        t.add(bad("lower-case type", "{\"value\":{\"type\":\"json\",\"data\":1}}", "value.type 'json'"));
        t.add(bad("type missing", "{\"value\":{\"data\":1}}", "value.type is required"));
        t.add(bad("type not a string", "{\"value\":{\"type\":1,\"data\":1}}", "value.type must be a string"));
        t.add(bad("a schema field", "{\"value\":{\"type\":\"JSON\",\"schema_id\":3,\"data\":1}}", "schema"));
        t.add(bad("an unknown data field", "{\"value\":{\"type\":\"JSON\",\"dta\":1}}", "Unrecognized field: value.dta"));
        t.add(bad("BINARY data not base64", "{\"value\":{\"type\":\"BINARY\",\"data\":\"not base64!\"}}",
                "value.data is not valid base64"));
        t.add(bad("BINARY data a number", "{\"value\":{\"type\":\"BINARY\",\"data\":12}}", "value.data must be a base64 string"));
        t.add(bad("STRING data an object", "{\"key\":{\"type\":\"STRING\",\"data\":{}}}", "key.data must be a string"));
        t.add(bad("header value not base64", record("\"headers\":[{\"name\":\"h\",\"value\":\"%%%\"}]"),
                "headers[0].value is not valid base64"));
        t.add(bad("header without a name", record("\"headers\":[{\"value\":\"AA==\"}]"), "headers[0].name is required"));
        t.add(bad("headers not an array", record("\"headers\":{\"h\":\"AA==\"}"), "headers must be an array"));
        t.add(bad("a header not an object", record("\"headers\":[\"h\"]"), "headers[0] must be an object"));
        t.add(bad("negative partition", record("\"partition_id\":-1"), "partition_id must be at least 0"));
        t.add(bad("partition out of range", record("\"partition_id\":2"), "partition_id 2 does not exist"));
        t.add(bad("partition a string", record("\"partition_id\":\"0\""), "partition_id must be a whole number"));
        t.add(bad("partition a fraction", record("\"partition_id\":0.5"), "partition_id must be a whole number"));
        t.add(bad("partition beyond int", record("\"partition_id\":3000000000"), "out of range"));
        t.add(bad("timestamp without a zone", record("\"timestamp\":\"2024-05-01T12:00:00\""), "ISO-8601"));
        t.add(bad("timestamp negative", record("\"timestamp\":-5"), "at least 0"));
        t.add(bad("timestamp a boolean", record("\"timestamp\":true"), "timestamp must be"));
        // Too large, or misaddressed.
        t.add(new Case("record over the limit", "existing",
                Buffer.buffer("{\"value\":{\"type\":\"STRING\",\"data\":\"" + "x".repeat((int) BODY_LIMIT_BYTES) + "\"}}"),
                413, ErrorCodes.PAYLOAD_TOO_LARGE, "larger than the limit of " + BODY_LIMIT_BYTES));
        t.add(new Case("unknown topic (not auto-created)", "nope", Buffer.buffer(record("\"partition_id\":0")),
                404, ErrorCodes.NOT_FOUND, "Topic 'nope' not found"));
        return t;
    }

    @Order(1)
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void eachMalformedRecordGetsItsErrorAndIsNotWritten(Case c) throws Exception {
        String path = "/v3/clusters/" + broker.identity().clusterId() + "/topics/" + c.topic() + "/records";
        HttpResponse<Buffer> r = api.send(port, HttpMethod.POST, path, "application/json", c.body());
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(c.status());
        assertThat(r.getHeader("Content-Type")).isEqualTo("application/json");
        JsonObject body = r.bodyAsJsonObject();
        assertThat(body.fieldNames()).containsExactly("error_code", "message");
        assertThat(body.getInteger("error_code")).isEqualTo(c.errorCode());
        assertThat(body.getString("message")).contains(c.messagePart()).doesNotContain("Exception", "\tat ");
    }

    @Order(2)
    @Test
    void nothingWasWritten() throws Exception {
        assertThat(api.topics.topicNames()).isEqualTo(topicsBefore);
        for (int p = 0; p < 2; p++) {
            assertThat(ApiFixture.logEndOffset(broker, "existing", p)).as("partition %d", p)
                    .isEqualTo(logEndOffsetsBefore.get(p));
        }
    }

    @Order(3)
    @Test
    void aGoodRecordAfterAllOfThemIsWritten() throws Exception {
        String path = "/v3/clusters/" + broker.identity().clusterId() + "/topics/existing/records";
        HttpResponse<Buffer> r = api.send(port, HttpMethod.POST, path, "application/json", record("\"partition_id\":1"));
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
        assertThat(r.bodyAsJsonObject().getLong("offset")).isEqualTo(logEndOffsetsBefore.get(1));
    }
}

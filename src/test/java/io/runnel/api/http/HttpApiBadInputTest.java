package io.runnel.api.http;

import static io.runnel.api.http.ApiFixture.BINARY_V2;
import static io.runnel.api.http.ApiFixture.JSON_V2;
import static io.runnel.api.http.ApiFixture.await;
import static io.vertx.core.http.HttpMethod.DELETE;
import static io.vertx.core.http.HttpMethod.GET;
import static io.vertx.core.http.HttpMethod.POST;
import static io.vertx.core.http.HttpMethod.PUT;
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
 * Malformed and misaddressed requests, one table row each: every one gets its expected status and
 * Confluent error code in a JSON error body without a stack trace, none gets a 500, and after all
 * of them nothing was written (no record, no topic).
 *
 * <p>The broker: topic {@code existing} with 2 partitions and a few records; one API with
 * auto-creation off ({@link Server#STRICT}) and one with it on ({@link Server#AUTO_CREATE}, for the
 * names only creation can refuse), both with a {@value #BODY_LIMIT_BYTES}-byte body limit.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HttpApiBadInputTest {

    static final long BODY_LIMIT_BYTES = 4096;
    static final String TOPIC = "/topics/existing";
    static final String ONE_JSON_RECORD = "{\"records\":[{\"value\":1}]}";
    static final String AVRO_V2 = "application/vnd.kafka.avro.v2+json";

    enum Server { STRICT, AUTO_CREATE }

    /** One malformed request and the answer it must get. */
    record Case(String name, Server server, HttpMethod method, String path, String contentType, Buffer body,
                int status, int errorCode) {
        @Override
        public String toString() {
            return name + " → " + status + "/" + errorCode;
        }
    }

    @TempDir
    static Path dataDir;

    ApiFixture api;
    BrokerService strict;
    final Map<Server, Integer> ports = new TreeMap<>();
    Set<String> topicsBefore;
    final Map<Integer, Long> logEndOffsetsBefore = new TreeMap<>();

    @BeforeAll
    void start(Vertx vertx) throws Exception {
        api = ApiFixture.start(vertx, dataDir);
        await(api.topics.createTopic("existing", 2, Map.of()));
        strict = api.broker(false, 2);
        List<BrokerService.ProduceRecord> seed = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            seed.add(new BrokerService.ProduceRecord(null, ("seed-" + i).getBytes(StandardCharsets.UTF_8), null, i % 2, null));
        }
        await(strict.produce("existing", seed, Partition.Acks.ALL));
        ports.put(Server.STRICT, api.serve(strict, BODY_LIMIT_BYTES, () -> true));
        ports.put(Server.AUTO_CREATE, api.serve(api.broker(true, 2), BODY_LIMIT_BYTES, () -> true));
        topicsBefore = api.topics.topicNames();
        for (int p = 0; p < 2; p++) {
            logEndOffsetsBefore.put(p, ApiFixture.logEndOffset(strict, "existing", p));
        }
        assertThat(logEndOffsetsBefore.values()).containsExactly(3L, 2L);
    }

    @AfterAll
    void stop() throws Exception {
        if (api != null) {
            api.close();
        }
    }

    static List<Case> cases() {
        List<Case> t = new ArrayList<>();
        // The body is not JSON, or not the right JSON types: 400/400, as rest-utils answers Jackson's errors.
        t.add(produce("malformed JSON", JSON_V2, "{\"records\":[", 400, ErrorCodes.BAD_REQUEST));
        t.add(produce("not JSON at all", JSON_V2, "records, please", 400, ErrorCodes.BAD_REQUEST));
        t.add(produce("empty body", JSON_V2, "", 400, ErrorCodes.BAD_REQUEST));
        t.add(produce("trailing garbage after the JSON", JSON_V2, ONE_JSON_RECORD + " x", 400, ErrorCodes.BAD_REQUEST));
        t.add(new Case("invalid UTF-8", Server.STRICT, POST, TOPIC, JSON_V2,
                Buffer.buffer("{\"records\":[{\"value\":\"").appendBytes(new byte[] {(byte) 0xff, (byte) 0xfe})
                        .appendString("\"}]}"), 400, ErrorCodes.BAD_REQUEST));
        t.add(produce("body is a JSON array", JSON_V2, "[{\"value\":1}]", 400, ErrorCodes.BAD_REQUEST));
        t.add(produce("body is a JSON string", JSON_V2, "\"records\"", 400, ErrorCodes.BAD_REQUEST));
        t.add(produce("records is not an array", JSON_V2, "{\"records\":{\"value\":1}}", 400, ErrorCodes.BAD_REQUEST));
        t.add(produce("a record is not an object", JSON_V2, "{\"records\":[1]}", 400, ErrorCodes.BAD_REQUEST));
        t.add(produce("binary value is not a string", BINARY_V2, "{\"records\":[{\"value\":{\"a\":1}}]}",
                400, ErrorCodes.BAD_REQUEST));
        t.add(produce("record partition is a string", JSON_V2, record("\"partition\":\"0\""), 400, ErrorCodes.BAD_REQUEST));
        t.add(produce("record partition is a fraction", JSON_V2, record("\"partition\":1.5"), 400, ErrorCodes.BAD_REQUEST));
        t.add(produce("record partition beyond int", JSON_V2, record("\"partition\":3000000000"), 400,
                ErrorCodes.BAD_REQUEST));

        // JSON of the right shape that breaks a rule: 422/422, as Confluent's validation answers.
        t.add(produce("body is JSON null", JSON_V2, "null", 422, ErrorCodes.UNPROCESSABLE_ENTITY));
        t.add(produce("records missing", JSON_V2, "{}", 422, ErrorCodes.UNPROCESSABLE_ENTITY));
        t.add(produce("records null", JSON_V2, "{\"records\":null}", 422, ErrorCodes.UNPROCESSABLE_ENTITY));
        t.add(produce("records empty", JSON_V2, "{\"records\":[]}", 422, ErrorCodes.UNPROCESSABLE_ENTITY));
        t.add(produce("an unrecognized top-level field", JSON_V2, "{\"records\":[{\"value\":1}],\"topic\":\"x\"}",
                422, ErrorCodes.UNPROCESSABLE_ENTITY));
        t.add(produce("v3's headers in a v2 record", JSON_V2, record("\"headers\":[]"), 422,
                ErrorCodes.UNPROCESSABLE_ENTITY));
        t.add(produce("binary value is not base64", BINARY_V2, "{\"records\":[{\"value\":\"not base64!\"}]}",
                422, ErrorCodes.UNPROCESSABLE_ENTITY));
        t.add(produce("binary key is not base64", BINARY_V2, "{\"records\":[{\"key\":\"a b\",\"value\":\"AQID\"}]}",
                422, ErrorCodes.UNPROCESSABLE_ENTITY));
        t.add(produce("negative record partition", JSON_V2, record("\"partition\":-1"), 422,
                ErrorCodes.UNPROCESSABLE_ENTITY));
        t.add(new Case("a record partition on the partition endpoint", Server.STRICT, POST, TOPIC + "/partitions/0",
                JSON_V2, Buffer.buffer(record("\"partition\":0")), 422, ErrorCodes.UNPROCESSABLE_ENTITY));

        // Content types: the JSON, binary and Avro embedded formats of v2.
        t.add(produce("text/plain", "text/plain", ONE_JSON_RECORD, 415, ErrorCodes.UNSUPPORTED_MEDIA_TYPE));
        t.add(produce("plain application/json", "application/json", ONE_JSON_RECORD, 415,
                ErrorCodes.UNSUPPORTED_MEDIA_TYPE));
        t.add(produce("no Content-Type", null, ONE_JSON_RECORD, 415, ErrorCodes.UNSUPPORTED_MEDIA_TYPE));
        t.add(produce("Avro values without a value schema", AVRO_V2, "{\"records\":[{\"value\":1}]}", 422,
                ErrorCodes.VALUE_SCHEMA_MISSING));
        t.add(produce("Avro keys without a key schema", AVRO_V2,
                "{\"value_schema_id\":1,\"records\":[{\"key\":1,\"value\":1}]}", 422, ErrorCodes.KEY_SCHEMA_MISSING));
        t.add(produce("Avro schema text and id both", AVRO_V2,
                "{\"value_schema\":\"\\\"int\\\"\",\"value_schema_id\":1,\"records\":[{\"value\":1}]}", 422,
                ErrorCodes.UNPROCESSABLE_ENTITY));
        t.add(produce("an Avro schema id that is not a number", AVRO_V2,
                "{\"value_schema_id\":\"1\",\"records\":[{\"value\":1}]}", 400, ErrorCodes.BAD_REQUEST));
        t.add(produce("Avro on a broker without a schema registry", AVRO_V2,
                "{\"value_schema\":\"\\\"int\\\"\",\"records\":[{\"value\":1}]}", 500,
                ErrorCodes.KAFKA_RETRIABLE_ERROR));
        t.add(produce("the v1 API", "application/vnd.kafka.json.v1+json", ONE_JSON_RECORD, 415,
                ErrorCodes.UNSUPPORTED_MEDIA_TYPE));

        // Topics and partitions that are not there.
        t.add(new Case("unknown topic, auto-creation off", Server.STRICT, POST, "/topics/missing", JSON_V2,
                Buffer.buffer(ONE_JSON_RECORD), 404, ErrorCodes.TOPIC_NOT_FOUND));
        t.add(new Case("unknown topic on the partition endpoint", Server.STRICT, POST, "/topics/missing/partitions/0",
                JSON_V2, Buffer.buffer(ONE_JSON_RECORD), 404, ErrorCodes.TOPIC_NOT_FOUND));
        t.add(produce("record partition beyond the topic's", JSON_V2, record("\"partition\":2"), 404,
                ErrorCodes.PARTITION_NOT_FOUND));
        for (String p : List.of("abc", "-1", "2", "99999999999", "1.0")) {
            t.add(new Case("path partition " + p, Server.STRICT, POST, TOPIC + "/partitions/" + p, JSON_V2,
                    Buffer.buffer(ONE_JSON_RECORD), 404, ErrorCodes.PARTITION_NOT_FOUND));
        }
        t.add(get("GET a missing topic", "/topics/missing", 404, ErrorCodes.TOPIC_NOT_FOUND));
        t.add(get("GET the partitions of a missing topic", "/topics/missing/partitions", 404, ErrorCodes.TOPIC_NOT_FOUND));
        t.add(get("GET a missing partition", TOPIC + "/partitions/7", 404, ErrorCodes.PARTITION_NOT_FOUND));
        t.add(get("GET the offsets of a missing partition", TOPIC + "/partitions/2/offsets", 404,
                ErrorCodes.PARTITION_NOT_FOUND));
        t.add(get("GET the offsets of partition x", TOPIC + "/partitions/x/offsets", 404,
                ErrorCodes.PARTITION_NOT_FOUND));

        // Topic names Kafka refuses: creation refuses them (400/40002); without creation they are simply not there.
        t.add(new Case("illegal topic name, auto-creation on", Server.AUTO_CREATE, POST, "/topics/bad$name", JSON_V2,
                Buffer.buffer(ONE_JSON_RECORD), 400, ErrorCodes.KAFKA_BAD_REQUEST));
        t.add(new Case("topic name with a space, auto-creation on", Server.AUTO_CREATE, POST, "/topics/bad%20name",
                JSON_V2, Buffer.buffer(ONE_JSON_RECORD), 400, ErrorCodes.KAFKA_BAD_REQUEST));
        t.add(new Case("topic name of 250 characters, auto-creation on", Server.AUTO_CREATE, POST,
                "/topics/" + "t".repeat(250), JSON_V2, Buffer.buffer(ONE_JSON_RECORD), 400, ErrorCodes.KAFKA_BAD_REQUEST));
        t.add(new Case("illegal topic name, auto-creation off", Server.STRICT, POST, "/topics/bad$name", JSON_V2,
                Buffer.buffer(ONE_JSON_RECORD), 404, ErrorCodes.TOPIC_NOT_FOUND));

        // Bodies over the limit: refused before they are parsed.
        t.add(produce("body just over the limit", JSON_V2, bodyOf((int) BODY_LIMIT_BYTES + 1), 413,
                ErrorCodes.PAYLOAD_TOO_LARGE));
        t.add(produce("body far over the limit", BINARY_V2, bodyOf(256 * 1024), 413, ErrorCodes.PAYLOAD_TOO_LARGE));

        // Paths and methods the API does not have.
        t.add(get("unknown path", "/nope", 404, ErrorCodes.NOT_FOUND));
        t.add(get("unknown path under a topic", TOPIC + "/nope", 404, ErrorCodes.NOT_FOUND));
        t.add(get("records of an unknown consumer instance", "/consumers/g/instances/i/records", 404,
                ErrorCodes.CONSUMER_INSTANCE_NOT_FOUND));
        t.add(new Case("DELETE a topic", Server.STRICT, DELETE, TOPIC, null, null, 405, ErrorCodes.METHOD_NOT_ALLOWED));
        t.add(new Case("POST to /topics", Server.STRICT, POST, "/topics", JSON_V2, Buffer.buffer(ONE_JSON_RECORD),
                405, ErrorCodes.METHOD_NOT_ALLOWED));
        t.add(new Case("PUT /health", Server.STRICT, PUT, "/health", null, null, 405, ErrorCodes.METHOD_NOT_ALLOWED));
        t.add(new Case("POST offsets", Server.STRICT, POST, TOPIC + "/partitions/0/offsets", JSON_V2,
                Buffer.buffer(ONE_JSON_RECORD), 405, ErrorCodes.METHOD_NOT_ALLOWED));
        return t;
    }

    static Case produce(String name, String contentType, String body, int status, int errorCode) {
        return new Case(name, Server.STRICT, POST, TOPIC, contentType, Buffer.buffer(body), status, errorCode);
    }

    static Case get(String name, String path, int status, int errorCode) {
        return new Case(name, Server.STRICT, GET, path, null, null, status, errorCode);
    }

    /** A request with one record holding {@code fields} besides its value. */
    static String record(String fields) {
        return "{\"records\":[{\"value\":1," + fields + "}]}";
    }

    /** A well-formed binary produce body of exactly {@code bytes} bytes. */
    static String bodyOf(int bytes) {
        String head = "{\"records\":[{\"value\":\"";
        String tail = "\"}]}";
        return head + "A".repeat(bytes - head.length() - tail.length()) + tail;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    @Order(1)
    void isRefusedWithItsStatusAndCode(Case c) throws Exception {
        HttpResponse<Buffer> r = api.send(ports.get(c.server()), c.method(), c.path(), c.contentType(), c.body());
        String body = r.bodyAsString();
        assertThat(r.statusCode()).as(body).isEqualTo(c.status());
        assertThat(r.getHeader("Content-Type")).isIn(HttpApi.V2_JSON, HttpApi.JSON);
        JsonObject error = new JsonObject(body);
        assertThat(error.fieldNames()).containsExactly("error_code", "message");
        assertThat(error.getInteger("error_code")).as(body).isEqualTo(c.errorCode());
        assertThat(error.getString("message")).as("a message saying what is wrong").isNotBlank()
                .doesNotContain("\tat ", "Exception", "[Source");
        if (c.status() == 415) {
            assertThat(error.getString("message")).as("names the types served").contains(JSON_V2, BINARY_V2);
        }
    }

    @Test
    @Order(2)
    void noneOfThemWroteAnything() throws Exception {
        assertThat(api.topics.topicNames()).isEqualTo(topicsBefore);
        for (Map.Entry<Integer, Long> e : logEndOffsetsBefore.entrySet()) {
            assertThat(ApiFixture.logEndOffset(strict, "existing", e.getKey())).as("partition %d", e.getKey())
                    .isEqualTo(e.getValue());
        }
    }

}

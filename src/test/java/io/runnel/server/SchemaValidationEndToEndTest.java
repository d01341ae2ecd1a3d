package io.runnel.server;

import static io.runnel.broker.AvroWire.ORDER;
import static io.runnel.broker.AvroWire.USER;
import static io.runnel.broker.AvroWire.user;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecordBuilder;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.broker.AvroWire;
import io.runnel.broker.Partition;
import io.runnel.config.BrokerConfig;
import io.runnel.config.LogConfig;
import io.runnel.testing.BlockedEventLoopExtension;
import io.runnel.testing.BrokerWarmUp;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;

/**
 * Schema validation at the edge, as producers meet it on every way in a broker in this JVM
 * serves — the Kafka protocol (Apache Kafka's Java client, the wire format written by hand), HTTP
 * v2 and v3, WebSocket produce: a record of the subject's schema lands; raw JSON, an unknown
 * schema id, an id registered only under another subject and a truncated payload are each refused
 * with that way's error for INVALID_RECORD, naming the reason, and leave the log as it was. Also
 * the v2 Avro embedded format: JSON in, Avro stored, JSON out.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class SchemaValidationEndToEndTest {

    static final String BINARY_V2 = "application/vnd.kafka.binary.v2+json";
    static final String AVRO_V2 = "application/vnd.kafka.avro.v2+json";
    static final String V2 = "application/vnd.kafka.v2+json";
    static final String REGISTRY_JSON = "application/vnd.schemaregistry.v1+json";

    @TempDir
    static Path dataDir;
    static RunnelServer server;
    static WebClient client;
    static Vertx vertx;

    @BeforeAll
    static void start(Vertx v) throws Exception {
        warmUp();
        vertx = v;
        server = RunnelServer.start(v, config(dataDir.resolve("broker"))).await(30, TimeUnit.SECONDS);
        client = WebClient.create(v);
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.stop().await(30, TimeUnit.SECONDS);
        }
    }

    static BrokerConfig config(Path dir) {
        return BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0", "--data.dir=" + dir,
                "--num.partitions=1", "--group.initial.rebalance.delay.ms=0"), Map.of(), dir.resolve("none.properties"));
    }

    /**
     * Runs one validated produce of each kind on a throwaway, unwatched broker: the first Avro
     * decode, Kafka request and HTTP request of a JVM load hundreds of classes on an event loop,
     * which can pass the blocked-loop limit that is there to catch our blocking.
     */
    static void warmUp() throws Exception {
        Vertx throwaway = Vertx.vertx();
        try {
            RunnelServer warm = RunnelServer.start(throwaway, config(dataDir.resolve("warm-up"))).await(30, TimeUnit.SECONDS);
            RunnelServer saved = server;
            WebClient savedClient = client;
            server = warm;
            client = WebClient.create(throwaway);
            try {
                int id = registerSchema("warm-value", USER);
                createValidatedTopic("warm");
                produceBinary("warm", user(id, "a", 1));
                produceBinary("warm", "{}".getBytes(StandardCharsets.UTF_8));
                post("/topics/warm", AVRO_V2, new JsonObject().put("value_schema_id", id)
                        .put("records", new JsonArray().add(new JsonObject().put("value",
                                new JsonObject().put("name", "w").put("age", 1)))));
                try (KafkaProducer<byte[], byte[]> p = producer()) {
                    p.send(new ProducerRecord<>("warm", user(id, "b", 2))).get(30, TimeUnit.SECONDS);
                }
                warm.stop().await(30, TimeUnit.SECONDS);
            } finally {
                server = saved;
                client = savedClient;
            }
        } finally {
            throwaway.close().await(30, TimeUnit.SECONDS);
        }
    }

    // ---------------------------------------------------------------- helpers

    static HttpResponse<Buffer> post(String path, String contentType, JsonObject body) throws Exception {
        return client.post(server.httpPort(), "127.0.0.1", path).putHeader("Content-Type", contentType)
                .sendBuffer(body.toBuffer()).await(20, TimeUnit.SECONDS);
    }

    static int registerSchema(String subject, String schema) throws Exception {
        HttpResponse<Buffer> r = client.post(server.registryPort(), "127.0.0.1", "/subjects/" + subject + "/versions")
                .putHeader("Content-Type", REGISTRY_JSON)
                .sendBuffer(new JsonObject().put("schema", schema).toBuffer()).await(20, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
        return r.bodyAsJsonObject().getInteger("id");
    }

    static void createValidatedTopic(String topic) throws Exception {
        server.topics().createTopic(topic, 1, Map.of(LogConfig.VALUE_SCHEMA_VALIDATION, "true"))
                .await(20, TimeUnit.SECONDS);
    }

    static HttpResponse<Buffer> produceBinary(String topic, byte[] value) throws Exception {
        return post("/topics/" + topic, BINARY_V2, new JsonObject().put("records", new JsonArray()
                .add(new JsonObject().put("value", Base64.getEncoder().encodeToString(value)))));
    }

    static long logEndOffset(String topic) throws Exception {
        return server.broker().listOffset(topic, 0, Partition.LATEST_TIMESTAMP).await(10, TimeUnit.SECONDS);
    }

    static KafkaProducer<byte[], byte[]> producer() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + server.kafkaPort());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** A topic with value validation, its subject's schema, and the four kinds of bad payload. */
    record Scene(String topic, int userId, Map<String, byte[]> bad) {
    }

    static Scene scene(String topic) throws Exception {
        int userId = registerSchema(topic + "-value", USER);
        int orderId = registerSchema(topic + "-other-value", ORDER);
        createValidatedTopic(topic);
        Schema order = new Schema.Parser().parse(ORDER);
        byte[] whole = user(userId, "ada lovelace", 36);
        Map<String, byte[]> bad = new LinkedHashMap<>();
        bad.put("starts with byte 0x7b, not the magic byte 0", "{\"name\":\"ada\",\"age\":36}".getBytes(StandardCharsets.UTF_8));
        bad.put("names schema id 424242, which is not registered", user(424242, "ada", 36));
        bad.put("names schema id " + orderId + ", which is not registered under subject '" + topic + "-value'",
                AvroWire.wire(orderId, order, new GenericRecordBuilder(order).set("id", 1L).set("note", "n").build()));
        bad.put("does not decode with schema id " + userId, AvroWire.truncated(whole, whole.length - 4));
        return new Scene(topic, userId, bad);
    }

    // ---------------------------------------------------------------- ways in

    @Test
    void theKafkaProtocolRefusesEachBadRecordWithInvalidRecord() throws Exception {
        Scene s = scene("kafka-validated");
        try (KafkaProducer<byte[], byte[]> producer = producer()) {
            long offset = producer.send(new ProducerRecord<>(s.topic(), user(s.userId(), "ada", 36)))
                    .get(30, TimeUnit.SECONDS).offset();
            assertThat(offset).isZero();
            for (Map.Entry<String, byte[]> bad : s.bad().entrySet()) {
                long before = logEndOffset(s.topic());
                assertThatThrownBy(() -> producer.send(new ProducerRecord<>(s.topic(), bad.getValue()))
                        .get(30, TimeUnit.SECONDS))
                        .isInstanceOf(ExecutionException.class)
                        .cause().isInstanceOf(InvalidRecordException.class)
                        .hasMessageContaining("Record 0").hasMessageContaining(bad.getKey());
                assertThat(logEndOffset(s.topic())).as("nothing of the refused batch is written").isEqualTo(before);
            }
            assertThat(producer.send(new ProducerRecord<>(s.topic(), user(s.userId(), "grace", 40)))
                    .get(30, TimeUnit.SECONDS).offset()).as("the producer goes on after a refusal").isEqualTo(1);
        }
    }

    @Test
    void httpV2RefusesTheRequestWith422AndWritesNoneOfIt() throws Exception {
        Scene s = scene("v2-validated");
        HttpResponse<Buffer> ok = produceBinary(s.topic(), user(s.userId(), "ada", 36));
        assertThat(ok.statusCode()).as(ok.bodyAsString()).isEqualTo(200);
        for (Map.Entry<String, byte[]> bad : s.bad().entrySet()) {
            long before = logEndOffset(s.topic());
            JsonArray records = new JsonArray()
                    .add(new JsonObject().put("value", Base64.getEncoder().encodeToString(user(s.userId(), "ok", 1))))
                    .add(new JsonObject().put("value", Base64.getEncoder().encodeToString(bad.getValue())));

            HttpResponse<Buffer> refused = post("/topics/" + s.topic(), BINARY_V2, new JsonObject().put("records", records));

            assertThat(refused.statusCode()).as(refused.bodyAsString()).isEqualTo(422);
            assertThat(refused.bodyAsJsonObject().getInteger("error_code")).isEqualTo(42206);
            assertThat(refused.bodyAsJsonObject().getString("message")).contains("Record 1 ", bad.getKey());
            assertThat(logEndOffset(s.topic())).as("the valid record beside it is not written either").isEqualTo(before);
        }
    }

    @Test
    void httpV3RefusesTheRecordWith422() throws Exception {
        Scene s = scene("v3-validated");
        String path = "/v3/clusters/" + server.broker().identity().clusterId() + "/topics/" + s.topic() + "/records";
        HttpResponse<Buffer> ok = post(path, "application/json", v3Record(user(s.userId(), "ada", 36)));
        assertThat(ok.statusCode()).as(ok.bodyAsString()).isEqualTo(200);
        for (Map.Entry<String, byte[]> bad : s.bad().entrySet()) {
            long before = logEndOffset(s.topic());

            HttpResponse<Buffer> refused = post(path, "application/json", v3Record(bad.getValue()));

            assertThat(refused.statusCode()).as(refused.bodyAsString()).isEqualTo(422);
            assertThat(refused.bodyAsJsonObject().getInteger("error_code")).isEqualTo(42206);
            assertThat(refused.bodyAsJsonObject().getString("message")).contains(bad.getKey());
            assertThat(logEndOffset(s.topic())).isEqualTo(before);
        }
    }

    static JsonObject v3Record(byte[] value) {
        return new JsonObject().put("value", new JsonObject().put("type", "BINARY")
                .put("data", Base64.getEncoder().encodeToString(value)));
    }

    @Test
    void webSocketProduceAnswersAnErrorFrameForEachBadRecord() throws Exception {
        Scene s = scene("ws-validated");
        BlockingQueue<JsonObject> frames = new LinkedBlockingQueue<>();
        WebSocket socket = vertx.createWebSocketClient().connect(new WebSocketConnectOptions().setHost("127.0.0.1")
                        .setPort(server.httpPort()).setURI("/ws/v1/topics/" + s.topic() + "/produce?format=binary"))
                .map(ws -> ws.textMessageHandler(t -> frames.add(new JsonObject(t)))).await(20, TimeUnit.SECONDS);
        try {
            socket.writeTextMessage(new JsonObject().put("id", "good").put("value",
                    Base64.getEncoder().encodeToString(user(s.userId(), "ada", 36))).encode());
            JsonObject receipt = frames.poll(20, TimeUnit.SECONDS);
            assertThat(receipt).isNotNull();
            assertThat(receipt.getString("type")).as(receipt.encode()).isEqualTo("receipt");
            int n = 0;
            for (Map.Entry<String, byte[]> bad : s.bad().entrySet()) {
                long before = logEndOffset(s.topic());
                socket.writeTextMessage(new JsonObject().put("id", n).put("value",
                        Base64.getEncoder().encodeToString(bad.getValue())).encode());

                JsonObject error = frames.poll(20, TimeUnit.SECONDS);

                assertThat(error).isNotNull();
                assertThat(error.getString("type")).as(error.encode()).isEqualTo("error");
                assertThat(error.getInteger("id")).isEqualTo(n++);
                assertThat(error.getInteger("error_code")).isEqualTo(42206);
                assertThat(error.getString("message")).startsWith("INVALID_RECORD: ").contains(bad.getKey());
                assertThat(logEndOffset(s.topic())).isEqualTo(before);
            }
        } finally {
            socket.close().await(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void theEventBusRefusesEachBadRecordWithAReplyExceptionOf42206() throws Exception {
        Scene s = scene("bus-validated");
        JsonObject good = new JsonObject().put("topic", s.topic()).put("encoding", "base64")
                .put("value", Base64.getEncoder().encodeToString(user(s.userId(), "ada", 36)));
        JsonObject receipt = vertx.eventBus().<JsonObject>request("runnel.produce", good).await(20, TimeUnit.SECONDS).body();
        assertThat(receipt.getLong("offset")).isZero();
        for (Map.Entry<String, byte[]> bad : s.bad().entrySet()) {
            long before = logEndOffset(s.topic());
            JsonObject request = new JsonObject().put("topic", s.topic()).put("encoding", "base64")
                    .put("value", Base64.getEncoder().encodeToString(bad.getValue()));

            assertThatThrownBy(() -> vertx.eventBus().request("runnel.produce", request).await(20, TimeUnit.SECONDS))
                    .isInstanceOfSatisfying(io.vertx.core.eventbus.ReplyException.class, e -> {
                        assertThat(e.failureCode()).isEqualTo(42206);
                        assertThat(e.getMessage()).startsWith("INVALID_RECORD: ").contains(bad.getKey());
                    });
            assertThat(logEndOffset(s.topic())).isEqualTo(before);

            // The batch form: one bad record among good ones refuses the whole batch.
            JsonObject goodRecord = new JsonObject().put("value", good.getString("value"));
            JsonObject batch = new JsonObject().put("topic", s.topic()).put("encoding", "base64").put("records",
                    new JsonArray().add(goodRecord).add(new JsonObject().put("value", request.getString("value")))
                            .add(goodRecord));
            assertThatThrownBy(() -> vertx.eventBus().request("runnel.produce", batch).await(20, TimeUnit.SECONDS))
                    .isInstanceOfSatisfying(io.vertx.core.eventbus.ReplyException.class, e -> {
                        assertThat(e.failureCode()).isEqualTo(42206);
                        assertThat(e.getMessage()).startsWith("INVALID_RECORD: ").contains(bad.getKey());
                    });
            assertThat(logEndOffset(s.topic())).as("nothing of the batch was written").isEqualTo(before);
        }
    }

    @Test
    void aTombstonePassesValidation() throws Exception {
        Scene s = scene("tombstones");
        HttpResponse<Buffer> r = post("/topics/" + s.topic(), BINARY_V2, new JsonObject().put("records",
                new JsonArray().add(new JsonObject().put("key", "a2V5").putNull("value"))));
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
        assertThat(logEndOffset(s.topic())).isEqualTo(1);
    }

    // ---------------------------------------------------------------- the Avro embedded format

    @Test
    void avroJsonGoesInRegisteredAndComesBackAsJson() throws Exception {
        String topic = "avro-round-trip";
        createValidatedTopic(topic);
        JsonObject request = new JsonObject().put("value_schema", USER).put("records", new JsonArray()
                .add(new JsonObject().put("value", new JsonObject().put("name", "ada").put("age", 36)))
                .add(new JsonObject().put("value", new JsonObject().put("name", "grace").put("age", 40))));

        HttpResponse<Buffer> produced = post("/topics/" + topic, AVRO_V2, request);

        assertThat(produced.statusCode()).as(produced.bodyAsString()).isEqualTo(200);
        int id = produced.bodyAsJsonObject().getInteger("value_schema_id");
        assertThat(produced.bodyAsJsonObject().getValue("key_schema_id")).isNull();
        assertThat(server.broker().schemaRegistry().orElseThrow().isLiveUnder(topic + "-value", id))
                .as("registered under the TopicNameStrategy subject").isTrue();

        String instance = "/consumers/avro-readers/instances/r";
        assertThat(post("/consumers/avro-readers", V2, new JsonObject().put("name", "r").put("format", "avro")
                .put("auto.offset.reset", "earliest")).statusCode()).isEqualTo(200);
        assertThat(post(instance + "/subscription", V2, new JsonObject().put("topics", new JsonArray().add(topic)))
                .statusCode()).isEqualTo(204);
        JsonArray read = new JsonArray();
        long deadline = System.currentTimeMillis() + 30_000;
        while (read.size() < 2 && System.currentTimeMillis() < deadline) {
            HttpResponse<Buffer> r = client.get(server.httpPort(), "127.0.0.1", instance + "/records?timeout=500")
                    .putHeader("Accept", AVRO_V2).send().await(20, TimeUnit.SECONDS);
            assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
            r.bodyAsJsonArray().forEach(read::add);
        }
        assertThat(read).hasSize(2);
        assertThat(read.getJsonObject(0).getJsonObject("value")).isEqualTo(new JsonObject().put("name", "ada").put("age", 36));
        assertThat(read.getJsonObject(1).getJsonObject("value").getString("name")).isEqualTo("grace");
    }

    @Test
    void avroRequestsAreRefusedWithConfluentsCodes() throws Exception {
        String topic = "avro-refusals";
        int id = registerSchema(topic + "-value", USER);
        JsonArray fitting = new JsonArray().add(new JsonObject().put("value", new JsonObject().put("name", "a").put("age", 1)));

        HttpResponse<Buffer> noSchema = post("/topics/" + topic, AVRO_V2, new JsonObject().put("records", fitting));
        HttpResponse<Buffer> keyWithoutSchema = post("/topics/" + topic, AVRO_V2, new JsonObject().put("value_schema_id", id)
                .put("records", new JsonArray().add(new JsonObject().put("key", "k").put("value",
                        new JsonObject().put("name", "a").put("age", 1)))));
        HttpResponse<Buffer> notFitting = post("/topics/" + topic, AVRO_V2, new JsonObject().put("value_schema_id", id)
                .put("records", new JsonArray().add(new JsonObject().put("value", new JsonObject().put("name", "a")))));
        HttpResponse<Buffer> unknownId = post("/topics/" + topic, AVRO_V2, new JsonObject().put("value_schema_id", 99999)
                .put("records", fitting));
        HttpResponse<Buffer> badSchema = post("/topics/" + topic, AVRO_V2, new JsonObject().put("value_schema", "{\"type\":")
                .put("records", fitting));

        assertThat(noSchema.bodyAsJsonObject().getInteger("error_code")).as(noSchema.bodyAsString()).isEqualTo(42202);
        assertThat(keyWithoutSchema.bodyAsJsonObject().getInteger("error_code")).isEqualTo(42201);
        assertThat(notFitting.bodyAsJsonObject().getInteger("error_code")).as(notFitting.bodyAsString()).isEqualTo(42203);
        assertThat(notFitting.bodyAsJsonObject().getString("message")).contains("records[0].value");
        assertThat(unknownId.bodyAsJsonObject().getInteger("error_code")).isEqualTo(42205);
        assertThat(badSchema.bodyAsJsonObject().getInteger("error_code")).isEqualTo(42205);
        for (HttpResponse<Buffer> r : List.of(noSchema, keyWithoutSchema, notFitting, unknownId, badSchema)) {
            assertThat(r.statusCode()).isEqualTo(422);
        }
    }
}

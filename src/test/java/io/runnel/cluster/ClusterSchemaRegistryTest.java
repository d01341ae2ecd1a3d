package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Node;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.vertx.core.json.JsonObject;

/**
 * The schema registry across three brokers in three JVMs, Confluent's way: the broker leading
 * {@code _schemas-0} writes, the others forward writes to it and follow the topic. A schema
 * registered through any broker is soon readable on all; when the writer dies, another takes over
 * and hands out new ids, never one that was handed out before.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class ClusterSchemaRegistryTest {

    static final String REGISTRY_JSON = "application/vnd.schemaregistry.v1+json";
    static final String USER = "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"}]}";
    static final String ADDRESS = "{\"type\":\"record\",\"name\":\"Address\",\"fields\":[{\"name\":\"city\",\"type\":\"string\"}]}";
    static final String ORDER = "{\"type\":\"record\",\"name\":\"Order\",\"fields\":[{\"name\":\"total\",\"type\":\"long\"}]}";
    /** How long a broker's registry may take to see a schema registered elsewhere: a few follow intervals, generously. */
    static final long PROPAGATION_MS_MAX = 10_000;
    /** How long a new writer may take after the old one was killed: session timeout, election, catch-up. */
    static final long TAKEOVER_MS_MAX = 90_000;

    @TempDir
    Path dir;

    BrokerCluster cluster;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @AfterEach
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void oneBrokerWritesTheOthersForwardAndEveryBrokerReadsEverySchema() throws Exception {
        cluster = new BrokerCluster(dir, 3);
        cluster.start();
        try (Admin admin = cluster.admin()) {
            BrokerCluster.Broker writer = cluster.broker(schemasLeader(admin, -1));
            BrokerCluster.Broker other = cluster.brokers().stream().filter(b -> b != writer).findFirst().orElseThrow();

            int userId = register(other, "users-value", USER, TAKEOVER_MS_MAX);
            for (BrokerCluster.Broker b : cluster.brokers()) {
                assertThat(schemaById(b, userId)).as("schema %d on broker %d", userId, b.id).contains("User");
            }

            int addressId = register(writer, "addresses-value", ADDRESS, PROPAGATION_MS_MAX);
            assertThat(addressId).isNotEqualTo(userId);
            for (BrokerCluster.Broker b : cluster.brokers()) {
                assertThat(schemaById(b, addressId)).as("schema %d on broker %d", addressId, b.id).contains("Address");
            }
            assertThat(register(other, "users-value", USER, PROPAGATION_MS_MAX))
                    .as("registering a known schema again through a forwarder gives its id").isEqualTo(userId);

            cluster.kill(writer);
            int newWriter = schemasLeader(admin, writer.id);
            BrokerCluster.Broker survivor = cluster.brokers().stream().filter(b -> b.id != writer.id)
                    .filter(b -> b.id != newWriter).findFirst().orElseThrow();

            int orderId = register(survivor, "orders-value", ORDER, TAKEOVER_MS_MAX);

            assertThat(orderId).as("a new writer never hands out an id again").isNotIn(userId, addressId)
                    .isGreaterThan(Math.max(userId, addressId));
            for (BrokerCluster.Broker b : cluster.brokers()) {
                if (b.id != writer.id) {
                    assertThat(schemaById(b, orderId)).as("schema %d on broker %d", orderId, b.id).contains("Order");
                    assertThat(schemaById(b, userId)).contains("User");
                }
            }
        }
    }

    @Test
    void avroProducedThroughABrokerThatDoesNotWriteIsValidatedAndItsSchemaTextRegisteredAtTheWriter() throws Exception {
        cluster = new BrokerCluster(dir, 3);
        cluster.start();
        try (Admin admin = cluster.admin()) {
            admin.createTopics(List.of(new NewTopic("users", 1, (short) 3)
                            .configs(Map.of("confluent.value.schema.validation", "true"))))
                    .all().get(30, TimeUnit.SECONDS);
            BrokerCluster.Broker writer = cluster.broker(schemasLeader(admin, -1));
            BrokerCluster.Broker other = cluster.brokers().stream().filter(b -> b != writer).findFirst().orElseThrow();

            int id = register(writer, "users-value", USER, TAKEOVER_MS_MAX);
            HttpResponse<String> produced = produceAvro(other, "users", new JsonObject().put("value_schema_id", id)
                    .put("records", List.of(Map.of("value", Map.of("name", "ada")))));

            assertThat(produced.statusCode()).as(produced.body()).isEqualTo(200);
            JsonObject offset = new JsonObject(produced.body()).getJsonArray("offsets").getJsonObject(0);
            assertThat(offset.getValue("error")).as(produced.body()).isNull();
            assertThat(offset.getLong("offset")).isZero();

            HttpResponse<String> withText = produceAvro(other, "users", new JsonObject().put("value_schema", USER)
                    .put("records", List.of(Map.of("value", Map.of("name", "grace")))));

            assertThat(withText.statusCode()).as("schema text registered through the writer: %s", withText.body())
                    .isEqualTo(200);
            JsonObject answer = new JsonObject(withText.body());
            assertThat(answer.getInteger("value_schema_id")).as(withText.body()).isEqualTo(id);
            assertThat(answer.getJsonArray("offsets").getJsonObject(0).getLong("offset")).isEqualTo(1);
        }
    }

    /** Produces {@code body} (the REST Proxy's Avro v2 form) to {@code topic} over broker {@code b}'s HTTP API. */
    HttpResponse<String> produceAvro(BrokerCluster.Broker b, String topic, JsonObject body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + b.httpPort + "/topics/" + topic))
                .header("Content-Type", "application/vnd.kafka.avro.v2+json")
                .POST(HttpRequest.BodyPublishers.ofString(body.encode()))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * The leader of {@code _schemas-0} once there is a live one other than {@code notThis}, as the
     * cluster describes it.
     */
    static int schemasLeader(Admin admin, int notThis) throws Exception {
        long deadline = System.currentTimeMillis() + TAKEOVER_MS_MAX;
        while (true) {
            try {
                Node leader = BrokerCluster.describe(admin, "_schemas").partitions().get(0).leader();
                if (leader != null && leader.id() != notThis) {
                    return leader.id();
                }
            } catch (Exception e) {
                if (System.currentTimeMillis() > deadline) {
                    throw e;
                }
            }
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("_schemas-0 got no new leader within " + TAKEOVER_MS_MAX + " ms");
            }
            Thread.sleep(200);
        }
    }

    /**
     * Registers {@code schema} under {@code subject} through broker {@code b}; answers its id.
     * Retries, within {@code withinMs}, only what says "no writer yet" (50003): a writer being
     * elected or catching up.
     */
    int register(BrokerCluster.Broker b, String subject, String schema, long withinMs) throws Exception {
        long deadline = System.currentTimeMillis() + withinMs;
        while (true) {
            HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(b.registryUrl() + "/subjects/" + subject
                            + "/versions")).header("Content-Type", REGISTRY_JSON)
                    .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("schema", schema).encode())));
            if (r != null && r.statusCode() == 200) {
                assertThat(r.headers().firstValue("Content-Type")).hasValue(REGISTRY_JSON);
                return new JsonObject(r.body()).getInteger("id");
            }
            boolean noWriterYet = r == null || (r.statusCode() == 500
                    && new JsonObject(r.body()).getInteger("error_code") == 50003);
            if (!noWriterYet || System.currentTimeMillis() > deadline) {
                throw new AssertionError("Registering on broker " + b.id + ": "
                        + (r == null ? "no answer" : r.statusCode() + " " + r.body()));
            }
            Thread.sleep(200);
        }
    }

    /** The schema text with id {@code id} on broker {@code b}, once it has it (within {@link #PROPAGATION_MS_MAX}). */
    String schemaById(BrokerCluster.Broker b, int id) throws Exception {
        long deadline = System.currentTimeMillis() + PROPAGATION_MS_MAX;
        while (true) {
            HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(b.registryUrl() + "/schemas/ids/" + id)).GET());
            if (r != null && r.statusCode() == 200) {
                return new JsonObject(r.body()).getString("schema");
            }
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("Broker " + b.id + " did not have schema " + id + " within "
                        + PROPAGATION_MS_MAX + " ms: " + (r == null ? "no answer" : r.statusCode() + " " + r.body()));
            }
            Thread.sleep(100);
        }
    }

    /** The answer, or null when the broker did not answer (connection refused, timeout). */
    HttpResponse<String> send(HttpRequest.Builder request) throws InterruptedException {
        try {
            return http.send(request.timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            return null;
        }
    }
}

package io.runnel.api.http;

import static io.runnel.api.http.ApiFixture.await;
import static io.vertx.core.http.HttpMethod.DELETE;
import static io.vertx.core.http.HttpMethod.GET;
import static io.vertx.core.http.HttpMethod.PATCH;
import static io.vertx.core.http.HttpMethod.POST;
import static io.vertx.core.http.HttpMethod.PUT;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

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
 * The v3 admin routes as a client of Confluent's v3 sees them: clusters, brokers, topics, topic
 * configs, partitions and replicas, each answered in Confluent's shapes (kind, absolute
 * {@code metadata.self} links, related links), and their 4xx answers. Produce is
 * {@link V3ProduceTest}'s.
 *
 * <p>The broker: auto-creation on (v3 must still not create topics), {@code num.partitions} 2.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class V3ApiTest {

    static final long BODY_LIMIT_BYTES = 1 << 20;
    static final int DEFAULT_PARTITIONS = 2;

    @TempDir
    Path dataDir;

    ApiFixture api;
    BrokerService broker;
    int port;
    String clusterId;
    /** {@code http://127.0.0.1:port/v3/clusters/{id}}: where every link of this broker starts. */
    String base;

    void start(Vertx vertx) throws Exception {
        api = ApiFixture.start(vertx, dataDir);
        broker = api.broker(true, DEFAULT_PARTITIONS);
        port = api.serve(broker, BODY_LIMIT_BYTES, () -> true);
        clusterId = broker.identity().clusterId();
        base = "http://127.0.0.1:" + port + "/v3/clusters/" + clusterId;
    }

    @AfterEach
    void stop() throws Exception {
        if (api != null) {
            api.close();
        }
    }

    HttpResponse<Buffer> call(HttpMethod method, String path, JsonObject body) throws Exception {
        return api.send(port, method, path, body == null ? null : "application/json", body == null ? null : body.encode());
    }

    /** A path under this cluster: {@code /v3/clusters/{id}} + {@code tail}. */
    String c(String tail) {
        return "/v3/clusters/" + clusterId + tail;
    }

    static JsonObject ok(HttpResponse<Buffer> r, int status) {
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(status);
        assertThat(r.getHeader("Content-Type")).isEqualTo("application/json");
        return r.bodyAsJsonObject();
    }

    static void assertError(HttpResponse<Buffer> r, int status, int errorCode, String messagePart) {
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(status);
        assertThat(r.getHeader("Content-Type")).isEqualTo("application/json");
        JsonObject body = r.bodyAsJsonObject();
        assertThat(body.fieldNames()).containsExactlyInAnyOrder("error_code", "message");
        assertThat(body.getInteger("error_code")).isEqualTo(errorCode);
        assertThat(body.getString("message")).contains(messagePart);
    }

    static JsonObject createBody(String name, Integer partitions) {
        JsonObject body = new JsonObject().put("topic_name", name);
        return partitions == null ? body : body.put("partitions_count", partitions);
    }

    // ---------------------------------------------------------------- cluster and brokers

    @Test
    void theClusterListHoldsThisOneCluster(Vertx vertx) throws Exception {
        start(vertx);
        JsonObject list = ok(api.get(port, "/v3/clusters"), 200);
        assertThat(list.getString("kind")).isEqualTo("KafkaClusterList");
        assertThat(list.getJsonObject("metadata").getString("self")).isEqualTo("http://127.0.0.1:" + port + "/v3/clusters");
        assertThat(list.getJsonObject("metadata").containsKey("next")).isTrue();
        assertThat(list.getJsonArray("data")).hasSize(1);
        JsonObject cluster = list.getJsonArray("data").getJsonObject(0);
        assertThat(cluster).isEqualTo(ok(api.get(port, c("")), 200));

        assertThat(cluster.getString("kind")).isEqualTo("KafkaCluster");
        assertThat(cluster.getString("cluster_id")).isEqualTo(clusterId);
        assertThat(cluster.getJsonObject("metadata").getString("self")).isEqualTo(base);
        assertThat(cluster.getJsonObject("metadata").getString("resource_name")).isEqualTo("crn:///kafka=" + clusterId);
        assertThat(cluster.getJsonObject("controller").getString("related")).isEqualTo(base + "/brokers/0");
        assertThat(cluster.getJsonObject("brokers").getString("related")).isEqualTo(base + "/brokers");
        assertThat(cluster.getJsonObject("topics").getString("related")).isEqualTo(base + "/topics");
        assertThat(cluster.fieldNames()).contains("acls", "broker_configs", "consumer_groups", "partition_reassignments");
    }

    @Test
    void linksFollowTheHostTheClientUsed(Vertx vertx) throws Exception {
        start(vertx);
        HttpResponse<Buffer> r = await(api.client.get(port, "127.0.0.1", "/v3/clusters/" + clusterId)
                .putHeader("Host", "runnel.example:9999").send());
        assertThat(ok(r, 200).getJsonObject("metadata").getString("self"))
                .isEqualTo("http://runnel.example:9999/v3/clusters/" + clusterId);
    }

    @Test
    void anotherClusterIdIsNotFound(Vertx vertx) throws Exception {
        start(vertx);
        assertError(api.get(port, "/v3/clusters/not-this-one"), 404, 404, "not-this-one");
        assertError(api.get(port, "/v3/clusters/not-this-one/topics"), 404, 404, "Cluster 'not-this-one' not found");
        assertError(call(POST, "/v3/clusters/not-this-one/topics", createBody("x", 1)), 404, 404, "not-this-one");
        assertThat(api.topics.topicNames()).isEmpty();
    }

    @Test
    void theBrokerIsThisOne(Vertx vertx) throws Exception {
        start(vertx);
        JsonObject list = ok(api.get(port, c("/brokers")), 200);
        assertThat(list.getString("kind")).isEqualTo("KafkaBrokerList");
        assertThat(list.getJsonArray("data")).hasSize(1);
        JsonObject b = ok(api.get(port, c("/brokers/0")), 200);
        assertThat(list.getJsonArray("data").getJsonObject(0)).isEqualTo(b);
        assertThat(b.getString("kind")).isEqualTo("KafkaBroker");
        assertThat(b.getJsonObject("metadata").getString("self")).isEqualTo(base + "/brokers/0");
        assertThat(b.getString("cluster_id")).isEqualTo(clusterId);
        assertThat(b.getInteger("broker_id")).isEqualTo(0);
        assertThat(b.getString("host")).isEqualTo("127.0.0.1");
        assertThat(b.getInteger("port")).isEqualTo(port);
        assertThat(b.containsKey("rack")).isTrue();
        assertError(api.get(port, c("/brokers/7")), 404, 404, "Broker '7' not found");
    }

    // ---------------------------------------------------------------- topics

    @Test
    void aTopicIsCreatedWithItsConfigsListedReadAndDeleted(Vertx vertx) throws Exception {
        start(vertx);
        JsonObject body = createBody("orders", 3).put("replication_factor", 1).put("configs", new JsonArray()
                .add(new JsonObject().put("name", "cleanup.policy").put("value", "compact"))
                .add(new JsonObject().put("name", "retention.ms").put("value", "60000")));
        JsonObject created = ok(call(POST, c("/topics"), body), 201);
        assertThat(created.getString("kind")).isEqualTo("KafkaTopic");
        assertThat(created.getJsonObject("metadata").getString("self")).isEqualTo(base + "/topics/orders");
        assertThat(created.getJsonObject("metadata").getString("resource_name"))
                .isEqualTo("crn:///kafka=" + clusterId + "/topic=orders");
        assertThat(created.getString("cluster_id")).isEqualTo(clusterId);
        assertThat(created.getString("topic_name")).isEqualTo("orders");
        assertThat(created.getBoolean("is_internal")).isFalse();
        assertThat(created.getInteger("replication_factor")).isEqualTo(1);
        assertThat(created.getInteger("partitions_count")).isEqualTo(3);
        assertThat(created.getJsonObject("partitions").getString("related")).isEqualTo(base + "/topics/orders/partitions");
        assertThat(created.getJsonObject("configs").getString("related")).isEqualTo(base + "/topics/orders/configs");
        assertThat(api.topics.topic("orders").configOverrides())
                .isEqualTo(Map.of("cleanup.policy", "compact", "retention.ms", "60000"));
        assertThat(ok(api.get(port, c("/topics/orders")), 200)).isEqualTo(created);

        // Defaults: num.partitions, and -1 means the default too.
        assertThat(ok(call(POST, c("/topics"), createBody("plain", null)), 201).getInteger("partitions_count"))
                .isEqualTo(DEFAULT_PARTITIONS);
        assertThat(ok(call(POST, c("/topics"), createBody("minus", -1).put("replication_factor", -1)), 201)
                .getInteger("partitions_count")).isEqualTo(DEFAULT_PARTITIONS);
        await(api.topics.createTopic("__consumer_offsets", 1, Map.of()));
        await(api.topics.createTopic("_schemas", 1, Map.of()));

        JsonObject list = ok(api.get(port, c("/topics")), 200);
        assertThat(list.getString("kind")).isEqualTo("KafkaTopicList");
        assertThat(list.getJsonObject("metadata").getString("self")).isEqualTo(base + "/topics");
        List<JsonObject> topics = list.getJsonArray("data").stream().map(JsonObject.class::cast).toList();
        assertThat(topics).extracting(t -> t.getString("topic_name"))
                .containsExactly("__consumer_offsets", "_schemas", "minus", "orders", "plain");
        assertThat(topics).extracting(t -> t.getBoolean("is_internal")).containsExactly(true, true, false, false, false);
        assertThat(topics.get(3)).isEqualTo(created);

        HttpResponse<Buffer> deleted = call(DELETE, c("/topics/orders"), null);
        assertThat(deleted.statusCode()).as(deleted.bodyAsString()).isEqualTo(204);
        assertThat(api.topics.topicNames()).doesNotContain("orders");
        assertError(api.get(port, c("/topics/orders")), 404, 404, "Topic 'orders' not found");
        assertError(call(DELETE, c("/topics/orders"), null), 404, 404, "orders");
    }

    @Test
    void creatingATopicTwiceIsAKafkaBadRequest(Vertx vertx) throws Exception {
        start(vertx);
        ok(call(POST, c("/topics"), createBody("twice", 1)), 201);
        assertError(call(POST, c("/topics"), createBody("twice", 4)), 400, ErrorCodes.KAFKA_BAD_REQUEST, "already exists");
        assertThat(api.topics.topic("twice").partitions()).hasSize(1);
    }

    @Test
    void createRefusalsSayWhatToFix(Vertx vertx) throws Exception {
        start(vertx);
        assertError(call(POST, c("/topics"), createBody("r3", 1).put("replication_factor", 3)), 400, 400,
                "one replica");
        assertError(call(POST, c("/topics"), createBody("bad name!", 1)), 400, ErrorCodes.KAFKA_BAD_REQUEST, "illegal");
        assertError(call(POST, c("/topics"), createBody("zero", 0)), 400, 400, "partitions_count");
        assertError(call(POST, c("/topics"), new JsonObject().put("partitions_count", 1)), 400, 400, "topic_name");
        assertError(call(POST, c("/topics"), createBody("typo", 1).put("partition_count", 1)), 400, 400,
                "Unrecognized field: partition_count");
        assertError(call(POST, c("/topics"), createBody("str", null).put("partitions_count", "3")), 400, 400,
                "partitions_count must be a whole number");
        assertError(call(POST, c("/topics"), createBody("cfg", 1).put("configs", new JsonArray()
                .add(new JsonObject().put("name", "retention.mss").put("value", "1")))), 400,
                ErrorCodes.KAFKA_BAD_REQUEST, "retention.mss");
        assertError(call(POST, c("/topics"), createBody("cfg", 1).put("configs", new JsonArray()
                .add(new JsonObject().put("name", "retention.ms").put("value", "soon")))), 400,
                ErrorCodes.KAFKA_BAD_REQUEST, "retention.ms");
        assertError(call(POST, c("/topics"), createBody("cfg", 1).put("configs", new JsonObject())), 400, 400,
                "configs must be an array");
        assertError(api.send(port, POST, c("/topics"), "application/json", "{\"topic_name\":"), 400, 400, "not valid JSON");
        assertError(api.send(port, POST, c("/topics"), "application/json", ""), 400, 400, "no body");
        assertThat(api.topics.topicNames()).isEmpty();
    }

    @Test
    void patchGrowsTheTopicsPartitions(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("growing", 2, Map.of()));
        JsonObject grown = ok(call(PATCH, c("/topics/growing"), new JsonObject().put("partitions_count", 5)), 200);
        assertThat(grown.getString("kind")).isEqualTo("KafkaTopic");
        assertThat(grown.getInteger("partitions_count")).isEqualTo(5);
        assertThat(api.topics.topic("growing").partitions()).hasSize(5);
        assertThat(ok(api.get(port, c("/topics/growing/partitions")), 200).getJsonArray("data")).hasSize(5);

        assertError(call(PATCH, c("/topics/growing"), new JsonObject().put("partitions_count", 3)), 400,
                ErrorCodes.KAFKA_BAD_REQUEST, "must be larger");
        assertError(call(PATCH, c("/topics/growing"), new JsonObject()), 400, 400, "partitions_count is required");
        assertError(call(PATCH, c("/topics/nope"), new JsonObject().put("partitions_count", 3)), 404, 404, "nope");
        assertThat(api.topics.topic("growing").partitions()).hasSize(5);
    }

    // ---------------------------------------------------------------- configs

    @Test
    void configsListEveryTopicConfigWithItsSource(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("conf", 1, Map.of("retention.ms", "60000")));
        JsonObject list = ok(api.get(port, c("/topics/conf/configs")), 200);
        assertThat(list.getString("kind")).isEqualTo("KafkaTopicConfigList");
        assertThat(list.getJsonObject("metadata").getString("self")).isEqualTo(base + "/topics/conf/configs");
        List<JsonObject> configs = list.getJsonArray("data").stream().map(JsonObject.class::cast).toList();
        assertThat(configs).extracting(x -> x.getString("name")).containsAll(LogConfig.KEYS).hasSize(LogConfig.KEYS.size());

        JsonObject retention = configs.stream().filter(x -> x.getString("name").equals("retention.ms")).findFirst().orElseThrow();
        assertThat(retention.getString("kind")).isEqualTo("KafkaTopicConfig");
        assertThat(retention.getJsonObject("metadata").getString("self")).isEqualTo(base + "/topics/conf/configs/retention.ms");
        assertThat(retention.getString("cluster_id")).isEqualTo(clusterId);
        assertThat(retention.getString("topic_name")).isEqualTo("conf");
        assertThat(retention.getString("value")).isEqualTo("60000");
        assertThat(retention.getBoolean("is_default")).isFalse();
        assertThat(retention.getBoolean("is_read_only")).isFalse();
        assertThat(retention.getBoolean("is_sensitive")).isFalse();
        assertThat(retention.getString("source")).isEqualTo("DYNAMIC_TOPIC_CONFIG");
        assertThat(retention.getJsonArray("synonyms").getJsonObject(0).getString("source")).isEqualTo("DYNAMIC_TOPIC_CONFIG");

        JsonObject policy = ok(api.get(port, c("/topics/conf/configs/cleanup.policy")), 200);
        assertThat(policy.getString("value")).isEqualTo("delete");
        assertThat(policy.getBoolean("is_default")).isTrue();
        assertThat(policy.getString("source")).isEqualTo("DEFAULT_CONFIG");
        assertThat(configs).contains(policy);

        assertError(api.get(port, c("/topics/conf/configs/no.such.config")), 404, 404, "no.such.config");
        assertError(api.get(port, c("/topics/nope/configs")), 404, 404, "Topic 'nope' not found");
    }

    @Test
    void putAndDeleteSetAndResetOneConfig(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("conf", 1, Map.of()));
        HttpResponse<Buffer> put = call(PUT, c("/topics/conf/configs/retention.ms"), new JsonObject().put("value", "1234"));
        assertThat(put.statusCode()).as(put.bodyAsString()).isEqualTo(204);
        assertThat(api.topics.topic("conf").config().retentionMs).isEqualTo(1234);
        JsonObject after = ok(api.get(port, c("/topics/conf/configs/retention.ms")), 200);
        assertThat(after.getString("value")).isEqualTo("1234");
        assertThat(after.getString("source")).isEqualTo("DYNAMIC_TOPIC_CONFIG");

        HttpResponse<Buffer> reset = call(DELETE, c("/topics/conf/configs/retention.ms"), null);
        assertThat(reset.statusCode()).as(reset.bodyAsString()).isEqualTo(204);
        assertThat(api.topics.topic("conf").configOverrides()).isEmpty();
        assertThat(api.topics.topic("conf").config().retentionMs).isEqualTo(LogConfig.DEFAULT_RETENTION_MS);
        assertThat(ok(api.get(port, c("/topics/conf/configs/retention.ms")), 200).getBoolean("is_default")).isTrue();

        assertError(call(PUT, c("/topics/conf/configs/retention.mss"), new JsonObject().put("value", "1")), 400,
                ErrorCodes.KAFKA_BAD_REQUEST, "retention.mss");
        assertError(call(PUT, c("/topics/conf/configs/retention.ms"), new JsonObject().put("value", "-7")), 400,
                ErrorCodes.KAFKA_BAD_REQUEST, "retention.ms");
        assertError(call(PUT, c("/topics/conf/configs/retention.ms"), new JsonObject().put("value", 5)), 400, 400,
                "value must be a string");
        assertError(call(DELETE, c("/topics/conf/configs/retention.mss"), null), 404, 404, "retention.mss");
        assertThat(api.topics.topic("conf").configOverrides()).isEmpty();
    }

    @Test
    void alterSetsAndDeletesAllOrNothing(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("conf", 1, Map.of("cleanup.policy", "compact")));
        JsonObject batch = new JsonObject().put("data", new JsonArray()
                .add(new JsonObject().put("name", "retention.ms").put("value", "5000"))
                .add(new JsonObject().put("name", "segment.ms").put("value", "70000").put("operation", "SET"))
                .add(new JsonObject().put("name", "cleanup.policy").put("operation", "DELETE")));
        HttpResponse<Buffer> r = call(POST, c("/topics/conf/configs:alter"), batch);
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(204);
        assertThat(api.topics.topic("conf").configOverrides())
                .isEqualTo(Map.of("retention.ms", "5000", "segment.ms", "70000"));

        JsonObject bad = new JsonObject().put("data", new JsonArray()
                .add(new JsonObject().put("name", "retention.ms").put("value", "9"))
                .add(new JsonObject().put("name", "segment.bytes").put("value", "lots")));
        assertError(call(POST, c("/topics/conf/configs:alter"), bad), 400, ErrorCodes.KAFKA_BAD_REQUEST, "segment.bytes");
        JsonObject unknownDelete = new JsonObject().put("data", new JsonArray()
                .add(new JsonObject().put("name", "no.such").put("operation", "DELETE")));
        assertError(call(POST, c("/topics/conf/configs:alter"), unknownDelete), 400, 400, "no.such");
        JsonObject badOperation = new JsonObject().put("data", new JsonArray()
                .add(new JsonObject().put("name", "retention.ms").put("value", "9").put("operation", "APPEND")));
        assertError(call(POST, c("/topics/conf/configs:alter"), badOperation), 400, 400, "APPEND");
        assertError(call(POST, c("/topics/conf/configs:alter"), new JsonObject()), 400, 400, "data is required");
        assertError(call(POST, "/v3/clusters/other/topics/conf/configs:alter", batch), 404, 404, "other");
        assertThat(api.topics.topic("conf").configOverrides())
                .as("a refused batch changes nothing").isEqualTo(Map.of("retention.ms", "5000", "segment.ms", "70000"));
    }

    // ---------------------------------------------------------------- partitions and replicas

    @Test
    void partitionsAndReplicasLinkToThisBroker(Vertx vertx) throws Exception {
        start(vertx);
        await(api.topics.createTopic("parts", 3, Map.of()));
        JsonObject list = ok(api.get(port, c("/topics/parts/partitions")), 200);
        assertThat(list.getString("kind")).isEqualTo("KafkaPartitionList");
        assertThat(list.getJsonArray("data")).hasSize(3);
        JsonObject p2 = ok(api.get(port, c("/topics/parts/partitions/2")), 200);
        assertThat(list.getJsonArray("data").getJsonObject(2)).isEqualTo(p2);
        String self = base + "/topics/parts/partitions/2";
        assertThat(p2.getString("kind")).isEqualTo("KafkaPartition");
        assertThat(p2.getJsonObject("metadata").getString("self")).isEqualTo(self);
        assertThat(p2.getJsonObject("metadata").getString("resource_name"))
                .isEqualTo("crn:///kafka=" + clusterId + "/topic=parts/partition=2");
        assertThat(p2.getString("cluster_id")).isEqualTo(clusterId);
        assertThat(p2.getString("topic_name")).isEqualTo("parts");
        assertThat(p2.getInteger("partition_id")).isEqualTo(2);
        assertThat(p2.getJsonObject("leader").getString("related")).isEqualTo(self + "/replicas/0");
        assertThat(p2.getJsonObject("replicas").getString("related")).isEqualTo(self + "/replicas");

        JsonObject replicas = ok(api.get(port, c("/topics/parts/partitions/2/replicas")), 200);
        assertThat(replicas.getString("kind")).isEqualTo("KafkaReplicaList");
        JsonObject leader = ok(api.get(port, c("/topics/parts/partitions/2/replicas/0")), 200);
        assertThat(replicas.getJsonArray("data").getList()).hasSize(1);
        assertThat(replicas.getJsonArray("data").getJsonObject(0)).isEqualTo(leader);
        assertThat(leader.getString("kind")).isEqualTo("KafkaReplica");
        assertThat(leader.getBoolean("is_leader")).isTrue();
        assertThat(leader.getBoolean("is_in_sync")).isTrue();
        assertThat(leader.getInteger("broker_id")).isEqualTo(0);
        assertThat(leader.getJsonObject("broker").getString("related")).isEqualTo(base + "/brokers/0");

        assertError(api.get(port, c("/topics/parts/partitions/3")), 404, 404, "Partition '3' not found");
        assertError(api.get(port, c("/topics/parts/partitions/-1")), 404, 404, "-1");
        assertError(api.get(port, c("/topics/parts/partitions/x")), 404, 404, "'x'");
        assertError(api.get(port, c("/topics/parts/partitions/0/replicas/4")), 404, 404, "Replica '4' not found");
        assertError(api.get(port, c("/topics/nope/partitions")), 404, 404, "nope");
    }

    @Test
    void unknownPathsAndMethodsGetJsonErrors(Vertx vertx) throws Exception {
        start(vertx);
        assertError(api.get(port, c("/nothing-here")), 404, 404, "Not found");
        assertError(call(PUT, c("/topics"), new JsonObject()), 405, 405, "Method not allowed");
        assertError(call(GET, c("/topics/x/configs:alter"), null), 405, 405, "Method not allowed");
    }
}

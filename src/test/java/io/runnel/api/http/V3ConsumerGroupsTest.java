package io.runnel.api.http;

import static io.runnel.api.http.ApiFixture.BINARY_V2;
import static io.runnel.api.http.ApiFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
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
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;

/**
 * v3 consumer groups as an operator reads them: which groups exist and in what state, who
 * consumes what, and how far behind each partition is. Topic {@code t} has 2 partitions and 6
 * records; group {@code g} has one v2 consumer instance subscribed to it.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class V3ConsumerGroupsTest {

    static final String V2 = "application/vnd.kafka.v2+json";
    static final String GROUPS = "/v3/clusters/test-cluster/consumer-groups";

    @TempDir
    Path dataDir;

    ApiFixture api;
    BrokerService broker;
    int port;
    String instance;

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        api = ApiFixture.start(vertx, dataDir);
        broker = api.brokerWithGroups(false, 2);
        int[] p = new int[1];
        api.serve(broker, new HttpApi.Settings(1 << 20, 60_000, () -> true, null), p);
        port = p[0];
        await(api.topics.createTopic("t", 2, Map.of()));
        produce(6);
        ok(post("/consumers/g", new JsonObject().put("name", "reader").put("format", "binary")
                .put("auto.offset.reset", "earliest").put("auto.commit.enable", "false")));
        instance = "/consumers/g/instances/reader";
        ok(post(instance + "/subscription", new JsonObject().put("topics", new JsonArray().add("t"))));
        int read = 0;
        long deadline = System.currentTimeMillis() + 15_000;
        while (read < 6 && System.currentTimeMillis() < deadline) {
            read += get(instance + "/records?timeout=300").bodyAsJsonArray().size();
        }
        assertThat(read).isEqualTo(6);
        ok(post(instance + "/offsets", null));
    }

    @AfterEach
    void stop() throws Exception {
        api.close();
    }

    void produce(int n) throws Exception {
        List<BrokerService.ProduceRecord> records = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            records.add(new BrokerService.ProduceRecord(null, ("r" + i).getBytes(StandardCharsets.UTF_8), null, i % 2, null));
        }
        await(broker.produce("t", records, Partition.Acks.ALL));
    }

    HttpResponse<Buffer> get(String path) throws Exception {
        return await(api.client.get(port, "127.0.0.1", path).putHeader("Accept", BINARY_V2).send());
    }

    HttpResponse<Buffer> post(String path, JsonObject body) throws Exception {
        var r = api.client.post(port, "127.0.0.1", path).putHeader("Content-Type", V2);
        return await(body == null ? r.send() : r.sendJsonObject(body));
    }

    static HttpResponse<Buffer> ok(HttpResponse<Buffer> r) {
        assertThat(r.statusCode()).as(r.bodyAsString()).isBetween(200, 204);
        return r;
    }

    @Test
    void groupsAreListedWithTheirStateAndMembers() throws Exception {
        JsonObject list = ok(get(GROUPS)).bodyAsJsonObject();
        assertThat(list.getString("kind")).isEqualTo("KafkaConsumerGroupList");
        JsonObject g = list.getJsonArray("data").getJsonObject(0);
        assertThat(g.getString("consumer_group_id")).isEqualTo("g");
        assertThat(g.getString("state")).isEqualTo("STABLE");
        assertThat(g.getString("partition_assignor")).isEqualTo("range");
        assertThat(g.getBoolean("is_simple")).isFalse();
        assertThat(g.getJsonObject("lag_summary").getString("related"))
                .isEqualTo("http://127.0.0.1:" + port + GROUPS + "/g/lag-summary");

        JsonArray consumers = ok(get(GROUPS + "/g/consumers")).bodyAsJsonObject().getJsonArray("data");
        assertThat(consumers).hasSize(1);
        assertThat(consumers.getJsonObject(0).getString("client_id")).isEqualTo("reader");
        assertThat(consumers.getJsonObject(0).getJsonArray("assignments")).containsExactly(
                new JsonObject().put("topic_name", "t").put("partition_id", 0),
                new JsonObject().put("topic_name", "t").put("partition_id", 1));
    }

    @Test
    void lagIsTheLogEndOffsetMinusTheCommittedOffset() throws Exception {
        produce(5); // 3 more on partition 0, 2 on partition 1

        JsonArray lags = ok(get(GROUPS + "/g/lags")).bodyAsJsonObject().getJsonArray("data");
        assertThat(lags).hasSize(2);
        JsonObject p0 = lags.getJsonObject(0);
        assertThat(p0.getInteger("partition_id")).isZero();
        assertThat(p0.getLong("current_offset")).isEqualTo(3);
        assertThat(p0.getLong("log_end_offset")).isEqualTo(6);
        assertThat(p0.getLong("lag")).isEqualTo(3);
        assertThat(p0.getString("client_id")).isEqualTo("reader");
        assertThat(lags.getJsonObject(1).getLong("lag")).isEqualTo(2);

        JsonObject summary = ok(get(GROUPS + "/g/lag-summary")).bodyAsJsonObject();
        assertThat(summary.getLong("total_lag")).isEqualTo(5);
        assertThat(summary.getLong("max_lag")).isEqualTo(3);
        assertThat(summary.getInteger("max_lag_partition_id")).isZero();
    }

    @Test
    void aGroupWithoutMembersIsEmptyAndKeepsItsLag() throws Exception {
        ok(await(api.client.delete(port, "127.0.0.1", instance).send()));

        JsonObject g = ok(get(GROUPS + "/g")).bodyAsJsonObject();
        assertThat(g.getString("state")).isEqualTo("EMPTY");
        assertThat(ok(get(GROUPS + "/g/consumers")).bodyAsJsonObject().getJsonArray("data")).isEmpty();
        assertThat(ok(get(GROUPS + "/g/lag-summary")).bodyAsJsonObject().getLong("total_lag")).isZero();
    }

    @Test
    void unknownGroupsAndClustersAreNotFound() throws Exception {
        HttpResponse<Buffer> group = get(GROUPS + "/nobody");
        assertThat(group.statusCode()).isEqualTo(404);
        assertThat(group.bodyAsJsonObject().getString("message")).contains("nobody");
        HttpResponse<Buffer> cluster = get("/v3/clusters/elsewhere/consumer-groups");
        assertThat(cluster.statusCode()).isEqualTo(404);
        assertThat(cluster.bodyAsJsonObject().getString("message")).contains("elsewhere", "test-cluster");
    }
}

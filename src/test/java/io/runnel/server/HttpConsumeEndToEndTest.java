package io.runnel.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.BrokerConfig;
import io.runnel.testing.BlockedEventLoopExtension;
import io.runnel.testing.BrokerWarmUp;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;

/**
 * The broker as an HTTP user sees it: produce keyed and unkeyed records, read them back by
 * offset and by time, share a topic between two consumer instances of one group, commit, restart
 * the broker, and resume exactly where the group left off.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HttpConsumeEndToEndTest {

    static final String JSON_V2 = "application/vnd.kafka.json.v2+json";
    static final String V2 = "application/vnd.kafka.v2+json";

    @TempDir
    Path dataDir;

    WebClient client;
    int port;

    BrokerConfig config() {
        return BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0", "--data.dir=" + dataDir, "--num.partitions=4",
                "--group.initial.rebalance.delay.ms=0"), Map.of(), dataDir.resolve("no-such-file.properties"));
    }

    RunnelServer start(Vertx vertx) throws Exception {
        RunnelServer server = RunnelServer.start(vertx, config()).await(30, TimeUnit.SECONDS);
        port = server.httpPort();
        return server;
    }

    HttpResponse<Buffer> call(String method, String path, JsonObject body) throws Exception {
        var request = client.request(io.vertx.core.http.HttpMethod.valueOf(method), port, "127.0.0.1", path)
                .putHeader("Content-Type", path.startsWith("/topics") ? JSON_V2 : V2)
                .putHeader("Accept", JSON_V2);
        return (body == null ? request.send() : request.sendJsonObject(body)).await(20, TimeUnit.SECONDS);
    }

    JsonObject ok(String method, String path, JsonObject body) throws Exception {
        HttpResponse<Buffer> r = call(method, path, body);
        assertThat(r.statusCode()).as("%s %s: %s", method, path, r.bodyAsString()).isBetween(200, 204);
        return r.body() == null || r.body().length() == 0 ? null : r.bodyAsJsonObject();
    }

    JsonArray produce(String topic, List<String> keys, List<String> values) throws Exception {
        JsonArray records = new JsonArray();
        for (int i = 0; i < values.size(); i++) {
            JsonObject r = new JsonObject().put("value", values.get(i));
            if (keys != null) {
                r.put("key", keys.get(i));
            }
            records.add(r);
        }
        return ok("POST", "/topics/" + topic, new JsonObject().put("records", records)).getJsonArray("offsets");
    }

    String newConsumer(String group, String name) throws Exception {
        ok("POST", "/consumers/" + group, new JsonObject().put("name", name).put("format", "json")
                .put("auto.offset.reset", "earliest").put("auto.commit.enable", "false"));
        return "/consumers/" + group + "/instances/" + name;
    }

    JsonArray records(String instance) throws Exception {
        HttpResponse<Buffer> r = call("GET", instance + "/records?timeout=500", null);
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
        return r.bodyAsJsonArray();
    }

    static List<String> values(JsonArray records) {
        List<String> out = new ArrayList<>();
        records.forEach(o -> out.add(((JsonObject) o).getString("value")));
        return out;
    }

    Set<Integer> assignment(String instance) throws Exception {
        Set<Integer> out = new HashSet<>();
        ok("GET", instance + "/assignments", null).getJsonArray("partitions")
                .forEach(o -> out.add(((JsonObject) o).getInteger("partition")));
        return out;
    }

    /** Polls every instance until they have read {@code expected} records between them; returns value by instance. */
    Map<String, List<String>> drain(List<String> instances, int expected) throws Exception {
        Map<String, List<String>> read = new java.util.LinkedHashMap<>();
        instances.forEach(i -> read.put(i, new ArrayList<>()));
        long deadline = System.currentTimeMillis() + 30_000;
        while (read.values().stream().mapToInt(List::size).sum() < expected && System.currentTimeMillis() < deadline) {
            for (String i : instances) {
                read.get(i).addAll(values(records(i)));
            }
        }
        return read;
    }

    static List<String> batch(String prefix, int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(prefix + i);
        }
        return out;
    }

    @Test
    void keyedRecordsShareAPartitionAndReadBackByOffsetAndByTime(Vertx vertx) throws Exception {
        client = WebClient.create(vertx);
        RunnelServer server = start(vertx);
        JsonArray keyed = produce("orders", List.of("alice", "bob", "alice", "alice"), List.of("a1", "b1", "a2", "a3"));
        int aliceP = keyed.getJsonObject(0).getInteger("partition");
        assertThat(keyed.getJsonObject(2).getInteger("partition")).isEqualTo(aliceP);
        assertThat(keyed.getJsonObject(3).getInteger("partition")).isEqualTo(aliceP);
        JsonArray unkeyed = produce("orders", null, batch("u", 8));
        Set<Integer> spread = new HashSet<>();
        unkeyed.forEach(o -> spread.add(((JsonObject) o).getInteger("partition")));
        assertThat(spread).as("unkeyed records spread over the partitions").hasSize(4);

        // By offset: a manual assignment of alice's partition, seeked to alice's second record.
        String reader = newConsumer("readers", "by-offset");
        ok("POST", reader + "/assignments", new JsonObject().put("partitions", new JsonArray()
                .add(new JsonObject().put("topic", "orders").put("partition", aliceP))));
        long secondAlice = keyed.getJsonObject(2).getLong("offset");
        ok("POST", reader + "/positions", new JsonObject().put("offsets", new JsonArray().add(new JsonObject()
                .put("topic", "orders").put("partition", aliceP).put("offset", secondAlice))));
        List<String> fromOffset = values(records(reader));
        assertThat(fromOffset).startsWith("a2", "a3");
        assertThat(fromOffset).doesNotContain("a1", "b1");

        // By time: everything produced after a moment in between.
        Thread.sleep(20);
        long between = System.currentTimeMillis();
        Thread.sleep(20);
        JsonArray late = produce("orders", List.of("alice"), List.of("a4"));
        JsonObject offsets = ok("GET", "/topics/orders/partitions/" + aliceP + "/offsets?timestamp=" + between, null);
        assertThat(offsets.getLong("timestamp_offset")).isEqualTo(late.getJsonObject(0).getLong("offset"));
        ok("POST", reader + "/positions", new JsonObject().put("offsets", new JsonArray().add(new JsonObject()
                .put("topic", "orders").put("partition", aliceP).put("offset", offsets.getLong("timestamp_offset")))));
        assertThat(values(records(reader))).containsExactly("a4");
        ok("DELETE", reader, null);
        assertThat(call("GET", reader + "/records", null).statusCode()).isEqualTo(404);
        server.stop().await(30, TimeUnit.SECONDS);
    }

    @Test
    void aGroupSharesPartitionsRebalancesAndResumesFromCommittedOffsetsAfterARestart(Vertx vertx) throws Exception {
        client = WebClient.create(vertx);
        RunnelServer server = start(vertx);
        produce("events", null, List.of("before-the-group"));

        String a = newConsumer("billing", "a");
        String b = newConsumer("billing", "b");
        ok("POST", a + "/subscription", new JsonObject().put("topics", new JsonArray().add("events")));
        ok("POST", b + "/subscription", new JsonObject().put("topics", new JsonArray().add("events")));
        List<String> early = new ArrayList<>();
        long settle = System.currentTimeMillis() + 30_000;
        while ((assignment(a).isEmpty() || assignment(b).isEmpty()) && System.currentTimeMillis() < settle) {
            early.addAll(values(records(a)));
            early.addAll(values(records(b)));
        }
        List<String> first = batch("first-", 40);
        produce("events", null, first);
        Map<String, List<String>> read = drain(List.of(a, b), first.size() + 1 - early.size());
        read.get(a).addAll(early);
        first = new ArrayList<>(first);
        first.add("before-the-group");
        Set<Integer> ofA = assignment(a);
        Set<Integer> ofB = assignment(b);
        assertThat(ofA).as("each member gets partitions").isNotEmpty();
        assertThat(ofB).isNotEmpty();
        assertThat(ofA).doesNotContainAnyElementsOf(ofB);
        assertThat(union(ofA, ofB)).containsExactlyInAnyOrder(0, 1, 2, 3);
        List<String> all = new ArrayList<>(read.get(a));
        all.addAll(read.get(b));
        assertThat(all).containsExactlyInAnyOrderElementsOf(first);
        ok("POST", a + "/offsets", null);
        ok("POST", b + "/offsets", null);

        ok("DELETE", a, null);
        List<String> second = batch("second-", 20);
        produce("events", null, second);
        long deadline = System.currentTimeMillis() + 30_000;
        List<String> secondRead = new ArrayList<>();
        while ((secondRead.size() < second.size() || assignment(b).size() < 4) && System.currentTimeMillis() < deadline) {
            secondRead.addAll(values(records(b)));
        }
        assertThat(assignment(b)).as("the remaining member gets every partition").containsExactlyInAnyOrder(0, 1, 2, 3);
        assertThat(secondRead).as("nothing lost or repeated").containsExactlyInAnyOrderElementsOf(second);
        ok("POST", b + "/offsets", null);
        server.stop().await(30, TimeUnit.SECONDS);

        server = start(vertx);
        List<String> third = batch("third-", 12);
        produce("events", null, third);
        String c = newConsumer("billing", "c");
        ok("POST", c + "/subscription", new JsonObject().put("topics", new JsonArray().add("events")));
        assertThat(drain(List.of(c), third.size()).get(c)).as("resumes from the committed offsets")
                .containsExactlyInAnyOrderElementsOf(third);
        JsonObject committed = ok("GET", c + "/offsets", new JsonObject().put("partitions", new JsonArray()
                .add(new JsonObject().put("topic", "events").put("partition", 0))));
        assertThat(committed.getJsonArray("offsets").getJsonObject(0).getLong("offset")).isPositive();
        server.stop().await(30, TimeUnit.SECONDS);
    }

    static Set<Integer> union(Set<Integer> x, Set<Integer> y) {
        Set<Integer> out = new HashSet<>(x);
        out.addAll(y);
        return out;
    }
}

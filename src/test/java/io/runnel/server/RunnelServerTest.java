package io.runnel.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.config.BrokerConfig;
import io.runnel.log.Batches;
import io.runnel.testing.BlockedEventLoopExtension;
import io.runnel.testing.BrokerWarmUp;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;

/**
 * The assembled broker: produce over HTTP, stop cleanly or be killed with SIGKILL, start again on
 * the same data directory, and find every acknowledged record.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RunnelServerTest {

    static final String JSON_V2 = "application/vnd.kafka.json.v2+json";

    @TempDir
    Path dataDir;

    BrokerConfig config(int httpPort) {
        return BrokerConfig.load(List.of("--http.port=" + httpPort, "--kafka.port=0", "--registry.port=0", "--bridge.port=0", "--data.dir=" + dataDir, "--num.partitions=2"),
                Map.of(), dataDir.resolve("no-such-file.properties"));
    }

    static JsonObject produce(WebClient client, int port, String topic, JsonArray records) throws Exception {
        HttpResponse<Buffer> r = client.post(port, "127.0.0.1", "/topics/" + topic)
                .putHeader("Content-Type", JSON_V2)
                .sendJsonObject(new JsonObject().put("records", records))
                .await(10, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
        return r.bodyAsJsonObject();
    }

    static List<String> values(RunnelServer server, String topic) throws Exception {
        List<String> out = new ArrayList<>();
        BrokerService broker = new BrokerService(server.topics(), false, 1);
        for (int p = 0; p < server.topics().topic(topic).partitions().size(); p++) {
            long next = 0;
            while (true) {
                Partition.ReadResult r = broker.fetch(topic, p, next, 1 << 20, 1, 0).await(10, TimeUnit.SECONDS).read();
                if (r.slice().isEmpty()) {
                    break;
                }
                for (Batches.Rec rec : Batches.records(r.slice().readRecords())) {
                    out.add(rec.value());
                    next = rec.offset() + 1;
                }
            }
        }
        return out;
    }

    static void post(WebClient client, int port, String path, JsonObject body) throws Exception {
        HttpResponse<Buffer> r = client.post(port, "127.0.0.1", path)
                .putHeader("Content-Type", "application/vnd.kafka.v2+json")
                .sendJsonObject(body)
                .await(10, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(r.bodyAsString()).isBetween(200, 204);
    }

    @Test
    void recordsProducedOverHttpSurviveACleanRestart(Vertx vertx) throws Exception {
        WebClient client = WebClient.create(vertx);
        RunnelServer server = RunnelServer.start(vertx, config(0)).await(30, TimeUnit.SECONDS);
        JsonObject answer = produce(client, server.httpPort(), "orders", new JsonArray()
                .add(new JsonObject().put("key", "alice").put("value", new JsonObject().put("total", 10)))
                .add(new JsonObject().put("value", "plain")));
        assertThat(answer.getJsonArray("offsets")).hasSize(2);
        server.stop().await(30, TimeUnit.SECONDS);

        RunnelServer again = RunnelServer.start(vertx, config(0)).await(30, TimeUnit.SECONDS);
        assertThat(again.topics().topic("orders").partitions()).hasSize(2);
        assertThat(values(again, "orders")).containsExactlyInAnyOrder("{\"total\":10}", "\"plain\"");
        again.stop().await(30, TimeUnit.SECONDS);
    }

    @Test
    void everyAcknowledgedRecordAndCommitSurvivesASigkillOfTheBroker(Vertx vertx) throws Exception {
        long seed = new Random().nextLong();
        Random random = new Random(seed);
        String javaBin = ProcessHandle.current().info().command().orElse("java");
        Process child = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"),
                "io.runnel.cli.Main", "server", "--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0", "--data.dir=" + dataDir, "--num.partitions=2")
                .directory(dataDir.toFile()).redirectErrorStream(true).start();
        List<String> acknowledged = new ArrayList<>();
        long acknowledgedCommit = -1;
        long inFlightCommit = -1;
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            Pattern running = Pattern.compile("HTTP API on http://[^:]+:(\\d+)");
            int port = -1;
            for (String line; port < 0 && (line = out.readLine()) != null; ) {
                Matcher m = running.matcher(line);
                if (m.find()) {
                    port = Integer.parseInt(m.group(1));
                }
            }
            assertThat(port).as("the child broker announced its port").isPositive();
            Thread drain = new Thread(() -> out.lines().forEach(l -> { }));
            drain.setDaemon(true);
            drain.start();

            WebClient client = WebClient.create(vertx);
            String committer = "/consumers/committers/instances/c";
            post(client, port, "/consumers/committers", new JsonObject().put("name", "c")
                    .put("auto.commit.enable", "false"));
            long killAtNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300 + random.nextInt(1200));
            for (int i = 0; System.nanoTime() < killAtNanos; i++) {
                JsonArray records = new JsonArray();
                List<String> sent = new ArrayList<>();
                for (int j = 0; j < 5; j++) {
                    String v = "r" + i + "-" + j;
                    records.add(new JsonObject().put("key", "k" + j).put("value", v));
                    sent.add("\"" + v + "\"");
                }
                produce(client, port, "events", records);
                acknowledged.addAll(sent);
                if (i == 0) {
                    post(client, port, committer + "/assignments", new JsonObject().put("partitions",
                            new JsonArray().add(new JsonObject().put("topic", "events").put("partition", 0))));
                }
                inFlightCommit = i + 1;
                post(client, port, committer + "/offsets", new JsonObject().put("offsets", new JsonArray()
                        .add(new JsonObject().put("topic", "events").put("partition", 0).put("offset", i + 1))));
                acknowledgedCommit = i + 1;
            }
        } finally {
            child.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
        assertThat(acknowledged).as("seed %d: something was acknowledged before the kill", seed).isNotEmpty();

        RunnelServer again = RunnelServer.start(vertx, config(0)).await(30, TimeUnit.SECONDS);
        assertThat(values(again, "events")).as("seed %d", seed).containsAll(acknowledged);
        TopicPartition events0 = new TopicPartition("events", 0);
        OffsetAndMetadata committed = again.broker().groups().fetchOffsets("committers", List.of(events0))
                .await(10, TimeUnit.SECONDS).get(events0);
        assertThat(committed).as("seed %d: the last acknowledged commit survives", seed).isNotNull();
        assertThat(committed.offset()).as("seed %d: the acknowledged commit, or the one the kill interrupted", seed)
                .isIn(acknowledgedCommit, inFlightCommit);
        again.stop().await(30, TimeUnit.SECONDS);
    }
}

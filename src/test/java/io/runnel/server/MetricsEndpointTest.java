package io.runnel.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.broker.BrokerService;
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
 * {@code GET /metrics} of the assembled broker: every line is well-formed Prometheus text, and
 * the per-topic counters and per-partition gauges move when records are produced over HTTP.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MetricsEndpointTest {

    static final String JSON_V2 = "application/vnd.kafka.json.v2+json";
    static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    /** {@code name{labels} value [timestamp]}; the labels are checked on their own. */
    static final Pattern SAMPLE = Pattern.compile("(" + NAME + ")(?:\\{(.*)})? (\\S+)(?: -?\\d+)?");
    static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"(,|$)");
    static final Pattern HELP = Pattern.compile("# HELP (" + NAME + ") .*");
    static final Pattern TYPE = Pattern.compile("# TYPE (" + NAME + ") (counter|gauge|histogram|summary|untyped|unknown)");

    @TempDir
    Path dataDir;

    /** One sample of a scrape. */
    record Sample(String name, Map<String, String> labels, double value) {
    }

    BrokerConfig config() {
        return BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0", "--data.dir=" + dataDir, "--num.partitions=2"),
                Map.of(), dataDir.resolve("no-such-file.properties"));
    }

    static List<Sample> scrape(WebClient client, int port) throws Exception {
        HttpResponse<Buffer> r = client.get(port, "127.0.0.1", "/metrics").send().await(10, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
        assertThat(r.getHeader("Content-Type")).startsWith("text/plain; version=0.0.4");
        return parse(r.bodyAsString());
    }

    /** Parses Prometheus text format 0.0.4, failing on any line that is not well-formed. */
    static List<Sample> parse(String text) {
        List<Sample> samples = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            if (line.startsWith("# HELP ")) {
                assertThat(HELP.matcher(line).matches()).as("HELP line: %s", line).isTrue();
                continue;
            }
            if (line.startsWith("# TYPE ")) {
                assertThat(TYPE.matcher(line).matches()).as("TYPE line: %s", line).isTrue();
                continue;
            }
            assertThat(line).as("a comment other than HELP or TYPE").doesNotStartWith("#");
            Matcher m = SAMPLE.matcher(line);
            assertThat(m.matches()).as("sample line: %s", line).isTrue();
            samples.add(new Sample(m.group(1), labels(line, m.group(2)), value(line, m.group(3))));
        }
        assertThat(samples).isNotEmpty();
        return samples;
    }

    static Map<String, String> labels(String line, String text) {
        Map<String, String> labels = new TreeMap<>();
        if (text == null) {
            return labels;
        }
        Matcher m = LABEL.matcher(text);
        int at = 0;
        while (at < text.length()) {
            assertThat(m.find(at) && m.start() == at).as("labels of %s, from %d", line, at).isTrue();
            labels.put(m.group(1), m.group(2));
            at = m.end();
        }
        return labels;
    }

    static double value(String line, String text) {
        return switch (text) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            default -> {
                try {
                    yield Double.parseDouble(text);
                } catch (NumberFormatException e) {
                    throw new AssertionError("value of " + line, e);
                }
            }
        };
    }

    /** The sum of the samples named {@code name} with {@code topic="<topic>"}. */
    static double sum(List<Sample> samples, String name, String topic) {
        return samples.stream().filter(s -> s.name().equals(name) && topic.equals(s.labels().get("topic")))
                .mapToDouble(Sample::value).sum();
    }

    @Test
    void metricsAreWellFormedPrometheusTextAndMoveWithProduce(Vertx vertx) throws Exception {
        WebClient client = WebClient.create(vertx);
        RunnelServer server = RunnelServer.start(vertx, config()).await(30, TimeUnit.SECONDS);
        try {
            int port = server.httpPort();
            List<Sample> before = scrape(client, port);
            assertThat(before).extracting(Sample::name)
                    .contains("jvm_memory_used_bytes", "jvm_threads_live_threads", "system_cpu_count",
                            "runnel_produce_latency_seconds_count", "runnel_http_connections_active");
            assertThat(sum(before, "runnel_produce_records_total", "orders")).isZero();

            produce(client, port, "orders", 5);

            List<Sample> after = scrape(client, port);
            assertThat(sum(after, "runnel_produce_records_total", "orders")).isEqualTo(5.0);
            assertThat(sum(after, "runnel_produce_bytes_total", "orders")).isPositive();
            assertThat(sum(after, "runnel_log_size_bytes", "orders")).isPositive();
            assertThat(after).filteredOn(s -> s.name().equals("runnel_log_segments")
                            && "orders".equals(s.labels().get("topic")))
                    .extracting(s -> s.labels().get("partition")).containsExactlyInAnyOrder("0", "1");
            assertThat(after).filteredOn(s -> s.name().equals("runnel_produce_latency_seconds"))
                    .extracting(s -> s.labels().get("quantile")).contains("0.5", "0.99");
            assertThat(after).filteredOn(s -> s.name().equals("runnel_http_connections_active"))
                    .extracting(Sample::value).allMatch(v -> v >= 1);

            BrokerService broker = new BrokerService(server.topics(), false, 1);
            for (int p = 0; p < 2; p++) {
                broker.fetch("orders", p, 0, 1 << 20, 1, 0).await(10, TimeUnit.SECONDS);
            }
            assertThat(sum(scrape(client, port), "runnel_fetch_bytes_total", "orders"))
                    .isEqualTo(sum(after, "runnel_log_size_bytes", "orders"));
        } finally {
            client.close();
            server.stop().await(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void aTopicDeletedAndMadeAgainCountsAfresh(Vertx vertx) throws Exception {
        RunnelServer server = RunnelServer.start(vertx, config()).await(30, TimeUnit.SECONDS);
        WebClient client = WebClient.create(vertx);
        try (AutoCloseable stop = () -> server.stop().await(30, TimeUnit.SECONDS); AutoCloseable close = client::close) {
            int port = server.httpPort();
            produce(client, port, "orders", 5);
            assertThat(sum(scrape(client, port), "runnel_produce_records_total", "orders")).isEqualTo(5.0);

            server.topics().deleteTopic("orders").await(10, TimeUnit.SECONDS);
            assertThat(scrape(client, port)).noneMatch(s -> "orders".equals(s.labels().get("topic")));

            produce(client, port, "orders", 2);
            assertThat(sum(scrape(client, port), "runnel_produce_records_total", "orders")).isEqualTo(2.0);
        }
    }

    /** Produces {@code count} JSON records to {@code topic} over HTTP (creating it if need be). */
    static void produce(WebClient client, int port, String topic, int count) throws Exception {
        JsonArray records = new JsonArray();
        for (int i = 0; i < count; i++) {
            records.add(new JsonObject().put("value", new JsonObject().put("n", i)));
        }
        HttpResponse<Buffer> produced = client.post(port, "127.0.0.1", "/topics/" + topic)
                .putHeader("Content-Type", JSON_V2)
                .sendJsonObject(new JsonObject().put("records", records))
                .await(10, TimeUnit.SECONDS);
        assertThat(produced.statusCode()).as(produced.bodyAsString()).isEqualTo(200);
    }

    @Test
    void consumingOverHttpCountsRecordsOutAndCommitsShowAsGroupLag(Vertx vertx) throws Exception {
        WebClient client = WebClient.create(vertx);
        RunnelServer server = RunnelServer.start(vertx, config()).await(30, TimeUnit.SECONDS);
        try {
            int port = server.httpPort();
            JsonArray records = new JsonArray();
            for (int i = 0; i < 6; i++) {
                records.add(new JsonObject().put("value", i).put("partition", i % 2));
            }
            assertThat(post(client, port, "/topics/lagging", JSON_V2, new JsonObject().put("records", records))
                    .statusCode()).isEqualTo(200);
            String instance = "/consumers/watchers/instances/w";
            assertThat(post(client, port, "/consumers/watchers", V2, new JsonObject().put("name", "w")
                    .put("format", "json").put("auto.commit.enable", "false")).statusCode()).isEqualTo(200);
            assertThat(post(client, port, instance + "/assignments", V2, new JsonObject().put("partitions",
                    new JsonArray().add(new JsonObject().put("topic", "lagging").put("partition", 0))
                            .add(new JsonObject().put("topic", "lagging").put("partition", 1)))).statusCode())
                    .isEqualTo(204);
            assertThat(post(client, port, instance + "/positions/beginning", V2, new JsonObject().put("partitions",
                    new JsonArray().add(new JsonObject().put("topic", "lagging").put("partition", 0))
                            .add(new JsonObject().put("topic", "lagging").put("partition", 1)))).statusCode())
                    .isEqualTo(204);
            int read = 0;
            for (int attempt = 0; read < 6 && attempt < 50; attempt++) {
                read += client.get(port, "127.0.0.1", instance + "/records?timeout=200").putHeader("Accept", JSON_V2)
                        .send().await(10, TimeUnit.SECONDS).bodyAsJsonArray().size();
            }
            assertThat(read).isEqualTo(6);
            // Commit 1 of partition 0's 3 records and all of partition 1's: lag 2 and 0.
            assertThat(post(client, port, instance + "/offsets", V2, new JsonObject().put("offsets", new JsonArray()
                    .add(new JsonObject().put("topic", "lagging").put("partition", 0).put("offset", 1))
                    .add(new JsonObject().put("topic", "lagging").put("partition", 1).put("offset", 3))))
                    .statusCode()).isEqualTo(200);

            List<Sample> samples = scrape(client, port);
            assertThat(sum(samples, "runnel_fetch_records_total", "lagging")).isEqualTo(6.0);
            assertThat(samples).filteredOn(s -> s.name().equals("runnel_group_lag")
                            && "watchers".equals(s.labels().get("group")) && "lagging".equals(s.labels().get("topic")))
                    .extracting(s -> s.labels().get("partition") + "=" + s.value())
                    .containsExactlyInAnyOrder("0=2.0", "1=0.0");
        } finally {
            client.close();
            server.stop().await(30, TimeUnit.SECONDS);
        }
    }

    static final String V2 = "application/vnd.kafka.v2+json";

    @Test
    void aBrokerOnAVertxWithMetricsAlsoServesVertxsOwn() throws Exception {
        var registry = RunnelServer.newRegistry();
        Vertx vertx = RunnelServer.vertxWithMetrics(registry);
        WebClient client = WebClient.create(vertx);
        RunnelServer server = RunnelServer.start(vertx, config(), registry).await(30, TimeUnit.SECONDS);
        try {
            client.get(server.httpPort(), "127.0.0.1", "/health").send().await(10, TimeUnit.SECONDS);
            List<Sample> samples = scrape(client, server.httpPort());
            assertThat(samples).extracting(Sample::name)
                    .contains("vertx_http_server_requests_total", "vertx_http_server_active_connections",
                            "runnel_http_connections_active", "jvm_memory_used_bytes");
        } finally {
            client.close();
            server.stop().await(30, TimeUnit.SECONDS);
            vertx.close().await(30, TimeUnit.SECONDS);
        }
    }

    static HttpResponse<Buffer> post(WebClient client, int port, String path, String type, JsonObject body)
            throws Exception {
        return client.post(port, "127.0.0.1", path).putHeader("Content-Type", type).sendJsonObject(body)
                .await(10, TimeUnit.SECONDS);
    }
}

package io.runnel.server;

import static io.runnel.broker.AvroWire.ORDER;
import static io.runnel.broker.AvroWire.USER;
import static io.runnel.broker.AvroWire.user;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.BrokerConfig;
import io.runnel.config.LogConfig;
import io.runnel.testing.BlockedEventLoopExtension;
import io.runnel.testing.BrokerWarmUp;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;

/**
 * The registry's acknowledged changes survive a SIGKILL of the broker process: subjects, versions
 * (and a soft delete), global ids, compatibility levels, and a topic's validation config; after
 * the restart, validation still knows the ids it was given before.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class SchemaRegistryKillTest {

    static final String REGISTRY_JSON = "application/vnd.schemaregistry.v1+json";
    static final String USER_V2 = """
            {"type":"record","name":"User","namespace":"com.acme","fields":[
              {"name":"name","type":"string"},{"name":"age","type":"int"},
              {"name":"email","type":["null","string"],"default":null}]}""";

    @TempDir
    Path dataDir;

    static HttpResponse<Buffer> call(WebClient client, int port, HttpMethod method, String path, JsonObject body)
            throws Exception {
        var request = client.request(method, port, "127.0.0.1", path).putHeader("Content-Type", REGISTRY_JSON);
        return (body == null ? request.send() : request.sendBuffer(body.toBuffer())).await(20, TimeUnit.SECONDS);
    }

    static JsonObject ok(WebClient client, int port, HttpMethod method, String path, JsonObject body) throws Exception {
        HttpResponse<Buffer> r = call(client, port, method, path, body);
        assertThat(r.statusCode()).as("%s %s: %s", method, path, r.bodyAsString()).isEqualTo(200);
        Object json = r.bodyAsJson(Object.class);
        return json instanceof JsonObject o ? o : new JsonObject().put("answer", json);
    }

    static int register(WebClient client, int port, String subject, String schema) throws Exception {
        return ok(client, port, HttpMethod.POST, "/subjects/" + subject + "/versions", new JsonObject().put("schema", schema))
                .getInteger("id");
    }

    @Test
    void subjectsVersionsIdsAndConfigsSurviveASigkill(Vertx vertx) throws Exception {
        String javaBin = ProcessHandle.current().info().command().orElse("java");
        Process child = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"), "io.runnel.cli.Main",
                "server", "--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0", "--data.dir=" + dataDir)
                .directory(dataDir.toFile()).redirectErrorStream(true).start();
        WebClient client = WebClient.create(vertx);
        int userV1;
        int userV2;
        int order;
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            Pattern running = Pattern.compile("HTTP API on http://[^:]+:(\\d+).*schema registry on http://[^:]+:(\\d+)");
            int httpPort = -1;
            int registryPort = -1;
            for (String line; httpPort < 0 && (line = out.readLine()) != null; ) {
                Matcher m = running.matcher(line);
                if (m.find()) {
                    httpPort = Integer.parseInt(m.group(1));
                    registryPort = Integer.parseInt(m.group(2));
                }
            }
            assertThat(registryPort).as("the child broker announced its ports").isPositive();
            Thread drain = new Thread(() -> out.lines().forEach(l -> { }));
            drain.setDaemon(true);
            drain.start();

            userV1 = register(client, registryPort, "users-value", USER);
            userV2 = register(client, registryPort, "users-value", USER_V2);
            order = register(client, registryPort, "orders-value", ORDER);
            register(client, registryPort, "archive-value", USER);
            ok(client, registryPort, HttpMethod.DELETE, "/subjects/archive-value/versions/1", null);
            ok(client, registryPort, HttpMethod.PUT, "/config", new JsonObject().put("compatibility", "FULL"));
            ok(client, registryPort, HttpMethod.PUT, "/config/orders-value", new JsonObject().put("compatibility", "NONE"));
            String clusterId = ((JsonObject) client.get(httpPort, "127.0.0.1", "/v3/clusters").send()
                    .await(20, TimeUnit.SECONDS).bodyAsJsonObject().getJsonArray("data").getValue(0)).getString("cluster_id");
            HttpResponse<Buffer> created = client.post(httpPort, "127.0.0.1", "/v3/clusters/" + clusterId + "/topics")
                    .sendJsonObject(new JsonObject().put("topic_name", "users").put("partitions_count", 1)
                            .put("configs", new JsonArray().add(new JsonObject()
                                    .put("name", LogConfig.VALUE_SCHEMA_VALIDATION).put("value", "true"))))
                    .await(20, TimeUnit.SECONDS);
            assertThat(created.statusCode()).as(created.bodyAsString()).isBetween(200, 201);
        } finally {
            child.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }

        RunnelServer again = RunnelServer.start(vertx, BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0",
                "--registry.port=0", "--bridge.port=0", "--data.dir=" + dataDir), Map.of(), dataDir.resolve("none.properties")))
                .await(30, TimeUnit.SECONDS);
        try {
            int port = again.registryPort();
            assertThat(ok(client, port, HttpMethod.GET, "/subjects", null).getJsonArray("answer"))
                    .containsExactly("orders-value", "users-value");
            assertThat(ok(client, port, HttpMethod.GET, "/subjects?deleted=true", null).getJsonArray("answer"))
                    .containsExactly("archive-value", "orders-value", "users-value");
            assertThat(ok(client, port, HttpMethod.GET, "/subjects/users-value/versions", null).getJsonArray("answer"))
                    .containsExactly(1, 2);
            assertThat(ok(client, port, HttpMethod.GET, "/subjects/users-value/versions/1", null).getInteger("id"))
                    .isEqualTo(userV1);
            assertThat(ok(client, port, HttpMethod.GET, "/subjects/users-value/versions/latest", null).getInteger("id"))
                    .isEqualTo(userV2);
            assertThat(ok(client, port, HttpMethod.GET, "/schemas/ids/" + order, null).getString("schema"))
                    .contains("com.acme", "Order");
            assertThat(ok(client, port, HttpMethod.GET, "/config", null).getString("compatibilityLevel")).isEqualTo("FULL");
            assertThat(ok(client, port, HttpMethod.GET, "/config/orders-value", null).getString("compatibilityLevel"))
                    .isEqualTo("NONE");
            assertThat(again.topics().topic("users").config().valueSchemaValidation).isTrue();
            int fresh = register(client, port, "fresh-value", "\"string\"");
            assertThat(fresh).as("ids are not handed out twice").isGreaterThan(Math.max(userV2, order));

            String path = "/topics/users";
            HttpResponse<Buffer> valid = client.post(again.httpPort(), "127.0.0.1", path)
                    .putHeader("Content-Type", "application/vnd.kafka.binary.v2+json")
                    .sendJsonObject(new JsonObject().put("records", new JsonArray().add(new JsonObject()
                            .put("value", Base64.getEncoder().encodeToString(user(userV1, "ada", 36))))))
                    .await(20, TimeUnit.SECONDS);
            HttpResponse<Buffer> wrongSubject = client.post(again.httpPort(), "127.0.0.1", path)
                    .putHeader("Content-Type", "application/vnd.kafka.binary.v2+json")
                    .sendJsonObject(new JsonObject().put("records", new JsonArray().add(new JsonObject()
                            .put("value", Base64.getEncoder().encodeToString(user(order, "ada", 36))))))
                    .await(20, TimeUnit.SECONDS);
            assertThat(valid.statusCode()).as(valid.bodyAsString()).isEqualTo(200);
            assertThat(wrongSubject.statusCode()).as(wrongSubject.bodyAsString()).isEqualTo(422);
        } finally {
            again.stop().await(30, TimeUnit.SECONDS);
        }
    }
}

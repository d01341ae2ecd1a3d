package io.runnel.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
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
 * The broker's live tail page in a real browser: headless Chromium (Debian's {@code chromium},
 * driven by playwright-core from {@code src/test/browser}; both installed by {@code .ci/run}) opens
 * {@code /live.html?topic=…}, and a record produced after the page's WebSocket opened shows up
 * in it.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LiveHtmlBrowserTest {

    @TempDir
    Path dataDir;

    @Test
    void theLivePageShowsARecordProducedAfterItOpened(Vertx vertx) throws Exception {
        BrokerConfig config = BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0",
                "--data.dir=" + dataDir), Map.of(), dataDir.resolve("none.properties"));
        RunnelServer server = RunnelServer.start(vertx, config).await(30, TimeUnit.SECONDS);
        WebClient client = WebClient.create(vertx);
        String marker = "seen-in-the-browser-" + UUID.randomUUID();
        Process browser = null;
        try {
            produce(client, server.httpPort(), "before-the-page-opened");
            Path script = Path.of(System.getProperty("basedir", ".")).resolve("src/test/browser/live-page.mjs");
            browser = new ProcessBuilder("node", script.toString(),
                    "http://127.0.0.1:" + server.httpPort() + "/live.html?topic=news", marker)
                    .redirectErrorStream(true).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(browser.getInputStream(), StandardCharsets.UTF_8));
            StringBuilder transcript = new StringBuilder();
            String line;
            while ((line = out.readLine()) != null && !line.equals("OPEN")) {
                transcript.append(line).append('\n');
            }
            assertThat(line).as("the page opened its WebSocket: %s", transcript).isEqualTo("OPEN");

            produce(client, server.httpPort(), marker);

            while ((line = out.readLine()) != null && !line.equals("SEEN")) {
                transcript.append(line).append('\n');
            }
            assertThat(line).as("the record appeared on the page: %s", transcript).isEqualTo("SEEN");
            assertThat(browser.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(browser.exitValue()).isZero();
        } finally {
            if (browser != null) {
                browser.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            client.close();
            server.stop().await(30, TimeUnit.SECONDS);
        }
    }

    static void produce(WebClient client, int port, String value) throws Exception {
        HttpResponse<Buffer> r = client.post(port, "127.0.0.1", "/topics/news")
                .putHeader("Content-Type", "application/vnd.kafka.json.v2+json")
                .sendJsonObject(new JsonObject().put("records", new JsonArray().add(new JsonObject().put("value", value))))
                .await(10, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    }
}

package io.runnel.api.ws;

import static io.runnel.api.ws.WsFixture.await;
import static io.runnel.api.ws.WsFixture.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;

/**
 * Flow control and liveness: credit, a stalled subscriber that must cost nobody else anything and
 * hold a bounded buffer, and sockets that stop answering pings.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class WebSocketFlowControlTest {

    @TempDir
    Path dataDir;

    WsFixture ws;

    @AfterEach
    void stop() throws Exception {
        if (ws != null) {
            ws.close();
        }
    }

    @Test
    void withoutCreditNothingIsSentAndEachCreditFrameReleasesThatManyRecords(Vertx vertx) throws Exception {
        ws = WsFixture.start(vertx, dataDir, WsFixture.settings(), false);
        await(ws.topics.createTopic("t", 1, Map.of()));
        for (int i = 0; i < 10; i++) {
            ws.produce("t", 0, "\"r" + i + "\"");
        }

        WsFixture.Client c = ws.connect("/ws/v1/topics/t/subscribe?from=earliest&credit=0");
        c.next(Frames.ASSIGNMENT);
        c.assertQuietFor(300);

        c.send(new JsonObject().put("type", "credit").put("records", 3));
        assertThat(c.records(3)).extracting(r -> r.getLong("offset")).containsExactly(0L, 1L, 2L);
        c.assertQuietFor(300);

        c.send(new JsonObject().put("type", "credit").put("records", 2));
        assertThat(c.records(2)).extracting(r -> r.getLong("offset")).containsExactly(3L, 4L);
        c.assertQuietFor(300);
        assertThat(ws.api.subscribers()).singleElement().extracting(WebSocketApi.SubscriberStats::recordsSent)
                .isEqualTo(5L);
    }

    @Test
    void aStalledSubscriberDoesNotDelayAnotherAndItsBufferStaysBounded(Vertx vertx) throws Exception {
        int bufferBytes = 64 * 1024;
        WebSocketApi.Settings settings = new WebSocketApi.Settings(1 << 20, bufferBytes, 30_000, 10_000, false);
        ws = WsFixture.start(vertx, dataDir, settings, false);
        await(ws.topics.createTopic("firehose", 1, Map.of()));

        WsFixture.Client stalled = ws.connect("/ws/v1/topics/firehose/subscribe?from=earliest");
        stalled.next(Frames.ASSIGNMENT);
        await(vertx.executeBlocking(() -> stalled.socket.pause(), false)); // reads nothing from now on
        WsFixture.Client healthy = ws.connect("/ws/v1/topics/firehose/subscribe?from=earliest");
        healthy.next(Frames.ASSIGNMENT);

        // 24 MB: far more than the loopback's socket buffers, so the stalled socket really backs up.
        String value = "\"" + "x".repeat(4_000) + "\"";
        int batches = 60;
        int perBatch = 100;
        for (int b = 0; b < batches; b++) {
            List<BrokerService.ProduceRecord> records = new ArrayList<>();
            for (int i = 0; i < perBatch; i++) {
                records.add(new BrokerService.ProduceRecord(null, bytes(value), null, 0, null));
            }
            await(ws.broker.produce("firehose", records, Partition.Acks.ALL));
        }
        int total = batches * perBatch;
        // The healthy subscriber keeps up with everything, the stalled one's stalling notwithstanding.
        List<JsonObject> got = healthy.records(total);
        assertThat(got.get(total - 1).getLong("offset")).isEqualTo(total - 1);

        long producedAt = System.nanoTime();
        ws.produce("firehose", 0, "\"marker\"");
        assertThat(healthy.next(Frames.RECORD).getString("value")).isEqualTo("marker");
        long latencyMs = (System.nanoTime() - producedAt) / 1_000_000;
        assertThat(latencyMs).as("delivery of a record to the healthy subscriber").isLessThan(2_000);

        WebSocketApi.SubscriberStats stalledStats = ws.api.subscribers().stream()
                .min((a, b) -> Long.compare(a.recordsSent(), b.recordsSent())).orElseThrow();
        assertThat(stalledStats.recordsSent()).as("records the stalled subscriber was sent").isLessThan(total / 2);
        // The outbox (a buffer, then one fetch: a buffer's worth or one whole batch) and the writes not
        // yet taken by the connection (a buffer, then one frame):
        long oneBatchOfFrames = perBatch * (value.length() + 200L);
        assertThat(stalledStats.bufferedCharsPeak()).as("the stalled subscriber's peak buffer")
                .isLessThanOrEqualTo(3L * bufferBytes + oneBatchOfFrames);
    }

    @Test
    void aSocketThatStopsAnsweringPingsIsClosedAndOneThatAnswersStaysOpen(Vertx vertx) throws Exception {
        WebSocketApi.Settings settings = new WebSocketApi.Settings(1 << 20, 64 * 1024, 200, 10_000, false);
        ws = WsFixture.start(vertx, dataDir, settings, false);
        await(ws.topics.createTopic("t", 1, Map.of()));
        WsFixture.Client answering = ws.connect("/ws/v1/topics/t/subscribe");   // Vert.x answers pings itself

        // A client that completes the handshake, then never answers anything.
        NetClient net = vertx.createNetClient();
        StringBuffer received = new StringBuffer();
        NetSocket raw = await(net.connect(ws.port, "127.0.0.1"));
        raw.handler(b -> received.append(b.toString(StandardCharsets.ISO_8859_1)));
        await(raw.write(Buffer.buffer("GET /ws/v1/topics/t/subscribe HTTP/1.1\r\nHost: 127.0.0.1:" + ws.port
                + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "Sec-WebSocket-Version: 13\r\n\r\n")));

        // A close frame (opcode 8) with status 1001 (0x03E9) and its reason, then the session is gone.
        String closeFrame = "\u0003\u00e9No answer to ping";
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!(received.toString().contains(closeFrame) && ws.api.subscribers().size() == 1)
                && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(received.toString()).startsWith("HTTP/1.1 101").contains("\u0089\u0006runnel", closeFrame);
        assertThat(ws.api.subscribers()).as("sessions left: the answering one").hasSize(1);
        assertThat(answering.closed).as("the answering socket, after the same time").isFalse();
        raw.close();
        await(net.close());
    }
}

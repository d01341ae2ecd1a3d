package io.runnel.api.ws;

import static io.runnel.api.ws.WsFixture.await;
import static io.runnel.api.ws.WsFixture.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
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
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * Subscribing over WebSocket, without a group: where a subscription starts ({@code from}), that
 * records appended later arrive by themselves, what a record frame holds in each format, and the
 * endpoint's doors (unknown paths, other origins, the live page). Topic {@code t} has 2
 * partitions; partition 0 holds {@code a0 a1 a2}, partition 1 {@code b0 b1}.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WebSocketSubscribeTest {

    @TempDir
    Path dataDir;

    WsFixture ws;

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        ws = WsFixture.start(vertx, dataDir, WsFixture.settings(), false);
        await(ws.topics.createTopic("t", 2, Map.of()));
        ws.produce("t", 0, "\"a0\"", "\"a1\"", "\"a2\"");
        ws.produce("t", 1, "\"b0\"", "\"b1\"");
    }

    @AfterEach
    void stop() throws Exception {
        ws.close();
    }

    static List<String> values(List<JsonObject> records) {
        return records.stream().map(r -> r.getValue("value").toString()).toList();
    }

    static List<String> valuesOf(List<JsonObject> records, int partition) {
        return values(records.stream().filter(r -> r.getInteger("partition") == partition).toList());
    }

    @Test
    void fromEarliestSendsEveryRecordThenEachNewOneAsItIsAppended() throws Exception {
        WsFixture.Client c = ws.connect("/ws/v1/topics/t/subscribe?from=earliest");

        JsonObject assignment = c.next(Frames.ASSIGNMENT);
        assertThat(assignment.getJsonArray("partitions")).isEqualTo(new JsonArray()
                .add(new JsonObject().put("partition", 0).put("offset", 0))
                .add(new JsonObject().put("partition", 1).put("offset", 0)));
        List<JsonObject> old = c.records(5);
        assertThat(valuesOf(old, 0)).containsExactly("a0", "a1", "a2");
        assertThat(valuesOf(old, 1)).containsExactly("b0", "b1");

        ws.produce("t", 1, "\"b2\"");
        JsonObject fresh = c.next(Frames.RECORD);
        assertThat(fresh.getString("value")).isEqualTo("b2");
        assertThat(fresh.getLong("offset")).isEqualTo(2);
        assertThat(fresh.getInteger("partition")).isEqualTo(1);
        assertThat(fresh.getString("topic")).isEqualTo("t");
    }

    @Test
    void subscribersAtOnePositionEachGetEveryRecordFromSharedFeedsThatCloseWithThem() throws Exception {
        List<WsFixture.Client> json = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            json.add(ws.connect("/ws/v1/topics/t/subscribe?from=earliest&partitions=0"));
        }
        WsFixture.Client binary = ws.connect("/ws/v1/topics/t/subscribe?from=earliest&partitions=0&format=binary");
        for (WsFixture.Client c : json) {
            c.next(Frames.ASSIGNMENT);
        }
        binary.next(Frames.ASSIGNMENT);
        ws.produce("t", 0, "\"a3\"", "\"a4\"");

        for (WsFixture.Client c : json) {
            assertThat(values(c.records(5))).containsExactly("a0", "a1", "a2", "a3", "a4");
        }
        assertThat(binary.records(5).get(4).getString("value"))
                .isEqualTo(Base64.getEncoder().encodeToString(bytes("\"a4\"")));
        // One feed per event loop, partition and format: never one per socket.
        assertThat(ws.api.feedsOpen()).isBetween(2, 2 * Runtime.getRuntime().availableProcessors() * 2);

        for (WsFixture.Client c : json) {
            c.close();
        }
        binary.close();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WsFixture.AWAIT_SECONDS);
        while (ws.api.feedsOpen() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10); // the sessions release their feeds as their close handlers run
        }
        assertThat(ws.api.feedsOpen()).as("feeds left once every subscriber has gone").isZero();
    }

    @Test
    void fromLatestSendsOnlyWhatIsAppendedAfterTheAssignmentFrame() throws Exception {
        WsFixture.Client c = ws.connect("/ws/v1/topics/t/subscribe");   // latest is the default

        JsonObject assignment = c.next(Frames.ASSIGNMENT);
        assertThat(assignment.getJsonArray("partitions")).isEqualTo(new JsonArray()
                .add(new JsonObject().put("partition", 0).put("offset", 3))
                .add(new JsonObject().put("partition", 1).put("offset", 2)));
        c.assertQuietFor(200);
        ws.produce("t", 0, "\"a3\"");
        JsonObject r = c.next();
        assertThat(r.getString("type")).isEqualTo(Frames.RECORD);
        assertThat(r.getString("value")).isEqualTo("a3");
        assertThat(r.getLong("offset")).isEqualTo(3);
    }

    @Test
    void fromAnOffsetStartsEachListedPartitionThere() throws Exception {
        WsFixture.Client c = ws.connect("/ws/v1/topics/t/subscribe?from=1&partitions=0");

        assertThat(c.next(Frames.ASSIGNMENT).getJsonArray("partitions"))
                .isEqualTo(new JsonArray().add(new JsonObject().put("partition", 0).put("offset", 1)));
        assertThat(values(c.records(2))).containsExactly("a1", "a2");
        c.assertQuietFor(200);
    }

    @Test
    void fromATimestampStartsAtTheFirstRecordThatRecentAndAtTheEndWhenThereIsNone() throws Exception {
        await(ws.topics.createTopic("timed", 1, Map.of()));
        List<BrokerService.ProduceRecord> records = new ArrayList<>();
        for (long ts : new long[] {1_000, 2_000, 3_000}) {
            records.add(new BrokerService.ProduceRecord(null, bytes("\"at " + ts + "\""), null, 0, ts));
        }
        await(ws.broker.produce("timed", records, Partition.Acks.ALL));

        WsFixture.Client between = ws.connect("/ws/v1/topics/timed/subscribe?from=timestamp:1500");
        assertThat(between.next(Frames.ASSIGNMENT).getJsonArray("partitions").getJsonObject(0).getLong("offset"))
                .isEqualTo(1);
        List<JsonObject> got = between.records(2);
        assertThat(values(got)).containsExactly("at 2000", "at 3000");
        assertThat(got.get(0).getLong("timestamp")).isEqualTo(2_000);

        WsFixture.Client future = ws.connect("/ws/v1/topics/timed/subscribe?from=timestamp:9999");
        assertThat(future.next(Frames.ASSIGNMENT).getJsonArray("partitions").getJsonObject(0).getLong("offset"))
                .isEqualTo(3);
        future.assertQuietFor(200);
    }

    @Test
    void jsonFormatGivesJsonAsJsonTextAsStringsAndOtherBytesAsMarkedBase64() throws Exception {
        await(ws.topics.createTopic("shapes", 1, Map.of()));
        byte[] notUtf8 = {(byte) 0xC3, (byte) 0x28, 0};
        Header[] headers = {new RecordHeader("trace", bytes("abc")), new RecordHeader("empty", null)};
        await(ws.broker.produce("shapes", List.of(
                new BrokerService.ProduceRecord(bytes("{\"id\":7}"), bytes("{\"total\": [1, 2.5, null]}"), headers, 0, null),
                new BrokerService.ProduceRecord(bytes("plain key"), bytes("not json {"), null, 0, null),
                new BrokerService.ProduceRecord(null, notUtf8, null, 0, null),
                new BrokerService.ProduceRecord(null, null, null, 0, null)), Partition.Acks.ALL));

        WsFixture.Client c = ws.connect("/ws/v1/topics/shapes/subscribe?from=earliest&format=json");
        List<JsonObject> r = c.records(4);

        assertThat(r.get(0).getJsonObject("key")).isEqualTo(new JsonObject().put("id", 7));
        assertThat(r.get(0).getJsonObject("value")).isEqualTo(new JsonObject().put("total", new JsonArray().add(1).add(2.5).addNull()));
        assertThat(r.get(0).getJsonObject("headers")).isEqualTo(new JsonObject().put("trace", "abc").putNull("empty"));
        assertThat(r.get(0).containsKey("value_encoding")).isFalse();
        assertThat(r.get(1).getString("key")).isEqualTo("plain key");
        assertThat(r.get(1).getString("value")).isEqualTo("not json {");
        assertThat(r.get(2).getString("value")).isEqualTo(Base64.getEncoder().encodeToString(notUtf8));
        assertThat(r.get(2).getString("value_encoding")).isEqualTo("base64");
        assertThat(r.get(3).getValue("key")).isNull();
        assertThat(r.get(3).containsKey("value")).isTrue();
        assertThat(r.get(3).getValue("value")).isNull();
        assertThat(r.get(3).getJsonObject("headers")).isEqualTo(new JsonObject());
    }

    @Test
    void binaryFormatGivesKeysValuesAndHeaderValuesInBase64() throws Exception {
        await(ws.topics.createTopic("raw", 1, Map.of()));
        await(ws.broker.produce("raw", List.of(new BrokerService.ProduceRecord(bytes("k"), bytes("{\"a\":1}"),
                new Header[] {new RecordHeader("h", bytes("v"))}, 0, 42L)), Partition.Acks.ALL));

        WsFixture.Client c = ws.connect("/ws/v1/topics/raw/subscribe?from=earliest&format=binary");
        JsonObject r = c.next(Frames.RECORD);

        assertThat(r).isEqualTo(new JsonObject().put("type", "record").put("topic", "raw").put("partition", 0)
                .put("offset", 0).put("timestamp", 42)
                .put("key", Base64.getEncoder().encodeToString(bytes("k")))
                .put("value", Base64.getEncoder().encodeToString(bytes("{\"a\":1}")))
                .put("headers", new JsonObject().put("h", Base64.getEncoder().encodeToString(bytes("v")))));
    }

    @Test
    void aRecordLargerThanOneFrameArrivesWhole() throws Exception {
        await(ws.topics.createTopic("big", 1, Map.of()));
        String value = "\"" + "é".repeat(100_000) + "\"";   // 200 KB of UTF-8: four outbound frames
        ws.produce("big", 0, value);

        WsFixture.Client c = ws.connect("/ws/v1/topics/big/subscribe?from=earliest");

        assertThat(c.next(Frames.RECORD).getString("value")).isEqualTo("é".repeat(100_000));
    }

    @Test
    void anUpgradeToAPathThatIsNotAnEndpointIsRefusedWith404() {
        for (String path : new String[] {"/ws/v1/topics/t", "/ws/v1/topics/t/consume", "/ws/v2/topics/t/subscribe",
                "/topics/t", "/ws/v1/topics/t/subscribe/"}) {
            Throwable refused = ws.client.connect(ws.port, "127.0.0.1", path)
                    .toCompletionStage().toCompletableFuture().handle((ok, error) -> error).join();
            assertThat(refused).as(path).isInstanceOf(UpgradeRejectedException.class);
            assertThat(((UpgradeRejectedException) refused).getStatus()).as(path).isEqualTo(404);
        }
    }

    @Test
    void aWebPageOfAnotherOriginIsRefusedWith403AndTheSameOriginIsServed() throws Exception {
        WebSocketConnectOptions foreign = new WebSocketConnectOptions().setHost("127.0.0.1").setPort(ws.port)
                .setURI("/ws/v1/topics/t/subscribe").addHeader("Origin", "http://evil.example");
        Throwable refused = ws.client.connect(foreign)
                .toCompletionStage().toCompletableFuture().handle((ok, error) -> error).join();
        assertThat(refused).isInstanceOf(UpgradeRejectedException.class);
        assertThat(((UpgradeRejectedException) refused).getStatus()).isEqualTo(403);

        WsFixture.Client same = ws.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(ws.port)
                .setURI("/ws/v1/topics/t/subscribe").addHeader("Origin", "http://127.0.0.1:" + ws.port));
        assertThat(same.next(Frames.ASSIGNMENT).getString("type")).isEqualTo(Frames.ASSIGNMENT);
    }

    @Test
    void theLivePageIsServedAndSubscribesToTheTopicOfItsAddress() throws Exception {
        HttpClient http = ws.vertx.createHttpClient();
        try {
            HttpClientResponse[] response = new HttpClientResponse[1];
            Buffer body = await(http.request(HttpMethod.GET, ws.port, "127.0.0.1", "/live.html?topic=t")
                    .compose(r -> r.send()).compose(r -> {
                        response[0] = r;
                        return r.body();
                    }));
            assertThat(response[0].statusCode()).isEqualTo(200);
            assertThat(response[0].getHeader("Content-Type")).isEqualTo("text/html; charset=utf-8");
            assertThat(body.toString())
                    .contains("new WebSocket(url)", "'/ws/v1/topics/' + encodeURIComponent(topic) + '/subscribe'",
                            "id=\"records\"", "id=\"status\"")
                    .doesNotContain("innerHTML");
        } finally {
            await(http.close());
        }
    }
}

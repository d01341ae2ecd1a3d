package io.runnel.api.ws;

import static io.runnel.api.ws.WsFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

/** Producing over WebSocket: one receipt per message, in order, saying where the record went. */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WebSocketProduceTest {

    @TempDir
    Path dataDir;

    WsFixture ws;

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        ws = WsFixture.start(vertx, dataDir, WsFixture.settings(), true);
        await(ws.topics.createTopic("events", 3, Map.of()));
    }

    @AfterEach
    void stop() throws Exception {
        ws.close();
    }

    /** The values of a partition as the log holds them. */
    List<String> stored(String topic, int partition) throws Exception {
        MemoryRecords records = await(ws.broker.fetch(topic, partition, 0, 16 << 20, 1, 0)).read().slice().readRecords();
        List<String> out = new ArrayList<>();
        for (RecordBatch batch : records.batches()) {
            for (Record r : batch) {
                out.add(StandardCharsets.UTF_8.decode(r.value()).toString());
            }
        }
        return out;
    }

    @Test
    void everyMessageGetsAReceiptInTheOrderSentWithItsPartitionAndOffset() throws Exception {
        WsFixture.Client c = ws.connect("/ws/v1/topics/events/produce");
        int count = 60;
        for (int i = 0; i < count; i++) {
            JsonObject message = new JsonObject().put("id", "m" + i).put("value", new JsonObject().put("n", i));
            if (i % 3 == 0) {
                message.put("partition", 2);
            } else {
                message.put("key", "user-" + (i % 5));
            }
            c.socket.writeTextMessage(message.encode()); // pipelined: the next goes before the last is answered
        }

        Map<Integer, Long> nextOffset = new HashMap<>();
        for (int i = 0; i < count; i++) {
            JsonObject receipt = c.next();
            assertThat(receipt.getString("type")).as(receipt.encode()).isEqualTo(Frames.RECEIPT);
            assertThat(receipt.getString("id")).isEqualTo("m" + i);
            int partition = receipt.getInteger("partition");
            if (i % 3 == 0) {
                assertThat(partition).isEqualTo(2);
            }
            assertThat(receipt.getLong("offset")).isEqualTo(nextOffset.getOrDefault(partition, 0L));
            nextOffset.put(partition, receipt.getLong("offset") + 1);
        }
        assertThat(stored("events", 2)).contains("{\"n\":0}", "{\"n\":3}");
        assertThat(nextOffset.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(count);
    }

    @Test
    void aJsonMessageReadsBackAsTheSameJsonAndABinaryOneAsTheSameBytes() throws Exception {
        WsFixture.Client reader = ws.connect("/ws/v1/topics/events/subscribe?partitions=1");
        reader.next(Frames.ASSIGNMENT);
        WsFixture.Client json = ws.connect("/ws/v1/topics/events/produce");
        WsFixture.Client binary = ws.connect("/ws/v1/topics/events/produce?format=binary");

        json.send(new JsonObject().put("id", 1).put("partition", 1).put("key", "k")
                .put("value", new JsonObject().put("total", 10)).put("headers", new JsonObject().put("source", "web")));
        assertThat(json.next().getString("type")).isEqualTo(Frames.RECEIPT);
        byte[] raw = {0, 1, 2, (byte) 0xFF};
        binary.send(new JsonObject().put("id", 2).put("partition", 1)
                .put("value", Base64.getEncoder().encodeToString(raw)).put("timestamp", 1234));
        assertThat(binary.next().getString("type")).isEqualTo(Frames.RECEIPT);

        JsonObject first = reader.next(Frames.RECORD);
        assertThat(first.getString("key")).isEqualTo("k");
        assertThat(first.getJsonObject("value")).isEqualTo(new JsonObject().put("total", 10));
        assertThat(first.getJsonObject("headers")).isEqualTo(new JsonObject().put("source", "web"));
        JsonObject second = reader.next(Frames.RECORD);
        assertThat(second.getString("value_encoding")).isEqualTo("base64");
        assertThat(Base64.getDecoder().decode(second.getString("value"))).isEqualTo(raw);
        assertThat(second.getLong("timestamp")).isEqualTo(1234);
    }

    @Test
    void aTopicThatDoesNotExistIsCreatedOnFirstProduceWhenAutoCreationIsOn() throws Exception {
        WsFixture.Client c = ws.connect("/ws/v1/topics/fresh/produce");
        c.send(new JsonObject().put("id", "x").put("value", "hello"));

        JsonObject receipt = c.next();
        assertThat(receipt).isEqualTo(new JsonObject().put("type", "receipt").put("id", "x").put("partition", 0)
                .put("offset", 0));
        assertThat(stored("fresh", 0)).containsExactly("\"hello\"");
    }
}

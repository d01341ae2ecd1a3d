package io.runnel.api.ws;

import static io.runnel.api.ws.WsFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

/**
 * Subscribers in a consumer group: they share a topic's partitions through the group
 * coordinator, take over a leaver's share, and resume from what they acked.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WebSocketGroupTest {

    @TempDir
    Path dataDir;

    WsFixture ws;

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        ws = WsFixture.start(vertx, dataDir, WsFixture.settings(), false);
    }

    @AfterEach
    void stop() throws Exception {
        ws.close();
    }

    static Set<Integer> partitions(JsonObject assignment) {
        Set<Integer> out = new TreeSet<>();
        assignment.getJsonArray("partitions").forEach(p -> out.add(((JsonObject) p).getInteger("partition")));
        return out;
    }

    @Test
    void twoSubscribersInOneGroupSplitThePartitionsAndTheOneLeftTakesAllWhenTheOtherLeaves() throws Exception {
        await(ws.topics.createTopic("orders", 4, Map.of()));
        String uri = "/ws/v1/topics/orders/subscribe?group=billing&from=earliest";

        WsFixture.Client first = ws.connect(uri);
        assertThat(partitions(first.assignment(a -> partitions(a).size() == 4))).containsExactly(0, 1, 2, 3);
        WsFixture.Client second = ws.connect(uri);
        Set<Integer> secondShare = partitions(second.assignment(a -> partitions(a).size() == 2));
        Set<Integer> firstShare = partitions(first.assignment(a -> partitions(a).size() == 2));
        assertThat(firstShare).doesNotContainAnyElementsOf(secondShare);
        Set<Integer> union = new HashSet<>(firstShare);
        union.addAll(secondShare);
        assertThat(union).containsExactlyInAnyOrder(0, 1, 2, 3);

        for (int p = 0; p < 4; p++) {
            ws.produce("orders", p, "\"order in " + p + "\"");
        }
        assertThat(first.records(2)).extracting(r -> r.getInteger("partition")).containsExactlyInAnyOrderElementsOf(firstShare);
        assertThat(second.records(2)).extracting(r -> r.getInteger("partition")).containsExactlyInAnyOrderElementsOf(secondShare);

        second.close();
        assertThat(partitions(first.assignment(a -> partitions(a).size() == 4))).containsExactly(0, 1, 2, 3);
        for (int p = 0; p < 4; p++) {
            ws.produce("orders", p, "\"second order in " + p + "\"");
        }
        // A partition kept across the rebalance resumes where it was; one taken over resumes at the
        // leaver's committed offset (nothing was acked here, so from the start): at least the new ones arrive.
        Set<String> seen = new HashSet<>();
        while (seen.size() < 4) {
            JsonObject r = first.next(Frames.RECORD);
            if (r.getString("value").startsWith("second")) {
                seen.add(r.getString("value"));
            }
        }
        assertThat(seen).hasSize(4);
    }

    @Test
    void aSubscriberThatAcksAndReconnectsResumesRightAfterWhatItAckedWithNothingLostOrRepeated() throws Exception {
        await(ws.topics.createTopic("payments", 1, Map.of()));
        for (int i = 0; i < 10; i++) {
            ws.produce("payments", 0, "\"p" + i + "\"");
        }
        String uri = "/ws/v1/topics/payments/subscribe?group=ledger&from=earliest";

        WsFixture.Client before = ws.connect(uri + "&credit=4");
        List<JsonObject> firstFour = before.records(4);
        assertThat(firstFour).extracting(r -> r.getLong("offset")).containsExactly(0L, 1L, 2L, 3L);
        before.assertQuietFor(200); // credit for four: the fifth waits
        before.send(new JsonObject().put("type", "ack").put("partition", 0).put("offset", 3));
        before.close();

        WsFixture.Client after = ws.connect(uri);
        JsonObject assignment = after.assignment(a -> !partitions(a).isEmpty());
        assertThat(assignment.getJsonArray("partitions").getJsonObject(0).getLong("offset")).isEqualTo(4);
        List<JsonObject> rest = after.records(6);
        assertThat(rest).extracting(r -> r.getLong("offset")).containsExactly(4L, 5L, 6L, 7L, 8L, 9L);
        assertThat(rest).extracting(r -> r.getString("value")).containsExactly("p4", "p5", "p6", "p7", "p8", "p9");
        after.assertQuietFor(200);
    }

    @Test
    void anAckCommitsTheNextOffsetForTheGroup() throws Exception {
        await(ws.topics.createTopic("audit", 2, Map.of()));
        ws.produce("audit", 1, "\"x\"", "\"y\"");
        WsFixture.Client c = ws.connect("/ws/v1/topics/audit/subscribe?group=auditors&from=earliest");
        c.assignment(a -> partitions(a).size() == 2);
        c.records(2);

        c.send(new JsonObject().put("type", "ack").put("partition", 1).put("offset", 1));

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WsFixture.AWAIT_SECONDS);
        Long committed = null;
        while (System.nanoTime() < deadline && committed == null) {
            var offsets = await(ws.groups.fetchOffsets("auditors", null));
            var om = offsets.get(new org.apache.kafka.common.TopicPartition("audit", 1));
            committed = om == null ? null : om.offset();
            if (committed == null) {
                Thread.sleep(20);
            }
        }
        assertThat(committed).isEqualTo(2L);
    }
}

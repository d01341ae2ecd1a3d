package io.runnel.broker;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.record.Record;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;
import io.runnel.group.GroupConfig;
import io.runnel.group.GroupCoordinator;
import io.runnel.group.GroupRecords;
import io.runnel.group.GroupStore;
import io.runnel.log.GroupCommitFlusher;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/** Committed offsets kept in the compacted topic __consumer_offsets outlive the broker process. */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class OffsetsTopicStoreTest {

    static final GroupConfig CONFIG = new GroupConfig(50, 100, 60_000);
    static final TopicPartition ORDERS_0 = new TopicPartition("orders", 0);
    static final TopicPartition ORDERS_3 = new TopicPartition("orders", 3);

    @TempDir
    Path dataDir;

    final GroupCommitFlusher flusher = new GroupCommitFlusher();
    TopicManager topics;
    GroupCoordinator coordinator;

    @AfterEach
    void stop() throws Exception {
        if (coordinator != null) {
            await(coordinator.close());
        }
        if (topics != null) {
            await(topics.close());
        }
        flusher.close();
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.await(10, TimeUnit.SECONDS);
    }

    OffsetsTopicStore openBroker(Vertx vertx, int partitions) throws Exception {
        topics = await(TopicManager.start(vertx, dataDir, LogConfig.defaults(), 2, flusher,
                vertx.createSharedWorkerExecutor("runnel-log-test", 2), true));
        return await(OffsetsTopicStore.start(vertx, topics, partitions));
    }

    void closeBroker() throws Exception {
        await(coordinator.close());
        coordinator = null;
        await(topics.close());
        topics = null;
    }

    @Test
    void committedOffsetsSurviveClosingAndReopeningTheTopics(Vertx vertx) throws Exception {
        OffsetsTopicStore store = openBroker(vertx, 3);
        assertThat(topics.topic(OffsetsTopicStore.TOPIC).configOverrides()).containsEntry("cleanup.policy", "compact");
        coordinator = await(GroupCoordinator.start(vertx, store, CONFIG));
        await(coordinator.commitOffsets("billing", -1, "", Map.of(ORDERS_0, new OffsetAndMetadata(10, "first"))));
        await(coordinator.commitOffsets("billing", -1, "", Map.of(ORDERS_0, new OffsetAndMetadata(12))));
        await(coordinator.commitOffsets("shipping", -1, "", Map.of(ORDERS_3, new OffsetAndMetadata(99))));
        await(coordinator.commitOffsets("gone", -1, "", Map.of(ORDERS_3, new OffsetAndMetadata(1))));
        await(coordinator.deleteGroup("gone"));
        closeBroker();

        OffsetsTopicStore reopened = openBroker(vertx, 7);
        assertThat(reopened.partitions()).as("the existing topic's partition count wins").isEqualTo(3);
        coordinator = await(GroupCoordinator.start(vertx, reopened, CONFIG));

        assertThat(await(coordinator.fetchOffsets("billing", null)))
                .containsExactly(Map.entry(ORDERS_0, new OffsetAndMetadata(12)));
        assertThat(await(coordinator.fetchOffsets("shipping", null)))
                .containsExactly(Map.entry(ORDERS_3, new OffsetAndMetadata(99)));
        assertThat(await(coordinator.fetchOffsets("gone", null))).isEmpty();
        assertThat(await(coordinator.listGroups())).extracting(GroupCoordinator.GroupOverview::groupId)
                .containsExactly("billing", "shipping");
    }

    @Test
    void replayHandsBackEveryAcknowledgedRecordInOrder(Vertx vertx) throws Exception {
        OffsetsTopicStore store = openBroker(vertx, 1);
        List<Future<Void>> appends = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            appends.add(store.append(0, GroupRecords.offsetCommits("g",
                    Map.of(new TopicPartition("t", i), new OffsetAndMetadata(i)), 1000L + i)));
        }
        await(Future.all(appends));

        List<Record> seen = new ArrayList<>();
        await(store.replay(0, seen::add));

        assertThat(seen).hasSize(300);
        for (int i = 0; i < 300; i++) {
            GroupRecords.OffsetCommit c = (GroupRecords.OffsetCommit) GroupRecords.read(seen.get(i));
            assertThat(c.partition().partition()).isEqualTo(i);
            assertThat(c.offset().offset()).isEqualTo(i);
        }
        assertThat(GroupStore.partitionFor("g", store.partitions())).isZero();
    }
}

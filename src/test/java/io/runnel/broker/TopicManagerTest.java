package io.runnel.broker;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;
import io.runnel.log.Batches;
import io.runnel.log.GroupCommitFlusher;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/** Topics: create, grow, alter, delete, and all of it found again after a restart. */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TopicManagerTest {

    @TempDir
    Path dataDir;

    final GroupCommitFlusher flusher = new GroupCommitFlusher();

    @AfterEach
    void stopFlusher() throws Exception {
        flusher.close();
    }

    TopicManager start(Vertx vertx) throws Exception {
        return TopicManager.start(vertx, dataDir, LogConfig.defaults(), 2, flusher,
                vertx.createSharedWorkerExecutor("runnel-log-test", 2), true).await(10, TimeUnit.SECONDS);
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.await(10, TimeUnit.SECONDS);
    }

    @Test
    void aTopicAndItsRecordsAndConfigSurviveARestart(Vertx vertx) throws Exception {
        TopicManager topics = start(vertx);
        await(topics.createTopic("orders", 3, Map.of(LogConfig.RETENTION_MS, "3600000")));
        for (int p = 0; p < 3; p++) {
            await(topics.partition("orders", p).append(batch(record("k", "p" + p, 1)), Partition.Acks.ALL));
        }
        await(topics.close());

        TopicManager again = start(vertx);
        assertThat(again.topicNames()).containsExactly("orders");
        TopicManager.Topic t = again.topic("orders");
        assertThat(t.partitions()).hasSize(3);
        assertThat(t.config().retentionMs).isEqualTo(3_600_000L);
        Partition.ReadResult r = await(again.partition("orders", 2).read(0, 1 << 20));
        assertThat(Batches.records(r.slice().readRecords())).extracting(Batches.Rec::value).containsExactly("p2");
        await(again.close());
    }

    @Test
    void badRequestsAreRefusedWithKafkasErrors(Vertx vertx) throws Exception {
        TopicManager topics = start(vertx);
        await(topics.createTopic("orders", 1, Map.of()));
        assertThatThrownBy(() -> await(topics.createTopic("orders", 1, Map.of())))
                .isInstanceOf(TopicExistsException.class);
        assertThatThrownBy(() -> await(topics.createTopic("bad/name", 1, Map.of())))
                .isInstanceOf(InvalidTopicException.class);
        assertThatThrownBy(() -> await(topics.createTopic("..", 1, Map.of())))
                .isInstanceOf(InvalidTopicException.class);
        assertThatThrownBy(() -> await(topics.createTopic("none", 0, Map.of())))
                .isInstanceOf(InvalidPartitionsException.class);
        assertThatThrownBy(() -> await(topics.createTopic("typo", 1, Map.of("retention.msec", "1"))))
                .isInstanceOf(InvalidConfigurationException.class).hasMessageContaining("retention.msec");
        assertThatThrownBy(() -> await(topics.createPartitions("orders", 1)))
                .isInstanceOf(InvalidPartitionsException.class);
        // A request for millions of partitions is refused, not attempted (found by the Kafka fuzz test).
        assertThatThrownBy(() -> await(topics.createTopic("huge", TopicManager.MAX_PARTITIONS_PER_TOPIC + 1, Map.of())))
                .isInstanceOf(InvalidPartitionsException.class);
        assertThatThrownBy(() -> await(topics.createPartitions("orders", 2_000_000_000)))
                .isInstanceOf(InvalidPartitionsException.class).hasMessageContaining("at most");
        assertThatThrownBy(() -> topics.partition("orders", 1)).isInstanceOf(UnknownTopicOrPartitionException.class);
        assertThatThrownBy(() -> topics.topic("missing")).isInstanceOf(UnknownTopicOrPartitionException.class);
        assertThat(topics.topicNames()).containsExactly("orders");
        await(topics.close());
    }

    @Test
    void partitionsGrowConfigsChangeAndADeletedTopicLeavesNoFiles(Vertx vertx) throws Exception {
        TopicManager topics = start(vertx);
        await(topics.createTopic("orders", 1, Map.of()));
        await(topics.createPartitions("orders", 4));
        assertThat(topics.topic("orders").partitions()).hasSize(4);
        await(topics.alterConfigs("orders", Map.of(LogConfig.CLEANUP_POLICY, "compact"), Set.of()));
        assertThat(topics.topic("orders").config().cleanupCompact).isTrue();
        await(topics.alterConfigs("orders", Map.of(), Set.of(LogConfig.CLEANUP_POLICY)));
        assertThat(topics.topic("orders").config().cleanupCompact).isFalse();

        await(topics.deleteTopic("orders"));
        assertThat(topics.topicNames()).isEmpty();
        try (var files = Files.list(dataDir)) {
            assertThat(files.map(f -> f.getFileName().toString())).containsExactly(TopicManager.METADATA_DIR);
        }
        await(topics.close());
    }
}

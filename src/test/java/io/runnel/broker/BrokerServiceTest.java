package io.runnel.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
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

/** The broker service every adapter calls: produce with Kafka's partitioning, long-poll fetch, ListOffsets. */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class BrokerServiceTest {

    @TempDir
    Path dataDir;

    final GroupCommitFlusher flusher = new GroupCommitFlusher();
    TopicManager topics;

    @AfterEach
    void stop() throws Exception {
        if (topics != null) {
            topics.close().await(10, TimeUnit.SECONDS);
        }
        flusher.close();
    }

    BrokerService start(Vertx vertx, boolean autoCreate, int defaultPartitions) throws Exception {
        topics = TopicManager.start(vertx, dataDir, LogConfig.defaults(), 2, flusher,
                vertx.createSharedWorkerExecutor("runnel-log-test", 2), true).await(10, TimeUnit.SECONDS);
        return new BrokerService(topics, autoCreate, defaultPartitions);
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.await(10, TimeUnit.SECONDS);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static BrokerService.ProduceRecord keyed(String key, String value) {
        return new BrokerService.ProduceRecord(bytes(key), bytes(value), null, null, null);
    }

    static BrokerService.ProduceRecord unkeyed(String value) {
        return new BrokerService.ProduceRecord(null, bytes(value), null, null, null);
    }

    @Test
    void aKeyLandsOnThePartitionAKafkaClientWouldPick(Vertx vertx) throws Exception {
        BrokerService broker = start(vertx, true, 6);
        List<BrokerService.ProduceRecord> records = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            records.add(keyed("customer-" + i, "order-" + i));
        }
        List<BrokerService.ProduceResult> results = await(broker.produce("orders", records, Partition.Acks.ALL));
        for (int i = 0; i < 50; i++) {
            assertThat(results.get(i).error()).isNull();
            assertThat(results.get(i).partition()).isEqualTo(BuiltInPartitioner.partitionForKey(bytes("customer-" + i), 6));
        }
        assertThat(topics.topic("orders").partitions()).as("auto-created with num.partitions").hasSize(6);
    }

    @Test
    void resultsComeBackInOrderWithConsecutiveOffsetsPerPartition(Vertx vertx) throws Exception {
        BrokerService broker = start(vertx, true, 1);
        Header[] headers = {new RecordHeader("source", bytes("test"))};
        List<BrokerService.ProduceResult> results = await(broker.produce("log", List.of(
                unkeyed("a"), new BrokerService.ProduceRecord(bytes("k"), bytes("b"), headers, 0, 1234L), unkeyed("c")),
                Partition.Acks.ALL));
        assertThat(results).extracting(BrokerService.ProduceResult::offset).containsExactly(0L, 1L, 2L);

        // acks=all: durable, so below the high watermark and readable at once.
        BrokerService.FetchResult fetched = await(broker.fetch("log", 0, 0, 1 << 20, 1, 0));
        List<Batches.Rec> recs = Batches.records(fetched.read().slice().readRecords());
        assertThat(recs).extracting(Batches.Rec::value).containsExactly("a", "b", "c");
        assertThat(recs.get(1).timestamp()).isEqualTo(1234L);
    }

    @Test
    void unkeyedRecordsSpreadAndAnExplicitPartitionIsHonoured(Vertx vertx) throws Exception {
        BrokerService broker = start(vertx, true, 3);
        List<BrokerService.ProduceRecord> records = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            records.add(unkeyed("v" + i));
        }
        records.add(new BrokerService.ProduceRecord(bytes("k"), bytes("pinned"), null, 2, null));
        List<BrokerService.ProduceResult> results = await(broker.produce("spread", records, Partition.Acks.LEADER));
        assertThat(results.subList(0, 9)).extracting(BrokerService.ProduceResult::partition).containsOnly(0, 1, 2)
                .contains(0, 1, 2);
        assertThat(results.get(9).partition()).isEqualTo(2);

        assertThatThrownBy(() -> await(broker.produce("spread",
                List.of(new BrokerService.ProduceRecord(null, bytes("x"), null, 7, null)), Partition.Acks.LEADER)))
                .isInstanceOf(UnknownTopicOrPartitionException.class);
    }

    @Test
    void withoutAutoCreationAnUnknownTopicIsAnError(Vertx vertx) throws Exception {
        BrokerService broker = start(vertx, false, 1);
        assertThatThrownBy(() -> await(broker.produce("nope", List.of(unkeyed("x")), Partition.Acks.LEADER)))
                .isInstanceOf(UnknownTopicOrPartitionException.class);
        assertThat(topics.topicNames()).isEmpty();
    }

    @Test
    void aFetchWaitsForMinBytesUntilProducesBringThemOrItsTimeIsUp(Vertx vertx) throws Exception {
        BrokerService broker = start(vertx, true, 1);
        await(topics.createTopic("t", 1, Map.of()));
        Future<BrokerService.FetchResult> waiting = broker.fetch("t", 0, 0, 1 << 20, 150, 20_000);
        await(broker.produce("t", List.of(unkeyed("small")), Partition.Acks.ALL));
        vertx.setTimer(100, x -> broker.produce("t", List.of(unkeyed("x".repeat(200))), Partition.Acks.ALL));
        BrokerService.FetchResult r = await(waiting);
        assertThat(r.read().slice().sizeBytes()).isGreaterThanOrEqualTo(150);
        assertThat(Batches.records(r.read().slice().readRecords())).hasSize(2);

        BrokerService.FetchResult empty = await(broker.fetch("t", 0, 2, 1 << 20, 1, 50));
        assertThat(empty.read().slice().isEmpty()).isTrue();
        assertThat(empty.read().highWatermark()).isEqualTo(2);
    }

    @Test
    void listOffsetsAnswersEarliestLatestAndByTime(Vertx vertx) throws Exception {
        BrokerService broker = start(vertx, true, 1);
        List<BrokerService.ProduceRecord> records = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            records.add(new BrokerService.ProduceRecord(null, bytes("v" + i), null, 0, 1000L + i * 10));
        }
        await(broker.produce("t", records, Partition.Acks.ALL));
        assertThat(await(broker.listOffset("t", 0, Partition.EARLIEST_TIMESTAMP))).isZero();
        assertThat(await(broker.listOffset("t", 0, Partition.LATEST_TIMESTAMP))).isEqualTo(5);
        assertThat(await(broker.listOffset("t", 0, 1015))).isEqualTo(2);
        assertThat(await(broker.listOffset("t", 0, 5000))).isEqualTo(-1);
    }

    @Test
    void resultsComeBackOnTheCallersContext(Vertx vertx, io.vertx.junit5.VertxTestContext ctx) throws Exception {
        BrokerService broker = start(vertx, true, 4);
        io.vertx.core.Context caller = vertx.getOrCreateContext();
        caller.runOnContext(v -> broker.produce("t", List.of(keyed("a", "1"), keyed("b", "2")), Partition.Acks.ALL)
                .onComplete(ctx.succeeding(results -> ctx.verify(() -> {
                    assertThat(Vertx.currentContext()).isSameAs(caller);
                    broker.listOffset("t", results.get(0).partition(), Partition.LATEST_TIMESTAMP)
                            .onComplete(ctx.succeeding(end -> ctx.verify(() -> {
                                assertThat(Vertx.currentContext()).isSameAs(caller);
                                ctx.completeNow();
                            })));
                }))));
    }
}

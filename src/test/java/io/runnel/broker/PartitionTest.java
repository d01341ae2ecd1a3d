package io.runnel.broker;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.common.errors.CorruptRecordException;
import org.apache.kafka.common.record.MemoryRecords;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;
import io.runnel.log.Batches;
import io.runnel.log.GroupCommitFlusher;
import io.runnel.log.Log;
import io.runnel.log.LogAppendInfo;
import io.runnel.log.StorageIo;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.junit5.VertxTestContext;

/**
 * A partition pinned to one event loop: appends coalesced per turn, acks=all answered once
 * durable, a high watermark that follows durability, fetches woken by appends, housekeeping on a
 * worker — and never a blocked event loop (the extension fails the test if one is).
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class PartitionTest {

    @TempDir
    Path dataDir;

    final GroupCommitFlusher flusher = new GroupCommitFlusher();

    @AfterEach
    void stopFlusher() throws Exception {
        flusher.close();
    }

    Partition open(Vertx vertx, Context context, LogConfig config, boolean durableAcks) throws Exception {
        WorkerExecutor worker = vertx.createSharedWorkerExecutor("runnel-log-test", 2);
        return Partition.open("orders-0", vertx, context, dataDir.resolve("orders-0"), config, flusher, worker, durableAcks)
                .await(10, TimeUnit.SECONDS);
    }

    static MemoryRecords one(int i) {
        return batch(record("k" + i, "v" + i, 1_000 + i));
    }

    @Test
    void acksAllIsAnsweredOnlyOnceTheRecordsAreDurableAndVisible(Vertx vertx, VertxTestContext ctx) throws Exception {
        Context context = vertx.getOrCreateContext();
        Partition p = open(vertx, context, LogConfig.defaults(), true);
        List<Future<LogAppendInfo>> acks = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            acks.add(p.append(one(i), Partition.Acks.ALL));
        }
        Future.all(acks).onComplete(ctx.succeeding(all -> context.runOnContext(v -> ctx.verify(() -> {
            for (Future<LogAppendInfo> f : acks) {
                assertThat(p.log().durableOffset()).isGreaterThan(f.result().lastOffset());
            }
            assertThat(p.log().highWatermark()).isEqualTo(50);
            ctx.completeNow();
        }))));
    }

    @Test
    void anAppendQueuedBeforeLeadershipMovesIsRefusedNotWrittenAsAFollower(Vertx vertx, VertxTestContext ctx)
            throws Exception {
        Context context = vertx.getOrCreateContext();
        Partition p = Partition.open("orders-0", vertx, context, dataDir.resolve("orders-0"), LogConfig.defaults(),
                flusher, vertx.createSharedWorkerExecutor("runnel-log-test", 2), false, true).await(10, TimeUnit.SECONDS);
        p.becomeLeader(1, 1, List.of(1, 2), List.of(1), id -> true).await(10, TimeUnit.SECONDS);
        context.runOnContext(v -> {
            // Queued in this turn, while leading; the cluster moves leadership before the turn ends.
            Future<LogAppendInfo> queued = p.append(one(0), Partition.Acks.ALL);
            p.becomeFollower(2);
            queued.onComplete(done -> ctx.verify(() -> {
                assertThat(done.cause()).as("an acknowledgement here could be of offsets the new leader gives to others")
                        .isInstanceOf(org.apache.kafka.common.errors.NotLeaderOrFollowerException.class);
                assertThat(p.log().logEndOffset()).as("nothing written").isZero();
                ctx.completeNow();
            }));
        });
    }

    @Test
    void onlyThePartitionsOwnFollowersReadPastTheHighWatermark(Vertx vertx, VertxTestContext ctx) throws Exception {
        Context context = vertx.getOrCreateContext();
        Partition p = Partition.open("orders-0", vertx, context, dataDir.resolve("orders-0"), LogConfig.defaults(),
                flusher, vertx.createSharedWorkerExecutor("runnel-log-test", 2), false, true).await(10, TimeUnit.SECONDS);
        p.becomeLeader(1, 3, List.of(1, 2, 3), List.of(1, 2, 3), id -> true).await(10, TimeUnit.SECONDS);
        p.append(one(0), Partition.Acks.LEADER).await(10, TimeUnit.SECONDS);

        Future<Partition.ReadResult> stranger = p.replicaRead(7, 3, 0, 1 << 20, 0);
        Future<Partition.ReadResult> follower = p.replicaRead(2, 3, 0, 1 << 20, 0);

        Future.join(stranger, follower).onComplete(done -> ctx.verify(() -> {
            assertThat(stranger.cause()).as("broker 7 holds no replica: a consumer claiming its id")
                    .isInstanceOf(org.apache.kafka.common.errors.NotLeaderOrFollowerException.class);
            assertThat(follower.result().highWatermark()).as("not replicated to broker 3 yet").isZero();
            assertThat(Batches.records(follower.result().slice().readRecords())).extracting(Batches.Rec::value).containsExactly("v0");
            ctx.completeNow();
        }));
    }

    @Test
    void requestsOfOneTurnAreAppendedTogetherYetAnsweredEachOnItsOwn(Vertx vertx, VertxTestContext ctx) throws Exception {
        Context context = vertx.getOrCreateContext();
        Partition p = open(vertx, context, LogConfig.defaults(), false);
        context.runOnContext(v -> {
            MemoryRecords bad = one(99);
            bad.buffer().put(bad.sizeInBytes() - 1, (byte) 0x33);
            Future<LogAppendInfo> a = p.append(one(0), Partition.Acks.LEADER);
            Future<LogAppendInfo> refused = p.append(bad, Partition.Acks.LEADER);
            Future<LogAppendInfo> b = p.append(one(1), Partition.Acks.LEADER);
            assertThat(a.isComplete()).as("appended when the turn ends, not at once").isFalse();
            Future.join(a, refused, b).onComplete(done -> ctx.verify(() -> {
                assertThat(a.result().firstOffset()).isZero();
                assertThat(refused.cause()).isInstanceOf(CorruptRecordException.class);
                assertThat(b.result().firstOffset()).isEqualTo(1);
                assertThat(p.log().highWatermark()).as("not durable mode: visible once written").isEqualTo(2);
                ctx.completeNow();
            }));
        });
    }

    @Test
    void aWaitingFetchIsWokenByTheAppendNotByItsTimeout(Vertx vertx, VertxTestContext ctx) throws Exception {
        Partition p = open(vertx, vertx.getOrCreateContext(), LogConfig.defaults(), true);
        long started = System.nanoTime();
        p.readWhenAvailable(0, 1 << 20, 60_000).onComplete(ctx.succeeding(r -> ctx.verify(() -> {
            assertThat(Batches.records(r.slice().readRecords())).extracting(Batches.Rec::value).containsExactly("v0");
            assertThat(r.highWatermark()).isEqualTo(1);
            assertThat(System.nanoTime() - started).isLessThan(TimeUnit.SECONDS.toNanos(15));
            ctx.completeNow();
        })));
        vertx.setTimer(50, t -> p.append(one(0), Partition.Acks.LEADER));
    }

    @Test
    void aWaitingFetchWithNothingToReadEndsEmptyAtItsTimeout(Vertx vertx, VertxTestContext ctx) throws Exception {
        Partition p = open(vertx, vertx.getOrCreateContext(), LogConfig.defaults(), true);
        p.readWhenAvailable(0, 1 << 20, 100).onComplete(ctx.succeeding(r -> ctx.verify(() -> {
            assertThat(r.slice().isEmpty()).isTrue();
            assertThat(r.highWatermark()).isZero();
            ctx.completeNow();
        })));
    }

    @Test
    void housekeepingAppliesRetentionOffTheEventLoop(Vertx vertx, VertxTestContext ctx) throws Exception {
        LogConfig config = LogConfig.defaults().with(LogConfig.SEGMENT_BYTES, 300).with(LogConfig.RETENTION_BYTES, 600);
        Context context = vertx.getOrCreateContext();
        Partition p = open(vertx, context, config, true);
        List<Future<LogAppendInfo>> acks = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            acks.add(p.append(one(i), Partition.Acks.ALL));
        }
        Future.all(acks).compose(v -> p.maintain()).onComplete(ctx.succeeding(v -> context.runOnContext(x -> ctx.verify(() -> {
            Log log = p.log();
            assertThat(log.logStartOffset()).isGreaterThan(0);
            assertThat(log.sizeInBytes()).isLessThanOrEqualTo(600 + 300);
            try (var files = Files.list(dataDir.resolve("orders-0"))) {
                assertThat(files.map(f -> f.getFileName().toString())).noneMatch(n -> n.endsWith(".deleted"));
            }
            ctx.completeNow();
        }))));
    }

    @Test
    void closeFlushesAndLeavesACleanShutdown(Vertx vertx) throws Exception {
        Partition p = open(vertx, vertx.getOrCreateContext(), LogConfig.defaults(), false);
        p.append(one(0), Partition.Acks.LEADER).await(5, TimeUnit.SECONDS);
        p.close().await(5, TimeUnit.SECONDS);
        try (Log log = Log.open(dataDir.resolve("orders-0"), LogConfig.defaults(), StorageIo.SYSTEM, Clock.systemUTC())) {
            assertThat(log.recoveryReport().cleanShutdown()).isTrue();
            assertThat(log.logEndOffset()).isEqualTo(1);
        }
    }
}

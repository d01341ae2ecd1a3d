package io.runnel.log;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.junit5.Checkpoint;
import io.vertx.junit5.VertxTestContext;

@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class GroupCommitFlusherTest {

    @TempDir
    Path dir;

    /** An fsync "thread" that runs nothing until the test says so. */
    static final class HeldExecutor implements java.util.concurrent.Executor {
        final Queue<Runnable> held = new ArrayDeque<>();

        @Override
        public synchronized void execute(Runnable r) {
            held.add(r);
        }

        synchronized void runAll() {
            Runnable r;
            while ((r = held.poll()) != null) {
                r.run();
            }
        }
    }

    @Test
    void requestsWaitingForARoundShareOneFsyncPerLog() throws Exception {
        HeldExecutor fsync = new HeldExecutor();
        GroupCommitFlusher flusher = new GroupCommitFlusher(fsync);
        List<Log> logs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            logs.add(Log.open(dir.resolve("t-" + i), LogConfig.defaults(), StorageIo.SYSTEM, Clock.systemUTC()));
        }
        List<Long> durable = new ArrayList<>();
        for (int round = 0; round < 4; round++) {
            for (Log log : logs) {
                log.append(batch(record("k", "v" + round, 1)), 0);
                flusher.submit(log.prepareFlush(), Runnable::run, (offset, error) -> durable.add(offset));
            }
        }
        assertThat(durable).isEmpty();
        assertThat(logs.get(0).durableOffset()).isZero();

        fsync.runAll();

        assertThat(flusher.rounds()).isEqualTo(1);
        assertThat(flusher.fsyncedTasks()).isEqualTo(3);
        assertThat(durable).hasSize(12).containsOnly(4L);
        for (Log log : logs) {
            assertThat(log.durableOffset()).isEqualTo(4);
            log.close();
        }
    }

    @Test
    void durableOffsetIsReportedOnTheLogsOwnContext(Vertx vertx, VertxTestContext ctx) throws Exception {
        Log log = Log.open(dir.resolve("t-0"), LogConfig.defaults(), StorageIo.SYSTEM, Clock.systemUTC());
        GroupCommitFlusher flusher = new GroupCommitFlusher();
        Context owner = vertx.getOrCreateContext();
        int appends = 50;
        Checkpoint allDurable = ctx.checkpoint(appends);
        owner.runOnContext(v -> {
            for (int i = 0; i < appends; i++) {
                LogAppendInfo info = log.append(batch(record("k" + i, "v" + i, i)), 0);
                flusher.submit(log.prepareFlush(), r -> owner.runOnContext(x -> r.run()), (offset, error) -> ctx.verify(() -> {
                    assertThat(error).isNull();
                    assertThat(Vertx.currentContext()).isSameAs(owner);
                    assertThat(offset).isGreaterThan(info.lastOffset());
                    allDurable.flag();
                }));
            }
        });
        assertThat(ctx.awaitCompletion(20, TimeUnit.SECONDS)).isTrue();
        assertThat(flusher.rounds()).isBetween(1L, (long) appends);
        flusher.close();
        log.close();
    }
}

package io.runnel.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.runnel.testing.BlockedEventLoopExtension.Block;
import io.runnel.testing.BlockedEventLoopExtension.Recorder;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Proves that {@link BlockedEventLoopExtension} catches a blocked event loop and lets a
 * well-behaved test through. Tests that block on purpose drain the recorder, so they pass; the
 * after-test check is exercised through {@link Recorder#assertNoBlockedEventLoops()} directly.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 20, timeUnit = TimeUnit.SECONDS)
class BlockedEventLoopExtensionTest {

    /** Well past limit + check interval (600 ms), so the checker must see it. */
    private static final long BLOCK_MS = 1_000;
    /** Well under the 500 ms limit. */
    private static final long SHORT_TASK_MS = 20;
    private static final Duration WAIT = Duration.ofSeconds(10);

    private Vertx vertxFromBeforeEach;

    @BeforeEach
    void rememberVertx(Vertx vertx) {
        vertxFromBeforeEach = vertx;
    }

    @Test
    void aBlockedEventLoopIsRecordedWithWhereItBlocked(Vertx vertx, Recorder recorder) throws Exception {
        sleepOnEventLoop(vertx, BLOCK_MS);

        assertThat(recorder.awaitEventLoopsIdle(WAIT)).isTrue();
        List<Block> blocks = recorder.drainBlocks();

        assertThat(blocks).hasSize(1);
        Block block = blocks.get(0);
        assertThat(block.threadName()).startsWith("vert.x-eventloop-thread-");
        assertThat(block.limitMs()).isEqualTo(BlockedEventLoopExtension.EVENT_LOOP_LIMIT_MS);
        assertThat(block.blockedMs()).isBetween(BlockedEventLoopExtension.EVENT_LOOP_LIMIT_MS, BLOCK_MS + 1_000);
        assertThat(block.stack()).anySatisfy(frame -> assertThat(frame.getMethodName()).isEqualTo("sleep"));
        // Drained: the extension's own check after this test finds nothing and lets it pass.
        assertThat(recorder.blocks()).isEmpty();
    }

    @Test
    void theAfterTestCheckFailsOnAnUndrainedBlock(Vertx vertx, Recorder recorder) throws Exception {
        sleepOnEventLoop(vertx, BLOCK_MS);

        assertThatThrownBy(recorder::assertNoBlockedEventLoops)
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("event loop was blocked 1 time")
                .hasMessageContaining("vert.x-eventloop-thread-")
                .hasMessageContaining("limit " + BlockedEventLoopExtension.EVENT_LOOP_LIMIT_MS + " ms");
        // The check drains what it reports, so the extension's own check passes.
        assertThat(recorder.blocks()).isEmpty();
    }

    @Test
    void aBlockStillInProgressWhenTheTestReturnsIsCaught(Vertx vertx, Recorder recorder) {
        // Not awaited: the check has to wait for the loop itself.
        vertx.runOnContext(v -> sleep(BLOCK_MS));

        assertThatThrownBy(recorder::assertNoBlockedEventLoops).isInstanceOf(AssertionError.class);
    }

    @Test
    void shortTasksAreNotFlagged(Vertx vertx, Recorder recorder) throws Exception {
        for (int i = 0; i < 5; i++) {
            sleepOnEventLoop(vertx, SHORT_TASK_MS);
        }

        recorder.assertNoBlockedEventLoops();
        assertThat(recorder.blocks()).isEmpty();
    }

    @Test
    void blockingOnAWorkerIsNotFlagged(Vertx vertx, Recorder recorder) throws Exception {
        vertx.executeBlocking(() -> {
            sleep(BLOCK_MS);
            return null;
        }).await(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        recorder.assertNoBlockedEventLoops();
    }

    @Test
    void vertxTestContextWorksAsWithVertxExtension(Vertx vertx, VertxTestContext ctx) {
        var ticks = ctx.checkpoint(3);
        vertx.setPeriodic(10, id -> ticks.flag());
    }

    @Test
    void beforeEachAndTheTestShareOneVertx(Vertx vertx) {
        assertThat(vertx).isSameAs(vertxFromBeforeEach);
    }

    @Test
    void aVertxBuiltByTheTestCanBeWatchedToo() throws Exception {
        Vertx own = Vertx.vertx(BlockedEventLoopExtension.vertxOptions());
        try {
            Recorder recorder = Recorder.attachTo(own);
            sleepOnEventLoop(own, BLOCK_MS);

            assertThatThrownBy(recorder::assertNoBlockedEventLoops).isInstanceOf(AssertionError.class);
            recorder.assertNoBlockedEventLoops();
        } finally {
            own.close().await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Test
    void theFailureMessageListsEveryBlock() {
        List<Block> blocks = List.of(
                new Block("vert.x-eventloop-thread-0", 480, 200,
                        List.of(new StackTraceElement("io.runnel.log.Log", "append", "Log.java", 42))),
                new Block("vert.x-eventloop-thread-3", 250, 200, List.of()));

        assertThatThrownBy(() -> Recorder.failIfBlocked(blocks))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("blocked 2 times")
                .hasMessageContaining("vert.x-eventloop-thread-0 blocked for at least 480 ms (limit 200 ms)")
                .hasMessageContaining("at io.runnel.log.Log.append(Log.java:42)")
                .hasMessageContaining("vert.x-eventloop-thread-3 blocked for at least 250 ms");
        Recorder.failIfBlocked(List.of());
    }

    /** Runs a sleep on one of {@code vertx}'s event loops and waits for it to end. */
    private static void sleepOnEventLoop(Vertx vertx, long ms) throws Exception {
        Promise<Void> done = Promise.promise();
        vertx.runOnContext(v -> {
            sleep(ms);
            done.complete();
        });
        done.future().await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}

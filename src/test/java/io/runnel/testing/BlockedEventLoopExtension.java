package io.runnel.testing;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.impl.VertxThread;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.internal.logging.Logger;
import io.vertx.core.internal.logging.LoggerFactory;
import io.vertx.core.internal.threadchecker.BlockedThreadChecker;
import io.vertx.core.internal.threadchecker.BlockedThreadEvent;
import io.vertx.junit5.VertxExtension;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.DynamicTestInvocationContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.InvocationInterceptor;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.ReflectiveInvocationContext;

/**
 * Fails a test during which a Vert.x event loop was blocked for longer than
 * {@value #EVENT_LOOP_LIMIT_MS} ms — DESIGN.md's "never block an event loop", enforced.
 *
 * <h2>Use</h2>
 * Register it <em>instead of</em> vertx-junit5's {@link VertxExtension}; it gives the same
 * parameters ({@code Vertx}, {@code VertxTestContext}) with the same lifecycle, but the
 * {@code Vertx} it injects runs with a tight blocked-thread checker:
 * <pre>{@code
 * @ExtendWith(BlockedEventLoopExtension.class)
 * @Timeout(value = 10, timeUnit = TimeUnit.SECONDS)
 * class PartitionVerticleTest {
 *     @Test
 *     void appends(Vertx vertx, VertxTestContext ctx) {
 *         vertx.deployVerticle(new PartitionVerticle(...))
 *             .onComplete(ctx.succeeding(id -> ctx.completeNow()));
 *     }
 * }
 * }</pre>
 * Registering both extensions makes JUnit refuse the {@code Vertx} parameter ("competing
 * ParameterResolvers"): this one already delegates everything else to a {@link VertxExtension}.
 * A test may also take a {@link Recorder} parameter to look at (or {@link Recorder#drainBlocks()
 * accept}) the blocks of its {@code Vertx}.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>The injected {@code Vertx} has {@link #vertxOptions()}: the checker runs every
 *       {@value #CHECK_INTERVAL_MS} ms and flags an event-loop task running longer than
 *       {@value #EVENT_LOOP_LIMIT_MS} ms. A block is certain to be caught once it lasts
 *       {@code EVENT_LOOP_LIMIT_MS + CHECK_INTERVAL_MS}; a shorter one may slip through.</li>
 *   <li>Scope follows vertx-junit5: a {@code Vertx} first asked for in {@code @BeforeAll} is
 *       shared by the class's tests and closed after them; otherwise each test gets its own,
 *       shared with its {@code @BeforeEach}/{@code @AfterEach} methods and closed after it.</li>
 *   <li>After each test (after its {@code @AfterEach} methods) the extension runs a no-op on
 *       every event loop, waits for them (at most {@link #SETTLE_TIMEOUT}) and then one more
 *       check interval, so a block still in progress when the test returned is seen; then it
 *       fails the test if any block was recorded and not drained. With a class-scoped
 *       {@code Vertx} each check covers what happened since the one before, and a last check
 *       after {@code @AfterAll} fails the class.</li>
 *   <li>A block caught while the thread loads, defines or initialises a class (lambda classes
 *       and annotations read on first use included) is logged, not failed: the JVM does that once
 *       per class, and only a busy machine makes it slow. So is one whose thread
 *       is found back in its IO wait: the long task is over and cannot be named.</li>
 *   <li>Only event-loop threads count. Worker threads ({@code executeBlocking}, worker
 *       verticles) keep Vert.x's default limit and are logged, not failed.</li>
 *   <li>A {@code Vertx} a test builds itself is not watched unless it is built from
 *       {@link #vertxOptions()} and handed to {@link Recorder#attachTo(Vertx)}, whose
 *       {@link Recorder#assertNoBlockedEventLoops()} the test then calls (clusters, for example).</li>
 * </ul>
 *
 * <h2>Threading</h2>
 * JUnit calls the extension on the test's thread. A {@link Recorder} is fed from Vert.x's
 * checker timer thread ({@code vertx-blocked-thread-checker}) and read from the test's thread;
 * it is thread-safe.
 *
 * <h2>How it hooks in</h2>
 * Each {@code Vertx} owns a {@link BlockedThreadChecker}; the recorder replaces its handler
 * through {@code VertxInternal.blockedThreadChecker().setThreadBlockedHandler}. Capturing the
 * checker's log output instead would depend on the logging backend: Vert.x picks SLF4J whenever
 * it is on the classpath (here slf4j-simple, which writes to stderr), so a JUL handler on the
 * {@value BlockedThreadChecker#LOGGER_NAME} logger would never see it. The recorder logs each
 * block once, with its stack, to that same logger, so the output a developer sees is unchanged.
 */
public final class BlockedEventLoopExtension
        implements ParameterResolver, InvocationInterceptor, AfterEachCallback, AfterAllCallback {

    /** How often the checker looks: a fifth of the limit, so detection lags a block by little. */
    public static final long CHECK_INTERVAL_MS = 100;
    /**
     * Longest an event-loop task may run. Four times below Vert.x's default (2 s): no partition
     * task should come near it. It was 200 ms, and on the 2-core CI machine, with a whole suite
     * running, first-use class loading, a young GC and the interpreter took single event-loop
     * tasks to 212-382 ms (four failed runs, each in different code); blocking I/O, which this is
     * here to catch, is slower than that.
     */
    public static final long EVENT_LOOP_LIMIT_MS = 500;
    /** How long the after-test check waits for every event loop to run a no-op. */
    public static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(10);
    /** How long closing an injected {@code Vertx} may take; vertx-junit5 allows the same. */
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(BlockedEventLoopExtension.class);
    private static final String WATCHED_VERTX_KEY = "watchedVertx";

    /** Handles {@code VertxTestContext} and the waiting on it, exactly as when used alone. */
    private final VertxExtension vertxExtension = new VertxExtension();

    /** Options for a {@code Vertx} whose blocked event loops a {@link Recorder} can catch. */
    public static VertxOptions vertxOptions() {
        return new VertxOptions()
                .setBlockedThreadCheckInterval(CHECK_INTERVAL_MS)
                .setBlockedThreadCheckIntervalUnit(TimeUnit.MILLISECONDS)
                .setMaxEventLoopExecuteTime(EVENT_LOOP_LIMIT_MS)
                .setMaxEventLoopExecuteTimeUnit(TimeUnit.MILLISECONDS);
    }

    // ---- parameters -------------------------------------------------------------------------

    @Override
    public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        Class<?> type = parameterContext.getParameter().getType();
        return type == Vertx.class || type == Recorder.class
                || vertxExtension.supportsParameter(parameterContext, extensionContext);
    }

    @Override
    public Object resolveParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        Class<?> type = parameterContext.getParameter().getType();
        if (type == Vertx.class) {
            return watchedVertx(extensionContext).vertx;
        }
        if (type == Recorder.class) {
            return watchedVertx(extensionContext).recorder;
        }
        return vertxExtension.resolveParameter(parameterContext, extensionContext);
    }

    /** The {@code Vertx} of this context or an enclosing one (a class's, from {@code @BeforeAll}). */
    private static WatchedVertx watchedVertx(ExtensionContext context) {
        // The store looks in the parent contexts' stores first; a new instance lands in this one.
        return context.getStore(NAMESPACE)
                .getOrComputeIfAbsent(WATCHED_VERTX_KEY, key -> WatchedVertx.start(), WatchedVertx.class);
    }

    // ---- the check --------------------------------------------------------------------------

    @Override
    public void afterEach(ExtensionContext context) {
        WatchedVertx watched = context.getStore(NAMESPACE).get(WATCHED_VERTX_KEY, WatchedVertx.class);
        if (watched != null) {
            watched.recorder.assertNoBlockedEventLoops();
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        afterEach(context);
    }

    /** The {@code Vertx} this extension made for one scope; JUnit closes it with the scope. */
    private static final class WatchedVertx implements ExtensionContext.Store.CloseableResource {
        final Vertx vertx;
        final Recorder recorder;

        private WatchedVertx(Vertx vertx, Recorder recorder) {
            this.vertx = vertx;
            this.recorder = recorder;
        }

        static WatchedVertx start() {
            Vertx vertx = Vertx.vertx(vertxOptions());
            return new WatchedVertx(vertx, Recorder.attachTo(vertx));
        }

        @Override
        public void close() throws Exception {
            vertx.close().await(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    // ---- VertxTestContext handling: vertx-junit5's, unchanged -------------------------------

    @Override
    public void interceptBeforeAllMethod(Invocation<Void> invocation,
            ReflectiveInvocationContext<Method> invocationContext, ExtensionContext extensionContext) throws Throwable {
        vertxExtension.interceptBeforeAllMethod(invocation, invocationContext, extensionContext);
    }

    @Override
    public void interceptBeforeEachMethod(Invocation<Void> invocation,
            ReflectiveInvocationContext<Method> invocationContext, ExtensionContext extensionContext) throws Throwable {
        vertxExtension.interceptBeforeEachMethod(invocation, invocationContext, extensionContext);
    }

    @Override
    public void interceptTestMethod(Invocation<Void> invocation,
            ReflectiveInvocationContext<Method> invocationContext, ExtensionContext extensionContext) throws Throwable {
        vertxExtension.interceptTestMethod(invocation, invocationContext, extensionContext);
    }

    @Override
    public void interceptTestTemplateMethod(Invocation<Void> invocation,
            ReflectiveInvocationContext<Method> invocationContext, ExtensionContext extensionContext) throws Throwable {
        vertxExtension.interceptTestTemplateMethod(invocation, invocationContext, extensionContext);
    }

    @Override
    public void interceptDynamicTest(Invocation<Void> invocation,
            DynamicTestInvocationContext invocationContext, ExtensionContext extensionContext) throws Throwable {
        vertxExtension.interceptDynamicTest(invocation, invocationContext, extensionContext);
    }

    @Override
    public void interceptAfterEachMethod(Invocation<Void> invocation,
            ReflectiveInvocationContext<Method> invocationContext, ExtensionContext extensionContext) throws Throwable {
        vertxExtension.interceptAfterEachMethod(invocation, invocationContext, extensionContext);
    }

    @Override
    public void interceptAfterAllMethod(Invocation<Void> invocation,
            ReflectiveInvocationContext<Method> invocationContext, ExtensionContext extensionContext) throws Throwable {
        vertxExtension.interceptAfterAllMethod(invocation, invocationContext, extensionContext);
    }

    // ---- the recorder -----------------------------------------------------------------------

    /**
     * One event loop found running a single task for longer than its limit.
     *
     * @param threadName the event loop's thread
     * @param blockedMs the longest the checker saw this task running (a lower bound of the block)
     * @param limitMs the thread's limit
     * @param stack where the thread was when the block was first seen
     */
    public record Block(String threadName, long blockedMs, long limitMs, List<StackTraceElement> stack) {

        @Override
        public String toString() {
            StringBuilder text = new StringBuilder()
                    .append(threadName).append(" blocked for at least ").append(blockedMs)
                    .append(" ms (limit ").append(limitMs).append(" ms), at:");
            for (StackTraceElement frame : stack) {
                text.append("\n\tat ").append(frame);
            }
            return text.toString();
        }
    }

    /**
     * Collects the event-loop blocks that one {@code Vertx}'s {@link BlockedThreadChecker} reports.
     *
     * <p>The checker reports a block again on every check while it lasts, with a growing
     * duration; the recorder folds those reports into one {@link Block} per task run, keyed by
     * thread and the task's start time (now minus the duration). Worker threads are logged, not
     * recorded. Thread-safe: fed from the checker's timer thread, read from any thread.
     */
    public static final class Recorder {

        private static final Logger LOG = LoggerFactory.getLogger(BlockedThreadChecker.LOGGER_NAME);
        /**
         * Two reports belong to the same task run when their implied start times differ by less
         * than this. Two separate runs start at least the limit apart (the first must last that
         * long to be reported), so anything below the limit separates them.
         */
        private static final long SAME_BLOCK_TOLERANCE_NANOS = TimeUnit.MILLISECONDS.toNanos(EVENT_LOOP_LIMIT_MS / 2);

        /** Drained blocks remembered, so a late report of one is not counted again. */
        private static final int DRAINED_KEPT_MAX = 64;

        private final Vertx vertx;
        /** Every block not yet forgotten, drained or not, oldest first; guarded by this. */
        private final List<OpenBlock> blocks = new ArrayList<>();

        private Recorder(Vertx vertx) {
            this.vertx = vertx;
        }

        /**
         * Starts recording {@code vertx}'s blocked event loops. Replaces the checker's handler
         * (Vert.x's default only logs; this one logs too). Build {@code vertx} from
         * {@link BlockedEventLoopExtension#vertxOptions()} for the tight limit.
         */
        public static Recorder attachTo(Vertx vertx) {
            Recorder recorder = new Recorder(vertx);
            ((VertxInternal) vertx).blockedThreadChecker().setThreadBlockedHandler(recorder::onBlocked);
            return recorder;
        }

        /** The blocks recorded and not yet drained, oldest first. */
        public synchronized List<Block> blocks() {
            return blocks.stream().filter(b -> !b.drained).map(OpenBlock::toBlock).toList();
        }

        /**
         * Returns the blocks recorded so far and forgets them — how a test accepts a block it
         * caused on purpose. A later report of a drained block stays drained. Call
         * {@link #awaitEventLoopsIdle(Duration)} first to include a block still in progress.
         */
        public synchronized List<Block> drainBlocks() {
            List<Block> drained = blocks();
            blocks.forEach(b -> b.drained = true);
            // All are drained now; remember the newest few, which a late report could still name.
            while (blocks.size() > DRAINED_KEPT_MAX) {
                blocks.remove(0);
            }
            return drained;
        }

        /**
         * Runs a no-op on every event loop of the {@code Vertx} and waits until all have run it,
         * so any task that was running has ended and, if it ran too long, been reported. Returns
         * false if some loop did not get to it within {@code timeout}. Call from a thread that is
         * not one of the event loops. A closed {@code Vertx} has no loops to wait for.
         *
         * <p>The checker works out its reports under its lock but hands them over after releasing
         * it, so a report computed just before a loop went idle can arrive just after. Waiting one
         * more check interval once the loops are idle lets it land.
         */
        public boolean awaitEventLoopsIdle(Duration timeout) {
            long deadlineNanos = System.nanoTime() + timeout.toNanos();
            List<Future<?>> noOps = new ArrayList<>();
            for (EventExecutor loop : ((VertxInternal) vertx).nettyEventLoopGroup()) {
                try {
                    noOps.add(loop.submit(() -> { }));
                } catch (RejectedExecutionException closed) {
                    // The loop is shutting down with its Vertx: nothing more will run on it.
                }
            }
            for (Future<?> noOp : noOps) {
                long leftNanos = deadlineNanos - System.nanoTime();
                if (!noOp.awaitUninterruptibly(Math.max(0, leftNanos), TimeUnit.NANOSECONDS)) {
                    return false;
                }
            }
            if (!noOps.isEmpty()) {
                sleepUninterruptibly(CHECK_INTERVAL_MS);
            }
            return true;
        }

        private static void sleepUninterruptibly(long ms) {
            long deadlineNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
            boolean interrupted = false;
            long leftNanos;
            while ((leftNanos = deadlineNanos - System.nanoTime()) > 0) {
                try {
                    TimeUnit.NANOSECONDS.sleep(leftNanos);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        /**
         * Waits for the event loops to settle, then throws an {@link AssertionError} listing every
         * block recorded and not drained (and forgets them), or if some loop is still busy after
         * {@link BlockedEventLoopExtension#SETTLE_TIMEOUT}.
         */
        public void assertNoBlockedEventLoops() {
            boolean idle = awaitEventLoopsIdle(SETTLE_TIMEOUT);
            failIfBlocked(drainBlocks());
            if (!idle) {
                throw new AssertionError("a Vert.x event loop was still busy " + SETTLE_TIMEOUT.toSeconds()
                        + " s after the test ended: something blocks it (a deadlock, an endless loop?)");
            }
        }

        /** Throws an {@link AssertionError} naming each block; does nothing for none. */
        static void failIfBlocked(List<Block> blocks) {
            if (blocks.isEmpty()) {
                return;
            }
            StringBuilder message = new StringBuilder()
                    .append("a Vert.x event loop was blocked ").append(blocks.size())
                    .append(blocks.size() == 1 ? " time" : " times")
                    .append(" (blocking work belongs on a worker: executeBlocking or a WorkerExecutor):");
            for (Block block : blocks) {
                message.append("\n").append(block);
            }
            throw new AssertionError(message.toString());
        }

        private void onBlocked(BlockedThreadEvent event) {
            Thread thread = event.thread();
            long blockedMs = TimeUnit.NANOSECONDS.toMillis(event.duration());
            long limitMs = TimeUnit.NANOSECONDS.toMillis(event.maxExecTime());
            if (thread instanceof VertxThread vertxThread && vertxThread.isWorker()) {
                LOG.warn("Thread " + thread.getName() + " has been blocked for " + blockedMs
                        + " ms, time limit is " + limitMs + " ms");
                return;
            }
            long startNanos = System.nanoTime() - event.duration();
            // Taken while the thread is still blocked: it shows where.
            StackTraceElement[] stack = thread.getStackTrace();
            if (isIdle(stack)) {
                // By the time the stack was taken the loop was back waiting for IO: the task that ran
                // long had ended, so there is nothing to point at (a GC pause or a starved CPU looks the same).
                LOG.warn("Thread " + thread.getName() + " ran a task for " + blockedMs + " ms, gone before it was seen");
                return;
            }
            if (isLoadingClasses(stack)) {
                // The JVM's one-time class loading and initialisation, slow only on a busy machine:
                // no code of ours can move it off the loop, and it cannot recur once loaded.
                LOG.warn("Thread " + thread.getName() + " was held " + blockedMs + " ms by class loading; not counted");
                return;
            }
            boolean first;
            synchronized (this) {
                first = record(thread.getName(), startNanos, blockedMs, limitMs, stack);
            }
            if (first) {
                Exception where = new Exception("Thread blocked");
                where.setStackTrace(stack);
                LOG.warn("Thread " + thread.getName() + " has been blocked for " + blockedMs
                        + " ms, time limit is " + limitMs + " ms", where);
            }
        }

        /** Whether the thread is waiting for IO, its idle state (the top frame is the selector's wait). */
        static boolean isIdle(StackTraceElement[] stack) {
            return stack.length > 0 && (stack[0].getMethodName().equals("wait") || stack[0].getMethodName().equals("epollWait"))
                    && stack[0].getClassName().startsWith("sun.nio.ch.");
        }

        /** Whether the blocked thread is caught loading or initialising a class. */
        static boolean isLoadingClasses(StackTraceElement[] stack) {
            for (StackTraceElement frame : stack) {
                String method = frame.getMethodName();
                String type = frame.getClassName();
                if (method.equals("<clinit>") || method.startsWith("defineClass") || method.equals("defineHiddenClass")
                        || (type.equals("java.lang.ClassLoader") && method.equals("loadClass"))
                        // lambdas and method handles spun up on first use, annotations read on first use
                        || type.startsWith("java.lang.invoke.InnerClassLambdaMetafactory")
                        || type.startsWith("sun.reflect.annotation.")) {
                    return true;
                }
            }
            return false;
        }


        /** Folds a report into its block, drained or not; returns true if it is a new one. Holds the lock. */
        private boolean record(String threadName, long startNanos, long blockedMs, long limitMs,
                StackTraceElement[] stack) {
            for (OpenBlock open : blocks) {
                if (open.threadName.equals(threadName)
                        && Math.abs(open.startNanos - startNanos) < SAME_BLOCK_TOLERANCE_NANOS) {
                    open.blockedMs = Math.max(open.blockedMs, blockedMs);
                    return false;
                }
            }
            blocks.add(new OpenBlock(threadName, startNanos, blockedMs, limitMs, List.of(stack)));
            return true;
        }

        /** A block still being reported; guarded by the recorder's lock. */
        private static final class OpenBlock {
            final String threadName;
            final long startNanos;
            final long limitMs;
            final List<StackTraceElement> stack;
            long blockedMs;
            boolean drained;

            OpenBlock(String threadName, long startNanos, long blockedMs, long limitMs, List<StackTraceElement> stack) {
                this.threadName = threadName;
                this.startNanos = startNanos;
                this.blockedMs = blockedMs;
                this.limitMs = limitMs;
                this.stack = stack;
            }

            Block toBlock() {
                return new Block(threadName, blockedMs, limitMs, stack);
            }
        }
    }
}

package io.runnel.log;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/**
 * Group commit: one thread that runs the fsyncs of many logs in rounds. Requests that arrive
 * while a round runs wait for the next one and share it, so under load one fsync per file covers
 * every append made since the previous round, whichever partition it went to.
 *
 * <p>Protocol: the log's owner calls {@link Log#prepareFlush()} and {@link #submit} with an
 * {@code owner} executor that runs on the log's thread (for Vert.x:
 * {@code r -> context.runOnContext(v -> r.run())}). The fsync runs here; then, on the owner,
 * {@link Log#completeFlush} records the new durable offset and the callback receives it (or the
 * I/O error, after which the log must be treated as failed: an fsync error may have lost data).
 *
 * <p>Invariants: at most one round runs at a time; a log's tasks in one round are merged into the
 * one with the highest target (a later task covers an earlier one of the same log); every
 * submitted callback is called exactly once, on its owner. Thread-safe.
 */
public final class GroupCommitFlusher implements AutoCloseable {

    private record Request(FlushTask task, java.util.concurrent.Executor owner, BiConsumer<Long, Throwable> onDurable) {
    }

    private final java.util.concurrent.Executor thread;
    private final ExecutorService ownedThread;
    private final Object lock = new Object();
    private List<Request> queued = new ArrayList<>();
    private boolean roundScheduled;
    private final AtomicLong rounds = new AtomicLong();
    private final AtomicLong fsyncedTasks = new AtomicLong();

    public GroupCommitFlusher() {
        this.ownedThread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "runnel-group-commit");
            t.setDaemon(true);
            return t;
        });
        this.thread = ownedThread;
    }

    /** Runs rounds on {@code fsyncExecutor}, which must run one task at a time (tests drive it by hand). */
    GroupCommitFlusher(java.util.concurrent.Executor fsyncExecutor) {
        this.ownedThread = null;
        this.thread = fsyncExecutor;
    }

    /** Queues {@code task}; {@code onDurable} gets the log's durable offset on {@code owner} once it ran. */
    public void submit(FlushTask task, java.util.concurrent.Executor owner, BiConsumer<Long, Throwable> onDurable) {
        synchronized (lock) {
            queued.add(new Request(task, owner, onDurable));
            if (roundScheduled) {
                return;
            }
            roundScheduled = true;
        }
        thread.execute(this::runRounds);
    }

    private void runRounds() {
        while (true) {
            List<Request> round;
            synchronized (lock) {
                if (queued.isEmpty()) {
                    roundScheduled = false;
                    return;
                }
                round = queued;
                queued = new ArrayList<>();
            }
            runRound(round);
        }
    }

    private void runRound(List<Request> round) {
        rounds.incrementAndGet();
        Map<Log, FlushTask> widest = new IdentityHashMap<>();
        for (Request r : round) {
            widest.merge(r.task().log(), r.task(), (a, b) -> a.targetOffset() >= b.targetOffset() ? a : b);
        }
        Map<Log, Throwable> failures = new IdentityHashMap<>();
        for (Map.Entry<Log, FlushTask> e : widest.entrySet()) {
            try {
                e.getValue().run();
                fsyncedTasks.incrementAndGet();
            } catch (Throwable t) {
                failures.put(e.getKey(), t);
            }
        }
        for (Request r : round) {
            Log log = r.task().log();
            Throwable failure = failures.get(log);
            FlushTask done = widest.get(log);
            r.owner().execute(() -> {
                if (failure != null) {
                    r.onDurable().accept(null, failure);
                } else {
                    r.onDurable().accept(log.completeFlush(done), null);
                }
            });
        }
    }

    /** Rounds run so far (for metrics and tests). */
    public long rounds() {
        return rounds.get();
    }

    /** Log fsync passes run so far: at most one per log per round. */
    public long fsyncedTasks() {
        return fsyncedTasks.get();
    }

    /** Runs what is queued, then stops the thread. */
    @Override
    public void close() throws InterruptedException {
        if (ownedThread == null) {
            return;
        }
        ownedThread.shutdown();
        if (!ownedThread.awaitTermination(30, TimeUnit.SECONDS)) {
            ownedThread.shutdownNow();
        }
    }
}

package io.runnel.bench;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Group commit as the broker does it, for one writer: the owner thread writes; at most every
 * {@code intervalNs} it prepares a flush task and hands it to a dedicated flusher thread, which
 * runs the blocking fsync; the owner collects the finished task on a later {@link #poll()} and
 * completes it. At most one flush is in flight, so when an fsync takes longer than the interval
 * the next one starts as soon as the owner sees the last one done.
 *
 * <p>Threading: {@link #poll()}, {@link #drain()} and {@link #close()} run on the owner only;
 * {@code prepare} and {@code complete} therefore run on the owner, {@code run} on the flusher.
 * The owner never blocks here except in {@link #drain()}.
 *
 * @param <T> the flush task ({@link io.runnel.log.FlushTask} for the log, a list of channels for
 *            the raw baseline)
 */
final class GroupCommit<T> implements AutoCloseable {

    /** The blocking part of a flush, run on the flusher thread. */
    interface Fsync<T> {
        void run(T task) throws Exception;
    }

    private final long intervalNs;
    private final Supplier<T> prepare;
    private final Fsync<T> fsync;
    private final Consumer<T> complete;
    private final ExecutorService flusher = worker("bench-flusher");
    private Future<?> inFlight;
    private T task;
    private long lastStartNs = System.nanoTime();

    /**
     * @param prepare  on the owner: the task covering everything written so far, or null if
     *                 there is nothing to flush
     * @param fsync    on the flusher: the blocking fsync
     * @param complete on the owner: record that the task ran
     */
    GroupCommit(long intervalNs, Supplier<T> prepare, Fsync<T> fsync, Consumer<T> complete) {
        this.intervalNs = intervalNs;
        this.prepare = prepare;
        this.fsync = fsync;
        this.complete = complete;
    }

    /** Owner, after each write: completes a finished flush and starts the next when due. Returns flushes completed (0 or 1). */
    int poll() throws Exception {
        int completed = 0;
        if (inFlight != null && inFlight.isDone()) {
            finishInFlight();
            completed = 1;
        }
        if (inFlight == null) {
            long now = System.nanoTime();
            if (now - lastStartNs >= intervalNs) {
                lastStartNs = now;
                T t = prepare.get();
                if (t != null) {
                    task = t;
                    inFlight = flusher.submit(() -> {
                        fsync.run(t);
                        return null;
                    });
                }
            }
        }
        return completed;
    }

    /** Owner: waits for the flush in flight, if any, and completes it. */
    void drain() throws Exception {
        if (inFlight != null) {
            finishInFlight();
        }
    }

    private void finishInFlight() throws InterruptedException, ExecutionException {
        try {
            inFlight.get();
        } finally {
            inFlight = null;
        }
        complete.accept(task);
        task = null;
    }

    @Override
    public void close() throws Exception {
        try {
            drain();
        } finally {
            shutdown(flusher);
        }
    }

    /** A single named daemon thread, for the flusher and for file deletions. */
    static ExecutorService worker(String name) {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    static void shutdown(ExecutorService executor) throws InterruptedException {
        executor.shutdown();
        if (!executor.awaitTermination(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("Benchmark worker did not finish within 60 s");
        }
    }
}

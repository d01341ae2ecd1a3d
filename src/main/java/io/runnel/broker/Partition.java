package io.runnel.broker;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.record.MemoryRecords;

import io.runnel.config.LogConfig;
import io.runnel.log.CompactionTask;
import io.runnel.log.FetchSlice;
import io.runnel.log.FlushTask;
import io.runnel.log.GroupCommitFlusher;
import io.runnel.log.Log;
import io.runnel.log.LogAppendInfo;
import io.runnel.log.SegmentDeletion;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;

/**
 * One partition on this broker: its {@link Log}, pinned to one Vert.x context ("a partition
 * belongs to one event loop"). Every use of the log runs on that context, so the log needs no
 * locks; fsync, retention's file deletion, compaction and close run on a worker and hand their
 * results back here.
 *
 * <p>Appends: requests that arrive in one turn of the event loop are appended together with
 * {@link Log#appendAll} (one write for all of them), each answered on its own. An append is
 * acknowledged per {@link Acks}: {@code NONE} at once, {@code LEADER} once written to the page
 * cache, {@code ALL} once durable (on a single node, the ISR is this broker, and in durable mode
 * its copy must be fsynced).
 *
 * <p>High watermark (single node): with {@code durableAcks} it follows the durable offset, so a
 * consumer never sees a record a crash could take back; without it, it follows the log end.
 * Fetches that wait for data (long poll) are woken when it moves — no polling.
 *
 * <p>Invariants: {@code logStartOffset <= highWatermark <= durable or log end offset}; a waiter
 * is completed exactly once (by data, timeout or close). Public methods may be called from any
 * thread; they hop onto the partition's context.
 *
 * <p>For metrics, the log's size and segment count are published in volatile fields after every
 * append turn and maintenance pass, so any thread may read them without touching the log.
 */
public final class Partition {

    /** How much acknowledgement a producer asked for (Kafka's acks 0, 1, -1/all). */
    public enum Acks { NONE, LEADER, ALL }

    /** What a read found, with the offsets the fetch response reports. */
    public record ReadResult(FetchSlice slice, long highWatermark, long logStartOffset, long logEndOffset) {
    }

    private record PendingAppend(MemoryRecords records, Acks acks, Promise<LogAppendInfo> promise) {
    }

    private record DurableWaiter(long offset, Promise<Void> promise) {
    }

    private record FetchWaiter(long offset, Promise<Void> promise, long timerId) {
    }

    private final String name;
    private final Vertx vertx;
    private final Context context;
    private final Log log;
    private final GroupCommitFlusher flusher;
    private final WorkerExecutor worker;
    private final boolean durableAcks;
    private final int leaderEpoch;

    private List<PendingAppend> pending = new ArrayList<>();
    private final List<DurableWaiter> durableWaiters = new ArrayList<>();
    private final List<FetchWaiter> fetchWaiters = new ArrayList<>();
    private boolean flushInFlight;
    private boolean flushAgain;
    private boolean maintenanceRunning;
    private boolean closed;
    /** The log's size and segment count as last published on the context; read from any thread. */
    private volatile long logSizeBytes;
    private volatile int segmentCount;
    /** The high watermark as last published on the context, for lag gauges on other threads. */
    private volatile long publishedHighWatermark;

    private Partition(String name, Vertx vertx, Context context, Log log, GroupCommitFlusher flusher,
                      WorkerExecutor worker, boolean durableAcks, int leaderEpoch) {
        this.name = name;
        this.vertx = vertx;
        this.context = context;
        this.log = log;
        this.flusher = flusher;
        this.worker = worker;
        this.durableAcks = durableAcks;
        this.leaderEpoch = leaderEpoch;
        publishSizes();
    }

    /** Opens (recovering if needed) the log in {@code dir} on a worker and pins it to {@code context}. */
    public static Future<Partition> open(String name, Vertx vertx, Context context, Path dir, LogConfig config,
                                         GroupCommitFlusher flusher, WorkerExecutor worker, boolean durableAcks) {
        Promise<Partition> opened = Promise.promise();
        context.runOnContext(v -> worker.executeBlocking(() -> Log.open(dir, config, io.runnel.log.StorageIo.SYSTEM,
                        Clock.systemUTC()))
                .map(log -> new Partition(name, vertx, context, log, flusher, worker, durableAcks, 0))
                .onComplete(opened));
        return opened.future();
    }

    // ---------------------------------------------------------------- append

    /** Appends {@code records} (the buffer is modified: offsets are assigned in place). */
    public Future<LogAppendInfo> append(MemoryRecords records, Acks acks) {
        return onContext(() -> {
            if (closed) {
                return Future.failedFuture(new KafkaStorageException("Partition " + name + " is closed"));
            }
            Promise<LogAppendInfo> promise = Promise.promise();
            if (pending.isEmpty()) {
                // Everything queued before this turn ends goes to disk in one write.
                context.runOnContext(v -> appendPending());
            }
            pending.add(new PendingAppend(records, acks, promise));
            return promise.future();
        });
    }

    private void appendPending() {
        List<PendingAppend> batch = pending;
        pending = new ArrayList<>();
        List<MemoryRecords> requests = new ArrayList<>(batch.size());
        for (PendingAppend p : batch) {
            requests.add(p.records());
        }
        List<Log.AppendOutcome> outcomes;
        try {
            outcomes = log.appendAll(requests, leaderEpoch);
        } catch (RuntimeException e) {
            batch.forEach(p -> p.promise().fail(e));
            return;
        }
        // The high watermark moves before anyone is answered, so an acknowledged record is readable.
        if (!durableAcks) {
            advanceHighWatermark(log.logEndOffset());
        }
        // In durable mode the high watermark follows the durable offset, so every append is flushed
        // (group commit amortises it); otherwise only acks=all waits, and flush.* decides the rest.
        boolean needFlush = durableAcks && outcomes.stream().anyMatch(o -> o.error() == null);
        for (int i = 0; i < batch.size(); i++) {
            PendingAppend p = batch.get(i);
            Log.AppendOutcome o = outcomes.get(i);
            if (o.error() != null) {
                p.promise().fail(o.error());
            } else if (p.acks() == Acks.ALL && durableAcks && log.durableOffset() <= o.info().lastOffset()) {
                Promise<Void> durable = Promise.promise();
                durableWaiters.add(new DurableWaiter(o.info().lastOffset(), durable));
                durable.future().map(x -> o.info()).onComplete(p.promise());
            } else {
                p.promise().complete(o.info());
            }
        }
        if (needFlush || log.shouldFlush()) {
            requestFlush();
        }
        publishSizes();
    }

    // ---------------------------------------------------------------- durability

    /** Asks the group-commit flusher to make everything appended so far durable. */
    private void requestFlush() {
        if (flushInFlight) {
            flushAgain = true;
            return;
        }
        FlushTask task = log.prepareFlush();
        if (task == null) {
            onDurable(log.durableOffset());
            return;
        }
        flushInFlight = true;
        flusher.submit(task, r -> context.runOnContext(v -> r.run()), (durableOffset, error) -> {
            flushInFlight = false;
            if (error != null) {
                failDurableWaiters(new KafkaStorageException("Flushing partition " + name + " failed", error));
                return;
            }
            onDurable(durableOffset);
            if (flushAgain) {
                flushAgain = false;
                requestFlush();
            }
        });
    }

    private void onDurable(long durableOffset) {
        if (durableAcks) {
            advanceHighWatermark(durableOffset);
        }
        // Completed after the list is updated: a completion may run code that adds a waiter.
        List<DurableWaiter> done = new ArrayList<>();
        durableWaiters.removeIf(w -> w.offset() < durableOffset && done.add(w));
        done.forEach(w -> w.promise().complete());
    }

    private void failDurableWaiters(Throwable error) {
        List<DurableWaiter> failed = new ArrayList<>(durableWaiters);
        durableWaiters.clear();
        failed.forEach(w -> w.promise().fail(error));
    }

    private void advanceHighWatermark(long offset) {
        long target = Math.min(offset, log.logEndOffset());
        if (target <= log.highWatermark()) {
            return;
        }
        log.updateHighWatermark(target);
        publishedHighWatermark = target;
        // Completed after the list is updated: a woken fetch may wait again at once.
        List<FetchWaiter> woken = new ArrayList<>();
        fetchWaiters.removeIf(w -> w.offset() < target && woken.add(w));
        woken.forEach(w -> {
            vertx.cancelTimer(w.timerId());
            w.promise().complete();
        });
    }

    // ---------------------------------------------------------------- read

    /** Whole batches from {@code offset} below the high watermark, up to {@code maxBytes} (at least one batch). */
    public Future<ReadResult> read(long offset, int maxBytes) {
        return onContext(() -> Future.succeededFuture(readNow(offset, maxBytes)));
    }

    /**
     * Like {@link #read}, but when nothing is available at {@code offset} yet, waits up to
     * {@code maxWaitMs} for the high watermark to pass it (long poll), then reads.
     */
    public Future<ReadResult> readWhenAvailable(long offset, int maxBytes, long maxWaitMs) {
        return onContext(() -> {
            if (closed) {
                // Closed (its topic deleted, or the broker stopping): nothing will wake a waiter, and
                // answering "nothing yet" at once would make a long poll spin until its deadline.
                return Future.failedFuture(new KafkaStorageException("Partition " + name + " is closed"));
            }
            if (offset < log.highWatermark() || maxWaitMs <= 0 || offset < log.logStartOffset()) {
                return Future.succeededFuture(readNow(offset, maxBytes));
            }
            Promise<Void> woken = Promise.promise();
            long[] timer = new long[1];
            timer[0] = vertx.setTimer(maxWaitMs, t -> {
                fetchWaiters.removeIf(w -> w.timerId() == timer[0]);
                woken.tryComplete();
            });
            fetchWaiters.add(new FetchWaiter(offset, woken, timer[0]));
            return woken.future().map(v -> readNow(offset, maxBytes));
        });
    }

    private ReadResult readNow(long offset, int maxBytes) {
        FetchSlice slice = log.read(offset, maxBytes, log.highWatermark());
        return new ReadResult(slice, log.highWatermark(), log.logStartOffset(), log.logEndOffset());
    }

    /** Kafka's special ListOffsets timestamps. */
    public static final long EARLIEST_TIMESTAMP = -2;
    public static final long LATEST_TIMESTAMP = -1;

    /**
     * ListOffsets: the log start offset for {@link #EARLIEST_TIMESTAMP}, the high watermark for
     * {@link #LATEST_TIMESTAMP}, else the first offset whose timestamp is at or after
     * {@code timestamp} (-1 when there is none, as Kafka answers).
     */
    /**
     * The first record at or after {@code timestamp} below the high watermark, with its own
     * timestamp (Kafka's ListOffsets by time answers both); empty when none is that recent.
     */
    public Future<java.util.Optional<io.runnel.log.TimestampOffset>> offsetForTimestamp(long timestamp) {
        return onContext(() -> Future.succeededFuture(log.offsetForTimestamp(timestamp)
                .filter(t -> t.offset() < log.highWatermark())));
    }

    public Future<Long> listOffset(long timestamp) {
        return onContext(() -> {
            if (timestamp == EARLIEST_TIMESTAMP) {
                return Future.succeededFuture(log.logStartOffset());
            }
            if (timestamp == LATEST_TIMESTAMP) {
                return Future.succeededFuture(log.highWatermark());
            }
            long found = log.offsetForTimestamp(timestamp).map(t -> t.offset()).orElse(-1L);
            return Future.succeededFuture(found >= log.highWatermark() ? -1L : found);
        });
    }

    /** DeleteRecords' "up to the high watermark". */
    public static final long HIGH_WATERMARK = -1;

    /**
     * DeleteRecords: makes {@code offset} ({@link #HIGH_WATERMARK} for the high watermark) the log
     * start offset, durably (the checkpoint is written before the answer), and returns the new log
     * start offset, Kafka's "low watermark". Readers below it get OFFSET_OUT_OF_RANGE at once;
     * segments wholly below it are deleted by the next maintenance pass.
     *
     * @throws org.apache.kafka.common.errors.OffsetOutOfRangeException past the high watermark or below -1
     */
    public Future<Long> deleteRecordsBefore(long offset) {
        return onContext(() -> {
            if (closed) {
                return Future.failedFuture(new KafkaStorageException("Partition " + name + " is closed"));
            }
            if (offset < HIGH_WATERMARK) {
                return Future.failedFuture(new org.apache.kafka.common.errors.OffsetOutOfRangeException(
                        "Cannot delete records before offset " + offset));
            }
            long lowWatermark = log.advanceLogStartOffset(offset == HIGH_WATERMARK ? log.highWatermark() : offset);
            if (!log.checkpointDirty()) {
                return Future.succeededFuture(lowWatermark);
            }
            return blocking(() -> {
                log.writeCheckpoint();
                return lowWatermark;
            });
        });
    }

    /** ListOffsets MAX_TIMESTAMP: the record with the largest timestamp below the high watermark, if any. */
    public Future<java.util.Optional<io.runnel.log.TimestampOffset>> offsetOfMaxTimestamp() {
        return onContext(() -> Future.succeededFuture(log.offsetOfMaxTimestamp()
                .filter(t -> t.offset() < log.highWatermark())));
    }

    /** DescribeProducers: the idempotent producers this partition's log keeps state for. */
    public Future<List<Log.ProducerSnapshot>> activeProducers() {
        return onContext(() -> Future.succeededFuture(log.activeProducers()));
    }

    // ---------------------------------------------------------------- maintenance

    /**
     * One round of housekeeping, for a periodic timer: flush if {@code flush.*} asks, apply
     * retention, run a compaction pass, write the checkpoint. Blocking parts run on the worker.
     */
    public Future<Void> maintain() {
        return onContext(() -> {
            if (closed || maintenanceRunning) {
                return Future.succeededFuture();
            }
            maintenanceRunning = true;
            if (log.shouldFlush()) {
                requestFlush();
            }
            SegmentDeletion deletion = log.applyRetention();
            Future<Void> deleted = deletion.isEmpty() ? Future.succeededFuture()
                    : blocking(() -> {
                        deletion.run();
                        return null;
                    });
            return deleted.compose(v -> compact()).compose(v -> log.checkpointDirty()
                            ? blocking(() -> {
                                log.writeCheckpoint();
                                return null;
                            })
                            : Future.<Void>succeededFuture())
                    .onComplete(r -> {
                        maintenanceRunning = false;
                        publishSizes();
                    });
        });
    }

    /** Flushes if {@code flush.messages} or {@code flush.ms} asks; cheap enough for a frequent timer. */
    public void flushIfDue() {
        onContext(() -> {
            if (!closed && log.shouldFlush()) {
                requestFlush();
            }
            return Future.succeededFuture();
        });
    }

    private Future<Void> compact() {
        CompactionTask task = log.prepareCompaction(64 << 20).orElse(null);
        if (task == null) {
            return Future.succeededFuture();
        }
        return blocking(task::run)
                .recover(error -> {
                    log.abortCompaction();
                    return Future.failedFuture(error);
                })
                .compose(result -> {
                    SegmentDeletion old = log.completeCompaction(result);
                    return blocking(() -> {
                        old.run();
                        return null;
                    });
                });
    }

    /** Applies a topic's new configuration to the log; it takes effect from the next append or pass. */
    public Future<Void> updateConfig(LogConfig config) {
        return onContext(() -> {
            log.updateConfig(config);
            return Future.succeededFuture();
        });
    }

    // ---------------------------------------------------------------- close

    /** Stops taking work, ends waiting fetches, flushes and closes the log cleanly (marker written). */
    public Future<Void> close() {
        return onContext(() -> {
            if (closed) {
                return Future.succeededFuture();
            }
            closed = true;
            List<FetchWaiter> waiting = new ArrayList<>(fetchWaiters);
            fetchWaiters.clear();
            waiting.forEach(w -> {
                vertx.cancelTimer(w.timerId());
                w.promise().tryComplete();
            });
            return blocking(() -> {
                log.close();
                return null;
            }).map(v -> {
                onDurable(Long.MAX_VALUE);
                return null;
            });
        });
    }

    // ---------------------------------------------------------------- plumbing

    public String name() {
        return name;
    }

    /** The log's bytes on disk as last published (any thread; may lag the log by one turn). */
    public long logSizeBytes() {
        return logSizeBytes;
    }

    /** The high watermark as last published (any thread; may lag the log by one turn). */
    public long highWatermarkPublished() {
        return publishedHighWatermark;
    }

    /** The log's segment count as last published (any thread; may lag the log by one turn). */
    public int segmentCount() {
        return segmentCount;
    }

    /** Publishes the log's size for other threads; on the context (or before the partition is shared). */
    private void publishSizes() {
        publishedHighWatermark = log.highWatermark();
        logSizeBytes = log.sizeInBytes();
        segmentCount = log.segmentCount();
    }

    /** The log, for tests and tools on the partition's context. */
    Log log() {
        return log;
    }

    private <T> Future<T> blocking(Callable<T> work) {
        return worker.executeBlocking(work, false);
    }

    /** Runs {@code action} on the partition's context and returns its result there. */
    private <T> Future<T> onContext(Supplier<Future<T>> action) {
        if (Vertx.currentContext() == context) {
            try {
                return action.get();
            } catch (RuntimeException e) {
                return Future.failedFuture(e);
            }
        }
        Promise<T> promise = Promise.promise();
        context.runOnContext(v -> {
            try {
                action.get().onComplete(promise);
            } catch (RuntimeException e) {
                promise.fail(e);
            }
        });
        return promise.future();
    }
}

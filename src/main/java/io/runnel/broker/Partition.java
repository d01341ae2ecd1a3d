package io.runnel.broker;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.errors.NotEnoughReplicasException;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.record.MemoryRecords;

import io.runnel.cluster.ReplicaProgress;
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
 * <p>In a cluster the partition has a {@link Role}. As leader it takes appends and serves its
 * followers' fetches ({@link #replicaRead}); the high watermark is the smallest log end offset in
 * the controller's ISR ({@link ReplicaProgress}), and {@code acks=all} completes when it passes
 * the append — replication stands in for fsync there, as in Kafka, since every ISR member holds
 * the records in its page cache. An {@code acks=all} append is refused with NOT_ENOUGH_REPLICAS
 * when fewer than {@code min.insync.replicas} ISR members are alive. As follower it refuses
 * appends and copies the leader's batches ({@link #appendAsFollower}), after cutting its log back
 * to where it agrees with the leader ({@link #truncateToLeader}). Role changes come from the
 * {@link ReplicaManager}; an epoch bump fails acks=all appends still waiting.
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

    /** Whether this broker takes appends for the partition or copies them from the leader. */
    public enum Role { LEADER, FOLLOWER }

    /**
     * What a read found, with the offsets the fetch response reports: below the high watermark for
     * a consumer's read, up to the log end for a follower's.
     */
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
    /** The epoch this broker leads (or follows) the partition in; 0 on a single node. */
    private int leaderEpoch;
    private Role role = Role.LEADER;
    /** The log end when this broker took the lead in {@link #leaderEpoch}: its high watermark is established once past it. */
    private long epochStartOffset;
    /** The followers' progress while this broker leads in a cluster; null on a single node (the ISR is this broker). */
    private ReplicaProgress progress;
    /** Whether a broker is alive, for min.insync.replicas: a dead follower still in the ISR does not count. */
    private java.util.function.IntPredicate live = id -> true;
    /** acks=all appends waiting for the ISR to have them (the high watermark to pass them). */
    private final List<DurableWaiter> replicationWaiters = new ArrayList<>();
    /** Followers' fetches waiting for the log end to move. */
    private final List<FetchWaiter> replicaWaiters = new ArrayList<>();

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
        return open(name, vertx, context, dir, config, flusher, worker, durableAcks, false);
    }

    /**
     * As above; with {@code following} (in a cluster) the partition starts as a follower of no one
     * in epoch -1, refusing appends until the cluster makes it leader.
     */
    public static Future<Partition> open(String name, Vertx vertx, Context context, Path dir, LogConfig config,
                                         GroupCommitFlusher flusher, WorkerExecutor worker, boolean durableAcks,
                                         boolean following) {
        Promise<Partition> opened = Promise.promise();
        context.runOnContext(v -> worker.executeBlocking(() -> Log.open(dir, config, io.runnel.log.StorageIo.SYSTEM,
                        Clock.systemUTC()))
                .map(log -> {
                    Partition p = new Partition(name, vertx, context, log, flusher, worker, durableAcks, following ? -1 : 0);
                    if (following) {
                        // Until a leader says how far the cluster committed, nothing is served as committed.
                        p.role = Role.FOLLOWER;
                        log.resetHighWatermark(log.logStartOffset());
                        p.publishSizes();
                    }
                    return p;
                })
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
            if (role != Role.LEADER) {
                return Future.failedFuture(new NotLeaderOrFollowerException("This broker does not lead " + name));
            }
            if (acks == Acks.ALL && progress != null && liveIsrSize() < log.config().minInsyncReplicas) {
                return Future.failedFuture(new NotEnoughReplicasException("Partition " + name + " has "
                        + liveIsrSize() + " live in-sync replicas, fewer than min.insync.replicas "
                        + log.config().minInsyncReplicas));
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
        if (role != Role.LEADER || closed) {
            // Leadership moved (or the partition closed) between the append being queued and this turn:
            // written here, the batch would land at offsets the new leader gives to others.
            Throwable refused = closed ? new KafkaStorageException("Partition " + name + " is closed")
                    : new NotLeaderOrFollowerException("This broker no longer leads " + name);
            batch.forEach(p -> p.promise().fail(refused));
            return;
        }
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
        if (progress != null) {
            advanceHighWatermark(progress.updateHighWatermark(log.logEndOffset()));
        } else if (!durableAcks) {
            advanceHighWatermark(log.logEndOffset());
        }
        wakeReplicaFetches();
        // In durable mode the high watermark follows the durable offset, so every append is flushed
        // (group commit amortises it); otherwise only acks=all waits, and flush.* decides the rest.
        boolean needFlush = durableAcks && outcomes.stream().anyMatch(o -> o.error() == null);
        for (int i = 0; i < batch.size(); i++) {
            PendingAppend p = batch.get(i);
            Log.AppendOutcome o = outcomes.get(i);
            if (o.error() != null) {
                p.promise().fail(o.error());
            } else if (p.acks() == Acks.ALL && progress != null && log.highWatermark() <= o.info().lastOffset()) {
                Promise<Void> replicated = Promise.promise();
                replicationWaiters.add(new DurableWaiter(o.info().lastOffset(), replicated));
                replicated.future().map(x -> o.info()).onComplete(p.promise());
            } else if (p.acks() == Acks.ALL && progress == null && durableAcks && log.durableOffset() <= o.info().lastOffset()) {
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
        List<DurableWaiter> replicated = new ArrayList<>();
        replicationWaiters.removeIf(w -> w.offset() < target && replicated.add(w));
        replicated.forEach(w -> w.promise().complete());
        if (progress != null) {
            // Followers serve reads too (HTTP, WebSocket and event bus consumers of any broker), up to
            // their high watermark: a waiting follower fetch returns to carry the new one.
            wakeReplicaFetches();
        }
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
                if (progress != null && log.highWatermark() < epochStartOffset) {
                    // A new leader's high watermark trails what its predecessor may have acknowledged
                    // until its followers report; an end offset now could go backwards (Kafka's rule).
                    return Future.failedFuture(new org.apache.kafka.common.errors.OffsetNotAvailableException(
                            "The new leader of " + name + " has not yet established its high watermark"));
                }
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

    // ---------------------------------------------------------------- replication

    /**
     * Makes this broker the partition's leader in {@code epoch}, with the controller's replicas and
     * ISR. Its high watermark starts where it stood as a follower and moves as followers report.
     */
    public Future<Void> becomeLeader(int localId, int epoch, List<Integer> replicas, List<Integer> isr,
                                     java.util.function.IntPredicate isLive) {
        return onContext(() -> {
            boolean sameTerm = role == Role.LEADER && leaderEpoch == epoch && progress != null;
            if (sameTerm) {
                progress.setIsr(isr);
            } else {
                role = Role.LEADER;
                leaderEpoch = epoch;
                epochStartOffset = log.logEndOffset();
                progress = new ReplicaProgress(localId, replicas, isr, log.highWatermark(), log.logEndOffset(),
                        System.currentTimeMillis());
            }
            live = isLive;
            advanceHighWatermark(progress.updateHighWatermark(log.logEndOffset()));
            return Future.succeededFuture();
        });
    }

    /**
     * Makes this broker a follower in {@code epoch}: appends are refused from now on, and acks=all
     * appends still waiting are failed (the producer retries at the new leader; an idempotent one
     * is deduplicated there).
     */
    public Future<Void> becomeFollower(int epoch) {
        return onContext(() -> {
            role = Role.FOLLOWER;
            leaderEpoch = epoch;
            progress = null;
            List<DurableWaiter> failed = new ArrayList<>(replicationWaiters);
            replicationWaiters.clear();
            failed.forEach(w -> w.promise().fail(new NotLeaderOrFollowerException(
                    "Leadership of " + name + " moved before the append was replicated")));
            wakeReplicaFetches();
            return Future.succeededFuture();
        });
    }

    public Future<Role> role() {
        return onContext(() -> Future.succeededFuture(role));
    }


    /**
     * A follower's fetch: records from {@code offset} up to the log end, waiting up to
     * {@code maxWaitMs} when there are none. The fetch offset is the follower's log end offset, so
     * it also moves the high watermark.
     *
     * @throws NotLeaderOrFollowerException this broker does not lead
     * @throws org.apache.kafka.common.errors.FencedLeaderEpochException the follower knows a newer epoch (this leader is stale)
     * @throws org.apache.kafka.common.errors.UnknownLeaderEpochException the follower has not seen this epoch yet
     */
    public Future<ReadResult> replicaRead(int replicaId, int replicaEpoch, long offset, int maxBytes, long maxWaitMs) {
        return onContext(() -> {
            Throwable refusal = replicaFetchRefusal(replicaId, replicaEpoch, offset);
            if (refusal != null) {
                return Future.failedFuture(refusal);
            }
            progress.onFollowerFetch(replicaId, offset, log.logEndOffset(), System.currentTimeMillis());
            advanceHighWatermark(progress.updateHighWatermark(log.logEndOffset()));
            if (offset < log.logEndOffset() || maxWaitMs <= 0) {
                return Future.succeededFuture(replicaReadNow(offset, maxBytes));
            }
            Promise<Void> woken = Promise.promise();
            long[] timer = new long[1];
            timer[0] = vertx.setTimer(maxWaitMs, t -> {
                replicaWaiters.removeIf(w -> w.timerId() == timer[0]);
                woken.tryComplete();
            });
            replicaWaiters.add(new FetchWaiter(offset, woken, timer[0]));
            return woken.future().compose(v -> {
                Throwable after = replicaFetchRefusal(replicaId, replicaEpoch, offset);
                return after != null ? Future.failedFuture(after) : Future.succeededFuture(replicaReadNow(offset, maxBytes));
            });
        });
    }

    private Throwable replicaFetchRefusal(int replicaId, int replicaEpoch, long offset) {
        if (closed) {
            return new KafkaStorageException("Partition " + name + " is closed");
        }
        if (role != Role.LEADER || progress == null) {
            return new NotLeaderOrFollowerException("This broker does not lead " + name);
        }
        if (!progress.isFollower(replicaId)) {
            // Reading past the high watermark is for the partition's own followers only.
            return new NotLeaderOrFollowerException("Broker " + replicaId + " holds no replica of " + name);
        }
        if (replicaEpoch > leaderEpoch) {
            return new org.apache.kafka.common.errors.FencedLeaderEpochException("Leader epoch " + leaderEpoch
                    + " of " + name + " is older than the follower's " + replicaEpoch);
        }
        if (replicaEpoch < leaderEpoch) {
            return new org.apache.kafka.common.errors.UnknownLeaderEpochException("The follower of " + name
                    + " is in epoch " + replicaEpoch + ", the leader in " + leaderEpoch);
        }
        if (offset > log.logEndOffset() || offset < log.logStartOffset()) {
            return new org.apache.kafka.common.errors.OffsetOutOfRangeException("Replica fetch offset " + offset
                    + " is outside [" + log.logStartOffset() + ", " + log.logEndOffset() + "] of " + name);
        }
        return null;
    }

    private ReadResult replicaReadNow(long offset, int maxBytes) {
        FetchSlice slice = log.read(offset, maxBytes, log.logEndOffset());
        return new ReadResult(slice, log.highWatermark(), log.logStartOffset(), log.logEndOffset());
    }

    private void wakeReplicaFetches() {
        if (replicaWaiters.isEmpty()) {
            return;
        }
        List<FetchWaiter> woken = new ArrayList<>(replicaWaiters);
        replicaWaiters.clear();
        woken.forEach(w -> {
            vertx.cancelTimer(w.timerId());
            w.promise().tryComplete();
        });
    }

    /**
     * A follower's append of what it fetched: offsets and epochs as the leader wrote them; its
     * high watermark follows the leader's, capped by its own log end.
     */
    public Future<Long> appendAsFollower(MemoryRecords records, long leaderHighWatermark, int fetchEpoch) {
        return onContext(() -> {
            if (closed) {
                return Future.failedFuture(new KafkaStorageException("Partition " + name + " is closed"));
            }
            if (role != Role.FOLLOWER || fetchEpoch != leaderEpoch) {
                // A fetch answered in an older epoch: its leader may have been deposed since.
                return Future.failedFuture(new org.apache.kafka.common.errors.FencedLeaderEpochException(
                        name + " follows in epoch " + leaderEpoch + ", the fetch was made in " + fetchEpoch));
            }
            if (records.sizeInBytes() > 0) {
                log.appendAsFollower(records);
                if (log.shouldFlush()) {
                    requestFlush();
                }
            }
            advanceHighWatermark(leaderHighWatermark);
            publishSizes();
            return Future.succeededFuture(log.logEndOffset());
        });
    }

    /** The follower's log end offset: where its next fetch starts. */
    public Future<Long> logEndOffset() {
        return onContext(() -> Future.succeededFuture(log.logEndOffset()));
    }

    /** The latest leader epoch in this log (-1 when it has none). */
    public Future<Integer> latestLogEpoch() {
        return onContext(() -> Future.succeededFuture(log.latestEpoch()));
    }

    /** OffsetForLeaderEpoch, answered from this log's epoch history. */
    public Future<io.runnel.log.EpochEndOffset> endOffsetForEpoch(int epoch) {
        return onContext(() -> Future.succeededFuture(log.endOffsetForEpoch(epoch)));
    }

    /**
     * A returning follower cuts its log back to where it agrees with the leader ({@code leaderAnswer}
     * is the leader's OffsetForLeaderEpoch answer for this log's latest epoch). Completes with
     * false when the cut is not final yet: the follower had an epoch the leader never had, and must
     * ask again with its (now earlier) latest epoch. Refused unless this broker still follows in
     * {@code fetchEpoch}: an answer arriving after its fetcher was replaced (this broker now leads,
     * or follows in a newer epoch and may hold committed records past that answer) must not cut
     * anything (ReplicationSimulationTest, seed 2).
     */
    public Future<Boolean> truncateToLeader(io.runnel.log.EpochEndOffset leaderAnswer, int fetchEpoch) {
        return onContext(() -> {
            if (closed) {
                return Future.failedFuture(new KafkaStorageException("Partition " + name + " is closed"));
            }
            if (role != Role.FOLLOWER || fetchEpoch != leaderEpoch) {
                return Future.failedFuture(new org.apache.kafka.common.errors.FencedLeaderEpochException(
                        name + " follows in epoch " + leaderEpoch + ", the truncation was asked in " + fetchEpoch));
            }
            Log.Truncation cut = log.truncationFor(leaderAnswer);
            if (cut.offset() >= log.logEndOffset()) {
                return Future.succeededFuture(cut.complete());
            }
            SegmentDeletion deletion = log.truncateTo(Math.max(cut.offset(), log.logStartOffset()));
            publishSizes();
            return blocking(() -> {
                deletion.run();
                return null;
            }).map(v -> cut.complete());
        });
    }

    /** The ISR the leader should ask the controller for now, or null. */
    public Future<List<Integer>> proposedIsr(long lagTimeMaxMs) {
        return onContext(() -> Future.succeededFuture(role != Role.LEADER || progress == null ? null
                : progress.proposedIsr(System.currentTimeMillis(), lagTimeMaxMs, log.logEndOffset())));
    }


    /** How far behind the leader's log end the slowest follower is, in offsets (0 when not leading). */
    public Future<Long> maxFollowerLag() {
        return onContext(() -> {
            if (progress == null) {
                return Future.succeededFuture(0L);
            }
            long end = log.logEndOffset();
            long lag = 0;
            for (int id : progress.isr()) {
                long followerEnd = progress.followerLogEnd(id);
                if (followerEnd >= 0) {
                    lag = Math.max(lag, end - followerEnd);
                }
            }
            return Future.succeededFuture(lag);
        });
    }

    /**
     * Fails acks=all appends still waiting when fewer than {@code min.insync.replicas} ISR members
     * are alive (Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND): with the others gone and no majority
     * left to shrink the ISR, they would otherwise wait for ever. The records stay in the log
     * unacknowledged; a retry of an idempotent producer is deduplicated.
     */
    public void failStarvedAppends() {
        onContext(() -> {
            if (progress != null && !replicationWaiters.isEmpty() && liveIsrSize() < log.config().minInsyncReplicas) {
                List<DurableWaiter> failed = new ArrayList<>(replicationWaiters);
                replicationWaiters.clear();
                failed.forEach(w -> w.promise().fail(new org.apache.kafka.common.errors.NotEnoughReplicasAfterAppendException(
                        "Partition " + name + " lost in-sync replicas below min.insync.replicas before the append was"
                                + " replicated")));
            }
            return Future.succeededFuture();
        });
    }

    private int liveIsrSize() {
        int n = 0;
        for (int id : progress.isr()) {
            if (live.test(id)) {
                n++;
            }
        }
        return n;
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
            List<DurableWaiter> unreplicated = new ArrayList<>(replicationWaiters);
            replicationWaiters.clear();
            unreplicated.forEach(w -> w.promise().fail(new KafkaStorageException("Partition " + name
                    + " closed before the append was replicated")));
            wakeReplicaFetches();
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

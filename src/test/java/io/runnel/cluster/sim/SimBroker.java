package io.runnel.cluster.sim;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.runnel.cluster.PartitionState;
import io.runnel.cluster.ReplicaProgress;
import io.runnel.cluster.sim.Messages.AlterIsr;
import io.runnel.cluster.sim.Messages.EpochRequest;
import io.runnel.cluster.sim.Messages.EpochResponse;
import io.runnel.cluster.sim.Messages.FetchError;
import io.runnel.cluster.sim.Messages.FetchRequest;
import io.runnel.cluster.sim.Messages.FetchResponse;
import io.runnel.cluster.sim.Messages.Metadata;
import io.runnel.cluster.sim.Messages.Produce;
import io.runnel.log.EpochEndOffset;

/**
 * One broker's replica of the simulated partition: what {@code Partition} (roles, appends, the
 * leader's {@link ReplicaProgress}, follower appends and truncation) and {@code ReplicaManager}
 * (applying metadata, the fetcher's truncate-then-fetch loop, serving fetches, the periodic ISR
 * check) do for one partition, step by step, on the simulation's clock.
 *
 * <p>Each method mirrors a named production method; where the broker's behaviour is subtle, the
 * comment says which line it copies. Timers (fetch retries, long-poll deadlines, request timeouts,
 * the ISR check) fire from {@link #tick}. A crashed broker keeps only its log (a killed process
 * leaves the page cache behind); a paused one keeps everything and acts on it when it resumes.
 *
 * <p>Single-threaded: the simulation drives it.
 */
final class SimBroker {

    /** Whether the process runs, is stopped (SIGSTOP, a long GC), or is gone. */
    enum Status { UP, PAUSED, DOWN }

    enum Role { LEADER, FOLLOWER }

    /** {@code ReplicaManager.Fetcher}: one leader, one epoch; replaced, never reused. */
    private final class Fetcher {
        final int leader;
        final int epoch;
        boolean stopped;
        /** When the next request goes out (-1: one is in flight or none is due). */
        long dueMs;
        boolean dueIsTruncation;
        long inFlightId = -1;
        long inFlightDeadlineMs;
        boolean inFlightIsTruncation;

        Fetcher(int leader, int epoch) {
            this.leader = leader;
            this.epoch = epoch;
        }
    }

    /** A follower's fetch waiting at the leader's log end (long poll). */
    private record Parked(int follower, long requestId, int epoch, long offset, long deadlineMs) {
    }

    /** An acks=all append waiting for the high watermark to pass it. */
    private record Waiter(SimLog.Entry entry) {
    }

    static final long FETCH_MAX_WAIT_MS = 500;
    static final long RETRY_DELAY_MS = 100;
    static final long EPOCH_REQUEST_TIMEOUT_MS = 5_000;
    static final long FETCH_REQUEST_TIMEOUT_MS = FETCH_MAX_WAIT_MS + 5_000;
    static final int FETCH_MAX_RECORDS = 8;

    final int id;
    final SimLog log = new SimLog();
    private final SimWorld world;

    Status status = Status.UP;
    long resumeAtMs;
    /** Counts restarts: messages addressed to an earlier process are never delivered. */
    int incarnation;
    /**
     * The high watermark as the cluster decided it: a leader's as its replicas moved it, or what
     * a leader sent this follower (capped by its log end). {@code Log.open} sets the log's high watermark to the log
     * end, which may cover records never committed (that truncation will remove), and the log keeps
     * it until a leader's passes it; this is what the recovered value should have been.
     */
    long learnedHighWatermark;

    // What a restart loses: everything below.
    private long metadataSequence = -1;
    PartitionState known;
    private Set<Integer> liveKnown = Set.of();
    Role role = Role.FOLLOWER;
    int epoch = -1;
    ReplicaProgress progress;
    private String applied;
    private Fetcher fetcher;
    /** Requests this broker's fetchers sent and still wait for, whichever fetcher sent them. */
    private final Map<Long, Fetcher> outstanding = new HashMap<>();
    private final List<Waiter> waiters = new ArrayList<>();
    private final List<Parked> parked = new ArrayList<>();
    private long nextIsrCheckMs;

    SimBroker(int id, SimWorld world) {
        this.id = id;
        this.world = world;
    }

    // ---------------------------------------------------------------- process lifecycle

    /** A kill: memory is gone, the log stays (page cache), waiting appends are never answered. */
    void crash() {
        status = Status.DOWN;
        metadataSequence = -1;
        known = null;
        liveKnown = Set.of();
        role = Role.FOLLOWER;
        epoch = -1;
        progress = null;
        applied = null;
        fetcher = null;
        outstanding.clear();
        waiters.clear();
        parked.clear();
    }

    /** A start: the log is opened ({@code Log.open} sets the high watermark to the log end) and the partition follows no one in epoch -1. */
    void restart() {
        status = Status.UP;
        incarnation++;
        log.reopen();
        learnedHighWatermark = 0;
        nextIsrCheckMs = world.nowMs();
    }

    // ---------------------------------------------------------------- messages

    void receive(int from, Messages.Message message) {
        if (message instanceof Metadata m) {
            onMetadata(m);
        } else if (message instanceof Produce p) {
            append(p.recordId());
        } else if (message instanceof EpochRequest r) {
            serveEpoch(from, r);
        } else if (message instanceof EpochResponse r) {
            onEpochResponse(r);
        } else if (message instanceof FetchRequest r) {
            replicaRead(from, r);
        } else if (message instanceof FetchResponse r) {
            onFetched(r);
        } else {
            throw new IllegalStateException("A broker got " + message);
        }
    }

    /** {@code ReplicaManager.applyRole}: acts only when the role string changes. */
    private void onMetadata(Metadata m) {
        if (m.sequence() <= metadataSequence) {
            return;
        }
        metadataSequence = m.sequence();
        liveKnown = m.live();
        PartitionState s = m.state();
        known = s;
        String next = s.leader() == id ? "leader:" + s.leaderEpoch() + ":" + s.isr()
                : "follower:" + s.leaderEpoch() + ":" + s.leader();
        if (next.equals(applied)) {
            return;
        }
        stopFetcher();
        world.trace("broker %d applies %s (was %s)", id, next, applied);
        if (s.leader() == id) {
            becomeLeader(s.leaderEpoch(), s.replicas(), s.isr());
            applied = next;
            return;
        }
        becomeFollower(s.leaderEpoch());
        applied = next;
        if (s.hasLeader()) {
            fetcher = new Fetcher(s.leader(), s.leaderEpoch());
            truncate(fetcher);
        }
    }

    private void stopFetcher() {
        if (fetcher != null) {
            fetcher.stopped = true;
            fetcher = null;
        }
    }

    /** {@code Partition.becomeLeader}. */
    private void becomeLeader(int newEpoch, List<Integer> replicas, List<Integer> isr) {
        boolean sameTerm = role == Role.LEADER && epoch == newEpoch && progress != null;
        if (sameTerm) {
            progress.setIsr(isr);
        } else {
            role = Role.LEADER;
            epoch = newEpoch;
            progress = new ReplicaProgress(id, replicas, isr, log.highWatermark(), log.logEndOffset(), world.nowMs());
        }
        advanceHighWatermark(progress.updateHighWatermark(log.logEndOffset()));
    }

    /** {@code Partition.becomeFollower}: waiting acks=all appends fail, waiting fetches are woken (and refused). */
    private void becomeFollower(int newEpoch) {
        role = Role.FOLLOWER;
        epoch = newEpoch;
        progress = null;
        waiters.clear();
        wakeReplicaFetches();
    }

    /** {@code Partition.append} with acks=all, the append turn included. */
    private void append(long recordId) {
        if (role != Role.LEADER) {
            return;
        }
        if (progress != null && liveIsrSize() < world.minInsyncReplicas()) {
            return;
        }
        if (epoch < log.latestEpoch()) {
            return; // Log.appendAll refuses: a deposed leader's log holds a newer epoch.
        }
        SimLog.Entry entry = log.appendAsLeader(epoch, recordId);
        advanceHighWatermark(progress.updateHighWatermark(log.logEndOffset()));
        wakeReplicaFetches();
        if (log.highWatermark() <= entry.offset()) {
            waiters.add(new Waiter(entry));
        } else {
            world.acknowledged(this, epoch, entry);
        }
    }

    private int liveIsrSize() {
        int n = 0;
        for (int member : progress.isr()) {
            if (liveKnown.contains(member)) {
                n++;
            }
        }
        return n;
    }

    /** {@code Partition.advanceHighWatermark}: forward only, capped by the log end; completes replicated appends. */
    private void advanceHighWatermark(long offset) {
        long target = Math.min(offset, log.logEndOffset());
        if (target <= log.highWatermark()) {
            return;
        }
        log.updateHighWatermark(target);
        if (role == Role.LEADER) {
            learnedHighWatermark = target;
        }
        List<Waiter> done = new ArrayList<>();
        waiters.removeIf(w -> w.entry().offset() < target && done.add(w));
        // Acknowledged in the epoch whose high watermark passed it: a leader that skipped an epoch's
        // metadata completes an older term's appends in its new one (still safe: they are in its log).
        done.forEach(w -> world.acknowledged(this, epoch, w.entry()));
        if (progress != null) {
            wakeReplicaFetches();
        }
    }

    // ---------------------------------------------------------------- leader side of replication

    /** {@code ReplicaManager.serveEpoch}: a broker that believes it leads answers from its log, whatever epoch it leads in. */
    private void serveEpoch(int from, EpochRequest r) {
        EpochEndOffset answer = role == Role.LEADER ? log.endOffsetFor(r.epoch()) : null;
        world.send(id, from, new EpochResponse(r.requestId(), answer));
    }

    /** {@code Partition.replicaRead}. */
    private void replicaRead(int from, FetchRequest r) {
        FetchError refusal = replicaFetchRefusal(r.epoch(), r.offset());
        if (refusal != FetchError.NONE) {
            world.send(id, from, new FetchResponse(r.requestId(), refusal, List.of(), -1, -1));
            return;
        }
        progress.onFollowerFetch(from, r.offset(), log.logEndOffset(), world.nowMs());
        advanceHighWatermark(progress.updateHighWatermark(log.logEndOffset()));
        if (r.offset() < log.logEndOffset()) {
            answerFetch(from, r.requestId(), r.offset());
            return;
        }
        parked.add(new Parked(from, r.requestId(), r.epoch(), r.offset(), world.nowMs() + FETCH_MAX_WAIT_MS));
    }

    private FetchError replicaFetchRefusal(int replicaEpoch, long offset) {
        if (role != Role.LEADER || progress == null) {
            return FetchError.NOT_LEADER;
        }
        if (replicaEpoch > epoch) {
            return FetchError.FENCED_LEADER_EPOCH;
        }
        if (replicaEpoch < epoch) {
            return FetchError.UNKNOWN_LEADER_EPOCH;
        }
        if (offset > log.logEndOffset() || offset < 0) {
            return FetchError.OFFSET_OUT_OF_RANGE;
        }
        return FetchError.NONE;
    }

    private void answerFetch(int follower, long requestId, long offset) {
        world.send(id, follower, new FetchResponse(requestId, FetchError.NONE, log.read(offset, FETCH_MAX_RECORDS),
                log.highWatermark(), Math.min(log.highWatermark(), learnedHighWatermark)));
    }

    /** Woken long polls check again (the leader may have been deposed meanwhile), then read. */
    private void wakeReplicaFetches() {
        List<Parked> woken = new ArrayList<>(parked);
        parked.clear();
        woken.forEach(this::answerParked);
    }

    private void answerParked(Parked p) {
        FetchError refusal = replicaFetchRefusal(p.epoch(), p.offset());
        if (refusal != FetchError.NONE) {
            world.send(id, p.follower(), new FetchResponse(p.requestId(), refusal, List.of(), -1, -1));
        } else {
            answerFetch(p.follower(), p.requestId(), p.offset());
        }
    }

    /** {@code ReplicaManager.checkIsrs}: the leader in the metadata asks for the ISR its progress proposes. */
    private void checkIsr() {
        if (known == null || known.leader() != id || role != Role.LEADER || progress == null) {
            return;
        }
        List<Integer> proposal = progress.proposedIsr(world.nowMs(), world.replicaLagTimeMaxMs(), log.logEndOffset());
        if (proposal != null) {
            world.send(id, SimWorld.CONTROLLER, new AlterIsr(id, known.leaderEpoch(), known.version(), proposal));
        }
    }

    // ---------------------------------------------------------------- follower side

    /** {@code Fetcher.truncate}: ask the leader about our latest epoch (or fetch at once when the log has none). */
    private void truncate(Fetcher f) {
        if (f.stopped) {
            return;
        }
        int latest = log.latestEpoch();
        if (latest < 0) {
            fetch(f);
            return;
        }
        long requestId = world.nextRequestId();
        f.inFlightId = requestId;
        f.inFlightIsTruncation = true;
        f.inFlightDeadlineMs = world.nowMs() + EPOCH_REQUEST_TIMEOUT_MS;
        f.dueMs = -1;
        outstanding.put(requestId, f);
        world.send(id, f.leader, new EpochRequest(id, requestId, latest));
    }

    /**
     * The reply to a truncation request. As in {@code Fetcher.truncate}'s compose chain, the reply
     * goes to {@code Partition.truncateToLeader} even if the fetcher was stopped meanwhile; the
     * partition refuses it unless it still follows in the fetcher's epoch.
     */
    private void onEpochResponse(EpochResponse r) {
        Fetcher f = outstanding.remove(r.requestId());
        if (f == null) {
            return; // timed out: the event bus dropped the reply
        }
        f.inFlightId = -1;
        if (r.answer() == null) {
            retry(f, true, RETRY_DELAY_MS * 2);
            return;
        }
        boolean complete;
        try {
            complete = truncateToLeader(r.answer(), f.epoch);
        } catch (IllegalArgumentException e) {
            retry(f, true, RETRY_DELAY_MS * 2); // the truncation future fails; Fetcher.truncate retries
            return;
        }
        if (complete) {
            fetch(f);
        } else {
            truncate(f);
        }
    }

    /** {@code Partition.truncateToLeader}: refused (as an exception) unless following in {@code fetchEpoch}; whether it settled. */
    private boolean truncateToLeader(EpochEndOffset leaderAnswer, int fetchEpoch) {
        if (role != Role.FOLLOWER || fetchEpoch != epoch) {
            throw new IllegalArgumentException("stale truncation");
        }
        SimLog.Truncation truncation = log.truncationFor(leaderAnswer);
        long offset = truncation.offset();
        if (offset < log.logEndOffset()) {
            world.trace("broker %d (%s) truncates to %d on leader answer %s", id, role, offset, leaderAnswer);
            log.truncateTo(offset);
            learnedHighWatermark = Math.min(learnedHighWatermark, offset);
        }
        return truncation.complete();
    }

    /** {@code Fetcher.fetch}. */
    private void fetch(Fetcher f) {
        if (f.stopped) {
            return;
        }
        long requestId = world.nextRequestId();
        f.inFlightId = requestId;
        f.inFlightIsTruncation = false;
        f.inFlightDeadlineMs = world.nowMs() + FETCH_REQUEST_TIMEOUT_MS;
        f.dueMs = -1;
        outstanding.put(requestId, f);
        world.send(id, f.leader, new FetchRequest(id, requestId, f.epoch, log.logEndOffset()));
    }

    /** {@code Fetcher.onFetched} and {@code Partition.appendAsFollower}. */
    private void onFetched(FetchResponse r) {
        Fetcher f = outstanding.remove(r.requestId());
        if (f == null) {
            return;
        }
        f.inFlightId = -1;
        if (f.stopped) {
            return;
        }
        if (r.error() == FetchError.OFFSET_OUT_OF_RANGE) {
            retry(f, true, RETRY_DELAY_MS);
            return;
        }
        if (r.error() != FetchError.NONE) {
            retry(f, false, RETRY_DELAY_MS);
            return;
        }
        if (role != Role.FOLLOWER || f.epoch != epoch) {
            retry(f, true, RETRY_DELAY_MS);
            return;
        }
        try {
            log.appendAsFollower(r.records());
        } catch (SimLog.AppendRefused e) {
            retry(f, true, RETRY_DELAY_MS);
            return;
        }
        learnedHighWatermark = Math.max(learnedHighWatermark, Math.min(r.learnedHighWatermark(), log.logEndOffset()));
        advanceHighWatermark(r.highWatermark());
        fetch(f);
    }

    private void retry(Fetcher f, boolean truncation, long delayMs) {
        f.dueMs = world.nowMs() + delayMs;
        f.dueIsTruncation = truncation;
    }

    // ---------------------------------------------------------------- timers

    /** Fires what is due: request timeouts, retries, long-poll deadlines, the ISR check. */
    void tick() {
        long now = world.nowMs();
        for (Map.Entry<Long, Fetcher> e : List.copyOf(outstanding.entrySet())) {
            Fetcher f = e.getValue();
            if (f.inFlightId == e.getKey() && now >= f.inFlightDeadlineMs) {
                outstanding.remove(e.getKey());
                f.inFlightId = -1;
                retry(f, f.inFlightIsTruncation, f.inFlightIsTruncation ? RETRY_DELAY_MS * 2 : RETRY_DELAY_MS);
            }
        }
        if (fetcher != null && fetcher.dueMs >= 0 && now >= fetcher.dueMs) {
            if (fetcher.dueIsTruncation) {
                truncate(fetcher);
            } else {
                fetch(fetcher);
            }
        }
        List<Parked> expired = new ArrayList<>();
        parked.removeIf(p -> now >= p.deadlineMs() && expired.add(p));
        expired.forEach(this::answerParked);
        if (now >= nextIsrCheckMs) {
            nextIsrCheckMs = now + world.isrCheckIntervalMs();
            checkIsr();
        }
    }

    /** Whether this broker's view has settled: it knows {@code state}, follows or leads as it says, and has nothing in flight to catch up on. */
    boolean knows(PartitionState state) {
        return known != null && known.version() == state.version();
    }

    @Override
    public String toString() {
        return "broker " + id + " " + status + " " + role + " epoch " + epoch + " leo " + log.logEndOffset() + " hw "
                + log.highWatermark() + (progress != null ? " isr " + progress.isr() : "");
    }
}

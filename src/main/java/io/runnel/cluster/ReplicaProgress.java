package io.runnel.cluster;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a partition's leader knows of its followers: each one's log end offset (the offset of its
 * last fetch) and when it was last caught up, from which follow the high watermark and the ISR
 * changes the leader asks the controller for. Pure and single-threaded (the partition's context,
 * or the simulation), so the simulation checks the same rules the broker runs.
 *
 * <p>Rules, Kafka's: the high watermark is the smallest log end offset in the ISR (the leader's
 * own included) and never moves back. A follower is caught up at a fetch that asks for the
 * leader's log end offset (or for at least the end the leader had at the follower's previous
 * fetch, which then counts from that fetch's time). An ISR member not caught up within
 * {@code replica.lag.time.max.ms} should leave; a replica outside the ISR whose log end reaches the
 * high watermark and the offset where this leader's epoch began should join. The second bound is
 * Kafka's fix for KAFKA-7128: a new leader's high watermark (its own, as a follower) can lag what
 * the previous leader acknowledged, so a follower that reached only that could join the ISR
 * without records this leader holds and others acknowledged, and lose them if elected
 * ({@code ReplicationSimulationTest}, seed 17078). Everything acknowledged before this epoch lies
 * below its start offset. The ISR used for the high watermark is Kafka's <em>maximal</em> ISR:
 * the committed one — the controller's — plus every replica this leader has proposed to add since
 * it last heard the committed ISR. So a follower's removal takes effect only once the controller
 * has agreed, and a follower counts from the moment the leader asks for it: the controller may
 * add it before the leader hears so, and a record acknowledged without it in that window would be
 * lost if it were then elected (found by {@code ReplicationSimulationTest}, seed 10). The
 * controller applies a request only against the state version it was computed from, so once the
 * leader hears a newer committed ISR its earlier proposals can no longer apply and are dropped.
 *
 * <p>Invariants: {@code highWatermark} never decreases; the leader is always in the ISR; the
 * high watermark is at most the log end of every member of the committed ISR and of every
 * pending addition.
 */
public final class ReplicaProgress {

    private static final class Follower {
        long logEndOffset = -1;
        long lastCaughtUpMs;
        long previousFetchLeaderEnd = -1;
        long previousFetchMs;
    }

    private final int leaderId;
    private final List<Integer> replicas;
    /** The leader's log end offset when it took over: no follower short of it may join the ISR. */
    private final long leaderEpochStartOffset;
    private final Map<Integer, Follower> followers = new HashMap<>();
    private Set<Integer> isr;
    /** Replicas proposed for the ISR since the committed ISR was last heard: they count for the high watermark. */
    private final Set<Integer> pendingAdditions = new LinkedHashSet<>();
    private long highWatermark;

    /**
     * @param highWatermark          where the leader's high watermark stands as it takes over (its own, as a follower)
     * @param leaderEpochStartOffset the leader's log end offset as it takes over
     * @param nowMs                  every follower counts as caught up now, so none is dropped before it could fetch
     */
    public ReplicaProgress(int leaderId, List<Integer> replicas, List<Integer> isr, long highWatermark,
                           long leaderEpochStartOffset, long nowMs) {
        this.leaderId = leaderId;
        this.replicas = List.copyOf(replicas);
        this.leaderEpochStartOffset = leaderEpochStartOffset;
        this.isr = new LinkedHashSet<>(isr);
        this.isr.add(leaderId);
        this.highWatermark = highWatermark;
        for (int r : replicas) {
            if (r != leaderId) {
                Follower f = new Follower();
                f.lastCaughtUpMs = nowMs;
                followers.put(r, f);
            }
        }
    }

    /** Whether {@code brokerId} holds a follower replica of this partition (only those may fetch as replicas). */
    public boolean isFollower(int brokerId) {
        return followers.containsKey(brokerId);
    }

    /** A follower fetched at {@code fetchOffset} (so its log ends there) while the leader's log ended at {@code leaderEnd}. */
    public void onFollowerFetch(int replicaId, long fetchOffset, long leaderEnd, long nowMs) {
        Follower f = followers.get(replicaId);
        if (f == null) {
            return;
        }
        f.logEndOffset = fetchOffset;
        if (fetchOffset >= leaderEnd) {
            f.lastCaughtUpMs = nowMs;
        } else if (f.previousFetchLeaderEnd >= 0 && fetchOffset >= f.previousFetchLeaderEnd) {
            f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, f.previousFetchMs);
        }
        f.previousFetchLeaderEnd = leaderEnd;
        f.previousFetchMs = nowMs;
    }

    /**
     * Recomputes the high watermark from the ISR's log ends ({@code leaderEnd} is the leader's)
     * and returns it. It only moves forward.
     */
    public long updateHighWatermark(long leaderEnd) {
        long min = leaderEnd;
        Set<Integer> maximal = new LinkedHashSet<>(isr);
        maximal.addAll(pendingAdditions);
        for (int id : maximal) {
            if (id != leaderId) {
                Follower f = followers.get(id);
                min = Math.min(min, f == null ? -1 : f.logEndOffset);
            }
        }
        if (min > highWatermark) {
            highWatermark = min;
        }
        return highWatermark;
    }

    public long highWatermark() {
        return highWatermark;
    }

    /** The committed ISR, as the controller last agreed on it. */
    public Set<Integer> isr() {
        return Set.copyOf(isr);
    }

    /** Adopts the controller's ISR (after a change the leader asked for, or one the controller made). */
    public void setIsr(List<Integer> committed) {
        isr = new LinkedHashSet<>(committed);
        isr.add(leaderId);
        pendingAdditions.clear();
    }

    /**
     * The ISR this leader should ask for now, or null when it is right as it is. The caller asks the
     * controller for it, so the replicas it adds count for the high watermark from now on, until
     * {@link #setIsr} brings the controller's answer.
     */
    public List<Integer> proposedIsr(long nowMs, long lagTimeMaxMs, long leaderEnd) {
        List<Integer> proposal = new ArrayList<>();
        for (int r : replicas) {
            if (r == leaderId) {
                proposal.add(r);
                continue;
            }
            Follower f = followers.get(r);
            boolean inSync = isr.contains(r);
            if (inSync && nowMs - f.lastCaughtUpMs <= lagTimeMaxMs) {
                proposal.add(r);
            } else if (!inSync && f.logEndOffset >= highWatermark && f.logEndOffset >= leaderEpochStartOffset
                    && f.logEndOffset >= 0
                    && nowMs - f.lastCaughtUpMs <= lagTimeMaxMs) {
                proposal.add(r);
            }
        }
        if (Set.copyOf(proposal).equals(isr)) {
            return null;
        }
        for (int r : proposal) {
            if (!isr.contains(r)) {
                pendingAdditions.add(r);
            }
        }
        return proposal;
    }

    /** A follower's log end offset as last reported (-1 before its first fetch). */
    public long followerLogEnd(int replicaId) {
        Follower f = followers.get(replicaId);
        return f == null ? -1 : f.logEndOffset;
    }
}

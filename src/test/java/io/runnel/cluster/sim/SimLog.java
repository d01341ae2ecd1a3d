package io.runnel.cluster.sim;

import java.util.ArrayList;
import java.util.List;

import io.runnel.log.EpochEndOffset;

/**
 * One replica's log in the simulation: a list of records, each with its offset (its index), the
 * leader epoch that wrote it and the id the client gave it, plus the replica's high watermark.
 *
 * <p>The epoch cache is derived from the records instead of kept beside them: without compaction
 * or a moving log start, Kafka's {@code LeaderEpochFileCache} (and our {@code LeaderEpochCache})
 * holds exactly one entry per run of equal epochs, starting at the run's first offset. The two
 * questions replication asks of it — {@link #endOffsetFor} (OffsetForLeaderEpoch, answered by a
 * leader) and {@link #truncationFor} (where a follower cuts its log) — follow
 * {@code io.runnel.log.LeaderEpochCache} rule for rule; that class is package-private to the log,
 * so the simulation restates it here rather than opening files.
 *
 * <p>Invariants: offsets are dense from 0; epochs never decrease along the log;
 * {@code 0 <= highWatermark <= logEndOffset}. A broken one throws {@link IllegalStateException},
 * as {@code Log} does.
 */
public final class SimLog {

    /** A record as it sits in a replica's log. */
    public record Entry(long offset, int epoch, long recordId) {
    }

    /** Why a follower's append was refused, as {@code Log.appendAsFollower} would refuse it. */
    public static final class AppendRefused extends RuntimeException {
        AppendRefused(String message) {
            super(message, null, false, false);
        }
    }

    private final List<Entry> entries = new ArrayList<>();
    private long highWatermark;
    /** How many times records were removed, so checkers know to look at the whole log again. */
    private int truncations;

    public long logEndOffset() {
        return entries.size();
    }

    public long highWatermark() {
        return highWatermark;
    }

    /** The entry at {@code offset}, or null past the log end. */
    public Entry at(long offset) {
        return offset < entries.size() ? entries.get((int) offset) : null;
    }

    public int truncations() {
        return truncations;
    }

    public List<Entry> entries() {
        return List.copyOf(entries);
    }

    /** Records from {@code offset} up to the log end, at most {@code max} of them. */
    public List<Entry> read(long offset, int max) {
        int from = (int) offset;
        return List.copyOf(entries.subList(from, Math.min(entries.size(), from + max)));
    }

    /** The epoch of the last record, -1 when empty. */
    public int latestEpoch() {
        return entries.isEmpty() ? -1 : entries.get(entries.size() - 1).epoch();
    }

    /** As {@code Log.appendAll}: a leader writes in its epoch, never one older than the log's latest. */
    public Entry appendAsLeader(int epoch, long recordId) {
        if (epoch < latestEpoch()) {
            throw new IllegalStateException("Leader of epoch " + epoch + " appends to a log holding epoch " + latestEpoch());
        }
        Entry e = new Entry(entries.size(), epoch, recordId);
        entries.add(e);
        return e;
    }

    /** As {@code Log.appendAsFollower}: the leader's records, starting at our log end, epochs not going back. */
    public void appendAsFollower(List<Entry> fetched) {
        if (fetched.isEmpty()) {
            return;
        }
        if (fetched.get(0).offset() != logEndOffset()) {
            throw new AppendRefused("Follower append starts at " + fetched.get(0).offset() + ", log ends at "
                    + logEndOffset());
        }
        int latest = latestEpoch();
        for (Entry e : fetched) {
            if (e.epoch() < latest) {
                throw new AppendRefused("Follower append of epoch " + e.epoch() + " after epoch " + latest
                        + ": truncate the divergent tail first");
            }
            latest = e.epoch();
        }
        entries.addAll(fetched);
    }

    /** Moves the high watermark forward (as {@code Log.updateHighWatermark}, which refuses to move it back). */
    public void updateHighWatermark(long offset) {
        if (offset < highWatermark || offset > logEndOffset()) {
            throw new IllegalStateException("High watermark " + offset + " outside [" + highWatermark + ", "
                    + logEndOffset() + "]");
        }
        highWatermark = offset;
    }

    /** As {@code Log.truncateTo}: drops records from {@code offset}; the high watermark is capped at the new end. */
    public void truncateTo(long offset) {
        if (offset >= entries.size()) {
            return;
        }
        entries.subList((int) offset, entries.size()).clear();
        truncations++;
        highWatermark = Math.min(highWatermark, offset);
    }

    /** As {@code Log.open}'s recovery, which sets the high watermark to the recovered log end. */
    public void reopen() {
        highWatermark = logEndOffset();
    }

    /** The last {@code max} records as {@code offset:epoch/recordId}, for failure reports. */
    public String describe(int max) {
        StringBuilder b = new StringBuilder(entries.size() > max ? "[..." : "[");
        for (Entry e : entries.subList(Math.max(0, entries.size() - max), entries.size())) {
            b.append(' ').append(e.offset()).append(':').append(e.epoch()).append('/').append(e.recordId());
        }
        return b.append(" ]").toString();
    }

    // ---------------------------------------------------------------- epoch cache rules

    /** {@code LeaderEpochCache.endOffsetFor}: the largest epoch at or below {@code requested} and one past its last offset. */
    public EpochEndOffset endOffsetFor(int requestedEpoch) {
        for (int i = entries.size() - 1; i >= 0; i--) {
            int epoch = entries.get(i).epoch();
            if (epoch <= requestedEpoch) {
                long end = i == entries.size() - 1 ? logEndOffset() : nextRunStart(i);
                return new EpochEndOffset(epoch, end);
            }
        }
        return EpochEndOffset.UNDEFINED;
    }

    /** The start of the epoch run after the one holding index {@code i}. */
    private long nextRunStart(int i) {
        int epoch = entries.get(i).epoch();
        int j = i;
        while (j < entries.size() && entries.get(j).epoch() == epoch) {
            j++;
        }
        return j;
    }

    /** {@code Log.Truncation}: where to cut, and whether that settles it (false: ask the leader again). */
    public record Truncation(long offset, boolean complete) {
    }

    /** {@code LeaderEpochCache.truncationFor}, with a log start of 0: where to cut, given the leader's answer for our latest epoch. */
    public Truncation truncationFor(EpochEndOffset leaderAnswer) {
        if (leaderAnswer.epoch() > latestEpoch()) {
            throw new IllegalArgumentException("The leader answered epoch " + leaderAnswer.epoch()
                    + ", above this log's latest epoch " + latestEpoch());
        }
        if (leaderAnswer.isUndefined()) {
            return new Truncation(0, true);
        }
        EpochEndOffset ours = endOffsetFor(leaderAnswer.epoch());
        if (ours.isUndefined()) {
            return new Truncation(0, true);
        }
        return new Truncation(Math.min(Math.min(ours.endOffset(), leaderAnswer.endOffset()), logEndOffset()),
                ours.epoch() == leaderAnswer.epoch());
    }
}

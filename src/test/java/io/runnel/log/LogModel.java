package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

import io.runnel.log.Batches.Rec;

/**
 * The partition log as {@link LogPropertyTest} expects it to behave: a sorted map of records by
 * offset and the four offsets, with no segments, files or indexes. Each method states a rule of
 * the log's contract in the plainest form it has.
 *
 * <p>What the model keeps:
 * <ul>
 *   <li>{@code records}: every record the log may still hold, including those below the log start
 *       offset (an un-checkpointed DeleteRecords is undone by an unclean restart, so they can come
 *       back); a reader sees only those at or above {@link #logStartOffset}.</li>
 *   <li>{@code batches}: the offset range of every batch as it was appended (base, last).
 *       Compaction may empty a batch but never moves its range, and truncation cuts whole
 *       batches, so these ranges say where a truncation cuts.</li>
 *   <li>{@code hasGaps}: whether offsets below the log end are missing for reasons other than
 *       truncation (compaction, a crash that lost a tail). Without gaps the log end offset after a
 *       truncation is exact; with gaps it is only bounded.</li>
 * </ul>
 *
 * <p>Where the outcome depends on the segment layout (which segments retention deletes), the
 * model states the rule over a snapshot of the segments ({@link SegmentView}) and the test
 * compares the log's answer with it.
 *
 * <p>Not thread-safe; one model per property try.
 */
final class LogModel {

    /** What retention may look at for one segment: its offsets, size and largest timestamp. */
    record SegmentView(long baseOffset, long nextOffset, int sizeBytes, long maxTimestamp) {

        static SegmentView of(Segment s) {
            return new SegmentView(s.baseOffset(), s.nextOffset(), s.sizeBytes(), s.maxTimestamp());
        }
    }

    private final NavigableMap<Long, Rec> records = new TreeMap<>();
    private final NavigableMap<Long, Long> batches = new TreeMap<>();

    long logStartOffset;
    long logEndOffset;
    long highWatermark;
    long durableOffset;
    /** The log start offset last written to the checkpoint file (open, clean close, writeCheckpoint, truncateTo). */
    long checkpointedLogStartOffset;
    boolean hasGaps;

    /** The records a reader sees, in offset order. */
    List<Rec> visible() {
        return new ArrayList<>(records.tailMap(logStartOffset, true).values());
    }

    /** The visible records at or after {@code offset}. */
    List<Rec> visibleFrom(long offset) {
        return new ArrayList<>(records.tailMap(Math.max(offset, logStartOffset), true).values());
    }

    /** Visible records in {@code [from, to)}. */
    List<Rec> visibleBetween(long from, long to) {
        long lo = Math.max(from, logStartOffset);
        if (lo >= to) {
            return List.of();
        }
        return new ArrayList<>(records.subMap(lo, true, to, false).values());
    }

    Rec at(long offset) {
        return records.get(offset);
    }

    /** Appends batches at the log end offset; returns the records with their offsets. */
    List<List<Rec>> append(List<List<Rec>> batchesWithoutOffsets) {
        List<List<Rec>> out = new ArrayList<>();
        long next = logEndOffset;
        for (List<Rec> batch : batchesWithoutOffsets) {
            List<Rec> placed = new ArrayList<>();
            long base = next;
            for (Rec r : batch) {
                Rec at = new Rec(next++, r.key(), r.value(), r.timestamp());
                records.put(at.offset(), at);
                placed.add(at);
            }
            batches.put(base, next - 1);
            out.add(placed);
        }
        logEndOffset = next;
        return out;
    }

    // ---------------------------------------------------------------- truncation

    /**
     * Where {@code truncateTo(offset)} must cut: the base of the first batch that holds an offset at
     * or after {@code offset}, or {@code offset} itself if no batch does.
     */
    long truncationCut(long offset) {
        for (Map.Entry<Long, Long> b : batches.entrySet()) {
            if (b.getValue() >= offset) {
                return Math.min(b.getKey(), offset);
            }
        }
        return offset;
    }

    /**
     * Checks the log end offset a truncation to {@code offset} left, then applies it. Rule: every
     * record of a batch wholly below the cut stays, nothing at or after the cut stays, and the new
     * end is the cut itself when the log had no gaps (otherwise somewhere between the last kept
     * record and the cut).
     */
    void truncated(long offset, long newEnd) {
        if (offset >= logEndOffset) {
            assertThat(newEnd).as("log end offset after truncateTo(%d), at or past the end", offset).isEqualTo(logEndOffset);
            return;
        }
        long cut = truncationCut(offset);
        // Records hidden below the start offset may have been compacted away: only visible ones bound the end.
        Map.Entry<Long, Rec> lastKept = logStartOffset >= cut ? null
                : records.subMap(logStartOffset, true, cut, false).lastEntry();
        long lowest = lastKept == null ? 0 : lastKept.getKey() + 1;
        if (hasGaps) {
            assertThat(newEnd).as("log end offset after truncateTo(%d), which cuts at %d", offset, cut)
                    .isBetween(Math.min(lowest, cut), cut);
        } else {
            assertThat(newEnd).as("log end offset after truncateTo(%d)", offset).isEqualTo(cut);
        }
        removeFrom(Math.min(cut, newEnd));
        logEndOffset = newEnd;
        logStartOffset = Math.min(logStartOffset, newEnd);
        highWatermark = Math.min(highWatermark, newEnd);
        durableOffset = Math.min(durableOffset, newEnd);
        // Truncation writes the checkpoint: a restart must neither hide records appended after it
        // behind a stale start offset nor take their loss in a crash for lost durable records.
        checkpointedLogStartOffset = logStartOffset;
    }

    private void removeFrom(long offset) {
        records.tailMap(offset, true).clear();
        batches.tailMap(offset, true).clear();
    }

    // ---------------------------------------------------------------- restarts

    /**
     * The log start offset a reopened log must have: the checkpointed one, or the first segment's
     * base if retention deleted more than that, and never past the end.
     */
    long startAfterRestart(long firstSegmentBase, long endAfterRestart) {
        return Math.min(endAfterRestart, Math.max(checkpointedLogStartOffset, firstSegmentBase));
    }

    /**
     * Checks and takes on what a crash left: {@code actual} (the readable records from the new
     * start) must hold every record below {@code durableBeforeCrash} and otherwise be a prefix of
     * what was written. Returns how many records the crash lost.
     */
    int crashed(List<Rec> actual, long newStart, long newEnd, long durableBeforeCrash) {
        // Compaction may have emptied the durable tail (and thinned what DeleteRecords hid), so the
        // end need only lie past the last durable record that was readable.
        Map.Entry<Long, Rec> lastDurable = logStartOffset >= durableBeforeCrash ? null
                : records.subMap(logStartOffset, true, durableBeforeCrash, false).lastEntry();
        long endAtLeast = lastDurable == null ? 0 : lastDurable.getKey() + 1;
        assertThat(newEnd).as("log end offset after a crash").isBetween(endAtLeast, logEndOffset);
        long regressedTo = Math.min(newStart, logStartOffset);
        takeRegressedRegion(actual, regressedTo, Math.max(regressedTo, logStartOffset));
        long from = Math.max(newStart, logStartOffset);
        List<Rec> expected = new ArrayList<>(records.tailMap(from, true).values());
        List<Rec> survivors = actual.stream().filter(r -> r.offset() >= from).toList();
        assertThat(survivors.size()).as("records after a crash").isLessThanOrEqualTo(expected.size());
        assertThat(survivors).as("records after a crash are a prefix of those written")
                .containsExactlyElementsOf(expected.subList(0, survivors.size()));
        long firstLost = survivors.size() < expected.size() ? expected.get(survivors.size()).offset() : newEnd;
        assertThat(firstLost).as("first record lost in the crash (everything below %d was durable)", durableBeforeCrash)
                .isGreaterThanOrEqualTo(Math.min(durableBeforeCrash, newEnd));
        int lost = expected.size() - survivors.size();
        removeFrom(Math.min(firstLost, newEnd));
        if (firstLost < newEnd) {
            hasGaps = true;
        }
        logEndOffset = newEnd;
        reopened(newStart);
        return lost;
    }

    /** Takes on a restart that lost nothing: only an un-checkpointed DeleteRecords may be undone. */
    void restartedWithoutLoss(List<Rec> actual, long newStart) {
        long regressedTo = Math.min(newStart, logStartOffset);
        takeRegressedRegion(actual, regressedTo, Math.max(regressedTo, logStartOffset));
        reopened(newStart);
    }

    private void reopened(long newStart) {
        logStartOffset = newStart;
        checkpointedLogStartOffset = newStart;
        highWatermark = logEndOffset;
        durableOffset = logEndOffset;
    }

    /**
     * Records in {@code [from, to)} were below the log start offset and are readable again after
     * an unclean restart. Compaction may have thinned them while they were hidden, so they need
     * only be records that were written there.
     */
    private void takeRegressedRegion(List<Rec> actual, long from, long to) {
        if (from >= to) {
            return;
        }
        List<Rec> back = actual.stream().filter(r -> r.offset() >= from && r.offset() < to).toList();
        for (Rec r : back) {
            assertThat(r).as("record at %d, hidden by DeleteRecords and readable again", r.offset())
                    .isEqualTo(records.get(r.offset()));
        }
        records.subMap(from, true, to, false).clear();
        back.forEach(r -> records.put(r.offset(), r));
    }

    // ---------------------------------------------------------------- retention

    /**
     * The log start offset after {@code applyRetention()}. Whole segments go from the front while
     * each is wholly below the high watermark and is below the log start offset, or older than
     * {@code retention.ms} (largest timestamp), or not needed to keep {@code retention.bytes}. The
     * active segment goes too (the log rolls) only when every segment is past {@code retention.ms}.
     */
    static long startAfterRetention(List<SegmentView> segments, long logStartOffset, long highWatermark, long nowMs,
                                    boolean cleanupDelete, long retentionMs, long retentionBytes) {
        boolean byTime = cleanupDelete && retentionMs >= 0;
        boolean bySize = cleanupDelete && retentionBytes >= 0;
        SegmentView active = segments.get(segments.size() - 1);
        boolean allExpired = byTime && segments.stream().allMatch(s -> s.maxTimestamp() < nowMs - retentionMs);
        if (allExpired && active.sizeBytes() > 0 && active.nextOffset() <= highWatermark) {
            return Math.max(logStartOffset, active.nextOffset());
        }
        long totalBytes = segments.stream().mapToLong(SegmentView::sizeBytes).sum();
        long start = logStartOffset;
        for (int i = 0; i < segments.size() - 1; i++) {
            SegmentView s = segments.get(i);
            if (s.nextOffset() > highWatermark) {
                break;
            }
            boolean belowStart = s.nextOffset() <= logStartOffset;
            boolean expired = byTime && s.maxTimestamp() < nowMs - retentionMs;
            boolean oversize = bySize && totalBytes - s.sizeBytes() >= retentionBytes;
            if (!(belowStart || expired || oversize)) {
                break;
            }
            totalBytes -= s.sizeBytes();
            start = Math.max(start, segments.get(i + 1).baseOffset());
        }
        return start;
    }

    // ---------------------------------------------------------------- compaction

    /**
     * Checks and takes on a compaction pass. {@code actual} is every readable record afterwards.
     * Rules: nothing new appears and nothing moves; a record may be gone only if it was in the
     * compacted range (below {@code untouchedFrom}, the active segment's base when the pass was
     * planned, and below the high watermark), at least {@code min.compaction.lag.ms} old, and either
     * superseded by a later record with the same key or a tombstone older than
     * {@code delete.retention.ms}. So the latest value of every key stays at its offset. Returns
     * how many readable records the pass removed.
     */
    int compacted(List<Rec> actual, long untouchedFrom, long nowMs, long minCompactionLagMs, long deleteRetentionMs) {
        List<Rec> before = visible();
        if (!records.headMap(logStartOffset, false).isEmpty()) {
            hasGaps = true; // the pass may have thinned records hidden below the start offset too
        }
        NavigableMap<Long, Rec> after = new TreeMap<>();
        for (Rec r : actual) {
            assertThat(r).as("record at %d after compaction", r.offset()).isEqualTo(records.get(r.offset()));
            after.put(r.offset(), r);
        }
        int removed = 0;
        for (Rec r : before) {
            if (after.containsKey(r.offset())) {
                continue;
            }
            removed++;
            String what = "compaction removed " + r;
            assertThat(r.offset()).as(what + " from the active segment or above the high watermark")
                    .isLessThan(Math.min(untouchedFrom, highWatermark));
            assertThat(r.timestamp()).as(what + " younger than min.compaction.lag.ms at " + nowMs)
                    .isLessThanOrEqualTo(nowMs - minCompactionLagMs);
            boolean superseded = r.key() != null && records.tailMap(r.offset(), false).values().stream()
                    .anyMatch(later -> Objects.equals(later.key(), r.key()));
            boolean expiredTombstone = r.value() == null && r.timestamp() <= nowMs - deleteRetentionMs;
            assertThat(superseded || expiredTombstone)
                    .as(what + ", which is the latest of its key and not a tombstone past delete.retention.ms at " + nowMs)
                    .isTrue();
            records.remove(r.offset());
            hasGaps = true;
        }
        return removed;
    }

    // ---------------------------------------------------------------- lookups

    /** The first visible record whose timestamp is at or after {@code timestamp}. */
    Optional<TimestampOffset> offsetForTimestamp(long timestamp) {
        for (Rec r : visible()) {
            if (r.timestamp() >= timestamp) {
                return Optional.of(new TimestampOffset(r.timestamp(), r.offset()));
            }
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        return "LogModel(start=" + logStartOffset + ", hw=" + highWatermark + ", end=" + logEndOffset + ", durable="
                + durableOffset + ", records=" + records.size() + ", gaps=" + hasGaps + ")";
    }
}

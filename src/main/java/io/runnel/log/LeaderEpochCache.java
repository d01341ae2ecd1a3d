package io.runnel.log;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A log's leader epoch cache, as Kafka's {@code LeaderEpochFileCache}: which leader epoch wrote
 * which offsets, as a list of {@link EpochEntry} (epoch, start offset). It answers
 * OffsetForLeaderEpoch ({@link #endOffsetFor}) and tells a follower where its log diverges from
 * its leader's ({@link #truncationFor}).
 *
 * <p>Invariants: epochs strictly increase, and so do start offsets; every entry's start offset is
 * at least the log start offset and at most the log end offset, and below it unless the log start
 * offset was moved to the log end. Every batch of the log stamped with an epoch e >= 0 lies in
 * the range of the entry for e (the cache <em>covers</em> the log); batches stamped -1 (none)
 * are ignored.
 *
 * <p>File {@value #FILE_NAME} in the log directory, Kafka's format, ASCII: a line {@code 0} (the
 * version), a line with the number of entries, then one line {@code <epoch> <startOffset>} per
 * entry. It is written atomically (temporary file and rename) by {@link Log#writeCheckpoint()},
 * so it can be stale: entries may be missing at the end, or describe a tail that a crash tore
 * off. Recovery ({@link Recovery}) makes it agree with the batches again.
 *
 * <p>Threading: mutated only by the owning log's thread. The entries are an immutable list
 * replaced whole on every change, so {@link #write} may run on a worker while the owner appends.
 */
final class LeaderEpochCache {

    static final String FILE_NAME = "leader-epoch-checkpoint";
    private static final String VERSION = "0";
    /** A guard on a damaged file: a log that sees this many leader changes has other problems. */
    private static final int ENTRIES_MAX = 1 << 20;

    private volatile List<EpochEntry> entries;
    /** What the file holds, so an unchanged cache is not rewritten (and fsynced) at every checkpoint. */
    private volatile List<EpochEntry> written;

    private LeaderEpochCache(List<EpochEntry> entries, List<EpochEntry> written) {
        this.entries = List.copyOf(entries);
        this.written = written;
        checkMonotonic(this.entries);
    }

    static LeaderEpochCache empty() {
        return new LeaderEpochCache(List.of(), List.of());
    }

    // ---------------------------------------------------------------- queries

    List<EpochEntry> entries() {
        return entries;
    }

    /** The latest epoch, or -1 when there is none. */
    int latestEpoch() {
        List<EpochEntry> e = entries;
        return e.isEmpty() ? -1 : e.get(e.size() - 1).epoch();
    }

    /** The epoch that wrote {@code offset} according to the cache, or -1 when no entry covers it. */
    int epochAt(long offset) {
        int epoch = -1;
        for (EpochEntry e : entries) {
            if (e.startOffset() > offset) {
                break;
            }
            epoch = e.epoch();
        }
        return epoch;
    }

    /**
     * OffsetForLeaderEpoch: the largest epoch at or below {@code requestedEpoch} and one past its
     * last offset; {@link EpochEndOffset#UNDEFINED} when {@code requestedEpoch} is below every
     * epoch (so also when the cache is empty). Kafka answers a request below every epoch with the
     * first entry's start offset instead; undefined sends the follower back to its log start,
     * which needs no trust in epochs the leader no longer has.
     */
    EpochEndOffset endOffsetFor(int requestedEpoch, long logEndOffset) {
        List<EpochEntry> e = entries;
        for (int i = e.size() - 1; i >= 0; i--) {
            if (e.get(i).epoch() <= requestedEpoch) {
                long end = i == e.size() - 1 ? logEndOffset : e.get(i + 1).startOffset();
                return new EpochEndOffset(e.get(i).epoch(), end);
            }
        }
        return EpochEndOffset.UNDEFINED;
    }

    /** See {@link Log#truncationFor}; the result lies in [log start offset, log end offset]. */
    Log.Truncation truncationFor(EpochEndOffset leaderAnswer, long logStartOffset, long logEndOffset) {
        int latest = latestEpoch();
        if (leaderAnswer.epoch() > latest) {
            throw new IllegalArgumentException("The leader answered epoch " + leaderAnswer.epoch()
                    + ", above this log's latest epoch " + latest + ": it must be its answer to our latest epoch");
        }
        if (leaderAnswer.isUndefined()) {
            return new Log.Truncation(logStartOffset, true);
        }
        EpochEndOffset ours = endOffsetFor(leaderAnswer.epoch(), logEndOffset);
        if (ours.isUndefined()) {
            return new Log.Truncation(logStartOffset, true);
        }
        long offset = Math.min(Math.min(ours.endOffset(), leaderAnswer.endOffset()), logEndOffset);
        return new Log.Truncation(Math.max(offset, logStartOffset), ours.epoch() == leaderAnswer.epoch());
    }

    // ---------------------------------------------------------------- changes (owner only)

    /**
     * Records that records written in {@code epoch} start at {@code startOffset}, if {@code epoch}
     * is newer than the latest; returns whether the cache changed. A negative epoch (a batch
     * stamped with none) is ignored. A latest entry that covers no record (its start raised to a
     * log start offset at the log end) is replaced by a newer epoch starting at the same offset.
     *
     * @throws IllegalStateException for an older epoch, or a start offset before the latest's
     */
    boolean assign(int epoch, long startOffset) {
        List<EpochEntry> e = entries;
        if (epoch < 0) {
            return false;
        }
        if (e.isEmpty()) {
            entries = List.of(new EpochEntry(epoch, startOffset));
            return true;
        }
        EpochEntry latest = e.get(e.size() - 1);
        if (epoch < latest.epoch()) {
            throw new IllegalStateException("Leader epoch " + epoch + " at offset " + startOffset
                    + " is older than the latest epoch " + latest.epoch() + " (from offset " + latest.startOffset() + ")");
        }
        if (epoch == latest.epoch()) {
            return false;
        }
        if (startOffset < latest.startOffset()) {
            throw new IllegalStateException("Leader epoch " + epoch + " cannot start at offset " + startOffset
                    + ", before the start " + latest.startOffset() + " of epoch " + latest.epoch());
        }
        List<EpochEntry> next = new ArrayList<>(e);
        if (startOffset == latest.startOffset()) {
            next.remove(next.size() - 1);
        }
        next.add(new EpochEntry(epoch, startOffset));
        entries = List.copyOf(next);
        return true;
    }

    /**
     * Kafka's assignment for an epoch that is not the newest: the entries of epochs at or above
     * {@code epoch}, and those starting at or after {@code startOffset}, are dropped first.
     */
    void assignOverriding(int epoch, long startOffset) {
        List<EpochEntry> next = new ArrayList<>();
        for (EpochEntry e : entries) {
            if (e.epoch() < epoch && e.startOffset() < startOffset) {
                next.add(e);
            }
        }
        next.add(new EpochEntry(epoch, startOffset));
        entries = List.copyOf(next);
    }

    /** Removes the entries starting at or after {@code endOffset} (the log was truncated there). */
    boolean truncateFromEnd(long endOffset) {
        List<EpochEntry> e = entries;
        int keep = e.size();
        while (keep > 0 && e.get(keep - 1).startOffset() >= endOffset) {
            keep--;
        }
        if (keep == e.size()) {
            return false;
        }
        entries = List.copyOf(e.subList(0, keep));
        return true;
    }

    /**
     * Drops the entries wholly below {@code startOffset} (the new log start offset) and raises the
     * start of the one covering it to {@code startOffset}.
     */
    boolean truncateFromStart(long startOffset) {
        List<EpochEntry> e = entries;
        int covering = -1;
        for (int i = 0; i < e.size() && e.get(i).startOffset() <= startOffset; i++) {
            covering = i;
        }
        if (covering < 0 || e.get(covering).startOffset() == startOffset && covering == 0) {
            return false;
        }
        List<EpochEntry> next = new ArrayList<>(e.subList(covering, e.size()));
        next.set(0, new EpochEntry(next.get(0).epoch(), startOffset));
        entries = List.copyOf(next);
        return true;
    }

    // ---------------------------------------------------------------- the file

    /** Writes the file atomically unless it already holds these entries. Blocking; may run on a worker. */
    void write(StorageIo io, Path dir) throws IOException {
        List<EpochEntry> snapshot = entries;
        if (snapshot.equals(written)) {
            return;
        }
        StringBuilder text = new StringBuilder(VERSION).append('\n').append(snapshot.size()).append('\n');
        for (EpochEntry e : snapshot) {
            text.append(e.epoch()).append(' ').append(e.startOffset()).append('\n');
        }
        io.writeAtomically(dir.resolve(FILE_NAME), text.toString().getBytes(StandardCharsets.US_ASCII));
        written = snapshot;
    }

    /** The entries in the file, or an empty list when there is none. */
    static List<EpochEntry> read(StorageIo io, Path dir) throws IOException {
        Path file = dir.resolve(FILE_NAME);
        byte[] bytes = io.readIfExists(file);
        if (bytes == null) {
            return List.of();
        }
        String[] lines = new String(bytes, StandardCharsets.US_ASCII).split("\n");
        try {
            if (lines.length < 2 || !lines[0].trim().equals(VERSION)) {
                throw new CorruptLogException(file, 0, "unknown leader epoch checkpoint version");
            }
            int count = Integer.parseInt(lines[1].trim());
            if (count < 0 || count > ENTRIES_MAX || lines.length != count + 2) {
                throw new CorruptLogException(file, 0, "leader epoch checkpoint claims " + count + " entries but has "
                        + (lines.length - 2) + " lines");
            }
            List<EpochEntry> out = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                String[] parts = lines[i + 2].trim().split(" ");
                if (parts.length != 2) {
                    throw new CorruptLogException(file, 0, "unreadable leader epoch entry '" + lines[i + 2] + "'");
                }
                out.add(new EpochEntry(Integer.parseInt(parts[0]), Long.parseLong(parts[1])));
            }
            checkMonotonic(out);
            return out;
        } catch (NumberFormatException e) {
            throw new CorruptLogException(file, 0, "unreadable number in the leader epoch checkpoint: " + e.getMessage());
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new CorruptLogException(file, 0, e.getMessage());
        }
    }

    private static void checkMonotonic(List<EpochEntry> entries) {
        for (int i = 1; i < entries.size(); i++) {
            EpochEntry a = entries.get(i - 1);
            EpochEntry b = entries.get(i);
            if (b.epoch() <= a.epoch() || b.startOffset() <= a.startOffset()) {
                throw new IllegalStateException("Leader epoch entries must strictly increase in epoch and start offset: "
                        + a + " then " + b);
            }
        }
    }

    // ---------------------------------------------------------------- recovery

    /**
     * Rebuilds the cache when a log opens, from the file (which may be stale, or missing) and the
     * batches of the recovered log, fed to {@link #observe} in offset order.
     *
     * <p>The file is kept where the batches agree with it: its entries cut to [log start, log
     * end), then extended by every batch with an epoch newer than the latest (what the file had
     * not caught up with). If a batch contradicts it (its epoch is not the one the file says wrote
     * its offsets), the file is dropped and the cache is rebuilt from the batches alone. The file
     * is worth keeping because compaction can remove every batch of an epoch, and only the file
     * remembers that epoch.
     */
    static final class Recovery {

        private final long logStartOffset;
        private final LeaderEpochCache fromFile;
        private final LeaderEpochCache fromBatches = empty();
        private final List<EpochEntry> fileEntries;
        private String problem;

        Recovery(List<EpochEntry> fileEntries, long logStartOffset, long logEndOffset) {
            this.logStartOffset = logStartOffset;
            this.fileEntries = fileEntries;
            this.fromFile = new LeaderEpochCache(fileEntries, fileEntries);
            fromFile.truncateFromEnd(logEndOffset);
            fromFile.truncateFromStart(logStartOffset);
        }

        /** One batch of the log, in offset order. */
        void observe(int epoch, long baseOffset, long lastOffset) {
            if (epoch < 0 || lastOffset < logStartOffset) {
                return;
            }
            long start = Math.max(baseOffset, logStartOffset);
            // Neither a batch's epoch nor its base offset is covered by its CRC, and a trusted
            // segment is not rescanned, so a damaged header must not stop the log from opening.
            List<EpochEntry> b = fromBatches.entries;
            if (b.isEmpty() || epoch > b.get(b.size() - 1).epoch() && start > b.get(b.size() - 1).startOffset()) {
                fromBatches.assign(epoch, start);
            }
            if (problem != null) {
                return;
            }
            List<EpochEntry> e = fromFile.entries;
            EpochEntry latest = e.isEmpty() ? null : e.get(e.size() - 1);
            if (latest == null || epoch > latest.epoch() && start > latest.startOffset()) {
                fromFile.assign(epoch, start);
            } else if (fromFile.epochAt(lastOffset) != epoch) {
                problem = "batch [" + baseOffset + ", " + lastOffset + "] has leader epoch " + epoch
                        + " but the leader epoch checkpoint gives epoch " + fromFile.epochAt(lastOffset)
                        + " there; rebuilt the cache from the batches";
            }
        }

        /** Why the file was dropped, or null if it was kept. */
        String problem() {
            return problem;
        }

        LeaderEpochCache finish() {
            LeaderEpochCache chosen = problem == null ? fromFile : fromBatches;
            return new LeaderEpochCache(chosen.entries, fileEntries);
        }
    }
}

package io.runnel.log;

import java.io.IOException;
import java.util.List;

/**
 * Segments that have left a log (retention, DeleteRecords, truncation, or replaced by compaction)
 * and whose files, already renamed to {@code .deleted}, are still to be closed and unlinked.
 *
 * <p>{@link #run()} blocks on the file system: run it on a worker, after {@code file.delete.delay.ms}
 * so that reads already handed out (a {@link FetchSlice} being sent) can finish. A crash before
 * it runs is harmless: opening the log removes leftover {@code .deleted} files.
 */
public final class SegmentDeletion {

    private final List<Segment> segments;

    SegmentDeletion(List<Segment> segments) {
        this.segments = List.copyOf(segments);
    }

    static SegmentDeletion none() {
        return new SegmentDeletion(List.of());
    }

    public boolean isEmpty() {
        return segments.isEmpty();
    }

    /** Number of segments to delete. */
    public int segmentCount() {
        return segments.size();
    }

    /** Closes and unlinks the files. Blocking. */
    public void run() throws IOException {
        IOException first = null;
        for (Segment s : segments) {
            try {
                s.deleteFiles();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}

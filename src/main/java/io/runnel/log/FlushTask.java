package io.runnel.log;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Path;
import java.util.List;

/**
 * A flush of one log up to {@link #targetOffset()}: the fsyncs that make every record below it
 * durable. Made on the log's owner by {@link Log#prepareFlush}, {@link #run() run} on a worker
 * (it blocks), then handed back to the owner with {@link Log#completeFlush}.
 *
 * <p>Thread-safe to run while the owner keeps appending: it only forces channels.
 */
public final class FlushTask {

    private final Log log;
    private final List<Segment> segments;
    private final long targetOffset;
    private final Path dirToSync;
    private final StorageIo io;
    private final long truncationsSeen;
    private final long directoryChangesSeen;
    private final long preparedMs;

    FlushTask(Log log, List<Segment> segments, long targetOffset, Path dirToSync, StorageIo io, long truncationsSeen,
              long directoryChangesSeen, long preparedMs) {
        this.preparedMs = preparedMs;
        this.log = log;
        this.truncationsSeen = truncationsSeen;
        this.directoryChangesSeen = directoryChangesSeen;
        this.segments = List.copyOf(segments);
        this.targetOffset = targetOffset;
        this.dirToSync = dirToSync;
        this.io = io;
    }

    /** The log's truncation count when the task was made; a truncation since then voids the task's claim. */
    long truncationsSeen() {
        return truncationsSeen;
    }

    /** The log's count of segment creations when the task was made; its directory sync covers that many. */
    long directoryChangesSeen() {
        return directoryChangesSeen;
    }

    /** The log's clock when the task was made. */
    long preparedMs() {
        return preparedMs;
    }

    /** Whether the task syncs the directory (a segment was created since the last completed flush). */
    boolean syncsDirectory() {
        return dirToSync != null;
    }

    public Log log() {
        return log;
    }

    /** Every offset below this is durable once {@link #run()} returns. */
    public long targetOffset() {
        return targetOffset;
    }

    /** The fsyncs. Blocking. */
    public void run() throws IOException {
        for (Segment s : segments) {
            try {
                s.flush();
            } catch (ClosedChannelException e) {
                // The segment left the log (retention or truncation) after the task was made; nothing to keep.
            }
        }
        if (dirToSync != null) {
            io.syncDirectory(dirToSync);
        }
    }
}

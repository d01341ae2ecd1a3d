package io.runnel.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;

import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MutableRecordBatch;
import org.apache.kafka.common.record.Record;

/**
 * One segment of a partition log: the {@code <baseOffset>.log} file of record batches (Kafka's v2
 * format, byte for byte) with its {@link OffsetIndex} and {@link TimeIndex}. File names are the
 * base offset zero-padded to 20 digits.
 *
 * <p>Invariants: the base offset is at most the base offset of every batch in the file; batches
 * are contiguous from byte 0 and their offsets strictly increase; {@link #sizeBytes()} is the
 * end of the last whole batch; {@link #nextOffset()} is one past the last offset (the base offset
 * when empty). Only the log's active (last) segment is appended to or truncated.
 *
 * <p>Threading: mutations run only on the owning log's thread. Reads of an immutable (non-active)
 * segment may also run on a worker (compaction, recovery), which is safe because positional
 * reads on a {@code FileChannel} do not share state.
 */
final class Segment {

    static final String LOG_SUFFIX = ".log";
    static final String INDEX_SUFFIX = ".index";
    static final String TIME_INDEX_SUFFIX = ".timeindex";

    private final long baseOffset;
    private final StorageIo io;
    private final int indexIntervalBytes;
    private Path logFile;
    private Path indexFile;
    private Path timeIndexFile;
    private final FileChannel log;
    private final OffsetIndex offsetIndex;
    private final TimeIndex timeIndex;

    private int sizeBytes;
    private long nextOffset;
    private long maxTimestamp = -1;
    private long offsetOfMaxTimestamp = -1;
    private int bytesSinceLastIndexEntry;
    /** Time the segment started to fill, for {@code segment.ms}: the first batch's timestamp or the clock at creation. */
    private long rollBasisMs;

    private Segment(Path dir, long baseOffset, StorageIo io, int indexIntervalBytes, int maxIndexBytes, boolean create)
            throws IOException {
        this.baseOffset = baseOffset;
        this.io = io;
        this.indexIntervalBytes = indexIntervalBytes;
        this.logFile = dir.resolve(fileName(baseOffset, LOG_SUFFIX));
        this.indexFile = dir.resolve(fileName(baseOffset, INDEX_SUFFIX));
        this.timeIndexFile = dir.resolve(fileName(baseOffset, TIME_INDEX_SUFFIX));
        this.log = io.open(logFile, true, create);
        this.offsetIndex = new OffsetIndex(indexFile, io.open(indexFile, true, true), baseOffset, maxIndexBytes);
        this.timeIndex = new TimeIndex(timeIndexFile, io.open(timeIndexFile, true, true), baseOffset, maxIndexBytes);
        this.nextOffset = baseOffset;
    }

    /** A new, empty segment; any stale files under its name are emptied. */
    static Segment create(Path dir, long baseOffset, StorageIo io, int indexIntervalBytes, int maxIndexBytes,
                          long nowMs) throws IOException {
        Segment s = new Segment(dir, baseOffset, io, indexIntervalBytes, maxIndexBytes, true);
        s.log.truncate(0);
        s.offsetIndex.reset();
        s.timeIndex.reset();
        s.rollBasisMs = nowMs;
        return s;
    }

    /**
     * Opens a segment whose bytes are trusted (below the recovery point, or after a clean
     * shutdown): batch framing is checked, CRCs are not. The indexes are loaded if they are
     * well-formed, fit the file and their last entry names the batch it points at; then only the
     * tail after the last index entry is read header by header to find the next offset. Indexes
     * that do not match (they are a cache, never fsynced) are rebuilt from every batch header.
     *
     * @throws CorruptLogException the batch headers do not line up from the start of the file
     */
    static Segment openTrusted(Path dir, long baseOffset, StorageIo io, int indexIntervalBytes, int maxIndexBytes)
            throws IOException {
        Segment s = new Segment(dir, baseOffset, io, indexIntervalBytes, maxIndexBytes, false);
        long fileSize = s.log.size();
        if (fileSize > Integer.MAX_VALUE) {
            throw new CorruptLogException(s.logFile, 0, "segment is larger than 2 GiB");
        }
        s.sizeBytes = (int) fileSize;
        boolean indexesUsable = s.offsetIndex.load() && s.timeIndex.load() && s.offsetIndex.fits(s.sizeBytes);
        if (indexesUsable && s.scanTrusted(s.offsetIndex.lookup(Long.MAX_VALUE), true) < 0) {
            return s;
        }
        s.offsetIndex.reset();
        s.timeIndex.reset();
        int misaligned = s.scanTrusted(0, false);
        if (misaligned >= 0) {
            throw new CorruptLogException(s.logFile, misaligned, misaligned == s.sizeBytes
                    ? "trailing bytes that are not a whole batch" : "batch header does not line up in a trusted segment");
        }
        return s;
    }

    /**
     * Reads the batch headers from {@code from} to the end of the file, setting the next offset,
     * largest timestamp and roll basis. With {@code indexed}, the loaded indexes cover everything
     * before {@code from}, the position of the last offset index entry. Returns -1 if the headers
     * line up (plausible, offsets increasing, ending exactly at the end of the file, and the
     * indexes fit what was read), else the position where they stop lining up.
     */
    private int scanTrusted(int from, boolean indexed) throws IOException {
        maxTimestamp = -1;
        offsetOfMaxTimestamp = -1;
        nextOffset = baseOffset;
        bytesSinceLastIndexEntry = 0;
        if (indexed && timeIndex.entries() > 0) {
            maxTimestamp = timeIndex.lastKey();
            offsetOfMaxTimestamp = baseOffset + timeIndex.lastValue();
        }
        if (indexed && offsetIndex.entries() > 0
                && (sizeBytes - from < BatchHeader.SIZE || readHeader(from).baseOffset() != baseOffset + offsetIndex.lastKey())) {
            return from;
        }
        int pos = from;
        try {
            for (BatchHeader h : headersFrom(from)) {
                if (!h.plausible(sizeBytes - pos) || h.baseOffset() < nextOffset
                        || h.lastOffset() - baseOffset > Integer.MAX_VALUE) {
                    return pos;
                }
                observeBatch(h, pos, indexed && pos == from);
                pos += h.sizeInBytes();
            }
        } catch (CorruptLogException e) {
            return pos;
        }
        if (pos != sizeBytes || (indexed && !timeIndex.fits(nextOffset))) {
            return pos;
        }
        if (sizeBytes > 0) {
            rollBasisMs = readHeader(0).maxTimestamp();
        }
        return -1;
    }

    /** What recovery found in one segment. */
    record Recovered(Segment segment, int validBytes, int truncatedBytes, String problem) {
    }

    /**
     * Opens a segment whose tail may be torn: every batch is checked by length, magic, offsets
     * and CRC; the indexes are rebuilt. The segment ends at the first bad batch; the caller
     * decides whether that cut is allowed, and makes it in the file with {@link #cutBadTail()}. A
     * batch's offsets must lie below {@code nextSegmentBase} (the next segment's base offset, or
     * {@code Long.MAX_VALUE} for the last segment) and within 2^31 of the base offset, since the
     * base offset field of a batch is not covered by its CRC.
     */
    static Recovered openRecovering(Path dir, long baseOffset, StorageIo io, int indexIntervalBytes, int maxIndexBytes,
                                    long nextSegmentBase) throws IOException {
        Segment s = new Segment(dir, baseOffset, io, indexIntervalBytes, maxIndexBytes, false);
        s.offsetIndex.reset();
        s.timeIndex.reset();
        s.maxTimestamp = -1;
        s.offsetOfMaxTimestamp = -1;
        s.nextOffset = baseOffset;
        s.bytesSinceLastIndexEntry = 0;
        long fileSize = s.log.size();
        int limit = (int) Math.min(fileSize, Integer.MAX_VALUE);
        int pos = 0;
        int previousPos = -1;
        String problem = null;
        ByteBuffer headerBuf = ByteBuffer.allocate(BatchHeader.SIZE);
        while (pos < limit) {
            if (limit - pos < BatchHeader.SIZE) {
                problem = "partial batch header";
                break;
            }
            headerBuf.clear();
            readFully(s.log, headerBuf, pos);
            headerBuf.flip();
            BatchHeader h = BatchHeader.parse(headerBuf);
            if (!h.plausible(limit - pos)) {
                problem = "batch header is not a whole v2 batch (size " + h.sizeInBytes() + ", magic " + h.magic() + ")";
                break;
            }
            if (h.baseOffset() < s.nextOffset) {
                problem = "batch offset " + h.baseOffset() + " goes backwards (expected at least " + s.nextOffset + ")";
                if (previousPos >= 0) {
                    // No CRC covers a batch's base offset, so the batch before may be the damaged one,
                    // its offsets moved up: when two neighbours disagree on order, neither is kept.
                    problem += "; the batch before it at byte " + previousPos + " is cut too";
                    pos = previousPos;
                    s.replayHeadersBefore(pos);
                }
                break;
            }
            if (h.lastOffset() >= nextSegmentBase || h.lastOffset() - baseOffset > Integer.MAX_VALUE) {
                problem = "batch offsets " + h.baseOffset() + ".." + h.lastOffset() + " do not belong in this segment"
                        + " (next segment starts at " + nextSegmentBase + ")";
                break;
            }
            ByteBuffer batchBuf = ByteBuffer.allocate(h.sizeInBytes());
            readFully(s.log, batchBuf, pos);
            batchBuf.flip();
            MutableRecordBatch batch = MemoryRecords.readableRecords(batchBuf).batches().iterator().next();
            if (!batch.isValid()) {
                problem = "batch at offset " + h.baseOffset() + " fails its CRC";
                break;
            }
            if (pos == 0) {
                s.rollBasisMs = h.maxTimestamp();
            }
            s.observeBatch(h, pos, false);
            previousPos = pos;
            pos += h.sizeInBytes();
        }
        int truncated = (int) (fileSize - pos);
        s.sizeBytes = pos;
        s.persistIndexes();
        // The file keeps its bad tail until the caller has decided the cut is allowed (cutBadTail):
        // a log that refuses to open must leave the evidence as it found it.
        return new Recovered(s, pos, truncated, problem);
    }

    /** Forgets the batches from {@code position} on (recovery, truncation): rebuilds the state from the headers before it. */
    private void replayHeadersBefore(int position) throws IOException {
        offsetIndex.reset();
        timeIndex.reset();
        maxTimestamp = -1;
        offsetOfMaxTimestamp = -1;
        nextOffset = baseOffset;
        bytesSinceLastIndexEntry = 0;
        sizeBytes = position;
        int p = 0;
        for (BatchHeader h : headersFrom(0)) {
            observeBatch(h, p, false);
            p += h.sizeInBytes();
        }
    }

    /** Cuts the file at {@link #sizeBytes()}, removing the tail that {@link #openRecovering} found bad. */
    void cutBadTail() throws IOException {
        if (log.size() > sizeBytes) {
            log.truncate(sizeBytes);
        }
    }

    /** Updates the in-memory state and indexes for a batch at {@code position} that is already in the file. */
    private void observeBatch(BatchHeader h, int position, boolean alreadyIndexed) {
        if (h.maxTimestamp() > maxTimestamp) {
            maxTimestamp = h.maxTimestamp();
            offsetOfMaxTimestamp = h.baseOffset();
        }
        if (!alreadyIndexed && bytesSinceLastIndexEntry > indexIntervalBytes && !offsetIndex.isFull()) {
            offsetIndex.append(h.baseOffset(), position);
            timeIndex.maybeAppend(maxTimestamp, offsetOfMaxTimestamp);
            bytesSinceLastIndexEntry = 0;
        }
        if (alreadyIndexed) {
            bytesSinceLastIndexEntry = 0;
        }
        bytesSinceLastIndexEntry += h.sizeInBytes();
        nextOffset = h.nextOffset();
    }

    /**
     * Appends batches whose offsets are already assigned. On an I/O error the file is cut back to
     * its previous size, so a failed append leaves no byte behind.
     */
    void append(ByteBuffer[] batches, List<BatchHeader> headers, long nowMs) throws IOException {
        int start = sizeBytes;
        long expected = 0;
        ByteBuffer[] srcs = new ByteBuffer[batches.length];
        for (int i = 0; i < batches.length; i++) {
            srcs[i] = batches[i].duplicate();
            expected += srcs[i].remaining();
        }
        if ((long) start + expected > Integer.MAX_VALUE) {
            throw new IllegalStateException("Segment " + logFile + " would exceed 2 GiB");
        }
        try {
            // One gathering write at the end of the file: the owner is the only writer of this channel.
            log.position(start);
            long written = 0;
            while (written < expected) {
                written += log.write(srcs);
            }
        } catch (IOException | RuntimeException e) {
            try {
                log.truncate(start);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        if (start == 0) {
            rollBasisMs = headers.isEmpty() ? nowMs : headers.get(0).maxTimestamp();
        }
        int p = start;
        for (BatchHeader h : headers) {
            observeBatch(h, p, false);
            p += h.sizeInBytes();
        }
        sizeBytes = p;
    }

    /**
     * Whole batches from the first one holding an offset at or after {@code startOffset}, up to
     * {@code maxBytes} (but at least one batch, so a consumer always makes progress) and only
     * batches that start below {@code maxOffsetExclusive}. Empty if the segment has no such batch.
     */
    FetchSlice read(long startOffset, int maxBytes, long maxOffsetExclusive) throws IOException {
        int pos = offsetIndex.lookup(startOffset);
        int start = -1;
        long firstOffset = -1;
        int end = -1;
        for (BatchHeader h : headersFrom(pos)) {
            if (start < 0) {
                if (h.lastOffset() >= startOffset) {
                    if (h.baseOffset() >= maxOffsetExclusive) {
                        return FetchSlice.empty(startOffset);
                    }
                    start = pos;
                    firstOffset = h.baseOffset();
                    end = pos + h.sizeInBytes();
                }
            } else {
                if (h.baseOffset() >= maxOffsetExclusive || (pos + h.sizeInBytes()) - start > maxBytes) {
                    break;
                }
                end = pos + h.sizeInBytes();
            }
            pos += h.sizeInBytes();
        }
        if (start < 0) {
            return FetchSlice.empty(startOffset);
        }
        return new FetchSlice(logFile, log, start, end - start, firstOffset);
    }

    /** The first record at or after {@code timestamp}, searching from the time index's hint. */
    Optional<TimestampOffset> findByTimestamp(long timestamp, long minOffset) throws IOException {
        if (maxTimestamp < timestamp) {
            return Optional.empty();
        }
        long fromOffset = Math.max(minOffset, timeIndex.lookupStartOffset(timestamp));
        int pos = offsetIndex.lookup(fromOffset);
        for (BatchHeader h : headersFrom(pos)) {
            if (h.lastOffset() >= fromOffset && h.maxTimestamp() >= timestamp) {
                MutableRecordBatch batch = readBatch(pos, h.sizeInBytes());
                for (Record r : batch) {
                    long ts = batch.timestampType() == org.apache.kafka.common.record.TimestampType.LOG_APPEND_TIME
                            ? batch.maxTimestamp() : r.timestamp();
                    if (r.offset() >= fromOffset && ts >= timestamp) {
                        return Optional.of(new TimestampOffset(ts, r.offset()));
                    }
                }
            }
            pos += h.sizeInBytes();
        }
        return Optional.empty();
    }

    /**
     * Removes every batch that holds an offset at or after {@code offset}: the segment is cut at
     * the start of the first such batch. Returns the new next offset.
     */
    long truncateTo(long offset) throws IOException {
        int pos = 0;
        int cut = -1;
        for (BatchHeader h : headersFrom(0)) {
            if (h.lastOffset() >= offset) {
                cut = pos;
                break;
            }
            pos += h.sizeInBytes();
        }
        if (cut < 0) {
            return nextOffset;
        }
        log.truncate(cut);
        // Rebuild the next offset, largest timestamp and indexes from what is left; truncation is rare.
        replayHeadersBefore(cut);
        persistIndexes();
        return nextOffset;
    }

    /** Reads the batch headers from {@code position} to the end of the file, lazily. */
    Iterable<BatchHeader> headersFrom(int position) {
        return () -> new Iterator<>() {
            private int pos = position;
            private final int end = sizeBytes;
            private final ByteBuffer buf = ByteBuffer.allocate(BatchHeader.SIZE);
            private BatchHeader next;

            @Override
            public boolean hasNext() {
                if (next == null && pos + BatchHeader.SIZE <= end) {
                    buf.clear();
                    try {
                        readFully(log, buf, pos);
                    } catch (IOException e) {
                        throw new org.apache.kafka.common.errors.KafkaStorageException("Reading " + logFile, e);
                    }
                    buf.flip();
                    next = BatchHeader.parse(buf);
                    if (next.sizeInBytes() < BatchHeader.SIZE) {
                        throw new CorruptLogException(logFile, pos, "batch size " + next.sizeInBytes());
                    }
                    pos += next.sizeInBytes();
                }
                return next != null;
            }

            @Override
            public BatchHeader next() {
                if (!hasNext()) {
                    throw new java.util.NoSuchElementException();
                }
                BatchHeader h = next;
                next = null;
                return h;
            }
        };
    }

    BatchHeader readHeader(int position) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(BatchHeader.SIZE);
        readFully(log, buf, position);
        buf.flip();
        return BatchHeader.parse(buf);
    }

    MutableRecordBatch readBatch(int position, int size) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(size);
        readFully(log, buf, position);
        buf.flip();
        return MemoryRecords.readableRecords(buf).batches().iterator().next();
    }

    /** Reads whole batches starting at {@code position}, at least one and up to about {@code maxBytes}. */
    ByteBuffer readBatches(int position, int maxBytes) throws IOException {
        int end = position;
        for (BatchHeader h : headersFrom(position)) {
            if (end > position && end + h.sizeInBytes() - position > maxBytes) {
                break;
            }
            end += h.sizeInBytes();
        }
        ByteBuffer buf = ByteBuffer.allocate(end - position);
        readFully(log, buf, position);
        buf.flip();
        return buf;
    }

    static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("Unexpected end of file at " + pos);
            }
            pos += n;
        }
    }

    /** Writes pending index entries to the page cache. */
    void persistIndexes() throws IOException {
        offsetIndex.persist();
        timeIndex.persist();
    }

    /** Makes the log file's bytes durable (fsync). Safe to call from a worker while the owner appends. */
    void flush() throws IOException {
        log.force(false);
    }

    void close() throws IOException {
        try {
            persistIndexes();
        } finally {
            log.close();
            offsetIndex.channel().close();
            timeIndex.channel().close();
        }
    }

    /** Closes the files, ignoring errors (used when the segment is being thrown away). */
    void closeQuietly() {
        try {
            log.close();
            offsetIndex.channel().close();
            timeIndex.channel().close();
        } catch (IOException ignored) {
            // Nothing useful to do: the files are going away.
        }
    }

    /** Renames the segment's files by adding {@code suffix} (such as {@code .deleted}); open channels stay usable. */
    void renameWithSuffix(String suffix) throws IOException {
        Path newLog = logFile.resolveSibling(fileName(baseOffset, LOG_SUFFIX) + suffix);
        Path newIndex = indexFile.resolveSibling(fileName(baseOffset, INDEX_SUFFIX) + suffix);
        Path newTime = timeIndexFile.resolveSibling(fileName(baseOffset, TIME_INDEX_SUFFIX) + suffix);
        io.moveAtomically(logFile, newLog);
        logFile = newLog;
        io.moveAtomically(indexFile, newIndex);
        indexFile = newIndex;
        io.moveAtomically(timeIndexFile, newTime);
        timeIndexFile = newTime;
    }

    /** Deletes the segment's files under their current names. */
    void deleteFiles() throws IOException {
        closeQuietly();
        io.deleteIfExists(logFile);
        io.deleteIfExists(indexFile);
        io.deleteIfExists(timeIndexFile);
    }

    boolean indexesFull() {
        return offsetIndex.isFull() || timeIndex.isFull();
    }

    long baseOffset() {
        return baseOffset;
    }

    long nextOffset() {
        return nextOffset;
    }

    int sizeBytes() {
        return sizeBytes;
    }

    long maxTimestamp() {
        return maxTimestamp;
    }

    long rollBasisMs() {
        return rollBasisMs;
    }

    Path logFile() {
        return logFile;
    }

    FileChannel channel() {
        return log;
    }

    static String fileName(long baseOffset, String suffix) {
        return String.format("%020d", baseOffset) + suffix;
    }

    @Override
    public String toString() {
        return "Segment(" + logFile.getFileName() + ", next=" + nextOffset + ", bytes=" + sizeBytes + ")";
    }
}

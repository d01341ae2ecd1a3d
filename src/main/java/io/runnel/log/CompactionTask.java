package io.runnel.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MutableRecordBatch;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.utils.BufferSupplier;
import org.apache.kafka.common.utils.Utils;

import io.runnel.config.LogConfig;

/**
 * One compaction pass over a log's closed segments ({@code cleanup.policy=compact}): keep only the
 * latest record of each key, at its original offset and in order; drop tombstones (null values)
 * older than {@code delete.retention.ms}. Compressed batches are decompressed, filtered and
 * recompressed with their own codec by kafka-clients' {@code MemoryRecords.filterTo}.
 *
 * <p>Made by {@link Log#prepareCompaction} on the owner, {@link #run() run} on a worker, finished
 * by {@link Log#completeCompaction} on the owner. While it runs the owner may keep appending to
 * the active segment and reading any segment; it does not truncate or apply retention.
 *
 * <p>Crash safety, step by step, for each group of segments [s1..sk] replaced by one cleaned
 * segment (named after s1, covering offsets up to the next segment's base {@code end}):
 * <ol>
 *   <li>write {@code <s1>.log.cleaned} and fsync it — a crash here leaves the old segments intact
 *       and the {@code .cleaned} file is deleted on open;</li>
 *   <li>rename it to {@code <s1>.log.swap-<end>} and fsync the directory — from here on, opening
 *       the log completes the swap: it deletes the old segments in [s1, end) and renames the swap
 *       file to {@code <s1>.log};</li>
 *   <li>rename the old segments to {@code .deleted}, rename the swap to {@code <s1>.log}, fsync
 *       the directory.</li>
 * </ol>
 * So a crash at any moment leaves either the log before compaction or the log after it.
 */
public final class CompactionTask {

    /** Bytes read from a segment at a time (rounded to whole batches, at least one). */
    static final int READ_CHUNK_BYTES = 1 << 20;
    /** Bytes a key costs in the offset map beyond its own bytes (object headers, entry, boxed offset). */
    static final int KEY_OVERHEAD_BYTES = 64;

    /** One cleaned segment and the segments it replaced. */
    public record Replacement(List<Segment> replaced, Segment cleaned) {
    }

    /** What a pass did. */
    public record Result(List<Replacement> replacements, long bytesRead, long bytesWritten, long recordsRead,
                         long recordsRetained) {
    }

    private final Log log;
    private final Path dir;
    private final StorageIo io;
    private final LogConfig config;
    private final List<Segment> candidates;
    private final long endOffset;
    private final long nowMs;
    private final Map<Long, Long> producerLastOffsets;
    private final int maxKeyBytes;
    private final long firstDirtyOffset;

    /**
     * @param firstDirtyOffset where the previous pass stopped: the key map is built from the first
     *     candidate holding an offset at or after it (or from the first candidate when none does), so a
     *     pass whose map fills before the last candidate is followed by one that goes further
     */
    CompactionTask(Log log, Path dir, StorageIo io, LogConfig config, List<Segment> candidates, long endOffset,
                   long nowMs, Map<Long, Long> producerLastOffsets, int maxKeyBytes, long firstDirtyOffset) {
        this.log = log;
        this.dir = dir;
        this.io = io;
        this.config = config;
        this.candidates = List.copyOf(candidates);
        this.endOffset = endOffset;
        this.nowMs = nowMs;
        this.producerLastOffsets = Map.copyOf(producerLastOffsets);
        this.maxKeyBytes = maxKeyBytes;
        this.firstDirtyOffset = firstDirtyOffset;
    }

    public Log log() {
        return log;
    }

    /** The pass. Blocking; on failure the old segments are left as they were. */
    public Result run() throws IOException {
        Map<ByteBuffer, Long> latest = new HashMap<>();
        int covered = buildOffsetMap(latest);
        List<Segment> toClean = candidates.subList(0, covered);
        long end = covered < candidates.size() ? candidates.get(covered).baseOffset() : endOffset;

        List<Replacement> replacements = new ArrayList<>();
        long[] stats = new long[4];
        for (List<Segment> group : groupBySize(toClean)) {
            int last = toClean.indexOf(group.get(group.size() - 1));
            long groupEnd = last + 1 < toClean.size() ? toClean.get(last + 1).baseOffset() : end;
            replacements.add(cleanGroup(group, groupEnd, latest, stats));
        }
        return new Result(replacements, stats[0], stats[1], stats[2], stats[3]);
    }

    /**
     * Maps each key to the offset of its latest record in the candidates, reading from the first
     * dirty one (see {@code firstDirtyOffset}). Stops after the segment where the keys' memory
     * passes {@code maxKeyBytes} (at least one segment is always read). Returns how many candidates
     * are covered: every candidate up to the last one read, since records in the earlier, already
     * clean ones are dropped when a key in the map supersedes them. A key's entry may point into a
     * segment that is read but not covered; that is safe, since that later record stays.
     */
    private int buildOffsetMap(Map<ByteBuffer, Long> latest) throws IOException {
        long keyBytes = 0;
        int dirtyFrom = 0;
        while (dirtyFrom < candidates.size() && candidates.get(dirtyFrom).nextOffset() <= firstDirtyOffset) {
            dirtyFrom++;
        }
        if (dirtyFrom == candidates.size()) {
            dirtyFrom = 0; // everything was cleaned already: a whole pass again, which also expires tombstones
        }
        int covered = dirtyFrom;
        for (Segment s : candidates.subList(dirtyFrom, candidates.size())) {
            if (covered > dirtyFrom && keyBytes > maxKeyBytes) {
                break;
            }
            int pos = 0;
            while (pos < s.sizeBytes()) {
                ByteBuffer chunk = s.readBatches(pos, READ_CHUNK_BYTES);
                pos += chunk.remaining();
                for (MutableRecordBatch batch : MemoryRecords.readableRecords(chunk).batches()) {
                    for (Record r : batch) {
                        if (!r.hasKey()) {
                            continue;
                        }
                        ByteBuffer key = ByteBuffer.wrap(Utils.toArray(r.key()));
                        if (latest.put(key, r.offset()) == null) {
                            keyBytes += key.capacity() + KEY_OVERHEAD_BYTES;
                        }
                    }
                }
            }
            covered++;
        }
        return covered;
    }

    /** Consecutive segments whose total size fits one segment. */
    private List<List<Segment>> groupBySize(List<Segment> segs) {
        List<List<Segment>> groups = new ArrayList<>();
        List<Segment> current = new ArrayList<>();
        long bytes = 0;
        long limit = Math.min(config.segmentBytes, Integer.MAX_VALUE / 2);
        for (Segment s : segs) {
            if (!current.isEmpty() && bytes + s.sizeBytes() > limit) {
                groups.add(current);
                current = new ArrayList<>();
                bytes = 0;
            }
            current.add(s);
            bytes += s.sizeBytes();
        }
        if (!current.isEmpty()) {
            groups.add(current);
        }
        return groups;
    }

    private Replacement cleanGroup(List<Segment> group, long groupEnd, Map<ByteBuffer, Long> latest, long[] stats)
            throws IOException {
        long base = group.get(0).baseOffset();
        Path cleaned = dir.resolve(Segment.fileName(base, Segment.LOG_SUFFIX + Log.CLEANED_SUFFIX));
        Path swap = dir.resolve(Segment.fileName(base, Segment.LOG_SUFFIX + Log.SWAP_SUFFIX)
                + String.format("%020d", groupEnd));
        MemoryRecords.RecordFilter filter = new MemoryRecords.RecordFilter(nowMs, config.deleteRetentionMs) {
            @Override
            protected BatchRetentionResult checkBatchRetention(RecordBatch batch) {
                // A producer's last batch keeps its header so its sequence state survives a restart.
                Long producerLast = batch.hasProducerId() ? producerLastOffsets.get(batch.producerId()) : null;
                boolean keepHeader = producerLast != null && producerLast == batch.lastOffset();
                return new BatchRetentionResult(keepHeader ? BatchRetention.RETAIN_EMPTY : BatchRetention.DELETE_EMPTY, false);
            }

            @Override
            protected boolean shouldRetainRecord(RecordBatch batch, Record record) {
                if (!record.hasKey()) {
                    return true;
                }
                Long newest = latest.get(record.key());
                if (newest != null && newest != record.offset()) {
                    return false;
                }
                boolean tombstone = !record.hasValue();
                return !tombstone || batch.maxTimestamp() > nowMs - config.deleteRetentionMs;
            }
        };
        try (FileChannel out = io.open(cleaned, true, true)) {
            out.truncate(0);
            long writePos = 0;
            ByteBuffer outBuf = ByteBuffer.allocate(READ_CHUNK_BYTES);
            for (Segment s : group) {
                int pos = 0;
                while (pos < s.sizeBytes()) {
                    ByteBuffer chunk = s.readBatches(pos, READ_CHUNK_BYTES);
                    pos += chunk.remaining();
                    stats[0] += chunk.remaining();
                    if (outBuf.capacity() < chunk.remaining()) {
                        outBuf = ByteBuffer.allocate(chunk.remaining());
                    }
                    outBuf.clear();
                    MemoryRecords.FilterResult fr = MemoryRecords.readableRecords(chunk)
                            .filterTo(filter, outBuf, BufferSupplier.NO_CACHING);
                    stats[2] += fr.messagesRead();
                    stats[3] += fr.messagesRetained();
                    ByteBuffer written = fr.outputBuffer();
                    written.flip();
                    while (written.hasRemaining()) {
                        writePos += out.write(written, writePos);
                    }
                    if (fr.outputBuffer().capacity() > outBuf.capacity()) {
                        outBuf = fr.outputBuffer();
                    }
                }
            }
            out.force(true);
            stats[1] += writePos;
        } catch (IOException | RuntimeException e) {
            io.deleteIfExists(cleaned);
            throw e;
        }
        io.moveAtomically(cleaned, swap);
        io.syncDirectory(dir);
        for (Segment s : group) {
            s.renameWithSuffix(Log.DELETED_SUFFIX);
        }
        io.moveAtomically(swap, dir.resolve(Segment.fileName(base, Segment.LOG_SUFFIX)));
        io.syncDirectory(dir);
        Segment fresh = Segment.openTrusted(dir, base, io, config.indexIntervalBytes, config.segmentIndexBytes);
        fresh.persistIndexes();
        return new Replacement(List.copyOf(group), fresh);
    }
}

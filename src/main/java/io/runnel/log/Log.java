package io.runnel.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

import org.apache.kafka.common.errors.CorruptRecordException;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.record.CompressionType;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MutableRecordBatch;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.runnel.config.LogConfig;

/**
 * One partition's log: a directory ({@code <data>/<topic>-<partition>/}) of {@link Segment}s in
 * offset order, the last of which (the active segment) takes appends.
 *
 * <p>Offsets, with Kafka's meanings: {@code logStartOffset <= highWatermark <= logEndOffset};
 * the log start offset is the first offset a reader may ask for (segments below it are deleted,
 * DeleteRecords moves it); the log end offset is one past the last appended record; the high
 * watermark is set by the broker (records below it may be served to consumers); the recovery
 * point ({@link #durableOffset()}) is one past the last record known to be fsynced. Every record
 * below the recovery point survives a crash; recovery scans only what lies after it.
 *
 * <p>Leader epochs: every batch carries the epoch of the leader that wrote it (its
 * partitionLeaderEpoch). The {@link LeaderEpochCache} maps epochs to the offsets they wrote, for
 * OffsetForLeaderEpoch ({@link #endOffsetForEpoch}) and for a follower to find where its log
 * diverges from its leader's ({@link #truncationFor}). Epochs never go back along the log: an
 * append in an epoch older than the latest is refused. A leader appends with {@link #appendAll};
 * a follower copies its leader's batches, offsets and epochs as they are, with
 * {@link #appendAsFollower}.
 *
 * <p>Files besides the segments: {@code checkpoint} (log start offset and recovery point, written
 * atomically), {@code leader-epoch-checkpoint} (the epoch cache, written atomically with the
 * checkpoint and rebuilt on open from the batches where it is stale) and {@code .clean-shutdown}
 * (present only between a clean close and the next open).
 * Leftovers of interrupted work are resolved on open: {@code .cleaned} (compaction output not yet
 * swapped in) is deleted, {@code .swap-<end>} (compaction output complete) replaces the segments
 * in [its base, end), {@code .deleted} is removed.
 *
 * <p>Threading: not thread-safe. Every method runs on the owner (the partition's context), and
 * the owner never blocks on fsync, compaction or deletion: those are handed out as tasks
 * ({@link FlushTask}, {@link CompactionTask}, {@link SegmentDeletion}) to run on a worker and
 * hand their results back. {@link #open} and {@link #close} block and run on a worker.
 */
public final class Log implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Log.class);

    static final String CHECKPOINT_FILE = "checkpoint";
    static final String CLEAN_SHUTDOWN_FILE = ".clean-shutdown";
    static final String CLEANED_SUFFIX = ".cleaned";
    static final String SWAP_SUFFIX = ".swap-";
    static final String DELETED_SUFFIX = ".deleted";

    private final Path dir;
    private final StorageIo io;
    private final Clock clock;
    private LogConfig config;
    private final TreeMap<Long, Segment> segments = new TreeMap<>();
    private final ProducerStateManager producers = new ProducerStateManager();
    private RecoveryReport recoveryReport;
    private LeaderEpochCache epochs = LeaderEpochCache.empty();

    private long logStartOffset;
    private long highWatermark;
    private long recoveryPoint;
    /** When the oldest record that is not yet durable was appended (-1: everything is durable), for flush.ms. */
    private long unflushedSinceMs = -1;
    /**
     * Segment files created so far, and how many of those creations a completed flush has made
     * durable with a directory sync. Counted rather than flagged so that a flush that fails leaves
     * the directory sync owed to the next one.
     */
    private long directoryChanges;
    private long directoryChangesSynced;
    /** Bumped by truncation, so a flush prepared before it cannot claim offsets written after it. */
    private long truncations;
    private boolean compacting;
    /**
     * Where the last compaction pass stopped: the next pass builds its key map from here, so a pass
     * cut short by its key memory is followed by one that reaches later segments. In memory only;
     * after a restart the first pass starts from the beginning.
     */
    private long firstDirtyOffset;
    private boolean checkpointDirty;
    private boolean closed;

    private Log(Path dir, LogConfig config, StorageIo io, Clock clock) {
        this.dir = dir;
        this.config = config;
        this.io = io;
        this.clock = clock;
    }

    /** What opening the log found and repaired. */
    public record RecoveryReport(boolean cleanShutdown, int segmentsScanned, long bytesTruncated,
                                 int segmentsDropped, int swapsCompleted, List<String> problems) {
    }

    // ---------------------------------------------------------------- open and recovery

    /** Opens (creating if needed) the log in {@code dir}, recovering after an unclean stop. Blocking. */
    public static Log open(Path dir, LogConfig config, StorageIo io, Clock clock) throws IOException {
        io.createDirectories(dir);
        int swaps = finishInterruptedFileOperations(dir, io);
        Checkpoint cp = Checkpoint.read(io, dir.resolve(CHECKPOINT_FILE));
        List<String> problems = new ArrayList<>();
        List<EpochEntry> checkpointedEpochs;
        try {
            checkpointedEpochs = LeaderEpochCache.read(io, dir);
        } catch (CorruptLogException e) {
            // Unlike the checkpoint, the epoch cache can be rebuilt from the batches.
            LOG.warn("Recovered log {}: {}", dir, e.getMessage());
            problems.add(e.getMessage() + "; rebuilt the leader epoch cache from the batches");
            checkpointedEpochs = List.of();
        }
        boolean clean = io.exists(dir.resolve(CLEAN_SHUTDOWN_FILE));
        long trustedBelow = clean ? Long.MAX_VALUE : cp.recoveryPoint();

        TreeSet<Long> bases = new TreeSet<>();
        for (Path f : io.list(dir)) {
            String name = f.getFileName().toString();
            if (name.endsWith(Segment.LOG_SUFFIX) && name.length() == 20 + Segment.LOG_SUFFIX.length()) {
                bases.add(Long.parseLong(name.substring(0, 20)));
            }
        }
        int scanned = 0;
        long truncatedBytes = 0;
        int dropped = 0;
        TreeMap<Long, Segment> opened = new TreeMap<>();
        List<Long> ordered = new ArrayList<>(bases);
        // Cuts are made only once every segment has been checked, so a log that refuses to open
        // leaves its segment files as it found them.
        Segment torn = null;
        List<Long> droppedBases = new ArrayList<>();
        try {
            for (int i = 0; i < ordered.size(); i++) {
                long base = ordered.get(i);
                boolean last = i == ordered.size() - 1;
                long nextBase = last ? Long.MAX_VALUE : ordered.get(i + 1);
                Segment seg;
                if (nextBase <= trustedBelow && (!last || clean)) {
                    seg = Segment.openTrusted(dir, base, io, config.indexIntervalBytes, config.segmentIndexBytes);
                } else {
                    Segment.Recovered r = Segment.openRecovering(dir, base, io, config.indexIntervalBytes,
                            config.segmentIndexBytes, nextBase);
                    scanned++;
                    seg = r.segment();
                    String problem = r.problem();
                    if (problem == null && !last && !config.cleanupCompact && seg.nextOffset() < nextBase) {
                        // Only compaction leaves gaps between segments; without it, a segment that ends
                        // short of the next one lost its tail (a power failure can drop unflushed appends
                        // at a batch boundary) and what follows must not be served after a hole.
                        problem = "segment ends at offset " + seg.nextOffset() + " but the next one starts at " + nextBase;
                    }
                    if (problem != null) {
                        long cutAt = seg.nextOffset();
                        String msg = seg.logFile() + ": " + problem + " at byte " + r.validBytes()
                                + "; truncated " + r.truncatedBytes() + " bytes, log now ends at offset " + cutAt;
                        if (!clean && cutAt < cp.recoveryPoint()) {
                            seg.closeQuietly();
                            throw new CorruptLogException(seg.logFile(), r.validBytes(), problem
                                    + " below the recovery point " + cp.recoveryPoint() + " (durable records would be lost)");
                        }
                        LOG.warn("Recovered log {}: {}", dir, msg);
                        problems.add(msg);
                        truncatedBytes += r.truncatedBytes();
                        torn = seg;
                        if (!last) {
                            // Everything after a torn batch was written after it and was never durable.
                            for (int j = i + 1; j < ordered.size(); j++) {
                                Path later = dir.resolve(Segment.fileName(ordered.get(j), Segment.LOG_SUFFIX));
                                problems.add("dropped segment " + later + " after the torn batch");
                                droppedBases.add(ordered.get(j));
                                dropped++;
                            }
                            opened.put(base, seg);
                            break;
                        }
                    }
                }
                Segment prev = opened.isEmpty() ? null : opened.lastEntry().getValue();
                if (prev != null && seg.baseOffset() < prev.nextOffset()) {
                    seg.closeQuietly();
                    throw new CorruptLogException(seg.logFile(), 0, "segment starts at offset " + seg.baseOffset()
                            + " but the previous segment " + prev.logFile().getFileName() + " ends at " + prev.nextOffset());
                }
                opened.put(base, seg);
            }
            long end = opened.isEmpty() ? Math.max(0, cp.logStartOffset()) : opened.lastEntry().getValue().nextOffset();
            if (!clean && end < cp.recoveryPoint()) {
                // Every batch left is whole, yet records the checkpoint says were durable are gone (a
                // segment cut between batches, or removed). truncateTo lowers the checkpoint first.
                Path where = opened.isEmpty() ? dir : opened.lastEntry().getValue().logFile();
                throw new CorruptLogException(where, opened.isEmpty() ? 0 : opened.lastEntry().getValue().sizeBytes(),
                        "the log ends at offset " + end + ", below the recovery point " + cp.recoveryPoint()
                                + " (durable records are missing)");
            }
        } catch (IOException | RuntimeException e) {
            opened.values().forEach(Segment::closeQuietly);
            throw e;
        }

        Log log = new Log(dir, config, io, clock);
        log.segments.putAll(opened);
        try {
            if (log.segments.isEmpty()) {
                long base = Math.max(0, cp.logStartOffset());
                log.segments.put(base, Segment.create(dir, base, io, config.indexIntervalBytes,
                        config.segmentIndexBytes, clock.millis()));
            }
            log.logStartOffset = Math.max(cp.logStartOffset(), log.segments.firstKey());
            if (log.logStartOffset > log.logEndOffset()) {
                log.logStartOffset = log.logEndOffset();
            }
            LeaderEpochCache.Recovery epochRecovery = new LeaderEpochCache.Recovery(checkpointedEpochs,
                    log.logStartOffset, log.logEndOffset());
            for (Segment s : log.segments.values()) {
                for (BatchHeader h : s.headersFrom(0)) {
                    log.producers.update(h);
                    epochRecovery.observe(h.partitionLeaderEpoch(), h.baseOffset(), h.lastOffset());
                }
            }
            log.epochs = epochRecovery.finish();
            if (epochRecovery.problem() != null) {
                LOG.warn("Recovered log {}: {}", dir, epochRecovery.problem());
                problems.add(epochRecovery.problem());
            }
            log.recoveryReport = new RecoveryReport(clean, scanned, truncatedBytes, dropped, swaps, List.copyOf(problems));
            // The segments after a torn one go first, newest first, and only then is the torn tail
            // cut, so a crash in between leaves a prefix of the log that recovers the same way.
            for (int j = droppedBases.size() - 1; j >= 0; j--) {
                deleteSegmentFiles(dir, droppedBases.get(j), io);
            }
            if (!droppedBases.isEmpty()) {
                io.syncDirectory(dir);
            }
            if (torn != null) {
                torn.cutBadTail();
            }
            // Everything that survived recovery is made durable now, so the recovery point is the end.
            for (Segment s : log.segments.values()) {
                s.flush();
            }
            io.syncDirectory(dir);
            log.recoveryPoint = log.logEndOffset();
            log.highWatermark = log.logEndOffset();
            log.writeCheckpoint();
            io.deleteIfExists(dir.resolve(CLEAN_SHUTDOWN_FILE));
            io.syncDirectory(dir);
        } catch (IOException | RuntimeException e) {
            log.segments.values().forEach(Segment::closeQuietly);
            throw e;
        }
        return log;
    }

    /** Resolves leftovers of compaction and deletion interrupted by a crash; returns swaps completed. */
    private static int finishInterruptedFileOperations(Path dir, StorageIo io) throws IOException {
        int swaps = 0;
        List<Path> files = io.list(dir);
        for (Path f : files) {
            String name = f.getFileName().toString();
            if (name.endsWith(CLEANED_SUFFIX) || name.endsWith(DELETED_SUFFIX) || name.endsWith(".tmp")) {
                io.deleteIfExists(f);
            }
        }
        for (Path f : files) {
            String name = f.getFileName().toString();
            int at = name.indexOf(Segment.LOG_SUFFIX + SWAP_SUFFIX);
            if (at != 20) {
                continue;
            }
            long base = Long.parseLong(name.substring(0, 20));
            long end = Long.parseLong(name.substring(at + (Segment.LOG_SUFFIX + SWAP_SUFFIX).length()));
            for (Path other : io.list(dir)) {
                // Index files count too: a crash while the replaced segments were being renamed to
                // .deleted can leave a segment's indexes without its .log.
                String on = other.getFileName().toString();
                boolean segmentFile = on.endsWith(Segment.LOG_SUFFIX) || on.endsWith(Segment.INDEX_SUFFIX)
                        || on.endsWith(Segment.TIME_INDEX_SUFFIX);
                if (segmentFile && on.length() > 20 && on.charAt(20) == '.') {
                    long b = Long.parseLong(on.substring(0, 20));
                    if (b >= base && b < end) {
                        deleteSegmentFiles(dir, b, io);
                    }
                }
            }
            // The replaced first segment's indexes describe the old file; they are rebuilt.
            deleteSegmentFiles(dir, base, io);
            io.moveAtomically(f, dir.resolve(Segment.fileName(base, Segment.LOG_SUFFIX)));
            io.syncDirectory(dir);
            swaps++;
        }
        return swaps;
    }

    private static void deleteSegmentFiles(Path dir, long base, StorageIo io) throws IOException {
        io.deleteIfExists(dir.resolve(Segment.fileName(base, Segment.LOG_SUFFIX)));
        io.deleteIfExists(dir.resolve(Segment.fileName(base, Segment.INDEX_SUFFIX)));
        io.deleteIfExists(dir.resolve(Segment.fileName(base, Segment.TIME_INDEX_SUFFIX)));
    }

    // ---------------------------------------------------------------- append

    /**
     * Validates and appends record batches as the leader of {@code leaderEpoch}, assigning offsets
     * and stamping the epoch in place (the buffer of {@code records} is modified). Nothing is
     * written unless every batch passes: magic 2, CRC,
     * size within {@code max.message.bytes}, record count and offset deltas consistent, keys on
     * compacted topics, producer sequence in order. A producer's retry of a batch already in the
     * log writes nothing and returns the original offsets.
     *
     * @throws CorruptRecordException a batch's CRC or framing is wrong
     * @throws RecordTooLargeException a batch exceeds {@code max.message.bytes}
     * @throws InvalidRecordException a batch breaks a rule of the format or the topic
     * @throws org.apache.kafka.common.errors.OutOfOrderSequenceException a producer skipped sequence numbers
     * @throws org.apache.kafka.common.errors.InvalidProducerEpochException a fenced producer epoch
     * @throws KafkaStorageException the write failed; the file was cut back to where it was
     */
    public LogAppendInfo append(MemoryRecords records, int leaderEpoch) {
        AppendOutcome outcome = appendAll(List.of(records), leaderEpoch).get(0);
        if (outcome.error() != null) {
            throw outcome.error();
        }
        return outcome.info();
    }

    /** One request's part in {@link #appendAll}: what was appended, or why the request was refused. */
    public record AppendOutcome(LogAppendInfo info, RuntimeException error) {
    }

    /**
     * Appends several requests (each as {@link #append} takes it) with one gathering write, so
     * that produce requests arriving together cost one system call instead of one each. Each
     * request is validated on its own: a refused one gets its exception in its outcome and writes
     * nothing, the others go ahead, in order. If the write fails, every accepted request gets the
     * {@link KafkaStorageException} and the file is cut back to where it was.
     *
     * <p>A {@code leaderEpoch} newer than {@link #latestEpoch()} starts a new epoch at the first
     * offset written. A negative one (none) is stamped but not recorded in the epoch cache. An
     * older one should not happen (fencing deposed leaders is the cluster's job), but it is
     * written, with a warning, and the cache forgets the newer epochs, as Kafka's does: the
     * partition stays writable even when the newest epoch came from a damaged batch header (the
     * epoch field is not covered by the batch's CRC).
     */
    public List<AppendOutcome> appendAll(List<MemoryRecords> requests, int leaderEpoch) {
        ensureOpen();
        long now = clock.millis();
        AppendOutcome[] outcomes = new AppendOutcome[requests.size()];
        List<Integer> accepted = new ArrayList<>();
        List<List<MutableRecordBatch>> acceptedBatches = new ArrayList<>();
        Map<Long, int[]> pending = new HashMap<>();
        for (int i = 0; i < requests.size(); i++) {
            try {
                List<MutableRecordBatch> batches = validate(requests.get(i), config, false);
                ProducerStateManager.BatchMetadata dup = batches.size() == 1
                        ? producers.findDuplicate(headerOf(batches.get(0))) : null;
                if (dup != null) {
                    outcomes[i] = new AppendOutcome(new LogAppendInfo(dup.firstOffset(), dup.lastOffset(), -1, -1,
                            (int) (dup.lastOffset() - dup.firstOffset() + 1), 0, true), null);
                    continue;
                }
                // Checked against a copy, so a refused request leaves no trace in the sequence state.
                Map<Long, int[]> afterRequest = new HashMap<>(pending);
                for (MutableRecordBatch b : batches) {
                    producers.check(headerOf(b), afterRequest);
                }
                pending = afterRequest;
                accepted.add(i);
                acceptedBatches.add(batches);
            } catch (RuntimeException e) {
                outcomes[i] = new AppendOutcome(null, e);
            }
        }
        if (accepted.isEmpty()) {
            return List.of(outcomes);
        }

        long firstOffset = logEndOffset();
        long next = firstOffset;
        long appendTime = config.timestampType == LogConfig.TimestampType.LOG_APPEND_TIME ? now : -1;
        List<BatchHeader> headers = new ArrayList<>();
        ByteBuffer[] buffers = new ByteBuffer[accepted.size()];
        LogAppendInfo[] infos = new LogAppendInfo[accepted.size()];
        long totalBytes = 0;
        for (int r = 0; r < accepted.size(); r++) {
            int firstHeader = headers.size();
            long maxTimestamp = RecordBatch.NO_TIMESTAMP;
            int count = 0;
            for (MutableRecordBatch b : acceptedBatches.get(r)) {
                int delta = (int) (b.lastOffset() - b.baseOffset());
                b.setLastOffset(next + delta);
                b.setPartitionLeaderEpoch(leaderEpoch);
                if (appendTime >= 0) {
                    b.setMaxTimestamp(TimestampType.LOG_APPEND_TIME, appendTime);
                }
                BatchHeader h = headerOf(b);
                headers.add(h);
                maxTimestamp = Math.max(maxTimestamp, h.maxTimestamp());
                count += h.recordCount();
                next = h.nextOffset();
            }
            buffers[r] = requests.get(accepted.get(r)).buffer();
            totalBytes += buffers[r].remaining();
            infos[r] = new LogAppendInfo(headers.get(firstHeader).baseOffset(), headers.get(headers.size() - 1).lastOffset(),
                    maxTimestamp, appendTime, count, buffers[r].remaining(), false);
        }
        if (totalBytes > Integer.MAX_VALUE / 2) {
            throw new RecordTooLargeException("An append of " + totalBytes + " bytes is too large for one segment");
        }
        Segment active = maybeRoll((int) totalBytes, headers, now);
        try {
            active.append(buffers, headers, now);
        } catch (IOException e) {
            KafkaStorageException failure = new KafkaStorageException("Append to " + active.logFile()
                    + " failed; nothing was written", e);
            for (int i : accepted) {
                outcomes[i] = new AppendOutcome(null, failure);
            }
            return List.of(outcomes);
        }
        for (BatchHeader h : headers) {
            producers.update(h);
        }
        if (leaderEpoch >= 0 && leaderEpoch < epochs.latestEpoch()) {
            LOG.warn("Log {} appended in leader epoch {} after records of the newer epoch {}; forgetting the newer epochs",
                    dir, leaderEpoch, epochs.latestEpoch());
            epochs.assignOverriding(leaderEpoch, firstOffset);
            checkpointDirty = true;
        } else if (epochs.assign(leaderEpoch, firstOffset)) {
            checkpointDirty = true;
        }
        if (unflushedSinceMs < 0) {
            unflushedSinceMs = now;
        }
        for (int r = 0; r < accepted.size(); r++) {
            outcomes[accepted.get(r)] = new AppendOutcome(infos[r], null);
        }
        return List.of(outcomes);
    }

    /**
     * Appends batches whose offsets and leader epochs the leader already assigned: a follower
     * copying its leader's log. The bytes are written as they are, so the follower's segments
     * hold the leader's batches byte for byte (LOG_APPEND_TIME included: the leader's time stays).
     *
     * <p>Checked as {@link #append} checks (magic 2, CRC, size, record counts), but the leader
     * decided what is in its log, so duplicates and producer sequence gaps are not refused; the
     * producer state still follows the batches, so this log deduplicates correctly if it becomes
     * the leader. The first batch must start at the log end offset and each next batch right
     * after the one before; on a compacted topic the leader's log has holes that compaction left,
     * so there a batch may start anywhere after the previous one (and hold fewer records than its
     * offset range). A batch's epoch newer than {@link #latestEpoch()} starts that epoch at its
     * base offset. Nothing is written unless every batch passes.
     *
     * @throws UnexpectedAppendOffsetException the first batch does not start at the log end
     *     offset: the follower fetched from the wrong place
     * @throws InvalidRecordException the batches are not in offset order, their epochs go back, or
     *     one breaks a rule of the format
     * @throws IllegalStateException a batch's epoch is older than {@link #latestEpoch()}: this log
     *     holds records of a later epoch that the leader does not have, and must first truncate
     *     (see {@link #truncationFor})
     * @throws CorruptRecordException a batch's CRC or framing is wrong
     * @throws RecordTooLargeException a batch exceeds {@code max.message.bytes}
     * @throws KafkaStorageException the write failed; the file was cut back to where it was
     */
    public LogAppendInfo appendAsFollower(MemoryRecords records) {
        ensureOpen();
        List<MutableRecordBatch> batches = validate(records, config, true);
        boolean holesAllowed = config.cleanupCompact;
        long expected = logEndOffset();
        int latestEpoch = epochs.latestEpoch();
        List<BatchHeader> headers = new ArrayList<>(batches.size());
        long maxTimestamp = RecordBatch.NO_TIMESTAMP;
        int count = 0;
        for (MutableRecordBatch b : batches) {
            BatchHeader h = headerOf(b);
            boolean inPlace = holesAllowed ? h.baseOffset() >= expected : h.baseOffset() == expected;
            if (!inPlace && headers.isEmpty()) {
                throw new UnexpectedAppendOffsetException("A follower append to " + dir + " starts at offset "
                        + h.baseOffset() + " but the log ends at " + expected + ": fetch from the log end offset",
                        h.baseOffset(), expected);
            }
            if (!inPlace) {
                throw new InvalidRecordException("Record batch at offset " + h.baseOffset() + " does not follow the"
                        + " batch before it, which ends at " + (expected - 1));
            }
            int epoch = h.partitionLeaderEpoch();
            if (epoch >= 0 && epoch < latestEpoch) {
                if (headers.isEmpty() || epoch < epochs.latestEpoch()) {
                    throw new IllegalStateException("A follower append to " + dir + " has leader epoch " + epoch
                            + " at offset " + h.baseOffset() + " but the log already holds records of epoch "
                            + epochs.latestEpoch() + ": truncate the divergent tail first");
                }
                throw new InvalidRecordException("Record batch at offset " + h.baseOffset() + " has leader epoch "
                        + epoch + ", older than the epoch " + latestEpoch + " of a batch before it");
            }
            latestEpoch = Math.max(latestEpoch, epoch);
            headers.add(h);
            maxTimestamp = Math.max(maxTimestamp, h.maxTimestamp());
            count += h.recordCount();
            expected = h.nextOffset();
        }
        int sizeBytes = records.sizeInBytes();
        long now = clock.millis();
        Segment active = maybeRoll(sizeBytes, headers, now);
        try {
            active.append(new ByteBuffer[] {records.buffer()}, headers, now);
        } catch (IOException e) {
            throw new KafkaStorageException("Follower append to " + active.logFile() + " failed; nothing was written", e);
        }
        boolean newEpoch = false;
        for (BatchHeader h : headers) {
            producers.update(h);
            if (h.partitionLeaderEpoch() > epochs.latestEpoch()) {
                newEpoch |= epochs.assign(h.partitionLeaderEpoch(), h.baseOffset());
            }
        }
        if (newEpoch) {
            checkpointDirty = true;
        }
        if (unflushedSinceMs < 0) {
            unflushedSinceMs = now;
        }
        return new LogAppendInfo(headers.get(0).baseOffset(), headers.get(headers.size() - 1).lastOffset(),
                maxTimestamp, -1, count, sizeBytes, false);
    }

    /**
     * The checks {@link #append} makes of a leader's records that the records and the topic's
     * {@code config} decide alone (everything but the producer's sequence state): so a caller
     * appending to several partitions can learn before writing any of them whether every one
     * would be refused. The append checks again; this is the first of a pair.
     *
     * @throws CorruptRecordException a batch's CRC or framing is wrong
     * @throws RecordTooLargeException a batch exceeds {@code max.message.bytes}
     * @throws InvalidRecordException a batch breaks a rule of the format or the topic
     */
    public static void checkAppendable(MemoryRecords records, LogConfig config) {
        validate(records, config, false);
    }

    private static List<MutableRecordBatch> validate(MemoryRecords records, LogConfig config, boolean asFollower) {
        int total = records.sizeInBytes();
        if (total == 0) {
            throw new InvalidRecordException("The append holds no record batch");
        }
        List<MutableRecordBatch> out = new ArrayList<>();
        long sum = 0;
        try {
            for (MutableRecordBatch b : records.batches()) {
                checkBatch(b, config, asFollower);
                out.add(b);
                sum += b.sizeInBytes();
            }
        } catch (CorruptRecordException | InvalidRecordException | RecordTooLargeException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new CorruptRecordException("Record batches could not be parsed: " + e.getMessage(), e);
        }
        if (sum != total) {
            throw new CorruptRecordException("The append has " + (total - sum) + " bytes that are not a whole record batch");
        }
        return out;
    }

    /**
     * The rules of the format and the topic. A follower's batches come from its leader's log,
     * which on a compacted topic may hold batches with holes in their offset range, and even
     * empty ones (a producer's last batch keeps its header), so those are allowed there.
     */
    private static void checkBatch(MutableRecordBatch b, LogConfig config, boolean asFollower) {
        boolean holesAllowed = asFollower && config.cleanupCompact;
        if (b.magic() != RecordBatch.MAGIC_VALUE_V2) {
            throw new InvalidRecordException("Only record batch format v2 (magic 2) is accepted, got magic " + b.magic());
        }
        if (b.sizeInBytes() > config.maxMessageBytes) {
            throw new RecordTooLargeException("Record batch of " + b.sizeInBytes() + " bytes exceeds max.message.bytes "
                    + config.maxMessageBytes);
        }
        if (!b.isValid()) {
            throw new CorruptRecordException("Record batch at base offset " + b.baseOffset() + " fails its CRC");
        }
        if (b.isTransactional() || b.isControlBatch()) {
            throw new InvalidRecordException("Transactional and control batches are not supported");
        }
        Integer count = b.countOrNull();
        long delta = b.lastOffset() - b.baseOffset();
        if (count == null || count < (holesAllowed ? 0 : 1) || delta < 0 || delta >= Integer.MAX_VALUE
                || holesAllowed && count > delta + 1) {
            throw new InvalidRecordException("Record batch has a bad record count " + count);
        }
        boolean uncompressed = b.compressionType() == CompressionType.NONE;
        if (uncompressed && !holesAllowed && count != delta + 1) {
            throw new InvalidRecordException("Record batch claims " + count + " records but offset delta " + delta);
        }
        // Compressed batches are read too: nothing else checks that they hold as many records as
        // their header claims, and a reader would fail on one that does not.
        int i = 0;
        long previous = b.baseOffset() - 1;
        for (Record r : b) {
            if (uncompressed && !holesAllowed && r.offset() != b.baseOffset() + i) {
                throw new InvalidRecordException("Record " + i + " of the batch has offset delta "
                        + (r.offset() - b.baseOffset()) + ", expected " + i);
            }
            if (holesAllowed && (r.offset() <= previous || r.offset() > b.lastOffset())) {
                throw new InvalidRecordException("Record " + i + " of the batch has offset " + r.offset()
                        + ", not between the record before it (" + previous + ") and the batch's last offset "
                        + b.lastOffset());
            }
            previous = r.offset();
            if (!asFollower && config.cleanupCompact && !r.hasKey()) {
                throw new InvalidRecordException("Compacted topic cannot accept a record without a key (record "
                        + i + " of the batch)");
            }
            i++;
        }
        if (i != count) {
            throw new InvalidRecordException("Record batch claims " + count + " records but holds " + i);
        }
    }

    private static BatchHeader headerOf(MutableRecordBatch b) {
        return new BatchHeader(b.baseOffset(), b.sizeInBytes(), b.magic(), (int) (b.lastOffset() - b.baseOffset()),
                b.maxTimestamp(), b.producerId(), b.producerEpoch(), b.baseSequence(),
                b.countOrNull() == null ? 0 : b.countOrNull(), b.partitionLeaderEpoch());
    }

    private Segment maybeRoll(int appendBytes, List<BatchHeader> headers, long now) {
        Segment active = activeSegment();
        long lastOffset = headers.get(headers.size() - 1).lastOffset();
        boolean roll = active.sizeBytes() > 0 && (
                (long) active.sizeBytes() + appendBytes > config.segmentBytes
                        || now - active.rollBasisMs() >= config.segmentMs
                        || active.indexesFull()
                        || lastOffset - active.baseOffset() > Integer.MAX_VALUE);
        return roll ? rollSegment() : active;
    }

    /** Starts a new active segment at the log end offset (no-op if the active one is empty). */
    public void roll() {
        ensureOpen();
        rollSegment();
    }

    private Segment rollSegment() {
        Segment active = activeSegment();
        if (active.sizeBytes() == 0) {
            return active;
        }
        try {
            active.persistIndexes();
            long base = logEndOffset();
            Segment s = Segment.create(dir, base, io, config.indexIntervalBytes, config.segmentIndexBytes, clock.millis());
            segments.put(base, s);
            directoryChanges++;
            return s;
        } catch (IOException e) {
            throw new KafkaStorageException("Rolling a new segment in " + dir + " failed", e);
        }
    }

    // ---------------------------------------------------------------- read

    /**
     * Whole batches from the one holding {@code startOffset}, up to {@code maxBytes} but at least one
     * batch, and only batches starting below {@code maxOffsetExclusive} (pass the high watermark
     * for consumers, the log end offset for replicas). Empty at the end of the log.
     *
     * @throws OffsetOutOfRangeException below the log start offset or beyond the log end offset
     */
    public FetchSlice read(long startOffset, int maxBytes, long maxOffsetExclusive) {
        ensureOpen();
        if (startOffset < logStartOffset || startOffset > logEndOffset()) {
            throw new OffsetOutOfRangeException("Offset " + startOffset + " is outside the log's range ["
                    + logStartOffset + ", " + logEndOffset() + "] of " + dir.getFileName());
        }
        long limit = Math.min(maxOffsetExclusive, logEndOffset());
        if (startOffset >= limit) {
            return FetchSlice.empty(startOffset);
        }
        Long key = segments.floorKey(startOffset);
        if (key == null) {
            key = segments.firstKey();
        }
        try {
            for (Segment s : segments.tailMap(key, true).values()) {
                if (s.baseOffset() >= limit) {
                    break;
                }
                FetchSlice slice = s.read(startOffset, maxBytes, limit);
                if (!slice.isEmpty()) {
                    return slice;
                }
            }
        } catch (IOException e) {
            throw new KafkaStorageException("Reading " + dir + " at offset " + startOffset + " failed", e);
        }
        return FetchSlice.empty(startOffset);
    }

    /** The first record whose timestamp is at or after {@code timestamp}, or empty if none. */
    public Optional<TimestampOffset> offsetForTimestamp(long timestamp) {
        ensureOpen();
        try {
            for (Segment s : segments.values()) {
                if (s.nextOffset() <= logStartOffset || s.maxTimestamp() < timestamp) {
                    continue;
                }
                Optional<TimestampOffset> found = s.findByTimestamp(timestamp, logStartOffset);
                if (found.isPresent()) {
                    return found;
                }
            }
        } catch (IOException e) {
            throw new KafkaStorageException("Searching " + dir + " by timestamp failed", e);
        }
        return Optional.empty();
    }

    /**
     * The record with the largest timestamp at or after the log start offset (ListOffsets'
     * MAX_TIMESTAMP), the first of several that share it; empty when no record has a timestamp.
     */
    public Optional<TimestampOffset> offsetOfMaxTimestamp() {
        ensureOpen();
        long max = -1;
        for (Segment s : segments.values()) {
            if (s.nextOffset() > logStartOffset) {
                max = Math.max(max, s.maxTimestamp());
            }
        }
        return max < 0 ? Optional.empty() : offsetForTimestamp(max);
    }

    /** An idempotent producer this log knows: its epoch and its last batch (DescribeProducers). */
    public record ProducerSnapshot(long producerId, short producerEpoch, int lastSequence, long lastTimestampMs,
                                   long lastOffset) {
    }

    /** The producers whose state this log keeps (rebuilt from the log on open), by producer id. */
    public List<ProducerSnapshot> activeProducers() {
        ensureOpen();
        return producers.snapshot();
    }

    // ---------------------------------------------------------------- offsets

    public long logStartOffset() {
        return logStartOffset;
    }

    public long logEndOffset() {
        return activeSegment().nextOffset();
    }

    public long highWatermark() {
        return highWatermark;
    }

    /** One past the last record known to be fsynced. */
    public long durableOffset() {
        return recoveryPoint;
    }

    /**
     * Sets the high watermark to {@code offset}, lower than it stands if need be: a replica that
     * has just opened does not know how much of its log its cluster committed, and must not serve
     * records past what a leader tells it.
     */
    public void resetHighWatermark(long offset) {
        if (offset < logStartOffset || offset > logEndOffset()) {
            throw new IllegalArgumentException("High watermark " + offset + " must be in [" + logStartOffset + ", "
                    + logEndOffset() + "] for " + dir.getFileName());
        }
        highWatermark = offset;
    }

    /** Sets the high watermark; it must stay within [its current value, log end offset]: it never goes back. */
    public void updateHighWatermark(long offset) {
        if (offset < highWatermark || offset > logEndOffset()) {
            throw new IllegalArgumentException("High watermark " + offset + " must be in [" + highWatermark + ", "
                    + logEndOffset() + "] for " + dir.getFileName());
        }
        highWatermark = offset;
    }

    // ---------------------------------------------------------------- leader epochs

    /** The epoch of the last leader that wrote to this log, or -1 when no batch carries an epoch. */
    public int latestEpoch() {
        return epochs.latestEpoch();
    }

    /**
     * OffsetForLeaderEpoch, as a leader answers it: the largest epoch at or below
     * {@code requestedEpoch} that wrote to this log, and its end offset (the start offset of the
     * next epoch, or the log end offset for the latest); {@link EpochEndOffset#UNDEFINED} when
     * {@code requestedEpoch} is below every epoch this log knows, or it knows none.
     */
    public EpochEndOffset endOffsetForEpoch(int requestedEpoch) {
        ensureOpen();
        return epochs.endOffsetFor(requestedEpoch, logEndOffset());
    }

    /** The leader epoch cache, oldest epoch first, for tools and tests. */
    public List<EpochEntry> epochEntries() {
        return epochs.entries();
    }

    /**
     * Where a follower truncates its log, and whether that settles it.
     *
     * @param offset pass it to {@link #truncateTo}; within [log start offset, log end offset]
     * @param complete false when the leader answered with an epoch this log does not know: after
     *     truncating, ask the leader again about the new {@link #latestEpoch()} and truncate again
     */
    public record Truncation(long offset, boolean complete) {
    }

    /**
     * Where this log, as a follower, diverges from its leader, given the leader's answer to
     * {@code endOffsetForEpoch(latestEpoch())} (Kafka's rule, from its fetcher's truncation step):
     * <ul>
     *   <li>undefined (the leader knows no epoch at or below ours): the log start offset;</li>
     *   <li>an epoch this log knows too: the smaller of the two end offsets of that epoch, final;</li>
     *   <li>an epoch this log does not know, with a smaller one F below it: the smaller of our end of
     *       F and the leader's end offset, not final, since our records of F may differ from the
     *       leader's at the same offsets. Each round lowers the latest epoch, so the exchange ends;</li>
     *   <li>an epoch below every one this log knows: the log start offset, since everything here
     *       was written in later epochs than anything the leader has up to its end offset.</li>
     * </ul>
     *
     * @throws IllegalArgumentException the answer's epoch is above {@link #latestEpoch()}, so it
     *     cannot be the answer to our latest epoch
     */
    public Truncation truncationFor(EpochEndOffset leaderAnswer) {
        ensureOpen();
        return epochs.truncationFor(leaderAnswer, logStartOffset, logEndOffset());
    }

    /**
     * {@link #truncationFor}'s offset alone: where to {@link #truncateTo}. When it is not
     * {@link Truncation#complete() complete}, ask the leader again after truncating.
     */
    public long truncationOffsetFor(EpochEndOffset leaderAnswer) {
        return truncationFor(leaderAnswer).offset();
    }

    // ---------------------------------------------------------------- flush

    /**
     * Whether {@code flush.messages} or {@code flush.ms} asks for a flush now. Messages not yet
     * flushed are counted as offsets past the recovery point, which is exact for appended records.
     */
    public boolean shouldFlush() {
        long unflushedMessages = logEndOffset() - recoveryPoint;
        if (unflushedMessages <= 0) {
            return false;
        }
        return unflushedMessages >= config.flushMessages || clock.millis() - unflushedSinceMs >= config.flushMs;
    }

    /**
     * The fsyncs that would make everything appended so far durable, or null if it already is.
     * Pending index entries are written to the page cache here, on the owner.
     */
    public FlushTask prepareFlush() {
        ensureOpen();
        long target = logEndOffset();
        boolean directoryDirty = directoryChanges > directoryChangesSynced;
        if (target <= recoveryPoint && !directoryDirty) {
            return null;
        }
        List<Segment> toSync = new ArrayList<>();
        Long from = segments.floorKey(recoveryPoint);
        for (Segment s : (from == null ? segments : segments.tailMap(from, true)).values()) {
            toSync.add(s);
        }
        try {
            activeSegment().persistIndexes();
        } catch (IOException e) {
            throw new KafkaStorageException("Writing the index of " + dir + " failed", e);
        }
        Path syncDir = directoryDirty ? dir : null;
        return new FlushTask(this, toSync, target, syncDir, io, truncations, directoryChanges, clock.millis());
    }

    /** Records that {@code task} ran; returns the offset below which everything is now durable. */
    public long completeFlush(FlushTask task) {
        if (task.syncsDirectory()) {
            directoryChangesSynced = Math.max(directoryChangesSynced, task.directoryChangesSeen());
        }
        if (task.truncationsSeen() == truncations && task.targetOffset() > recoveryPoint) {
            recoveryPoint = task.targetOffset();
            checkpointDirty = true;
        }
        // Records appended after the task was made are younger than it, so its time bounds their wait.
        unflushedSinceMs = recoveryPoint >= logEndOffset() ? -1 : task.preparedMs();
        return recoveryPoint;
    }

    /** Flushes on the calling thread; for tools, tests and shutdown, never on an event loop. */
    public long flushBlocking() throws IOException {
        FlushTask t = prepareFlush();
        if (t == null) {
            return recoveryPoint;
        }
        t.run();
        return completeFlush(t);
    }

    // ---------------------------------------------------------------- retention and truncation

    /**
     * Removes segments that retention no longer keeps: past {@code retention.ms}, beyond
     * {@code retention.bytes}, or wholly below the log start offset. Only segments wholly below
     * the high watermark go, and never while compaction runs. The active segment goes too (after
     * a roll) when all of it is expired. Files are renamed here and deleted by the returned task.
     */
    public SegmentDeletion applyRetention() {
        ensureOpen();
        if (compacting) {
            return SegmentDeletion.none();
        }
        long now = clock.millis();
        if (config.cleanupDelete && config.retentionMs >= 0) {
            // When every segment, the active one included, is past retention.ms, roll so that the
            // loop below can take them all in this pass (not only when the active one is alone).
            Segment active = activeSegment();
            boolean allExpired = segments.values().stream().allMatch(s -> s.maxTimestamp() < now - config.retentionMs);
            if (allExpired && active.sizeBytes() > 0 && active.nextOffset() <= highWatermark) {
                roll();
            }
        }
        List<Segment> doomed = new ArrayList<>();
        long totalBytes = 0;
        for (Segment s : segments.values()) {
            totalBytes += s.sizeBytes();
        }
        Segment active = activeSegment();
        for (Segment s : segments.values()) {
            if (s == active || s.nextOffset() > highWatermark) {
                break;
            }
            boolean belowStart = s.nextOffset() <= logStartOffset;
            boolean expired = config.cleanupDelete && config.retentionMs >= 0 && s.maxTimestamp() < now - config.retentionMs;
            boolean oversize = config.cleanupDelete && config.retentionBytes >= 0
                    && totalBytes - s.sizeBytes() >= config.retentionBytes;
            if (!(belowStart || expired || oversize)) {
                break;
            }
            doomed.add(s);
            totalBytes -= s.sizeBytes();
        }
        return removeSegments(doomed);
    }

    private SegmentDeletion removeSegments(List<Segment> doomed) {
        if (doomed.isEmpty()) {
            return SegmentDeletion.none();
        }
        try {
            for (Segment s : doomed) {
                segments.remove(s.baseOffset());
                s.renameWithSuffix(DELETED_SUFFIX);
            }
        } catch (IOException e) {
            throw new KafkaStorageException("Renaming deleted segments of " + dir + " failed", e);
        }
        if (segments.isEmpty()) {
            throw new IllegalStateException("Retention removed every segment of " + dir);
        }
        long newStart = Math.max(logStartOffset, segments.firstKey());
        if (newStart != logStartOffset) {
            logStartOffset = newStart;
            epochs.truncateFromStart(newStart);
            checkpointDirty = true;
        }
        return new SegmentDeletion(doomed);
    }

    /**
     * DeleteRecords: makes {@code offset} the new log start offset (it must not pass the high
     * watermark). Persist it with {@link #writeCheckpoint()} before acknowledging; segments wholly
     * below it go at the next {@link #applyRetention()}.
     */
    public long advanceLogStartOffset(long offset) {
        ensureOpen();
        if (offset > highWatermark) {
            throw new OffsetOutOfRangeException("Cannot delete records up to " + offset + ": the high watermark is "
                    + highWatermark);
        }
        if (offset > logStartOffset) {
            logStartOffset = offset;
            epochs.truncateFromStart(offset);
            checkpointDirty = true;
        }
        return logStartOffset;
    }

    /**
     * Removes every record at or after {@code offset} (a follower fencing its divergent tail). The
     * cut is at a batch boundary: if {@code offset} is inside a batch, that whole batch goes.
     * Returns files to delete. Must not run while compaction runs. Blocking: writes the checkpoint, since
     * the recovery point it holds may now lie past the new end. Leader epochs that start at or after
     * the new end are forgotten (and so is the file's record of them, before anything can be
     * appended over the cut).
     */
    public SegmentDeletion truncateTo(long offset) {
        ensureOpen();
        if (compacting) {
            throw new IllegalStateException("Cannot truncate " + dir + " while it is being compacted");
        }
        if (offset >= logEndOffset()) {
            return SegmentDeletion.none();
        }
        if (offset < logStartOffset) {
            throw new OffsetOutOfRangeException("Cannot truncate " + dir + " to " + offset + " below its start "
                    + logStartOffset);
        }
        truncations++;
        List<Segment> doomed = new ArrayList<>();
        try {
            for (Segment s : new ArrayList<>(segments.tailMap(offset, false).values())) {
                if (s != segments.firstEntry().getValue()) {
                    doomed.add(s);
                }
            }
            for (Segment s : doomed) {
                segments.remove(s.baseOffset());
                s.renameWithSuffix(DELETED_SUFFIX);
            }
            activeSegment().truncateTo(offset);
        } catch (IOException e) {
            throw new KafkaStorageException("Truncating " + dir + " to " + offset + " failed", e);
        }
        long end = logEndOffset();
        highWatermark = Math.min(highWatermark, end);
        recoveryPoint = Math.min(recoveryPoint, end);
        if (recoveryPoint >= end) {
            unflushedSinceMs = -1;
        }
        firstDirtyOffset = Math.min(firstDirtyOffset, end);
        if (logStartOffset > end) {
            logStartOffset = end;
        }
        epochs.truncateFromEnd(end);
        producers.clear();
        for (Segment s : segments.values()) {
            for (BatchHeader h : s.headersFrom(0)) {
                producers.update(h);
            }
        }
        // The lowered recovery point (and log start offset) must be on disk before anything is
        // appended over the cut: with the old, higher one, a crash that loses those unflushed
        // appends looks like lost durable records and the log refuses to open.
        try {
            writeCheckpoint();
        } catch (IOException e) {
            throw new KafkaStorageException("Writing the checkpoint of " + dir + " after truncating it failed", e);
        }
        return new SegmentDeletion(doomed);
    }

    // ---------------------------------------------------------------- compaction

    /**
     * Plans a compaction pass for {@code cleanup.policy=compact}: the closed segments from the
     * start up to the first one younger than {@code min.compaction.lag.ms} or not wholly below
     * the high watermark. Empty when there is nothing to do or a pass is already running.
     */
    public Optional<CompactionTask> prepareCompaction(int maxKeyBytes) {
        ensureOpen();
        if (!config.cleanupCompact || compacting) {
            return Optional.empty();
        }
        long now = clock.millis();
        List<Segment> candidates = new ArrayList<>();
        Segment active = activeSegment();
        long endOffset = -1;
        for (Segment s : segments.values()) {
            if (s == active || s.nextOffset() > highWatermark || s.maxTimestamp() > now - config.minCompactionLagMs) {
                endOffset = s.baseOffset();
                break;
            }
            candidates.add(s);
        }
        if (candidates.isEmpty()) {
            return Optional.empty();
        }
        try {
            for (Segment s : candidates) {
                s.persistIndexes();
            }
        } catch (IOException e) {
            throw new KafkaStorageException("Writing indexes of " + dir + " failed", e);
        }
        compacting = true;
        return Optional.of(new CompactionTask(this, dir, io, config, candidates, endOffset, now,
                producers.lastOffsets(), maxKeyBytes, firstDirtyOffset));
    }

    /** Swaps in the segments a finished compaction pass wrote; returns the old ones to delete. */
    public SegmentDeletion completeCompaction(CompactionTask.Result result) {
        if (!compacting) {
            throw new IllegalStateException("No compaction of " + dir + " is running");
        }
        compacting = false;
        List<Segment> old = new ArrayList<>();
        for (CompactionTask.Replacement r : result.replacements()) {
            for (Segment s : r.replaced()) {
                if (segments.remove(s.baseOffset()) != s) {
                    throw new IllegalStateException("Segment " + s + " changed during compaction of " + dir);
                }
                old.add(s);
            }
            segments.put(r.cleaned().baseOffset(), r.cleaned());
        }
        if (!result.replacements().isEmpty()) {
            long lastCleaned = result.replacements().get(result.replacements().size() - 1).cleaned().baseOffset();
            Long next = segments.higherKey(lastCleaned);
            firstDirtyOffset = next == null ? logEndOffset() : next;
        }
        return new SegmentDeletion(old);
    }

    /** Abandons a compaction pass that failed; the worker left the old segments in place. */
    public void abortCompaction() {
        compacting = false;
    }

    public boolean isCompacting() {
        return compacting;
    }

    // ---------------------------------------------------------------- checkpoint and close

    /**
     * Writes the log start offset and recovery point atomically, and the leader epoch cache (if it
     * changed since it was last written). Blocking; may run on a worker while the owner appends.
     */
    public void writeCheckpoint() throws IOException {
        new Checkpoint(logStartOffset, recoveryPoint).write(io, dir.resolve(CHECKPOINT_FILE));
        epochs.write(io, dir);
        checkpointDirty = false;
    }

    public boolean checkpointDirty() {
        return checkpointDirty;
    }

    /** Flushes everything, writes the checkpoint and the clean-shutdown marker, closes the files. Blocking. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        if (compacting) {
            throw new IllegalStateException("Close " + dir + " only after its compaction pass has finished");
        }
        try {
            for (Segment s : segments.values()) {
                s.persistIndexes();
            }
            flushBlocking();
            writeCheckpoint();
            for (Segment s : segments.values()) {
                s.close();
            }
            io.writeAtomically(dir.resolve(CLEAN_SHUTDOWN_FILE), new byte[0]);
        } finally {
            closed = true;
            segments.values().forEach(Segment::closeQuietly);
        }
    }

    /** Closes the files without flushing or marking a clean shutdown, as a crash would leave them. */
    public void closeUncleanly() {
        closed = true;
        segments.values().forEach(Segment::closeQuietly);
    }

    /**
     * Reads every batch and checks its framing, offsets and CRC. Returns the number of records.
     * For tools and tests: it reads the whole log.
     */
    public long verifyAll() throws IOException {
        long records = 0;
        long expectedAtLeast = segments.firstKey();
        for (Segment s : segments.values()) {
            int pos = 0;
            for (BatchHeader h : s.headersFrom(0)) {
                if (!h.plausible(s.sizeBytes() - pos) || h.baseOffset() < expectedAtLeast) {
                    throw new CorruptLogException(s.logFile(), pos, "batch does not line up");
                }
                if (!s.readBatch(pos, h.sizeInBytes()).isValid()) {
                    throw new CorruptLogException(s.logFile(), pos, "batch fails its CRC");
                }
                records += h.recordCount();
                expectedAtLeast = h.nextOffset();
                pos += h.sizeInBytes();
            }
            if (pos != s.sizeBytes()) {
                throw new CorruptLogException(s.logFile(), pos, "trailing bytes");
            }
        }
        return records;
    }

    // ---------------------------------------------------------------- accessors

    Segment activeSegment() {
        return segments.lastEntry().getValue();
    }

    List<Segment> segments() {
        return List.copyOf(segments.values());
    }

    public int segmentCount() {
        return segments.size();
    }

    public long sizeInBytes() {
        long total = 0;
        for (Segment s : segments.values()) {
            total += s.sizeBytes();
        }
        return total;
    }

    public Path dir() {
        return dir;
    }

    public LogConfig config() {
        return config;
    }

    /** Applies a new topic configuration; it takes effect from the next append, roll or pass. */
    public void updateConfig(LogConfig newConfig) {
        this.config = newConfig;
    }

    public RecoveryReport recoveryReport() {
        return recoveryReport;
    }

    private void ensureOpen() {
        if (closed) {
            throw new KafkaStorageException("Log " + dir + " is closed");
        }
    }

    @Override
    public String toString() {
        return "Log(" + dir.getFileName() + ", start=" + logStartOffset + ", hw=" + highWatermark + ", end="
                + logEndOffset() + ", durable=" + recoveryPoint + ", segments=" + segments.size() + ")";
    }

    /** The {@code checkpoint} file: one line, {@code v1 <logStartOffset> <recoveryPoint>}. */
    record Checkpoint(long logStartOffset, long recoveryPoint) {

        static Checkpoint read(StorageIo io, Path file) throws IOException {
            byte[] bytes = io.readIfExists(file);
            if (bytes == null) {
                return new Checkpoint(0, 0);
            }
            String[] parts = new String(bytes, StandardCharsets.US_ASCII).trim().split(" ");
            if (parts.length != 3 || !parts[0].equals("v1")) {
                throw new CorruptLogException(file, 0, "unreadable checkpoint '" + new String(bytes, StandardCharsets.US_ASCII) + "'");
            }
            try {
                return new Checkpoint(Long.parseLong(parts[1]), Long.parseLong(parts[2]));
            } catch (NumberFormatException e) {
                throw new CorruptLogException(file, 0, "unreadable checkpoint numbers");
            }
        }

        void write(StorageIo io, Path file) throws IOException {
            io.writeAtomically(file, ("v1 " + logStartOffset + " " + recoveryPoint + "\n").getBytes(StandardCharsets.US_ASCII));
        }
    }
}

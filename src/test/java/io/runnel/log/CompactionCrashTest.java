package io.runnel.log;

import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.SimpleRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;
import io.runnel.log.Batches.Rec;

/**
 * A crash at any step of a compaction pass leaves a log that opens to the state before the pass
 * or the state after it, never a mixture and never damaged. With several groups of segments each
 * group is swapped in on its own, so the state is "the first k groups compacted" for some k.
 *
 * <p>Method: a fault-free dry run of the pass with {@link FaultyStorageIo} counts its mutating
 * file operations (writes, fsyncs, truncates, renames, deletes, creations); then, for every N
 * from 1 to that count, a fresh copy of the same log runs the pass with a simulated crash at the
 * Nth operation, the {@link Log} object is abandoned, and the directory is reopened with the real
 * file system. The recovered log must read as before or after (see above), pass
 * {@link Log#verifyAll()}, hold no leftover files, and compact again to the after state.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CompactionCrashTest {

    private static final long NOW_MS = 10_000_000;
    private static final long SEED = Long.getLong("runnel.compaction.seed", 0x5eed_c0deL);
    private static final long PRODUCER_ID = 7;

    @TempDir
    Path tmp;

    /** Where the crash cases run: tmpfs when the machine has one (see {@link #scratchDirectory}). */
    private Path scratch;

    @BeforeEach
    void createScratch() throws IOException {
        scratch = scratchDirectory(tmp);
    }

    @AfterEach
    void deleteScratch() throws IOException {
        if (!scratch.startsWith(tmp)) {
            TestFiles.deleteTree(scratch);
        }
    }

    /**
     * A fresh directory in tmpfs ({@code /dev/shm}) if there is one, else {@code fallback}. A
     * simulated crash keeps the page cache, so these cases test the log's file protocol, not the
     * disk; on a real disk the hundreds of fsyncs they make would dominate their time.
     */
    private static Path scratchDirectory(Path fallback) throws IOException {
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            return Files.createTempDirectory(shm, "runnel-test-");
        }
        return fallback;
    }

    private final Clock clock = Clock.fixed(Instant.ofEpochMilli(NOW_MS), ZoneOffset.UTC);

    private static LogConfig compacted(int segmentBytes) {
        return LogConfig.defaults()
                .with(LogConfig.CLEANUP_POLICY, "compact")
                .with(LogConfig.SEGMENT_BYTES, segmentBytes)
                .with(LogConfig.INDEX_INTERVAL_BYTES, 100)
                .with(LogConfig.DELETE_RETENTION_MS, 60_000)
                .with(LogConfig.MIN_COMPACTION_LAG_MS, 0);
    }

    @Test
    void aCrashAtAnyStepOfASingleGroupPassLeavesTheLogBeforeOrAfterIt() throws Exception {
        // Segments rolled by hand at a tenth of segment.bytes: every closed segment fits one cleaned segment.
        crashAtEveryStep(compacted(8_000), 3);
    }

    @Test
    void aCrashAtAnyStepOfAManyGroupPassLeavesAPrefixOfTheGroupsCompacted() throws Exception {
        // Segments rolled by size: each group is one or two segments.
        crashAtEveryStep(compacted(400), 0);
    }

    /**
     * @param batchesPerSegment roll by hand after this many batches, or 0 to let segment.bytes roll
     */
    private void crashAtEveryStep(LogConfig config, int batchesPerSegment) throws Exception {
        Path template = tmp.resolve("template");
        writeTemplate(template, config, batchesPerSegment, new Random(SEED));
        List<Rec> before = readAllAfterOpen(template, config);

        // The dry run: the after state, the group boundaries, and how many operations the pass takes.
        Path dryDir = TestFiles.copyDir(template, tmp.resolve("dry-run"));
        FaultyStorageIo counting = new FaultyStorageIo(SEED);
        List<Rec> after;
        List<Long> groupStarts = new ArrayList<>();
        long operationsOfPass;
        try (Log log = Log.open(dryDir, config, counting, clock)) {
            long from = counting.operations();
            CompactionTask.Result result = runPass(log);
            operationsOfPass = counting.operations() - from;
            for (CompactionTask.Replacement r : result.replacements()) {
                groupStarts.add(r.replaced().get(0).baseOffset());
            }
            after = Batches.readAll(log, 0);
        }
        assertThat(readAllAfterOpen(dryDir, config)).as("after state survives a clean reopen").isEqualTo(after);
        assertThat(after).as("the pass removes something").hasSizeLessThan(before.size());
        assertThat(after).extracting(Rec::key).as("the expired tombstone's key is gone").doesNotContain("dead");
        if (batchesPerSegment > 0) {
            assertThat(groupStarts).as("one group").hasSize(1);
        } else {
            assertThat(groupStarts).as("several groups").hasSizeGreaterThan(2);
        }
        groupStarts.add(Long.MAX_VALUE);

        for (long n = 1; n <= operationsOfPass; n++) {
            Path dir = TestFiles.copyDir(template, scratch.resolve("crash-" + n));
            try {
                crashAndRecover(dir, config, n, before, after, groupStarts);
            } catch (AssertionError | Exception e) {
                throw new AssertionError("Crash at operation " + n + " of " + operationsOfPass + " of the pass (seed "
                        + SEED + ", replay with -Drunnel.compaction.seed=" + SEED + ") failed", e);
            }
            TestFiles.deleteTree(dir);
        }
    }

    private void crashAndRecover(Path dir, LogConfig config, long n, List<Rec> before, List<Rec> after,
                                 List<Long> groupStarts) throws Exception {
        FaultyStorageIo io = new FaultyStorageIo(SEED + n);
        Log log = Log.open(dir, config, io, clock);
        long from = io.operations();
        io.crashAtOperation(n);
        try {
            runPass(log);
            throw new AssertionError("The pass finished without reaching operation " + n + ": "
                    + io.historySince(from));
        } catch (FaultyStorageIo.SimulatedCrash | IOException | org.apache.kafka.common.KafkaException e) {
            if (!io.crashed()) {
                throw e;
            }
        } finally {
            log.closeUncleanly();
        }
        String crashedAt = "crashed after " + io.historySince(from);

        try (Log recovered = Log.open(dir, config, StorageIo.SYSTEM, clock)) {
            List<Rec> state = Batches.readAll(recovered, 0);
            assertThat(matchingGroupPrefix(state, before, after, groupStarts))
                    .as("%s: the recovered log %s is the log before the pass with the first k groups compacted, for some k;"
                            + " before %s, after %s", crashedAt, state, before, after)
                    .isPresent();
            assertThat(recovered.verifyAll()).isEqualTo(state.size());
            assertOnlyLiveFiles(dir, recovered);

            // The recovered log is an ordinary log: compacting it again gives the after state.
            runPass(recovered);
            assertThat(Batches.readAll(recovered, 0)).as("%s: compacting the recovered log", crashedAt).isEqualTo(after);
        }
    }

    /** The k such that {@code state} is {@code after} below group k's start and {@code before} from it on. */
    private static Optional<Integer> matchingGroupPrefix(List<Rec> state, List<Rec> before, List<Rec> after,
                                                         List<Long> groupStarts) {
        for (int k = 0; k < groupStarts.size(); k++) {
            long boundary = groupStarts.get(k);
            List<Rec> expected = new ArrayList<>();
            after.stream().filter(r -> r.offset() < boundary).forEach(expected::add);
            before.stream().filter(r -> r.offset() >= boundary).forEach(expected::add);
            if (expected.equals(state)) {
                return Optional.of(k);
            }
        }
        return Optional.empty();
    }

    /**
     * After open, the directory holds the checkpoint, the leader epoch checkpoint (once some batch
     * carries an epoch) and the three files of each live segment, nothing else.
     */
    private static void assertOnlyLiveFiles(Path dir, Log log) throws IOException {
        Set<String> expected = new HashSet<>();
        expected.add(Log.CHECKPOINT_FILE);
        if (!log.epochEntries().isEmpty()) {
            expected.add(LeaderEpochCache.FILE_NAME);
        }
        for (Segment s : log.segments()) {
            expected.add(Segment.fileName(s.baseOffset(), Segment.LOG_SUFFIX));
            expected.add(Segment.fileName(s.baseOffset(), Segment.INDEX_SUFFIX));
            expected.add(Segment.fileName(s.baseOffset(), Segment.TIME_INDEX_SUFFIX));
        }
        Set<String> actual = new HashSet<>();
        try (Stream<Path> files = Files.list(dir)) {
            files.forEach(f -> actual.add(f.getFileName().toString()));
        }
        assertThat(actual).as("files in %s after recovery", dir).isEqualTo(expected);
    }

    /** Plans, runs, swaps in and deletes: one whole pass, as the broker would drive it. */
    private static CompactionTask.Result runPass(Log log) throws IOException {
        Optional<CompactionTask> task = log.prepareCompaction(1 << 20);
        assertThat(task).as("a compaction pass is due").isPresent();
        CompactionTask.Result result = task.get().run();
        log.completeCompaction(result).run();
        return result;
    }

    /**
     * A compacted topic's log: keys k0..k5 overwritten many times, an idempotent producer among
     * them, and a tombstone for key "dead" older than delete.retention.ms. Every segment but the
     * active one is closed and below the high watermark, so a pass covers them all.
     */
    private void writeTemplate(Path dir, LogConfig config, int batchesPerSegment, Random random) throws IOException {
        try (Log log = Log.open(dir, config, StorageIo.SYSTEM, clock)) {
            int sequence = 0;
            long ts = NOW_MS - 3_600_000;
            for (int b = 0; b < 40; b++) {
                if (b == 10) {
                    log.append(Batches.batch(record("dead", "alive", ts++)), 0);
                }
                if (b == 20) {
                    log.append(Batches.batch(record("dead", null, ts++)), 0);
                }
                int count = 1 + random.nextInt(3);
                SimpleRecord[] recs = new SimpleRecord[count];
                for (int i = 0; i < count; i++) {
                    recs[i] = record("k" + random.nextInt(6), "v" + b + "." + i, ts++);
                }
                MemoryRecords batch;
                if (b % 7 == 3) {
                    batch = Batches.idempotentBatch(PRODUCER_ID, (short) 0, sequence, recs);
                    sequence += count;
                } else {
                    batch = Batches.batch(recs);
                }
                log.append(batch, 0);
                if (batchesPerSegment > 0 && b % batchesPerSegment == batchesPerSegment - 1) {
                    log.roll();
                }
            }
            log.roll();
            log.append(Batches.batch(record("k0", "active", ts)), 0);
            log.updateHighWatermark(log.logEndOffset());
        }
    }

    private List<Rec> readAllAfterOpen(Path dir, LogConfig config) throws IOException {
        try (Log log = Log.open(dir, config, StorageIo.SYSTEM, clock)) {
            return Batches.readAll(log, 0);
        }
    }
}

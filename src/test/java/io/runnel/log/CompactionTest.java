package io.runnel.log;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.CompressionType;
import org.apache.kafka.common.record.RecordBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import io.runnel.config.LogConfig;
import io.runnel.log.Batches.Rec;

/**
 * Log compaction ({@code cleanup.policy=compact}) as a specification: after a pass over the closed
 * segments below the high watermark, the latest record of every key is still there at its original
 * offset, older records of a key are gone, offsets still increase, tombstones stay for
 * {@code delete.retention.ms} and then go, segments younger than {@code min.compaction.lag.ms} are
 * left alone, compressed batches stay compressed with their codec, the result survives restarts,
 * and records appended while the pass runs are kept.
 *
 * <p>A pass is driven inline here: prepare on the owner, run (the worker's part), complete, and
 * run the deletion of the replaced segments at once. Time comes from a {@link ManualClock}.
 */
@Timeout(30)
class CompactionTest {

    static final long T0 = 1_000_000_000L;
    static final LogConfig COMPACTED = LogConfig.defaults().with(LogConfig.CLEANUP_POLICY, "compact")
            .with(LogConfig.SEGMENT_BYTES, 300);

    @TempDir
    Path dataDir;

    final ManualClock clock = new ManualClock(T0);

    Path dir() {
        return dataDir.resolve("t-0");
    }

    Log open(LogConfig config) throws IOException {
        return Log.open(dir(), config, StorageIo.SYSTEM, clock);
    }

    /**
     * Appends one single-record batch; "-" as the value means a tombstone. Returns its offset.
     * Timestamps are at or before the clock: a segment whose newest timestamp lies in the future is
     * younger than any {@code min.compaction.lag.ms}, 0 included, so it is not compacted yet.
     */
    static long put(Log log, String key, String value, long timestamp) {
        return log.append(batch(record(key, "-".equals(value) ? null : value, timestamp)), 0).firstOffset();
    }

    /** Closes the active segment, moves the high watermark to the end and runs one whole pass. */
    static CompactionTask.Result compactAll(Log log) throws IOException {
        log.roll();
        log.updateHighWatermark(log.logEndOffset());
        return runPass(log, 1 << 20);
    }

    static CompactionTask.Result runPass(Log log, int maxKeyBytes) throws IOException {
        CompactionTask task = log.prepareCompaction(maxKeyBytes).orElseThrow();
        CompactionTask.Result result = task.run();
        log.completeCompaction(result).run();
        return result;
    }

    static List<Rec> all(Log log) throws IOException {
        return Batches.readAll(log, 0);
    }

    List<String> leftoverFiles() throws IOException {
        try (Stream<Path> s = Files.list(dir())) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains(Log.CLEANED_SUFFIX) || n.contains(Log.SWAP_SUFFIX) || n.endsWith(Log.DELETED_SUFFIX))
                    .toList();
        }
    }

    // ---------------------------------------------------------------- the latest value per key

    @Test
    void theLatestValueOfEveryKeyStaysAtItsOriginalOffset() throws Exception {
        try (Log log = open(COMPACTED)) {
            String[][] writes = {{"k0", "a0"}, {"k1", "a1"}, {"k2", "a2"}, {"k0", "b0"}, {"k1", "b1"},
                {"k0", "c0"}, {"k2", "b2"}, {"k3", "a3"}, {"k0", "d0"}, {"k3", "b3"}};
            for (String[] w : writes) {
                put(log, w[0], w[1], T0);
            }
            assertThat(log.segmentCount()).isGreaterThan(2);

            CompactionTask.Result result = compactAll(log);

            assertThat(all(log)).containsExactly(new Rec(4, "k1", "b1", T0), new Rec(6, "k2", "b2", T0),
                    new Rec(8, "k0", "d0", T0), new Rec(9, "k3", "b3", T0));
            assertThat(result.recordsRead()).isEqualTo(10);
            assertThat(result.recordsRetained()).isEqualTo(4);
            assertThat(log.logStartOffset()).isZero();
            assertThat(log.logEndOffset()).isEqualTo(10);
            assertThat(log.read(1, 1 << 20, Long.MAX_VALUE).firstOffset()).as("a read from a removed offset")
                    .isEqualTo(4);
            assertThat(log.offsetForTimestamp(T0)).hasValue(new TimestampOffset(T0, 4));
            log.verifyAll();
            assertThat(leftoverFiles()).isEmpty();
        }
    }

    @Test
    void theActiveSegmentIsNotCompacted() throws Exception {
        try (Log log = open(COMPACTED)) {
            for (int i = 0; i < 4; i++) {
                put(log, "k", "old" + i, T0);
            }
            long activeBase = log.logEndOffset();
            log.roll();
            put(log, "k", "active-1", T0);
            put(log, "k", "active-2", T0);
            log.updateHighWatermark(log.logEndOffset());

            runPass(log, 1 << 20);

            assertThat(all(log)).extracting(Rec::value).containsExactly("old3", "active-1", "active-2");
            assertThat(all(log)).extracting(Rec::offset).containsExactly(3L, activeBase, activeBase + 1);
        }
    }

    @Test
    void onlySegmentsWhollyBelowTheHighWatermarkAreCompacted() throws Exception {
        try (Log log = open(COMPACTED)) {
            for (int i = 0; i < 10; i++) {
                put(log, "k", "v" + i, T0);
            }
            log.roll();
            long firstSegmentEnd = log.segments().get(1).baseOffset();
            log.updateHighWatermark(firstSegmentEnd);

            runPass(log, 1 << 20);

            List<Rec> after = all(log);
            assertThat(after).extracting(Rec::offset).as("only the first segment was compacted")
                    .startsWith(firstSegmentEnd - 1)
                    .contains(firstSegmentEnd, log.logEndOffset() - 1);
            assertThat(after).hasSize((int) (10 - firstSegmentEnd + 1));
        }
    }

    @Test
    void aDeleteOnlyTopicIsNeverCompacted() throws Exception {
        try (Log log = open(LogConfig.defaults().with(LogConfig.SEGMENT_BYTES, 300))) {
            for (int i = 0; i < 10; i++) {
                put(log, "k", "v" + i, T0);
            }
            log.roll();
            log.updateHighWatermark(log.logEndOffset());
            assertThat(log.prepareCompaction(1 << 20)).isEmpty();
        }
    }

    // ---------------------------------------------------------------- tombstones

    @Test
    void aTombstoneStaysForDeleteRetentionMsAndThenGoes() throws Exception {
        LogConfig config = COMPACTED.with(LogConfig.DELETE_RETENTION_MS, 10_000);
        try (Log log = open(config)) {
            put(log, "gone", "value", T0);
            put(log, "kept", "value", T0);
            long tombstone = put(log, "gone", "-", T0);
            put(log, "kept", "newer", T0);

            clock.advance(5_000);
            compactAll(log);
            assertThat(all(log)).containsExactly(new Rec(tombstone, "gone", null, T0), new Rec(3, "kept", "newer", T0));

            clock.advance(5_001);                          // the tombstone is now 10 001 ms old
            runPass(log, 1 << 20);
            assertThat(all(log)).containsExactly(new Rec(3, "kept", "newer", T0));
            assertThat(log.logEndOffset()).isEqualTo(4);
            log.verifyAll();
        }
    }

    @Test
    void aTombstoneFollowedByANewValueGivesWayToIt() throws Exception {
        try (Log log = open(COMPACTED)) {
            put(log, "k", "v1", T0);
            put(log, "k", "-", T0);
            long revived = put(log, "k", "v2", T0);

            compactAll(log);

            assertThat(all(log)).containsExactly(new Rec(revived, "k", "v2", T0));
        }
    }

    // ---------------------------------------------------------------- min.compaction.lag.ms

    @Test
    void segmentsYoungerThanTheMinimumCompactionLagAreLeftAlone() throws Exception {
        LogConfig config = COMPACTED.with(LogConfig.MIN_COMPACTION_LAG_MS, 60_000);
        try (Log log = open(config)) {
            long old = T0 - 120_000;
            put(log, "k0", "a", old);
            put(log, "k0", "b", old);
            put(log, "k1", "c", old);
            log.roll();                                    // segment [0..2], two minutes old
            put(log, "k0", "d", T0);
            put(log, "k1", "e", T0);
            log.roll();                                    // segment [3..4], new
            log.updateHighWatermark(log.logEndOffset());

            runPass(log, 1 << 20);
            assertThat(all(log)).extracting(Rec::value).as("only the old segment was compacted")
                    .containsExactly("b", "c", "d", "e");

            clock.advance(60_000);
            runPass(log, 1 << 20);
            assertThat(all(log)).extracting(Rec::value).containsExactly("d", "e");
            assertThat(all(log)).extracting(Rec::offset).containsExactly(3L, 4L);
        }
    }

    @Test
    void nothingIsPlannedWhileTheFirstSegmentIsTooYoung() throws Exception {
        LogConfig config = COMPACTED.with(LogConfig.MIN_COMPACTION_LAG_MS, 60_000);
        try (Log log = open(config)) {
            put(log, "k", "a", T0);
            put(log, "k", "b", T0);
            log.roll();
            log.updateHighWatermark(log.logEndOffset());

            assertThat(log.prepareCompaction(1 << 20)).isEmpty();
            clock.advance(59_999);
            assertThat(log.prepareCompaction(1 << 20)).isEmpty();
            clock.advance(1);
            assertThat(log.prepareCompaction(1 << 20)).isPresent();
            log.abortCompaction();
        }
    }

    // ---------------------------------------------------------------- compressed batches

    @ParameterizedTest
    @EnumSource(value = CompressionType.class, names = {"GZIP", "SNAPPY", "LZ4", "ZSTD"})
    void compressedBatchesAreCompactedRecordByRecordAndStayCompressed(CompressionType codec) throws Exception {
        Compression compression = Compression.of(codec).build();
        try (Log log = open(COMPACTED)) {
            long t = T0 - 100;
            log.append(batch(compression, record("k0", "1", t), record("k1", "2", t + 1), record("k0", "3", t + 2),
                    record("k2", "4", t + 3)), 0);
            log.append(batch(compression, record("k1", "5", t + 4), record("k3", "6", t + 5), record("k0", "7", t + 6),
                    record("k3", "8", t + 7)), 0);

            compactAll(log);

            assertThat(all(log)).containsExactly(new Rec(3, "k2", "4", t + 3), new Rec(4, "k1", "5", t + 4),
                    new Rec(6, "k0", "7", t + 6), new Rec(7, "k3", "8", t + 7));
            List<RecordBatch> batches = new ArrayList<>();
            log.read(0, 1 << 20, Long.MAX_VALUE).readRecords().batches().forEach(batches::add);
            assertThat(batches).extracting(RecordBatch::compressionType).containsOnly(codec);
            assertThat(batches).allMatch(RecordBatch::isValid);
            assertThat(batches).extracting(RecordBatch::lastOffset).as("batches keep their offset ranges")
                    .containsExactly(3L, 7L);
        }
        try (Log log = open(COMPACTED)) {
            assertThat(all(log)).extracting(Rec::value).containsExactly("4", "5", "7", "8");
            log.verifyAll();
        }
    }

    // ---------------------------------------------------------------- restarts and concurrency

    @ParameterizedTest(name = "clean shutdown: {0}")
    @ValueSource(booleans = {true, false})
    void theCompactedLogSurvivesARestart(boolean clean) throws Exception {
        List<Rec> compacted;
        try (Log log = open(COMPACTED)) {
            for (int i = 0; i < 12; i++) {
                put(log, "k" + (i % 3), "v" + i, T0 - 100 + i);
            }
            compactAll(log);
            compacted = all(log);
            assertThat(compacted).extracting(Rec::value).containsExactly("v9", "v10", "v11");
            if (!clean) {
                log.closeUncleanly();
            }
        }
        try (Log log = open(COMPACTED)) {
            assertThat(all(log)).isEqualTo(compacted);
            assertThat(log.logEndOffset()).isEqualTo(12);
            assertThat(log.append(batch(record("k0", "after", T0)), 0).firstOffset()).isEqualTo(12);
            log.verifyAll();
            assertThat(leftoverFiles()).isEmpty();
        }
    }

    @Test
    void recordsAppendedWhileAPassRunsAreKept() throws Exception {
        try (Log log = open(COMPACTED)) {
            for (int i = 0; i < 8; i++) {
                put(log, "k" + (i % 2), "before" + i, T0);
            }
            log.roll();
            log.updateHighWatermark(log.logEndOffset());
            CompactionTask task = log.prepareCompaction(1 << 20).orElseThrow();

            List<Long> during = new ArrayList<>();
            for (int i = 0; i < 6; i++) {                  // enough to roll new segments mid-pass
                during.add(put(log, "k" + (i % 2), "during-run" + i, T0));
            }
            CompactionTask.Result result = task.run();
            during.add(put(log, "k0", "before-complete", T0));
            log.completeCompaction(result).run();
            during.add(put(log, "k1", "after", T0));

            List<Rec> after = all(log);
            assertThat(after).extracting(Rec::value).containsExactly("before6", "before7", "during-run0",
                    "during-run1", "during-run2", "during-run3", "during-run4", "during-run5", "before-complete", "after");
            assertThat(after.subList(2, after.size())).extracting(Rec::offset).containsExactlyElementsOf(during);
            assertThat(log.logEndOffset()).isEqualTo(during.get(during.size() - 1) + 1);
            log.verifyAll();
        }
    }

    /**
     * Regression: when the key map filled up after the first segment, every later pass built its
     * map from the first segment again, so compaction never got past it.
     */
    @Test
    void aPassCutShortByItsKeyMemoryIsFollowedByPassesThatReachTheLaterSegments() throws Exception {
        try (Log log = open(COMPACTED)) {
            for (int i = 0; i < 12; i++) {
                put(log, "k" + (i % 2), "v" + i, T0);
            }
            log.roll();
            log.updateHighWatermark(log.logEndOffset());
            long secondSegment = log.segments().get(1).baseOffset();

            runPass(log, 1);                               // the key map fills after the first segment
            assertThat(all(log)).extracting(Rec::offset).as("only the first segment was compacted")
                    .filteredOn(o -> o >= secondSegment).hasSize((int) (12 - secondSegment));

            for (int pass = 0; pass < 10 && all(log).size() > 2; pass++) {
                runPass(log, 1);
            }
            assertThat(all(log)).extracting(Rec::value).containsExactly("v10", "v11");
        }
    }

    @Test
    void whileAPassRunsTheLogRefusesASecondPassRetentionAndTruncation() throws Exception {
        LogConfig config = COMPACTED.with(LogConfig.CLEANUP_POLICY, "compact,delete").with(LogConfig.RETENTION_MS, 1);
        try (Log log = open(config)) {
            for (int i = 0; i < 8; i++) {
                put(log, "k", "v" + i, T0);
            }
            log.roll();
            log.updateHighWatermark(log.logEndOffset());
            clock.advance(10);
            CompactionTask task = log.prepareCompaction(1 << 20).orElseThrow();

            assertThat(log.isCompacting()).isTrue();
            assertThat(log.prepareCompaction(1 << 20)).isEmpty();
            assertThat(log.applyRetention().isEmpty()).isTrue();
            assertThatThrownBy(() -> log.truncateTo(2)).isInstanceOf(IllegalStateException.class);

            log.completeCompaction(task.run()).run();
            assertThat(log.isCompacting()).isFalse();
            assertThat(all(log)).extracting(Rec::value).containsExactly("v7");
        }
    }

    @Test
    void anAbortedPassLeavesTheLogAsItWas() throws Exception {
        try (Log log = open(COMPACTED)) {
            for (int i = 0; i < 8; i++) {
                put(log, "k", "v" + i, T0);
            }
            log.roll();
            log.updateHighWatermark(log.logEndOffset());
            List<Rec> before = all(log);

            log.prepareCompaction(1 << 20).orElseThrow();   // the worker fails before it runs
            log.abortCompaction();

            assertThat(all(log)).isEqualTo(before);
            runPass(log, 1 << 20);
            assertThat(all(log)).extracting(Rec::value).containsExactly("v7");
        }
    }
}

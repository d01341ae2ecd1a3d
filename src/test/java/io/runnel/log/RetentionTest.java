package io.runnel.log;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;
import io.runnel.log.Batches.Rec;

/**
 * Retention, as a specification: what {@code retention.ms}, {@code retention.bytes} and
 * DeleteRecords ({@code advanceLogStartOffset}) remove, what they keep, and what survives a restart.
 *
 * <p>Every test uses single-record batches of about 80 bytes and {@code segment.bytes} 300, so a
 * segment holds three records: segments start at offsets 0, 3, 6, ... Time comes from a
 * {@link ManualClock}; retention removes only segments wholly below the high watermark, so tests
 * move the high watermark to the log end first, as the broker would once followers caught up.
 */
@Timeout(30)
class RetentionTest {

    static final long T0 = 1_000_000_000L;
    static final long HOUR_MS = 3_600_000L;
    static final LogConfig SMALL_SEGMENTS = LogConfig.defaults().with(LogConfig.SEGMENT_BYTES, 300);

    @TempDir
    Path dataDir;

    final ManualClock clock = new ManualClock(T0);

    Path dir() {
        return dataDir.resolve("t-0");
    }

    Log open(LogConfig config) throws IOException {
        return Log.open(dir(), config, StorageIo.SYSTEM, clock);
    }

    /** Appends one record per batch, stamped {@code timestamp}, values v{first}..; returns the last offset. */
    static long appendRecords(Log log, int first, int count, long timestamp) {
        long last = -1;
        for (int i = first; i < first + count; i++) {
            last = log.append(batch(record("k" + i, "value-" + i, timestamp)), 0).lastOffset();
        }
        return last;
    }

    static List<Long> segmentBases(Log log) {
        return log.segments().stream().map(Segment::baseOffset).toList();
    }

    List<String> files() throws IOException {
        try (Stream<Path> s = Files.list(dir())) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    // ---------------------------------------------------------------- retention.ms

    @Test
    void retentionMsDeletesWholeExpiredSegmentsAndKeepsTheActiveOne() throws Exception {
        LogConfig config = SMALL_SEGMENTS.with(LogConfig.RETENTION_MS, HOUR_MS);
        try (Log log = open(config)) {
            appendRecords(log, 0, 6, T0);                  // segments [0..2] and [3..5], old
            appendRecords(log, 6, 4, T0 + 2 * HOUR_MS);    // segments [6..8] and the active [9..]
            assertThat(segmentBases(log)).containsExactly(0L, 3L, 6L, 9L);
            log.updateHighWatermark(log.logEndOffset());

            clock.advance(2 * HOUR_MS + 1);                // the first six records are now past retention
            SegmentDeletion deletion = log.applyRetention();

            assertThat(deletion.segmentCount()).isEqualTo(2);
            assertThat(log.logStartOffset()).isEqualTo(6);
            assertThat(segmentBases(log)).containsExactly(6L, 9L);
            assertThat(Batches.readAll(log, 0)).extracting(Rec::offset).containsExactly(6L, 7L, 8L, 9L);
            deletion.run();
        }
    }

    @Test
    void aSegmentIsKeptWhileItsNewestRecordIsWithinRetention() throws Exception {
        LogConfig config = SMALL_SEGMENTS.with(LogConfig.RETENTION_MS, HOUR_MS);
        try (Log log = open(config)) {
            appendRecords(log, 0, 2, T0);
            appendRecords(log, 2, 1, T0 + HOUR_MS);        // the first segment's newest record is young
            appendRecords(log, 3, 3, T0 + HOUR_MS);
            log.updateHighWatermark(log.logEndOffset());
            clock.advance(HOUR_MS + 1);                     // offsets 0 and 1 expired, offset 2 not

            assertThat(log.applyRetention().isEmpty()).isTrue();
            assertThat(log.logStartOffset()).isZero();
        }
    }

    @Test
    void theActiveSegmentGoesTooWhenEverythingHasExpired() throws Exception {
        LogConfig config = SMALL_SEGMENTS.with(LogConfig.RETENTION_MS, HOUR_MS);
        try (Log log = open(config)) {
            appendRecords(log, 0, 2, T0);
            assertThat(log.segmentCount()).isEqualTo(1);
            log.updateHighWatermark(log.logEndOffset());
            clock.advance(HOUR_MS + 1);

            log.applyRetention().run();

            assertThat(log.logStartOffset()).isEqualTo(2);
            assertThat(log.logEndOffset()).isEqualTo(2);
            assertThat(Batches.readAll(log, 0)).isEmpty();
            assertThat(log.append(batch(record("k", "after", clock.millis())), 0).firstOffset())
                    .as("offsets continue after an emptied log").isEqualTo(2);
        }
    }

    /** Regression: with several segments all expired, one pass left the expired active segment behind. */
    @Test
    void oneRetentionPassEmptiesALogOfSeveralSegmentsThatHaveAllExpired() throws Exception {
        LogConfig config = SMALL_SEGMENTS.with(LogConfig.RETENTION_MS, HOUR_MS);
        try (Log log = open(config)) {
            appendRecords(log, 0, 8, T0);
            assertThat(segmentBases(log)).containsExactly(0L, 3L, 6L);
            log.updateHighWatermark(log.logEndOffset());
            clock.advance(HOUR_MS + 1);

            SegmentDeletion deletion = log.applyRetention();

            assertThat(deletion.segmentCount()).isEqualTo(3);
            assertThat(log.logStartOffset()).isEqualTo(8);
            assertThat(Batches.readAll(log, 0)).isEmpty();
            deletion.run();
        }
    }

    @Test
    void retentionNeverDeletesAtOrAboveTheHighWatermark() throws Exception {
        LogConfig config = SMALL_SEGMENTS.with(LogConfig.RETENTION_MS, HOUR_MS);
        try (Log log = open(config)) {
            appendRecords(log, 0, 8, T0);
            log.updateHighWatermark(4);                     // inside the second segment [3..5]
            clock.advance(HOUR_MS + 1);

            log.applyRetention().run();

            assertThat(log.logStartOffset()).as("only [0..2] lies wholly below the high watermark").isEqualTo(3);
            assertThat(Batches.readAll(log, 0)).extracting(Rec::offset).containsExactly(3L, 4L, 5L, 6L, 7L);
        }
    }

    @Test
    void retentionMsOfMinusOneKeepsEverything() throws Exception {
        LogConfig config = SMALL_SEGMENTS.with(LogConfig.RETENTION_MS, -1);
        try (Log log = open(config)) {
            appendRecords(log, 0, 8, T0);
            log.updateHighWatermark(log.logEndOffset());
            clock.advance(365L * 24 * HOUR_MS);

            assertThat(log.applyRetention().isEmpty()).isTrue();
            assertThat(log.logStartOffset()).isZero();
        }
    }

    @Test
    void aCompactedTopicIsNotTrimmedByTime() throws Exception {
        LogConfig config = SMALL_SEGMENTS.with(LogConfig.RETENTION_MS, HOUR_MS).with(LogConfig.CLEANUP_POLICY, "compact");
        try (Log log = open(config)) {
            appendRecords(log, 0, 8, T0);
            log.updateHighWatermark(log.logEndOffset());
            clock.advance(HOUR_MS + 1);

            assertThat(log.applyRetention().isEmpty()).isTrue();
            assertThat(log.logStartOffset()).isZero();
        }
    }

    // ---------------------------------------------------------------- retention.bytes

    @Test
    void retentionBytesDeletesTheOldestSegmentsWhileTheRestStillHoldsThatMany() throws Exception {
        try (Log log = open(SMALL_SEGMENTS)) {
            appendRecords(log, 0, 11, T0);
            List<Segment> segments = log.segments();
            assertThat(segmentBases(log)).containsExactly(0L, 3L, 6L, 9L);
            int full = segments.get(0).sizeBytes();
            long total = log.sizeInBytes();
            log.updateHighWatermark(log.logEndOffset());

            // Keeping at least total - 2 full segments allows exactly the first two to go.
            log.updateConfig(SMALL_SEGMENTS.with(LogConfig.RETENTION_BYTES, total - 2L * full));
            SegmentDeletion deletion = log.applyRetention();

            assertThat(deletion.segmentCount()).isEqualTo(2);
            assertThat(log.logStartOffset()).isEqualTo(6);
            assertThat(log.sizeInBytes()).isEqualTo(total - 2L * full);
            deletion.run();

            // One byte more than what is left: nothing may go.
            log.updateConfig(SMALL_SEGMENTS.with(LogConfig.RETENTION_BYTES, log.sizeInBytes() - full + 1));
            assertThat(log.applyRetention().isEmpty()).isTrue();
        }
    }

    @Test
    void retentionBytesNeverDeletesTheActiveSegment() throws Exception {
        try (Log log = open(SMALL_SEGMENTS.with(LogConfig.RETENTION_BYTES, 0))) {
            appendRecords(log, 0, 7, T0);
            log.updateHighWatermark(log.logEndOffset());

            log.applyRetention().run();

            assertThat(segmentBases(log)).containsExactly(6L);
            assertThat(Batches.readAll(log, 0)).extracting(Rec::offset).containsExactly(6L);
        }
    }

    // ---------------------------------------------------------------- DeleteRecords

    @Test
    void advancingTheLogStartOffsetHidesRecordsAtOnceAndRetentionDropsSegmentsWhollyBelowIt() throws Exception {
        try (Log log = open(SMALL_SEGMENTS)) {
            appendRecords(log, 0, 10, T0);
            log.updateHighWatermark(log.logEndOffset());

            assertThat(log.advanceLogStartOffset(7)).isEqualTo(7);
            assertThat(log.logStartOffset()).isEqualTo(7);
            assertThat(Batches.readAll(log, 0)).extracting(Rec::offset).containsExactly(7L, 8L, 9L);
            assertThatThrownBy(() -> log.read(6, 1000, Long.MAX_VALUE)).isInstanceOf(OffsetOutOfRangeException.class);
            assertThat(log.read(7, 1000, Long.MAX_VALUE).firstOffset()).isLessThanOrEqualTo(7);

            SegmentDeletion deletion = log.applyRetention();
            assertThat(segmentBases(log)).as("[6..8] holds the start offset and stays").containsExactly(6L, 9L);
            assertThat(log.logStartOffset()).isEqualTo(7);
            deletion.run();
            assertThat(Batches.readAll(log, 0)).extracting(Rec::offset).containsExactly(7L, 8L, 9L);
        }
    }

    @Test
    void theLogStartOffsetNeverMovesBackOrPastTheHighWatermark() throws Exception {
        try (Log log = open(SMALL_SEGMENTS)) {
            appendRecords(log, 0, 10, T0);
            log.updateHighWatermark(5);

            assertThatThrownBy(() -> log.advanceLogStartOffset(6)).isInstanceOf(OffsetOutOfRangeException.class);
            assertThat(log.advanceLogStartOffset(4)).isEqualTo(4);
            assertThat(log.advanceLogStartOffset(2)).as("an older DeleteRecords changes nothing").isEqualTo(4);
            assertThat(log.logStartOffset()).isEqualTo(4);
        }
    }

    @Test
    void aCheckpointedLogStartOffsetSurvivesCleanAndUncleanRestarts() throws Exception {
        try (Log log = open(SMALL_SEGMENTS)) {
            appendRecords(log, 0, 10, T0);
            log.updateHighWatermark(log.logEndOffset());
            log.advanceLogStartOffset(4);
            log.applyRetention().run();
        }
        try (Log log = open(SMALL_SEGMENTS)) {
            assertThat(log.recoveryReport().cleanShutdown()).isTrue();
            assertThat(log.logStartOffset()).isEqualTo(4);
            assertThat(Batches.readAll(log, 0)).extracting(Rec::offset).containsExactly(4L, 5L, 6L, 7L, 8L, 9L);
            assertThatThrownBy(() -> log.read(3, 1000, Long.MAX_VALUE)).isInstanceOf(OffsetOutOfRangeException.class);

            log.advanceLogStartOffset(5);
            log.writeCheckpoint();
            log.closeUncleanly();
        }
        try (Log log = open(SMALL_SEGMENTS)) {
            assertThat(log.recoveryReport().cleanShutdown()).isFalse();
            assertThat(log.logStartOffset()).isEqualTo(5);
            assertThat(Batches.readAll(log, 0)).extracting(Rec::offset).containsExactly(5L, 6L, 7L, 8L, 9L);
        }
    }

    @Test
    void aLogStartOffsetOnlyInMemoryIsNotPromisedAcrossACrash() throws Exception {
        try (Log log = open(SMALL_SEGMENTS)) {
            appendRecords(log, 0, 10, T0);
            log.updateHighWatermark(log.logEndOffset());
            log.advanceLogStartOffset(5);                  // not checkpointed: not yet acknowledged
            log.closeUncleanly();
        }
        try (Log log = open(SMALL_SEGMENTS)) {
            assertThat(log.logStartOffset()).isZero();
            assertThat(Batches.readAll(log, 0)).hasSize(10);
        }
    }

    @Test
    void segmentsDeletedByRetentionStayDeletedAfterAnUncleanRestart() throws Exception {
        LogConfig config = SMALL_SEGMENTS.with(LogConfig.RETENTION_MS, HOUR_MS);
        try (Log log = open(config)) {
            appendRecords(log, 0, 6, T0);
            appendRecords(log, 6, 3, T0 + 2 * HOUR_MS);
            log.updateHighWatermark(log.logEndOffset());
            clock.advance(2 * HOUR_MS);
            log.applyRetention().run();
            assertThat(log.logStartOffset()).isEqualTo(6);
            log.closeUncleanly();                          // the new start offset was never checkpointed
        }
        try (Log log = open(config)) {
            assertThat(log.logStartOffset()).isEqualTo(6);
            assertThat(Batches.readAll(log, 0)).extracting(Rec::offset).containsExactly(6L, 7L, 8L);
        }
    }

    // ---------------------------------------------------------------- files

    @Test
    void deletedSegmentsAreRenamedAtOnceAndTheirFilesGoneAfterTheDeletionRuns() throws Exception {
        LogConfig config = SMALL_SEGMENTS.with(LogConfig.RETENTION_MS, HOUR_MS);
        try (Log log = open(config)) {
            appendRecords(log, 0, 3, T0);
            appendRecords(log, 3, 3, T0 + 2 * HOUR_MS);
            log.updateHighWatermark(log.logEndOffset());
            clock.advance(2 * HOUR_MS);

            SegmentDeletion deletion = log.applyRetention();

            String first = Segment.fileName(0, "");
            assertThat(files()).filteredOn(f -> f.startsWith(first))
                    .containsExactlyInAnyOrder(first + ".log.deleted", first + ".index.deleted",
                            first + ".timeindex.deleted");
            deletion.run();
            assertThat(files()).noneMatch(f -> f.startsWith(first));
            assertThat(files()).contains(Segment.fileName(3, ".log"), Log.CHECKPOINT_FILE);
        }
    }

    @Test
    void aReadHandedOutBeforeRetentionStaysReadableUntilTheDeletionRuns() throws Exception {
        LogConfig config = SMALL_SEGMENTS.with(LogConfig.RETENTION_MS, HOUR_MS);
        try (Log log = open(config)) {
            appendRecords(log, 0, 3, T0);
            appendRecords(log, 3, 3, T0 + 2 * HOUR_MS);
            log.updateHighWatermark(log.logEndOffset());
            FetchSlice inFlight = log.read(0, 10_000, log.logEndOffset());
            clock.advance(2 * HOUR_MS);

            SegmentDeletion deletion = log.applyRetention();

            assertThat(Batches.records(inFlight.readRecords())).extracting(Rec::value)
                    .containsExactly("value-0", "value-1", "value-2");
            deletion.run();
        }
    }

    @Test
    void searchingByTimestampSkipsDeletedRecords() throws Exception {
        try (Log log = open(SMALL_SEGMENTS)) {
            for (int i = 0; i < 9; i++) {
                log.append(batch(record("k" + i, "v" + i, T0 + i)), 0);
            }
            log.updateHighWatermark(log.logEndOffset());
            log.advanceLogStartOffset(5);
            log.applyRetention().run();

            assertThat(log.offsetForTimestamp(T0)).hasValue(new TimestampOffset(T0 + 5, 5));
            assertThat(log.offsetForTimestamp(T0 + 7)).hasValue(new TimestampOffset(T0 + 7, 7));
        }
    }
}

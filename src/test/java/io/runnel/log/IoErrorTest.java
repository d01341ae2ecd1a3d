package io.runnel.log;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.SimpleRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;
import io.runnel.log.Batches.Rec;

/**
 * A failed write or fsync leaves the log as it was: an append whose write fails throws
 * {@link KafkaStorageException} and leaves no byte of the batch in the file, the next append
 * takes the offset the failed one would have had, and a reopened log holds nothing of the failed
 * batch. A failed fsync does not move the durable offset, and the retried flush redoes all of it.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class IoErrorTest {

    private static final Predicate<Path> SEGMENT_FILES = p -> p.getFileName().toString().endsWith(Segment.LOG_SUFFIX);
    private static final long SEED = Long.getLong("runnel.ioerror.seed", 20240611L);

    @TempDir
    Path tmp;

    private final Clock clock = Clock.fixed(Instant.ofEpochMilli(1_000_000), ZoneOffset.UTC);

    private Path logDir() {
        return tmp.resolve("t-0");
    }

    private static MemoryRecords values(String prefix, int count) {
        SimpleRecord[] recs = new SimpleRecord[count];
        for (int i = 0; i < count; i++) {
            recs[i] = record("k" + i, prefix + i, 500_000 + i);
        }
        return batch(recs);
    }

    private static List<String> valuesOf(List<Rec> recs) {
        return recs.stream().map(Rec::value).toList();
    }

    @Test
    void aTornAppendLeavesNoByteBehindAndTheNextAppendTakesItsOffset() throws Exception {
        // Several seeds: the torn prefix length is drawn from the seed, from nothing to all but one byte.
        for (long seed = SEED; seed < SEED + 20; seed++) {
            Path dir = tmp.resolve("torn-" + seed);
            try {
                tornAppendCase(dir, seed);
            } catch (AssertionError | Exception e) {
                throw new AssertionError("Torn append case failed for seed " + seed
                        + " (replay with -Drunnel.ioerror.seed=" + seed + ")", e);
            }
        }
    }

    private void tornAppendCase(Path dir, long seed) throws Exception {
        FaultyStorageIo io = new FaultyStorageIo(seed);
        List<String> expected = new ArrayList<>();
        Path segment;
        byte[] before;
        try (Log log = Log.open(dir, LogConfig.defaults(), io, clock)) {
            log.append(values("a", 3), 0);
            log.append(values("b", 2), 0);
            expected.addAll(List.of("a0", "a1", "a2", "b0", "b1"));
            segment = log.activeSegment().logFile();
            before = Files.readAllBytes(segment);

            io.tearWrite(1, SEGMENT_FILES);
            assertThatThrownBy(() -> log.append(values("lost", 4), 0))
                    .isInstanceOf(KafkaStorageException.class)
                    .hasRootCauseInstanceOf(IOException.class)
                    .rootCause().hasMessageContaining("Injected torn write");
            assertThat(Files.readAllBytes(segment)).as("segment bytes after the failed append").isEqualTo(before);
            assertThat(log.logEndOffset()).isEqualTo(5);
            assertThat(valuesOf(Batches.readAll(log, 0))).containsExactlyElementsOf(expected);

            LogAppendInfo next = log.append(values("c", 2), 0);
            expected.addAll(List.of("c0", "c1"));
            assertThat(next.firstOffset()).isEqualTo(5);
            assertThat(next.lastOffset()).isEqualTo(6);
            assertThat(valuesOf(Batches.readAll(log, 0))).containsExactlyElementsOf(expected);
            log.closeUncleanly();
        }
        try (Log log = Log.open(dir, LogConfig.defaults(), StorageIo.SYSTEM, clock)) {
            List<Rec> all = Batches.readAll(log, 0);
            assertThat(valuesOf(all)).containsExactlyElementsOf(expected);
            assertThat(all).extracting(Rec::offset).containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L);
            assertThat(log.recoveryReport().bytesTruncated()).isZero();
            assertThat(log.verifyAll()).isEqualTo(7);
        }
    }

    @Test
    void aWriteThatFailsOutrightChangesNothingAndIsNotThereAfterReopen() throws Exception {
        FaultyStorageIo io = new FaultyStorageIo(SEED);
        LogConfig config = LogConfig.defaults().with(LogConfig.SEGMENT_BYTES, 400);
        List<String> expected = new ArrayList<>();
        try (Log log = Log.open(logDir(), config, io, clock)) {
            for (int i = 0; i < 10; i++) {
                log.append(values("v" + i + "-", 2), 0);
                expected.add("v" + i + "-0");
                expected.add("v" + i + "-1");
            }
            assertThat(log.segmentCount()).as("rolls happened").isGreaterThan(1);
            long end = log.logEndOffset();
            Path segment = log.activeSegment().logFile();
            byte[] before = Files.readAllBytes(segment);
            long durableBefore = log.flushBlocking();

            // Fail every attempt of one append: the log stays usable and unchanged each time.
            for (int attempt = 0; attempt < 3; attempt++) {
                io.tearWrite(1, SEGMENT_FILES);
                assertThatThrownBy(() -> log.append(values("lost", 1), 0)).isInstanceOf(KafkaStorageException.class);
                assertThat(Files.readAllBytes(segment)).isEqualTo(before);
                assertThat(log.logEndOffset()).isEqualTo(end);
                assertThat(log.durableOffset()).isEqualTo(durableBefore);
            }
            LogAppendInfo next = log.append(values("after", 1), 0);
            expected.add("after0");
            assertThat(next.firstOffset()).isEqualTo(end);
            assertThat(log.flushBlocking()).isEqualTo(end + 1);
            log.closeUncleanly();
        }
        try (Log log = Log.open(logDir(), config, StorageIo.SYSTEM, clock)) {
            List<Rec> all = Batches.readAll(log, 0);
            assertThat(valuesOf(all)).containsExactlyElementsOf(expected).doesNotContain("lost0");
            assertThat(log.verifyAll()).isEqualTo(expected.size());
        }
    }

    @Test
    void aFailedFsyncDoesNotMoveTheDurableOffsetAndTheRetryRedoesAllOfIt() throws Exception {
        FaultyStorageIo io = new FaultyStorageIo(SEED);
        LogConfig config = LogConfig.defaults().with(LogConfig.SEGMENT_BYTES, 300);
        try (Log log = Log.open(logDir(), config, io, clock)) {
            log.append(values("a", 2), 0);
            assertThat(log.flushBlocking()).isEqualTo(2);
            int segmentsBefore = log.segmentCount();
            while (log.segmentCount() == segmentsBefore) {
                log.append(values("b", 2), 0);
            }
            long end = log.logEndOffset();

            // The first fsync of the flush fails: nothing may count as durable.
            io.failForce(1, p -> true);
            assertThatThrownBy(log::flushBlocking).isInstanceOf(IOException.class).hasMessageContaining("Injected fsync failure");
            assertThat(log.durableOffset()).isEqualTo(2);

            // The retry must sync every segment file written since the last durable offset and, since a
            // segment was created, the directory that names it; only then is the end durable.
            long from = io.operations();
            assertThat(log.flushBlocking()).isEqualTo(end);
            List<FaultyStorageIo.Operation> retry = io.historySince(from);
            assertThat(retry).as("operations of the retried flush")
                    .anySatisfy(op -> {
                        assertThat(op.kind()).isEqualTo("sync-dir");
                        assertThat(op.path()).isEqualTo(logDir());
                    });
            for (Segment s : log.segments()) {
                if (s.nextOffset() > 2) {
                    assertThat(retry).as("fsync of " + s.logFile().getFileName())
                            .anySatisfy(op -> {
                                assertThat(op.kind()).isEqualTo("force");
                                assertThat(op.path()).isEqualTo(s.logFile());
                            });
                }
            }
        }
    }

    @Test
    void aFailedDirectorySyncIsRetriedByTheNextFlush() throws Exception {
        FaultyStorageIo io = new FaultyStorageIo(SEED);
        LogConfig config = LogConfig.defaults().with(LogConfig.SEGMENT_BYTES, 300);
        try (Log log = Log.open(logDir(), config, io, clock)) {
            while (log.segmentCount() == 1) {
                log.append(values("a", 2), 0);
            }
            long end = log.logEndOffset();
            io.failForce(1, p -> p.equals(logDir()));
            assertThatThrownBy(log::flushBlocking).isInstanceOf(IOException.class);
            assertThat(log.durableOffset()).isZero();

            long from = io.operations();
            assertThat(log.flushBlocking()).isEqualTo(end);
            assertThat(io.historySince(from)).as("operations of the retried flush")
                    .anySatisfy(op -> assertThat(op.kind()).isEqualTo("sync-dir"));
        }
    }

    @Test
    void anAppendThatFailsInAFreshSegmentLeavesItEmptyAndUsable() throws Exception {
        FaultyStorageIo io = new FaultyStorageIo(SEED);
        try (Log log = Log.open(logDir(), LogConfig.defaults(), io, clock)) {
            log.append(values("a", 2), 0);
            log.roll();
            Segment fresh = log.activeSegment();
            assertThat(fresh.baseOffset()).isEqualTo(2);

            io.tearWrite(1, SEGMENT_FILES);
            assertThatThrownBy(() -> log.append(values("lost", 3), 0)).isInstanceOf(KafkaStorageException.class);
            assertThat(Files.size(fresh.logFile())).isZero();
            assertThat(log.logEndOffset()).isEqualTo(2);

            assertThat(log.append(values("b", 1), 0).firstOffset()).isEqualTo(2);
            log.closeUncleanly();
        }
        try (Log log = Log.open(logDir(), LogConfig.defaults(), StorageIo.SYSTEM, clock)) {
            assertThat(valuesOf(Batches.readAll(log, 0))).containsExactly("a0", "a1", "b0");
            assertThat(log.verifyAll()).isEqualTo(3);
        }
    }
}

package io.runnel.log;

import static io.runnel.log.Batches.idempotentBatch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;

import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.SimpleRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.runnel.config.LogConfig;
import io.runnel.log.Batches.Rec;

/**
 * The idempotent producer's contract with the log, as a specification (Kafka's rules): a
 * producer's batches must carry consecutive sequence numbers within an epoch; a retry of one of
 * its last five batches is answered with the original offsets and writes nothing; a batch that
 * skips sequence numbers is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is fenced; a new epoch
 * starts at sequence 0. The state is rebuilt from the log's batch headers, so all of this holds
 * across clean and unclean restarts and after compaction.
 */
@Timeout(30)
class ProducerSequenceTest {

    static final long PID = 1001;
    static final short EPOCH = 0;

    @TempDir
    Path dataDir;

    final ManualClock clock = new ManualClock(1_000_000);

    Log open(LogConfig config) throws IOException {
        return Log.open(dataDir.resolve("t-0"), config, StorageIo.SYSTEM, clock);
    }

    /** A batch of {@code count} records with values {@code tag-0..}, from producer {@code pid}. */
    static MemoryRecords batchOf(long pid, short epoch, int baseSequence, int count, String tag) {
        SimpleRecord[] records = new SimpleRecord[count];
        for (int i = 0; i < count; i++) {
            records[i] = record("key-" + tag + "-" + i, tag + "-" + i, 100 + i);
        }
        return idempotentBatch(pid, epoch, baseSequence, records);
    }

    /** Six batches of two records: sequences 0-1, 2-3, ... 10-11 at offsets 0-1, 2-3, ... 10-11. */
    static void writeSixBatches(Log log) {
        for (int b = 0; b < 6; b++) {
            LogAppendInfo info = log.append(batchOf(PID, EPOCH, 2 * b, 2, "b" + b), 0);
            assertThat(info.firstOffset()).isEqualTo(2L * b);
        }
    }

    /** A retry of batch {@code b} of {@link #writeSixBatches} is a duplicate at its original offsets. */
    static void assertRetryIsDuplicate(Log log, int b) {
        long end = log.logEndOffset();
        long size = log.sizeInBytes();
        LogAppendInfo retry = log.append(batchOf(PID, EPOCH, 2 * b, 2, "b" + b), 0);
        assertThat(retry.duplicate()).as("retry of batch %d", b).isTrue();
        assertThat(retry.firstOffset()).isEqualTo(2L * b);
        assertThat(retry.lastOffset()).isEqualTo(2L * b + 1);
        assertThat(retry.sizeBytes()).isZero();
        assertThat(log.logEndOffset()).isEqualTo(end);
        assertThat(log.sizeInBytes()).isEqualTo(size);
    }

    @Test
    void batchesInSequenceOrderAreAccepted() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            LogAppendInfo a = log.append(batchOf(PID, EPOCH, 0, 3, "a"), 0);
            LogAppendInfo b = log.append(batchOf(PID, EPOCH, 3, 1, "b"), 0);
            LogAppendInfo c = log.append(batchOf(PID, EPOCH, 4, 2, "c"), 0);

            assertThat(a.firstOffset()).isZero();
            assertThat(b.firstOffset()).isEqualTo(3);
            assertThat(c.lastOffset()).isEqualTo(5);
            assertThat(a.duplicate() || b.duplicate() || c.duplicate()).isFalse();
            assertThat(Batches.readAll(log, 0)).extracting(Rec::value)
                    .containsExactly("a-0", "a-1", "a-2", "b-0", "c-0", "c-1");
        }
    }

    @Test
    void aRetryOfAnyOfTheLastFiveBatchesReturnsItsOriginalOffsetsAndWritesNothing() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            writeSixBatches(log);
            for (int b = 1; b < 6; b++) {
                assertRetryIsDuplicate(log, b);
            }
            assertThat(Batches.readAll(log, 0)).hasSize(12);
        }
    }

    @Test
    void aRetryOlderThanTheLastFiveBatchesIsOutOfOrder() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            writeSixBatches(log);
            assertThatThrownBy(() -> log.append(batchOf(PID, EPOCH, 0, 2, "b0"), 0))
                    .isInstanceOf(OutOfOrderSequenceException.class);
            assertThat(log.logEndOffset()).isEqualTo(12);
        }
    }

    @Test
    void aGapInTheSequenceIsOutOfOrderAndWritesNothing() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            log.append(batchOf(PID, EPOCH, 0, 2, "a"), 0);

            assertThatThrownBy(() -> log.append(batchOf(PID, EPOCH, 3, 1, "skips-2"), 0))
                    .isInstanceOf(OutOfOrderSequenceException.class);
            assertThat(log.logEndOffset()).isEqualTo(2);

            assertThat(log.append(batchOf(PID, EPOCH, 2, 1, "b"), 0).firstOffset()).as("the right sequence still works")
                    .isEqualTo(2);
        }
    }

    @Test
    void aBatchThatOverlapsTheLastOneWithoutMatchingItIsOutOfOrder() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            log.append(batchOf(PID, EPOCH, 0, 3, "a"), 0);
            assertThatThrownBy(() -> log.append(batchOf(PID, EPOCH, 1, 3, "overlap"), 0))
                    .isInstanceOf(OutOfOrderSequenceException.class);
            assertThat(log.logEndOffset()).isEqualTo(3);
        }
    }

    @Test
    void anOlderEpochIsFenced() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            log.append(batchOf(PID, (short) 2, 0, 1, "epoch2"), 0);

            assertThatThrownBy(() -> log.append(batchOf(PID, (short) 1, 1, 1, "zombie"), 0))
                    .isInstanceOf(InvalidProducerEpochException.class);
            assertThatThrownBy(() -> log.append(batchOf(PID, (short) 1, 0, 1, "zombie"), 0))
                    .isInstanceOf(InvalidProducerEpochException.class);
            assertThat(log.logEndOffset()).isEqualTo(1);
        }
    }

    @Test
    void aNewEpochMustStartAtSequenceZero() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            log.append(batchOf(PID, EPOCH, 0, 3, "old"), 0);

            assertThatThrownBy(() -> log.append(batchOf(PID, (short) 1, 3, 1, "new"), 0))
                    .isInstanceOf(OutOfOrderSequenceException.class);
            assertThat(log.append(batchOf(PID, (short) 1, 0, 1, "new"), 0).firstOffset()).isEqualTo(3);
            assertThat(log.append(batchOf(PID, (short) 1, 1, 1, "new2"), 0).firstOffset()).isEqualTo(4);
            assertThatThrownBy(() -> log.append(batchOf(PID, EPOCH, 3, 1, "old-again"), 0))
                    .as("the old epoch is fenced now").isInstanceOf(InvalidProducerEpochException.class);
        }
    }

    @Test
    void aRetryFromTheOldEpochIsNotADuplicateOfTheNewOne() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            log.append(batchOf(PID, EPOCH, 0, 1, "old"), 0);
            log.append(batchOf(PID, (short) 1, 0, 1, "new"), 0);

            assertThatThrownBy(() -> log.append(batchOf(PID, EPOCH, 0, 1, "old"), 0))
                    .isInstanceOf(InvalidProducerEpochException.class);
        }
    }

    @Test
    void aProducerTheLogHasNotSeenMayStartAtAnySequence() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            assertThat(log.append(batchOf(PID, EPOCH, 57, 2, "a"), 0).firstOffset()).isZero();
            assertThat(log.append(batchOf(PID, EPOCH, 59, 1, "b"), 0).firstOffset()).isEqualTo(2);
        }
    }

    @Test
    void producersAreTrackedIndependently() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            log.append(batchOf(1, EPOCH, 0, 2, "p1"), 0);
            log.append(batchOf(2, EPOCH, 0, 1, "p2"), 0);
            log.append(batchOf(1, EPOCH, 2, 1, "p1b"), 0);

            assertThat(log.append(batchOf(2, EPOCH, 0, 1, "p2"), 0).duplicate()).isTrue();
            assertThatThrownBy(() -> log.append(batchOf(2, EPOCH, 2, 1, "p2-gap"), 0))
                    .isInstanceOf(OutOfOrderSequenceException.class);
            assertThat(log.append(batchOf(2, EPOCH, 1, 1, "p2b"), 0).firstOffset()).isEqualTo(4);
        }
    }

    @Test
    void theSequenceWrapsAfterIntegerMaxValue() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            log.append(batchOf(PID, EPOCH, Integer.MAX_VALUE - 1, 3, "wraps"), 0);   // sequences MAX-1, MAX, 0

            assertThatThrownBy(() -> log.append(batchOf(PID, EPOCH, 2, 1, "gap"), 0))
                    .isInstanceOf(OutOfOrderSequenceException.class);
            assertThat(log.append(batchOf(PID, EPOCH, 1, 1, "next"), 0).firstOffset()).isEqualTo(3);
        }
    }

    @ParameterizedTest(name = "clean shutdown: {0}")
    @ValueSource(booleans = {true, false})
    void theStateSurvivesARestart(boolean clean) throws Exception {
        LogConfig config = LogConfig.defaults().with(LogConfig.SEGMENT_BYTES, 300);
        try (Log log = open(config)) {
            writeSixBatches(log);
            assertThat(log.segmentCount()).as("the batches span several segments").isGreaterThan(1);
            if (!clean) {
                log.closeUncleanly();
            }
        }
        try (Log log = open(config)) {
            assertThat(log.recoveryReport().cleanShutdown()).isEqualTo(clean);
            for (int b = 1; b < 6; b++) {
                assertRetryIsDuplicate(log, b);
            }
            assertThatThrownBy(() -> log.append(batchOf(PID, EPOCH, 13, 1, "gap"), 0))
                    .isInstanceOf(OutOfOrderSequenceException.class);
            assertThat(log.append(batchOf(PID, EPOCH, 12, 1, "next"), 0).firstOffset()).isEqualTo(12);
        }
    }

    @Test
    void aNewEpochSurvivesARestart() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            log.append(batchOf(PID, EPOCH, 0, 2, "old"), 0);
            log.append(batchOf(PID, (short) 1, 0, 2, "new"), 0);
            log.closeUncleanly();
        }
        try (Log log = open(LogConfig.defaults())) {
            assertThatThrownBy(() -> log.append(batchOf(PID, EPOCH, 2, 1, "zombie"), 0))
                    .isInstanceOf(InvalidProducerEpochException.class);
            assertThat(log.append(batchOf(PID, (short) 1, 0, 2, "new"), 0).duplicate()).isTrue();
            assertThat(log.append(batchOf(PID, (short) 1, 2, 1, "next"), 0).firstOffset()).isEqualTo(4);
        }
    }

    @Test
    void truncationForgetsTheBatchesItRemoved() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            writeSixBatches(log);
            log.truncateTo(8).run();                      // batches 4 and 5 (sequences 8..11) are gone

            assertThat(log.append(batchOf(PID, EPOCH, 8, 2, "b4-again"), 0).duplicate())
                    .as("a batch that truncation removed is written again, not a duplicate").isFalse();
            assertThat(log.logEndOffset()).isEqualTo(10);
        }
    }

    @Test
    void theProducersLastBatchSurvivesCompactionSoItsStateSurvivesARestart() throws Exception {
        LogConfig config = LogConfig.defaults().with(LogConfig.CLEANUP_POLICY, "compact")
                .with(LogConfig.SEGMENT_BYTES, 300);
        try (Log log = open(config)) {
            for (int seq = 0; seq < 6; seq++) {                  // the same key six times
                log.append(idempotentBatch(PID, EPOCH, seq, record("same-key", "v" + seq, 100 + seq)), 0);
            }
            log.append(Batches.batch(record("same-key", "newest", 200)), 0);   // supersedes all the producer wrote
            log.roll();
            log.updateHighWatermark(log.logEndOffset());
            CompactionTask task = log.prepareCompaction(1 << 20).orElseThrow();
            log.completeCompaction(task.run()).run();
            assertThat(Batches.readAll(log, 0)).extracting(Rec::value).containsExactly("newest");
        }
        try (Log log = open(config)) {
            assertThat(log.append(idempotentBatch(PID, EPOCH, 5, record("same-key", "v5", 105)), 0))
                    .as("the retry of the producer's last batch, whose records were compacted away")
                    .satisfies(info -> {
                        assertThat(info.duplicate()).isTrue();
                        assertThat(info.firstOffset()).isEqualTo(5);
                    });
            assertThatThrownBy(() -> log.append(idempotentBatch(PID, EPOCH, 7, record("k", "gap", 300)), 0))
                    .isInstanceOf(OutOfOrderSequenceException.class);
            assertThat(log.append(idempotentBatch(PID, EPOCH, 6, record("k", "next", 300)), 0).firstOffset())
                    .isEqualTo(7);
        }
    }
}

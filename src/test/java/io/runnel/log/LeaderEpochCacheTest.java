package io.runnel.log;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.SimpleRecord;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;

/**
 * The leader epoch cache of a log: which epoch wrote which offsets, kept across appends,
 * truncation, moves of the log start offset, clean restarts and crashes, and the answers to
 * OffsetForLeaderEpoch it gives.
 */
class LeaderEpochCacheTest {

    @TempDir
    Path tmp;

    final ManualClock clock = new ManualClock(1_000_000);

    Path dir() {
        return tmp.resolve("t-0");
    }

    Log open() throws Exception {
        return open(LogConfig.defaults());
    }

    Log open(LogConfig config) throws Exception {
        return Log.open(dir(), config, StorageIo.SYSTEM, clock);
    }

    /** One batch of {@code count} records. */
    static MemoryRecords records(int count) {
        SimpleRecord[] rs = new SimpleRecord[count];
        for (int i = 0; i < count; i++) {
            rs[i] = record("k" + i, "v" + i, 100 + i);
        }
        return batch(rs);
    }

    /** Epoch 1 writes 0..4, epoch 3 writes 5..9 (two batches), epoch 4 writes 10..11. */
    static void writeThreeEpochs(Log log) {
        log.append(records(5), 1);
        log.append(records(3), 3);
        log.append(records(2), 3);
        log.append(records(2), 4);
    }

    static final List<EpochEntry> THREE_EPOCHS = List.of(new EpochEntry(1, 0), new EpochEntry(3, 5),
            new EpochEntry(4, 10));

    @Test
    void aNewEpochStartsAtTheFirstOffsetItWrites() throws Exception {
        try (Log log = open()) {
            assertThat(log.latestEpoch()).isEqualTo(-1);
            assertThat(log.epochEntries()).isEmpty();
            writeThreeEpochs(log);
            assertThat(log.epochEntries()).containsExactlyElementsOf(THREE_EPOCHS);
            assertThat(log.latestEpoch()).isEqualTo(4);
        }
    }

    @Test
    void severalRequestsAppendedTogetherStartTheEpochAtTheFirstOfThem() throws Exception {
        try (Log log = open()) {
            log.append(records(2), 0);
            log.appendAll(List.of(records(1), records(3)), 2);
            assertThat(log.epochEntries()).containsExactly(new EpochEntry(0, 0), new EpochEntry(2, 2));
        }
    }

    @Test
    void anAppendInAnOlderEpochMakesTheCacheForgetTheNewerOnesAsKafkasDoes() throws Exception {
        try (Log log = open()) {
            log.append(records(2), 1);
            log.append(records(2), 5);
            log.append(records(1), 4);
            assertThat(log.logEndOffset()).isEqualTo(5);
            assertThat(log.epochEntries()).containsExactly(new EpochEntry(1, 0), new EpochEntry(4, 4));
        }
    }

    @Test
    void batchesWithoutAnEpochLeaveTheCacheAlone() throws Exception {
        try (Log log = open()) {
            log.append(records(2), -1);
            assertThat(log.epochEntries()).isEmpty();
            log.append(records(2), 0);
            assertThat(log.epochEntries()).containsExactly(new EpochEntry(0, 2));
        }
    }

    @Nested
    class EndOffsetForEpoch {

        @Test
        void anEpochInTheCacheEndsWhereTheNextOneStarts() throws Exception {
            try (Log log = open()) {
                writeThreeEpochs(log);
                assertThat(log.endOffsetForEpoch(1)).isEqualTo(new EpochEndOffset(1, 5));
                assertThat(log.endOffsetForEpoch(3)).isEqualTo(new EpochEndOffset(3, 10));
            }
        }

        @Test
        void anEpochBetweenTwoIsAnsweredWithTheOneBelowIt() throws Exception {
            try (Log log = open()) {
                writeThreeEpochs(log);
                assertThat(log.endOffsetForEpoch(2)).isEqualTo(new EpochEndOffset(1, 5));
            }
        }

        @Test
        void theLatestEpochEndsAtTheLogEnd() throws Exception {
            try (Log log = open()) {
                writeThreeEpochs(log);
                assertThat(log.endOffsetForEpoch(4)).isEqualTo(new EpochEndOffset(4, 12));
                assertThat(log.endOffsetForEpoch(9)).isEqualTo(new EpochEndOffset(4, 12));
            }
        }

        @Test
        void anEpochBelowEveryOneIsUndefined() throws Exception {
            try (Log log = open()) {
                writeThreeEpochs(log);
                assertThat(log.endOffsetForEpoch(0)).isEqualTo(EpochEndOffset.UNDEFINED);
                assertThat(log.endOffsetForEpoch(-1)).isEqualTo(EpochEndOffset.UNDEFINED);
            }
        }

        @Test
        void anEmptyCacheAnswersUndefined() throws Exception {
            try (Log log = open()) {
                assertThat(log.endOffsetForEpoch(3)).isEqualTo(EpochEndOffset.UNDEFINED);
            }
        }
    }

    @Nested
    class Persistence {

        @Test
        void theCacheSurvivesACleanRestart() throws Exception {
            try (Log log = open()) {
                writeThreeEpochs(log);
            }
            assertThat(Files.readString(dir().resolve("leader-epoch-checkpoint"), StandardCharsets.US_ASCII))
                    .isEqualTo("0\n3\n1 0\n3 5\n4 10\n");
            try (Log log = open()) {
                assertThat(log.epochEntries()).containsExactlyElementsOf(THREE_EPOCHS);
                assertThat(log.recoveryReport().problems()).isEmpty();
            }
        }

        @Test
        void epochsWrittenAfterTheLastCheckpointAreRebuiltFromTheBatchesAfterACrash() throws Exception {
            try (Log log = open()) {
                log.append(records(5), 1);
                log.writeCheckpoint();
                log.append(records(3), 3);
                log.append(records(2), 3);
                log.append(records(2), 4);
                log.closeUncleanly();
            }
            assertThat(Files.readString(dir().resolve("leader-epoch-checkpoint"))).isEqualTo("0\n1\n1 0\n");
            try (Log log = open()) {
                assertThat(log.recoveryReport().cleanShutdown()).isFalse();
                assertThat(log.epochEntries()).containsExactlyElementsOf(THREE_EPOCHS);
            }
            // Recovery wrote what it rebuilt.
            assertThat(Files.readString(dir().resolve("leader-epoch-checkpoint"))).isEqualTo("0\n3\n1 0\n3 5\n4 10\n");
        }

        @Test
        void aMissingFileIsRebuiltFromTheBatches() throws Exception {
            try (Log log = open()) {
                writeThreeEpochs(log);
            }
            Files.delete(dir().resolve("leader-epoch-checkpoint"));
            try (Log log = open()) {
                assertThat(log.epochEntries()).containsExactlyElementsOf(THREE_EPOCHS);
            }
        }

        @Test
        void entriesForATailTheCrashToreOffAreDropped() throws Exception {
            long bytesBeforeEpoch4;
            try (Log log = open()) {
                log.append(records(5), 1);
                log.append(records(5), 3);
                bytesBeforeEpoch4 = log.sizeInBytes();
                log.append(records(2), 4);
                log.writeCheckpoint();
                log.closeUncleanly();
            }
            // The epoch-4 batch was never fsynced and a power failure lost half of it.
            try (FileChannel ch = FileChannel.open(dir().resolve(Segment.fileName(0, Segment.LOG_SUFFIX)),
                    StandardOpenOption.WRITE)) {
                ch.truncate(bytesBeforeEpoch4 + 20);
            }
            Files.writeString(dir().resolve("checkpoint"), "v1 0 0\n");
            try (Log log = open()) {
                assertThat(log.logEndOffset()).isEqualTo(10);
                assertThat(log.epochEntries()).containsExactly(new EpochEntry(1, 0), new EpochEntry(3, 5));
                assertThat(log.endOffsetForEpoch(4)).isEqualTo(new EpochEndOffset(3, 10));
            }
        }

        @Test
        void aFileThatContradictsTheBatchesIsReplacedByTheBatchesAccount() throws Exception {
            try (Log log = open()) {
                writeThreeEpochs(log);
            }
            Files.writeString(dir().resolve("leader-epoch-checkpoint"), "0\n2\n1 0\n2 3\n");
            try (Log log = open()) {
                assertThat(log.epochEntries()).containsExactlyElementsOf(THREE_EPOCHS);
                assertThat(log.recoveryReport().problems()).anySatisfy(p -> assertThat(p).contains("leader epoch"));
            }
        }

        @Test
        void anUnreadableFileIsReplacedByTheBatchesAccount() throws Exception {
            try (Log log = open()) {
                writeThreeEpochs(log);
            }
            Files.writeString(dir().resolve("leader-epoch-checkpoint"), "0\n7\n1 x\n");
            try (Log log = open()) {
                assertThat(log.epochEntries()).containsExactlyElementsOf(THREE_EPOCHS);
                assertThat(log.recoveryReport().problems()).hasSize(1);
            }
        }

        @Test
        void theFileKeepsAnEpochWhoseBatchesCompactionRemoved() throws Exception {
            // Epoch 3's only record is superseded by epoch 4's; the batches alone would not show epoch 3.
            try (Log log = open()) {
                log.append(batch(record("a", "1", 100)), 1);
                log.append(batch(record("b", "2", 100)), 3);
                log.append(batch(record("c", "3", 100)), 4);
            }
            Path segment = dir().resolve(Segment.fileName(0, Segment.LOG_SUFFIX));
            byte[] bytes = Files.readAllBytes(segment);
            int firstBatchBytes = MemoryRecords.readableRecords(java.nio.ByteBuffer.wrap(bytes)).batches()
                    .iterator().next().sizeInBytes();
            int secondBatchBytes = MemoryRecords.readableRecords(java.nio.ByteBuffer.wrap(bytes, firstBatchBytes,
                    bytes.length - firstBatchBytes).slice()).batches().iterator().next().sizeInBytes();
            byte[] withoutSecond = new byte[bytes.length - secondBatchBytes];
            System.arraycopy(bytes, 0, withoutSecond, 0, firstBatchBytes);
            System.arraycopy(bytes, firstBatchBytes + secondBatchBytes, withoutSecond, firstBatchBytes,
                    bytes.length - firstBatchBytes - secondBatchBytes);
            Files.write(segment, withoutSecond);
            Files.delete(dir().resolve(Segment.fileName(0, Segment.INDEX_SUFFIX)));
            Files.delete(dir().resolve(Segment.fileName(0, Segment.TIME_INDEX_SUFFIX)));
            Files.delete(dir().resolve(".clean-shutdown"));
            Files.writeString(dir().resolve("checkpoint"), "v1 0 0\n");
            try (Log log = open(LogConfig.defaults().with(LogConfig.CLEANUP_POLICY, "compact"))) {
                assertThat(log.logEndOffset()).isEqualTo(3);
                assertThat(log.epochEntries()).containsExactly(new EpochEntry(1, 0), new EpochEntry(3, 1),
                        new EpochEntry(4, 2));
            }
        }
    }

    @Nested
    class Truncation {

        @Test
        void truncationForgetsTheEpochsAtOrAfterTheCut() throws Exception {
            try (Log log = open()) {
                writeThreeEpochs(log);
                log.truncateTo(5).run();
                assertThat(log.epochEntries()).containsExactly(new EpochEntry(1, 0));
                assertThat(log.endOffsetForEpoch(4)).isEqualTo(new EpochEndOffset(1, 5));
            }
        }

        @Test
        void truncationInsideAnEpochKeepsIt() throws Exception {
            try (Log log = open()) {
                writeThreeEpochs(log);
                log.truncateTo(8).run();
                assertThat(log.epochEntries()).containsExactly(new EpochEntry(1, 0), new EpochEntry(3, 5));
                assertThat(log.endOffsetForEpoch(3)).isEqualTo(new EpochEndOffset(3, 8));
            }
        }

        @Test
        void aTruncationIsOnDiskBeforeAnythingIsAppendedOverTheCut() throws Exception {
            try (Log log = open()) {
                writeThreeEpochs(log);
                log.writeCheckpoint();
                log.truncateTo(5).run();
                log.append(records(1), 6);
                log.closeUncleanly();
            }
            try (Log log = open()) {
                assertThat(log.epochEntries()).containsExactly(new EpochEntry(1, 0), new EpochEntry(6, 5));
                assertThat(log.recoveryReport().problems()).isEmpty();
            }
        }
    }

    @Nested
    class LogStartOffset {

        @Test
        void deleteRecordsDropsEpochsWhollyBelowTheNewStartAndRaisesTheOneCoveringIt() throws Exception {
            try (Log log = open()) {
                writeThreeEpochs(log);
                log.updateHighWatermark(log.logEndOffset());
                log.advanceLogStartOffset(7);
                assertThat(log.epochEntries()).containsExactly(new EpochEntry(3, 7), new EpochEntry(4, 10));
                log.advanceLogStartOffset(10);
                assertThat(log.epochEntries()).containsExactly(new EpochEntry(4, 10));
            }
            try (Log log = open()) {
                assertThat(log.logStartOffset()).isEqualTo(10);
                assertThat(log.epochEntries()).containsExactly(new EpochEntry(4, 10));
            }
        }

        @Test
        void retentionDropsTheEpochsOfDeletedSegments() throws Exception {
            LogConfig config = LogConfig.defaults().with(LogConfig.RETENTION_BYTES, 1);
            try (Log log = open(config)) {
                log.append(records(5), 1);
                log.roll();
                log.append(records(5), 2);
                log.roll();
                log.append(records(5), 2);
                log.updateHighWatermark(log.logEndOffset());
                log.applyRetention().run();
                assertThat(log.logStartOffset()).isEqualTo(10);
                assertThat(log.epochEntries()).containsExactly(new EpochEntry(2, 10));
            }
        }
    }
}

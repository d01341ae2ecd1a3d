package io.runnel.log;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.errors.CorruptRecordException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.record.CompressionType;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.SimpleRecord;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.utils.Crc32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import io.runnel.config.LogConfig;
import io.runnel.log.Batches.Rec;

/**
 * What {@link Log#append} accepts and refuses, as a specification. A refused append throws the
 * kafka-clients exception a Kafka broker would answer with and leaves the log byte for byte as it
 * was: the same log end offset, the same files with the same contents, and the next good append
 * gets the next offset. Accepted batches come back as they were sent, with offsets, the leader
 * epoch and (on LogAppendTime topics) the broker's clock stamped in.
 */
@Timeout(30)
class AppendValidationTest {

    static final long NOW_MS = 5_000_000L;
    /** Byte positions in a v2 batch header (see {@link BatchHeader}). */
    static final int CRC_OFFSET = 17;
    static final int ATTRIBUTES_OFFSET = 21;
    static final int RECORDS_COUNT_OFFSET = 57;

    @TempDir
    Path dataDir;

    final ManualClock clock = new ManualClock(NOW_MS);

    Path dir() {
        return dataDir.resolve("t-0");
    }

    Log open(LogConfig config) throws IOException {
        return Log.open(dir(), config, StorageIo.SYSTEM, clock);
    }

    static MemoryRecords threeRecords() {
        return batch(record("a", "1", 100), record("b", "2", 101), record("c", "3", 102));
    }

    /** The batch's bytes, to be corrupted on purpose. */
    static ByteBuffer bytesOf(MemoryRecords records) {
        ByteBuffer copy = ByteBuffer.allocate(records.sizeInBytes());
        copy.put(records.buffer().duplicate());
        copy.flip();
        return copy;
    }

    /** Recomputes a v2 batch's CRC-32C after a deliberate change, so only the change is wrong. */
    static MemoryRecords withFreshCrc(ByteBuffer batch) {
        long crc = Crc32C.compute(batch, ATTRIBUTES_OFFSET, batch.limit() - ATTRIBUTES_OFFSET);
        batch.putInt(CRC_OFFSET, (int) crc);
        return MemoryRecords.readableRecords(batch);
    }

    /** Every file of the log directory and its bytes. */
    Map<String, ByteBuffer> filesNow() throws IOException {
        Map<String, ByteBuffer> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir())) {
            for (Path f : files.toList()) {
                out.put(f.getFileName().toString(), ByteBuffer.wrap(Files.readAllBytes(f)));
            }
        }
        return out;
    }

    /** The append is refused with {@code expected}, nothing changes, and the log goes on at the same offset. */
    void assertRefusedWithoutATrace(Log log, MemoryRecords bad, Class<? extends Exception> expected) throws IOException {
        long end = log.logEndOffset();
        long size = log.sizeInBytes();
        Map<String, ByteBuffer> before = filesNow();

        assertThatThrownBy(() -> log.append(bad, 0)).isInstanceOf(expected);

        assertThat(log.logEndOffset()).as("log end offset after a refused append").isEqualTo(end);
        assertThat(log.sizeInBytes()).as("log size after a refused append").isEqualTo(size);
        assertThat(filesNow()).as("files after a refused append").isEqualTo(before);
        LogAppendInfo next = log.append(batch(record("next", "good", 200)), 0);
        assertThat(next.firstOffset()).as("the next good append's offset").isEqualTo(end);
        assertThat(Batches.readAll(log, end)).extracting(Rec::value).containsExactly("good");
    }

    /** A log that already holds one batch, so a refused append has something to leave alone. */
    Log openWithOneBatch(LogConfig config) throws IOException {
        Log log = open(config);
        log.append(batch(record("first", "0", 99)), 0);
        return log;
    }

    // ---------------------------------------------------------------- refused

    @Test
    void aBatchWhoseRecordBytesDoNotMatchItsCrcIsCorrupt() throws Exception {
        try (Log log = openWithOneBatch(LogConfig.defaults())) {
            ByteBuffer bytes = bytesOf(threeRecords());
            int inTheRecords = BatchHeader.SIZE + 5;
            bytes.put(inTheRecords, (byte) (bytes.get(inTheRecords) ^ 0x5a));

            assertRefusedWithoutATrace(log, MemoryRecords.readableRecords(bytes), CorruptRecordException.class);
        }
    }

    @Test
    void aBatchWhoseCrcCoveredHeaderWasAlteredIsCorrupt() throws Exception {
        try (Log log = openWithOneBatch(LogConfig.defaults())) {
            ByteBuffer bytes = bytesOf(threeRecords());
            bytes.putLong(35, bytes.getLong(35) + 1);      // the max timestamp, inside the CRC

            assertRefusedWithoutATrace(log, MemoryRecords.readableRecords(bytes), CorruptRecordException.class);
        }
    }

    @Test
    void aBatchLargerThanMaxMessageBytesIsTooLarge() throws Exception {
        LogConfig config = LogConfig.defaults().with(LogConfig.MAX_MESSAGE_BYTES, 1000);
        try (Log log = openWithOneBatch(config)) {
            MemoryRecords big = batch(record("k", "x".repeat(1000), 100));
            assertThat(big.sizeInBytes()).isGreaterThan(1000);

            assertRefusedWithoutATrace(log, big, RecordTooLargeException.class);
        }
    }

    @Test
    void aBatchOfExactlyMaxMessageBytesIsAccepted() throws Exception {
        MemoryRecords probe = batch(record("k", "", 100));
        int overhead = probe.sizeInBytes();
        MemoryRecords exact = batch(record("k", "x".repeat(200 - overhead), 100));
        LogConfig config = LogConfig.defaults().with(LogConfig.MAX_MESSAGE_BYTES, exact.sizeInBytes());
        try (Log log = open(config)) {
            assertThat(log.append(exact, 0).firstOffset()).isZero();
        }
    }

    @Test
    void olderRecordFormatsAreInvalid() throws Exception {
        try (Log log = openWithOneBatch(LogConfig.defaults())) {
            SimpleRecord r = record("k", "v", 100);
            assertRefusedWithoutATrace(log, MemoryRecords.withRecords(RecordBatch.MAGIC_VALUE_V1, 0L, Compression.NONE,
                    TimestampType.CREATE_TIME, r), InvalidRecordException.class);
            assertRefusedWithoutATrace(log, MemoryRecords.withRecords(RecordBatch.MAGIC_VALUE_V0, 0L, Compression.NONE,
                    TimestampType.NO_TIMESTAMP_TYPE, r), InvalidRecordException.class);
        }
    }

    @Test
    void bytesAfterTheLastWholeBatchAreCorrupt() throws Exception {
        try (Log log = openWithOneBatch(LogConfig.defaults())) {
            ByteBuffer good = bytesOf(threeRecords());
            for (byte[] tail : List.of(new byte[] {1, 2, 3, 4, 5}, new byte[20],
                    slice(bytesOf(threeRecords()), 40))) {
                ByteBuffer withTail = ByteBuffer.allocate(good.limit() + tail.length);
                withTail.put(good.duplicate()).put(tail).flip();

                assertRefusedWithoutATrace(log, MemoryRecords.readableRecords(withTail), CorruptRecordException.class);
            }
        }
    }

    static byte[] slice(ByteBuffer buf, int length) {
        byte[] out = new byte[length];
        buf.duplicate().get(out);
        return out;
    }

    @Test
    void aRecordCountThatSaysFewerOrMoreRecordsThanTheBatchHoldsIsInvalid() throws Exception {
        try (Log log = openWithOneBatch(LogConfig.defaults())) {
            for (int lie : new int[] {2, 4}) {
                ByteBuffer bytes = bytesOf(threeRecords());
                bytes.putInt(RECORDS_COUNT_OFFSET, lie);

                assertRefusedWithoutATrace(log, withFreshCrc(bytes), InvalidRecordException.class);
            }
        }
    }

    /** Regression: a compressed batch's record count was not checked unless the topic was compacted. */
    @Test
    void aCompressedBatchWithARecordCountThatLiesIsRefused() throws Exception {
        try (Log log = openWithOneBatch(LogConfig.defaults())) {
            for (int lie : new int[] {2, 4}) {
                ByteBuffer bytes = bytesOf(batch(Compression.gzip().build(), record("a", "1", 100),
                        record("b", "2", 101), record("c", "3", 102)));
                bytes.putInt(RECORDS_COUNT_OFFSET, lie);

                assertRefusedWithoutATrace(log, withFreshCrc(bytes), InvalidRecordException.class);
            }
        }
    }

    @Test
    void aRecordWithoutAKeyIsInvalidOnACompactedTopic() throws Exception {
        LogConfig compacted = LogConfig.defaults().with(LogConfig.CLEANUP_POLICY, "compact");
        try (Log log = openWithOneBatch(compacted)) {
            assertRefusedWithoutATrace(log, batch(record("a", "1", 100), record(null, "2", 101)),
                    InvalidRecordException.class);
            assertRefusedWithoutATrace(log, batch(Compression.lz4().build(), record("a", "1", 100), record(null, "2", 101)),
                    InvalidRecordException.class);
        }
    }

    @Test
    void aRecordWithoutAKeyIsFineOnADeleteTopic() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            log.append(batch(record(null, "no key", 100)), 0);
            assertThat(Batches.readAll(log, 0)).containsExactly(new Rec(0, null, "no key", 100));
        }
    }

    @Test
    void anAppendOfSeveralBatchesIsAllOrNothing() throws Exception {
        try (Log log = openWithOneBatch(LogConfig.defaults())) {
            ByteBuffer bad = bytesOf(threeRecords());
            bad.put(BatchHeader.SIZE + 2, (byte) (bad.get(BatchHeader.SIZE + 2) ^ 1));
            ByteBuffer goodThenBad = ByteBuffer.allocate(threeRecords().sizeInBytes() + bad.limit());
            goodThenBad.put(bytesOf(threeRecords())).put(bad).flip();

            assertRefusedWithoutATrace(log, MemoryRecords.readableRecords(goodThenBad), CorruptRecordException.class);
        }
    }

    @Test
    void anEmptyAppendIsInvalid() throws Exception {
        try (Log log = openWithOneBatch(LogConfig.defaults())) {
            assertRefusedWithoutATrace(log, MemoryRecords.EMPTY, InvalidRecordException.class);
        }
    }

    @Test
    void transactionalBatchesAreNotSupported() throws Exception {
        try (Log log = openWithOneBatch(LogConfig.defaults())) {
            MemoryRecords txn = MemoryRecords.withTransactionalRecords(Compression.NONE, 9L, (short) 0, 0,
                    record("k", "v", 100));
            assertRefusedWithoutATrace(log, txn, InvalidRecordException.class);
        }
    }

    // ---------------------------------------------------------------- accepted

    @Test
    void aLogAppendTimeTopicStampsTheClockOnEveryRecord() throws Exception {
        LogConfig config = LogConfig.defaults().with(LogConfig.MESSAGE_TIMESTAMP_TYPE, "LogAppendTime");
        try (Log log = open(config)) {
            LogAppendInfo first = log.append(threeRecords(), 0);
            clock.advance(1_000);
            LogAppendInfo second = log.append(batch(record("d", "4", 50)), 0);

            assertThat(first.logAppendTimeMs()).isEqualTo(NOW_MS);
            assertThat(first.maxTimestamp()).isEqualTo(NOW_MS);
            assertThat(second.logAppendTimeMs()).isEqualTo(NOW_MS + 1_000);
            assertThat(Batches.readAll(log, 0)).extracting(Rec::timestamp)
                    .containsExactly(NOW_MS, NOW_MS, NOW_MS, NOW_MS + 1_000);
            for (RecordBatch b : log.read(0, 1 << 20, Long.MAX_VALUE).readRecords().batches()) {
                assertThat(b.timestampType()).isEqualTo(TimestampType.LOG_APPEND_TIME);
                assertThat(b.isValid()).as("the CRC covers the stamped time").isTrue();
            }
            assertThat(log.offsetForTimestamp(NOW_MS + 1)).hasValue(new TimestampOffset(NOW_MS + 1_000, 3));
            assertThat(log.verifyAll()).isEqualTo(4);
        }
    }

    @Test
    void aCreateTimeTopicKeepsTheProducersTimestamps() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            LogAppendInfo info = log.append(threeRecords(), 0);

            assertThat(info.logAppendTimeMs()).isEqualTo(-1);
            assertThat(info.maxTimestamp()).isEqualTo(102);
            assertThat(Batches.readAll(log, 0)).extracting(Rec::timestamp).containsExactly(100L, 101L, 102L);
        }
    }

    @Test
    void offsetsAndTheLeaderEpochAreStampedIntoTheBatch() throws Exception {
        try (Log log = openWithOneBatch(LogConfig.defaults())) {
            LogAppendInfo info = log.append(threeRecords(), 7);

            assertThat(info.firstOffset()).isEqualTo(1);
            assertThat(info.lastOffset()).isEqualTo(3);
            assertThat(info.recordCount()).isEqualTo(3);
            RecordBatch stored = log.read(1, 1 << 20, Long.MAX_VALUE).readRecords().batches().iterator().next();
            assertThat(stored.baseOffset()).isEqualTo(1);
            assertThat(stored.lastOffset()).isEqualTo(3);
            assertThat(stored.partitionLeaderEpoch()).isEqualTo(7);
            assertThat(stored.isValid()).isTrue();
        }
    }

    @ParameterizedTest
    @EnumSource(value = CompressionType.class, names = {"GZIP", "SNAPPY", "LZ4", "ZSTD"})
    void compressedBatchesAreStoredAsSentAndReadBack(CompressionType codec) throws Exception {
        Compression compression = Compression.of(codec).build();
        try (Log log = open(LogConfig.defaults())) {
            for (int b = 0; b < 3; b++) {
                SimpleRecord[] records = new SimpleRecord[5];
                for (int i = 0; i < 5; i++) {
                    int n = b * 5 + i;
                    records[i] = record("key-" + n, "value-" + n + "-" + "abc".repeat(n), 1_000 + n);
                }
                assertThat(log.append(batch(compression, records), 0).firstOffset()).isEqualTo(b * 5L);
            }
            assertCompressedRecords(log, codec);
            assertThat(Batches.readAll(log, 7)).extracting(Rec::offset)
                    .as("a read from inside a compressed batch starts with that batch").startsWith(7L, 8L, 9L);
            assertThat(log.read(7, 1, Long.MAX_VALUE).firstOffset()).isEqualTo(5);
        }
        try (Log log = open(LogConfig.defaults())) {
            assertCompressedRecords(log, codec);
            assertThat(log.verifyAll()).isEqualTo(15);
        }
    }

    static void assertCompressedRecords(Log log, CompressionType codec) throws IOException {
        List<Rec> all = Batches.readAll(log, 0);
        assertThat(all).hasSize(15);
        for (int n = 0; n < 15; n++) {
            assertThat(all.get(n)).isEqualTo(new Rec(n, "key-" + n, "value-" + n + "-" + "abc".repeat(n), 1_000 + n));
        }
        for (RecordBatch b : log.read(0, 1 << 20, Long.MAX_VALUE).readRecords().batches()) {
            assertThat(b.compressionType()).isEqualTo(codec);
        }
    }
}

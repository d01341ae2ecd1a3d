package io.runnel.log;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.idempotentBatch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.apache.kafka.common.errors.CorruptRecordException;
import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.record.MemoryRecords;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;

/**
 * {@link Log#appendAll}: produce requests that arrive together go to disk in one write, yet each
 * is judged on its own — a refused request changes nothing, the others land in order.
 */
@Timeout(30)
class AppendAllTest {

    @TempDir
    Path dataDir;

    final ManualClock clock = new ManualClock(1_000_000L);

    Log open(StorageIo io) throws Exception {
        return Log.open(dataDir.resolve("t-0"), LogConfig.defaults(), io, clock);
    }

    static MemoryRecords corrupt(MemoryRecords records) {
        records.buffer().put(records.sizeInBytes() - 1, (byte) 0x7f);
        return records;
    }

    @Test
    void aRefusedRequestWritesNothingAndTheOthersTakeConsecutiveOffsets() throws Exception {
        try (Log log = open(StorageIo.SYSTEM)) {
            List<Log.AppendOutcome> outcomes = log.appendAll(List.of(
                    batch(record("a", "1", 10), record("b", "2", 10)),
                    corrupt(batch(record("x", "bad", 10))),
                    batch(record("c", "3", 11))), 0);

            assertThat(outcomes.get(0).info().firstOffset()).isZero();
            assertThat(outcomes.get(0).info().lastOffset()).isEqualTo(1);
            assertThat(outcomes.get(1).error()).isInstanceOf(CorruptRecordException.class);
            assertThat(outcomes.get(1).info()).isNull();
            assertThat(outcomes.get(2).info().firstOffset()).isEqualTo(2);
            assertThat(Batches.readAll(log, 0)).extracting(Batches.Rec::value).containsExactly("1", "2", "3");
            assertThat(log.verifyAll()).isEqualTo(3);
        }
    }

    @Test
    void aRefusedRequestDoesNotAdvanceItsProducersSequence() throws Exception {
        try (Log log = open(StorageIo.SYSTEM)) {
            List<Log.AppendOutcome> outcomes = log.appendAll(List.of(
                    idempotentBatch(7, (short) 0, 0, record("k", "s0", 1)),
                    idempotentBatch(7, (short) 0, 5, record("k", "gap", 1)),
                    idempotentBatch(7, (short) 0, 1, record("k", "s1", 1))), 0);

            assertThat(outcomes.get(1).error()).isInstanceOf(OutOfOrderSequenceException.class);
            assertThat(outcomes.get(2).info().firstOffset()).isEqualTo(1);
            LogAppendInfo retry = log.append(idempotentBatch(7, (short) 0, 1, record("k", "s1", 1)), 0);
            assertThat(retry.duplicate()).isTrue();
            assertThat(retry.firstOffset()).isEqualTo(1);
        }
    }

    @Test
    void aFailedWriteFailsEveryAcceptedRequestAndLeavesTheFileAsItWas() throws Exception {
        FaultyStorageIo io = new FaultyStorageIo(42);
        try (Log log = open(io)) {
            log.append(batch(record("a", "1", 10)), 0);
            Path segment = log.activeSegment().logFile();
            byte[] before = Files.readAllBytes(segment);

            io.tearWrite(2, p -> p.toString().endsWith(".log"));
            List<Log.AppendOutcome> outcomes = log.appendAll(List.of(
                    batch(record("b", "2", 11)), batch(record("c", "3", 12)), batch(record("d", "4", 13))), 0);

            assertThat(outcomes).allSatisfy(o -> assertThat(o.error()).isInstanceOf(KafkaStorageException.class));
            assertThat(Files.readAllBytes(segment)).isEqualTo(before);
            assertThat(log.logEndOffset()).isEqualTo(1);
            assertThat(log.append(batch(record("e", "5", 14)), 0).firstOffset()).isEqualTo(1);
            assertThat(Batches.readAll(log, 0)).extracting(Batches.Rec::value).containsExactly("1", "5");
        }
    }
}

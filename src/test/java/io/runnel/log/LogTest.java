package io.runnel.log;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;

import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;

class LogTest {

    @TempDir
    Path dir;

    final Clock clock = Clock.fixed(Instant.ofEpochMilli(1_000_000), ZoneOffset.UTC);

    Log open(LogConfig config) throws Exception {
        return Log.open(dir.resolve("t-0"), config, StorageIo.SYSTEM, clock);
    }

    @Test
    void appendsAssignOffsetsInOrderAndReadBack() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            LogAppendInfo a = log.append(batch(record("a", "1", 10), record("b", "2", 11)), 0);
            LogAppendInfo b = log.append(batch(record("c", "3", 12)), 0);
            assertThat(a.firstOffset()).isZero();
            assertThat(a.lastOffset()).isEqualTo(1);
            assertThat(b.firstOffset()).isEqualTo(2);
            assertThat(log.logEndOffset()).isEqualTo(3);
            assertThat(Batches.readAll(log, 0)).extracting(Batches.Rec::value).containsExactly("1", "2", "3");
            assertThat(Batches.readAll(log, 2)).extracting(Batches.Rec::key).containsExactly("c");
        }
    }

    @Test
    void readingOutsideTheLogIsOffsetOutOfRange() throws Exception {
        try (Log log = open(LogConfig.defaults())) {
            log.append(batch(record("a", "1", 10)), 0);
            assertThat(log.read(1, 1000, Long.MAX_VALUE).isEmpty()).isTrue();
            assertThatThrownBy(() -> log.read(2, 1000, Long.MAX_VALUE)).isInstanceOf(OffsetOutOfRangeException.class);
            assertThatThrownBy(() -> log.read(-1, 1000, Long.MAX_VALUE)).isInstanceOf(OffsetOutOfRangeException.class);
        }
    }

    @Test
    void rollsOnSegmentBytesAndSurvivesReopen() throws Exception {
        LogConfig config = LogConfig.defaults().with(LogConfig.SEGMENT_BYTES, 300);
        try (Log log = open(config)) {
            for (int i = 0; i < 20; i++) {
                log.append(batch(record("k" + i, "value-" + i, 100 + i)), 0);
            }
            assertThat(log.segmentCount()).isGreaterThan(3);
        }
        try (Log log = open(config)) {
            assertThat(log.recoveryReport().cleanShutdown()).isTrue();
            assertThat(log.logEndOffset()).isEqualTo(20);
            List<Batches.Rec> all = Batches.readAll(log, 0);
            assertThat(all).hasSize(20);
            assertThat(all.get(7).value()).isEqualTo("value-7");
            assertThat(log.offsetForTimestamp(105)).hasValueSatisfying(t -> assertThat(t.offset()).isEqualTo(5));
            assertThat(log.verifyAll()).isEqualTo(20);
        }
    }

    @Test
    void flushMessagesAsksForAFlushOnceThatManyRecordsAreNotDurable() throws Exception {
        try (Log log = open(LogConfig.defaults().with(LogConfig.FLUSH_MESSAGES, 3))) {
            log.append(batch(record("a", "1", 10), record("b", "2", 10)), 0);
            assertThat(log.shouldFlush()).isFalse();
            log.append(batch(record("c", "3", 10)), 0);
            assertThat(log.shouldFlush()).isTrue();
            assertThat(log.flushBlocking()).isEqualTo(3);
            assertThat(log.durableOffset()).isEqualTo(3);
            assertThat(log.shouldFlush()).isFalse();
        }
    }

    @Test
    void flushMsAsksForAFlushOnceUnflushedRecordsWaitedThatLong() throws Exception {
        ManualClock manual = new ManualClock(1_000_000);
        try (Log log = Log.open(dir.resolve("t-1"), LogConfig.defaults().with(LogConfig.FLUSH_MS, 500),
                StorageIo.SYSTEM, manual)) {
            manual.advance(1_000);
            assertThat(log.shouldFlush()).as("nothing to flush").isFalse();
            log.append(batch(record("a", "1", 10)), 0);
            manual.advance(499);
            assertThat(log.shouldFlush()).isFalse();
            manual.advance(1);
            assertThat(log.shouldFlush()).isTrue();
        }
    }

    @Test
    void segmentMsRollsASegmentWhoseFirstRecordIsThatOld() throws Exception {
        ManualClock manual = new ManualClock(1_000_000);
        try (Log log = Log.open(dir.resolve("t-2"), LogConfig.defaults().with(LogConfig.SEGMENT_MS, 1_000),
                StorageIo.SYSTEM, manual)) {
            log.append(batch(record("a", "1", manual.millis())), 0);
            manual.advance(999);
            log.append(batch(record("b", "2", manual.millis())), 0);
            assertThat(log.segmentCount()).isEqualTo(1);
            manual.advance(1);
            log.append(batch(record("c", "3", manual.millis())), 0);
            assertThat(log.segmentCount()).isEqualTo(2);
            assertThat(Batches.readAll(log, 0)).extracting(Batches.Rec::value).containsExactly("1", "2", "3");
        }
    }

    @Test
    void aFullIndexRollsTheSegment() throws Exception {
        // Room for three offset index entries (8 bytes each) and two time index entries (12 bytes
        // each); an entry for every batch after the first.
        LogConfig config = LogConfig.defaults().with(LogConfig.SEGMENT_INDEX_BYTES, 24)
                .with(LogConfig.INDEX_INTERVAL_BYTES, 0);
        try (Log log = open(config)) {
            for (int i = 0; i < 12; i++) {
                log.append(batch(record("k" + i, "v" + i, 100 + i)), 0);
            }
            assertThat(log.segmentCount()).isGreaterThan(3);
            assertThat(Batches.readAll(log, 0)).hasSize(12);
            assertThat(log.offsetForTimestamp(107)).hasValueSatisfying(t -> assertThat(t.offset()).isEqualTo(7));
        }
    }
}

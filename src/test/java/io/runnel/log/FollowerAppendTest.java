package io.runnel.log;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.idempotentBatch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.common.errors.CorruptRecordException;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;

/**
 * A follower copies its leader's log with {@link Log#appendAsFollower}: the same bytes at the same
 * offsets with the same epochs, or nothing at all.
 */
class FollowerAppendTest {

    @TempDir
    Path tmp;

    final ManualClock leaderClock = new ManualClock(5_000_000);
    final ManualClock followerClock = new ManualClock(9_000_000);

    Log open(String name, LogConfig config, ManualClock clock) throws Exception {
        return Log.open(tmp.resolve(name), config, StorageIo.SYSTEM, clock);
    }

    /** Everything the leader has from {@code from}, as the bytes a fetch returns. */
    static MemoryRecords fetch(Log leader, long from) throws Exception {
        FetchSlice slice = leader.read(from, Integer.MAX_VALUE, leader.logEndOffset());
        MemoryRecords read = slice.readRecords();
        ByteBuffer copy = ByteBuffer.allocate(read.sizeInBytes());
        copy.put(read.buffer().duplicate()).flip();
        return MemoryRecords.readableRecords(copy);
    }

    static byte[] segmentBytes(Log log) throws Exception {
        return Files.readAllBytes(log.dir().resolve(Segment.fileName(0, Segment.LOG_SUFFIX)));
    }

    static void writeLeaderHistory(Log leader) {
        leader.append(batch(record("a", "1", 10), record("b", "2", 11)), 1);
        leader.append(idempotentBatch(7, (short) 0, 0, record("c", "3", 12)), 1);
        leader.append(idempotentBatch(7, (short) 0, 1, record("d", "4", 13), record("e", "5", 14)), 2);
        leader.append(batch(record("f", "6", 15)), 4);
    }

    @Test
    void theFollowersSegmentIsByteForByteTheLeaders() throws Exception {
        LogConfig config = LogConfig.defaults().with(LogConfig.MESSAGE_TIMESTAMP_TYPE, "LogAppendTime");
        try (Log leader = open("leader", config, leaderClock); Log follower = open("follower", config, followerClock)) {
            writeLeaderHistory(leader);
            LogAppendInfo first = follower.appendAsFollower(fetch(leader, 0));

            assertThat(first.firstOffset()).isZero();
            assertThat(first.lastOffset()).isEqualTo(5);
            assertThat(first.recordCount()).isEqualTo(6);
            assertThat(follower.logEndOffset()).isEqualTo(leader.logEndOffset());
            assertThat(segmentBytes(follower)).isEqualTo(segmentBytes(leader));
            assertThat(follower.epochEntries()).containsExactlyElementsOf(leader.epochEntries())
                    .containsExactly(new EpochEntry(1, 0), new EpochEntry(2, 3), new EpochEntry(4, 5));
            for (RecordBatch b : fetch(follower, 0).batches()) {
                assertThat(b.timestampType()).isEqualTo(TimestampType.LOG_APPEND_TIME);
                assertThat(b.maxTimestamp()).as("the leader's append time").isEqualTo(5_000_000);
            }
            assertThat(follower.activeProducers()).isEqualTo(leader.activeProducers());
        }
    }

    @Test
    void aFollowerCatchesUpInPiecesAndSurvivesACrash() throws Exception {
        LogConfig config = LogConfig.defaults();
        try (Log leader = open("leader", config, leaderClock)) {
            writeLeaderHistory(leader);
            try (Log follower = open("follower", config, followerClock)) {
                follower.appendAsFollower(firstBatchOf(fetch(leader, 0)));
                follower.appendAsFollower(fetch(leader, follower.logEndOffset()));
                follower.closeUncleanly();
            }
            try (Log follower = open("follower", config, followerClock)) {
                assertThat(segmentBytes(follower)).isEqualTo(segmentBytes(leader));
                assertThat(follower.epochEntries()).containsExactlyElementsOf(leader.epochEntries());
            }
        }
    }

    static MemoryRecords firstBatchOf(MemoryRecords records) {
        RecordBatch b = records.batches().iterator().next();
        ByteBuffer buf = ByteBuffer.allocate(b.sizeInBytes());
        b.writeTo(buf);
        buf.flip();
        return MemoryRecords.readableRecords(buf);
    }

    @Test
    void anAppendThatDoesNotStartAtTheLogEndIsRefused() throws Exception {
        try (Log leader = open("leader", LogConfig.defaults(), leaderClock);
             Log follower = open("follower", LogConfig.defaults(), followerClock)) {
            writeLeaderHistory(leader);
            assertThatThrownBy(() -> follower.appendAsFollower(fetch(leader, 2)))
                    .isInstanceOfSatisfying(UnexpectedAppendOffsetException.class, e -> {
                        assertThat(e.firstOffset()).isEqualTo(2);
                        assertThat(e.logEndOffset()).isZero();
                    })
                    .hasMessageContaining("starts at offset 2 but the log ends at 0");
            assertThat(follower.logEndOffset()).isZero();
            assertThat(follower.sizeInBytes()).isZero();
            assertThat(follower.epochEntries()).isEmpty();
        }
    }

    @Test
    void batchesWithAGapBetweenThemAreRefused() throws Exception {
        try (Log leader = open("leader", LogConfig.defaults(), leaderClock);
             Log follower = open("follower", LogConfig.defaults(), followerClock)) {
            writeLeaderHistory(leader);
            List<RecordBatch> batches = new ArrayList<>();
            fetch(leader, 0).batches().forEach(batches::add);
            MemoryRecords gapped = concat(batches.get(0), batches.get(2));
            assertThatThrownBy(() -> follower.appendAsFollower(gapped))
                    .isInstanceOf(InvalidRecordException.class)
                    .hasMessageContaining("does not follow");
            assertThat(follower.logEndOffset()).isZero();
            assertThat(follower.sizeInBytes()).isZero();
        }
    }

    static MemoryRecords concat(RecordBatch... batches) {
        int size = 0;
        for (RecordBatch b : batches) {
            size += b.sizeInBytes();
        }
        ByteBuffer buf = ByteBuffer.allocate(size);
        for (RecordBatch b : batches) {
            b.writeTo(buf);
        }
        buf.flip();
        return MemoryRecords.readableRecords(buf);
    }

    @Test
    void aBatchWithABadCrcLeavesNoTrace() throws Exception {
        try (Log leader = open("leader", LogConfig.defaults(), leaderClock);
             Log follower = open("follower", LogConfig.defaults(), followerClock)) {
            writeLeaderHistory(leader);
            follower.appendAsFollower(firstBatchOf(fetch(leader, 0)));
            byte[] before = segmentBytes(follower);
            List<EpochEntry> epochsBefore = follower.epochEntries();
            var producersBefore = follower.activeProducers();

            MemoryRecords rest = fetch(leader, follower.logEndOffset());
            ByteBuffer buf = rest.buffer();
            int lastByte = buf.limit() - 1;
            buf.put(lastByte, (byte) (buf.get(lastByte) ^ 0x5a));
            assertThatThrownBy(() -> follower.appendAsFollower(MemoryRecords.readableRecords(buf)))
                    .isInstanceOf(CorruptRecordException.class);

            assertThat(segmentBytes(follower)).isEqualTo(before);
            assertThat(follower.logEndOffset()).isEqualTo(2);
            assertThat(follower.epochEntries()).isEqualTo(epochsBefore);
            assertThat(follower.activeProducers()).isEqualTo(producersBefore);
        }
    }

    @Test
    void aBatchOfAnOlderEpochThanTheLogsLatestIsRefusedUntilTheFollowerTruncates() throws Exception {
        try (Log leader = open("leader", LogConfig.defaults(), leaderClock);
             Log follower = open("follower", LogConfig.defaults(), followerClock)) {
            leader.append(batch(record("a", "1", 10)), 1);
            follower.appendAsFollower(fetch(leader, 0));
            // The follower led epoch 3 for a moment; the leader never saw its record.
            follower.append(batch(record("x", "9", 10)), 3);
            leader.append(batch(record("b", "2", 10)), 1);
            leader.append(batch(record("c", "3", 10)), 1);
            byte[] before = segmentBytes(follower);

            assertThatThrownBy(() -> follower.appendAsFollower(fetch(leader, 2)))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("leader epoch 1 at offset 2 but the log already holds records of epoch 3");
            assertThat(segmentBytes(follower)).isEqualTo(before);

            follower.truncateTo(follower.truncationOffsetFor(leader.endOffsetForEpoch(follower.latestEpoch()))).run();
            assertThat(follower.logEndOffset()).isEqualTo(1);
            follower.appendAsFollower(fetch(leader, 1));
            assertThat(segmentBytes(follower)).isEqualTo(segmentBytes(leader));
            assertThat(follower.epochEntries()).containsExactly(new EpochEntry(1, 0));
        }
    }

    @Test
    void producerRetriesAndGapsAreTheLeadersCallAndTheFollowerLearnsTheSequences() throws Exception {
        try (Log leader = open("leader", LogConfig.defaults(), leaderClock);
             Log follower = open("follower", LogConfig.defaults(), followerClock)) {
            leader.append(idempotentBatch(7, (short) 0, 0, record("a", "1", 10)), 1);
            follower.appendAsFollower(fetch(leader, 0));
            // A batch the follower's own sequence check would refuse (sequence 5 after 0) is copied as it is.
            MemoryRecords skip = idempotentBatch(7, (short) 0, 5, record("b", "2", 11));
            skip.batches().iterator().next().setLastOffset(1);
            skip.batches().iterator().next().setPartitionLeaderEpoch(1);
            follower.appendAsFollower(skip);
            assertThat(follower.logEndOffset()).isEqualTo(2);

            // Now the follower leads: a producer's retry of the last batch is recognised.
            LogAppendInfo retry = follower.append(idempotentBatch(7, (short) 0, 5, record("b", "2", 11)), 2);
            assertThat(retry.duplicate()).isTrue();
            assertThat(retry.firstOffset()).isEqualTo(1);
            assertThat(follower.logEndOffset()).isEqualTo(2);
        }
    }

    @Test
    void aCompactedLeadersHolesAreCopiedAsTheyAre() throws Exception {
        LogConfig compacted = LogConfig.defaults().with(LogConfig.CLEANUP_POLICY, "compact")
                .with(LogConfig.MIN_COMPACTION_LAG_MS, 0);
        try (Log leader = open("leader", compacted, leaderClock);
             Log follower = open("follower", compacted, followerClock)) {
            leader.append(batch(record("a", "1", 10), record("b", "1", 10)), 1);
            leader.append(batch(record("a", "2", 10)), 1);
            leader.append(batch(record("c", "1", 10)), 2);
            leader.append(batch(record("c", "2", 10)), 2);
            leader.roll();
            leader.append(batch(record("d", "1", 10)), 2);
            leader.updateHighWatermark(leader.logEndOffset());
            CompactionTask task = leader.prepareCompaction(1 << 20).orElseThrow();
            leader.completeCompaction(task.run()).run();

            long next = 0;
            while (next < leader.logEndOffset()) {
                MemoryRecords fetched = fetch(leader, next);
                follower.appendAsFollower(fetched);
                next = follower.logEndOffset();
            }
            assertThat(Batches.readAll(follower, 0)).isEqualTo(Batches.readAll(leader, 0));
            assertThat(Batches.readAll(follower, 0)).extracting(Batches.Rec::offset).containsExactly(1L, 2L, 4L, 5L);
            assertThat(follower.epochEntries()).containsExactly(new EpochEntry(1, 0), new EpochEntry(2, 4));
        }
    }
}

package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.record.CompressionType;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.SimpleRecord;

import io.runnel.config.LogConfig;
import io.runnel.log.Batches.Rec;
import io.runnel.log.LogModel.SegmentView;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tag;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;

/**
 * The partition log against {@link LogModel}, a sorted map of records: random sequences of
 * appends (several batches, compressed or not, idempotent or not, keys from a small key space,
 * tombstones on compacted topics, timestamps around a {@link ManualClock}), reads, rolls, flushes,
 * restarts (clean, unclean, and a crash that tears off bytes written after the last fsync),
 * truncations, high watermark moves, DeleteRecords, retention passes and compaction passes with
 * appends in the middle. After every step the log's offsets and every readable record must match
 * the model, and each step checks its own rule (see the {@code Op} records and LogModel).
 *
 * <p>Segments are small ({@code segment.bytes} 200..2000) so rolls, retention and compaction see
 * many segments; index intervals are small so the sparse indexes are used.
 *
 * <p>Replaying a failure: jqwik's report ends with {@code seed = <number>}; put it on the property
 * as {@code @Property(tries = 1, seed = "<number>")} and run {@code mvn -B -q test
 * -Dtest=LogPropertyTest}. jqwik also re-runs the last failing sample first on the next run (its
 * database file {@code .jqwik-database} is git-ignored). The shrunk sample (setup and steps) is
 * printed with the failure, and each assertion names the step it failed after.
 */
class LogPropertyTest {

    static final long START_MS = 1_000_000_000L;
    static final long PRODUCER_ID = 4242;
    static final int LEADER_EPOCH = 3;
    static final int KEY_SPACE = 6;

    /** Some seconds (about 7 on an idle 2-core machine); jqwik's report ends with a table of how often each kind of outcome came up. */
    @Property(tries = 200, edgeCases = EdgeCasesMode.NONE)
    void everyStepAgreesWithTheModel(@ForAll("scenarios") Scenario scenario) throws Exception {
        runScenario(scenario);
    }

    /** The same over many more scenarios, for {@code mvn -B verify -Pslow} (a few minutes). */
    @Property(tries = 5000, edgeCases = EdgeCasesMode.NONE)
    @Tag("slow")
    void everyStepAgreesWithTheModelOverManyScenarios(@ForAll("scenarios") Scenario scenario) throws Exception {
        runScenario(scenario);
    }

    static void runScenario(Scenario scenario) throws Exception {
        try (Run run = new Run(scenario.setup())) {
            run.checkAgreement();
            List<Op> ops = scenario.ops();
            for (int i = 0; i < ops.size(); i++) {
                run.step = "after step " + (i + 1) + "/" + ops.size() + " " + ops.get(i) + " with " + run.model;
                ops.get(i).applyTo(run);
                run.checkAgreement();
            }
        }
    }

    /**
     * Regression: truncation lowered the recovery point in memory but left the checkpoint's higher
     * one on disk, so a crash that lost unflushed records appended after the truncation made the
     * log refuse to open ("durable records would be lost"), and the restart hid records appended
     * after a truncation below the log start offset.
     */
    @Example
    void aCrashAfterATruncationLosesOnlyWhatWasNotFlushed() throws Exception {
        Setup setup = new Setup(300, "delete", -1, -1, false, 0, 0, 100, LogConfig.DEFAULT_SEGMENT_INDEX_BYTES);
        List<RecSpec> fiveRecords = List.of(RecSpec.of(1), RecSpec.of(2), RecSpec.of(3), RecSpec.of(4), RecSpec.of(5));
        Append tenRecords = new Append(List.of(fiveRecords, fiveRecords), CompressionType.NONE, false);
        runScenario(new Scenario(setup, List.of(
                tenRecords, tenRecords, new Restart(RestartKind.CLEAN, 0),   // offsets 0..19, all durable
                new AdvanceHighWatermark(100), new DeleteRecords(60, true),  // start offset 12, checkpointed
                new Truncate(0),                                             // truncateTo(12) cuts the batch 10..14
                tenRecords, tenRecords,                                      // offsets 10..29, not flushed
                new Restart(RestartKind.CRASH, 7))));                        // tears the batch at offset 10
    }

    // ---------------------------------------------------------------- the scenario

    /** A topic configuration. */
    record Setup(int segmentBytes, String cleanupPolicy, long retentionMs, long retentionBytes, boolean logAppendTime,
                 long deleteRetentionMs, long minCompactionLagMs, int indexIntervalBytes, int segmentIndexBytes) {

        LogConfig config() {
            return LogConfig.defaults().with(Map.of(
                    LogConfig.SEGMENT_BYTES, String.valueOf(segmentBytes),
                    LogConfig.CLEANUP_POLICY, cleanupPolicy,
                    LogConfig.RETENTION_MS, String.valueOf(retentionMs),
                    LogConfig.RETENTION_BYTES, String.valueOf(retentionBytes),
                    LogConfig.MESSAGE_TIMESTAMP_TYPE, logAppendTime ? "LogAppendTime" : "CreateTime",
                    LogConfig.DELETE_RETENTION_MS, String.valueOf(deleteRetentionMs),
                    LogConfig.MIN_COMPACTION_LAG_MS, String.valueOf(minCompactionLagMs),
                    LogConfig.INDEX_INTERVAL_BYTES, String.valueOf(indexIntervalBytes),
                    LogConfig.SEGMENT_INDEX_BYTES, String.valueOf(segmentIndexBytes)));
        }

        boolean compacted() {
            return cleanupPolicy.contains("compact");
        }
    }

    record Scenario(Setup setup, List<Op> ops) {
    }

    /** One record to append: key index (-1 for no key), value size (-1 for a tombstone), age relative to the clock. */
    record RecSpec(int key, int valueBytes, int ageMs) {

        static RecSpec of(int key) {
            return new RecSpec(key, 8, 0);
        }

        @Override
        public String toString() {
            return (key < 0 ? "null" : "k" + key) + "=" + (valueBytes < 0 ? "tombstone" : valueBytes + "b") + "@-" + ageMs;
        }
    }

    enum RestartKind { CLEAN, UNCLEAN, CRASH }

    /** One step. Each applies itself to a {@link Run} and checks the rule that is specific to it. */
    interface Op {
        void applyTo(Run run) throws Exception;
    }

    /** Appends batches in one call; all batches of an idempotent append come from one producer. */
    record Append(List<List<RecSpec>> batches, CompressionType codec, boolean idempotent) implements Op {
        public void applyTo(Run run) {
            run.append(this);
        }
    }

    /** A read from a random offset with a random byte limit, and a search by timestamp. */
    record Read(int offsetPick, int maxBytes, boolean upToHighWatermark, int timestampAgeMs) implements Op {
        public void applyTo(Run run) throws IOException {
            run.read(this);
        }
    }

    record Roll() implements Op {
        public void applyTo(Run run) {
            run.log.roll();
        }
    }

    /** Closes and reopens the log; a CRASH also cuts the files at a random byte past the durable offset. */
    record Restart(RestartKind kind, int tearPick) implements Op {
        public void applyTo(Run run) throws IOException {
            run.restart(this);
        }
    }

    /** Truncates to a random offset between the log start and end (percent of the way). */
    record Truncate(int percent) implements Op {
        public void applyTo(Run run) throws IOException {
            run.truncate(this);
        }
    }

    record AdvanceHighWatermark(int percent) implements Op {
        public void applyTo(Run run) {
            long target = run.model.highWatermark + (run.model.logEndOffset - run.model.highWatermark) * percent / 100;
            run.log.updateHighWatermark(target);
            run.model.highWatermark = target;
        }
    }

    /** DeleteRecords up to a random offset at or below the high watermark, checkpointed or not. */
    record DeleteRecords(int percent, boolean checkpoint) implements Op {
        public void applyTo(Run run) throws IOException {
            run.deleteRecords(this);
        }
    }

    /** Moves the clock (and maybe the high watermark to the end, as replication would) and applies retention; deletion runs at once. */
    record Retention(long advanceMs, boolean highWatermarkToEnd) implements Op {
        public void applyTo(Run run) throws IOException {
            run.retention(this);
        }
    }

    /**
     * Moves the clock, maybe rolls and moves the high watermark to the end, and runs a compaction
     * pass with some appends between prepare, run and complete.
     */
    record Compact(long advanceMs, boolean rollAndCatchUp, int maxKeyBytes, List<Append> appendsDuringPass) implements Op {
        public void applyTo(Run run) throws IOException {
            run.compact(this);
        }
    }

    /** Flushes: blocking if there are no appends to make while the flush task runs. */
    record Flush(List<Append> appendsDuringFlush) implements Op {
        public void applyTo(Run run) throws IOException {
            run.flush(this);
        }
    }

    /** The idempotent producer resends its last batch, as after a lost acknowledgement. */
    record RetryLastProducerBatch() implements Op {
        public void applyTo(Run run) {
            run.retryLastProducerBatch();
        }
    }

    // ---------------------------------------------------------------- generators

    @Provide
    Arbitrary<Scenario> scenarios() {
        return setups().flatMap(setup -> operations(setup).list().ofMinSize(1).ofMaxSize(60)
                .map(ops -> new Scenario(setup, ops)));
    }

    Arbitrary<Setup> setups() {
        Arbitrary<Tuple.Tuple2<Integer, Integer>> indexes = Combinators.combine(
                Arbitraries.integers().between(0, 400),
                Arbitraries.of(24, 120, LogConfig.DEFAULT_SEGMENT_INDEX_BYTES)).as(Tuple::of);
        return Combinators.combine(
                Arbitraries.integers().between(200, 2000),
                Arbitraries.of("delete", "compact", "compact,delete"),
                Arbitraries.oneOf(Arbitraries.just(-1L), Arbitraries.longs().between(1_000, 60_000)),
                Arbitraries.oneOf(Arbitraries.just(-1L), Arbitraries.longs().between(300, 4_000)),
                Arbitraries.frequency(Tuple.of(3, false), Tuple.of(1, true)),
                Arbitraries.longs().between(0, 30_000),
                Arbitraries.oneOf(Arbitraries.just(0L), Arbitraries.longs().between(1, 20_000)),
                indexes).as((segmentBytes, policy, retentionMs, retentionBytes, appendTime, deleteRetention, lag, idx) ->
                new Setup(segmentBytes, policy, retentionMs, retentionBytes, appendTime, deleteRetention, lag, idx.get1(),
                        idx.get2()));
    }

    Arbitrary<Op> operations(Setup setup) {
        Arbitrary<Append> append = appends(setup);
        return Arbitraries.frequencyOf(
                Tuple.of(30, append),
                Tuple.of(8, Combinators.combine(Arbitraries.integers().between(0, 10_000),
                        Arbitraries.integers().between(1, 3_000), Arbitraries.of(false, true),
                        Arbitraries.integers().between(-100, 6_000)).as(Read::new)),
                Tuple.of(4, Arbitraries.just(new Roll())),
                Tuple.of(6, Combinators.combine(Arbitraries.of(RestartKind.class),
                        Arbitraries.integers().between(0, 1_000_000)).as(Restart::new)),
                Tuple.of(3, Arbitraries.integers().between(0, 100).map(Truncate::new)),
                Tuple.of(8, Arbitraries.frequency(Tuple.of(3, 100), Tuple.of(1, 50), Tuple.of(1, 0))
                        .map(AdvanceHighWatermark::new)),
                Tuple.of(3, Combinators.combine(Arbitraries.integers().between(0, 100), Arbitraries.of(false, true))
                        .as(DeleteRecords::new)),
                Tuple.of(5, Combinators.combine(Arbitraries.longs().between(0, 80_000),
                        Arbitraries.frequency(Tuple.of(3, true), Tuple.of(1, false))).as(Retention::new)),
                Tuple.of(6, Combinators.combine(Arbitraries.longs().between(0, 40_000), Arbitraries.of(false, true),
                        Arbitraries.of(1, 200, 1 << 20), append.list().ofMaxSize(3)).as(Compact::new)),
                Tuple.of(5, append.list().ofMaxSize(2).map(Flush::new)),
                Tuple.of(3, Arbitraries.just(new RetryLastProducerBatch())));
    }

    Arbitrary<Append> appends(Setup setup) {
        Arbitrary<Integer> keys = setup.compacted()
                ? Arbitraries.integers().between(0, KEY_SPACE - 1)
                : Arbitraries.frequencyOf(Tuple.of(1, Arbitraries.just(-1)),
                Tuple.of(5, Arbitraries.integers().between(0, KEY_SPACE - 1)));
        Arbitrary<Integer> values = Arbitraries.frequencyOf(Tuple.of(setup.compacted() ? 2 : 1, Arbitraries.just(-1)),
                Tuple.of(8, Arbitraries.integers().between(0, 40)));
        Arbitrary<Integer> ages = Arbitraries.frequencyOf(Tuple.of(4, Arbitraries.integers().between(0, 200)),
                Tuple.of(1, Arbitraries.integers().between(-50, 30_000)));
        Arbitrary<RecSpec> record = Combinators.combine(keys, values, ages).as(RecSpec::new);
        return Combinators.combine(
                record.list().ofMinSize(1).ofMaxSize(4).list().ofMinSize(1).ofMaxSize(3),
                Arbitraries.frequency(Tuple.of(8, CompressionType.NONE), Tuple.of(1, CompressionType.GZIP),
                        Tuple.of(1, CompressionType.SNAPPY), Tuple.of(1, CompressionType.LZ4),
                        Tuple.of(1, CompressionType.ZSTD)),
                Arbitraries.frequency(Tuple.of(2, false), Tuple.of(1, true))).as(Append::new);
    }

    // ---------------------------------------------------------------- running a scenario

    /** The idempotent producer's last batch, to resend. */
    record SentBatch(SimpleRecord[] records, CompressionType codec, short epoch, int baseSequence, long firstOffset,
                     long lastOffset) {
    }

    /** One try: a log in a fresh directory, its clock and its model. */
    static final class Run implements AutoCloseable {

        final Setup setup;
        final LogConfig config;
        final Path root;
        final Path dir;
        final ManualClock clock = new ManualClock(START_MS);
        final LogModel model = new LogModel();
        Log log;
        String step = "on open";
        int valuesWritten;
        short producerEpoch;
        int nextSequence;
        SentBatch lastSent;
        /** Segments written and fsynced whole by compaction (base offset to bytes), which a crash cannot tear. */
        final Map<Long, Integer> fsyncedByCompaction = new HashMap<>();

        Run(Setup setup) throws IOException {
            this.setup = setup;
            this.config = setup.config();
            this.root = Files.createTempDirectory("runnel-log-property");
            this.dir = root.resolve("t-0");
            this.log = Log.open(dir, config, StorageIo.SYSTEM, clock);
        }

        // ------------------------------------------------------------ the agreement checked after every step

        void checkAgreement() throws IOException {
            long start = log.logStartOffset();
            long end = log.logEndOffset();
            assertThat(start).as("log start offset " + step).isEqualTo(model.logStartOffset);
            assertThat(end).as("log end offset " + step).isEqualTo(model.logEndOffset);
            assertThat(log.highWatermark()).as("high watermark " + step).isEqualTo(model.highWatermark);
            assertThat(log.durableOffset()).as("durable offset " + step).isEqualTo(model.durableOffset);
            assertThat(start).as("start <= high watermark " + step).isLessThanOrEqualTo(log.highWatermark());
            assertThat(log.highWatermark()).as("high watermark <= end " + step).isLessThanOrEqualTo(end);

            List<Rec> actual = Batches.readAll(log, start);
            assertThat(actual).as("every readable record " + step).containsExactlyElementsOf(model.visible());
            log.verifyAll();

            if (start > 0) {
                assertThatThrownBy(() -> log.read(start - 1, 1000, Long.MAX_VALUE)).as("read below the start " + step)
                        .isInstanceOf(OffsetOutOfRangeException.class);
            }
            assertThat(log.read(end, 1000, Long.MAX_VALUE).isEmpty()).as("read at the end " + step).isTrue();
            assertThatThrownBy(() -> log.read(end + 1, 1000, Long.MAX_VALUE)).as("read past the end " + step)
                    .isInstanceOf(OffsetOutOfRangeException.class);
        }

        // ------------------------------------------------------------ steps

        void append(Append op) {
            long now = clock.millis();
            List<MemoryRecords> parts = new ArrayList<>();
            List<List<Rec>> expected = new ArrayList<>();
            int sequence = nextSequence;
            SentBatch last = null;
            for (List<RecSpec> batch : op.batches()) {
                SimpleRecord[] records = new SimpleRecord[batch.size()];
                List<Rec> recs = new ArrayList<>();
                for (int i = 0; i < batch.size(); i++) {
                    RecSpec spec = batch.get(i);
                    String key = spec.key() < 0 ? null : "k" + spec.key();
                    String value = spec.valueBytes() < 0 ? null
                            : "v" + (valuesWritten++) + "-" + "x".repeat(spec.valueBytes());
                    long timestamp = now - spec.ageMs();
                    records[i] = Batches.record(key, value, timestamp);
                    recs.add(new Rec(-1, key, value, setup.logAppendTime() ? now : timestamp));
                }
                Compression compression = Compression.of(op.codec()).build();
                if (op.idempotent()) {
                    parts.add(MemoryRecords.withIdempotentRecords(RecordBatch.MAGIC_VALUE_V2, 0L, compression,
                            PRODUCER_ID, producerEpoch, sequence, RecordBatch.NO_PARTITION_LEADER_EPOCH, records));
                    last = new SentBatch(records, op.codec(), producerEpoch, sequence, -1, -1);
                    sequence += records.length;
                } else {
                    parts.add(Batches.batch(compression, records));
                }
                expected.add(recs);
            }
            LogAppendInfo info = log.append(concat(parts), LEADER_EPOCH);
            List<List<Rec>> placed = model.append(expected);
            long first = placed.get(0).get(0).offset();
            List<Rec> lastBatch = placed.get(placed.size() - 1);
            assertThat(info.duplicate()).as("duplicate " + step).isFalse();
            assertThat(info.firstOffset()).as("first offset " + step).isEqualTo(first);
            assertThat(info.lastOffset()).as("last offset " + step).isEqualTo(lastBatch.get(lastBatch.size() - 1).offset());
            assertThat(info.logAppendTimeMs()).as("log append time " + step).isEqualTo(setup.logAppendTime() ? now : -1);
            if (last != null) {
                nextSequence = sequence;
                lastSent = new SentBatch(last.records(), last.codec(), last.epoch(), last.baseSequence(),
                        lastBatch.get(0).offset(), lastBatch.get(lastBatch.size() - 1).offset());
            }
        }

        void retryLastProducerBatch() {
            if (lastSent == null) {
                return;
            }
            long end = log.logEndOffset();
            MemoryRecords again = MemoryRecords.withIdempotentRecords(RecordBatch.MAGIC_VALUE_V2, 0L,
                    Compression.of(lastSent.codec()).build(), PRODUCER_ID, lastSent.epoch(), lastSent.baseSequence(),
                    RecordBatch.NO_PARTITION_LEADER_EPOCH, lastSent.records());
            LogAppendInfo info = log.append(again, LEADER_EPOCH);
            assertThat(info.duplicate()).as("a retry is a duplicate " + step).isTrue();
            assertThat(info.firstOffset()).as("a retry's first offset " + step).isEqualTo(lastSent.firstOffset());
            assertThat(info.lastOffset()).as("a retry's last offset " + step).isEqualTo(lastSent.lastOffset());
            assertThat(log.logEndOffset()).as("a retry writes nothing " + step).isEqualTo(end);
            outcome("a producer's retry was answered as a duplicate");
        }

        void read(Read op) throws IOException {
            long start = model.logStartOffset;
            long offset = start + op.offsetPick() % (model.logEndOffset - start + 1);
            long limit = op.upToHighWatermark() ? model.highWatermark : model.logEndOffset;
            FetchSlice slice = log.read(offset, op.maxBytes(), limit);
            String what = "read(" + offset + ", " + op.maxBytes() + ", " + limit + ") " + step;

            List<RecordBatch> batches = new ArrayList<>();
            slice.readRecords().batches().forEach(batches::add);
            assertThat(batches.stream().mapToInt(RecordBatch::sizeInBytes).sum()).as("whole batches in " + what)
                    .isEqualTo(slice.sizeBytes());
            assertThat(batches).as("batches pass their CRC in " + what).allMatch(RecordBatch::isValid);
            long upTo = offset;
            if (!batches.isEmpty()) {
                assertThat(slice.firstOffset()).as("first offset of " + what).isEqualTo(batches.get(0).baseOffset());
                assertThat(batches.get(0).lastOffset()).as("first batch of " + what).isGreaterThanOrEqualTo(offset);
                assertThat(batches).as("batches start below the limit in " + what)
                        .allMatch(b -> b.baseOffset() < limit);
                if (batches.size() > 1) {
                    assertThat(slice.sizeBytes()).as("size of " + what).isLessThanOrEqualTo(op.maxBytes());
                }
                upTo = batches.get(batches.size() - 1).lastOffset() + 1;
            }
            List<Rec> got = Batches.records(slice.readRecords()).stream().filter(r -> r.offset() >= offset).toList();
            assertThat(got).as("records of " + what).containsExactlyElementsOf(model.visibleBetween(offset, upTo));
            if (!model.visibleBetween(offset, limit).isEmpty()) {
                assertThat(slice.isEmpty()).as("a read with records to return returns some: " + what).isFalse();
            }

            long timestamp = clock.millis() - op.timestampAgeMs();
            Optional<TimestampOffset> found = log.offsetForTimestamp(timestamp);
            assertThat(found).as("offsetForTimestamp(" + timestamp + ") " + step)
                    .isEqualTo(model.offsetForTimestamp(timestamp));
        }

        void restart(Restart op) throws IOException {
            long durableBefore = log.durableOffset();
            switch (op.kind()) {
                case CLEAN -> {
                    log.close();
                    model.checkpointedLogStartOffset = model.logStartOffset;
                }
                case UNCLEAN -> log.closeUncleanly();
                case CRASH -> {
                    List<Path> files = log.segments().stream().map(Segment::logFile).toList();
                    log.closeUncleanly();
                    tear(files, durableBefore, op.tearPick());
                }
                default -> throw new IllegalStateException();
            }
            log = Log.open(dir, config, StorageIo.SYSTEM, clock);
            fsyncedByCompaction.clear(); // opening flushed everything: the durable offset is the end now
            assertThat(log.recoveryReport().cleanShutdown()).as("clean shutdown seen " + step)
                    .isEqualTo(op.kind() == RestartKind.CLEAN);
            long firstBase = log.segments().get(0).baseOffset();
            long newEnd = log.logEndOffset();
            if (op.kind() != RestartKind.CRASH) {
                assertThat(newEnd).as("log end offset after a restart that lost nothing " + step)
                        .isEqualTo(model.logEndOffset);
            }
            long newStart = model.startAfterRestart(firstBase, newEnd);
            assertThat(log.logStartOffset()).as("log start offset after the restart " + step).isEqualTo(newStart);
            List<Rec> actual = Batches.readAll(log, log.logStartOffset());
            if (newStart < model.logStartOffset) {
                outcome("a restart undid a DeleteRecords that was not checkpointed");
            }
            if (op.kind() == RestartKind.CRASH) {
                if (model.crashed(actual, newStart, newEnd, durableBefore) > 0) {
                    outcome("a crash lost records appended after the last flush");
                }
                newProducerEpoch();
            } else {
                model.restartedWithoutLoss(actual, newStart);
                if (lastSent != null && lastSent.firstOffset() < firstBase) {
                    lastSent = null;
                }
            }
        }

        /**
         * What a crash may leave of files written since the last fsync: the byte stream of the
         * segments, in order, is cut at a random point at or after the end of the durable records
         * (and of the segments compaction wrote);
         * the segment holding the cut is truncated there (maybe inside a batch) and every later
         * segment is emptied, or, if it starts above the durable offset, maybe gone altogether.
         */
        void tear(List<Path> files, long durableOffset, int pick) throws IOException {
            long[] starts = new long[files.size()];
            long[] bases = new long[files.size()];
            long total = 0;
            long durableBytes = 0;
            for (int i = 0; i < files.size(); i++) {
                starts[i] = total;
                String name = files.get(i).getFileName().toString();
                bases[i] = Long.parseLong(name.substring(0, 20));
                ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(files.get(i)));
                int position = 0;
                for (RecordBatch b : MemoryRecords.readableRecords(bytes).batches()) {
                    position += b.sizeInBytes();
                    if (b.lastOffset() < durableOffset) {
                        durableBytes = total + position;
                    }
                }
                total += bytes.limit();
            }
            long keptBytes = durableBytes;
            for (int i = 0; i < files.size(); i++) {
                Integer fsynced = fsyncedByCompaction.get(bases[i]);
                if (fsynced != null) {
                    keptBytes = Math.max(keptBytes, starts[i] + fsynced);
                }
            }
            long cut = keptBytes + Math.floorMod(pick, total - keptBytes + 1);
            for (int i = 0; i < files.size(); i++) {
                long length = (i + 1 < files.size() ? starts[i + 1] : total) - starts[i];
                if (starts[i] + length <= cut) {
                    continue;
                }
                long keep = Math.max(0, cut - starts[i]);
                if (keep == 0 && bases[i] > durableOffset && (pick & (1 << i % 20)) != 0) {
                    for (String suffix : List.of(Segment.LOG_SUFFIX, Segment.INDEX_SUFFIX, Segment.TIME_INDEX_SUFFIX)) {
                        Files.deleteIfExists(dir.resolve(Segment.fileName(bases[i], suffix)));
                    }
                } else {
                    try (FileChannel ch = FileChannel.open(files.get(i), StandardOpenOption.WRITE)) {
                        ch.truncate(keep);
                    }
                }
            }
        }

        void truncate(Truncate op) throws IOException {
            long start = model.logStartOffset;
            long offset = start + (model.logEndOffset - start) * op.percent() / 100;
            long endBefore = log.logEndOffset();
            SegmentDeletion deletion = log.truncateTo(offset);
            deletion.run();
            Map<Long, Integer> sizes = new HashMap<>();
            log.segments().forEach(seg -> sizes.put(seg.baseOffset(), seg.sizeBytes()));
            fsyncedByCompaction.keySet().retainAll(sizes.keySet());
            fsyncedByCompaction.replaceAll((base, bytes) -> Math.min(bytes, sizes.get(base)));
            model.truncated(offset, log.logEndOffset());
            assertNoDeletedFilesLeft();
            if (log.logEndOffset() < endBefore) {
                outcome("a truncation removed records");
                newProducerEpoch();
            }
        }

        void deleteRecords(DeleteRecords op) throws IOException {
            long start = model.logStartOffset;
            long target = start + (model.highWatermark - start) * op.percent() / 100;
            assertThat(log.advanceLogStartOffset(target)).as("advanceLogStartOffset(" + target + ") " + step)
                    .isEqualTo(Math.max(start, target));
            model.logStartOffset = Math.max(start, target);
            if (model.highWatermark < model.logEndOffset) {
                long beyond = model.highWatermark + 1;
                assertThatThrownBy(() -> log.advanceLogStartOffset(beyond)).as("DeleteRecords past the high watermark")
                        .isInstanceOf(OffsetOutOfRangeException.class);
            }
            if (op.checkpoint()) {
                log.writeCheckpoint();
                model.checkpointedLogStartOffset = model.logStartOffset;
            }
        }

        void retention(Retention op) throws IOException {
            long now = clock.advance(op.advanceMs());
            if (op.highWatermarkToEnd()) {
                catchUpHighWatermark();
            }
            List<SegmentView> segments = log.segments().stream().map(SegmentView::of).toList();
            long expected = LogModel.startAfterRetention(segments, model.logStartOffset, model.highWatermark, now,
                    config.cleanupDelete, config.retentionMs, config.retentionBytes);
            SegmentDeletion deletion = log.applyRetention();
            assertThat(log.logStartOffset()).as("log start offset after retention at " + now + " of " + segments + " "
                    + step).isEqualTo(expected);
            deletion.run();
            assertNoDeletedFilesLeft();
            if (expected > model.logStartOffset) {
                outcome(expected == model.logEndOffset ? "retention emptied the log" : "retention deleted segments");
            }
            model.logStartOffset = expected;
        }

        void compact(Compact op) throws IOException {
            long now = clock.advance(op.advanceMs());
            if (op.rollAndCatchUp()) {
                log.roll();
                catchUpHighWatermark();
            }
            List<SegmentView> segments = log.segments().stream().map(SegmentView::of).toList();
            SegmentView first = segments.get(0);
            boolean somethingToCompact = config.cleanupCompact && segments.size() > 1
                    && first.nextOffset() <= model.highWatermark && first.maxTimestamp() <= now - config.minCompactionLagMs;
            long untouchedFrom = segments.get(segments.size() - 1).baseOffset();
            Optional<CompactionTask> task = log.prepareCompaction(op.maxKeyBytes());
            assertThat(task.isPresent()).as("a compaction pass is planned when the first segment " + first
                    + " is closed, below the high watermark and old enough " + step).isEqualTo(somethingToCompact);
            if (task.isEmpty()) {
                return;
            }
            int half = op.appendsDuringPass().size() / 2;
            op.appendsDuringPass().subList(0, half).forEach(this::append);
            CompactionTask.Result result = task.get().run();
            op.appendsDuringPass().subList(half, op.appendsDuringPass().size()).forEach(this::append);
            log.completeCompaction(result).run();
            result.replacements().forEach(r -> fsyncedByCompaction.put(r.cleaned().baseOffset(), r.cleaned().sizeBytes()));
            assertNoDeletedFilesLeft();
            int removed = model.compacted(Batches.readAll(log, model.logStartOffset), untouchedFrom, now,
                    config.minCompactionLagMs, config.deleteRetentionMs);
            outcome(removed > 0 ? "a compaction pass removed records" : "a compaction pass removed nothing");
        }

        void flush(Flush op) throws IOException {
            long end = log.logEndOffset();
            if (op.appendsDuringFlush().isEmpty()) {
                assertThat(log.flushBlocking()).as("flushBlocking " + step).isEqualTo(end);
                model.durableOffset = end;
                return;
            }
            FlushTask task = log.prepareFlush();
            op.appendsDuringFlush().forEach(this::append);
            if (task == null) {
                assertThat(model.durableOffset).as("nothing to flush " + step).isEqualTo(end);
                return;
            }
            assertThat(task.targetOffset()).as("flush target " + step).isEqualTo(end);
            task.run();
            assertThat(log.completeFlush(task)).as("durable offset after the flush " + step).isEqualTo(end);
            model.durableOffset = end;
        }

        // ------------------------------------------------------------ helpers

        /** Counts an outcome worth seeing in jqwik's statistics, to show the generators reach it. */
        static void outcome(String what) {
            Statistics.label("outcomes").collect(what);
        }

        void catchUpHighWatermark() {
            log.updateHighWatermark(log.logEndOffset());
            model.highWatermark = model.logEndOffset;
        }

        /** After the log lost some of this producer's batches, the producer starts over with a new epoch. */
        void newProducerEpoch() {
            producerEpoch++;
            nextSequence = 0;
            lastSent = null;
        }

        void assertNoDeletedFilesLeft() throws IOException {
            try (Stream<Path> files = Files.list(dir)) {
                List<String> leftovers = files.map(p -> p.getFileName().toString())
                        .filter(n -> n.endsWith(Log.DELETED_SUFFIX)).collect(Collectors.toList());
                assertThat(leftovers).as(".deleted files after SegmentDeletion.run() " + step).isEmpty();
            }
        }

        static MemoryRecords concat(List<MemoryRecords> parts) {
            ByteBuffer buf = ByteBuffer.allocate(parts.stream().mapToInt(MemoryRecords::sizeInBytes).sum());
            parts.forEach(p -> buf.put(p.buffer().duplicate()));
            buf.flip();
            return MemoryRecords.readableRecords(buf);
        }

        @Override
        public void close() throws IOException {
            try {
                log.closeUncleanly();
            } finally {
                try (Stream<Path> walk = Files.walk(root)) {
                    for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        }
    }
}

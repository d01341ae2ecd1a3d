package io.runnel.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.common.record.MemoryRecords;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import io.runnel.config.LogConfig;
import io.runnel.log.CompactionTask;
import io.runnel.log.Log;
import io.runnel.log.SegmentDeletion;
import io.runnel.log.StorageIo;

/**
 * One compaction pass over a 512 MiB compacted log: {@link Log#prepareCompaction},
 * {@link CompactionTask#run} and {@link Log#completeCompaction}, timed together (single shot, a
 * fresh log per iteration). Deleting the replaced segments is left out: a broker does that later,
 * after file.delete.delay.ms.
 *
 * <p>The log: 100,000 keys ({@code key-000000}..), 1 KiB values, keys drawn uniformly from a
 * seeded {@link Random} (so every iteration compacts the same bytes), 16 records per batch,
 * 64 MiB segments (8 closed ones; all are compacted), written and fsynced in setup so the pass
 * reads from the page cache and its own fsyncs write only its output. About 5 versions per key,
 * so a pass keeps about a fifth of its input.
 *
 * <p>The score is seconds per pass; MB/s of input is {@link #INPUT_BYTES} / score, and the
 * tear-down prints it for each iteration.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
public class LogCompactionBench {

    static final int KEYS = 100_000;
    static final int SEGMENT_BYTES = 64 << 20;
    static final long TARGET_LOG_BYTES = 512L << 20;
    static final long SEED = 20_251_127L;
    /** Memory for the offset map: far above what 100,000 keys need (about 7.4 MB), so one pass covers all. */
    static final int MAX_KEY_BYTES = 64 << 20;
    /**
     * Bytes of input per pass, fixed by the seed and sizes above; setup checks that the log it
     * builds is exactly this big, so the MB/s conversion of the score stays true.
     */
    static final long INPUT_BYTES = 536_872_446L;

    private Path root;
    private Log log;
    private long inputBytes;
    private long startNs;
    private CompactionTask.Result result;
    private SegmentDeletion replaced;

    @Setup(Level.Iteration)
    public void buildLog() throws IOException {
        root = BenchFiles.newDir("compact");
        LogConfig config = LogConfig.defaults()
                .with(LogConfig.CLEANUP_POLICY, "compact")
                .with(LogConfig.SEGMENT_BYTES, SEGMENT_BYTES);
        log = Log.open(root.resolve("bench-0"), config, StorageIo.SYSTEM, Clock.systemUTC());
        Random random = new Random(SEED);
        byte[] value = BenchBatches.value(random);
        long timestamp = System.currentTimeMillis() - 1;
        int[] keys = new int[BenchBatches.RECORDS_PER_BATCH];
        while (log.sizeInBytes() < TARGET_LOG_BYTES) {
            for (int i = 0; i < keys.length; i++) {
                keys[i] = random.nextInt(KEYS);
            }
            byte[] batch = BenchBatches.batchBytes(keys, value, timestamp);
            log.append(MemoryRecords.readableRecords(ByteBuffer.wrap(batch)), 0);
        }
        log.roll();
        log.flushBlocking();
        log.updateHighWatermark(log.logEndOffset());
        inputBytes = log.sizeInBytes();
        if (inputBytes != INPUT_BYTES) {
            throw new IllegalStateException("The log to compact has " + inputBytes + " bytes, expected " + INPUT_BYTES
                    + "; update INPUT_BYTES if the sizes or the batch format changed");
        }
        startNs = System.nanoTime();
    }

    @Benchmark
    public CompactionTask.Result compact() throws IOException {
        CompactionTask task = log.prepareCompaction(MAX_KEY_BYTES)
                .orElseThrow(() -> new IllegalStateException("Nothing to compact in " + log));
        CompactionTask.Result r;
        try {
            r = task.run();
        } catch (IOException | RuntimeException e) {
            log.abortCompaction();
            throw e;
        }
        replaced = log.completeCompaction(r);
        result = r;
        return r;
    }

    @TearDown(Level.Iteration)
    public void checkAndCleanUp() throws IOException {
        double seconds = (System.nanoTime() - startNs) / 1e9;
        try {
            if (result.bytesRead() != inputBytes) {
                throw new IllegalStateException("The pass read " + result.bytesRead() + " of " + inputBytes + " bytes");
            }
            if (result.recordsRetained() > KEYS || result.recordsRetained() < KEYS * 9L / 10) {
                throw new IllegalStateException("The pass kept " + result.recordsRetained() + " records of "
                        + KEYS + " keys");
            }
            System.out.printf("%ncompaction: %d bytes in (%d records) -> %d bytes out (%d records), %d segments"
                            + " -> %d, ~%.0f MB/s of input (wall clock incl. JMH overhead)%n",
                    result.bytesRead(), result.recordsRead(), result.bytesWritten(), result.recordsRetained(),
                    replaced.segmentCount(), result.replacements().size(), inputBytes / 1e6 / seconds);
            replaced.run();
        } finally {
            log.closeUncleanly();
            BenchFiles.deleteRecursively(root);
            result = null;
            replaced = null;
        }
    }
}

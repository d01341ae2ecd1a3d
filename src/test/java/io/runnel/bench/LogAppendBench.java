package io.runnel.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.common.record.MemoryRecords;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import io.runnel.config.LogConfig;
import io.runnel.log.FlushTask;
import io.runnel.log.Log;
import io.runnel.log.LogAppendInfo;
import io.runnel.log.SegmentDeletion;
import io.runnel.log.StorageIo;

/**
 * Write bandwidth of the data directory's disk, raw and through the log.
 *
 * <ul>
 *   <li>{@link #rawWrite}: the baseline. A plain {@link FileChannel} writes 1 MiB direct buffers
 *       at increasing positions; files roll at 1 GiB like segments do. With {@code write=batch}
 *       it writes batch-sized buffers instead (16,749 bytes), a diagnostic: the same syscalls
 *       as the log makes, without the log's work.</li>
 *   <li>{@link #logAppend}: {@link Log#append} of 16 KiB batches (16 records of 1 KiB, 16,749
 *       bytes with the v2 framing), one per append ({@code batches=1}, as producers send them)
 *       or 64 per append ({@code batches=64}, about 1 MiB, as a follower appends a fetch). Each operation copies a prebuilt batch into one reusable
 *       buffer (append assigns offsets in place, so a batch cannot simply be passed twice, and a
 *       broker has the bytes fresh from the network); {@link #batchCopyOnly} measures that copy
 *       alone, to show what it costs.</li>
 * </ul>
 *
 * <p>{@code flush=os} leaves flushing to the OS (Kafka's default, flush.ms unset);
 * {@code flush=fsync5ms} adds group commit: every 5 ms the writing thread hands the fsyncs of
 * everything written so far to a flusher thread and keeps writing ({@link GroupCommit}), as the
 * broker does off the event loop. For the log, that is {@link Log#prepareFlush},
 * {@link FlushTask#run} on the flusher and {@link Log#completeFlush}; only the benchmark thread
 * touches the {@link Log}. For the baseline, it is {@code force(false)} of the files written since
 * the last flush (and of the directory after a new file, as the log does).
 *
 * <p>Disk use is bounded the same way for both: at most one closed 1 GiB file is kept besides
 * the one being written (log: {@code retention.bytes} 512 MiB, applied when a third segment
 * appears); older files are deleted on a janitor thread, as a broker deletes segments on a
 * worker. Keeping about 2 GiB means that with {@code flush=os} most bytes are deleted before the
 * kernel writes them back (dirty_background_ratio 10% of 24 GiB), so those two figures are the
 * page-cache bandwidth of write(2), not of the device; the fsync figures are the device's.
 *
 * <p>Bytes per second are in the {@code bytes} secondary result (an {@link AuxCounters} counter
 * normalised per second); {@code fsyncs} is completed group commits per second.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 3, time = 5)
public class LogAppendBench {

    /** Kafka's default segment.bytes; the raw baseline rolls its files at the same size. */
    static final int FILE_BYTES = LogConfig.DEFAULT_SEGMENT_BYTES;
    /** The baseline's write size. */
    static final int RAW_WRITE_BYTES = 1 << 20;
    /** Group commit interval. */
    static final long FSYNC_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(5);
    /** Keeps one closed 1 GiB segment besides the active one (see the class comment). */
    static final long RETENTION_BYTES = 512L << 20;

    /** Bytes written and group commits completed, reported per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class WriteCounters {
        public long bytes;
        public long fsyncs;

        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
            fsyncs = 0;
        }
    }

    /** What one append carries: prebuilt batch bytes, copied into a reusable buffer per operation. */
    @State(Scope.Thread)
    public static class BatchSource {
        /**
         * Batches per append. 1: a producer's request, which carries one batch per partition.
         * 64: about 1 MiB, what a follower appends from one replica fetch.
         */
        @Param({"1", "64"})
        public int batches;

        /**
         * direct: the bytes are in a direct buffer, as if read from a socket into one. heap (pass
         * {@code -p buffer=heap}): FileChannel copies them into a temporary direct buffer first.
         */
        @Param({"direct"})
        public String buffer;

        byte[] template;
        ByteBuffer reusable;

        @Setup(Level.Trial)
        public void setup() {
            byte[] one = BenchBatches.sequentialBatchBytes(System.currentTimeMillis());
            template = new byte[one.length * batches];
            for (int i = 0; i < batches; i++) {
                System.arraycopy(one, 0, template, i * one.length, one.length);
            }
            reusable = switch (buffer) {
                case "direct" -> ByteBuffer.allocateDirect(template.length);
                case "heap" -> ByteBuffer.allocate(template.length);
                default -> throw new IllegalArgumentException("buffer must be direct or heap, not " + buffer);
            };
        }

        /** A fresh copy of the batches, offsets unassigned; valid until the next call. */
        MemoryRecords next() {
            reusable.clear();
            reusable.put(template);
            reusable.flip();
            return MemoryRecords.readableRecords(reusable);
        }
    }

    /** A plain file channel, the baseline. */
    @State(Scope.Thread)
    public static class RawFile {
        @Param({"os", "fsync5ms"})
        public String flush;

        /**
         * 1MiB: the baseline. batch: writes the size of one append of {@link #logAppend}, to tell
         * the cost of smaller writes apart from the cost of the log's own work.
         */
        @Param({"1MiB", "batch"})
        public String write;

        private Path dir;
        private int writeBytes;
        private ByteBuffer buffer;
        private FileChannel current;
        private Path currentPath;
        private long position;
        private int files;
        private final ArrayDeque<Path> closedPaths = new ArrayDeque<>();
        private final ArrayDeque<FileChannel> closedChannels = new ArrayDeque<>();
        /** Channels written since the last flush was prepared (group commit only). */
        private final List<FileChannel> unflushed = new ArrayList<>();
        private boolean directoryDirty;
        private ExecutorService janitor;
        private final List<Future<?>> deletions = new ArrayList<>();
        private GroupCommit<RawFlush> groupCommit;

        /** The channels and directory one raw flush forces. */
        record RawFlush(List<FileChannel> channels, Path dirToSync) {
        }

        @Setup(Level.Trial)
        public void setup() throws IOException {
            dir = BenchFiles.newDir("raw");
            writeBytes = write.equals("1MiB") ? RAW_WRITE_BYTES
                    : BenchBatches.sequentialBatchBytes(System.currentTimeMillis()).length;
            buffer = ByteBuffer.allocateDirect(writeBytes);
            byte[] random = new byte[writeBytes];
            new Random(1).nextBytes(random);
            buffer.put(random).flip();
            janitor = GroupCommit.worker("bench-janitor");
            if (flush.equals("fsync5ms")) {
                groupCommit = new GroupCommit<>(FSYNC_INTERVAL_NS, this::prepareFlush, RawFile::runFlush, t -> { });
            }
            openNext();
        }

        void write(WriteCounters counters) throws Exception {
            buffer.clear();
            while (buffer.hasRemaining()) {
                position += current.write(buffer, position);
            }
            counters.bytes += writeBytes;
            if (position >= FILE_BYTES) {
                roll();
            }
            if (groupCommit != null) {
                counters.fsyncs += groupCommit.poll();
            }
        }

        private void openNext() throws IOException {
            currentPath = dir.resolve(String.format("%020d.raw", (long) files++ * FILE_BYTES));
            current = FileChannel.open(currentPath, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    StandardOpenOption.CREATE);
            position = 0;
            if (groupCommit != null) {
                unflushed.add(current);
                directoryDirty = true;
            }
        }

        private void roll() throws IOException {
            closedPaths.add(currentPath);
            closedChannels.add(current);
            openNext();
            while (closedPaths.size() > 1) {
                Path path = closedPaths.poll();
                FileChannel channel = closedChannels.poll();
                deletions.add(janitor.submit(() -> {
                    channel.close();
                    Files.delete(path);
                    return null;
                }));
            }
        }

        private RawFlush prepareFlush() {
            RawFlush task = new RawFlush(List.copyOf(unflushed), directoryDirty ? dir : null);
            unflushed.clear();
            unflushed.add(current);
            directoryDirty = false;
            return task;
        }

        private static void runFlush(RawFlush task) throws IOException {
            for (FileChannel ch : task.channels()) {
                try {
                    ch.force(false);
                } catch (ClosedChannelException e) {
                    // Deleted by the janitor meanwhile, as FlushTask allows for segments.
                }
            }
            if (task.dirToSync() != null) {
                StorageIo.SYSTEM.syncDirectory(task.dirToSync());
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            try {
                if (groupCommit != null) {
                    groupCommit.close();
                }
                GroupCommit.shutdown(janitor);
                for (Future<?> f : deletions) {
                    f.get();
                }
                current.close();
                for (FileChannel ch : closedChannels) {
                    ch.close();
                }
            } finally {
                BenchFiles.deleteRecursively(dir);
            }
        }
    }

    /** A partition log with Kafka's default settings, bounded on disk by retention.bytes. */
    @State(Scope.Thread)
    public static class LogAppender {
        @Param({"os", "fsync5ms"})
        public String flush;

        private Path root;
        private Log log;
        private ExecutorService janitor;
        private final List<Future<?>> deletions = new ArrayList<>();
        private GroupCommit<FlushTask> groupCommit;

        @Setup(Level.Trial)
        public void setup() throws IOException {
            root = BenchFiles.newDir("append");
            LogConfig config = LogConfig.defaults()
                    .with(LogConfig.RETENTION_BYTES, RETENTION_BYTES)
                    .with(LogConfig.RETENTION_MS, -1);
            log = Log.open(root.resolve("bench-0"), config, StorageIo.SYSTEM, Clock.systemUTC());
            janitor = GroupCommit.worker("bench-janitor");
            if (flush.equals("fsync5ms")) {
                groupCommit = new GroupCommit<>(FSYNC_INTERVAL_NS, log::prepareFlush, FlushTask::run,
                        log::completeFlush);
            }
        }

        LogAppendInfo append(MemoryRecords records, WriteCounters counters) throws Exception {
            LogAppendInfo info = log.append(records, 0);
            counters.bytes += info.sizeBytes();
            afterAppend(counters);
            return info;
        }

        List<Log.AppendOutcome> appendAll(List<MemoryRecords> requests, WriteCounters counters) throws Exception {
            List<Log.AppendOutcome> outcomes = log.appendAll(requests, 0);
            for (Log.AppendOutcome o : outcomes) {
                counters.bytes += o.info().sizeBytes();
            }
            afterAppend(counters);
            return outcomes;
        }

        private void afterAppend(WriteCounters counters) throws Exception {
            if (log.segmentCount() > 2) {
                applyRetention();
            }
            if (groupCommit != null) {
                counters.fsyncs += groupCommit.poll();
            }
        }

        private void applyRetention() {
            log.updateHighWatermark(log.logEndOffset());
            SegmentDeletion deletion = log.applyRetention();
            if (!deletion.isEmpty()) {
                deletions.add(janitor.submit(() -> {
                    deletion.run();
                    return null;
                }));
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            try {
                if (groupCommit != null) {
                    groupCommit.close();
                    if (log.durableOffset() == 0) {
                        throw new IllegalStateException("Group commit never completed a flush of " + log);
                    }
                }
                GroupCommit.shutdown(janitor);
                for (Future<?> f : deletions) {
                    f.get();
                }
            } finally {
                log.closeUncleanly();
                BenchFiles.deleteRecursively(root);
            }
        }
    }

    @Benchmark
    public void rawWrite(RawFile raw, WriteCounters counters) throws Exception {
        raw.write(counters);
    }

    @Benchmark
    public LogAppendInfo logAppend(BatchSource source, LogAppender appender, WriteCounters counters) throws Exception {
        return appender.append(source.next(), counters);
    }

    /**
     * 64 producer requests of one 16 KiB batch each, arrived together, appended with
     * {@link Log#appendAll}: one gathering write for all of them, each request validated alone.
     * This is how the broker appends what reaches a partition in one event-loop turn.
     */
    @Benchmark
    public List<Log.AppendOutcome> logAppendCoalesced(RequestSource source, LogAppender appender,
                                                      WriteCounters counters) throws Exception {
        return appender.appendAll(source.next(), counters);
    }

    /** Separate producer requests of one batch each, copied fresh into their own buffers per operation. */
    @State(Scope.Thread)
    public static class RequestSource {
        /** Requests that arrive together. */
        @Param({"64"})
        public int requests;

        byte[] template;
        ByteBuffer[] reusable;

        @Setup(Level.Trial)
        public void setup() {
            template = BenchBatches.sequentialBatchBytes(System.currentTimeMillis());
            reusable = new ByteBuffer[requests];
            for (int i = 0; i < requests; i++) {
                reusable[i] = ByteBuffer.allocateDirect(template.length);
            }
        }

        List<MemoryRecords> next() {
            List<MemoryRecords> out = new ArrayList<>(requests);
            for (ByteBuffer b : reusable) {
                b.clear();
                b.put(template);
                b.flip();
                out.add(MemoryRecords.readableRecords(b));
            }
            return out;
        }
    }

    /** The per-operation batch copy of {@link #logAppend} alone, to show it does not decide the result. */
    @Benchmark
    @Warmup(iterations = 1, time = 2)
    @Measurement(iterations = 3, time = 2)
    public MemoryRecords batchCopyOnly(BatchSource source, WriteCounters counters) {
        MemoryRecords records = source.next();
        counters.bytes += records.sizeInBytes();
        return records;
    }
}

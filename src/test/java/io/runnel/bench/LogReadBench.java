package io.runnel.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.RecordBatch;
import org.openjdk.jmh.annotations.AuxCounters;
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
import io.runnel.log.FetchSlice;
import io.runnel.log.Log;
import io.runnel.log.StorageIo;

/**
 * Read throughput of one consumer from the page cache: {@link Log#read} of up to 1 MiB (Kafka's
 * default max.partition.fetch.bytes) from a ~1 GiB log written and fsynced in setup, sequentially
 * from the start, wrapping around at the end. One benchmark thread, so a figure is per core (the
 * socket variant's reader thread uses the other core).
 *
 * <ul>
 *   <li>{@link #readTransferToDevNull}: {@link FetchSlice#transferTo} into {@code /dev/null}, the
 *       broker's zero-copy path with a sink that costs nothing: it measures the log's read path
 *       (index lookup, header scan) and the syscalls, not the bytes.</li>
 *   <li>{@link #readTransferToSocket}: the same into a loopback TCP socket drained by a second
 *       thread: what a consumer connection costs the sending core.</li>
 *   <li>{@link #readIntoHeap}: {@link FetchSlice#readRecords}, a copy into a new heap buffer, as an
 *       adapter that looks inside the records pays.</li>
 * </ul>
 *
 * <p>The next fetch offset is computed from the slice's size, since every batch is the same size
 * (setup checks this, and every operation checks that the slice holds whole batches).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 3, time = 5)
public class LogReadBench {

    static final long LOG_BYTES = 1L << 30;
    static final int FETCH_MAX_BYTES = 1 << 20;

    /** Bytes read, reported per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class ReadCounters {
        public long bytes;

        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
        }
    }

    /** A loopback TCP connection whose far end a second thread reads and discards. */
    @State(Scope.Thread)
    public static class SocketSink {
        private ServerSocketChannel server;
        private SocketChannel sender;
        private SocketChannel receiver;
        private Thread drain;
        private final AtomicLong drained = new AtomicLong();

        @Setup(Level.Trial)
        public void setup() throws IOException {
            server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            sender = SocketChannel.open(server.getLocalAddress());
            receiver = server.accept();
            drain = new Thread(() -> {
                ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
                try {
                    while (true) {
                        buf.clear();
                        int n = receiver.read(buf);
                        if (n < 0) {
                            return;
                        }
                        drained.addAndGet(n);
                    }
                } catch (IOException e) {
                    // The channel was closed in tear-down.
                }
            }, "bench-socket-drain");
            drain.setDaemon(true);
            drain.start();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            sender.close();
            drain.join(TimeUnit.SECONDS.toMillis(30));
            receiver.close();
            server.close();
        }
    }

    private Path root;
    private Log log;
    private FileChannel devNull;
    private int batchBytes;
    private long highWatermark;
    private long next;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        root = BenchFiles.newDir("read");
        log = Log.open(root.resolve("bench-0"), LogConfig.defaults(), StorageIo.SYSTEM, Clock.systemUTC());
        byte[] template = BenchBatches.sequentialBatchBytes(System.currentTimeMillis());
        batchBytes = template.length;
        ByteBuffer buf = ByteBuffer.allocateDirect(batchBytes);
        while (log.sizeInBytes() < LOG_BYTES) {
            buf.clear();
            buf.put(template).flip();
            log.append(MemoryRecords.readableRecords(buf), 0);
        }
        log.flushBlocking();
        highWatermark = log.logEndOffset();
        log.updateHighWatermark(highWatermark);
        devNull = FileChannel.open(Path.of("/dev/null"), StandardOpenOption.WRITE);
        checkWholeLogAndWarmPageCache();
        next = log.logStartOffset();
    }

    /** Reads the log once through the heap, checking the layout the benchmarks rely on. */
    private void checkWholeLogAndWarmPageCache() throws IOException {
        long offset = log.logStartOffset();
        long bytes = 0;
        while (offset < highWatermark) {
            FetchSlice slice = log.read(offset, FETCH_MAX_BYTES, highWatermark);
            long expectedNext = advance(slice);
            for (RecordBatch b : slice.readRecords().batches()) {
                if (b.baseOffset() != offset || b.sizeInBytes() != batchBytes || !b.isValid()) {
                    throw new IllegalStateException("Unexpected batch " + b + " at offset " + offset);
                }
                offset = b.nextOffset();
            }
            if (offset != expectedNext && expectedNext != log.logStartOffset()) {
                throw new IllegalStateException("Slice ended at " + offset + ", computed " + expectedNext);
            }
            bytes += slice.sizeBytes();
        }
        if (bytes != log.sizeInBytes()) {
            throw new IllegalStateException("Read " + bytes + " bytes of a " + log.sizeInBytes() + " byte log");
        }
    }

    /** The offset after {@code slice}, or the start again after the end of the log. */
    private long advance(FetchSlice slice) {
        if (slice.isEmpty() || slice.sizeBytes() % batchBytes != 0) {
            throw new IllegalStateException("Slice of " + slice.sizeBytes() + " bytes is not whole batches of "
                    + batchBytes);
        }
        long after = slice.firstOffset() + (long) (slice.sizeBytes() / batchBytes) * BenchBatches.RECORDS_PER_BATCH;
        return after >= highWatermark ? log.logStartOffset() : after;
    }

    private FetchSlice fetch() {
        FetchSlice slice = log.read(next, FETCH_MAX_BYTES, highWatermark);
        next = advance(slice);
        return slice;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        try {
            devNull.close();
            log.closeUncleanly();
        } finally {
            BenchFiles.deleteRecursively(root);
        }
    }

    @Benchmark
    public long readTransferToDevNull(ReadCounters counters) throws IOException {
        FetchSlice slice = fetch();
        long sent = slice.transferTo(devNull);
        if (sent != slice.sizeBytes()) {
            throw new IllegalStateException("Sent " + sent + " of " + slice.sizeBytes() + " bytes");
        }
        counters.bytes += sent;
        return sent;
    }

    @Benchmark
    public long readTransferToSocket(SocketSink sink, ReadCounters counters) throws IOException {
        FetchSlice slice = fetch();
        long sent = slice.transferTo(sink.sender);
        if (sent != slice.sizeBytes()) {
            throw new IllegalStateException("Sent " + sent + " of " + slice.sizeBytes() + " bytes");
        }
        counters.bytes += sent;
        return sent;
    }

    @Benchmark
    public MemoryRecords readIntoHeap(ReadCounters counters) throws IOException {
        MemoryRecords records = fetch().readRecords();
        counters.bytes += records.sizeInBytes();
        return records;
    }
}

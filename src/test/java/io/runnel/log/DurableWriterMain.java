package io.runnel.log;

import static io.runnel.log.Batches.record;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Random;

import org.apache.kafka.common.record.SimpleRecord;

import io.runnel.config.LogConfig;

/**
 * The child process of {@link CrashRecoveryTest}: opens the log in {@code args[0]} and appends
 * batches until it is killed, acknowledging each on standard output once it is durable.
 *
 * <p>Protocol (one line each, ASCII): {@code OPENED <logEndOffset>} once the log is open (recovery
 * done); then, after every append and its {@link Log#flushBlocking()}, {@code DURABLE <offset>}:
 * every record below {@code offset} is fsynced. The record at offset o always has key {@code k-o},
 * value {@code v-o} and timestamp {@link #TIMESTAMP_BASE_MS} + o, so the parent can check content
 * from the offset alone, and a batch starting at offset o is written in leader epoch
 * {@link #epochAt}(o), so the parent can check the leader epoch cache.
 *
 * <p>Arguments: {@code <dir> <seed> <maxRunMs>}. The seed picks batch sizes and when the
 * checkpoint is written. The process exits by itself after {@code maxRunMs} or when its standard
 * input closes (the parent died), so a lost parent never leaves it writing forever.
 */
public final class DurableWriterMain {

    static final long TIMESTAMP_BASE_MS = 1_700_000_000_000L;
    /**
     * The log's clock, a day after the first timestamp: record timestamps stay near it, so
     * {@code segment.ms} (measured from a segment's first timestamp) never rolls; size does.
     */
    static final Clock CLOCK = Clock.fixed(Instant.ofEpochMilli(TIMESTAMP_BASE_MS + 86_400_000L), ZoneOffset.UTC);

    /** Small segments, so rolls happen many times in a run. */
    static final LogConfig CONFIG = LogConfig.defaults()
            .with(LogConfig.SEGMENT_BYTES, 2048)
            .with(LogConfig.INDEX_INTERVAL_BYTES, 256);

    private DurableWriterMain() {
    }

    /** The leader epoch the child appends a batch starting at {@code offset} in: a new one every 40 offsets. */
    static int epochAt(long offset) {
        return (int) (offset / 40);
    }

    static String valueAt(long offset) {
        return "v-" + offset;
    }

    static String keyAt(long offset) {
        return "k-" + offset;
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        Random random = new Random(Long.parseLong(args[1]));
        long deadlineMs = System.currentTimeMillis() + Long.parseLong(args[2]);
        exitWhenParentGoes();
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.US_ASCII);

        Log log = Log.open(dir, CONFIG, StorageIo.SYSTEM, CLOCK);
        out.print("OPENED " + log.logEndOffset() + "\n");
        out.flush();
        while (System.currentTimeMillis() < deadlineMs) {
            long first = log.logEndOffset();
            SimpleRecord[] records = new SimpleRecord[1 + random.nextInt(5)];
            for (int i = 0; i < records.length; i++) {
                long offset = first + i;
                records[i] = record(keyAt(offset), valueAt(offset), TIMESTAMP_BASE_MS + offset);
            }
            LogAppendInfo info = log.append(Batches.batch(records), epochAt(first));
            if (info.firstOffset() != first || info.lastOffset() != first + records.length - 1) {
                throw new IllegalStateException("Append of " + records.length + " records at " + first + " got " + info);
            }
            long durable = log.flushBlocking();
            if (random.nextInt(8) == 0) {
                // Moves the recovery point on disk, so the next recovery trusts the segments below it.
                log.writeCheckpoint();
            }
            out.print("DURABLE " + durable + "\n");
            out.flush();
        }
        log.close();
        out.print("DONE\n");
        out.flush();
    }

    private static void exitWhenParentGoes() {
        Thread watchdog = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // The parent never writes; this only waits for end of input.
                }
            } catch (IOException ignored) {
                // Treated as end of input.
            }
            Runtime.getRuntime().halt(3);
        }, "parent-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }
}

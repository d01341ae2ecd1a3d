package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.log.Batches.Rec;

/**
 * Nothing acknowledged as durable is lost when the process dies, and a log recovered from a crash
 * recovers again from the next one. A real child JVM ({@link DurableWriterMain}) appends and
 * flushes, printing {@code DURABLE <offset>} after each flush; the test kills it with SIGKILL at a
 * random moment, reopens the log in its own process and checks it; then the next child goes on
 * in the same directory, {@code runnel.crash.kills} times (3 by default, 20 with {@code -Pslow}).
 *
 * <p>After each kill the recovered log must hold, for some end e at or beyond the highest
 * acknowledged durable offset and at or beyond every end seen at an earlier reopen (which made its
 * records durable): exactly the records at offsets 0 to e-1, each once, in order, each with the
 * key, value and timestamp the child derives from its offset; and {@link Log#verifyAll()} passes.
 * A kill keeps the page cache, so this tests the log's own bookkeeping (acknowledgements, the
 * recovery point, recovery of its own files), not the disk's fsync.
 *
 * <p>A failure names the seed; rerun it with {@code -Drunnel.crash.seed=<seed>} (kill timing is
 * real time, so a replay is close to, not exactly, the failed run).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class CrashRecoveryTest {

    private static final int KILLS = Integer.getInteger("runnel.crash.kills", 3);
    private static final long SEED = Long.getLong("runnel.crash.seed", new Random().nextLong());
    /** The child stops by itself after this, so a test that stops waiting never leaves it running. */
    private static final long CHILD_MAX_RUN_MS = 60_000;
    private static final long OPEN_TIMEOUT_MS = 30_000;

    @TempDir
    Path tmp;

    @Test
    void everyAcknowledgedRecordSurvivesRepeatedKills() throws Exception {
        Random random = new Random(SEED);
        Path dir = tmp.resolve("t-0");
        long acknowledged = 0;
        long recoveredEnd = 0;
        int segments = 0;
        for (int round = 1; round <= KILLS; round++) {
            String context = "round " + round + " of " + KILLS + ", seed " + SEED
                    + " (replay with -Drunnel.crash.seed=" + SEED + ")";
            Child child = Child.start(dir, random.nextLong(), tmp.resolve("child-" + round + ".err"));
            try {
                boolean killDuringStart = random.nextInt(4) == 0;
                if (!killDuringStart) {
                    child.awaitLine("OPENED", OPEN_TIMEOUT_MS, context);
                }
                Thread.sleep(killDuringStart ? random.nextInt(800) : 10 + random.nextInt(400));
                child.kill(context);
            } finally {
                child.destroy();
            }

            long acknowledgedThisRound = durableOffsets(child.lines(), acknowledged, context);
            acknowledged = Math.max(acknowledged, acknowledgedThisRound);
            try (Log log = Log.open(dir, DurableWriterMain.CONFIG, StorageIo.SYSTEM, DurableWriterMain.CLOCK)) {
                long end = log.logEndOffset();
                assertThat(end).as("%s: the log end after recovery is at or beyond the last acknowledged offset %s",
                        context, acknowledged).isGreaterThanOrEqualTo(acknowledged);
                assertThat(end).as("%s: the log end is at or beyond the end seen by the previous reopen", context)
                        .isGreaterThanOrEqualTo(recoveredEnd);
                assertHoldsExactlyTheRecordsBelow(log, end, context);
                assertThat(log.verifyAll()).as("%s: verifyAll", context).isEqualTo(end);
                assertEpochCacheCoversEveryBatch(log, context);
                recoveredEnd = end;
                segments = log.segmentCount();
                // Half the time the next child finds a cleanly closed log, half the time a crashed one.
                if (random.nextBoolean()) {
                    log.close();
                } else {
                    log.closeUncleanly();
                }
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError(context + " failed; child stderr:\n" + child.stderrTail(), e);
            }
        }
        assertThat(acknowledged).as("the children acknowledged something (seed %s)", SEED).isPositive();
        System.out.printf("CrashRecoveryTest: %d kills (seed %d): %d records acknowledged durable, %d recovered,"
                + " %d segments%n", KILLS, SEED, acknowledged, recoveredEnd, segments);
    }

    /** The highest offset in the child's DURABLE lines; they must never go back, nor below what earlier children acknowledged. */
    private static long durableOffsets(List<String> lines, long acknowledgedBefore, String context) {
        long last = acknowledgedBefore;
        for (String line : lines) {
            if (line.startsWith("DURABLE ")) {
                long offset = Long.parseLong(line.substring("DURABLE ".length()));
                assertThat(offset).as("%s: acknowledged durable offsets only grow", context).isGreaterThanOrEqualTo(last);
                last = offset;
            }
        }
        return last;
    }

    /** The cache has an entry for each epoch, at the first batch written in it, and nothing else. */
    private static void assertEpochCacheCoversEveryBatch(Log log, String context) throws IOException {
        List<EpochEntry> expected = new ArrayList<>();
        long next = 0;
        while (next < log.logEndOffset()) {
            for (org.apache.kafka.common.record.RecordBatch b : log.read(next, 1 << 20, log.logEndOffset())
                    .readRecords().batches()) {
                if (expected.isEmpty() || b.partitionLeaderEpoch() > expected.get(expected.size() - 1).epoch()) {
                    expected.add(new EpochEntry(b.partitionLeaderEpoch(), b.baseOffset()));
                }
                next = b.nextOffset();
            }
        }
        assertThat(log.epochEntries()).as("%s: leader epoch cache", context).isEqualTo(expected);
    }

    private static void assertHoldsExactlyTheRecordsBelow(Log log, long end, String context) throws IOException {
        assertThat(log.logStartOffset()).as("%s: log start", context).isZero();
        List<Rec> all = Batches.readAll(log, 0);
        assertThat(all).as("%s: record count", context).hasSize((int) end);
        for (int i = 0; i < all.size(); i++) {
            Rec r = all.get(i);
            Rec expected = new Rec(i, DurableWriterMain.keyAt(i), DurableWriterMain.valueAt(i),
                    DurableWriterMain.TIMESTAMP_BASE_MS + i);
            if (!r.equals(expected)) {
                throw new AssertionError(context + ": record " + i + " is " + r + ", expected " + expected);
            }
        }
    }

    /** A running {@link DurableWriterMain} and the complete lines it printed. */
    private static final class Child {

        private final Process process;
        private final Path stderr;
        private final Thread reader;
        private final LinkedBlockingQueue<String> queue = new LinkedBlockingQueue<>();
        private final List<String> lines = new ArrayList<>();

        private Child(Process process, Path stderr) {
            this.process = process;
            this.stderr = stderr;
            this.reader = new Thread(() -> readLines(process.getInputStream()), "child-stdout");
            this.reader.setDaemon(true);
            this.reader.start();
        }

        static Child start(Path dir, long seed, Path stderr) throws IOException {
            String java = ProcessHandle.current().info().command()
                    .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-cp", System.getProperty("java.class.path"),
                    DurableWriterMain.class.getName(), dir.toString(), Long.toString(seed),
                    Long.toString(CHILD_MAX_RUN_MS));
            pb.redirectError(stderr.toFile());
            return new Child(pb.start(), stderr);
        }

        /** Splits the output into lines; a last line without its newline (cut by the kill) is dropped. */
        private void readLines(InputStream in) {
            ByteArrayOutputStream current = new ByteArrayOutputStream();
            try {
                int b;
                while ((b = in.read()) >= 0) {
                    if (b == '\n') {
                        queue.add(current.toString(StandardCharsets.US_ASCII));
                        current.reset();
                    } else {
                        current.write(b);
                    }
                }
            } catch (IOException ignored) {
                // The pipe broke with the process; what was read is kept.
            }
        }

        void awaitLine(String prefix, long timeoutMs, String context) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            while (true) {
                long left = deadline - System.nanoTime();
                String line = queue.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
                if (line == null) {
                    throw new AssertionError(context + ": the child did not print " + prefix + " within " + timeoutMs
                            + " ms (alive: " + process.isAlive() + "); stderr:\n" + stderrTail());
                }
                lines.add(line);
                if (line.startsWith(prefix)) {
                    return;
                }
            }
        }

        /** SIGKILL; the child must still have been running (it never stops by itself before the kill). */
        void kill(String context) throws InterruptedException {
            if (!process.isAlive()) {
                throw new AssertionError(context + ": the child exited by itself with " + process.exitValue()
                        + " before the kill; stderr:\n" + stderrTail());
            }
            process.destroyForcibly();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new AssertionError(context + ": the child outlived SIGKILL");
            }
            reader.join(TimeUnit.SECONDS.toMillis(30));
        }

        void destroy() {
            process.destroyForcibly();
        }

        List<String> lines() {
            queue.drainTo(lines);
            return lines;
        }

        String stderrTail() {
            try {
                String s = Files.readString(stderr, StandardCharsets.UTF_8);
                return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
            } catch (IOException e) {
                return "(unreadable: " + e + ")";
            }
        }
    }
}

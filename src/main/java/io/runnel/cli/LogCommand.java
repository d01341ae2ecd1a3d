package io.runnel.cli;

import java.io.File;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import org.apache.kafka.common.record.FileLogInputStream.FileChannelRecordBatch;
import org.apache.kafka.common.record.FileRecords;
import org.apache.kafka.common.record.Record;

import io.runnel.config.LogConfig;
import io.runnel.log.Log;
import io.runnel.log.StorageIo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Operator tools for a partition directory: look inside without changing it, or recover it. */
@Command(name = "log", description = "Inspect or recover a partition log directory.",
        subcommands = {LogCommand.Dump.class, LogCommand.Recover.class}, mixinStandardHelpOptions = true)
final class LogCommand implements Runnable {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Whether {@code dir} is a directory; if not, says so on the command's error stream. */
    static boolean isDirectory(picocli.CommandLine.Model.CommandSpec spec, Path dir) {
        if (Files.isDirectory(dir)) {
            return true;
        }
        spec.commandLine().getErr().println("Not a directory: " + dir);
        return false;
    }

    @Command(name = "dump", mixinStandardHelpOptions = true,
            description = "Print every batch of a partition directory's segments, with its CRC check. Read-only.")
    static final class Dump implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "partition directory, e.g. data/orders-0")
        Path dir;

        @Option(names = "--records", description = "also print each record's offset, timestamp, key and value size")
        boolean records;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (!isDirectory(spec, dir)) {
                return 2;
            }
            PrintWriter out = spec.commandLine().getOut();
            List<Path> segments;
            try (Stream<Path> s = Files.list(dir)) {
                segments = s.filter(p -> p.getFileName().toString().matches("\\d{20}\\.log")).sorted().toList();
            }
            int bad = 0;
            for (Path seg : segments) {
                out.println("segment " + seg.getFileName() + " (" + Files.size(seg) + " bytes)");
                try (FileRecords file = FileRecords.open(new File(seg.toString()), false)) {
                    for (FileChannelRecordBatch b : file.batches()) {
                        boolean valid = b.isValid();
                        bad += valid ? 0 : 1;
                        out.printf("  batch base=%d last=%d position=%d size=%d count=%s compression=%s maxTimestamp=%d producer=%d crc=%s%n",
                                b.baseOffset(), b.lastOffset(), b.position(), b.sizeInBytes(), b.countOrNull(),
                                b.compressionType().name, b.maxTimestamp(), b.producerId(), valid ? "ok" : "BAD");
                        if (records && valid) {
                            for (Record r : b) {
                                out.printf("    offset=%d timestamp=%d keyBytes=%d valueBytes=%d%n", r.offset(),
                                        r.timestamp(), r.keySize(), r.valueSize());
                            }
                        }
                    }
                } catch (RuntimeException e) {
                    bad++;
                    out.println("  unreadable from here on: " + e.getMessage());
                }
            }
            out.flush();
            return bad == 0 ? 0 : 1;
        }
    }

    @Command(name = "recover", mixinStandardHelpOptions = true,
            description = "Open a partition directory as the broker would (repairing a torn tail, rebuilding bad indexes), "
                    + "check every batch's CRC, and close it cleanly. Changes files; stop the broker first.")
    static final class Recover implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "partition directory, e.g. data/orders-0")
        Path dir;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (!isDirectory(spec, dir)) {
                return 2;
            }
            PrintWriter out = spec.commandLine().getOut();
            try (Log log = Log.open(dir, LogConfig.defaults(), StorageIo.SYSTEM, Clock.systemUTC())) {
                Log.RecoveryReport r = log.recoveryReport();
                out.printf("clean shutdown: %s, segments scanned: %d, bytes truncated: %d, segments dropped: %d, swaps completed: %d%n",
                        r.cleanShutdown(), r.segmentsScanned(), r.bytesTruncated(), r.segmentsDropped(), r.swapsCompleted());
                r.problems().forEach(p -> out.println("repaired: " + p));
                long count = log.verifyAll();
                out.printf("ok: %d records, offsets [%d, %d), %d segments%n", count, log.logStartOffset(),
                        log.logEndOffset(), log.segmentCount());
            } catch (io.runnel.log.CorruptLogException e) {
                spec.commandLine().getErr().println(e.getMessage());
                return 1;
            }
            out.flush();
            return 0;
        }
    }
}

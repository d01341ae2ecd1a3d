package io.runnel.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;
import io.runnel.log.Batches;
import io.runnel.log.Log;
import io.runnel.log.StorageIo;
import picocli.CommandLine;

class LogCommandTest {

    @TempDir
    Path tmp;

    String run(int expectedExit, String... args) {
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(out));
        assertThat(cl.execute(args)).as(out.toString()).isEqualTo(expectedExit);
        return out.toString();
    }

    @Test
    void dumpListsBatchesAndFlagsACorruptOne() throws Exception {
        Path dir = tmp.resolve("orders-0");
        try (Log log = Log.open(dir, LogConfig.defaults(), StorageIo.SYSTEM, Clock.systemUTC())) {
            log.append(Batches.batch(Batches.record("a", "1", 5), Batches.record("b", "2", 6)), 0);
            log.append(Batches.batch(Batches.record("c", "3", 7)), 0);
        }
        assertThat(run(0, "log", "dump", dir.toString(), "--records"))
                .contains("batch base=0 last=1", "batch base=2 last=2", "crc=ok", "offset=1 timestamp=6");

        Path segment = dir.resolve("00000000000000000000.log");
        byte[] bytes = Files.readAllBytes(segment);
        bytes[bytes.length - 1] ^= 0x5a;
        Files.write(segment, bytes, StandardOpenOption.TRUNCATE_EXISTING);
        assertThat(run(1, "log", "dump", dir.toString())).contains("crc=BAD");
    }

    @Test
    void recoverCutsATornTailAndReportsIt() throws Exception {
        Path dir = tmp.resolve("orders-0");
        Log log = Log.open(dir, LogConfig.defaults(), StorageIo.SYSTEM, Clock.systemUTC());
        log.append(Batches.batch(Batches.record("a", "1", 5)), 0);
        log.closeUncleanly();
        Files.write(dir.resolve("00000000000000000000.log"), new byte[] {0, 0, 0, 1, 2}, StandardOpenOption.APPEND);
        Files.delete(dir.resolve("checkpoint"));

        String out = run(0, "log", "recover", dir.toString());
        assertThat(out).contains("bytes truncated: 5", "ok: 1 records, offsets [0, 1)");
    }

    @Test
    void helpListsOnlyWhatExists() {
        String help = run(0, "--help");
        assertThat(help).contains("server", "topic", "produce", "consume", "group", "log", "schema")
                .doesNotContain("\n  sql ", "\n  connect ", "\n  stream ");
    }
}

package io.runnel.api.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.BrokerConfig;
import io.runnel.server.RunnelServer;
import io.runnel.testing.BlockedEventLoopExtension;
import io.runnel.testing.BrokerWarmUp;
import io.vertx.core.Vertx;

/**
 * librdkafka's command line, kcat, against a Runnel broker: metadata, and keyed records produced
 * and consumed back. kcat is a Debian package that {@code .ci/run} installs; this test needs it.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KcatTest {

    @TempDir
    static Path dataDir;

    RunnelServer server;
    String broker;

    @BeforeAll
    void start(Vertx vertx) throws Exception {
        BrokerConfig config = BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0", "--data.dir=" + dataDir,
                "--num.partitions=3"), Map.of(), dataDir.resolve("none.properties"));
        server = RunnelServer.start(vertx, config).await(30, TimeUnit.SECONDS);
        broker = "127.0.0.1:" + server.kafkaPort();
    }

    @AfterAll
    void stop() throws Exception {
        server.stop().await(30, TimeUnit.SECONDS);
    }

    /** Runs kcat with {@code args}, feeding {@code input}; returns stdout, failing on a non-zero exit. */
    String kcat(String input, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("kcat", "-b", broker));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(false).start();
        if (input != null) {
            p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
        }
        p.getOutputStream().close();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("kcat %s finished", command).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as("kcat %s: %s", command, err).isZero();
        return out;
    }

    @Test
    void kcatListsProducesAndConsumesKeyedRecords() throws Exception {
        kcat("alice:1\nbob:2\nalice:3\n", "-P", "-t", "kc", "-K", ":");

        String metadata = kcat(null, "-L", "-t", "kc");
        assertThat(metadata).contains("1 brokers:", "broker 0 at 127.0.0.1:" + server.kafkaPort(),
                "topic \"kc\" with 3 partitions");

        String consumed = kcat(null, "-C", "-t", "kc", "-o", "beginning", "-e", "-f", "%k=%s@%p\\n");
        List<String> lines = List.of(consumed.strip().split("\n"));
        assertThat(lines).hasSize(3);
        assertThat(lines.stream().map(l -> l.substring(0, l.indexOf('@'))))
                .containsExactlyInAnyOrder("alice=1", "bob=2", "alice=3");
        assertThat(lines.stream().filter(l -> l.startsWith("alice=")).map(l -> l.substring(l.indexOf('@'))).distinct())
                .as("one key, one partition").hasSize(1);
    }
}

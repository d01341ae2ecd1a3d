package io.runnel.api.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.BrokerConfig;
import io.runnel.server.RunnelServer;
import io.runnel.testing.BlockedEventLoopExtension;
import io.runnel.testing.BrokerWarmUp;
import io.vertx.core.Vertx;

/**
 * Kafka Connect, unmodified: a standalone worker (its own JVM, as operators run it) with Kafka's
 * FileStreamSource and FileStreamSink moves a file's lines through a Runnel topic into another
 * file.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class KafkaConnectTest {

    @TempDir
    Path dir;

    static void write(Path file, String... lines) throws Exception {
        Files.writeString(file, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
    }

    @Test
    void aStandaloneWorkerMovesAFilesLinesThroughATopicIntoAnotherFile(Vertx vertx) throws Exception {
        BrokerConfig config = BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0",
                "--data.dir=" + dir.resolve("data"), "--group.initial.rebalance.delay.ms=0"), Map.of(),
                dir.resolve("none.properties"));
        RunnelServer server = RunnelServer.start(vertx, config).await(30, TimeUnit.SECONDS);
        Path input = dir.resolve("input.txt");
        Path output = dir.resolve("output.txt");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            lines.add("line " + i + " of the file");
        }
        write(input, lines.toArray(String[]::new));
        write(dir.resolve("worker.properties"),
                "bootstrap.servers=127.0.0.1:" + server.kafkaPort(),
                "key.converter=org.apache.kafka.connect.storage.StringConverter",
                "value.converter=org.apache.kafka.connect.storage.StringConverter",
                "offset.storage.file.filename=" + dir.resolve("offsets"),
                "offset.flush.interval.ms=500",
                "listeners=http://127.0.0.1:0",
                "consumer.auto.offset.reset=earliest");
        write(dir.resolve("source.properties"),
                "name=file-source", "connector.class=org.apache.kafka.connect.file.FileStreamSourceConnector",
                "tasks.max=1", "file=" + input, "topic=connect-lines");
        write(dir.resolve("sink.properties"),
                "name=file-sink", "connector.class=org.apache.kafka.connect.file.FileStreamSinkConnector",
                "tasks.max=1", "file=" + output, "topics=connect-lines");

        String javaBin = ProcessHandle.current().info().command().orElse("java");
        Process worker = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"),
                "org.apache.kafka.connect.cli.ConnectStandalone", dir.resolve("worker.properties").toString(),
                dir.resolve("source.properties").toString(), dir.resolve("sink.properties").toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("worker.log").toFile()).start();
        try {
            long deadline = System.currentTimeMillis() + 120_000;
            List<String> moved = List.of();
            while (moved.size() < lines.size() && System.currentTimeMillis() < deadline && worker.isAlive()) {
                Thread.sleep(250);
                if (Files.exists(output)) {
                    moved = Files.readAllLines(output, StandardCharsets.UTF_8);
                }
            }
            assertThat(moved).as("the sink file (worker log: %s)", dir.resolve("worker.log")).isEqualTo(lines);
        } finally {
            worker.destroy();
            if (!worker.waitFor(20, TimeUnit.SECONDS)) {
                worker.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            server.stop().await(30, TimeUnit.SECONDS);
        }
    }
}

package io.runnel.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.BrokerConfig;
import io.vertx.core.Vertx;

/**
 * The Vert.x that {@code runnel server} builds runs its sockets on Linux's epoll rather than Java
 * NIO (fewer system calls and cheaper wake-ups between event loops), and the Kafka listener works on
 * it, including fetches whose batches go from the segment file to the socket without a copy.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NativeTransportTest {

    @TempDir
    Path dataDir;

    @Test
    void onLinuxTheBrokerServesKafkaClientsOverEpoll() throws Exception {
        assumeTrue(System.getProperty("os.name").startsWith("Linux")
                && List.of("amd64", "aarch64").contains(System.getProperty("os.arch")),
                "epoll is shipped for Linux on x86-64 and ARM only");
        var registry = RunnelServer.newRegistry();
        Vertx vertx = RunnelServer.vertxWithMetrics(registry);
        BrokerConfig config = BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0",
                "--bridge.port=0", "--data.dir=" + dataDir), Map.of(), dataDir.resolve("none.properties"));
        RunnelServer server = RunnelServer.start(vertx, config, registry).await(30, TimeUnit.SECONDS);
        try {
            assertThat(vertx.isNativeTransportEnabled()).as("native transport").isTrue();

            String bootstrap = "127.0.0.1:" + server.kafkaPort();
            List<String> sent = new ArrayList<>();
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap, ProducerConfig.ACKS_CONFIG, "all"),
                    new StringSerializer(), new StringSerializer())) {
                for (int i = 0; i < 500; i++) {
                    String value = "reading-" + i + "-" + "x".repeat(i % 97);
                    producer.send(new ProducerRecord<>("sensors", 0, null, value));
                    sent.add(value);
                }
                producer.flush();
            }

            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, "4096");
            List<String> read = new ArrayList<>();
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p, new StringDeserializer(),
                    new StringDeserializer())) {
                TopicPartition tp = new TopicPartition("sensors", 0);
                consumer.assign(List.of(tp));
                consumer.seekToBeginning(List.of(tp));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (read.size() < sent.size() && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                        read.add(r.value());
                    }
                }
            }
            assertThat(read).containsExactlyElementsOf(sent);
        } finally {
            server.stop().await(30, TimeUnit.SECONDS);
            vertx.close().await(30, TimeUnit.SECONDS);
        }
    }
}

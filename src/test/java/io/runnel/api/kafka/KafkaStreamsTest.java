package io.runnel.api.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Produced;
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
 * Kafka Streams applications, unmodified, against a Runnel broker (at-least-once): a word count
 * (a KStream grouped into a KTable whose store is backed by a compacted changelog topic, through a
 * repartition topic) and a stream–table join of orders with customers. Streams creates its
 * internal topics itself through CreateTopics.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class KafkaStreamsTest {

    @TempDir
    static Path dataDir;
    @TempDir
    static Path stateDir;

    RunnelServer server;
    String bootstrap;

    @BeforeAll
    void start(Vertx vertx) throws Exception {
        BrokerConfig config = BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0", "--data.dir=" + dataDir,
                "--group.initial.rebalance.delay.ms=0", "--num.partitions=2"), Map.of(), dataDir.resolve("none.properties"));
        server = RunnelServer.start(vertx, config).await(30, TimeUnit.SECONDS);
        bootstrap = "127.0.0.1:" + server.kafkaPort();
    }

    @AfterAll
    void stop() throws Exception {
        server.stop().await(30, TimeUnit.SECONDS);
    }

    Properties streamsConfig(String applicationId) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.resolve(applicationId).toString());
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.String().getClass());
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.String().getClass());
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        return p;
    }

    void produce(String topic, List<String[]> keyValues) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (String[] kv : keyValues) {
                producer.send(new ProducerRecord<>(topic, kv[0], kv[1])).get(10, TimeUnit.SECONDS);
            }
        }
    }

    /** The latest value per key of {@code topic}, read until {@code done} holds or 60 s pass. */
    <V> Map<String, V> latest(String topic, org.apache.kafka.common.serialization.Deserializer<V> values,
                              java.util.function.Predicate<Map<String, V>> done) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + topic);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        Map<String, V> out = new HashMap<>();
        try (KafkaConsumer<String, V> c = new KafkaConsumer<>(p, new StringDeserializer(), values)) {
            c.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 60_000;
            while (!done.test(out) && System.currentTimeMillis() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(r -> out.put(r.key(), r.value()));
            }
        }
        return out;
    }

    @Test
    void aWordCountKeepsItsCountsInACompactedChangelog() throws Exception {
        StreamsBuilder builder = new StreamsBuilder();
        KTable<String, Long> counts = builder.<String, String>stream("lines")
                .flatMapValues(line -> Arrays.asList(line.toLowerCase(Locale.ROOT).split("\\W+")))
                .groupBy((key, word) -> word)
                .count();
        counts.toStream().to("word-counts", Produced.with(Serdes.String(), Serdes.Long()));

        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic("lines", 2, (short) 1))).all().get();
        }
        try (KafkaStreams streams = new KafkaStreams(builder.build(), streamsConfig("wordcount"))) {
            streams.start();
            produce("lines", List.of(new String[] {null, "the quick brown fox"}, new String[] {null, "The lazy dog"},
                    new String[] {null, "the end"}));
            Map<String, Long> result = latest("word-counts", new LongDeserializer(),
                    m -> Long.valueOf(3).equals(m.get("the")) && m.containsKey("end") && m.containsKey("dog"));
            assertThat(result).containsEntry("the", 3L).containsEntry("quick", 1L).containsEntry("dog", 1L)
                    .containsEntry("end", 1L);
        }

        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            List<String> internal = admin.listTopics().names().get().stream()
                    .filter(t -> t.startsWith("wordcount-")).sorted().toList();
            assertThat(internal).anyMatch(t -> t.endsWith("-changelog")).anyMatch(t -> t.endsWith("-repartition"));
            String changelog = internal.stream().filter(t -> t.endsWith("-changelog")).findFirst().orElseThrow();
            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, changelog);
            assertThat(admin.describeConfigs(List.of(resource)).all().get().get(resource).get("cleanup.policy").value())
                    .isEqualTo("compact");
        }
    }

    @Test
    void aStreamTableJoinEnrichesOrdersWithCustomers() throws Exception {
        // Source topics exist before a Streams app starts, as Kafka Streams requires; co-partitioned.
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic("customers", 2, (short) 1),
                    new org.apache.kafka.clients.admin.NewTopic("orders", 2, (short) 1))).all().get();
        }
        produce("customers", List.of(new String[] {"c1", "Alice"}, new String[] {"c2", "Bob"}));
        StreamsBuilder builder = new StreamsBuilder();
        KTable<String, String> customers = builder.table("customers", Consumed.with(Serdes.String(), Serdes.String()));
        builder.<String, String>stream("orders")
                .join(customers, (order, customer) -> customer + " ordered " + order)
                .to("enriched-orders");

        try (KafkaStreams streams = new KafkaStreams(builder.build(), streamsConfig("enrich"))) {
            streams.start();
            // The table must be loaded before the orders arrive, or they find no customer to join.
            long deadline = System.currentTimeMillis() + 60_000;
            while (streams.state() != KafkaStreams.State.RUNNING && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            Thread.sleep(1_000);
            produce("orders", List.of(new String[] {"c1", "book"}, new String[] {"c2", "lamp"}));
            Map<String, String> enriched = latest("enriched-orders", new StringDeserializer(), m -> m.size() == 2);
            assertThat(enriched).containsEntry("c1", "Alice ordered book").containsEntry("c2", "Bob ordered lamp");
        }
    }
}

package io.runnel.api.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
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
 * The Apache Kafka Java client, unmodified, against a Runnel broker: AdminClient manages topics
 * and configs, an idempotent producer writes compressed keyed records, consumers in a group share
 * partitions and commit, and lookups by time and seeks work.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KafkaClientTest {

    @TempDir
    static Path dataDir;

    RunnelServer server;
    Vertx vertx;
    String bootstrap;

    @BeforeAll
    void start(Vertx vertx) throws Exception {
        this.vertx = vertx;
        BrokerConfig config = BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0", "--data.dir=" + dataDir,
                "--group.initial.rebalance.delay.ms=0"), Map.of(), dataDir.resolve("none.properties"));
        server = RunnelServer.start(vertx, config).await(30, TimeUnit.SECONDS);
        bootstrap = "127.0.0.1:" + server.kafkaPort();
    }

    @AfterAll
    void stop() throws Exception {
        server.stop().await(30, TimeUnit.SECONDS);
    }

    Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
    }

    KafkaProducer<String, String> producer(String compression) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        return new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
    }

    KafkaConsumer<String, String> consumer(String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        return new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
    }

    @Test
    void adminCreatesDescribesAltersAndDeletesTopics() throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic("admin-made", 3, (short) 1)
                    .configs(Map.of("retention.ms", "3600000")))).all().get(10, TimeUnit.SECONDS);
            assertThatThrownBy(() -> admin.createTopics(List.of(new NewTopic("admin-made", 1, (short) 1))).all().get())
                    .hasCauseInstanceOf(TopicExistsException.class);

            TopicDescription d = admin.describeTopics(List.of("admin-made")).allTopicNames().get().get("admin-made");
            assertThat(d.partitions()).hasSize(3);
            assertThat(d.partitions().get(0).leader().id()).isEqualTo(0);
            assertThat(admin.listTopics().names().get()).contains("admin-made");

            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, "admin-made");
            assertThat(admin.describeConfigs(List.of(resource)).all().get().get(resource).get("retention.ms").value())
                    .isEqualTo("3600000");
            admin.incrementalAlterConfigs(Map.of(resource, List.of(new AlterConfigOp(
                    new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET)))).all().get();
            assertThat(admin.describeConfigs(List.of(resource)).all().get().get(resource).get("retention.ms").value())
                    .isEqualTo("7200000");

            admin.createPartitions(Map.of("admin-made", NewPartitions.increaseTo(5))).all().get();
            assertThat(admin.describeTopics(List.of("admin-made")).allTopicNames().get().get("admin-made").partitions())
                    .hasSize(5);
            assertThat(admin.describeCluster().clusterId().get()).isEqualTo(server.broker().identity().clusterId());

            admin.deleteTopics(List.of("admin-made")).all().get();
            assertThat(admin.listTopics().names().get()).doesNotContain("admin-made");
        }
    }

    @Test
    void anIdempotentProducerAndAGroupOfTwoConsumersSeeEveryRecordOnce() throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic("payments", 4, (short) 1))).all().get();
        }
        int count = 100_000;
        Map<String, Integer> partitionOfKey = new HashMap<>();
        // Half the records lz4-compressed, half zstd; both stored as received and served back.
        for (String codec : List.of("lz4", "zstd")) {
            int from = codec.equals("lz4") ? 0 : count / 2;
            try (KafkaProducer<String, String> producer = producer(codec)) {
                List<Future<RecordMetadata>> sent = new ArrayList<>();
                for (int i = from; i < from + count / 2; i++) {
                    sent.add(producer.send(new ProducerRecord<>("payments", "key-" + (i % 100), "value-" + i)));
                }
                for (int i = 0; i < sent.size(); i++) {
                    RecordMetadata m = sent.get(i).get(30, TimeUnit.SECONDS);
                    Integer before = partitionOfKey.putIfAbsent("key-" + ((from + i) % 100), m.partition());
                    assertThat(before == null || before == m.partition()).as("a key stays on its partition").isTrue();
                }
            }
        }

        Set<String> seen = new HashSet<>();
        List<String> duplicates = new ArrayList<>();
        try (KafkaConsumer<String, String> b = consumer("billing")) {
            try (KafkaConsumer<String, String> a = consumer("billing")) {
                a.subscribe(List.of("payments"));
                b.subscribe(List.of("payments"));
                long deadline = System.currentTimeMillis() + 60_000;
                // Both members share the partitions until about half the records are read...
                while ((seen.size() < count / 2 || a.assignment().isEmpty() || b.assignment().isEmpty())
                        && seen.size() < count && System.currentTimeMillis() < deadline) {
                    for (KafkaConsumer<String, String> c : List.of(a, b)) {
                        poll(c, seen, duplicates);
                    }
                }
                assertThat(a.assignment()).as("both members hold partitions").isNotEmpty();
                assertThat(b.assignment()).isNotEmpty();
                assertThat(a.assignment()).doesNotContainAnyElementsOf(b.assignment());
            }
            // ...then one leaves (close commits nothing more: every poll was committed) and the other takes over.
            long deadline = System.currentTimeMillis() + 60_000;
            while (seen.size() < count && System.currentTimeMillis() < deadline) {
                poll(b, seen, duplicates);
            }
            assertThat(b.assignment()).as("the remaining member holds every partition").hasSize(4);
        }
        assertThat(seen).hasSize(count);
        assertThat(duplicates).isEmpty();

        try (KafkaConsumer<String, String> again = consumer("billing")) {
            Map<TopicPartition, OffsetAndMetadata> committed = again.committed(Set.of(
                    new TopicPartition("payments", 0), new TopicPartition("payments", 1),
                    new TopicPartition("payments", 2), new TopicPartition("payments", 3)));
            assertThat(committed.values().stream().mapToLong(OffsetAndMetadata::offset).sum()).isEqualTo(count);
        }
    }

    /** One poll: records seen (and any seen before), then a synchronous commit of what was read. */
    static void poll(KafkaConsumer<String, String> c, Set<String> seen, List<String> duplicates) {
        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
            if (!seen.add(r.value())) {
                duplicates.add(r.value());
            }
        }
        c.commitSync();
    }

    @Test
    void batchesOfEveryCodecAreStoredAsSentAndServedBack() throws Exception {
        for (String codec : List.of("gzip", "snappy", "lz4", "zstd")) {
            String topic = "codec-" + codec;
            try (KafkaProducer<String, String> producer = producer(codec)) {
                for (int i = 0; i < 50; i++) {
                    producer.send(new ProducerRecord<>(topic, 0, "k" + i, codec + "-" + i));
                }
                producer.flush();
            }
            TopicPartition tp = new TopicPartition(topic, 0);
            try (KafkaConsumer<String, String> c = consumer("codec-readers-" + codec)) {
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                List<String> expected = new ArrayList<>();
                for (int i = 0; i < 50; i++) {
                    expected.add(codec + "-" + i);
                }
                assertThat(values(c, 50)).as(codec).containsExactlyElementsOf(expected);
            }
        }
    }

    @Test
    void aKafkaConsumerAndAnHttpConsumerInstanceShareOneGroup() throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic("shared", 2, (short) 1))).all().get();
        }
        io.vertx.ext.web.client.WebClient http = io.vertx.ext.web.client.WebClient.create(vertx);
        String instance = "/consumers/mixed/instances/http-member";
        try (KafkaConsumer<String, String> kafka = consumer("mixed")) {
            kafka.subscribe(List.of("shared"));
            kafka.poll(Duration.ofMillis(200));
            assertThat(http.post(server.httpPort(), "127.0.0.1", "/consumers/mixed")
                    .putHeader("Content-Type", "application/vnd.kafka.v2+json")
                    .sendJsonObject(new io.vertx.core.json.JsonObject().put("name", "http-member"))
                    .await(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            assertThat(http.post(server.httpPort(), "127.0.0.1", instance + "/subscription")
                    .putHeader("Content-Type", "application/vnd.kafka.v2+json")
                    .sendJsonObject(new io.vertx.core.json.JsonObject().put("topics", new io.vertx.core.json.JsonArray().add("shared")))
                    .await(10, TimeUnit.SECONDS).statusCode()).isEqualTo(204);
            long deadline = System.currentTimeMillis() + 60_000;
            io.vertx.core.json.JsonArray httpPartitions = new io.vertx.core.json.JsonArray();
            while ((kafka.assignment().size() != 1 || httpPartitions.size() != 1) && System.currentTimeMillis() < deadline) {
                kafka.poll(Duration.ofMillis(200));
                http.get(server.httpPort(), "127.0.0.1", instance + "/records?timeout=100").send().await(10, TimeUnit.SECONDS);
                httpPartitions = http.get(server.httpPort(), "127.0.0.1", instance + "/assignments").send()
                        .await(10, TimeUnit.SECONDS).bodyAsJsonObject().getJsonArray("partitions");
            }
            assertThat(kafka.assignment()).as("the Kafka member holds one of the two partitions").hasSize(1);
            assertThat(httpPartitions).as("the HTTP member holds the other").hasSize(1);
            assertThat(httpPartitions.getJsonObject(0).getInteger("partition"))
                    .isNotEqualTo(kafka.assignment().iterator().next().partition());
        } finally {
            http.delete(server.httpPort(), "127.0.0.1", instance).send().await(10, TimeUnit.SECONDS);
            http.close();
        }
    }

    @Test
    void aKafkaConsumerAndAWebSocketSubscriberShareOneGroup() throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic("shared-ws", 2, (short) 1))).all().get();
        }
        java.util.concurrent.BlockingQueue<io.vertx.core.json.JsonObject> frames = new java.util.concurrent.LinkedBlockingQueue<>();
        io.vertx.core.http.WebSocketClient wsClient = vertx.createWebSocketClient();
        try (KafkaConsumer<String, String> kafka = consumer("mixed-ws")) {
            kafka.subscribe(List.of("shared-ws"));
            kafka.poll(Duration.ofMillis(200));
            io.vertx.core.http.WebSocket ws = wsClient.connect(server.httpPort(), "127.0.0.1",
                    "/ws/v1/topics/shared-ws/subscribe?group=mixed-ws&from=earliest").await(10, TimeUnit.SECONDS);
            ws.textMessageHandler(text -> frames.add(new io.vertx.core.json.JsonObject(text)));

            // Both members poll until the group has settled on one partition each.
            Set<Integer> wsPartitions = new HashSet<>();
            List<io.vertx.core.json.JsonObject> wsRecords = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 60_000;
            while ((kafka.assignment().size() != 1 || wsPartitions.size() != 1) && System.currentTimeMillis() < deadline) {
                kafka.poll(Duration.ofMillis(200));
                drain(frames, wsPartitions, wsRecords);
            }
            assertThat(kafka.assignment()).as("the Kafka member holds one of the two partitions").hasSize(1);
            int kafkaPartition = kafka.assignment().iterator().next().partition();
            assertThat(wsPartitions).as("the WebSocket member holds the other").containsExactly(1 - kafkaPartition);

            try (KafkaProducer<String, String> producer = producer("none")) {
                producer.send(new ProducerRecord<>("shared-ws", 0, null, "\"to-0\"")).get();
                producer.send(new ProducerRecord<>("shared-ws", 1, null, "\"to-1\"")).get();
            }
            List<String> kafkaValues = new ArrayList<>();
            deadline = System.currentTimeMillis() + 30_000;
            while ((kafkaValues.isEmpty() || wsRecords.isEmpty()) && System.currentTimeMillis() < deadline) {
                kafka.poll(Duration.ofMillis(200)).forEach(r -> kafkaValues.add(r.value()));
                drain(frames, wsPartitions, wsRecords);
            }
            assertThat(kafkaValues).containsExactly("\"to-" + kafkaPartition + "\"");
            assertThat(wsRecords).extracting(r -> r.getString("value")).containsExactly("to-" + (1 - kafkaPartition));
            ws.close().await(10, TimeUnit.SECONDS);
        } finally {
            wsClient.close();
        }
    }

    /** Takes the WebSocket frames received so far: the latest assignment's partitions, and the records. */
    static void drain(java.util.concurrent.BlockingQueue<io.vertx.core.json.JsonObject> frames, Set<Integer> assigned,
                      List<io.vertx.core.json.JsonObject> records) {
        for (io.vertx.core.json.JsonObject f; (f = frames.poll()) != null; ) {
            if ("assignment".equals(f.getString("type"))) {
                assigned.clear();
                f.getJsonArray("partitions").forEach(a -> assigned.add(((io.vertx.core.json.JsonObject) a).getInteger("partition")));
            } else if ("record".equals(f.getString("type"))) {
                records.add(f);
            }
        }
    }

    @Test
    void offsetsForTimesAndSeekToBeginningFindRecords() throws Exception {
        long before;
        try (KafkaProducer<String, String> producer = producer("zstd")) {
            producer.send(new ProducerRecord<>("timed", 0, "k", "early")).get();
            Thread.sleep(20);
            before = System.currentTimeMillis();
            Thread.sleep(20);
            producer.send(new ProducerRecord<>("timed", 0, "k", "late")).get();
        }
        TopicPartition tp = new TopicPartition("timed", 0);
        try (KafkaConsumer<String, String> c = consumer("timed-readers")) {
            c.assign(List.of(tp));
            OffsetAndTimestamp found = c.offsetsForTimes(Map.of(tp, before)).get(tp);
            assertThat(found.offset()).isEqualTo(1);
            assertThat(found.timestamp()).isGreaterThanOrEqualTo(before);
            c.seek(tp, found.offset());
            assertThat(values(c, 1)).containsExactly("late");
            c.seekToBeginning(List.of(tp));
            assertThat(values(c, 2)).containsExactly("early", "late");
            assertThat(c.endOffsets(List.of(tp)).get(tp)).isEqualTo(2);
        }
    }

    static List<String> values(KafkaConsumer<String, String> c, int n) {
        List<String> out = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 20_000;
        while (out.size() < n && System.currentTimeMillis() < deadline) {
            c.poll(Duration.ofMillis(100)).forEach(r -> out.add(r.value()));
        }
        return out;
    }
}

package io.runnel.api.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.GroupSubscribedToTopicException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.message.AlterConfigsRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AlterConfigsResponse;
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
 * The admin APIs beyond topic management, as the Apache Kafka AdminClient (or, for the legacy
 * AlterConfigs the 4.x client no longer sends, the raw protocol) uses them: DeleteRecords moves
 * the log start offset, ListOffsets finds the record with the largest timestamp, OffsetDelete
 * forgets a group's offsets but not those of topics its consumers read, DescribeProducers lists
 * idempotent producers, and AlterConfigs replaces a topic's overrides as a whole.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KafkaAdminApisTest {

    @TempDir
    static Path dataDir;

    RunnelServer server;
    String bootstrap;

    @BeforeAll
    void start(Vertx vertx) throws Exception {
        BrokerConfig config = BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0",
                "--data.dir=" + dataDir, "--group.initial.rebalance.delay.ms=0"), Map.of(), dataDir.resolve("none.properties"));
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

    KafkaProducer<String, String> producer() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
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

    void produce(String topic, int count, long timestampBase) throws Exception {
        try (KafkaProducer<String, String> producer = producer()) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(topic, 0, timestampBase + i, "k", "v" + i)).get(10, TimeUnit.SECONDS);
            }
        }
    }

    void createTopic(String topic, int partitions) throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void deleteRecordsMovesTheLogStartOffsetAndConsumersStartThere() throws Exception {
        createTopic("trimmed", 1);
        produce("trimmed", 10, System.currentTimeMillis());
        TopicPartition tp = new TopicPartition("trimmed", 0);
        try (Admin admin = admin()) {
            assertThat(admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(4))).lowWatermarks().get(tp).get()
                    .lowWatermark()).isEqualTo(4);
            assertThatThrownBy(() -> admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(11))).all().get())
                    .as("past the high watermark").hasCauseInstanceOf(OffsetOutOfRangeException.class);
            assertThat(admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp).get().offset())
                    .isEqualTo(4);
        }
        try (KafkaConsumer<String, String> c = consumer("trimmed-readers")) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            List<Long> offsets = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 20_000;
            while (offsets.size() < 6 && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                    offsets.add(r.offset());
                }
            }
            assertThat(offsets).containsExactly(4L, 5L, 6L, 7L, 8L, 9L);
        }
    }

    @Test
    void listOffsetsFindsTheRecordWithTheLargestTimestamp() throws Exception {
        createTopic("stamped", 1);
        TopicPartition tp = new TopicPartition("stamped", 0);
        try (KafkaProducer<String, String> producer = producer()) {
            for (long ts : new long[] {1_000, 3_000, 2_000}) {
                producer.send(new ProducerRecord<>("stamped", 0, ts, "k", "at-" + ts)).get(10, TimeUnit.SECONDS);
            }
        }
        try (Admin admin = admin()) {
            ListOffsetsResult.ListOffsetsResultInfo max =
                    admin.listOffsets(Map.of(tp, OffsetSpec.maxTimestamp())).partitionResult(tp).get();
            assertThat(max.offset()).isEqualTo(1);
            assertThat(max.timestamp()).isEqualTo(3_000);
            assertThat(admin.listOffsets(Map.of(tp, OffsetSpec.forTimestamp(2_500))).partitionResult(tp).get().offset())
                    .isEqualTo(1);
        }
    }

    @Test
    void offsetDeleteForgetsOffsetsExceptThoseOfTopicsTheGroupConsumes() throws Exception {
        createTopic("read", 1);
        createTopic("abandoned", 1);
        TopicPartition read = new TopicPartition("read", 0);
        TopicPartition abandoned = new TopicPartition("abandoned", 0);
        try (Admin admin = admin(); KafkaConsumer<String, String> c = consumer("tidy")) {
            c.subscribe(List.of("read"));
            long deadline = System.currentTimeMillis() + 20_000;
            while (c.assignment().isEmpty() && System.currentTimeMillis() < deadline) {
                c.poll(Duration.ofMillis(100));
            }
            c.commitSync(Map.of(read, new OffsetAndMetadata(0), abandoned, new OffsetAndMetadata(7)));

            admin.deleteConsumerGroupOffsets("tidy", Set.of(abandoned)).all().get(10, TimeUnit.SECONDS);
            assertThatThrownBy(() -> admin.deleteConsumerGroupOffsets("tidy", Set.of(read)).all().get(10, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(GroupSubscribedToTopicException.class);

            assertThat(admin.listConsumerGroupOffsets("tidy").partitionsToOffsetAndMetadata().get())
                    .containsOnlyKeys(read);
        }
    }

    @Test
    void describeProducersListsTheIdempotentProducerAndItsLastSequence() throws Exception {
        createTopic("produced", 1);
        produce("produced", 3, System.currentTimeMillis());
        TopicPartition tp = new TopicPartition("produced", 0);
        try (Admin admin = admin()) {
            List<ProducerState> producers = admin.describeProducers(List.of(tp)).partitionResult(tp).get().activeProducers();
            assertThat(producers).hasSize(1);
            assertThat(producers.get(0).producerId()).isNotNegative();
            assertThat(producers.get(0).lastSequence()).as("three one-record batches: sequences 0, 1, 2").isEqualTo(2);
            assertThat(producers.get(0).lastTimestamp()).isPositive();
            assertThat(producers.get(0).currentTransactionStartOffset()).isEmpty();
        }
    }

    @Test
    void legacyAlterConfigsReplacesEveryOverrideOfATopic() throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic("reconfigured", 1, (short) 1)
                    .configs(Map.of("retention.ms", "3600000", "segment.ms", "600000")))).all().get(10, TimeUnit.SECONDS);
        }
        AlterConfigsRequestData request = new AlterConfigsRequestData();
        AlterConfigsRequestData.AlterConfigsResource resource = new AlterConfigsRequestData.AlterConfigsResource()
                .setResourceType(ConfigResource.Type.TOPIC.id()).setResourceName("reconfigured");
        resource.configs().add(new AlterConfigsRequestData.AlterableConfig().setName("retention.ms").setValue("7200000"));
        request.resources().add(resource);
        try (KafkaWire wire = new KafkaWire(server.kafkaPort(), 10_000)) {
            AlterConfigsResponse bad = (AlterConfigsResponse) wire.roundTrip(ApiKeys.ALTER_CONFIGS, (short) 2,
                    new AlterConfigsRequestData().setValidateOnly(true).setResources(
                            new AlterConfigsRequestData.AlterConfigsResourceCollection(List.of(
                                    new AlterConfigsRequestData.AlterConfigsResource()
                                            .setResourceType(ConfigResource.Type.TOPIC.id()).setResourceName("reconfigured")
                                            .setConfigs(new AlterConfigsRequestData.AlterableConfigCollection(List.of(
                                                    new AlterConfigsRequestData.AlterableConfig().setName("retention.ms")
                                                            .setValue("soon")).iterator()))).iterator())));
            assertThat(bad.errors().values()).extracting(e -> e.error()).containsExactly(Errors.INVALID_CONFIG);

            AlterConfigsResponse response = (AlterConfigsResponse) wire.roundTrip(ApiKeys.ALTER_CONFIGS, (short) 2, request);
            assertThat(response.errors().values()).extracting(e -> e.error()).containsExactly(Errors.NONE);
        }
        ConfigResource topic = new ConfigResource(ConfigResource.Type.TOPIC, "reconfigured");
        try (Admin admin = admin()) {
            Config config = admin.describeConfigs(List.of(topic)).all().get().get(topic);
            assertThat(config.get("retention.ms").value()).isEqualTo("7200000");
            assertThat(config.get("segment.ms").source()).as("left out, so back to its default")
                    .isEqualTo(ConfigEntry.ConfigSource.DEFAULT_CONFIG);
        }
    }
}

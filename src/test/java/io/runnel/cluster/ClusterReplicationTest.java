package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.NotEnoughReplicasException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * Three brokers in three JVMs on loopback, a topic with three replicas, and the failures the
 * cluster must survive: a leader killed or paused under an idempotent acks=all load, a broker
 * returning, and two of three gone. After each, what the producer saw acknowledged is read back
 * exactly once and in order, and the replicas hold the same log.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ClusterReplicationTest extends ClusterTestBase {

    @Test
    void threeBrokersServeAReplicatedTopicToKafkaHttpAndAWebSocketOnAFollower() throws Exception {
        startCluster(3);
        try (Admin admin = cluster.admin()) {
            createTopic(admin, "orders", 1);
            TopicDescription d = BrokerCluster.describe(admin, "orders");
            assertThat(d.partitions().get(0).replicas()).hasSize(3);
            assertThat(d.partitions().get(0).isr()).hasSize(3);
            int leader = d.partitions().get(0).leader().id();
            BrokerCluster.Broker follower = cluster.brokers().stream().filter(b -> b.id != leader).findFirst().orElseThrow();

            List<String> frames = new CopyOnWriteArrayList<>();
            WebSocket ws = subscribe(follower, "orders", frames);

            List<Acked> acked = new ArrayList<>();
            try (KafkaProducer<String, String> producer = producer()) {
                for (int i = 0; i < 100; i++) {
                    RecordMetadata m = producer.send(new ProducerRecord<>("orders", "k" + i, "kafka-" + i)).get();
                    acked.add(new Acked("kafka-" + i, m.offset()));
                }
            }
            JsonObject answer = httpProduce(follower, "orders", List.of("http-0", "http-1"));
            JsonArray offsets = answer.getJsonArray("offsets");
            assertThat(offsets.getJsonObject(0).getLong("offset")).as("forwarded to the leader, appended after Kafka's")
                    .isEqualTo(100);
            acked.add(new Acked("\"http-0\"", 100));
            acked.add(new Acked("\"http-1\"", 101));

            assertExactlyOnceInOrder(readAll("orders"), acked);
            awaitUntil(() -> frames.size() >= 102, 30_000, "the WebSocket on a follower receives all 102 records");
            ws.abort();
            JsonObject last = new JsonObject(frames.get(101));
            assertThat(last.getLong("offset")).isEqualTo(101);
            awaitReplicasIdentical("orders", 0);

            HttpResponse<String> metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + cluster.broker(leader).httpPort + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(metrics.body()).contains("runnel_cluster_under_replicated_partitions ",
                    "runnel_cluster_leader_partitions ", "runnel_cluster_isr_shrinks_total ",
                    "runnel_cluster_replication_lag_max ");
        }
    }

    @Test
    void aTopicDeletedAndCreatedAgainAtOnceHoldsOnlyItsNewRecordsOnEveryBroker() throws Exception {
        startCluster(3);
        try (Admin admin = cluster.admin()) {
            createTopic(admin, "events", 1);
            try (KafkaProducer<String, String> producer = producer()) {
                for (int i = 0; i < 50; i++) {
                    producer.send(new ProducerRecord<>("events", "k", "old-" + i)).get();
                }
            }
            awaitReplicasIdentical("events", 0);

            // As a reset script or a test suite does: brokers may hear of the new topic before the deletion.
            admin.deleteTopics(List.of("events")).all().get(30, TimeUnit.SECONDS);
            createTopic(admin, "events", 1);

            List<Acked> acked = new ArrayList<>();
            try (KafkaProducer<String, String> producer = producer()) {
                for (int i = 0; i < 10; i++) {
                    RecordMetadata m = producer.send(new ProducerRecord<>("events", "k", "new-" + i)).get();
                    acked.add(new Acked("new-" + i, m.offset()));
                }
            }
            assertThat(acked).extracting(Acked::offset).as("the new topic's offsets start at 0")
                    .containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
            assertExactlyOnceInOrder(readAll("events"), acked);
            assertThat(readAll("events")).extracting(ConsumerRecord::value).allMatch(v -> v.startsWith("new-"));
            awaitReplicasIdentical("events", 0);
            awaitUntil(() -> isrOf(admin, "events").size() == 3, 30_000, "the new topic's ISR holds all three brokers");
        }
    }

    @Test
    void aConsumerGroupKeepsItsCommittedOffsetsWhenItsCoordinatorIsKilled() throws Exception {
        startCluster(3);
        try (Admin admin = cluster.admin()) {
            createTopic(admin, "events", 1);
            try (KafkaProducer<String, String> producer = producer()) {
                for (int i = 0; i < 100; i++) {
                    producer.send(new ProducerRecord<>("events", "e-" + i));
                }
                producer.flush();
            }
            assertThat(consumeInGroup("readers", 100)).hasSize(100).first().isEqualTo("e-0");

            // An HTTP consumer on a broker that does not coordinate its group reaches the coordinator.
            int webCoordinator = admin.describeConsumerGroups(List.of("web")).all().get(30, TimeUnit.SECONDS)
                    .get("web").coordinator().id();
            BrokerCluster.Broker elsewhere = cluster.brokers().stream().filter(b -> b.id != webCoordinator)
                    .findFirst().orElseThrow();
            String instance = "/consumers/web/instances/w";
            http(elsewhere, "POST", "/consumers/web", new JsonObject().put("name", "w").put("format", "binary")
                    .put("auto.offset.reset", "earliest").put("auto.commit.enable", "false"));
            http(elsewhere, "POST", instance + "/subscription", new JsonObject().put("topics", new JsonArray().add("events")));
            List<String> web = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 60_000;
            while (web.size() < 100 && System.currentTimeMillis() < deadline) {
                new JsonArray(http(elsewhere, "GET", instance + "/records?timeout=500", null))
                        .forEach(r -> web.add(new String(java.util.Base64.getDecoder().decode(
                                ((JsonObject) r).getString("value")), java.nio.charset.StandardCharsets.UTF_8)));
            }
            assertThat(web).hasSize(100).first().isEqualTo("e-0");
            http(elsewhere, "POST", instance + "/offsets", null);
            var webCommitted = admin.listConsumerGroupOffsets("web").partitionsToOffsetAndMetadata()
                    .get(30, TimeUnit.SECONDS).get(new TopicPartition("events", 0));
            assertThat(webCommitted.offset()).as("the commit reached the coordinator, broker %d", webCoordinator)
                    .isEqualTo(100);
            http(elsewhere, "DELETE", instance, null);
            int coordinator = admin.describeConsumerGroups(List.of("readers")).all().get(30, TimeUnit.SECONDS)
                    .get("readers").coordinator().id();

            cluster.kill(cluster.broker(coordinator));
            awaitUntil(() -> {
                var committed = admin.listConsumerGroupOffsets("readers").partitionsToOffsetAndMetadata()
                        .get(10, TimeUnit.SECONDS).get(new TopicPartition("events", 0));
                return committed != null && committed.offset() == 100;
            }, 60_000, "the new coordinator answers the group's commit (100)");
            try (KafkaProducer<String, String> producer = producer()) {
                for (int i = 100; i < 110; i++) {
                    producer.send(new ProducerRecord<>("events", "e-" + i));
                }
                producer.flush();
            }
            assertThat(consumeInGroup("readers", 10)).as("the group resumes at its commit")
                    .containsExactly("e-100", "e-101", "e-102", "e-103", "e-104", "e-105", "e-106", "e-107", "e-108",
                            "e-109");
        }
    }

    @Test
    void afterEveryBrokerRestartedTheTopicsAndTheirRecordsAreBack() throws Exception {
        startCluster(3);
        List<Acked> acked = new ArrayList<>();
        try (Admin admin = cluster.admin()) {
            createTopic(admin, "archive", 1);
            try (KafkaProducer<String, String> producer = producer()) {
                for (int i = 0; i < 100; i++) {
                    acked.add(new Acked("a-" + i, producer.send(new ProducerRecord<>("archive", "a-" + i)).get().offset()));
                }
            }
        }
        for (BrokerCluster.Broker b : cluster.brokers()) {
            cluster.kill(b);
        }
        // Hazelcast's maps are gone with the last member: the brokers hand their topics back.
        cluster.start();
        try (Admin admin = cluster.admin()) {
            awaitUntil(() -> isrOf(admin, "archive").size() == 3, 60_000, "the topic is back with three in-sync replicas");
            assertExactlyOnceInOrder(readAll("archive"), acked);
        }
    }

    /** Joins {@code group}, reads {@code count} records, commits and leaves. */
    List<String> consumeInGroup(String group, int count) throws Exception {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrap());
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of("events"));
            long deadline = System.currentTimeMillis() + 60_000;
            while (values.size() < count && System.currentTimeMillis() < deadline) {
                consumer.poll(Duration.ofMillis(500)).forEach(r -> values.add(r.value()));
            }
            consumer.commitSync(Duration.ofSeconds(30));
        }
        return values;
    }

    @Test
    void aKilledLeaderIsReplacedWithinSecondsAndNothingAcknowledgedIsLostOrDuplicated() throws Exception {
        startCluster(3);
        try (Admin admin = cluster.admin(); Load load = new Load(cluster.bootstrap(), "payments")) {
            createTopic(admin, "payments", 1);
            int leader = BrokerCluster.describe(admin, "payments").partitions().get(0).leader().id();
            load.start();
            awaitUntil(() -> load.acked.size() > 200, 30_000, "the load is running");

            cluster.kill(cluster.broker(leader));
            long killedAt = System.nanoTime();
            int newLeader = awaitNewLeader(admin, "payments", leader);
            long electionMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
            int ackedAtKill = load.acked.size();
            awaitUntil(() -> load.acked.size() > ackedAtKill + 200, 30_000, "the producer continues on the new leader");
            System.out.printf("leader %d killed: broker %d leads after %d ms%n", leader, newLeader, electionMs);
            assertThat(electionMs).as("a new leader within 5 s of the kill (measured, not a benchmark)").isLessThan(5_000);

            cluster.launch(cluster.broker(leader));
            awaitUntil(() -> isrOf(admin, "payments").size() == 3, 60_000, "the restarted broker rejoins the ISR");
            awaitUntil(() -> leaderOf(admin, "payments") == preferredOf(admin, "payments"), 60_000,
                    "the preferred leader takes the partition back");
            load.stop();
            assertThat(load.failure.get()).as("the idempotent producer saw no fatal error").isNull();
            assertExactlyOnceInOrder(readAll("payments"), load.acked);
            awaitReplicasIdentical("payments", 0);
        }
    }

    @Test
    void aPausedLeaderThatReturnsBelievingItLeadsIsFencedAndNothingDiverges() throws Exception {
        startCluster(3);
        try (Admin admin = cluster.admin(); Load load = new Load(cluster.bootstrap(), "sensors")) {
            createTopic(admin, "sensors", 1);
            int leader = BrokerCluster.describe(admin, "sensors").partitions().get(0).leader().id();
            load.start();
            awaitUntil(() -> load.acked.size() > 200, 30_000, "the load is running");

            cluster.pause(cluster.broker(leader));
            long pausedAt = System.currentTimeMillis();
            awaitNewLeader(admin, "sensors", leader);
            int ackedAtElection = load.acked.size();
            // A request in flight to the paused broker is given up only after the producer's
            // request.timeout.ms (30 s, from before the election), so allow that and some.
            awaitUntil(() -> load.acked.size() > ackedAtElection + 200, 60_000, "the producer continues");
            Thread.sleep(Math.max(0, pausedAt + 20_000 - System.currentTimeMillis()));
            cluster.resume(cluster.broker(leader));

            awaitUntil(() -> isrOf(admin, "sensors").size() == 3, 90_000, "the paused broker rejoins the ISR");
            // Cut off, it made itself controller of its own side; merged back, its own requests
            // must reach the real controller (here: creating a topic by producing to it over HTTP).
            httpProduce(cluster.broker(leader), "created-after-the-pause", List.of("through the paused broker"));
            load.stop();
            assertThat(load.failure.get()).isNull();
            assertExactlyOnceInOrder(readAll("sensors"), load.acked);
            awaitReplicasIdentical("sensors", 0);
        }
    }

    @Test
    void withOneBrokerOfThreeLeftAcksAllIsRefusedAndNothingAcknowledgedIsLostWhenTheOthersReturn() throws Exception {
        startCluster(3);
        try (Admin admin = cluster.admin()) {
            createTopic(admin, "ledger", 1);
            List<Acked> acked = new ArrayList<>();
            try (KafkaProducer<String, String> producer = producer()) {
                for (int i = 0; i < 50; i++) {
                    acked.add(new Acked("before-" + i, producer.send(new ProducerRecord<>("ledger", "before-" + i)).get()
                            .offset()));
                }
            }
            int survivor = leaderOf(admin, "ledger");
            List<BrokerCluster.Broker> others = cluster.brokers().stream().filter(b -> b.id != survivor).toList();
            for (BrokerCluster.Broker b : others) {
                cluster.kill(b);
            }
            BrokerCluster.Broker alive = cluster.broker(survivor);
            awaitUntil(() -> admin.describeCluster().nodes().get(10, TimeUnit.SECONDS).size() == 1, 30_000,
                    "the survivor knows the others are gone");
            Properties props = producerProps(alive.bootstrap());
            props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 8_000);
            props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 4_000);
            props.put(ProducerConfig.RETRIES_CONFIG, 0);
            props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
                ExecutionException refused = null;
                try {
                    producer.send(new ProducerRecord<>("ledger", "during")).get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    refused = e;
                }
                assertThat(refused).as("acks=all with one live replica of min.insync.replicas=2").isNotNull();
                assertThat(refused.getCause()).isInstanceOf(NotEnoughReplicasException.class);
            }
            for (BrokerCluster.Broker b : others) {
                cluster.launch(b);
            }
            awaitUntil(() -> isrOf(admin, "ledger").size() == 3, 90_000, "the returning brokers rejoin the ISR");
            assertExactlyOnceInOrder(readAll("ledger"), acked);
        }
    }

    // ---------------------------------------------------------------- the load and its checker

    record Acked(String value, long offset) {
    }

    /** An idempotent acks=all producer sending numbered records until stopped; it keeps what was acknowledged. */
    static final class Load implements AutoCloseable {
        final List<Acked> acked = Collections.synchronizedList(new ArrayList<>());
        final AtomicReference<Exception> failure = new AtomicReference<>();
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final KafkaProducer<String, String> producer;
        private final String topic;
        private Thread thread;

        Load(String bootstrap, String topic) {
            this.producer = new KafkaProducer<>(producerProps(bootstrap));
            this.topic = topic;
        }

        void start() {
            thread = new Thread(() -> {
                for (int i = 0; running.get(); i++) {
                    String value = "v-" + i;
                    producer.send(new ProducerRecord<>(topic, value), (m, e) -> {
                        if (e == null) {
                            acked.add(new Acked(value, m.offset()));
                        } else if (!(e instanceof org.apache.kafka.common.errors.RetriableException)) {
                            failure.compareAndSet(null, e);
                        }
                    });
                    // About 2,000 records a second: a steady load that leaves the two cores room for
                    // the brokers' failure detection, which a saturating producer starves.
                    if (i % 10 == 0) {
                        try {
                            Thread.sleep(5);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }
            }, "load-" + topic);
            thread.start();
        }

        void stop() throws InterruptedException {
            running.set(false);
            thread.join(10_000);
            producer.flush();
        }

        @Override
        public void close() {
            running.set(false);
            producer.close(Duration.ofSeconds(30));
        }
    }

    static Properties producerProps(String bootstrap) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000);
        props.put(ProducerConfig.LINGER_MS_CONFIG, 2);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return props;
    }

    KafkaProducer<String, String> producer() {
        return new KafkaProducer<>(producerProps(cluster.bootstrap()));
    }

    /** Every record of partition 0, from the start to the end offset, as the cluster serves them. */
    List<ConsumerRecord<String, String>> readAll(String topic) throws Exception {
        return readAllFrom(cluster, topic);
    }

    List<ConsumerRecord<String, String>> readAllFrom(BrokerCluster cluster, String topic) throws Exception {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrap());
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long end = consumer.endOffsets(List.of(tp), Duration.ofSeconds(30)).get(tp);
            long deadline = System.currentTimeMillis() + 60_000;
            while (consumer.position(tp, Duration.ofSeconds(30)) < end && System.currentTimeMillis() < deadline) {
                consumer.poll(Duration.ofMillis(500)).forEach(out::add);
            }
        }
        return out;
    }

    /** Every acknowledged record is in the log exactly once, at the offset it was acknowledged with. */
    static void assertExactlyOnceInOrder(List<ConsumerRecord<String, String>> log, List<Acked> acked) {
        List<Acked> ackedCopy;
        synchronized (acked) {
            ackedCopy = new ArrayList<>(acked);
        }
        assertThat(ackedCopy).as("something was acknowledged").isNotEmpty();
        Map<String, Long> seen = new java.util.HashMap<>();
        long previous = -1;
        for (ConsumerRecord<String, String> r : log) {
            assertThat(r.offset()).as("offsets increase").isGreaterThan(previous);
            previous = r.offset();
            Long before = seen.put(r.value(), r.offset());
            assertThat(before).as("record %s is in the log once (at %d, again at %d)", r.value(), before, r.offset())
                    .isNull();
        }
        long last = previous;
        Map<Long, String> byOffset = new java.util.HashMap<>();
        log.forEach(r -> byOffset.put(r.offset(), r.value()));
        for (Acked a : ackedCopy) {
            Long at = seen.get(a.value());
            assertThat(at).as("acknowledged record %s at offset %d is in the log (%d records read, the last at %d;"
                            + " the log has %s there, %s before and %s after)", a.value(), a.offset(), log.size(), last,
                    byOffset.get(a.offset()), byOffset.get(a.offset() - 1), byOffset.get(a.offset() + 1)).isNotNull();
            assertThat(at).as("acknowledged record %s is at the offset it was acknowledged with", a.value())
                    .isEqualTo(a.offset());
        }
    }

    // ---------------------------------------------------------------- cluster helpers

    static void createTopic(Admin admin, String name, int partitions) throws Exception {
        admin.createTopics(List.of(new NewTopic(name, partitions, (short) 3)
                .configs(Map.of("min.insync.replicas", "2")))).all().get(30, TimeUnit.SECONDS);
    }

    static int leaderOf(Admin admin, String topic) throws Exception {
        Node n = BrokerCluster.describe(admin, topic).partitions().get(0).leader();
        return n == null ? -1 : n.id();
    }

    static Node describeLeader(Admin admin, String topic) throws Exception {
        return BrokerCluster.describe(admin, topic).partitions().get(0).leader();
    }

    static int preferredOf(Admin admin, String topic) throws Exception {
        return BrokerCluster.describe(admin, topic).partitions().get(0).replicas().get(0).id();
    }

    static List<Integer> isrOf(Admin admin, String topic) throws Exception {
        return BrokerCluster.describe(admin, topic).partitions().get(0).isr().stream().map(Node::id).toList();
    }

    static int awaitNewLeader(Admin admin, String topic, int old) throws Exception {
        int[] found = {-1};
        awaitUntil(() -> {
            int l = leaderOf(admin, topic);
            found[0] = l;
            return l >= 0 && l != old;
        }, 30_000, "a new leader of " + topic);
        return found[0];
    }

    /** Once the followers have caught up, the partition's segment bytes are the same on every broker. */
    void awaitReplicasIdentical(String topic, int partition) throws Exception {
        awaitUntil(() -> {
            byte[] first = null;
            for (BrokerCluster.Broker b : cluster.brokers()) {
                byte[] bytes = segmentBytes(b.dataDir.resolve(topic + "-" + partition));
                if (first == null) {
                    first = bytes;
                } else if (!java.util.Arrays.equals(first, bytes)) {
                    return false;
                }
            }
            return true;
        }, 30_000, "the three replicas of " + topic + "-" + partition + " hold identical logs");
    }

    static byte[] segmentBytes(Path partitionDir) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Stream<Path> files = Files.list(partitionDir)) {
            for (Path f : files.filter(f -> f.toString().endsWith(".log")).sorted().toList()) {
                out.write(Files.readAllBytes(f));
            }
        }
        return out.toByteArray();
    }

    interface Check {
        boolean holds() throws Exception;
    }

    static void awaitUntil(Check check, long timeoutMs, String what) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMs;
        Exception last = null;
        while (System.currentTimeMillis() < deadline) {
            try {
                if (check.holds()) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("Timed out waiting until " + what + (last == null ? "" : " (last error: " + last + ")"));
    }

    // ---------------------------------------------------------------- HTTP and WebSocket

    static JsonObject httpProduce(BrokerCluster.Broker b, String topic, List<String> values) throws Exception {
        JsonArray records = new JsonArray();
        values.forEach(v -> records.add(new JsonObject().put("value", v)));
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                                URI.create("http://127.0.0.1:" + b.httpPort + "/topics/" + topic))
                        .header("Content-Type", "application/vnd.kafka.json.v2+json")
                        .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("records", records).encode()))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return new JsonObject(r.body());
    }

    /** An HTTP v2 call that must succeed; returns the body. */
    static String http(BrokerCluster.Broker b, String method, String path, JsonObject body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + b.httpPort + path))
                .header("Content-Type", "application/vnd.kafka.v2+json")
                .header("Accept", "application/vnd.kafka.binary.v2+json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body.encode()));
        HttpResponse<String> r = HttpClient.newHttpClient().send(request.build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("%s %s: %s", method, path, r.body()).isBetween(200, 204);
        return r.body();
    }

    static WebSocket subscribe(BrokerCluster.Broker b, String topic, List<String> frames) throws Exception {
        return HttpClient.newHttpClient().newWebSocketBuilder()
                .buildAsync(URI.create("ws://127.0.0.1:" + b.httpPort + "/ws/v1/topics/" + topic
                        + "/subscribe?from=earliest"), new WebSocket.Listener() {
                    private final StringBuilder partial = new StringBuilder();

                    @Override
                    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                        partial.append(data);
                        if (last) {
                            JsonObject frame = new JsonObject(partial.toString());
                            partial.setLength(0);
                            if ("record".equals(frame.getString("type"))) {
                                frames.add(frame.encode());
                            }
                        }
                        ws.request(1);
                        return null;
                    }
                }).get(30, TimeUnit.SECONDS);
    }
}

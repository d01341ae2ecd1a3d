package io.runnel.api.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.message.FetchRequestData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.RequestHeader;
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
 * Malformed input never takes the broker down: {@value #MUTATED_REQUESTS} valid requests of every
 * served (API, version), randomly mutated (bits flipped, bytes inserted, deleted, overwritten with
 * extreme sizes, truncated, API key and version changed), and {@value #RANDOM_FRAMES} frames of
 * random bytes are sent over many connections. Each request is answered or its connection is
 * closed within {@value #ANSWER_TIMEOUT_MS} ms — unless it is a request Kafka lets wait (a fetch's
 * long poll, a group join or sync, a produce with acks=0, which is never answered). No event loop
 * blocks (the extension checks), and afterwards a clean Kafka client still lists topics and
 * produces and consumes a record.
 *
 * <p>Randomness comes from one seed, printed on failure; rerun with {@code -Dfuzz.seed=<seed>}.
 * CreateTopics and CreatePartitions are left out of the mutations: a mutated partition count is a
 * well-formed request for millions of partitions, a question of resource limits, not of parsing.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class KafkaFuzzTest {

    static final int MUTATED_REQUESTS = 10_000;
    static final int RANDOM_FRAMES = 1_000;
    static final int ANSWER_TIMEOUT_MS = 2_000;
    static final int FRAMES_PER_CONNECTION_MAX = 8;
    static final int SENDERS = 8;
    static final String TOPIC = "fuzz";

    @TempDir
    static Path dataDir;

    RunnelServer server;

    @BeforeAll
    void start(Vertx vertx) throws Exception {
        BrokerConfig config = BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0",
                "--data.dir=" + dataDir, "--group.initial.rebalance.delay.ms=0"), Map.of(), dataDir.resolve("none.properties"));
        server = RunnelServer.start(vertx, config).await(30, TimeUnit.SECONDS);
        server.broker().topics().createTopic(TOPIC, 1, Map.of()).await(10, TimeUnit.SECONDS);
    }

    @AfterAll
    void stop() throws Exception {
        server.stop().await(30, TimeUnit.SECONDS);
    }

    /** What became of one frame. */
    enum Outcome { ANSWERED, CLOSED, ALLOWED_TO_WAIT }

    @Test
    void mutatedRequestsAndRandomFramesAreAnsweredOrRefusedAndTheBrokerStaysUp() throws Exception {
        long seed = Long.getLong("fuzz.seed", System.nanoTime());
        List<byte[]> frames = frames(new Random(seed));
        List<String> hangs = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger[] outcomes = {new AtomicInteger(), new AtomicInteger(), new AtomicInteger()};
        AtomicInteger nextFrame = new AtomicInteger();
        long startNanos = System.nanoTime();

        // Each sender takes the next frame; a connection carries frames until the broker closes it, a
        // request is allowed to wait, or it has carried a random number of them — then a new one opens.
        ExecutorService senders = Executors.newFixedThreadPool(SENDERS);
        AtomicInteger connections = new AtomicInteger();
        for (int s = 0; s < SENDERS; s++) {
            Random lengths = new Random(seed + 1 + s);
            senders.submit(() -> {
                KafkaWire wire = null;
                int carried = 0;
                int limit = 0;
                for (int f = nextFrame.getAndIncrement(); f < frames.size(); f = nextFrame.getAndIncrement()) {
                    try {
                        if (wire == null) {
                            wire = new KafkaWire(server.kafkaPort(), ANSWER_TIMEOUT_MS);
                            connections.incrementAndGet();
                            carried = 0;
                            limit = 1 + lengths.nextInt(FRAMES_PER_CONNECTION_MAX);
                        }
                        Outcome o = send(wire, frames.get(f), hangs);
                        if (o != null) {
                            outcomes[o.ordinal()].incrementAndGet();
                        }
                        if (o != Outcome.ANSWERED || ++carried >= limit) {
                            wire.close();
                            wire = null;
                        }
                    } catch (IOException e) {
                        hangs.add("frame " + f + ": " + e);
                        return;
                    }
                }
                if (wire != null) {
                    try {
                        wire.close();
                    } catch (IOException ignored) {
                        // the test is over for this connection either way
                    }
                }
            });
        }
        senders.shutdown();
        assertThat(senders.awaitTermination(150, TimeUnit.SECONDS)).as("seed %d: the fuzzing finished", seed).isTrue();

        System.out.printf("Fuzz seed %d: %d frames on %d connections in %d ms: %d answered, %d closed, %d allowed to wait%n",
                seed, frames.size(), connections.get(), (System.nanoTime() - startNanos) / 1_000_000,
                outcomes[0].get(), outcomes[1].get(), outcomes[2].get());
        assertThat(hangs).as("seed %d (rerun with -Dfuzz.seed=%d): frames neither answered nor refused", seed, seed)
                .isEmpty();
        assertThat(outcomes[Outcome.ANSWERED.ordinal()].get()).as("seed %d: some mutations stay valid", seed).isPositive();
        assertThat(outcomes[Outcome.CLOSED.ordinal()].get()).as("seed %d: some are refused", seed).isPositive();
        assertThat(outcomes[0].get() + outcomes[1].get() + outcomes[2].get()).as("seed %d: every frame was sent", seed)
                .isEqualTo(frames.size());

        aCleanClientStillWorks();
    }

    @Test
    void aFrameClaimingGigabytesClosesItsConnectionBeforeAnyBodyIsSent() throws Exception {
        for (int claimed : new int[] {Integer.MAX_VALUE, KafkaListener.MAX_REQUEST_BYTES + 1, -1, 3}) {
            try (KafkaWire wire = new KafkaWire(server.kafkaPort(), ANSWER_TIMEOUT_MS)) {
                wire.sendRaw(ByteBuffer.allocate(4).putInt(claimed).array());
                assertThat(wire.closedByBroker()).as("a frame claiming %d bytes", claimed).isTrue();
            }
        }
        try (KafkaWire wire = new KafkaWire(server.kafkaPort(), ANSWER_TIMEOUT_MS)) {
            assertThat(wire.roundTrip(ApiKeys.API_VERSIONS, (short) 3,
                    new SampleRequests(TOPIC, "g").request(ApiKeys.API_VERSIONS, (short) 3)).apiKey())
                    .as("the listener still answers").isEqualTo(ApiKeys.API_VERSIONS);
        }
    }

    /** Sends one frame; null when the frame hung (recorded in {@code hangs}). */
    private static Outcome send(KafkaWire wire, byte[] frame, List<String> hangs) {
        try {
            wire.sendFrame(frame);
            wire.readFrame();
            return Outcome.ANSWERED;
        } catch (EOFException | SocketException e) {
            return Outcome.CLOSED;
        } catch (SocketTimeoutException e) {
            if (allowedToWait(frame)) {
                return Outcome.ALLOWED_TO_WAIT;
            }
            hangs.add(HexFormat.of().formatHex(frame));
            return null;
        } catch (IOException e) {
            return Outcome.CLOSED;
        }
    }

    /** Whether Kafka lets this request go unanswered for a while: it parses and may wait by its nature. */
    static boolean allowedToWait(byte[] frame) {
        try {
            ByteBuffer buffer = ByteBuffer.wrap(frame);
            RequestHeader header = RequestHeader.parse(buffer);
            AbstractRequest request = AbstractRequest.parseRequest(header.apiKey(), header.apiVersion(),
                    new ByteBufferAccessor(buffer)).request;
            return switch (header.apiKey()) {
                case FETCH -> ((FetchRequestData) request.data()).maxWaitMs() >= ANSWER_TIMEOUT_MS / 2;
                case PRODUCE -> ((ProduceRequestData) request.data()).acks() == 0;
                case JOIN_GROUP, SYNC_GROUP -> true;
                default -> false;
            };
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Mutated valid requests and random frames, shuffled. */
    static List<byte[]> frames(Random random) {
        List<ApiVersionsResponseData.ApiVersion> served = new ArrayList<>(SupportedApis.versions());
        // Requests that change topics are left out: a mutation that stays valid would carry them out
        // (a DeleteTopics of the test's own topic deletes it), which is right, not a broker fault.
        served.removeIf(v -> v.apiKey() == ApiKeys.CREATE_TOPICS.id || v.apiKey() == ApiKeys.CREATE_PARTITIONS.id
                || v.apiKey() == ApiKeys.DELETE_TOPICS.id);
        List<byte[]> frames = new ArrayList<>(MUTATED_REQUESTS + RANDOM_FRAMES);
        for (int i = 0; i < MUTATED_REQUESTS; i++) {
            ApiVersionsResponseData.ApiVersion range = served.get(random.nextInt(served.size()));
            ApiKeys api = ApiKeys.forId(range.apiKey());
            short version = (short) (range.minVersion() + random.nextInt(range.maxVersion() - range.minVersion() + 1));
            // A group of its own per request: a join into a group with members would wait for them to rejoin.
            SampleRequests samples = new SampleRequests(TOPIC, "fuzz-group-" + i);
            RequestHeader header = new RequestHeader(api, version, KafkaWire.CLIENT_ID, i);
            frames.add(mutate(KafkaWire.encode(header, samples.request(api, version)), random));
        }
        for (int i = 0; i < RANDOM_FRAMES; i++) {
            byte[] bytes = new byte[random.nextInt(256)];
            random.nextBytes(bytes);
            frames.add(bytes);
        }
        Collections.shuffle(frames, random);
        return frames;
    }

    private static final int[] EXTREME_INTS = {0, -1, 1, Integer.MAX_VALUE, Integer.MIN_VALUE, 0x7fff, 0x10000, 1 << 30};

    /** One to three random edits of {@code valid}. */
    static byte[] mutate(byte[] valid, Random random) {
        byte[] bytes = valid;
        int edits = 1 + random.nextInt(3);
        for (int e = 0; e < edits; e++) {
            int pos = bytes.length == 0 ? 0 : random.nextInt(bytes.length);
            switch (random.nextInt(9)) {
                case 0 -> {
                    if (bytes.length > 0) {
                        bytes[pos] ^= (byte) (1 << random.nextInt(8));
                    }
                }
                case 1 -> {
                    if (bytes.length > 0) {
                        bytes[pos] = (byte) random.nextInt(256);
                    }
                }
                case 2 -> {
                    byte[] inserted = new byte[1 + random.nextInt(8)];
                    random.nextBytes(inserted);
                    bytes = splice(bytes, pos, 0, inserted);
                }
                case 3 -> bytes = splice(bytes, pos, Math.min(1 + random.nextInt(8), bytes.length - pos), new byte[0]);
                case 4 -> bytes = java.util.Arrays.copyOf(bytes, pos);
                case 5 -> {
                    if (pos + 2 <= bytes.length) {
                        ByteBuffer.wrap(bytes).putShort(pos, (short) EXTREME_INTS[random.nextInt(EXTREME_INTS.length)]);
                    }
                }
                case 6 -> {
                    if (pos + 4 <= bytes.length) {
                        ByteBuffer.wrap(bytes).putInt(pos, EXTREME_INTS[random.nextInt(EXTREME_INTS.length)]);
                    }
                }
                case 7 -> {
                    if (bytes.length >= 2) {
                        ByteBuffer.wrap(bytes).putShort(0, (short) (random.nextInt(80) - 1));
                    }
                }
                default -> {
                    if (bytes.length >= 4) {
                        ByteBuffer.wrap(bytes).putShort(2, (short) (random.nextInt(22) - 1));
                    }
                }
            }
        }
        return bytes;
    }

    private static byte[] splice(byte[] bytes, int at, int removed, byte[] inserted) {
        byte[] out = new byte[bytes.length - removed + inserted.length];
        System.arraycopy(bytes, 0, out, 0, at);
        System.arraycopy(inserted, 0, out, at, inserted.length);
        System.arraycopy(bytes, at + removed, out, at + inserted.length, bytes.length - at - removed);
        return out;
    }

    private void aCleanClientStillWorks() throws Exception {
        String bootstrap = "127.0.0.1:" + server.kafkaPort();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            assertThat(admin.listTopics().names().get(10, TimeUnit.SECONDS)).contains(TOPIC);
        }
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>("after-fuzz", 0, "k", "still here")).get(10, TimeUnit.SECONDS);
        }
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition("after-fuzz", 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            List<String> values = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 20_000;
            while (values.isEmpty() && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                    values.add(r.value());
                }
            }
            assertThat(values).containsExactly("still here");
        }
    }
}

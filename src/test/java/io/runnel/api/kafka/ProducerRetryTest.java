package io.runnel.api.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.message.MetadataResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.MessageUtil;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.requests.ResponseHeader;
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
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;

/**
 * An idempotent producer whose first Produce response is lost does not write its record twice:
 * a small TCP proxy between the producer and the broker forwards the first Produce request, then
 * closes the producer's side before the answer can reach it. The producer retries the batch on a
 * new connection with the same producer id and sequence; the broker recognises it and answers
 * with the original offset. The record is in the log exactly once.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProducerRetryTest {

    @TempDir
    static Path dataDir;

    RunnelServer server;

    @BeforeAll
    void start(Vertx vertx) throws Exception {
        BrokerConfig config = BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0",
                "--data.dir=" + dataDir), Map.of(), dataDir.resolve("none.properties"));
        server = RunnelServer.start(vertx, config).await(30, TimeUnit.SECONDS);
        server.broker().topics().createTopic("retried", 1, Map.of()).await(10, TimeUnit.SECONDS);
    }

    @AfterAll
    void stop() throws Exception {
        server.stop().await(30, TimeUnit.SECONDS);
    }

    @Test
    void aRetryAfterADroppedProduceResponseIsNotWrittenTwice(Vertx vertx) throws Exception {
        DroppingProxy proxy = DroppingProxy.start(vertx, server.kafkaPort());
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + proxy.port());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.RETRIES_CONFIG, Integer.toString(Integer.MAX_VALUE));
        p.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, "50");
        p.put(ProducerConfig.RECONNECT_BACKOFF_MS_CONFIG, "50");
        RecordMetadata written;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            written = producer.send(new ProducerRecord<>("retried", 0, "k", "once")).get(30, TimeUnit.SECONDS);
        } finally {
            proxy.close();
        }
        assertThat(proxy.dropped()).as("the proxy dropped a Produce response").isTrue();
        assertThat(written.offset()).isZero();

        List<ConsumerRecord<String, String>> log = readAll("retried");
        assertThat(log).extracting(ConsumerRecord::value).containsExactly("once");
        assertThat(server.broker().listOffset("retried", 0, -1).await(10, TimeUnit.SECONDS))
                .as("the log end offset").isEqualTo(1);
    }

    /** Everything in partition 0 of {@code topic}, read straight from the broker. */
    List<ConsumerRecord<String, String>> readAll(String topic) {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + server.kafkaPort());
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long end = consumer.endOffsets(List.of(tp)).get(tp);
            long deadline = System.currentTimeMillis() + 20_000;
            while (consumer.position(tp) < end && System.currentTimeMillis() < deadline) {
                consumer.poll(Duration.ofMillis(100)).forEach(out::add);
            }
        }
        return out;
    }

    /**
     * A Kafka-aware TCP proxy: forwards frames both ways, rewrites Metadata answers so clients
     * keep coming through it, and drops the first Produce response by closing the client's
     * connection once that request is forwarded (the broker's answer is read and discarded).
     */
    static final class DroppingProxy {
        private final NetServer server;
        private final NetClient client;
        private final AtomicBoolean dropped = new AtomicBoolean();

        private DroppingProxy(NetServer server, NetClient client) {
            this.server = server;
            this.client = client;
        }

        static DroppingProxy start(Vertx vertx, int brokerPort) throws Exception {
            NetClient client = vertx.createNetClient();
            NetServer server = vertx.createNetServer();
            DroppingProxy proxy = new DroppingProxy(server, client);
            server.connectHandler(downstream -> proxy.accept(downstream, brokerPort));
            server.listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
            return proxy;
        }

        int port() {
            return server.actualPort();
        }

        boolean dropped() {
            return dropped.get();
        }

        void close() throws Exception {
            server.close().await(10, TimeUnit.SECONDS);
            client.close().await(10, TimeUnit.SECONDS);
        }

        private void accept(NetSocket downstream, int brokerPort) {
            downstream.pause();
            client.connect(brokerPort, "127.0.0.1").onSuccess(upstream -> {
                Map<Integer, RequestHeader> inFlight = new ConcurrentHashMap<>();
                AtomicBoolean dropping = new AtomicBoolean();
                downstream.handler(frames(frame -> {
                    RequestHeader header = RequestHeader.parse(ByteBuffer.wrap(frame.getBytes()));
                    inFlight.put(header.correlationId(), header);
                    upstream.write(sized(frame));
                    if (header.apiKey() == ApiKeys.PRODUCE && dropped.compareAndSet(false, true)) {
                        dropping.set(true);
                        downstream.close();
                    }
                }));
                upstream.handler(frames(frame -> {
                    if (dropping.get()) {
                        upstream.close(); // the dropped answer arrived: the record is in the log
                        return;
                    }
                    int correlationId = frame.getInt(0);
                    RequestHeader request = inFlight.remove(correlationId);
                    downstream.write(sized(request != null && request.apiKey() == ApiKeys.METADATA
                            ? throughProxy(request, frame) : frame));
                }));
                downstream.closeHandler(v -> {
                    if (!dropping.get()) {
                        upstream.close();
                    }
                });
                upstream.closeHandler(v -> downstream.close());
                downstream.resume();
            }).onFailure(e -> downstream.close());
        }

        /** A Metadata answer that names the proxy's port instead of the broker's. */
        private Buffer throughProxy(RequestHeader request, Buffer frame) {
            ByteBuffer bytes = ByteBuffer.wrap(frame.getBytes());
            short headerVersion = request.apiKey().responseHeaderVersion(request.apiVersion());
            ResponseHeader.parse(bytes, headerVersion);
            MetadataResponseData data = new MetadataResponseData(new ByteBufferAccessor(bytes), request.apiVersion());
            data.brokers().forEach(b -> b.setPort(port()));
            ByteBuffer head = MessageUtil.toByteBufferAccessor(request.toResponseHeader().data(), headerVersion).buffer();
            ByteBuffer body = MessageUtil.toByteBufferAccessor(data, request.apiVersion()).buffer();
            return Buffer.buffer().appendBytes(MessageUtil.byteBufferToArray(head)).appendBytes(MessageUtil.byteBufferToArray(body));
        }

        private static Buffer sized(Buffer frame) {
            return Buffer.buffer(4 + frame.length()).appendInt(frame.length()).appendBuffer(frame);
        }

        /** Splits a byte stream into Kafka frames (without their sizes). */
        private static RecordParser frames(Handler<Buffer> onFrame) {
            RecordParser parser = RecordParser.newFixed(4);
            boolean[] readingSize = {true};
            parser.handler(chunk -> {
                if (readingSize[0]) {
                    readingSize[0] = false;
                    parser.fixedSizeMode(chunk.getInt(0));
                } else {
                    readingSize[0] = true;
                    parser.fixedSizeMode(4);
                    onFrame.handle(chunk);
                }
            });
            return parser;
        }
    }
}

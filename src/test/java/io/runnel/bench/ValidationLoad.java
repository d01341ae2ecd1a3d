package io.runnel.bench;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecordBuilder;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import io.runnel.broker.AvroWire;
import io.runnel.broker.RecordValidator;
import io.runnel.config.BrokerConfig;
import io.runnel.config.LogConfig;
import io.runnel.registry.SchemaRegistry;
import io.runnel.server.RunnelServer;
import io.vertx.core.Vertx;

/**
 * Load comparison of schema validation (issue 6's target: validated produce at least 0.8× the
 * unvalidated throughput): a broker in this JVM, two one-partition topics that differ only in
 * {@code confluent.value.schema.validation}, and Apache Kafka's Java producer (acks=all) sending
 * 1 KiB Avro records in the wire format, in batches of 100 ({@code batch.size} holds exactly 100),
 * for {@code seconds} per round, the topics taking turns for {@code rounds} rounds after a warm-up
 * of each. It also times {@link RecordValidator#check} alone on a 100-record batch, the CPU cost
 * validation adds to the producer connection's event loop.
 *
 * <p>Run: {@code java -cp "target/test-classes:target/classes:$(cat target/bench-classpath.txt)"
 * io.runnel.bench.ValidationLoad [seconds] [rounds]} (bench/run-log-bench.sh writes the classpath
 * file). Not a test: surefire never runs it.
 */
public final class ValidationLoad {

    static final int RECORDS_PER_BATCH = 100;
    static final String SCHEMA = """
            {"type":"record","name":"Event","namespace":"bench","fields":[
              {"name":"id","type":"long"},{"name":"kind","type":"string"},{"name":"amount","type":"double"},
              {"name":"tags","type":{"type":"array","items":"string"}},{"name":"payload","type":"string"}]}""";

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path dir = Files.createTempDirectory("runnel-validation-load");
        Vertx vertx = Vertx.vertx();
        RunnelServer server = RunnelServer.start(vertx, BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0",
                "--registry.port=0", "--bridge.port=0", "--data.dir=" + dir), Map.of(), dir.resolve("none.properties")))
                .await(60, TimeUnit.SECONDS);
        try {
            SchemaRegistry registry = server.broker().schemaRegistry().orElseThrow();
            int id = registry.register("validated-value", SchemaRegistry.SchemaRequest.avro(SCHEMA))
                    .await(10, TimeUnit.SECONDS).id();
            server.topics().createTopic("validated", 1, Map.of(LogConfig.VALUE_SCHEMA_VALIDATION, "true"))
                    .await(10, TimeUnit.SECONDS);
            server.topics().createTopic("plain", 1, Map.of()).await(10, TimeUnit.SECONDS);
            byte[][] records = records(id, 1_000);
            System.out.printf("record: %d bytes in the wire format; %d records a batch%n", records[0].length,
                    RECORDS_PER_BATCH);
            validatorAlone(registry, records);

            try (KafkaProducer<byte[], byte[]> producer = producer(server.kafkaPort(), records[0].length)) {
                run(producer, "validated", records, 3);
                run(producer, "plain", records, 3);
                double validated = 0;
                double plain = 0;
                for (int r = 0; r < rounds; r++) {
                    double v = run(producer, "validated", records, seconds);
                    double p = run(producer, "plain", records, seconds);
                    System.out.printf("round %d: validated %,.0f records/s (%.1f MB/s), plain %,.0f records/s"
                            + " (%.1f MB/s), ratio %.2f%n", r + 1, v, v * records[0].length / 1e6, p,
                            p * records[0].length / 1e6, v / p);
                    validated += v;
                    plain += p;
                }
                System.out.printf("mean: validated %,.0f records/s, plain %,.0f records/s, ratio %.2f%n",
                        validated / rounds, plain / rounds, validated / plain);
            }
        } finally {
            server.stop().await(60, TimeUnit.SECONDS);
            vertx.close().await(60, TimeUnit.SECONDS);
        }
    }

    /** {@code count} distinct records of about 1 KiB (1,024 ± a few bytes) in the wire format of schema {@code id}. */
    static byte[][] records(int id, int count) {
        Schema schema = new Schema.Parser().parse(SCHEMA);
        byte[][] out = new byte[count][];
        String payload = "x".repeat(985);
        for (int i = 0; i < count; i++) {
            out[i] = AvroWire.wire(id, schema, new GenericRecordBuilder(schema).set("id", (long) i).set("kind", "order")
                    .set("amount", i * 1.5).set("tags", List.of("a", "bb", "ccc", "tag-" + i)).set("payload", payload)
                    .build());
        }
        return out;
    }

    static KafkaProducer<byte[], byte[]> producer(int port, int recordBytes) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + port);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        // A record in a v2 batch costs its bytes plus ~8 of framing; 100 of them fill the batch.
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(RECORDS_PER_BATCH * (recordBytes + 8) + 61));
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Long.toString(64L << 20));
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** Sends to {@code topic} as fast as the producer takes records for {@code seconds}; answers records/s acknowledged. */
    static double run(KafkaProducer<byte[], byte[]> producer, String topic, byte[][] records, int seconds)
            throws Exception {
        AtomicLong acked = new AtomicLong();
        AtomicReference<Exception> failure = new AtomicReference<>();
        long start = System.nanoTime();
        long end = start + TimeUnit.SECONDS.toNanos(seconds);
        for (int i = 0; System.nanoTime() < end; i++) {
            producer.send(new ProducerRecord<>(topic, records[i % records.length]), (md, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                } else {
                    acked.incrementAndGet();
                }
            });
        }
        producer.flush();
        double elapsedS = (System.nanoTime() - start) / 1e9;
        if (failure.get() != null) {
            throw new IllegalStateException("A send to " + topic + " failed", failure.get());
        }
        return acked.get() / elapsedS;
    }

    /** Times validation alone: one 100-record batch, checked over and over on this thread. */
    static void validatorAlone(SchemaRegistry registry, byte[][] records) {
        MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(RECORDS_PER_BATCH * 1_200), Compression.NONE,
                TimestampType.CREATE_TIME, 0L);
        for (int i = 0; i < RECORDS_PER_BATCH; i++) {
            b.append(0L, null, records[i]);
        }
        MemoryRecords batch = b.build();
        RecordValidator validator = new RecordValidator(() -> registry);
        LogConfig config = LogConfig.fromMap(Map.of(LogConfig.VALUE_SCHEMA_VALIDATION, "true"));
        for (int i = 0; i < 20_000; i++) {
            validator.check("validated", config, batch);
        }
        int n = 50_000;
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            validator.check("validated", config, batch);
        }
        double usPerBatch = (System.nanoTime() - start) / 1e3 / n;
        System.out.printf("validator alone: %.1f µs per %d-record batch (%.0f ns per record, %,.0f records/s on one core)%n",
                usPerBatch, RECORDS_PER_BATCH, usPerBatch * 1e3 / RECORDS_PER_BATCH, RECORDS_PER_BATCH / usPerBatch * 1e6);
    }

    private ValidationLoad() {
    }
}

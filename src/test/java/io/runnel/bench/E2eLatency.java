package io.runnel.bench;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.Random;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * End-to-end latency the way Apache Kafka's {@code org.apache.kafka.tools.EndToEndLatency} measures
 * it (send one record synchronously, then poll until it arrives; the time from before the send to
 * the record in hand, one record at a time), with the consumer on {@code assign} and no consumer
 * group: Kafka's tool commits its offsets at the end, which needs a group coordinator.
 * Same client settings as that tool: producer {@code linger.ms=0}, consumer
 * {@code fetch.max.wait.ms=0}, {@code auto.offset.reset=latest}.
 *
 * <p>{@code java -cp "target/test-classes:target/lib/*" io.runnel.bench.E2eLatency BOOTSTRAP TOPIC
 * RECORDS ACKS SIZE} prints, like Kafka's tool, "Avg latency: X ms" and "Percentiles: 50th = A,
 * 99th = B, 99.9th = C" (milliseconds, here with three decimals). Partition 0 of TOPIC. Not a test.
 */
public final class E2eLatency {

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        int records = Integer.parseInt(args[2]);
        String acks = args[3];
        int size = Integer.parseInt(args[4]);

        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        cp.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "0");
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.ACKS_CONFIG, acks);
        pp.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());

        TopicPartition tp = new TopicPartition(topic, 0);
        Random random = new Random(0);
        long[] nanos = new long[records];
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp);
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
            consumer.assign(List.of(tp));
            consumer.seekToEnd(List.of(tp));
            consumer.position(tp);
            for (int i = 0; i < records; i++) {
                byte[] value = new byte[size];
                random.nextBytes(value);
                long begin = System.nanoTime();
                producer.send(new ProducerRecord<>(topic, 0, null, value)).get();
                ConsumerRecords<byte[], byte[]> got = consumer.poll(Duration.ofSeconds(60));
                while (got.isEmpty()) {
                    if (System.nanoTime() - begin > 60_000_000_000L) {
                        throw new IllegalStateException("record " + i + " did not arrive within 60 s");
                    }
                    got = consumer.poll(Duration.ofSeconds(60));
                }
                nanos[i] = System.nanoTime() - begin;
                if (got.count() != 1 || !Arrays.equals(got.iterator().next().value(), value)) {
                    throw new IllegalStateException("record " + i + ": expected the one record just sent, got "
                            + got.count() + " record(s)");
                }
                if (i % 1000 == 0) {
                    System.out.printf("%d\t%.3f%n", i, nanos[i] / 1e6);
                }
            }
        }
        long sum = 0;
        for (long n : nanos) {
            sum += n;
        }
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        System.out.printf("Avg latency: %.4f ms%n", sum / (double) records / 1e6);
        System.out.printf("Percentiles: 50th = %.3f, 99th = %.3f, 99.9th = %.3f%n", at(sorted, 0.5) / 1e6,
                at(sorted, 0.99) / 1e6, at(sorted, 0.999) / 1e6);
    }

    private static long at(long[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) (sorted.length * q))];
    }
}

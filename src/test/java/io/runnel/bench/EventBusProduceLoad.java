package io.runnel.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import org.HdrHistogram.Histogram;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;

import io.runnel.api.eventbus.EventBusFixture;
import io.runnel.client.EventBusClient;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Event bus produce load from one clustered client: two Vert.x nodes in this JVM, clustered by
 * Hazelcast on loopback (TCP-IP join on 127.0.0.1 only, multicast off, a random cluster name), as
 * {@code EventBusClientClusterTest} sets them up. The broker node runs the event bus API over a
 * broker on a temporary directory ({@code EventBusFixture}: durable acks, as {@code runnel
 * server} runs); the client node produces records of {@code --value-bytes} random bytes with
 * {@link EventBusClient#produce(String, byte[], byte[])}, keeping {@code --in-flight} requests
 * outstanding (each completion sends the next), for {@code --warmup} then {@code --duration}
 * seconds. Requests cross the cluster's event bus connection (TCP on loopback), not a method call.
 *
 * <p>Reports records/s (answers received inside the measured window) and the latency from
 * sending to the answer (HdrHistogram, 3 significant digits; p50, p99, p99.9, max), and errors.
 * Bounds: loopback only; in-flight requests at most {@code --in-flight}; it stops by itself after
 * warm-up, duration and at most 30 s for the last answers; the data directory is deleted.
 * Exit status 1 on any error.
 */
@Command(name = "eventbus-produce", mixinStandardHelpOptions = true)
public final class EventBusProduceLoad implements Callable<Integer> {

    @Option(names = "--in-flight", defaultValue = "256", description = "requests outstanding at once")
    int inFlight;
    @Option(names = "--value-bytes", defaultValue = "200")
    int valueBytes;
    @Option(names = "--partitions", defaultValue = "1")
    int partitions;
    @Option(names = "--warmup", defaultValue = "5", description = "seconds, unmeasured")
    int warmup;
    @Option(names = "--duration", defaultValue = "30", description = "seconds, measured")
    int duration;
    @Option(names = "--data-dir", description = "parent of the broker's temporary data directory (default: the system's temp dir)")
    Path dataParent;

    public static void main(String[] args) {
        System.exit(new CommandLine(new EventBusProduceLoad()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        if (inFlight < 1 || duration < 1 || warmup < 0 || valueBytes < 0 || partitions < 1) {
            throw new CommandLine.ParameterException(new CommandLine(this), "in-flight, duration and partitions must be positive");
        }
        String clusterName = "runnel-bench-" + UUID.randomUUID();
        Path dataDir = dataParent == null ? Files.createTempDirectory("runnel-eb-bench")
                : Files.createTempDirectory(dataParent, "runnel-eb-bench");
        Vertx brokerNode = clusteredNode(clusterName);
        Vertx appNode = clusteredNode(clusterName);
        EventBusFixture bus = null;
        try {
            bus = EventBusFixture.start(brokerNode, dataDir, EventBusFixture.settings(), false);
            String topic = "eb-produce-" + System.currentTimeMillis();
            bus.createTopic(topic, partitions);
            EventBusClient client = EventBusClient.create(appNode);
            JsonObject result = run(appNode, client, topic);
            System.out.println("RESULT " + result.encode());
            return result.getLong("errors") == 0 ? 0 : 1;
        } finally {
            if (bus != null) {
                bus.close();
            }
            appNode.close().await(30, TimeUnit.SECONDS);
            brokerNode.close().await(30, TimeUnit.SECONDS);
            try (var files = Files.walk(dataDir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Produces on one of the client node's event loops; returns the figures. */
    private JsonObject run(Vertx appNode, EventBusClient client, String topic) throws InterruptedException {
        Histogram latency = new Histogram(TimeUnit.MINUTES.toNanos(1), 3); // only touched on the producing loop
        LongAdder measured = new LongAdder();
        LongAdder errors = new LongAdder();
        AtomicLong firstError = new AtomicLong();
        String[] firstErrorText = new String[1];
        long startNanos = System.nanoTime();
        long measureFromNanos = startNanos + TimeUnit.SECONDS.toNanos(warmup);
        long endNanos = measureFromNanos + TimeUnit.SECONDS.toNanos(duration);
        CountDownLatch done = new CountDownLatch(inFlight);
        Random random = new Random(42);
        byte[][] values = new byte[64][valueBytes];
        for (byte[] v : values) {
            random.nextBytes(v);
        }
        Context context = appNode.getOrCreateContext();
        context.runOnContext(v -> {
            for (int i = 0; i < inFlight; i++) {
                sendNext(client, topic, values, i, latency, measured, errors, firstError, firstErrorText,
                        measureFromNanos, endNanos, done);
            }
        });
        long lastCount = 0;
        while (!done.await(1, TimeUnit.SECONDS)) {
            long now = measured.sum();
            System.out.printf("  measured %,d records (+%,d), errors %d%n", now, now - lastCount, errors.sum());
            lastCount = now;
            if (System.nanoTime() > endNanos + TimeUnit.SECONDS.toNanos(30)) {
                System.out.println("  gave up waiting for the last answers");
                break;
            }
        }
        JsonObject result = new JsonObject();
        // Read on the loop that wrote it.
        CountDownLatch read = new CountDownLatch(1);
        context.runOnContext(v -> {
            result.put("in_flight", inFlight).put("value_bytes", valueBytes).put("partitions", partitions)
                    .put("duration_s", duration).put("records", measured.sum())
                    .put("records_per_s", measured.sum() / (double) duration)
                    .put("latency_p50_ms", latency.getValueAtPercentile(50) / 1e6)
                    .put("latency_p99_ms", latency.getValueAtPercentile(99) / 1e6)
                    .put("latency_p999_ms", latency.getValueAtPercentile(99.9) / 1e6)
                    .put("latency_max_ms", latency.getMaxValue() / 1e6)
                    .put("errors", errors.sum()).put("first_error", firstErrorText[0]);
            read.countDown();
        });
        read.await(10, TimeUnit.SECONDS);
        return result;
    }

    private static void sendNext(EventBusClient client, String topic, byte[][] values, int n, Histogram latency,
                                 LongAdder measured, LongAdder errors, AtomicLong firstError, String[] firstErrorText,
                                 long measureFromNanos, long endNanos, CountDownLatch done) {
        long sentNanos = System.nanoTime();
        if (sentNanos >= endNanos) {
            done.countDown();
            return;
        }
        client.produce(topic, null, values[n & 63]).onComplete(answer -> {
            long now = System.nanoTime();
            if (answer.failed()) {
                errors.increment();
                if (firstError.compareAndSet(0, now)) {
                    firstErrorText[0] = answer.cause().toString();
                }
            } else if (sentNanos >= measureFromNanos && now < endNanos) {
                measured.increment();
                latency.recordValue(Math.min(now - sentNanos, latency.getHighestTrackableValue()));
            }
            sendNext(client, topic, values, n + 1, latency, measured, errors, firstError, firstErrorText,
                    measureFromNanos, endNanos, done);
        });
    }

    /** A clustered Vert.x on loopback: Hazelcast joins by TCP-IP on 127.0.0.1 only. */
    static Vertx clusteredNode(String clusterName) throws Exception {
        Config config = ConfigUtil.loadConfig();
        config.setClusterName(clusterName);
        config.setProperty("hazelcast.phone.home.enabled", "false");
        config.setProperty("hazelcast.logging.type", "slf4j");
        config.setProperty("hazelcast.wait.seconds.before.join", "0");
        NetworkConfig network = config.getNetworkConfig();
        network.getInterfaces().setEnabled(true).addInterface("127.0.0.1");
        JoinConfig join = network.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(true).addMember("127.0.0.1");
        return Vertx.builder()
                .with(new VertxOptions().setEventBusOptions(new EventBusOptions().setHost("127.0.0.1").setPort(0)))
                .withClusterManager(new HazelcastClusterManager(config))
                .buildClustered()
                .await(60, TimeUnit.SECONDS);
    }
}

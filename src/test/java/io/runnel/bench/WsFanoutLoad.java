package io.runnel.bench;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import org.HdrHistogram.ConcurrentHistogram;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * WebSocket fan-out load against a running broker on loopback: {@code --subscribers} sockets
 * subscribe to one topic from {@code latest}; a producer sends {@code --rate} records/s of
 * {@code --value-bytes} through the HTTP v2 API (batches every 10 ms) for {@code --duration}
 * seconds. Every subscriber must receive every record; delivery latency is the time from the
 * record's timestamp (stamped by the broker when the produce request arrives, so it includes the
 * fsync before the ack) to the frame's arrival. The broker's heap is sampled from {@code /metrics}
 * every 5 s, to show whether it stays flat.
 *
 * <p>Bounds: loopback only; the run stops by itself after warm-up, duration and a 10 s drain.
 * Exit status 1 if any subscriber missed a record.
 */
@Command(name = "ws-fanout", mixinStandardHelpOptions = true)
public final class WsFanoutLoad implements Callable<Integer> {

    @Option(names = "--port", required = true, description = "The broker's HTTP port on 127.0.0.1")
    int port;
    @Option(names = "--subscribers", defaultValue = "1000")
    int subscribers;
    @Option(names = "--rate", defaultValue = "10000", description = "records/s produced")
    int rate;
    @Option(names = "--value-bytes", defaultValue = "200")
    int valueBytes;
    @Option(names = "--duration", defaultValue = "60", description = "seconds of producing, measured")
    int duration;

    static final byte[] ASSIGNMENT = "{\"type\":\"assignment\"".getBytes(StandardCharsets.US_ASCII);
    static final byte[] RECORD = "{\"type\":\"record\"".getBytes(StandardCharsets.US_ASCII);
    static final byte[] TIMESTAMP = "\"timestamp\":".getBytes(StandardCharsets.US_ASCII);

    public static void main(String[] args) {
        System.exit(new CommandLine(new WsFanoutLoad()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Vertx vertx = Vertx.vertx();
        String topic = "ws-fanout-" + System.currentTimeMillis();
        HttpClient http = vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port),
                new PoolOptions().setHttp1MaxSize(16));
        ConcurrentHistogram latency = new ConcurrentHistogram(TimeUnit.MINUTES.toMillis(5), 3);
        LongAdder received = new LongAdder();
        AtomicLong measuring = new AtomicLong(Long.MAX_VALUE);
        try {
            // The topic first, so subscribers have something to subscribe to.
            post(http, topic, 1).await(30, TimeUnit.SECONDS);
            WebSocketClient ws = vertx.createWebSocketClient(new WebSocketClientOptions().setMaxFrameSize(1 << 20)
                    .setMaxConnections(subscribers + 10));
            List<Future<WebSocket>> sockets = new ArrayList<>();
            List<Promise<Void>> assigned = new ArrayList<>();
            for (int i = 0; i < subscribers; i++) {
                Promise<Void> ready = Promise.promise();
                assigned.add(ready);
                sockets.add(ws.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port)
                                .setURI("/ws/v1/topics/" + topic + "/subscribe?from=latest&format=binary"))
                        // The raw message bytes, not textMessageHandler: decoding each frame into a String
                        // would make the client, which shares the machine, the bottleneck at millions of frames/s.
                        .onSuccess(s -> s.handler(frame -> {
                            if (startsWith(frame, ASSIGNMENT)) {
                                ready.tryComplete();
                                return;
                            }
                            if (!startsWith(frame, RECORD)) {
                                return;
                            }
                            received.increment();
                            long produced = timestamp(frame);
                            if (produced >= measuring.get()) {
                                latency.recordValue(Math.max(0, System.currentTimeMillis() - produced));
                            }
                        })));
            }
            Future.all(sockets).await(120, TimeUnit.SECONDS);
            Future.all(assigned.stream().map(Promise::future).toList()).await(120, TimeUnit.SECONDS);
            System.out.printf("%d subscribers connected and assigned%n", subscribers);

            // Produce: every 10 ms, rate/100 records (warm-up 5 s, then measured).
            LongAdder produced = new LongAdder();
            int perTick = Math.max(1, rate / 100);
            long warmupEnd = System.currentTimeMillis() + 5_000;
            long end = warmupEnd + duration * 1000L;
            List<Long> heap = new ArrayList<>();
            long timer = vertx.setPeriodic(10, t -> {
                long now = System.currentTimeMillis();
                if (now >= end) {
                    return;
                }
                if (now >= warmupEnd) {
                    measuring.compareAndSet(Long.MAX_VALUE, warmupEnd);
                }
                post(http, topic, perTick).onSuccess(n -> produced.add(n));
            });
            long heapTimer = vertx.setPeriodic(5_000, t -> heapUsed(http).onSuccess(heap::add));
            while (System.currentTimeMillis() < end) {
                Thread.sleep(1_000);
                System.out.printf("  produced %,d, received %,d%n", produced.sum(), received.sum());
            }
            vertx.cancelTimer(timer);
            long expected = produced.sum() * subscribers;
            long drainEnd = System.currentTimeMillis() + 10_000;
            while (received.sum() < expected && System.currentTimeMillis() < drainEnd) {
                Thread.sleep(200);
            }
            vertx.cancelTimer(heapTimer);
            long got = received.sum();
            JsonObject result = new JsonObject()
                    .put("subscribers", subscribers).put("rate_target", rate).put("value_bytes", valueBytes)
                    .put("records_produced", produced.sum()).put("frames_expected", expected).put("frames_received", got)
                    .put("complete", got >= expected)
                    .put("produced_per_s", produced.sum() / (double) (duration + 5))
                    .put("frames_per_s", got / (double) (duration + 5))
                    .put("latency_p50_ms", latency.getValueAtPercentile(50))
                    .put("latency_p99_ms", latency.getValueAtPercentile(99))
                    .put("latency_max_ms", latency.getMaxValue())
                    .put("heap_mb_samples", new JsonArray(heap.stream().map(b -> b / (1024 * 1024)).toList()));
            System.out.println("RESULT " + result.encode());
            return got >= expected ? 0 : 1;
        } finally {
            vertx.close().await(30, TimeUnit.SECONDS);
        }
    }

    private final Random random = new Random(42);

    /** Produces {@code n} records; completes with n once acknowledged. */
    private Future<Integer> post(HttpClient http, String topic, int n) {
        JsonArray records = new JsonArray();
        byte[] value = new byte[valueBytes];
        for (int i = 0; i < n; i++) {
            random.nextBytes(value);
            records.add(new JsonObject().put("value", Base64.getEncoder().encodeToString(value)));
        }
        Buffer body = Buffer.buffer(new JsonObject().put("records", records).encode());
        return http.request(HttpMethod.POST, "/topics/" + topic)
                .compose(req -> req.putHeader("Content-Type", "application/vnd.kafka.binary.v2+json").send(body))
                .compose(r -> r.body().compose(b -> r.statusCode() == 200 ? Future.succeededFuture(n)
                        : Future.failedFuture("produce answered " + r.statusCode() + ": " + b)));
    }

    static boolean startsWith(Buffer frame, byte[] prefix) {
        if (frame.length() < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (frame.getByte(i) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    /** The number after {@code "timestamp":} (the first such field: the record's own), or -1. */
    static long timestamp(Buffer frame) {
        int n = frame.length();
        outer:
        for (int i = 0; i + TIMESTAMP.length < n; i++) {
            for (int j = 0; j < TIMESTAMP.length; j++) {
                if (frame.getByte(i + j) != TIMESTAMP[j]) {
                    continue outer;
                }
            }
            long value = 0;
            int k = i + TIMESTAMP.length;
            for (; k < n && frame.getByte(k) >= '0' && frame.getByte(k) <= '9'; k++) {
                value = value * 10 + (frame.getByte(k) - '0');
            }
            return k > i + TIMESTAMP.length ? value : -1;
        }
        return -1;
    }

    /** The broker's heap in use, from /metrics (sum of jvm_memory_used_bytes with area="heap"). */
    private static Future<Long> heapUsed(HttpClient http) {
        return http.request(HttpMethod.GET, "/metrics").compose(req -> req.send()).compose(r -> r.body()).map(b -> {
            long sum = 0;
            for (String line : b.toString().split("\n")) {
                if (line.startsWith("jvm_memory_used_bytes{") && line.contains("area=\"heap\"")) {
                    sum += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                }
            }
            return sum;
        });
    }
}

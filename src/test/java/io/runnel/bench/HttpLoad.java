package io.runnel.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

import org.HdrHistogram.Histogram;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * End-to-end HTTP load against a running broker on loopback (the REST Proxy v2 dialect): what a
 * client sees, through the HTTP server, the broker service, the log and its group-commit fsync.
 * {@code bench/run-http-bench.sh} starts a broker and runs this; see bench/README.md.
 *
 * <p>Modes:
 * <ul>
 *   <li>{@code produce-batch}: POST /topics/{t} with {@code application/vnd.kafka.binary.v2+json}
 *       bodies of {@code --records} (100) records of {@code --value-bytes} (100) random bytes. The
 *       body is built once and sent again and again.</li>
 *   <li>{@code produce-single}: the same with one record per request.</li>
 *   <li>{@code consume}: produces {@code --prefill} records as produce-batch does, reads the
 *       topic's end offsets, then reads everything back through Confluent v2 consumer instances
 *       (create, subscribe, GET …/records until every partition is read to its end offset,
 *       DELETE).</li>
 * </ul>
 *
 * <p>Load shape (produce): {@code --connections} keep-alive HTTP/1.1 connections, each with at
 * most {@code --in-flight} requests outstanding (1 = one request at a time, no pipelining; more
 * turns HTTP pipelining on with that depth). Each connection sends its next request as soon as an
 * answer arrives (closed loop), so the request rate is what the broker sustains at that
 * concurrency. Requests run for {@code --warmup} seconds unmeasured, then {@code --duration}
 * seconds measured: a request counts in the figures when its answer arrives inside the measured
 * window, and its latency is from just before it is sent to the last byte of its answer.
 *
 * <p>Correctness: a produce answer counts as good only when it is a 200 whose {@code offsets}
 * hold one entry per record sent, each with a numeric offset and a null {@code error_code}.
 * Anything else (another status, a record error, a connection failure, a timeout) is an error;
 * any error during the run, warm-up included, makes the exit status 1.
 *
 * <p>Bounds: traffic goes only to a loopback address; every request has an idle timeout; a run
 * stops by itself after warm-up + duration (produce), or after {@code --consume-timeout} seconds
 * of consuming (consume); connections, in-flight depth and threads have upper limits.
 *
 * <p>Output: a summary on stdout, and one line {@code RESULT {json}} with the figures (also
 * written to {@code --out} when given), which the script collects.
 *
 * <p>Threading: {@code --threads} client event loops, each running one verticle with its own
 * {@link HttpClient} and its share of the connections; every verticle keeps its own counters and
 * latency histogram on its own thread, and they are merged once it has stopped.
 */
@Command(name = "HttpLoad", mixinStandardHelpOptions = true, sortOptions = false,
        description = "HTTP load against a Runnel broker on loopback: produce-batch, produce-single or consume.")
public final class HttpLoad implements Callable<Integer> {

    static final String BINARY_V2 = "application/vnd.kafka.binary.v2+json";
    static final String V2 = "application/vnd.kafka.v2+json";
    /** Latencies above this are recorded as this (a request times out long before). */
    static final long LATENCY_MAX_US = TimeUnit.MINUTES.toMicros(5);
    static final int CONNECTIONS_MAX = 1024;
    static final int IN_FLIGHT_MAX = 64;
    static final int THREADS_MAX = 16;
    static final int RECORDS_PER_REQUEST_MAX = 10_000;
    static final int DURATION_S_MAX = 3600;
    /** After an error a lane pauses this long, so a refused connection does not become a busy loop. */
    static final long ERROR_PAUSE_MS = 10;
    /** The first few error descriptions are printed; the rest are only counted. */
    static final int ERRORS_SHOWN_MAX = 10;

    @Parameters(index = "0", paramLabel = "MODE", description = "produce-batch, produce-single or consume")
    String mode;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Broker host; must be a loopback address (default ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--port", required = true, description = "Broker HTTP port")
    int port;

    @Option(names = "--topic", description = "Topic (default: bench-<mode>-<time>, a fresh topic each run)")
    String topic;

    @Option(names = "--connections", defaultValue = "64", description = "Keep-alive connections (default ${DEFAULT-VALUE})")
    int connections;

    @Option(names = "--in-flight", defaultValue = "1",
            description = "Requests outstanding per connection; above 1 turns HTTP pipelining on (default ${DEFAULT-VALUE})")
    int inFlight;

    @Option(names = "--threads", defaultValue = "1", description = "Client event loops (default ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--duration", defaultValue = "60", description = "Measured seconds (default ${DEFAULT-VALUE})")
    int durationS;

    @Option(names = "--warmup", defaultValue = "10", description = "Unmeasured seconds first (default ${DEFAULT-VALUE})")
    int warmupS;

    @Option(names = "--records", description = "Records per produce request (default 100 for produce-batch and consume's prefill, 1 for produce-single)")
    Integer recordsPerRequest;

    @Option(names = "--value-bytes", defaultValue = "100", description = "Bytes per record value (default ${DEFAULT-VALUE})")
    int valueBytes;

    @Option(names = "--request-timeout", defaultValue = "30", description = "Seconds a request may stay idle (default ${DEFAULT-VALUE})")
    int requestTimeoutS;

    @Option(names = "--prefill", defaultValue = "3000000", description = "consume: records produced first (default ${DEFAULT-VALUE})")
    long prefillRecords;

    @Option(names = "--consumers", defaultValue = "1", description = "consume: consumer instances in the group (default ${DEFAULT-VALUE})")
    int consumers;

    @Option(names = "--max-bytes", defaultValue = "4194304", description = "consume: max_bytes of each GET …/records (default ${DEFAULT-VALUE})")
    int maxBytes;

    @Option(names = "--consume-timeout", defaultValue = "300", description = "consume: seconds allowed to read everything back (default ${DEFAULT-VALUE})")
    int consumeTimeoutS;

    @Option(names = "--out", description = "Also write the RESULT json to this file")
    Path out;

    public static void main(String[] args) {
        System.exit(new CommandLine(new HttpLoad()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        checkArguments();
        Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(threads));
        try {
            JsonObject result = switch (mode) {
                case "produce-batch", "produce-single" -> produceMode(vertx);
                case "consume" -> consumeMode(vertx);
                default -> throw new IllegalStateException(mode);
            };
            result.put("mode", mode).put("topic", topic).put("connections", connections).put("in_flight", inFlight)
                    .put("threads", threads).put("client_cpu_s", processCpuSeconds())
                    .put("load_average_1m", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
            System.out.println("RESULT " + result.encode());
            if (out != null) {
                Files.writeString(out, result.encodePrettily() + "\n");
            }
            return result.getLong("errors", 0L) == 0 && result.getBoolean("complete", true) ? 0 : 1;
        } finally {
            vertx.close().await(30, TimeUnit.SECONDS);
        }
    }

    private void checkArguments() throws UnknownHostException {
        if (!List.of("produce-batch", "produce-single", "consume").contains(mode)) {
            throw new CommandLine.ParameterException(new CommandLine(this), "Unknown mode '" + mode
                    + "': use produce-batch, produce-single or consume");
        }
        // Load tests only ever go to this machine's loopback interface.
        if (!InetAddress.getByName(host).isLoopbackAddress()) {
            throw new IllegalArgumentException("--host must be a loopback address, not " + host);
        }
        check(connections, 1, CONNECTIONS_MAX, "--connections");
        check(inFlight, 1, IN_FLIGHT_MAX, "--in-flight");
        check(threads, 1, THREADS_MAX, "--threads");
        check(durationS, 1, DURATION_S_MAX, "--duration");
        check(warmupS, 0, DURATION_S_MAX, "--warmup");
        check(valueBytes, 0, 1 << 20, "--value-bytes");
        check(consumers, 1, CONNECTIONS_MAX, "--consumers");
        check(consumeTimeoutS, 1, DURATION_S_MAX, "--consume-timeout");
        check(maxBytes, 1, Integer.MAX_VALUE, "--max-bytes");
        if (prefillRecords < 1 || prefillRecords > 1_000_000_000L) {
            throw new IllegalArgumentException("--prefill must be 1..1e9, not " + prefillRecords);
        }
        if (recordsPerRequest == null) {
            recordsPerRequest = mode.equals("produce-single") ? 1 : 100;
        }
        check(recordsPerRequest, 1, RECORDS_PER_REQUEST_MAX, "--records");
        if (topic == null) {
            topic = "bench-" + mode + "-" + System.currentTimeMillis();
        }
    }

    private static void check(long value, long min, long max, String option) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(option + " must be " + min + ".." + max + ", not " + value);
        }
    }

    // ---------------------------------------------------------------- produce

    /** What every produce verticle sends, and when it stops. */
    record ProduceSpec(String host, int port, String path, Buffer body, int recordsPerRequest, int connections,
                       int inFlight, long requestTimeoutMs, long measureStartNanos, long measureEndNanos,
                       long requestLimit) {
    }

    /** One verticle's figures; merged after the verticles stop. */
    static final class ProduceStats {
        final Histogram latencyUs = new Histogram(LATENCY_MAX_US, 3);
        long requests;
        long records;
        long bodyBytes;
        long errors;
        final List<String> errorSamples = new ArrayList<>();

        void add(ProduceStats o) {
            latencyUs.add(o.latencyUs);
            requests += o.requests;
            records += o.records;
            bodyBytes += o.bodyBytes;
            errors += o.errors;
            for (String e : o.errorSamples) {
                if (errorSamples.size() < ERRORS_SHOWN_MAX) {
                    errorSamples.add(e);
                }
            }
        }
    }

    private JsonObject produceMode(Vertx vertx) throws Exception {
        long now = System.nanoTime();
        long measureStart = now + TimeUnit.SECONDS.toNanos(warmupS);
        long measureEnd = measureStart + TimeUnit.SECONDS.toNanos(durationS);
        ProduceStats stats = produce(vertx, measureStart, measureEnd, Long.MAX_VALUE);
        double seconds = durationS;
        JsonObject r = new JsonObject()
                .put("records_per_request", recordsPerRequest)
                .put("value_bytes", valueBytes)
                .put("duration_s", durationS)
                .put("warmup_s", warmupS)
                .put("requests", stats.requests)
                .put("records", stats.records)
                .put("requests_per_s", Math.round(stats.requests / seconds))
                .put("records_per_s", Math.round(stats.records / seconds))
                .put("value_mb_per_s", round1(stats.records * (double) valueBytes / seconds / 1e6))
                .put("body_mb_per_s", round1(stats.bodyBytes / seconds / 1e6))
                .put("errors", stats.errors);
        putLatency(r, stats.latencyUs);
        System.out.printf(Locale.ROOT, "%s: %,d requests/s, %,d records/s, %.1f MB/s of values (%.1f MB/s of request bodies),"
                        + " latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms; %d errors%n",
                mode, r.getLong("requests_per_s"), r.getLong("records_per_s"), r.getDouble("value_mb_per_s"),
                r.getDouble("body_mb_per_s"), r.getDouble("p50_ms"), r.getDouble("p99_ms"), r.getDouble("p999_ms"),
                r.getDouble("max_ms"), stats.errors);
        stats.errorSamples.forEach(e -> System.out.println("  error: " + e));
        return r;
    }

    /**
     * Runs produce verticles until {@code measureEnd} or until {@code requestLimit} requests have
     * been sent, whichever is first, and returns their merged figures.
     */
    private ProduceStats produce(Vertx vertx, long measureStart, long measureEnd, long requestLimit) throws Exception {
        Buffer body = produceBody(recordsPerRequest, valueBytes);
        List<ProduceVerticle> verticles = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            int share = connections / threads + (i < connections % threads ? 1 : 0);
            long limit = requestLimit == Long.MAX_VALUE ? Long.MAX_VALUE
                    : requestLimit / threads + (i < requestLimit % threads ? 1 : 0);
            if (share > 0) {
                verticles.add(new ProduceVerticle(new ProduceSpec(host, port, "/topics/" + topic, body,
                        recordsPerRequest, share, inFlight, TimeUnit.SECONDS.toMillis(requestTimeoutS), measureStart,
                        measureEnd, limit)));
            }
        }
        Progress progress = Progress.start(vertx, mode.equals("consume") ? "prefill" : mode);
        List<Future<?>> runs = new ArrayList<>();
        for (ProduceVerticle v : verticles) {
            runs.add(vertx.deployVerticle(v).compose(id -> v.done.future()));
        }
        long boundMs = TimeUnit.NANOSECONDS.toMillis(measureEnd - System.nanoTime()) + 2L * requestTimeoutS * 1000 + 10_000;
        Future.all(runs).await(boundMs, TimeUnit.MILLISECONDS);
        progress.stop();
        ProduceStats all = new ProduceStats();
        verticles.forEach(v -> all.add(v.stats));
        return all;
    }

    /** A binary v2 produce body: {"records":[{"value":"<base64>"}, …]}, values random but fixed per run. */
    static Buffer produceBody(int records, int valueBytes) {
        java.util.Random random = new java.util.Random(42);
        StringBuilder json = new StringBuilder("{\"records\":[");
        for (int i = 0; i < records; i++) {
            byte[] value = new byte[valueBytes];
            random.nextBytes(value);
            json.append(i == 0 ? "" : ",").append("{\"value\":\"").append(Base64.getEncoder().encodeToString(value))
                    .append("\"}");
        }
        return Buffer.buffer(json.append("]}").toString());
    }

    /**
     * One client event loop's share of the produce load: {@code connections x inFlight} lanes, each
     * a closed loop of one request at a time. Everything here runs on the verticle's thread.
     */
    static final class ProduceVerticle extends VerticleBase {
        final ProduceSpec spec;
        final ProduceStats stats = new ProduceStats();
        final Promise<Void> done = Promise.promise();
        private HttpClient client;
        private RequestOptions request;
        private int lanesRunning;
        private long sent;

        ProduceVerticle(ProduceSpec spec) {
            this.spec = spec;
        }

        @Override
        public Future<?> start() {
            HttpClientOptions options = new HttpClientOptions()
                    .setDefaultHost(spec.host()).setDefaultPort(spec.port())
                    .setKeepAlive(true)
                    .setPipelining(spec.inFlight() > 1)
                    .setPipeliningLimit(spec.inFlight())
                    .setDecompressionSupported(false)
                    .setTcpNoDelay(true);
            client = vertx.createHttpClient(options, new PoolOptions().setHttp1MaxSize(spec.connections()));
            request = new RequestOptions().setMethod(HttpMethod.POST).setURI(spec.path())
                    .putHeader(HttpHeaders.CONTENT_TYPE, BINARY_V2)
                    .putHeader(HttpHeaders.ACCEPT, V2)
                    .setIdleTimeout(spec.requestTimeoutMs());
            lanesRunning = spec.connections() * spec.inFlight();
            for (int i = 0; i < spec.connections() * spec.inFlight(); i++) {
                send();
            }
            return Future.succeededFuture();
        }

        @Override
        public Future<?> stop() {
            return client.close();
        }

        private void send() {
            long start = System.nanoTime();
            if (start >= spec.measureEndNanos() || sent >= spec.requestLimit()) {
                if (--lanesRunning == 0) {
                    done.complete();
                }
                return;
            }
            sent++;
            client.request(request)
                    .compose(req -> req.send(spec.body()))
                    .compose(resp -> resp.body().map(b -> checkProduceAnswer(resp.statusCode(), b, spec.recordsPerRequest())))
                    .onComplete(answer -> {
                        long end = System.nanoTime();
                        String error = answer.succeeded() ? answer.result() : "request failed: " + answer.cause();
                        if (error != null) {
                            stats.errors++;
                            if (stats.errorSamples.size() < ERRORS_SHOWN_MAX) {
                                stats.errorSamples.add(error);
                            }
                            vertx.setTimer(ERROR_PAUSE_MS, t -> send());
                            return;
                        }
                        Progress.REQUESTS.increment();
                        if (end >= spec.measureStartNanos() && end < spec.measureEndNanos()) {
                            stats.requests++;
                            stats.records += spec.recordsPerRequest();
                            stats.bodyBytes += spec.body().length();
                            stats.latencyUs.recordValue(Math.min(LATENCY_MAX_US, (end - start) / 1000));
                        }
                        send();
                    });
        }
    }

    private static final JsonFactory JSON = new JsonFactory();

    /**
     * Null when {@code body} is a 200 produce answer with {@code records} good offsets (a numeric
     * offset and a null error_code each), else what is wrong with it.
     */
    static String checkProduceAnswer(int status, Buffer body, int records) {
        if (status != 200) {
            return "status " + status + ": " + abbreviate(body.toString());
        }
        int offsets = 0;
        int errorCodes = 0;
        try (JsonParser p = JSON.createParser(body.getBytes())) {
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                if (t != JsonToken.FIELD_NAME) {
                    continue;
                }
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (field.equals("offset") && value == JsonToken.VALUE_NUMBER_INT) {
                    offsets++;
                } else if (field.equals("error_code")) {
                    if (value != JsonToken.VALUE_NULL) {
                        return "record error: " + abbreviate(body.toString());
                    }
                    errorCodes++;
                }
            }
        } catch (IOException e) {
            return "unreadable answer (" + e.getMessage() + "): " + abbreviate(body.toString());
        }
        if (offsets != records || errorCodes != records) {
            return "expected " + records + " offsets, got " + offsets + ": " + abbreviate(body.toString());
        }
        return null;
    }

    // ---------------------------------------------------------------- consume

    private JsonObject consumeMode(Vertx vertx) throws Exception {
        System.out.printf(Locale.ROOT, "consume: producing %,d records of %d bytes to %s first%n", prefillRecords,
                valueBytes, topic);
        long fillStart = System.nanoTime();
        long requests = (prefillRecords + recordsPerRequest - 1) / recordsPerRequest;
        ProduceStats fill = produce(vertx, fillStart, fillStart + TimeUnit.SECONDS.toNanos(DURATION_S_MAX), requests);
        double fillSeconds = (System.nanoTime() - fillStart) / 1e9;
        if (fill.errors > 0) {
            fill.errorSamples.forEach(e -> System.out.println("  prefill error: " + e));
            return new JsonObject().put("errors", fill.errors).put("complete", false);
        }
        System.out.printf(Locale.ROOT, "consume: prefill took %.1f s (%,.0f records/s)%n", fillSeconds,
                fill.records / fillSeconds);

        HttpClient admin = vertx.createHttpClient(new HttpClientOptions().setDefaultHost(host).setDefaultPort(port));
        Map<Integer, Long> endOffsets = new ConcurrentHashMap<>();
        long expected = 0;
        Context adminContext = vertx.getOrCreateContext();
        JsonObject t = onContext(adminContext, () -> call(admin, HttpMethod.GET, "/topics/" + topic, null, 200))
                .await(30, TimeUnit.SECONDS);
        for (Object p : t.getJsonArray("partitions")) {
            int partition = ((JsonObject) p).getInteger("partition");
            JsonObject o = onContext(adminContext, () -> call(admin, HttpMethod.GET,
                    "/topics/" + topic + "/partitions/" + partition + "/offsets", null, 200)).await(30, TimeUnit.SECONDS);
            endOffsets.put(partition, o.getLong("end_offset"));
            expected += o.getLong("end_offset") - o.getLong("beginning_offset");
        }
        System.out.printf(Locale.ROOT, "consume: %,d records in %d partition(s) to read back%n", expected, endOffsets.size());

        ConsumeProgress progress = new ConsumeProgress(endOffsets);
        String group = "bench-group-" + System.currentTimeMillis();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(consumeTimeoutS);
        List<ConsumeVerticle> verticles = new ArrayList<>();
        List<Future<?>> runs = new ArrayList<>();
        Progress ticker = Progress.start(vertx, "consume");
        long start = System.nanoTime();
        for (int i = 0; i < consumers; i++) {
            ConsumeVerticle v = new ConsumeVerticle(host, port, topic, group, "c" + i, maxBytes,
                    TimeUnit.SECONDS.toMillis(requestTimeoutS), deadline, progress);
            verticles.add(v);
            runs.add(vertx.deployVerticle(v).compose(id -> v.done.future()));
        }
        Future.join(runs).await(consumeTimeoutS + 2L * requestTimeoutS + 10, TimeUnit.SECONDS);
        double seconds = (System.nanoTime() - start) / 1e9;
        ticker.stop();
        admin.close();

        Histogram latency = new Histogram(LATENCY_MAX_US, 3);
        long errors = 0;
        long gets = 0;
        for (ConsumeVerticle v : verticles) {
            latency.add(v.latencyUs);
            errors += v.errors;
            gets += v.gets;
            if (v.error != null) {
                System.out.println("  error: " + v.error);
            }
        }
        long read = progress.records.get();
        boolean anyRead = progress.firstRecordNanos.get() != 0;
        double steadySeconds = anyRead ? (progress.lastRecordNanos.get() - progress.firstRecordNanos.get()) / 1e9 : 0;
        JsonObject r = new JsonObject()
                .put("prefill_records", fill.records)
                .put("prefill_s", round1(fillSeconds))
                .put("expected_records", expected)
                .put("records", read)
                .put("duplicates", Math.max(0, read - expected))
                .put("complete", progress.complete())
                .put("consumers", consumers)
                .put("max_bytes", maxBytes)
                .put("gets", gets)
                .put("consume_s", round1(seconds))
                .put("records_per_s", Math.round(read / seconds))
                .put("value_mb_per_s", round1(progress.valueBytes.get() / seconds / 1e6))
                .put("first_record_after_ms", anyRead ? Math.round((progress.firstRecordNanos.get() - start) / 1e6) : -1)
                .put("records_per_s_from_first_record", steadySeconds > 0 ? Math.round(read / steadySeconds) : 0)
                .put("errors", errors);
        putLatency(r, latency);
        System.out.printf(Locale.ROOT, "consume: %,d of %,d records in %.2f s: %,d records/s (%,d records/s from the first"
                        + " record, %d ms after creating the instances), %.1f MB/s of values, %d GETs, GET latency p50 %.2f ms,"
                        + " p99 %.2f ms; complete: %s; %d errors%n",
                read, expected, seconds, r.getLong("records_per_s"), r.getLong("records_per_s_from_first_record"),
                r.getLong("first_record_after_ms"), r.getDouble("value_mb_per_s"), gets, r.getDouble("p50_ms"),
                r.getDouble("p99_ms"), progress.complete(), errors);
        return r;
    }

    /** What the consumers have read, across them all: per partition the highest offset seen. Thread-safe. */
    static final class ConsumeProgress {
        final Map<Integer, Long> endOffsets;
        final Map<Integer, Long> nextOffsets = new ConcurrentHashMap<>();
        final AtomicLong records = new AtomicLong();
        final AtomicLong valueBytes = new AtomicLong();
        final AtomicLong firstRecordNanos = new AtomicLong();
        final AtomicLong lastRecordNanos = new AtomicLong();

        ConsumeProgress(Map<Integer, Long> endOffsets) {
            this.endOffsets = Map.copyOf(endOffsets);
        }

        void read(int partition, long offset) {
            nextOffsets.merge(partition, offset + 1, Math::max);
        }

        boolean complete() {
            for (Map.Entry<Integer, Long> e : endOffsets.entrySet()) {
                if (nextOffsets.getOrDefault(e.getKey(), 0L) < e.getValue()) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * One v2 consumer instance: created, subscribed, polled until every partition is read to the
     * end offset the prefill left (by this instance or another of the group), then deleted.
     */
    static final class ConsumeVerticle extends VerticleBase {
        final String host;
        final int port;
        final String topic;
        final String group;
        final String name;
        final int maxBytes;
        final long requestTimeoutMs;
        final long deadlineNanos;
        final ConsumeProgress progress;
        final Promise<Void> done = Promise.promise();
        final Histogram latencyUs = new Histogram(LATENCY_MAX_US, 3);
        long gets;
        long errors;
        String error;
        private HttpClient client;
        private String basePath;

        ConsumeVerticle(String host, int port, String topic, String group, String name, int maxBytes,
                        long requestTimeoutMs, long deadlineNanos, ConsumeProgress progress) {
            this.host = host;
            this.port = port;
            this.topic = topic;
            this.group = group;
            this.name = name;
            this.maxBytes = maxBytes;
            this.requestTimeoutMs = requestTimeoutMs;
            this.deadlineNanos = deadlineNanos;
            this.progress = progress;
        }

        @Override
        public Future<?> start() {
            client = vertx.createHttpClient(new HttpClientOptions().setDefaultHost(host).setDefaultPort(port)
                    .setKeepAlive(true).setDecompressionSupported(false).setTcpNoDelay(true));
            JsonObject create = new JsonObject().put("name", name).put("format", "binary")
                    .put("auto.offset.reset", "earliest").put("auto.commit.enable", "false");
            call(client, HttpMethod.POST, "/consumers/" + group, create, 200)
                    .compose(instance -> {
                        // base_uri is absolute in Confluent's proxy; only its path is used, on our loopback host.
                        basePath = URI.create(instance.getString("base_uri")).getPath();
                        return call(client, HttpMethod.POST, basePath + "/subscription",
                                new JsonObject().put("topics", new JsonArray().add(topic)), 204);
                    })
                    .onSuccess(v -> poll())
                    .onFailure(this::fail);
            return Future.succeededFuture();
        }

        @Override
        public Future<?> stop() {
            return client.close();
        }

        private void poll() {
            if (progress.complete() || System.nanoTime() >= deadlineNanos) {
                finish();
                return;
            }
            long start = System.nanoTime();
            gets++;
            RequestOptions get = new RequestOptions().setMethod(HttpMethod.GET)
                    .setURI(basePath + "/records?timeout=1000&max_bytes=" + maxBytes)
                    .putHeader(HttpHeaders.ACCEPT, BINARY_V2)
                    .setIdleTimeout(requestTimeoutMs);
            client.request(get)
                    .compose(req -> req.send())
                    .compose(resp -> resp.body().map(b -> {
                        if (resp.statusCode() != 200) {
                            throw new IllegalStateException("GET records: status " + resp.statusCode() + ": "
                                    + abbreviate(b.toString()));
                        }
                        return b;
                    }))
                    .onSuccess(body -> {
                        latencyUs.recordValue(Math.min(LATENCY_MAX_US, (System.nanoTime() - start) / 1000));
                        String problem = readRecords(body);
                        if (problem != null) {
                            fail(new IllegalStateException(problem));
                            return;
                        }
                        poll();
                    })
                    .onFailure(this::fail);
        }

        /** Counts the records of one answer; null, or what is wrong with it. */
        private String readRecords(Buffer body) {
            int count = 0;
            long valueChars = 0;
            try (JsonParser p = JSON.createParser(body.getBytes())) {
                if (p.nextToken() != JsonToken.START_ARRAY) {
                    return "GET records: not a JSON array: " + abbreviate(body.toString());
                }
                while (p.nextToken() == JsonToken.START_OBJECT) {
                    int partition = -1;
                    long offset = -1;
                    String recordTopic = null;
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String field = p.currentName();
                        JsonToken value = p.nextToken();
                        switch (field) {
                            case "partition" -> partition = p.getIntValue();
                            case "offset" -> offset = p.getLongValue();
                            case "topic" -> recordTopic = p.getText();
                            case "value" -> valueChars += value == JsonToken.VALUE_STRING ? p.getTextLength() : 0;
                            default -> p.skipChildren();
                        }
                    }
                    if (partition < 0 || offset < 0 || !topic.equals(recordTopic)) {
                        return "GET records: a record without topic, partition or offset: " + abbreviate(body.toString());
                    }
                    progress.read(partition, offset);
                    count++;
                }
            } catch (IOException | RuntimeException e) {
                return "GET records: unreadable answer (" + e + "): " + abbreviate(body.toString());
            }
            if (count > 0) {
                long now = System.nanoTime();
                progress.firstRecordNanos.compareAndSet(0, now);
                progress.lastRecordNanos.accumulateAndGet(now, Math::max);
                progress.records.addAndGet(count);
                progress.valueBytes.addAndGet(valueChars * 3 / 4);
                Progress.REQUESTS.add(count);
            }
            return null;
        }

        private void fail(Throwable e) {
            errors++;
            error = name + ": " + e.getMessage();
            finish();
        }

        /** Deletes the instance (when it was made), then reports. */
        private void finish() {
            Future<?> deleted = basePath == null ? Future.succeededFuture()
                    : call(client, HttpMethod.DELETE, basePath, null, 204);
            deleted.onComplete(r -> {
                if (r.failed()) {
                    errors++;
                    error = (error == null ? "" : error + "; ") + name + ": delete failed: " + r.cause().getMessage();
                }
                done.complete();
            });
        }
    }

    /**
     * One JSON call that must answer {@code expectedStatus}; its body as an object (empty for a 204).
     */
    static Future<JsonObject> call(HttpClient client, HttpMethod method, String path, JsonObject body, int expectedStatus) {
        RequestOptions options = new RequestOptions().setMethod(method).setURI(path)
                .putHeader(HttpHeaders.ACCEPT, V2).setIdleTimeout(30_000);
        if (method != HttpMethod.GET) {
            // Confluent's proxy asks for the v2 Content-Type on every call that changes something, DELETE included.
            options.putHeader(HttpHeaders.CONTENT_TYPE, V2);
        }
        return client.request(options)
                .compose(req -> body == null ? req.send() : req.send(body.toBuffer()))
                .compose(resp -> resp.body().map(b -> {
                    if (resp.statusCode() != expectedStatus) {
                        throw new IllegalStateException(method + " " + path + ": status " + resp.statusCode()
                                + " (expected " + expectedStatus + "): " + abbreviate(b.toString()));
                    }
                    return b.length() == 0 ? new JsonObject() : new JsonObject(b);
                }));
    }

    /**
     * Runs {@code call} on {@code context} and hands its outcome to any thread. A call's steps
     * (request, response, body) must be chained on the event loop of its connection: chained from
     * another thread, a step can be attached after the response's body has already been delivered,
     * and then it never completes.
     */
    static <T> Future<T> onContext(Context context, Supplier<Future<T>> call) {
        Promise<T> result = Promise.promise();
        context.runOnContext(v -> call.get().onComplete(result));
        return result.future();
    }

    // ---------------------------------------------------------------- reporting

    /** Prints, every 5 s, how many requests (produce) or records (consume) completed in the last 5 s. */
    static final class Progress {
        static final LongAdder REQUESTS = new LongAdder();
        private final Vertx vertx;
        private final long timer;

        private Progress(Vertx vertx, long timer) {
            this.vertx = vertx;
            this.timer = timer;
        }

        static Progress start(Vertx vertx, String label) {
            REQUESTS.reset();
            long started = System.nanoTime();
            long[] last = {0};
            long timer = vertx.setPeriodic(5000, t -> {
                long now = REQUESTS.sum();
                System.err.printf(Locale.ROOT, "  %s %3d s: %,d %s/s%n", label, (System.nanoTime() - started) / 1_000_000_000L,
                        (now - last[0]) / 5, label.equals("consume") ? "records" : "requests");
                last[0] = now;
            });
            return new Progress(vertx, timer);
        }

        void stop() {
            vertx.cancelTimer(timer);
        }
    }

    private static void putLatency(JsonObject r, Histogram h) {
        r.put("p50_ms", ms(h.getValueAtPercentile(50)))
                .put("p99_ms", ms(h.getValueAtPercentile(99)))
                .put("p999_ms", ms(h.getValueAtPercentile(99.9)))
                .put("max_ms", ms(h.getMaxValue()));
    }

    private static double ms(long micros) {
        return Math.round(micros / 10.0) / 100.0;
    }

    private static double round1(double x) {
        return Math.round(x * 10) / 10.0;
    }

    private static double processCpuSeconds() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return round1(os.getProcessCpuTime() / 1e9);
        }
        return -1;
    }

    private static String abbreviate(String s) {
        String one = s.replaceAll("\\s+", " ");
        return one.length() <= 300 ? one : one.substring(0, 300) + "…";
    }
}

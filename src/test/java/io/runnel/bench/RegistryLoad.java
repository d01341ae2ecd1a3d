package io.runnel.bench;

import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import org.HdrHistogram.ConcurrentHistogram;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Schema registry lookups against a running broker on loopback: registers one Avro schema, then
 * {@code --connections} keep-alive connections each send {@code GET /schemas/ids/{id}} in a closed
 * loop for {@code --duration} seconds (after a 5 s warm-up). Reports requests/s and latency;
 * exit status 1 on any non-200 answer. Stops by itself.
 */
@Command(name = "registry-load", mixinStandardHelpOptions = true)
public final class RegistryLoad implements Callable<Integer> {

    @Option(names = "--port", required = true, description = "The registry's port on 127.0.0.1")
    int port;
    @Option(names = "--connections", defaultValue = "64")
    int connections;
    @Option(names = "--duration", defaultValue = "20")
    int duration;

    public static void main(String[] args) {
        System.exit(new CommandLine(new RegistryLoad()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Vertx vertx = Vertx.vertx();
        HttpClient http = vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port)
                .setKeepAlive(true), new PoolOptions().setHttp1MaxSize(connections));
        try {
            String schema = "{\"type\":\"record\",\"name\":\"Bench\",\"fields\":[{\"name\":\"n\",\"type\":\"long\"}]}";
            Buffer body = Buffer.buffer(new JsonObject().put("schema", schema).encode());
            int id = http.request(HttpMethod.POST, "/subjects/bench-value/versions")
                    .compose(r -> r.putHeader("Content-Type", "application/vnd.schemaregistry.v1+json").send(body))
                    .compose(r -> r.body())
                    .map(b -> new JsonObject(b).getInteger("id"))
                    .await(30, TimeUnit.SECONDS);
            String path = "/schemas/ids/" + id;
            ConcurrentHistogram latency = new ConcurrentHistogram(TimeUnit.SECONDS.toMicros(60), 3);
            LongAdder ok = new LongAdder();
            LongAdder errors = new LongAdder();
            long measureFrom = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            long end = measureFrom + TimeUnit.SECONDS.toNanos(duration);
            for (int c = 0; c < connections; c++) {
                loop(http, path, end, measureFrom, latency, ok, errors);
            }
            Thread.sleep(TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime()) + 1_000);
            JsonObject result = new JsonObject()
                    .put("connections", connections).put("duration_s", duration)
                    .put("requests_per_s", ok.sum() / (double) duration).put("errors", errors.sum())
                    .put("p50_ms", latency.getValueAtPercentile(50) / 1000.0)
                    .put("p99_ms", latency.getValueAtPercentile(99) / 1000.0);
            System.out.println("RESULT " + result.encode());
            return errors.sum() == 0 ? 0 : 1;
        } finally {
            vertx.close().await(30, TimeUnit.SECONDS);
        }
    }

    private static void loop(HttpClient http, String path, long end, long measureFrom, ConcurrentHistogram latency,
                             LongAdder ok, LongAdder errors) {
        long start = System.nanoTime();
        if (start >= end) {
            return;
        }
        http.request(HttpMethod.GET, path).compose(r -> r.send()).compose(r -> r.body().map(b -> r.statusCode()))
                .recover(e -> Future.succeededFuture(-1))
                .onComplete(done -> {
                    long now = System.nanoTime();
                    if (now >= measureFrom && now < end) {
                        if (done.result() == 200) {
                            ok.increment();
                            latency.recordValue(Math.max(1, (now - start) / 1000));
                        } else {
                            errors.increment();
                        }
                    }
                    loop(http, path, end, measureFrom, latency, ok, errors);
                });
    }
}

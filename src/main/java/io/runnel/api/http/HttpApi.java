package io.runnel.api.http;

import java.util.List;
import java.util.function.BooleanSupplier;

import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.protocol.Errors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.broker.TopicConfigs;
import io.runnel.broker.TopicManager;
import io.runnel.registry.SchemaRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

import static io.runnel.api.http.Replies.internalError;
import static io.runnel.api.http.Replies.onRequestContext;
import static io.runnel.api.http.Replies.partition;
import static io.runnel.api.http.Replies.partitionNumber;
import static io.runnel.api.http.Replies.requestFailure;
import static io.runnel.api.http.Replies.send;
import static io.runnel.api.http.Replies.topic;

/**
 * The HTTP API (port 8082), first slice: Confluent REST Proxy v2 produce and topic metadata, plus
 * liveness and readiness. A client written for Confluent's proxy works against these routes
 * unchanged; every call goes through the {@link BrokerService}, so its rules apply here as they
 * do to every other way in.
 *
 * <h2>Routes</h2>
 * <ul>
 *   <li>{@code POST /topics/{topic}} and {@code POST /topics/{topic}/partitions/{partition}}:
 *       produce. Content-Type {@code application/vnd.kafka.json.v2+json} or
 *       {@code application/vnd.kafka.binary.v2+json}, or {@code application/vnd.kafka.avro.v2+json}
 *       with {@code key_schema}/{@code value_schema} (text, registered under {@code {topic}-key} /
 *       {@code {topic}-value}) or {@code key_schema_id}/{@code value_schema_id} ({@link AvroFormat});
 *       body and refusals in {@link ProduceRequest}. A topic's schema validation refusing the
 *       records is 422 (42206) and nothing is written.
 *       Acknowledged with acks=all: the answer comes once the records are durable. 200
 *       {@code {"key_schema_id":id|null,"value_schema_id":id|null,"offsets":[…]}}, one entry per record in
 *       request order: {@code {"partition":p,"offset":o,"error_code":null,"error":null}}, or for a
 *       record whose partition refused its batch (a partition's records share one batch, so they
 *       share its fate) {@code {"partition":p,"offset":null,"error_code":50002|50003,"error":"KAFKA_NAME: why"}}.
 *       A missing topic is created when auto-creation is on, else 40401.</li>
 *   <li>{@code GET /topics}: the topic names, sorted.</li>
 *   <li>{@code GET /topics/{topic}}: {@code {"name","configs":{effective topic configs, as strings},"partitions":[…]}}.</li>
 *   <li>{@code GET /topics/{topic}/partitions} and {@code GET /topics/{topic}/partitions/{partition}}:
 *       {@code {"partition":p,"leader":b,"replicas":[{"broker":b,"leader":true,"in_sync":true}]}} (one, or all).</li>
 *   <li>{@code GET /topics/{topic}/partitions/{partition}/offsets}:
 *       {@code {"beginning_offset":logStartOffset,"end_offset":highWatermark}}; with
 *       {@code ?timestamp=ms} also {@code "timestamp_offset"} (the first offset at or after that time, or null).</li>
 *   <li>v2 consumer instances, {@code /consumers/…}: see {@link ConsumerApi}.</li>
 *   <li>v3 routes ({@code /v3/clusters/…}): see {@link V3Api}; v3 consumer groups and lag: see {@link V3ConsumerGroups}.</li>
 *   <li>{@code GET /health}: 200 {@code {"status":"UP"}} while the process serves HTTP (liveness).</li>
 *   <li>{@code GET /ready}: 200 {@code {"status":"UP"}} when the broker is ready, else 503
 *       {@code {"status":"DOWN"}} (readiness).</li>
 *   <li>{@code GET /metrics}: the broker's metrics in Prometheus text format 0.0.4 (only when the
 *       router is given a registry; the names are listed in {@code broker.BrokerMetrics}).</li>
 * </ul>
 *
 * <h2>Errors</h2>
 * Every error is {@code {"error_code":N,"message":"…"}} with a code of {@link ErrorCodes} and its
 * status: bad input is always a 4xx with a message saying what to fix, never a stack trace; 500s
 * are kept for storage failures (50003) and bugs (500, logged here, the message says only that).
 * Unknown paths answer 404, a known path with the wrong method 405, a body over the limit 413.
 *
 * <h2>Threading</h2>
 * Handlers run on the event loop of the HTTP connection and never block: parsing is bounded by
 * the body limit, and the broker's work runs on its partitions' contexts. Broker futures may
 * complete there; each answer hops back to the request's context before it is written, so a
 * {@link RoutingContext} is only ever touched on its own thread.
 */
public final class HttpApi {

    /** Content-Type of v2 answers, as Confluent's proxy sends them. */
    static final String V2_JSON = "application/vnd.kafka.v2+json";
    /** Content-Type of answers outside the v2 API (health, readiness, unknown paths). */
    static final String JSON = "application/json";
    /** Content-Type of {@code GET /metrics}: Prometheus text exposition format 0.0.4. */
    static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
    static final String STATUS_UP = "UP";
    static final String STATUS_DOWN = "DOWN";

    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);

    /** Statuses the router itself may end a request with; each gets an error body like ours. */
    private static final List<Integer> ROUTER_STATUSES = List.of(400, 404, 405, 406, 413, 414, 415, 431, 500, 501);


    /**
     * What the API is configured with.
     *
     * @param maxBodyBytes            the largest request body read (413 beyond it); bounds the memory
     *                                and parsing time one request may take
     * @param consumerIdleTimeoutMs   a v2 consumer instance with no request for this long is deleted
     *                                (Confluent's {@code consumer.instance.timeout.ms})
     * @param ready                   what {@code GET /ready} reports
     * @param metrics                 what {@code GET /metrics} scrapes; null for no such route
     */
    public record Settings(long maxBodyBytes, long consumerIdleTimeoutMs, BooleanSupplier ready,
                           PrometheusMeterRegistry metrics) {
        public Settings {
            if (maxBodyBytes < 1) {
                throw new IllegalArgumentException("maxBodyBytes must be positive, not " + maxBodyBytes);
            }
            if (consumerIdleTimeoutMs < 1) {
                throw new IllegalArgumentException("consumerIdleTimeoutMs must be positive, not " + consumerIdleTimeoutMs);
            }
        }
    }

    /** Confluent's consumer.instance.timeout.ms default. */
    public static final long DEFAULT_CONSUMER_IDLE_TIMEOUT_MS = 300_000;

    private final BrokerService broker;
    private final Settings settings;
    private final ConsumerApi consumers;
    private final Router router;

    private HttpApi(Vertx vertx, BrokerService broker, Settings settings) {
        this.broker = broker;
        this.settings = settings;
        this.consumers = new ConsumerApi(vertx, broker, settings.consumerIdleTimeoutMs());
        this.router = routes(vertx);
    }

    /** The API over {@code broker}; {@link #close} it to end its consumer instances. */
    public static HttpApi create(Vertx vertx, BrokerService broker, Settings settings) {
        return new HttpApi(vertx, broker, settings);
    }

    /** The API's routes, ready from the start (the broker service exists, so its topics are open). */
    public static Router router(Vertx vertx, BrokerService broker, long maxBodyBytes) {
        return router(vertx, broker, maxBodyBytes, () -> true);
    }

    /** The API's routes; {@code GET /ready} answers 200 while {@code ready} says so. */
    public static Router router(Vertx vertx, BrokerService broker, long maxBodyBytes, BooleanSupplier ready) {
        return router(vertx, broker, maxBodyBytes, ready, null);
    }

    /** The API's routes, and {@code GET /metrics} scraping {@code metrics} when it is not null. */
    public static Router router(Vertx vertx, BrokerService broker, long maxBodyBytes, BooleanSupplier ready,
                                PrometheusMeterRegistry metrics) {
        return create(vertx, broker, new Settings(maxBodyBytes, DEFAULT_CONSUMER_IDLE_TIMEOUT_MS, ready, metrics))
                .router();
    }

    public Router router() {
        return router;
    }

    /** Deletes every consumer instance (each leaves its group) and stops their expiry timer. */
    public Future<Void> close() {
        return consumers.close();
    }

    private Router routes(Vertx vertx) {
        // No file uploads: a produce body is JSON, and uploads would write to disk from the event loop.
        BodyHandler body = BodyHandler.create(false).setBodyLimit(settings.maxBodyBytes());
        Router router = Router.router(vertx);
        router.route().failureHandler(ctx -> answerFailure(ctx, ctx.statusCode()));
        router.get("/health").handler(this::health);
        router.get("/ready").handler(this::ready);
        if (settings.metrics() != null) {
            router.get("/metrics").handler(this::metrics);
        }
        router.get("/topics").handler(this::listTopics);
        router.get("/topics/:topic").handler(this::getTopic);
        router.post("/topics/:topic").handler(body).handler(ctx -> produce(ctx, false));
        router.get("/topics/:topic/partitions").handler(this::listPartitions);
        router.get("/topics/:topic/partitions/:partition").handler(this::getPartition);
        router.post("/topics/:topic/partitions/:partition").handler(body).handler(ctx -> produce(ctx, true));
        router.get("/topics/:topic/partitions/:partition/offsets").handler(this::getOffsets);
        consumers.mount(router, body);
        new V3ConsumerGroups(broker).mount(router);
        V3Api.mount(router, broker, body, settings.maxBodyBytes());
        for (int status : ROUTER_STATUSES) {
            router.errorHandler(status, ctx -> answerFailure(ctx, status));
        }
        return router;
    }

    // ---------------------------------------------------------------- health

    private void health(RoutingContext ctx) {
        send(ctx, 200, JSON, new JsonObject().put("status", STATUS_UP));
    }

    private void ready(RoutingContext ctx) {
        boolean up = settings.ready().getAsBoolean();
        send(ctx, up ? 200 : 503, JSON, new JsonObject().put("status", up ? STATUS_UP : STATUS_DOWN));
    }

    /**
     * Scrapes on a worker: a scrape walks every meter and computes percentiles, and the JVM
     * meters ask the JVM for thread and memory figures, too much for an event loop at scale.
     */
    private void metrics(RoutingContext ctx) {
        // Lag gauges need the groups' committed offsets, which live on the coordinator's context.
        Future<Void> lag = broker.refreshGroupLag().recover(e -> {
            LOG.warn("Refreshing group lag for /metrics failed", e);
            return Future.succeededFuture();
        });
        lag.compose(v -> ctx.vertx().executeBlocking(settings.metrics()::scrape, false)).onComplete(done -> {
            if (done.failed()) {
                ctx.fail(done.cause());
                return;
            }
            ctx.response().setStatusCode(200).putHeader(HttpHeaders.CONTENT_TYPE, PROMETHEUS_TEXT).end(done.result());
        });
    }

    // ---------------------------------------------------------------- topics

    private void listTopics(RoutingContext ctx) {
        send(ctx, 200, V2_JSON, new JsonArray(List.copyOf(broker.topics().topicNames())));
    }

    private void getTopic(RoutingContext ctx) {
        TopicManager.Topic t = topic(broker, ctx);
        JsonObject configs = new JsonObject();
        TopicConfigs.effective(t.config(), t.configOverrides()).forEach(configs::put);
        send(ctx, 200, V2_JSON, new JsonObject()
                .put("name", t.name())
                .put("configs", configs)
                .put("partitions", partitionsJson(t)));
    }

    private void listPartitions(RoutingContext ctx) {
        send(ctx, 200, V2_JSON, partitionsJson(topic(broker, ctx)));
    }

    private void getPartition(RoutingContext ctx) {
        TopicManager.Topic t = topic(broker, ctx);
        send(ctx, 200, V2_JSON, partitionJson(partition(t, ctx)));
    }

    /**
     * Confluent's offsets answer; with {@code ?timestamp=ms} (our addition, Kafka's ListOffsets by
     * time) also {@code "timestamp_offset"}: the first offset whose timestamp is at or after it,
     * null when no record is that recent.
     */
    private void getOffsets(RoutingContext ctx) {
        TopicManager.Topic t = topic(broker, ctx);
        int p = partition(t, ctx);
        String rawTimestamp = ctx.request().getParam("timestamp");
        long timestamp = -1;
        if (rawTimestamp != null) {
            try {
                timestamp = Long.parseLong(rawTimestamp.trim());
            } catch (NumberFormatException e) {
                timestamp = -1;
            }
            if (timestamp < 0) {
                throw new HttpApiException(ErrorCodes.BAD_REQUEST, "Query parameter timestamp must be milliseconds"
                        + " since the epoch (a whole number of at least 0), not '" + rawTimestamp + "'");
            }
        }
        Future<Long> beginning = broker.listOffset(t.name(), p, Partition.EARLIEST_TIMESTAMP);
        Future<Long> end = broker.listOffset(t.name(), p, Partition.LATEST_TIMESTAMP);
        Future<Long> byTime = rawTimestamp == null ? Future.succeededFuture(-1L)
                : broker.listOffset(t.name(), p, timestamp);
        onRequestContext(Future.all(beginning, end, byTime)).onComplete(done -> {
            if (done.failed()) {
                ctx.fail(requestFailure(ctx, done.cause(), broker, t.name()));
                return;
            }
            JsonObject answer = new JsonObject()
                    .put("beginning_offset", beginning.result())
                    .put("end_offset", end.result());
            if (rawTimestamp != null) {
                answer.put("timestamp_offset", byTime.result() < 0 ? null : byTime.result());
            }
            send(ctx, 200, V2_JSON, answer);
        });
    }

    private JsonArray partitionsJson(TopicManager.Topic t) {
        JsonArray partitions = new JsonArray();
        for (int p = 0; p < t.partitions().size(); p++) {
            partitions.add(partitionJson(p));
        }
        return partitions;
    }

    /** A single node is a cluster of one: this broker leads every partition and is its only replica. */
    private JsonObject partitionJson(int partition) {
        int brokerId = broker.identity().brokerId();
        JsonObject replica = new JsonObject().put("broker", brokerId).put("leader", true).put("in_sync", true);
        return new JsonObject()
                .put("partition", partition)
                .put("leader", brokerId)
                .put("replicas", new JsonArray().add(replica));
    }

    // ---------------------------------------------------------------- produce

    private void produce(RoutingContext ctx, boolean partitionInPath) {
        String topic = ctx.pathParam("topic");
        // Checked in the order a client fixes them: the format, the address, then the body.
        ProduceRequest.EmbeddedFormat format =
                ProduceRequest.EmbeddedFormat.ofContentType(ctx.request().getHeader(HttpHeaders.CONTENT_TYPE));
        Integer pathPartition = partitionInPath ? partitionNumber(ctx.pathParam("partition")) : null;
        if (format == ProduceRequest.EmbeddedFormat.AVRO) {
            produceAvro(ctx, topic, ProduceRequest.parseAvro(ctx.body().buffer(), pathPartition));
            return;
        }
        List<BrokerService.ProduceRecord> records = ProduceRequest.parse(ctx.body().buffer(), format, pathPartition);
        produce(ctx, topic, records, null, null);
    }

    /**
     * Resolves the request's schemas with the registry (registering text under the topic's
     * subjects), encodes the records to Avro, then produces them; the answer names the schema ids.
     */
    private void produceAvro(RoutingContext ctx, String topic, ProduceRequest.AvroRequest request) {
        SchemaRegistry registry = broker.schemaRegistry().orElseThrow(() -> new HttpApiException(
                ErrorCodes.KAFKA_RETRIABLE_ERROR, "The schema registry is not running on this broker; Avro needs it"));
        Future<AvroFormat.ResolvedSchema> key = AvroFormat.resolve(registry, topic + "-key", request.keySchema());
        Future<AvroFormat.ResolvedSchema> value = AvroFormat.resolve(registry, topic + "-value", request.valueSchema());
        onRequestContext(Future.all(key, value)).onComplete(resolved -> {
            if (resolved.failed()) {
                ctx.fail(requestFailure(ctx, resolved.cause(), broker, topic));
                return;
            }
            List<BrokerService.ProduceRecord> records;
            try {
                records = AvroFormat.encode(request.records(), key.result(), value.result());
            } catch (HttpApiException e) {
                ctx.fail(e);
                return;
            }
            produce(ctx, topic, records, key.result() == null ? null : key.result().id(),
                    value.result() == null ? null : value.result().id());
        });
    }

    private void produce(RoutingContext ctx, String topic, List<BrokerService.ProduceRecord> records,
                         Integer keySchemaId, Integer valueSchemaId) {
        onRequestContext(broker.produce(topic, records, Partition.Acks.ALL)).onComplete(done -> {
            if (done.failed()) {
                ctx.fail(requestFailure(ctx, done.cause(), broker, topic));
                return;
            }
            send(ctx, 200, V2_JSON, produceAnswer(ctx, done.result(), keySchemaId, valueSchemaId));
        });
    }

    /**
     * {@code {"key_schema_id":K,"value_schema_id":V,"offsets":[…]}} (ids null for schemaless formats), written straight into
     * text: every produce request gets one, with an entry per record, and building it as
     * JsonObjects for Jackson's generic encoder took about a sixth of the broker's CPU under
     * 100-record batches. The fields and their order are those the JsonObjects had.
     */
    private static Buffer produceAnswer(RoutingContext ctx, List<BrokerService.ProduceResult> results,
                                        Integer keySchemaId, Integer valueSchemaId) {
        StringBuilder json = new StringBuilder(64 + 64 * results.size())
                .append("{\"key_schema_id\":").append(keySchemaId)
                .append(",\"value_schema_id\":").append(valueSchemaId).append(",\"offsets\":[");
        for (int i = 0; i < results.size(); i++) {
            BrokerService.ProduceResult r = results.get(i);
            json.append(i == 0 ? "{\"partition\":" : ",{\"partition\":").append(r.partition());
            if (r.error() == null) {
                json.append(",\"offset\":").append(r.offset()).append(",\"error_code\":null,\"error\":null}");
            } else {
                json.append(",\"offset\":null,\"error_code\":").append(ErrorCodes.forRecordFailure(r.error()))
                        .append(",\"error\":").append(Json.encode(recordError(ctx, r.error()))).append('}');
            }
        }
        return Buffer.buffer(json.append("]}").toString());
    }

    /** Kafka's error name first, so a client can tell MESSAGE_TOO_LARGE from INVALID_RECORD within 50002. */
    private static String recordError(RoutingContext ctx, Throwable error) {
        Errors kafka = Errors.forException(error);
        if (!(error instanceof KafkaException)) {
            LOG.error("Unexpected failure appending a record of {} {}", ctx.request().method(), ctx.normalizedPath(), error);
            return kafka.name() + ": internal error; the broker log has the details";
        }
        return kafka.name() + ": " + (error.getMessage() != null ? error.getMessage() : kafka.message());
    }

    // ---------------------------------------------------------------- errors

    /** Every failed request ends here: thrown or failed in a handler, or ended by the router. */
    private void answerFailure(RoutingContext ctx, int status) {
        Throwable failure = ctx.failure();
        HttpApiException error;
        if (failure instanceof HttpApiException e) {
            error = e;
        } else if (status >= 400 && status < 500) {
            error = new HttpApiException(status, statusMessage(ctx, status));
        } else {
            error = internalError(ctx, failure);
        }
        if (ctx.response().ended() || ctx.response().closed()) {
            return;
        }
        if (ctx.response().headWritten()) {
            // Too late for an error body; closing tells the client the answer is incomplete.
            ctx.response().reset();
            return;
        }
        String type = ctx.normalizedPath().startsWith("/topics") ? V2_JSON : JSON;
        send(ctx, error.httpStatus(), type, new JsonObject()
                .put("error_code", error.errorCode())
                .put("message", error.getMessage()));
    }

    private String statusMessage(RoutingContext ctx, int status) {
        String request = ctx.request().method() + " " + ctx.normalizedPath();
        return switch (status) {
            case 404 -> "Not found: no resource at " + request;
            case 405 -> "Method not allowed: " + request;
            case 413 -> "The request body is larger than the limit of " + settings.maxBodyBytes() + " bytes";
            default -> HttpResponseStatus.valueOf(status).reasonPhrase() + ": " + request;
        };
    }


}

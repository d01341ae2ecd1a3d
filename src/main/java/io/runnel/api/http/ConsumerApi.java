package io.runnel.api.http;

import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

import org.apache.kafka.common.TopicPartition;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.group.GroupMember;
import io.runnel.registry.SchemaRegistry;
import io.runnel.registry.WireFormat;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

import static io.runnel.api.http.Replies.onRequestContext;
import static io.runnel.api.http.Replies.requestFailure;
import static io.runnel.api.http.Replies.send;

/**
 * Confluent REST Proxy v2 consumer instances: {@code /consumers/{group}/instances/{name}/…}.
 *
 * <h2>Routes</h2>
 * <ul>
 *   <li>{@code POST /consumers/{group}} {@code {"name"?,"format":"binary"|"json"|"avro","auto.offset.reset":
 *       "earliest"|"latest"|"none","auto.commit.enable":"true"|"false"}} → 200
 *       {@code {"instance_id","base_uri"}}; a name in use is 409 (40902).</li>
 *   <li>{@code DELETE /consumers/{g}/instances/{i}} → 204: commits (with auto-commit) and leaves the group.</li>
 *   <li>{@code POST|GET|DELETE …/subscription} {@code {"topics":[…]}} or {@code {"topic_pattern":"regex"}}.</li>
 *   <li>{@code POST|GET …/assignments} {@code {"partitions":[{"topic","partition"}]}}: manual assignment.</li>
 *   <li>{@code GET …/records?timeout=ms&max_bytes=n} with {@code Accept} of the instance's format →
 *       {@code [{"topic","key","value","partition","offset"}]}; another format is 406 (40601). With
 *       the avro format, keys and values in the schema wire format come back as JSON in Avro's
 *       JSON encoding, decoded with the schema their id names in the registry; one that is not
 *       Avro of a registered schema fails the read with 50002, as a JSON consumer's non-JSON does.</li>
 *   <li>{@code POST …/offsets} {@code {"offsets":[{"topic","partition","offset"}]}} (no body: every
 *       position) commits; {@code GET …/offsets} {@code {"partitions":[…]}} → {@code {"offsets":[{"topic",
 *       "partition","offset","metadata"}]}} ({@code offset} -1 where nothing is committed).</li>
 *   <li>{@code POST …/positions} {@code {"offsets":[…]}}, {@code POST …/positions/beginning|end}
 *       {@code {"partitions":[…]}}: seeks.</li>
 * </ul>
 * An unknown instance is 404 (40403), including one that expired after {@code idleTimeoutMs}
 * without a request.
 *
 * <p>Invariants: the registry maps (group, name) to at most one live instance; an instance leaves
 * the registry before it is closed, so no request reaches a closing instance except to be told it
 * is gone. Each instance's state stays on its own context (see {@link ConsumerInstance}).
 */
final class ConsumerApi {

    static final String BINARY_V2 = "application/vnd.kafka.binary.v2+json";
    static final String JSON_V2 = "application/vnd.kafka.json.v2+json";
    static final String AVRO_V2 = "application/vnd.kafka.avro.v2+json";
    /** Kafka's session.timeout.ms default; the instance heartbeats while it exists. */
    static final int SESSION_TIMEOUT_MS = 45_000;
    /** How long the group waits for members to rejoin; they rejoin by themselves on their next heartbeat. */
    static final int REBALANCE_TIMEOUT_MS = 60_000;
    /** Confluent's consumer.request.timeout.ms default: how long a records read waits for data. */
    static final long DEFAULT_READ_TIMEOUT_MS = 1_000;
    /**
     * The most key and value bytes one records answer carries (a larger {@code max_bytes} is cut
     * to it). Confluent's default is 64 MiB; an answer is built in memory (JSON, base64 for
     * binary), so 16 MiB keeps a few concurrent reads within a small broker heap while still
     * carrying well over a hundred thousand typical records.
     */
    static final long DEFAULT_MAX_BYTES = 16L * 1024 * 1024;

    private static final Set<String> CREATE_FIELDS = Set.of("name", "id", "format", "auto.offset.reset",
            "auto.commit.enable", "fetch.min.bytes", "consumer.request.timeout.ms");

    private final Vertx vertx;
    private final BrokerService broker;
    private final long idleTimeoutMs;
    private final Map<String, ConsumerInstance> instances = new ConcurrentHashMap<>();
    private final long expiryTimer;

    ConsumerApi(Vertx vertx, BrokerService broker, long idleTimeoutMs) {
        this.vertx = vertx;
        this.broker = broker;
        this.idleTimeoutMs = idleTimeoutMs;
        this.expiryTimer = vertx.setPeriodic(Math.max(100, Math.min(idleTimeoutMs / 4, 5_000)), t -> expireIdle());
    }

    void mount(Router router, BodyHandler body) {
        String instance = "/consumers/:group/instances/:instance";
        router.post("/consumers/:group").handler(body).handler(this::create);
        router.delete(instance).handler(ctx -> act(ctx, i -> remove(i)));
        router.post(instance + "/subscription").handler(body).handler(this::subscribe);
        router.get(instance + "/subscription").handler(ctx -> answer(ctx,
                i -> Future.succeededFuture(new JsonObject().put("topics", new JsonArray(i.subscription())))));
        router.delete(instance + "/subscription").handler(ctx -> act(ctx, ConsumerInstance::unsubscribe));
        router.post(instance + "/assignments").handler(body).handler(ctx -> {
            Set<TopicPartition> partitions = new LinkedHashSet<>(partitionsOf(bodyObject(ctx), "partitions"));
            act(ctx, i -> i.assign(partitions));
        });
        router.get(instance + "/assignments").handler(ctx -> answer(ctx,
                i -> Future.succeededFuture(new JsonObject().put("partitions", partitionsJson(i.assignment())))));
        router.get(instance + "/records").handler(this::records);
        router.post(instance + "/offsets").handler(body).handler(this::commit);
        router.get(instance + "/offsets").handler(body).handler(this::committed);
        router.post(instance + "/positions").handler(body).handler(ctx -> {
            Map<TopicPartition, Long> offsets = offsetsOf(bodyObject(ctx));
            act(ctx, i -> i.seek(offsets));
        });
        router.post(instance + "/positions/beginning").handler(body).handler(ctx -> {
            List<TopicPartition> partitions = partitionsOf(bodyObject(ctx), "partitions");
            act(ctx, i -> i.seekTo(partitions, Partition.EARLIEST_TIMESTAMP));
        });
        router.post(instance + "/positions/end").handler(body).handler(ctx -> {
            List<TopicPartition> partitions = partitionsOf(bodyObject(ctx), "partitions");
            act(ctx, i -> i.seekTo(partitions, Partition.LATEST_TIMESTAMP));
        });
    }

    /** Stops expiry and closes every instance (each leaves its group). */
    Future<Void> close() {
        vertx.cancelTimer(expiryTimer);
        List<Future<Void>> closing = new ArrayList<>();
        for (String key : List.copyOf(instances.keySet())) {
            ConsumerInstance i = instances.remove(key);
            if (i != null) {
                closing.add(closeOnHome(i));
            }
        }
        return Future.join(closing).mapEmpty();
    }

    // ---------------------------------------------------------------- create and remove

    private void create(RoutingContext ctx) {
        String group = ctx.pathParam("group");
        JsonObject body = bodyObject(ctx);
        for (String field : body.fieldNames()) {
            if (!CREATE_FIELDS.contains(field)) {
                throw unprocessable("Unrecognized field: " + field);
            }
        }
        String name = stringField(body, "name", null);
        if (name == null) {
            name = stringField(body, "id", null);
        }
        if (name == null) {
            name = "rest-consumer-" + UUID.randomUUID();
        }
        if (name.isBlank() || name.contains("/")) {
            throw unprocessable("name must be a non-blank consumer instance name without '/', not '" + name + "'");
        }
        ConsumerInstance.Format format = enumField(body, "format", ConsumerInstance.Format.BINARY,
                ConsumerInstance.Format.class, "binary, json or avro");
        if (format == ConsumerInstance.Format.AVRO && broker.schemaRegistry().isEmpty()) {
            throw unprocessable("format avro needs the schema registry, which this broker does not run");
        }
        ConsumerInstance.OffsetReset reset = enumField(body, "auto.offset.reset", ConsumerInstance.OffsetReset.LATEST,
                ConsumerInstance.OffsetReset.class, "earliest, latest or none");
        String autoCommitText = stringField(body, "auto.commit.enable", "true");
        if (!autoCommitText.equalsIgnoreCase("true") && !autoCommitText.equalsIgnoreCase("false")) {
            throw unprocessable("auto.commit.enable must be \"true\" or \"false\", not '" + autoCommitText + "'");
        }
        boolean autoCommit = Boolean.parseBoolean(autoCommitText.toLowerCase(Locale.ROOT));
        String instanceName = name;
        Supplier<GroupMember> members = () -> new GroupMember(vertx, broker.groups(), group, instanceName, "range",
                topic -> partitionCount(topic), SESSION_TIMEOUT_MS, REBALANCE_TIMEOUT_MS);
        ConsumerInstance instance = new ConsumerInstance(group, name, format, reset, autoCommit,
                vertx.getOrCreateContext(), broker, members);
        if (instances.putIfAbsent(key(group, name), instance) != null) {
            throw new HttpApiException(ErrorCodes.CONSUMER_ALREADY_EXISTS, "Consumer instance '" + name
                    + "' already exists in group '" + group + "'");
        }
        String baseUri = baseUri(ctx) + "/consumers/" + group + "/instances/" + name;
        send(ctx, 200, HttpApi.V2_JSON, new JsonObject().put("instance_id", name).put("base_uri", baseUri));
    }

    private int partitionCount(String topic) {
        try {
            return broker.topics().topic(topic).partitions().size();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    private Future<Void> remove(ConsumerInstance i) {
        instances.remove(key(i.group, i.name), i);
        return i.close();
    }

    private void expireIdle() {
        long now = System.currentTimeMillis();
        instances.forEach((key, i) -> {
            if (i.idleMs(now) > idleTimeoutMs && instances.remove(key, i)) {
                closeOnHome(i);
            }
        });
    }

    private static Future<Void> closeOnHome(ConsumerInstance i) {
        io.vertx.core.Promise<Void> closed = io.vertx.core.Promise.promise();
        i.home.runOnContext(v -> i.close().onComplete(closed));
        return closed.future();
    }

    // ---------------------------------------------------------------- subscription, records, offsets

    private void subscribe(RoutingContext ctx) {
        JsonObject body = bodyObject(ctx);
        Object topics = body.getValue("topics");
        Object pattern = body.getValue("topic_pattern");
        if ((topics == null) == (pattern == null)) {
            throw new HttpApiException(ErrorCodes.CONSUMER_STATE_CONFLICT,
                    "Subscription to topics, partitions and pattern are mutually exclusive: give either topics or topic_pattern");
        }
        Set<String> names = null;
        Pattern regex = null;
        if (topics != null) {
            if (!(topics instanceof JsonArray list) || list.isEmpty()) {
                throw unprocessable("topics must be a non-empty array of topic names");
            }
            names = new LinkedHashSet<>();
            for (Object t : list) {
                if (!(t instanceof String s) || s.isBlank()) {
                    throw unprocessable("topics must be a non-empty array of topic names; found " + t);
                }
                names.add(s);
            }
        } else {
            if (!(pattern instanceof String p)) {
                throw unprocessable("topic_pattern must be a string (a Java regular expression)");
            }
            try {
                regex = Pattern.compile(p);
            } catch (PatternSyntaxException e) {
                throw unprocessable("topic_pattern is not a regular expression: " + e.getDescription());
            }
        }
        Set<String> subscribed = names;
        Pattern subscribedPattern = regex;
        act(ctx, i -> i.subscribe(subscribed, subscribedPattern));
    }

    private void records(RoutingContext ctx) {
        long timeout = longParam(ctx, "timeout", DEFAULT_READ_TIMEOUT_MS);
        long maxBytes = longParam(ctx, "max_bytes", DEFAULT_MAX_BYTES);
        String accept = ctx.request().getHeader(HttpHeaders.ACCEPT);
        ConsumerInstance instance = instance(ctx);
        String type = switch (instance.format) {
            case BINARY -> BINARY_V2;
            case JSON -> JSON_V2;
            case AVRO -> AVRO_V2;
        };
        if (accept != null && !accepts(accept, type)) {
            throw new HttpApiException(ErrorCodes.CONSUMER_FORMAT_MISMATCH, "The requested embedded data format ("
                    + accept + ") does not match this consumer instance's format; read it with Accept: " + type);
        }
        onRequestContext(instance.run(() -> instance.poll(Math.min(timeout, 30_000),
                Math.max(1, Math.min(maxBytes, DEFAULT_MAX_BYTES)))))
                .onComplete(done -> {
                    if (done.failed()) {
                        ctx.fail(requestFailure(ctx, done.cause(), broker, null));
                        return;
                    }
                    try {
                        send(ctx, 200, type, RecordsJson.encode(done.result(), instance.format,
                                broker.schemaRegistry().orElse(null)));
                    } catch (HttpApiException e) {
                        ctx.fail(e);
                    }
                });
    }

    private static boolean accepts(String accept, String type) {
        for (String part : accept.split(",")) {
            String media = part.split(";")[0].trim().toLowerCase(Locale.ROOT);
            if (media.equals(type) || media.equals("*/*") || media.equals("application/*")
                    || media.equals("application/vnd.kafka.v2+json") || media.equals("application/json")) {
                return true;
            }
        }
        return false;
    }

    private void commit(RoutingContext ctx) {
        Buffer raw = ctx.body().buffer();
        Map<TopicPartition, Long> offsets = raw == null || raw.length() == 0 ? null : offsetsOf(bodyObject(ctx));
        act(ctx, i -> i.commit(offsets == null || offsets.isEmpty() ? null : offsets), 200);
    }

    private void committed(RoutingContext ctx) {
        List<TopicPartition> partitions = partitionsOf(bodyObject(ctx), "partitions");
        answer(ctx, i -> i.committed(partitions).map(commits -> {
            JsonArray offsets = new JsonArray();
            for (TopicPartition tp : partitions) {
                var c = commits.get(tp);
                offsets.add(new JsonObject().put("topic", tp.topic()).put("partition", tp.partition())
                        .put("offset", c == null ? -1 : c.offset())
                        .put("metadata", c == null || c.metadata() == null ? "" : c.metadata()));
            }
            return new JsonObject().put("offsets", offsets);
        }));
    }

    // ---------------------------------------------------------------- plumbing

    private ConsumerInstance instance(RoutingContext ctx) {
        String group = ctx.pathParam("group");
        String name = ctx.pathParam("instance");
        ConsumerInstance i = instances.get(key(group, name));
        if (i == null) {
            throw new HttpApiException(ErrorCodes.CONSUMER_INSTANCE_NOT_FOUND,
                    "Consumer instance '" + name + "' not found in group '" + group + "'");
        }
        return i;
    }

    /** Runs {@code step} on the instance and answers 204. */
    private void act(RoutingContext ctx, java.util.function.Function<ConsumerInstance, Future<Void>> step) {
        act(ctx, step, 204);
    }

    private void act(RoutingContext ctx, java.util.function.Function<ConsumerInstance, Future<Void>> step, int status) {
        ConsumerInstance i = instance(ctx);
        onRequestContext(i.run(() -> step.apply(i))).onComplete(done -> {
            if (done.failed()) {
                ctx.fail(requestFailure(ctx, done.cause(), broker, null));
            } else if (status == 204) {
                ctx.response().setStatusCode(204).end();
            } else {
                ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, HttpApi.V2_JSON).end();
            }
        });
    }

    /** Runs {@code step} on the instance and answers 200 with its JSON. */
    private void answer(RoutingContext ctx, java.util.function.Function<ConsumerInstance, Future<JsonObject>> step) {
        ConsumerInstance i = instance(ctx);
        onRequestContext(i.run(() -> step.apply(i))).onComplete(done -> {
            if (done.failed()) {
                ctx.fail(requestFailure(ctx, done.cause(), broker, null));
            } else {
                send(ctx, 200, HttpApi.V2_JSON, done.result());
            }
        });
    }

    private static String key(String group, String name) {
        return group + '\u0000' + name;
    }

    private static String baseUri(RoutingContext ctx) {
        String host = ctx.request().getHeader(HttpHeaders.HOST);
        if (host == null) {
            host = ctx.request().localAddress().host() + ":" + ctx.request().localAddress().port();
        }
        return ctx.request().scheme() + "://" + host;
    }

    /** The body as a JSON object; an empty body is an empty object. */
    private static JsonObject bodyObject(RoutingContext ctx) {
        Buffer raw = ctx.body().buffer();
        if (raw == null || raw.length() == 0) {
            return new JsonObject();
        }
        Object json;
        try {
            json = Json.decodeValue(raw);
        } catch (DecodeException e) {
            throw new HttpApiException(ErrorCodes.BAD_REQUEST, "The body is not JSON: " + e.getMessage());
        }
        if (!(json instanceof JsonObject object)) {
            throw new HttpApiException(ErrorCodes.BAD_REQUEST, "The body must be a JSON object");
        }
        return object;
    }

    private List<TopicPartition> partitionsOf(JsonObject body, String field) {
        Object value = body.getValue(field);
        if (!(value instanceof JsonArray list)) {
            throw unprocessable(field + " must be an array of {\"topic\",\"partition\"} objects");
        }
        List<TopicPartition> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            out.add(topicPartition(list.getValue(i), field + "[" + i + "]"));
        }
        return out;
    }

    private Map<TopicPartition, Long> offsetsOf(JsonObject body) {
        Object value = body.getValue("offsets");
        if (!(value instanceof JsonArray list)) {
            throw unprocessable("offsets must be an array of {\"topic\",\"partition\",\"offset\"} objects");
        }
        Map<TopicPartition, Long> out = new LinkedHashMap<>();
        for (int i = 0; i < list.size(); i++) {
            String where = "offsets[" + i + "]";
            TopicPartition tp = topicPartition(list.getValue(i), where);
            Object offset = ((JsonObject) list.getValue(i)).getValue("offset");
            if (!(offset instanceof Number n) || n.longValue() < 0 || n.doubleValue() != n.longValue()) {
                throw unprocessable(where + ".offset must be a whole number of at least 0, not " + offset);
            }
            out.put(tp, n.longValue());
        }
        return out;
    }

    private TopicPartition topicPartition(Object json, String where) {
        if (!(json instanceof JsonObject o)) {
            throw unprocessable(where + " must be an object with topic and partition");
        }
        if (!(o.getValue("topic") instanceof String topic) || topic.isBlank()) {
            throw unprocessable(where + ".topic must be a topic name");
        }
        if (!(o.getValue("partition") instanceof Number p) || p.intValue() < 0 || p.doubleValue() != p.intValue()) {
            throw unprocessable(where + ".partition must be a whole number of at least 0");
        }
        Replies.partition(Replies.topic(broker, topic), Integer.toString(p.intValue()));
        return new TopicPartition(topic, p.intValue());
    }

    private static JsonArray partitionsJson(Set<TopicPartition> partitions) {
        JsonArray out = new JsonArray();
        partitions.stream()
                .sorted(java.util.Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition))
                .forEach(tp -> out.add(new JsonObject().put("topic", tp.topic()).put("partition", tp.partition())));
        return out;
    }

    private static String stringField(JsonObject body, String field, String fallback) {
        Object v = body.getValue(field);
        if (v == null) {
            return fallback;
        }
        if (v instanceof String s) {
            return s;
        }
        if (v instanceof Boolean || v instanceof Number) {
            return v.toString();
        }
        throw unprocessable(field + " must be a string");
    }

    private static <E extends Enum<E>> E enumField(JsonObject body, String field, E fallback, Class<E> type,
                                                   String choices) {
        String v = stringField(body, field, null);
        if (v == null) {
            return fallback;
        }
        try {
            return Enum.valueOf(type, v.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw unprocessable(field + " must be " + choices + ", not '" + v + "'");
        }
    }

    private static long longParam(RoutingContext ctx, String name, long fallback) {
        String raw = ctx.request().getParam(name);
        if (raw == null) {
            return fallback;
        }
        try {
            long v = Long.parseLong(raw.trim());
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new HttpApiException(ErrorCodes.BAD_REQUEST, "Query parameter " + name
                    + " must be a whole number of at least 0, not '" + raw + "'");
        }
    }

    private static HttpApiException unprocessable(String message) {
        return new HttpApiException(ErrorCodes.UNPROCESSABLE_ENTITY, message);
    }

    /** Writes records as Confluent's v2 records answer. */
    static final class RecordsJson {

        private RecordsJson() {
        }

        /**
         * Binary keys and values are base64 and topic names are Kafka's legal characters
         * ({@code [a-zA-Z0-9._-]}), so the text needs no escaping and is written directly; JSON
         * values are checked to be JSON and embedded as stored.
         */
        static Buffer encode(List<ConsumerInstance.ConsumedRecord> records, ConsumerInstance.Format format,
                             SchemaRegistry registry) {
            Base64.Encoder base64 = Base64.getEncoder();
            StringBuilder out = new StringBuilder(records.size() * 200 + 2).append('[');
            for (int i = 0; i < records.size(); i++) {
                ConsumerInstance.ConsumedRecord r = records.get(i);
                if (i > 0) {
                    out.append(',');
                }
                out.append("{\"topic\":\"").append(r.topic()).append("\",\"key\":");
                appendPayload(out, r.key(), format, registry, base64, r, "key");
                out.append(",\"value\":");
                appendPayload(out, r.value(), format, registry, base64, r, "value");
                out.append(",\"partition\":").append(r.partition()).append(",\"offset\":").append(r.offset()).append('}');
            }
            return Buffer.buffer(out.append(']').toString());
        }

        private static void appendPayload(StringBuilder out, byte[] bytes, ConsumerInstance.Format format,
                                          SchemaRegistry registry, Base64.Encoder base64,
                                          ConsumerInstance.ConsumedRecord r, String what) {
            if (bytes == null) {
                out.append("null");
            } else if (format == ConsumerInstance.Format.BINARY) {
                out.append('"').append(base64.encodeToString(bytes)).append('"');
            } else if (format == ConsumerInstance.Format.AVRO) {
                try {
                    out.append(WireFormat.toJson(registry, bytes));
                } catch (IllegalArgumentException e) {
                    throw new HttpApiException(ErrorCodes.KAFKA_ERROR, "The " + what + " of " + r.topic() + "-"
                            + r.partition() + "@" + r.offset() + " cannot be read as Avro: " + e.getMessage()
                            + "; read this topic with a binary consumer");
                }
            } else {
                String text = new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
                try {
                    Json.decodeValue(text);
                } catch (DecodeException e) {
                    throw new HttpApiException(ErrorCodes.KAFKA_ERROR, "The " + what + " of " + r.topic() + "-"
                            + r.partition() + "@" + r.offset() + " is not JSON; read this topic with a binary consumer");
                }
                out.append(text);
            }
        }
    }
}

package io.runnel.registry;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.netty.handler.codec.http.HttpResponseStatus;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

/**
 * The schema registry's REST API (port 8081), Confluent Schema Registry's, so that its clients
 * (serializers, the Java client, kafkajs, the Maven plugin, curl scripts) work unmodified. Every
 * call goes to the {@link SchemaRegistry}; this class only translates HTTP.
 *
 * <h2>Routes</h2>
 * <ul>
 *   <li>{@code GET /subjects} ({@code ?deleted=true} adds soft-deleted subjects): names, sorted.</li>
 *   <li>{@code GET /subjects/{s}/versions} ({@code ?deleted=true}): version numbers.</li>
 *   <li>{@code POST /subjects/{s}/versions}: register {@code {"schema","schemaType"?,"references"?}}
 *       ({@code "id"}, {@code "version"} too in IMPORT mode); answers {@code {"id":n}}.</li>
 *   <li>{@code GET /subjects/{s}/versions/{v|latest|-1}} ({@code ?deleted=true}):
 *       {@code {"subject","version","id","schema"}}, with {@code "schemaType"} unless AVRO and
 *       {@code "references"} when there are some; {@code …/schema}: the schema text alone;
 *       {@code …/referencedby}: ids of the schemas referencing it.</li>
 *   <li>{@code POST /subjects/{s}} ({@code ?deleted=true}): look a schema up; answers as a version.</li>
 *   <li>{@code DELETE /subjects/{s}} and {@code DELETE /subjects/{s}/versions/{v}}: soft delete,
 *       or with {@code ?permanent=true} erase; answer the version numbers (one number for a version).</li>
 *   <li>{@code GET /schemas/ids/{id}}: {@code {"schema"}} (and type, references as above);
 *       {@code …/schema}: the text; {@code …/versions}: {@code [{"subject","version"}]};
 *       {@code …/subjects}: names ({@code ?deleted=true} for soft-deleted ones too).</li>
 *   <li>{@code GET /schemas/types}: {@code ["AVRO"]}, the types served.</li>
 *   <li>{@code POST /compatibility/subjects/{s}/versions/{v|latest}}: {@code {"is_compatible":b}},
 *       with {@code ?verbose=true} also {@code "messages":[…]} saying why not.</li>
 *   <li>{@code GET|PUT|DELETE /config}: the global level, {@code {"compatibilityLevel"}}; PUT
 *       takes and answers {@code {"compatibility"}}; DELETE resets to BACKWARD and answers the old level.</li>
 *   <li>{@code GET|PUT|DELETE /config/{s}}: the subject's own level, as above; GET of a subject
 *       without one is 40408 unless {@code ?defaultToGlobal=true}.</li>
 *   <li>{@code GET|PUT /mode}: {@code {"mode"}}; PUT IMPORT on a registry with subjects needs
 *       {@code ?force=true}.</li>
 * </ul>
 * Answers are {@value #CONTENT_TYPE}; request bodies may be that, {@code application/vnd.schemaregistry+json}
 * or {@code application/json} (or carry no Content-Type), anything else is 415.
 *
 * <h2>Errors</h2>
 * {@code {"error_code":N,"message":"…"}} with a code of {@link RegistryErrorCodes} and its status,
 * never a stack trace: a {@link RegistryException} is answered as it says; a body that is not
 * JSON is 400, a field of the wrong JSON type 422, an unknown path 404, a wrong method 405, a body
 * over the limit 413; anything unexpected is 500, logged here, its message saying only that.
 *
 * <h2>In a cluster</h2>
 * Only one broker's registry writes ({@link WriterLocator}). Reads are answered here, from this
 * broker's registry (which follows the log, so a change made elsewhere shows within moments). The
 * writes — {@code POST /subjects/{s}/versions}, the {@code DELETE}s of subjects and versions, and
 * the {@code PUT}s and {@code DELETE}s of {@code /config} and {@code /mode} — reaching a broker that
 * does not write are forwarded to the one that does, as Confluent's registry forwards to its
 * primary: same method, path, query, body and Content-Type, with {@value #FORWARDED_HEADER} set,
 * and its status, Content-Type and body are relayed as they are. A request that was forwarded
 * already is not forwarded again (no loops while brokers disagree about the writer). With no live
 * writer, or one that does not answer within {@value #FORWARD_TIMEOUT_MS} ms, the answer is
 * {@link RegistryErrorCodes#REQUEST_FORWARDING_FAILED}. Lookups and compatibility checks are
 * reads, answered here.
 *
 * <h2>Threading</h2>
 * Handlers run on the HTTP connection's event loop and never block; the registry's futures
 * complete back on it. Stateless apart from its settings.
 */
public final class RegistryApi {

    /** Content-Type of every answer, as Confluent's registry sends it. */
    public static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    /** Request body types taken (Confluent's, but for octet-stream, which no client sends for JSON). */
    static final Set<String> REQUEST_TYPES = Set.of(CONTENT_TYPE, "application/vnd.schemaregistry+json",
            "application/json");
    /** Largest request body: schemas with many fields and docs run to hundreds of KiB; this bounds one request's memory. */
    public static final long DEFAULT_MAX_BODY_BYTES = 2L * 1024 * 1024;

    /** Marks a request one broker forwarded to the writer; its value is the forwarding broker's id. */
    public static final String FORWARDED_HEADER = "X-Runnel-Forwarded-By";
    /** How long a forwarded write may take: a registration is one append to a replicated partition, well under this. */
    static final long FORWARD_TIMEOUT_MS = 15_000;

    private static final Logger LOG = LoggerFactory.getLogger(RegistryApi.class);
    /** Statuses the router itself may end a request with; each gets an error body like ours. */
    private static final List<Integer> ROUTER_STATUSES = List.of(400, 404, 405, 406, 413, 414, 415, 431, 500, 501);

    private final SchemaRegistry registry;
    private final long maxBodyBytes;
    /** The way to the registry that writes, in a cluster; null on a single node (this registry writes, nothing is forwarded). */
    private final WriterClient writer;

    private RegistryApi(SchemaRegistry registry, long maxBodyBytes, WriterClient writer) {
        if (maxBodyBytes < 1) {
            throw new IllegalArgumentException("maxBodyBytes must be positive, not " + maxBodyBytes);
        }
        this.registry = registry;
        this.maxBodyBytes = maxBodyBytes;
        this.writer = writer;
    }

    /** The routes over {@code registry}, with the default body limit. */
    public static Router router(Vertx vertx, SchemaRegistry registry) {
        return router(vertx, registry, DEFAULT_MAX_BODY_BYTES);
    }

    /** The routes over {@code registry}; bodies over {@code maxBodyBytes} are refused (413). */
    public static Router router(Vertx vertx, SchemaRegistry registry, long maxBodyBytes) {
        return new RegistryApi(registry, maxBodyBytes, null).routes(vertx);
    }

    /** The routes of a broker in a cluster: writes that reach a registry that does not write go through {@code writer}. */
    public static Router clusterRouter(Vertx vertx, SchemaRegistry registry, WriterClient writer) {
        return new RegistryApi(registry, DEFAULT_MAX_BODY_BYTES, writer).routes(vertx);
    }

    private Router routes(Vertx vertx) {
        // No file uploads: bodies are JSON, and uploads would write to disk from the event loop.
        BodyHandler body = BodyHandler.create(false).setBodyLimit(maxBodyBytes);
        Router router = Router.router(vertx);
        router.route().failureHandler(ctx -> answerFailure(ctx, ctx.statusCode()));
        router.get("/subjects").handler(this::listSubjects);
        router.get("/subjects/:subject/versions").handler(this::listVersions);
        router.post("/subjects/:subject/versions").handler(body).handler(this::toWriter).handler(this::register);
        router.get("/subjects/:subject/versions/:version").handler(this::getVersion);
        router.get("/subjects/:subject/versions/:version/schema").handler(this::getVersionSchema);
        router.get("/subjects/:subject/versions/:version/referencedby").handler(this::referencedBy);
        router.delete("/subjects/:subject/versions/:version").handler(body).handler(this::toWriter)
                .handler(this::deleteVersion);
        router.post("/subjects/:subject").handler(body).handler(this::lookup);
        router.delete("/subjects/:subject").handler(body).handler(this::toWriter).handler(this::deleteSubject);
        router.get("/schemas/types").handler(ctx -> send(ctx, 200, new JsonArray().add(AvroSchemas.AVRO)));
        router.get("/schemas/ids/:id").handler(this::getSchemaById);
        router.get("/schemas/ids/:id/schema").handler(this::getSchemaTextById);
        router.get("/schemas/ids/:id/versions").handler(this::getVersionsById);
        router.get("/schemas/ids/:id/subjects").handler(this::getSubjectsById);
        router.post("/compatibility/subjects/:subject/versions/:version").handler(body).handler(this::checkCompatibility);
        router.get("/config").handler(this::getGlobalConfig);
        router.put("/config").handler(body).handler(this::toWriter).handler(this::putGlobalConfig);
        router.delete("/config").handler(body).handler(this::toWriter).handler(this::deleteGlobalConfig);
        router.get("/config/:subject").handler(this::getSubjectConfig);
        router.put("/config/:subject").handler(body).handler(this::toWriter).handler(this::putSubjectConfig);
        router.delete("/config/:subject").handler(body).handler(this::toWriter).handler(this::deleteSubjectConfig);
        router.get("/mode").handler(this::getMode);
        router.put("/mode").handler(body).handler(this::toWriter).handler(this::putMode);
        for (int status : ROUTER_STATUSES) {
            router.errorHandler(status, ctx -> answerFailure(ctx, status));
        }
        return router;
    }

    // ---------------------------------------------------------------- forwarding writes

    /** Passes a write on to this registry when it writes (or on a single node), else forwards it. */
    private void toWriter(RoutingContext ctx) {
        if (writer == null || writer.localWrites()) {
            ctx.next();
            return;
        }
        String forwardedBy = ctx.request().getHeader(FORWARDED_HEADER);
        if (forwardedBy != null) {
            ctx.fail(new RegistryException(RegistryErrorCodes.REQUEST_FORWARDING_FAILED, "Broker " + forwardedBy
                    + " forwarded this write here, but this broker's registry is not the writer either"
                    + " (leadership of _schemas-0 is moving); retry"));
            return;
        }
        WriterLocator.Address to;
        try {
            to = writer.writer();
        } catch (RegistryException e) {
            ctx.fail(e);
            return;
        }
        forward(ctx, to);
    }

    /** Sends the request as it came to the writer, and relays its status, Content-Type and body. */
    private void forward(RoutingContext ctx, WriterLocator.Address to) {
        Map<CharSequence, String> headers = new HashMap<>();
        for (CharSequence name : List.of(HttpHeaders.CONTENT_TYPE, HttpHeaders.ACCEPT)) {
            String value = ctx.request().getHeader(name);
            if (value != null) {
                headers.put(name, value);
            }
        }
        Buffer body = ctx.body().buffer();
        writer.request(to, ctx.request().method(), ctx.request().uri(), headers)
                .compose(request -> body == null ? request.send() : request.send(body))
                .compose(response -> response.body().map(answer -> {
                    HttpServerResponse out = ctx.response().setStatusCode(response.statusCode());
                    String type = response.getHeader(HttpHeaders.CONTENT_TYPE);
                    if (type != null) {
                        out.putHeader(HttpHeaders.CONTENT_TYPE, type);
                    }
                    return out.end(answer);
                }))
                .onFailure(e -> {
                    if (!ctx.response().headWritten()) {
                        ctx.fail(WriterClient.unreachable(to, e));
                    }
                });
    }

    // ---------------------------------------------------------------- subjects and versions

    private void listSubjects(RoutingContext ctx) {
        answer(ctx, registry.subjects(flag(ctx, "deleted")).map(JsonArray::new));
    }

    private void listVersions(RoutingContext ctx) {
        answer(ctx, registry.versions(subject(ctx), flag(ctx, "deleted")).map(JsonArray::new));
    }

    private void register(RoutingContext ctx) {
        SchemaRegistry.SchemaRequest request = schemaRequest(ctx, true);
        answer(ctx, registry.register(subject(ctx), request).map(r -> new JsonObject().put("id", r.id())));
    }

    private void getVersion(RoutingContext ctx) {
        answer(ctx, registry.version(subject(ctx), version(ctx), flag(ctx, "deleted")).map(RegistryApi::versionJson));
    }

    private void getVersionSchema(RoutingContext ctx) {
        answerText(ctx, registry.version(subject(ctx), version(ctx), flag(ctx, "deleted"))
                .map(SchemaRegistry.RegisteredSchema::schema));
    }

    private void referencedBy(RoutingContext ctx) {
        answer(ctx, registry.referencedBy(subject(ctx), version(ctx)).map(JsonArray::new));
    }

    private void lookup(RoutingContext ctx) {
        SchemaRegistry.SchemaRequest request = schemaRequest(ctx, false);
        answer(ctx, registry.lookup(subject(ctx), request, flag(ctx, "deleted")).map(RegistryApi::versionJson));
    }

    private void deleteSubject(RoutingContext ctx) {
        answer(ctx, registry.deleteSubject(subject(ctx), flag(ctx, "permanent")).map(JsonArray::new));
    }

    private void deleteVersion(RoutingContext ctx) {
        answerBuffer(ctx, registry.deleteVersion(subject(ctx), version(ctx), flag(ctx, "permanent"))
                .map(v -> Buffer.buffer(Integer.toString(v))));
    }

    // ---------------------------------------------------------------- schemas by id

    private void getSchemaById(RoutingContext ctx) {
        answer(ctx, registry.schemaById(id(ctx)).map(s -> {
            JsonObject json = new JsonObject().put("schema", s.schema());
            return withTypeAndReferences(json, s.schemaType(), s.references());
        }));
    }

    private void getSchemaTextById(RoutingContext ctx) {
        answerText(ctx, registry.schemaById(id(ctx)).map(SchemaRegistry.SchemaById::schema));
    }

    private void getVersionsById(RoutingContext ctx) {
        answer(ctx, registry.versionsOf(id(ctx), flag(ctx, "deleted")).map(found -> {
            JsonArray json = new JsonArray();
            found.forEach(sv -> json.add(new JsonObject().put("subject", sv.subject()).put("version", sv.version())));
            return json;
        }));
    }

    private void getSubjectsById(RoutingContext ctx) {
        answer(ctx, registry.subjectsOf(id(ctx), flag(ctx, "deleted")).map(JsonArray::new));
    }

    // ---------------------------------------------------------------- compatibility, config, mode

    private void checkCompatibility(RoutingContext ctx) {
        SchemaRegistry.SchemaRequest request = schemaRequest(ctx, false);
        boolean verbose = flag(ctx, "verbose");
        answer(ctx, registry.compatibilityProblems(subject(ctx), version(ctx), request).map(problems -> {
            JsonObject json = new JsonObject().put("is_compatible", problems.isEmpty());
            return verbose ? json.put("messages", new JsonArray(problems)) : json;
        }));
    }

    private void getGlobalConfig(RoutingContext ctx) {
        answer(ctx, registry.globalCompatibility().map(RegistryApi::levelJson));
    }

    private void putGlobalConfig(RoutingContext ctx) {
        CompatibilityLevel level = CompatibilityLevel.parse(stringField(body(ctx), "compatibility"));
        answer(ctx, registry.setGlobalCompatibility(level).map(l -> new JsonObject().put("compatibility", l.name())));
    }

    private void deleteGlobalConfig(RoutingContext ctx) {
        answer(ctx, registry.deleteGlobalCompatibility().map(RegistryApi::levelJson));
    }

    private void getSubjectConfig(RoutingContext ctx) {
        String subject = subject(ctx);
        boolean defaultToGlobal = flag(ctx, "defaultToGlobal");
        answer(ctx, registry.subjectCompatibility(subject).compose(own -> {
            if (own.isPresent()) {
                return Future.succeededFuture(levelJson(own.get()));
            }
            if (!defaultToGlobal) {
                return Future.failedFuture(SchemaRegistry.noSubjectLevel(subject));
            }
            return registry.globalCompatibility().map(RegistryApi::levelJson);
        }));
    }

    private void putSubjectConfig(RoutingContext ctx) {
        CompatibilityLevel level = CompatibilityLevel.parse(stringField(body(ctx), "compatibility"));
        answer(ctx, registry.setSubjectCompatibility(subject(ctx), level)
                .map(l -> new JsonObject().put("compatibility", l.name())));
    }

    private void deleteSubjectConfig(RoutingContext ctx) {
        answer(ctx, registry.deleteSubjectCompatibility(subject(ctx)).map(RegistryApi::levelJson));
    }

    private void getMode(RoutingContext ctx) {
        answer(ctx, registry.mode().map(m -> new JsonObject().put("mode", m.name())));
    }

    private void putMode(RoutingContext ctx) {
        RegistryMode mode = RegistryMode.parse(stringField(body(ctx), "mode"));
        answer(ctx, registry.setMode(mode, flag(ctx, "force")).map(m -> new JsonObject().put("mode", m.name())));
    }

    // ---------------------------------------------------------------- JSON

    private static JsonObject versionJson(SchemaRegistry.RegisteredSchema r) {
        JsonObject json = new JsonObject().put("subject", r.subject()).put("version", r.version()).put("id", r.id())
                .put("schema", r.schema());
        return withTypeAndReferences(json, r.schemaType(), r.references());
    }

    /** Confluent leaves out the type of an Avro schema and an empty reference list; clients expect that. */
    private static JsonObject withTypeAndReferences(JsonObject json, String schemaType, List<SchemaReference> refs) {
        if (!AvroSchemas.AVRO.equals(schemaType)) {
            json.put("schemaType", schemaType);
        }
        if (!refs.isEmpty()) {
            JsonArray array = new JsonArray();
            refs.forEach(r -> array.add(new JsonObject().put("name", r.name()).put("subject", r.subject())
                    .put("version", r.version())));
            json.put("references", array);
        }
        return json;
    }

    private static JsonObject levelJson(CompatibilityLevel level) {
        return new JsonObject().put("compatibilityLevel", level.name());
    }

    /** A register, lookup or compatibility body; {@code id} and {@code version} only for a registration. */
    private static SchemaRegistry.SchemaRequest schemaRequest(RoutingContext ctx, boolean registration) {
        JsonObject json = body(ctx);
        String schema = stringField(json, "schema");
        if (schema == null || schema.isBlank()) {
            throw new RegistryException(RegistryErrorCodes.INVALID_SCHEMA, "Invalid schema: the body has no \"schema\"");
        }
        String type = stringField(json, "schemaType");
        List<SchemaReference> refs = new ArrayList<>();
        Object rawRefs = json.getValue("references");
        if (rawRefs != null) {
            if (!(rawRefs instanceof JsonArray array)) {
                throw wrongType("references", "an array");
            }
            for (Object item : array) {
                if (!(item instanceof JsonObject ref)) {
                    throw wrongType("references", "an array of {\"name\",\"subject\",\"version\"} objects");
                }
                String name = stringField(ref, "name");
                String subject = stringField(ref, "subject");
                Integer version = intField(ref, "version");
                if (name == null || subject == null || version == null || version < 1) {
                    throw new RegistryException(RegistryErrorCodes.INVALID_SCHEMA, "Invalid schema: a reference needs"
                            + " a \"name\", a \"subject\" and a \"version\" from 1, not " + ref.encode());
                }
                refs.add(new SchemaReference(name, subject, version));
            }
        }
        Integer id = registration ? intField(json, "id") : null;
        Integer version = registration ? intField(json, "version") : null;
        return new SchemaRegistry.SchemaRequest(type, schema, refs, id, version);
    }

    /** The request body as a JSON object; 415 for a type that is not JSON, 400 for a body that is not an object. */
    private static JsonObject body(RoutingContext ctx) {
        String type = ctx.request().getHeader(HttpHeaders.CONTENT_TYPE);
        if (type != null) {
            String mediaType = type.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
            if (!REQUEST_TYPES.contains(mediaType)) {
                throw new RegistryException(RegistryErrorCodes.UNSUPPORTED_MEDIA_TYPE, "Content-Type '" + type
                        + "' is not served: use " + CONTENT_TYPE + " (or application/json)");
            }
        }
        Buffer raw = ctx.body().buffer();
        Object parsed;
        try {
            parsed = raw == null || raw.length() == 0 ? null : Json.decodeValue(raw);
        } catch (DecodeException e) {
            throw new RegistryException(RegistryErrorCodes.BAD_REQUEST, "The body is not JSON: " + e.getMessage());
        }
        if (!(parsed instanceof JsonObject json)) {
            throw new RegistryException(RegistryErrorCodes.BAD_REQUEST, "The body must be a JSON object");
        }
        return json;
    }

    private static String stringField(JsonObject json, String field) {
        Object v = json.getValue(field);
        if (v != null && !(v instanceof String)) {
            throw wrongType(field, "a string");
        }
        return (String) v;
    }

    private static Integer intField(JsonObject json, String field) {
        Object v = json.getValue(field);
        if (v == null) {
            return null;
        }
        if (!(v instanceof Integer) && !(v instanceof Long l && l == l.intValue())) {
            throw wrongType(field, "a whole number");
        }
        return ((Number) v).intValue();
    }

    private static RegistryException wrongType(String field, String expected) {
        return new RegistryException(RegistryErrorCodes.UNPROCESSABLE_ENTITY, "Field \"" + field + "\" must be "
                + expected);
    }

    // ---------------------------------------------------------------- path and query

    private static String subject(RoutingContext ctx) {
        return ctx.pathParam("subject");
    }

    /** A version in a path: 1..2^31-1, or "latest" / -1 for the latest; 42202 otherwise. */
    static int parseVersion(String raw) {
        if ("latest".equals(raw)) {
            return SchemaRegistry.LATEST;
        }
        try {
            int v = Integer.parseInt(raw);
            if (v >= 1 || v == SchemaRegistry.LATEST) {
                return v;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw new RegistryException(RegistryErrorCodes.INVALID_VERSION, "The specified version '" + raw + "' is not a"
                + " valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"");
    }

    private static int version(RoutingContext ctx) {
        return parseVersion(ctx.pathParam("version"));
    }

    /** A schema id in a path; one that is not a positive number names no schema (40403). */
    private static int id(RoutingContext ctx) {
        String raw = ctx.pathParam("id");
        try {
            int id = Integer.parseInt(raw);
            if (id >= 1) {
                return id;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw new RegistryException(RegistryErrorCodes.SCHEMA_NOT_FOUND, "Schema " + raw + " not found");
    }

    private static boolean flag(RoutingContext ctx, String name) {
        return "true".equalsIgnoreCase(ctx.request().getParam(name));
    }

    // ---------------------------------------------------------------- answers

    private static void answer(RoutingContext ctx, Future<?> result) {
        answerBuffer(ctx, result.map(json -> json instanceof JsonObject o ? o.toBuffer() : ((JsonArray) json).toBuffer()));
    }

    /** The schema text as it is stored: JSON itself for Avro, so sent as it is. */
    private static void answerText(RoutingContext ctx, Future<String> result) {
        answerBuffer(ctx, result.map(Buffer::buffer));
    }

    private static void answerBuffer(RoutingContext ctx, Future<Buffer> result) {
        result.onComplete(done -> {
            if (done.failed()) {
                ctx.fail(done.cause());
                return;
            }
            send(ctx, 200, done.result());
        });
    }

    private static void send(RoutingContext ctx, int status, JsonArray json) {
        send(ctx, status, json.toBuffer());
    }

    private static void send(RoutingContext ctx, int status, Buffer body) {
        ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, CONTENT_TYPE).end(body);
    }

    private void answerFailure(RoutingContext ctx, int status) {
        Throwable failure = ctx.failure();
        RegistryException error;
        if (failure instanceof RegistryException e) {
            error = e;
        } else if (status >= 400 && status < 500) {
            error = new RegistryException(status, statusMessage(ctx, status));
        } else {
            LOG.error("Unexpected failure of {} {}", ctx.request().method(), ctx.normalizedPath(), failure);
            error = new RegistryException(RegistryErrorCodes.INTERNAL_SERVER_ERROR,
                    "Internal server error; the broker log has the details");
        }
        if (ctx.response().ended() || ctx.response().closed()) {
            return;
        }
        if (ctx.response().headWritten()) {
            ctx.response().reset();
            return;
        }
        ctx.response().setStatusCode(error.httpStatus()).putHeader(HttpHeaders.CONTENT_TYPE, CONTENT_TYPE)
                .end(new JsonObject().put("error_code", error.errorCode()).put("message", error.getMessage()).toBuffer());
    }

    private String statusMessage(RoutingContext ctx, int status) {
        String request = ctx.request().method() + " " + ctx.normalizedPath();
        return switch (status) {
            case 404 -> "HTTP 404 Not Found: no resource at " + request;
            case 405 -> "HTTP 405 Method Not Allowed: " + request;
            case 413 -> "The request body is larger than the limit of " + maxBodyBytes + " bytes";
            default -> HttpResponseStatus.valueOf(status).reasonPhrase() + ": " + request;
        };
    }
}

package io.runnel.registry;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

/**
 * The way to the registry that writes, for a broker whose registry does not (in a cluster only
 * the leader of {@code _schemas-0} writes): {@link RegistryApi} forwards a client's writes through
 * it, and the broker's own adapters register schemas through it (an HTTP produce that carries
 * schema text, {@link SchemaRegistry#registerAvro}). Every request is marked with
 * {@link RegistryApi#FORWARDED_HEADER}, so a writer that has just stopped being one refuses it
 * rather than forwarding it again.
 *
 * <p>Failures are {@link RegistryException}s: the writer's own error code when it answered with
 * one (an incompatible or invalid schema), else {@link RegistryErrorCodes#REQUEST_FORWARDING_FAILED}
 * (no writer now, no answer), which is worth a retry.
 *
 * <p>Thread-safe: it holds no state of its own. The client is the caller's, who closes it.
 */
public final class WriterClient {

    private static final String REGISTRY_JSON = "application/vnd.schemaregistry.v1+json";

    private final WriterLocator writers;
    private final HttpClient client;

    public WriterClient(WriterLocator writers, HttpClient client) {
        this.writers = writers;
        this.client = client;
    }

    /** Whether this broker's own registry writes now, so a write is made here. */
    boolean localWrites() {
        return writers.localEpoch() >= 0;
    }

    /** The registry that writes, on another broker; refused when no broker leads the log right now. */
    WriterLocator.Address writer() {
        return writers.remote().orElseThrow(() -> new RegistryException(RegistryErrorCodes.REQUEST_FORWARDING_FAILED,
                "No broker leads _schemas-0 right now, so no schema registry can write; retry"));
    }

    /** A request to {@code writer}, marked as forwarded by this broker, within the forwarding timeout. */
    Future<HttpClientRequest> request(WriterLocator.Address writer, HttpMethod method, String uri,
                                      Map<CharSequence, String> headers) {
        RequestOptions options = new RequestOptions().setMethod(method).setHost(writer.host()).setPort(writer.port())
                .setURI(uri).setTimeout(RegistryApi.FORWARD_TIMEOUT_MS)
                .putHeader(RegistryApi.FORWARDED_HEADER, Integer.toString(writers.localBrokerId()));
        headers.forEach(options::putHeader);
        return client.request(options);
    }

    /** The refusal for a writer that could not be reached or did not answer. */
    static RegistryException unreachable(WriterLocator.Address writer, Throwable cause) {
        return new RegistryException(RegistryErrorCodes.REQUEST_FORWARDING_FAILED, "Error while forwarding the request"
                + " to the writer, broker " + writer.brokerId() + " at " + writer.host() + ":" + writer.port() + ": "
                + cause.getMessage(), cause);
    }

    /** Registers an Avro schema under {@code subject} at the writer; completes with its id. */
    Future<Integer> registerAvro(String subject, String schema) {
        WriterLocator.Address writer;
        try {
            writer = writer();
        } catch (RegistryException e) {
            return Future.failedFuture(e);
        }
        String uri = "/subjects/" + URLEncoder.encode(subject, StandardCharsets.UTF_8) + "/versions";
        String body = new JsonObject().put("schema", schema).encode();
        return request(writer, HttpMethod.POST, uri, Map.of(HttpHeaders.CONTENT_TYPE, REGISTRY_JSON))
                .compose(request -> request.send(body))
                .compose(response -> response.body().map(answer -> {
                    JsonObject json = parse(answer.toString());
                    if (response.statusCode() == 200 && json != null && json.getValue("id") instanceof Integer id) {
                        return id;
                    }
                    throw writerRefused(writer, response.statusCode(), json, answer.toString());
                }))
                .recover(e -> Future.failedFuture(e instanceof RegistryException ? e : unreachable(writer, e)));
    }

    private static RegistryException writerRefused(WriterLocator.Address writer, int status, JsonObject json,
                                                   String body) {
        if (json != null && json.getValue("error_code") instanceof Integer code && isKnown(code)) {
            return new RegistryException(code, json.getString("message", "The writer refused the schema"));
        }
        return new RegistryException(RegistryErrorCodes.REQUEST_FORWARDING_FAILED, "The writer, broker "
                + writer.brokerId() + ", answered " + status + ": " + body);
    }

    private static boolean isKnown(int code) {
        try {
            RegistryErrorCodes.httpStatus(code);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static JsonObject parse(String body) {
        try {
            return new JsonObject(body);
        } catch (DecodeException | ClassCastException e) {
            return null;
        }
    }
}

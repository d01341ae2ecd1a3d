package io.runnel.registry;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

/**
 * Registers schemas through the writer's REST API, for the broker's own adapters on a broker whose
 * registry does not write (in a cluster only the leader of {@code _schemas-0} writes): an HTTP
 * produce that carries schema text must register it wherever it arrives, as a client's
 * registration arriving at {@link RegistryApi} is forwarded. The request is marked as forwarded,
 * so a writer that has just stopped being one refuses it rather than forwarding it again.
 *
 * <p>Failures are {@link RegistryException}s: the writer's own error code when it answered with
 * one (an incompatible or invalid schema), else {@link RegistryErrorCodes#REQUEST_FORWARDING_FAILED}
 * (no writer now, no answer), which is worth a retry.
 *
 * <p>Thread-safe: it holds no state of its own.
 */
public final class WriterClient {

    private static final String REGISTRY_JSON = "application/vnd.schemaregistry.v1+json";

    private final WriterLocator writers;
    private final HttpClient client;

    public WriterClient(WriterLocator writers, HttpClient client) {
        this.writers = writers;
        this.client = client;
    }

    /** Whether this broker's own registry writes now, so a registration is made here. */
    boolean localWrites() {
        return writers.localEpoch() >= 0;
    }

    /** Registers an Avro schema under {@code subject} at the writer; completes with its id. */
    Future<Integer> registerAvro(String subject, String schema) {
        WriterLocator.Address writer = writers.remote().orElse(null);
        if (writer == null) {
            return Future.failedFuture(new RegistryException(RegistryErrorCodes.REQUEST_FORWARDING_FAILED,
                    "No broker's schema registry can write right now (the leader of _schemas-0 is being chosen); retry"));
        }
        RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost(writer.host())
                .setPort(writer.port()).setURI("/subjects/" + URLEncoder.encode(subject, StandardCharsets.UTF_8)
                        + "/versions")
                .setTimeout(RegistryApi.FORWARD_TIMEOUT_MS)
                .putHeader(HttpHeaders.CONTENT_TYPE, REGISTRY_JSON)
                .putHeader(RegistryApi.FORWARDED_HEADER, Integer.toString(writers.localBrokerId()));
        String body = new JsonObject().put("schema", schema).encode();
        return client.request(options)
                .compose(request -> request.send(body))
                .compose(response -> response.body().map(answer -> {
                    JsonObject json = parse(answer.toString());
                    if (response.statusCode() == 200 && json != null && json.getValue("id") instanceof Integer id) {
                        return id;
                    }
                    throw writerRefused(writer, response.statusCode(), json, answer.toString());
                }))
                .recover(e -> Future.failedFuture(e instanceof RegistryException ? e
                        : new RegistryException(RegistryErrorCodes.REQUEST_FORWARDING_FAILED, "Error while registering"
                                + " the schema at the writer, broker " + writer.brokerId() + " at " + writer.host()
                                + ":" + writer.port() + ": " + e.getMessage(), e)));
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

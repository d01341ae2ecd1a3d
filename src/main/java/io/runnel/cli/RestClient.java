package io.runnel.cli;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;

/**
 * The command line's way to a running broker: its HTTP API (Confluent REST Proxy v2 and v3
 * dialects), spoken with the JDK's blocking HTTP client, one request at a time.
 *
 * <p>An answer outside 2xx becomes a {@link ApiError} carrying the API's {@code error_code} and
 * message, so commands report the broker's own words; a broker that does not answer becomes an
 * {@link ApiError} saying where the command looked and how to point it elsewhere.
 */
final class RestClient {

    static final String V2 = "application/vnd.kafka.v2+json";
    static final String JSON = "application/json";
    static final String BINARY_V2 = "application/vnd.kafka.binary.v2+json";

    /** A refusal from the broker, or no broker at all. */
    static final class ApiError extends Exception {
        final int status;
        final int errorCode;

        ApiError(int status, int errorCode, String message) {
            super(message, null, false, false);
            this.status = status;
            this.errorCode = errorCode;
        }
    }

    private final URI base;
    private final HttpClient http;
    /** How a user points the command elsewhere, for messages: the option and environment variable. */
    private final String pointer;

    /** A client of the broker at {@code baseUrl}; an {@link IllegalArgumentException} says why a URL is unusable. */
    RestClient(String baseUrl) {
        this(baseUrl, "--url", "RUNNEL_URL", "http://127.0.0.1:8082");
    }

    /**
     * A client of the service at {@code baseUrl}, set by {@code option} or {@code envVar} (named
     * in messages, with {@code example} as a URL to give).
     */
    RestClient(String baseUrl, String option, String envVar, String example) {
        this.base = baseUri(baseUrl, option, envVar, example);
        this.pointer = option + " or " + envVar;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    }

    private static URI baseUri(String url, String option, String envVar, String example) {
        String trimmed = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        URI uri = null;
        try {
            uri = new URI(trimmed);
        } catch (URISyntaxException e) {
            // said below
        }
        if (uri == null || uri.getHost() == null || uri.getQuery() != null || uri.getFragment() != null
                || !("http".equalsIgnoreCase(uri.getScheme()) || "https".equalsIgnoreCase(uri.getScheme()))) {
            throw new IllegalArgumentException(option + " (or " + envVar + ") must be an http:// or https:// URL such as "
                    + example + ", not '" + url + "'");
        }
        return uri;
    }

    static String encode(String pathSegment) {
        return URLEncoder.encode(pathSegment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** The JSON answer (object, array, or null for an empty body). */
    Object get(String path) throws ApiError {
        return send("GET", path, null, null, null);
    }

    Object get(String path, String accept) throws ApiError {
        return send("GET", path, null, null, accept);
    }

    Object post(String path, String contentType, Object body) throws ApiError {
        return send("POST", path, contentType, body, null);
    }

    Object send(String method, String path, String contentType, Object body, String accept) throws ApiError {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(60));
        String text = body == null ? null : body instanceof String s ? s : Json.encode(body);
        request.method(method, text == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(text, StandardCharsets.UTF_8));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        if (accept != null) {
            request.header("Accept", accept);
        }
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (ConnectException e) {
            throw new ApiError(0, 0, "No broker answers at " + base + " (start one with 'runnel server',"
                    + " or point to it with " + pointer + ")");
        } catch (IOException e) {
            throw new ApiError(0, 0, "Talking to " + base + " failed (" + e + "); is a broker there?"
                    + " Point to it with " + pointer);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiError(0, 0, "Interrupted");
        }
        String answer = response.body();
        if (response.statusCode() / 100 != 2) {
            int code = response.statusCode();
            String message = answer;
            try {
                JsonObject error = new JsonObject(answer);
                code = error.getInteger("error_code", code);
                message = error.getString("message", answer);
            } catch (DecodeException | ClassCastException e) {
                // not our JSON error body: show it as it came
            }
            throw new ApiError(response.statusCode(), code, message);
        }
        if (answer == null || answer.isBlank()) {
            return null;
        }
        try {
            return Json.decodeValue(answer);
        } catch (DecodeException e) {
            throw new ApiError(response.statusCode(), 0, "The broker answered with something that is not JSON: " + answer);
        }
    }

    /** The id of the cluster the broker belongs to (v3 paths need it). */
    String clusterId() throws ApiError {
        JsonObject clusters = (JsonObject) get("/v3/clusters");
        return clusters.getJsonArray("data").getJsonObject(0).getString("cluster_id");
    }

    String base() {
        return base.toString();
    }
}

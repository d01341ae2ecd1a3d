package io.runnel.api.http;

import java.math.BigInteger;
import java.util.Set;
import java.util.regex.Pattern;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * Reads the JSON bodies of the v3 API: decodes an object and takes its fields with their types
 * checked, refusing anything else with {@link ErrorCodes#BAD_REQUEST} (v3 answers every malformed
 * or mistyped body with 400, as Confluent's Jackson mapping does) and a message that names the
 * field by its path ({@code configs[1].value}).
 *
 * <p>Strict by design: a field a request type does not know is refused rather than ignored, so a
 * misspelt field never silently does nothing. Stateless and thread-safe.
 */
final class V3Json {

    private V3Json() {
    }

    /**
     * {@code body} decoded, which must be one JSON object.
     *
     * @param example what a client should send, quoted in the message for a missing body
     */
    static JsonObject object(Buffer body, String example) {
        if (body == null || body.length() == 0) {
            throw badRequest("The request has no body: send " + example);
        }
        Object root;
        try {
            root = Json.decodeValue(body);
        } catch (DecodeException e) {
            throw badRequest("The body is not valid JSON: " + parserMessage(e));
        }
        if (!(root instanceof JsonObject object)) {
            throw badRequest("The request body must be a JSON object, not " + jsonType(root) + ": send " + example);
        }
        return object;
    }

    /** Refuses a field of {@code json} not in {@code allowed}; {@code where} prefixes field names ("" at the top). */
    static void allowOnly(JsonObject json, Set<String> allowed, String where) {
        for (String field : json.fieldNames()) {
            if (!allowed.contains(field)) {
                throw badRequest("Unrecognized field: " + where + field + " (known: " + String.join(", ",
                        allowed.stream().sorted().toList()) + ")");
            }
        }
    }

    /** A string field that must be there and not null. */
    static String requiredString(JsonObject json, String field, String where) {
        Object value = json.getValue(field);
        if (value == null) {
            throw badRequest(where + field + " is required (was " + (json.containsKey(field) ? "null" : "missing") + ")");
        }
        return string(value, where + field);
    }

    /** A string field, or null when it is missing or null. */
    static String optionalString(JsonObject json, String field, String where) {
        Object value = json.getValue(field);
        return value == null ? null : string(value, where + field);
    }

    private static String string(Object value, String where) {
        if (!(value instanceof String s)) {
            throw badRequest(where + " must be a string, not " + jsonType(value) + " " + Json.encode(value));
        }
        return s;
    }

    /** A whole-number field that fits an int, or null when it is missing or null. */
    static Integer optionalInt(JsonObject json, String field, String where) {
        Object value = json.getValue(field);
        if (value == null) {
            return null;
        }
        // The parser gives an Integer for whole numbers that fit one, else a Long or BigInteger.
        if (value instanceof Long || value instanceof BigInteger) {
            throw badRequest(where + field + " " + value + " is out of range (at most " + Integer.MAX_VALUE + ")");
        }
        if (!(value instanceof Integer i)) {
            throw badRequest(where + field + " must be a whole number, not " + jsonType(value) + " " + Json.encode(value));
        }
        return i;
    }

    /** An array field, or null when it is missing or null. */
    static JsonArray optionalArray(JsonObject json, String field, String where) {
        Object value = json.getValue(field);
        if (value == null) {
            return null;
        }
        if (!(value instanceof JsonArray array)) {
            throw badRequest(where + field + " must be an array, not " + jsonType(value));
        }
        return array;
    }

    /** Element {@code i} of {@code array}, which must be an object. */
    static JsonObject objectAt(JsonArray array, int i, String where) {
        Object value = array.getValue(i);
        if (!(value instanceof JsonObject object)) {
            throw badRequest(where + " must be an object, not " + jsonType(value));
        }
        return object;
    }

    static String jsonType(Object json) {
        if (json == null) {
            return "null";
        }
        if (json instanceof JsonObject) {
            return "an object";
        }
        if (json instanceof JsonArray) {
            return "an array";
        }
        if (json instanceof String) {
            return "a string";
        }
        if (json instanceof Boolean) {
            return "a boolean";
        }
        return "a number";
    }

    /** Jackson's "[Source: (an internal stream); line: 1, column: 5]", of which a client needs the position. */
    private static final Pattern SOURCE = Pattern.compile("\\[Source: [^\\]]*?; (line: \\d+, column: \\d+\\])");

    /** The parser's complaint on one line, without where it read from (an internal buffer, of no use to a client). */
    static String parserMessage(DecodeException e) {
        String m = e.getMessage() == null ? "" : e.getMessage();
        if (m.startsWith("Failed to decode:")) {
            m = m.substring("Failed to decode:".length());
        }
        return SOURCE.matcher(m).replaceAll("[$1").replaceAll("\\s+", " ").trim();
    }

    static HttpApiException badRequest(String message) {
        return new HttpApiException(ErrorCodes.BAD_REQUEST, message);
    }
}

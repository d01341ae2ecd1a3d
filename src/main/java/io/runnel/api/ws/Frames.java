package io.runnel.api.ws;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.Record;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;

import io.runnel.broker.BrokerService;
import io.runnel.registry.SchemaRegistry;
import io.runnel.registry.WireFormat;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * The WebSocket wire contract in one place (DESIGN.md, "WebSocket"): every frame either side
 * sends, how it is read and how it is written. All frames are JSON text frames.
 *
 * <h2>Server → client</h2>
 * <ul>
 *   <li>{@code record}: one record, {@code {"type":"record","topic","partition","offset","timestamp",
 *       "key","value","headers":{name:value}}}. With {@code format=binary} key, value and header
 *       values are base64 (null stays null). With {@code format=json} a key or value that is JSON
 *       text is given as that JSON, other UTF-8 text as a string, and bytes that are not UTF-8 as
 *       base64 with {@code "key_encoding":"base64"} / {@code "value_encoding":"base64"} beside them
 *       (Avro values become JSON once the registry exists); header values are UTF-8 strings (base64
 *       when they are not UTF-8). A header name that repeats keeps its last value: a JSON object
 *       holds one value per name.</li>
 *   <li>{@code assignment}: the partitions the subscription reads from now on and where each
 *       starts, {@code {"type":"assignment","partitions":[{"partition":p,"offset":o}]}}; sent when
 *       a subscription starts and after every rebalance of a group ({@code []} while the group
 *       rebalances). Records of a partition follow its entry. An addition to DESIGN.md's list: a
 *       client needs it to know what it may ack, and that "latest" has been fixed.</li>
 *   <li>{@code receipt}: a produced message was written, {@code {"type":"receipt","id","partition","offset"}}.</li>
 *   <li>{@code error}: {@code {"type":"error","error_code":N,"message":"…"}}, with {@code "id"} when it
 *       answers a client frame (the frame's {@code id}, null when it had none or could not be
 *       read) and {@code "partition"} when it concerns one partition. Codes: {@link WsErrorCodes}.</li>
 * </ul>
 *
 * <h2>Client → server on a subscribe socket</h2>
 * <ul>
 *   <li>{@code {"type":"ack","partition":p,"offset":o}}: commits {@code o + 1} for the group.</li>
 *   <li>{@code {"type":"credit","records":n}}: grants n more records (0 ≤ n).</li>
 *   <li>{@code {"type":"seek","partition":p,"offset":o}}: the next record of p is o.</li>
 * </ul>
 * Each may carry an {@code "id"} (string or number), echoed in an error frame that answers it.
 *
 * <h2>Client → server on a produce socket</h2>
 * {@code {"id","key","value","headers":{name:value},"partition","timestamp"}}, every field optional
 * ({@code timestamp}, milliseconds, is our addition to DESIGN.md's list; without it the broker's
 * clock stamps the record). With {@code format=json} (the default) key and value are any JSON,
 * stored as their compact JSON text in UTF-8, as the HTTP API's json format stores them, so a
 * json subscriber reads back what was sent; header values are strings stored as UTF-8. With
 * {@code format=binary} key, value and header values are base64.
 *
 * <p>Strict reading: an unknown field or type is refused rather than ignored, so a misspelt field
 * never silently does nothing. Stateless and thread-safe.
 */
final class Frames {

    static final String RECORD = "record";
    static final String ASSIGNMENT = "assignment";
    static final String RECEIPT = "receipt";
    static final String ERROR = "error";
    static final String ACK = "ack";
    static final String CREDIT = "credit";
    static final String SEEK = "seek";

    /** Close status when a subscription cannot start (unknown topic, bad query): after its error frame. */
    static final short CLOSE_REFUSED = 1008;
    /** Close status when the broker shuts down or the peer stopped answering pings. */
    static final short CLOSE_GOING_AWAY = 1001;

    private static final Set<String> ACK_FIELDS = Set.of("type", "id", "partition", "offset");
    private static final Set<String> CREDIT_FIELDS = Set.of("type", "id", "records");
    private static final Set<String> SEEK_FIELDS = Set.of("type", "id", "partition", "offset");
    private static final Set<String> PRODUCE_FIELDS = Set.of("id", "key", "value", "headers", "partition", "timestamp");
    private static final JsonFactory JSON = new JsonFactory();
    private static final JsonStringEncoder QUOTER = JsonStringEncoder.getInstance();

    /** How keys, values and header values are shown and read. */
    enum Format {
        JSON, BINARY;

        static Format parse(String raw) {
            return switch (raw.toLowerCase(Locale.ROOT)) {
                case "json" -> JSON;
                case "binary" -> BINARY;
                default -> throw new WsException(WsErrorCodes.BAD_REQUEST,
                        "Query parameter format must be json or binary, not '" + raw + "'");
            };
        }
    }

    /** A frame a subscriber sends. {@code id} is the client's correlation id, or null. */
    sealed interface SubscriberFrame permits Ack, Credit, Seek {
        Object id();
    }

    record Ack(Object id, int partition, long offset) implements SubscriberFrame {
    }

    record Credit(Object id, long records) implements SubscriberFrame {
    }

    record Seek(Object id, int partition, long offset) implements SubscriberFrame {
    }

    private Frames() {
    }

    // ---------------------------------------------------------------- reading

    /** The frame as a JSON object, or a 400. */
    static JsonObject object(String text) {
        try {
            Object value = io.vertx.core.json.Json.decodeValue(text);
            if (value instanceof JsonObject o) {
                return o;
            }
            throw new WsException(WsErrorCodes.BAD_REQUEST, "A frame must be a JSON object, not " + jsonType(value));
        } catch (DecodeException e) {
            throw new WsException(WsErrorCodes.BAD_REQUEST, "A frame must be a JSON object: " + firstLine(e.getMessage()));
        }
    }

    /** The frame's {@code id}: a string, a number or absent; another type is a 400. */
    static Object id(JsonObject frame) {
        Object id = frame.getValue("id");
        if (id == null || id instanceof String || id instanceof Number) {
            return id;
        }
        throw new WsException(WsErrorCodes.BAD_REQUEST, "Field id must be a string or a number, not " + jsonType(id));
    }

    /** Reads a subscriber's frame; {@code id} is already read from it (see {@link #id}). */
    static SubscriberFrame subscriberFrame(JsonObject frame, Object id) {
        Object type = frame.getValue("type");
        if (!(type instanceof String name)) {
            throw new WsException(type == null ? WsErrorCodes.UNPROCESSABLE_ENTITY : WsErrorCodes.BAD_REQUEST,
                    "A frame needs a \"type\" string: ack, credit or seek");
        }
        return switch (name) {
            case ACK -> {
                onlyFields(frame, ACK_FIELDS);
                yield new Ack(id, (int) whole(frame, "partition", Integer.MAX_VALUE), whole(frame, "offset", Long.MAX_VALUE - 1));
            }
            case CREDIT -> {
                onlyFields(frame, CREDIT_FIELDS);
                yield new Credit(id, whole(frame, "records", Long.MAX_VALUE));
            }
            case SEEK -> {
                onlyFields(frame, SEEK_FIELDS);
                yield new Seek(id, (int) whole(frame, "partition", Integer.MAX_VALUE), whole(frame, "offset", Long.MAX_VALUE));
            }
            default -> throw new WsException(WsErrorCodes.UNPROCESSABLE_ENTITY,
                    "Unknown frame type '" + name + "': a subscriber sends ack, credit or seek");
        };
    }

    /** Reads a produce message into a record for the broker service. */
    static BrokerService.ProduceRecord produceRecord(JsonObject message, Format format) {
        onlyFields(message, PRODUCE_FIELDS);
        Integer partition = message.getValue("partition") == null ? null
                : (int) whole(message, "partition", Integer.MAX_VALUE);
        Long timestamp = message.getValue("timestamp") == null ? null : whole(message, "timestamp", Long.MAX_VALUE);
        return new BrokerService.ProduceRecord(payload(message, "key", format), payload(message, "value", format),
                headers(message, format), partition, timestamp);
    }

    private static byte[] payload(JsonObject message, String field, Format format) {
        if (!message.containsKey(field) || message.getValue(field) == null) {
            return null;
        }
        Object value = message.getValue(field);
        if (format == Format.BINARY) {
            return base64(value, field);
        }
        // Compact JSON text, as the HTTP API's json format stores it.
        return io.vertx.core.json.Json.encode(value).getBytes(StandardCharsets.UTF_8);
    }

    private static Header[] headers(JsonObject message, Format format) {
        Object raw = message.getValue("headers");
        if (raw == null) {
            return null;
        }
        if (!(raw instanceof JsonObject headers)) {
            throw new WsException(WsErrorCodes.BAD_REQUEST, "Field headers must be an object of name to value, not "
                    + jsonType(raw));
        }
        List<Header> out = new ArrayList<>(headers.size());
        for (Map.Entry<String, Object> h : headers) {
            Object value = h.getValue();
            String field = "headers." + h.getKey();
            byte[] bytes;
            if (value == null) {
                bytes = null;
            } else if (format == Format.BINARY) {
                bytes = base64(value, field);
            } else if (value instanceof String s) {
                bytes = s.getBytes(StandardCharsets.UTF_8);
            } else {
                throw new WsException(WsErrorCodes.BAD_REQUEST, "Field " + field + " must be a string or null, not "
                        + jsonType(value));
            }
            out.add(new RecordHeader(h.getKey(), bytes));
        }
        return out.toArray(new Header[0]);
    }

    private static byte[] base64(Object value, String field) {
        if (!(value instanceof String s)) {
            throw new WsException(WsErrorCodes.BAD_REQUEST, "Field " + field + " must be a base64 string with format=binary,"
                    + " not " + jsonType(value));
        }
        try {
            return Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            throw new WsException(WsErrorCodes.UNPROCESSABLE_ENTITY, "Field " + field + " is not base64: " + e.getMessage());
        }
    }

    /** A required whole number in {@code [0, max]}: not a number is a 400, a fraction or out of range a 422. */
    private static long whole(JsonObject frame, String field, long max) {
        Object value = frame.getValue(field);
        if (value == null) {
            throw new WsException(WsErrorCodes.UNPROCESSABLE_ENTITY, "Field " + field + " is missing");
        }
        if (!(value instanceof Number n)) {
            throw new WsException(WsErrorCodes.BAD_REQUEST, "Field " + field + " must be a number, not " + jsonType(value));
        }
        BigDecimal exact = n instanceof BigDecimal d ? d : n instanceof BigInteger i ? new BigDecimal(i)
                : n instanceof Double || n instanceof Float ? BigDecimal.valueOf(n.doubleValue()) : BigDecimal.valueOf(n.longValue());
        if (exact.signum() < 0 || exact.compareTo(BigDecimal.valueOf(max)) > 0 || exact.stripTrailingZeros().scale() > 0) {
            throw new WsException(WsErrorCodes.UNPROCESSABLE_ENTITY, "Field " + field + " must be a whole number from 0 to "
                    + max + ", not " + value);
        }
        return exact.longValue();
    }

    private static void onlyFields(JsonObject frame, Set<String> allowed) {
        for (String name : frame.fieldNames()) {
            if (!allowed.contains(name)) {
                throw new WsException(WsErrorCodes.UNPROCESSABLE_ENTITY, "Unknown field '" + name + "': expected "
                        + new java.util.TreeSet<>(allowed));
            }
        }
    }

    static String jsonType(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof JsonObject || value instanceof Map) {
            return "an object";
        }
        if (value instanceof JsonArray || value instanceof List) {
            return "an array";
        }
        if (value instanceof String) {
            return "a string";
        }
        if (value instanceof Number) {
            return "a number";
        }
        if (value instanceof Boolean) {
            return "a boolean";
        }
        return value.getClass().getSimpleName();
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "not JSON";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }

    // ---------------------------------------------------------------- writing

    /**
     * A record frame. Written by hand rather than through a JsonObject: a JSON value is spliced in
     * as the text it already is (checked, not parsed into objects and encoded again), which is
     * most of the work of a subscription.
     */
    static String record(String topic, int partition, Record r, Format format) {
        return record(topic, partition, r, format, null);
    }

    /**
     * A record frame; with {@code format=json} and a registry, keys and values in the schema wire
     * format of a registered schema are shown as their Avro JSON (anything else as before).
     */
    static String record(String topic, int partition, Record r, Format format, SchemaRegistry registry) {
        StringBuilder b = new StringBuilder(96 + topic.length() + 2 * (Math.max(0, r.keySize()) + Math.max(0, r.valueSize())));
        b.append("{\"type\":\"record\",\"topic\":");
        quote(b, topic);
        b.append(",\"partition\":").append(partition)
                .append(",\"offset\":").append(r.offset())
                .append(",\"timestamp\":").append(r.timestamp())
                .append(",\"key\":");
        boolean keyBase64 = payload(b, r.key(), format, registry);
        b.append(",\"value\":");
        boolean valueBase64 = payload(b, r.value(), format, registry);
        b.append(",\"headers\":{");
        Header[] headers = r.headers();
        for (int i = 0; i < headers.length; i++) {
            if (i > 0) {
                b.append(',');
            }
            quote(b, headers[i].key());
            b.append(':');
            headerValue(b, headers[i].value(), format);
        }
        b.append('}');
        if (keyBase64) {
            b.append(",\"key_encoding\":\"base64\"");
        }
        if (valueBase64) {
            b.append(",\"value_encoding\":\"base64\"");
        }
        return b.append('}').toString();
    }

    /** Appends a key or value; true when JSON format had to fall back to base64 (bytes that are not UTF-8). */
    private static boolean payload(StringBuilder b, ByteBuffer bytes, Format format, SchemaRegistry registry) {
        if (bytes == null) {
            b.append("null");
            return false;
        }
        byte[] raw = new byte[bytes.remaining()];
        bytes.duplicate().get(raw);
        if (format == Format.BINARY) {
            b.append('"').append(Base64.getEncoder().encodeToString(raw)).append('"');
            return false;
        }
        if (registry != null && WireFormat.looksLikeWireFormat(raw)) {
            try {
                b.append(WireFormat.toJson(registry, raw));
                return false;
            } catch (IllegalArgumentException notAvro) {
                // not a registered schema's record after all: shown like any other bytes below
            }
        }
        String text = utf8(raw);
        if (text == null) {
            b.append('"').append(Base64.getEncoder().encodeToString(raw)).append('"');
            return true;
        }
        if (isJson(text)) {
            b.append(text.strip());
        } else {
            quote(b, text);
        }
        return false;
    }

    private static void headerValue(StringBuilder b, byte[] value, Format format) {
        if (value == null) {
            b.append("null");
            return;
        }
        String text = format == Format.JSON ? utf8(value) : null;
        if (text != null) {
            quote(b, text);
        } else {
            b.append('"').append(Base64.getEncoder().encodeToString(value)).append('"');
        }
    }

    /** The bytes as UTF-8 text, or null when they are not valid UTF-8. */
    private static String utf8(byte[] raw) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        try {
            CharBuffer chars = decoder.decode(ByteBuffer.wrap(raw));
            return chars.toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** Whether {@code text} is exactly one JSON value (strict JSON: no comments, no NaN, nothing after it). */
    static boolean isJson(String text) {
        // Most text that is not JSON fails on its first character; only try the parser when it could be.
        String s = text.stripLeading();
        if (s.isEmpty()) {
            return false;
        }
        char first = s.charAt(0);
        if ("{[\"-0123456789tfn".indexOf(first) < 0) {
            return false;
        }
        try (JsonParser parser = JSON.createParser(s)) {
            JsonToken token = parser.nextToken();
            if (token == null) {
                return false;
            }
            parser.skipChildren();
            if (token == JsonToken.VALUE_STRING) {
                parser.getText(); // a string's escapes are checked only when it is read
            }
            return parser.nextToken() == null;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static void quote(StringBuilder b, String text) {
        b.append('"');
        QUOTER.quoteAsString(text, b);
        b.append('"');
    }

    static String assignment(Map<Integer, Long> startOffsets) {
        JsonArray partitions = new JsonArray();
        startOffsets.forEach((p, o) -> partitions.add(new JsonObject().put("partition", p).put("offset", o)));
        return new JsonObject().put("type", ASSIGNMENT).put("partitions", partitions).encode();
    }

    static String receipt(Object id, int partition, long offset) {
        return new JsonObject().put("type", RECEIPT).put("id", id).put("partition", partition).put("offset", offset).encode();
    }

    /** An error frame; {@code id} is included when {@code withId}, {@code partition} when not null. */
    static String error(WsException error, boolean withId, Object id, Integer partition) {
        JsonObject frame = new JsonObject().put("type", ERROR);
        if (withId) {
            frame.put("id", id);
        }
        if (partition != null) {
            frame.put("partition", partition);
        }
        return frame.put("error_code", error.errorCode()).put("message", error.getMessage()).encode();
    }
}

package io.runnel.api.http;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.Set;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;

import io.runnel.broker.BrokerService;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import static io.runnel.api.http.V3Json.badRequest;
import static io.runnel.api.http.V3Json.jsonType;

/**
 * Reads one record of a v3 produce request ({@code POST /v3/clusters/{c}/topics/{t}/records}) into
 * the broker's record, or refuses it with {@link ErrorCodes#BAD_REQUEST} and a message naming the
 * field; and writes the answer for a record that was written.
 *
 * <p>Wire format of a record (Confluent REST Proxy v3):
 * <pre>{@code
 * {"partition_id": 0,                                  // optional, 0 ≤ p < partition count
 *  "headers": [{"name": "h", "value": "base64"|null}],  // optional
 *  "key":   {"type": "BINARY"|"JSON"|"STRING", "data": …},   // optional
 *  "value": {"type": …, "data": …},                          // optional
 *  "timestamp": "2024-05-01T12:00:00Z" | 1714564800000}      // optional, ISO-8601 with a zone, or epoch ms
 * }</pre>
 * By type, {@code data} is stored as: BINARY, the bytes a base64 (RFC 4648 basic) string
 * encodes; JSON, the compact JSON text of any JSON value in UTF-8 (as v2 stores it); STRING, a
 * string's UTF-8 bytes. {@code data} missing or null is a null key or value. {@code type} is
 * required: Confluent infers a missing type from the schema registry, which this broker's v3
 * produce does not consult yet, so guessing would change meaning later. Schema fields
 * ({@code schema_id}, {@code subject}, …) are refused with that explanation; any other unknown
 * field is refused as unrecognized.
 *
 * <p>Answer of a written record: {@code {"error_code":200,"cluster_id","topic_name","partition_id",
 * "offset","timestamp" (ISO-8601),"key":{"type","size"}|null,"value":{"type","size"}|null}}, where
 * {@code size} is the stored byte count (0 for null data) and {@code key}/{@code value} are null
 * when the request had none. A record without a timestamp is stamped with the broker's clock here,
 * so the answer can report it (on a {@code LogAppendTime} topic the log stamps its own time, which
 * the answer does not see).
 *
 * <p>Stateless and thread-safe.
 */
final class V3Records {

    /**
     * The {@code error_code} of a record that was written: not an error, but Confluent gives every
     * answer of a stream a code so a client tells them apart the same way. (Kept out of
     * {@link ErrorCodes}, whose every code is a 4xx or 5xx.)
     */
    static final int PRODUCED = 200;

    /** How a key or value's {@code data} becomes bytes. */
    enum DataType { BINARY, JSON, STRING }

    /** One record read from a request, with what its answer reports. */
    record Parsed(BrokerService.ProduceRecord record, DataType keyType, DataType valueType, long timestampMs) {

        /** A bound on the bytes this record takes in a batch: data, headers and Kafka's per-record overhead. */
        int estimatedBytes() {
            int bytes = 32 + length(record.key()) + length(record.value());
            if (record.headers() != null) {
                for (Header h : record.headers()) {
                    bytes += 16 + h.key().length() * 4 + length(h.value());
                }
            }
            return bytes;
        }
    }

    private static final Set<String> RECORD_FIELDS = Set.of("partition_id", "headers", "key", "value", "timestamp");
    private static final Set<String> DATA_FIELDS = Set.of("type", "data");
    /** Confluent's schema-based fields of a key or value; refused with a reason, not as unknown. */
    private static final Set<String> SCHEMA_FIELDS = Set.of("subject", "subject_name_strategy", "schema_id",
            "schema_version", "schema", "raw_schema");
    private static final Set<String> HEADER_FIELDS = Set.of("name", "value");

    private V3Records() {
    }

    /**
     * The record that {@code json} (one JSON object's bytes) describes.
     *
     * @param partitionCount the topic's partition count now: a {@code partition_id} beyond it is refused
     *                       here, before it can fail a batch it shares with other records
     * @param nowMs          the timestamp of a record that gives none
     * @throws HttpApiException a 400 saying what is wrong with the record
     */
    static Parsed parse(Buffer json, String topic, int partitionCount, long nowMs) {
        JsonObject record;
        try {
            Object decoded = Json.decodeValue(json);
            if (!(decoded instanceof JsonObject object)) {
                throw badRequest("A record must be a JSON object, not " + jsonType(decoded));
            }
            record = object;
        } catch (DecodeException e) {
            throw badRequest("The record is not valid JSON: " + V3Json.parserMessage(e));
        }
        V3Json.allowOnly(record, RECORD_FIELDS, "");
        Integer partition = V3Json.optionalInt(record, "partition_id", "");
        if (partition != null && partition < 0) {
            throw badRequest("partition_id must be at least 0 (was " + partition + ")");
        }
        if (partition != null && partition >= partitionCount) {
            throw badRequest("partition_id " + partition + " does not exist: topic '" + topic + "' has "
                    + partitionCount + " partition(s), numbered from 0");
        }
        Header[] headers = headersOf(V3Json.optionalArray(record, "headers", ""));
        DataType keyType = typeOf(record.getValue("key"), "key");
        DataType valueType = typeOf(record.getValue("value"), "value");
        byte[] key = keyType == null ? null : bytesOf(keyType, (JsonObject) record.getValue("key"), "key");
        byte[] value = valueType == null ? null : bytesOf(valueType, (JsonObject) record.getValue("value"), "value");
        long timestampMs = timestampOf(record.getValue("timestamp"), nowMs);
        return new Parsed(new BrokerService.ProduceRecord(key, value, headers, partition, timestampMs),
                keyType, valueType, timestampMs);
    }

    /** The answer for {@code parsed}, written to {@code partition} at {@code offset}. */
    static JsonObject produced(String clusterId, String topic, Parsed parsed, int partition, long offset) {
        return new JsonObject()
                .put("error_code", PRODUCED)
                .put("cluster_id", clusterId)
                .put("topic_name", topic)
                .put("partition_id", partition)
                .put("offset", offset)
                .put("timestamp", Instant.ofEpochMilli(parsed.timestampMs()).toString())
                .put("key", dataJson(parsed.keyType(), parsed.record().key()))
                .put("value", dataJson(parsed.valueType(), parsed.record().value()));
    }

    /** The answer for a record that was not written. */
    static JsonObject failed(HttpApiException error) {
        return new JsonObject().put("error_code", error.errorCode()).put("message", error.getMessage());
    }

    private static JsonObject dataJson(DataType type, byte[] bytes) {
        return type == null ? null : new JsonObject().put("type", type.name()).put("size", length(bytes));
    }

    /** The type of a key or value; null when the record has none (missing or JSON null). */
    private static DataType typeOf(Object json, String where) {
        if (json == null) {
            return null;
        }
        if (!(json instanceof JsonObject data)) {
            throw badRequest(where + " must be an object {\"type\":\"BINARY|JSON|STRING\",\"data\":…}, not " + jsonType(json));
        }
        for (String field : data.fieldNames()) {
            if (SCHEMA_FIELDS.contains(field)) {
                throw badRequest(where + "." + field + ": schema-based formats are not supported by v3 produce yet;"
                        + " use type BINARY, JSON or STRING");
            }
        }
        V3Json.allowOnly(data, DATA_FIELDS, where + ".");
        String type = V3Json.optionalString(data, "type", where + ".");
        if (type == null) {
            throw badRequest(where + ".type is required: BINARY, JSON or STRING");
        }
        try {
            return DataType.valueOf(type);
        } catch (IllegalArgumentException e) {
            throw badRequest(where + ".type '" + type + "' is not supported: use BINARY, JSON or STRING");
        }
    }

    private static byte[] bytesOf(DataType type, JsonObject json, String where) {
        Object data = json.getValue("data");
        if (data == null) {
            return null;
        }
        return switch (type) {
            case JSON -> Json.encode(data).getBytes(StandardCharsets.UTF_8);
            case STRING -> {
                if (!(data instanceof String s)) {
                    throw badRequest(where + ".data must be a string for type STRING, not " + jsonType(data));
                }
                yield s.getBytes(StandardCharsets.UTF_8);
            }
            case BINARY -> base64(data, where + ".data");
        };
    }

    private static Header[] headersOf(JsonArray json) {
        if (json == null) {
            return null;
        }
        Header[] headers = new Header[json.size()];
        for (int i = 0; i < json.size(); i++) {
            String where = "headers[" + i + "]";
            JsonObject header = V3Json.objectAt(json, i, where);
            V3Json.allowOnly(header, HEADER_FIELDS, where + ".");
            String name = V3Json.requiredString(header, "name", where + ".");
            Object value = header.getValue("value");
            headers[i] = new RecordHeader(name, value == null ? null : base64(value, where + ".value"));
        }
        return headers;
    }

    private static byte[] base64(Object json, String where) {
        if (!(json instanceof String text)) {
            throw badRequest(where + " must be a base64 string, not " + jsonType(json));
        }
        try {
            return Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            throw badRequest(where + " is not valid base64: " + e.getMessage());
        }
    }

    private static long timestampOf(Object json, long nowMs) {
        if (json == null) {
            return nowMs;
        }
        if (json instanceof String text) {
            try {
                return OffsetDateTime.parse(text).toInstant().toEpochMilli();
            } catch (DateTimeParseException | ArithmeticException e) {
                throw badRequest("timestamp '" + text + "' is not an ISO-8601 date-time with a zone"
                        + " (such as 2024-05-01T12:00:00.000Z) or epoch milliseconds");
            }
        }
        if (json instanceof Integer || json instanceof Long) {
            long ms = ((Number) json).longValue();
            if (ms < 0) {
                throw badRequest("timestamp must be at least 0 epoch milliseconds (was " + ms + ")");
            }
            return ms;
        }
        String shown = json instanceof BigInteger ? json.toString() : jsonType(json) + " " + Json.encode(json);
        throw badRequest("timestamp must be an ISO-8601 string or epoch milliseconds, not " + shown);
    }

    private static int length(byte[] bytes) {
        return bytes == null ? 0 : bytes.length;
    }
}

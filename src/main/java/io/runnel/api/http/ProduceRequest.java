package io.runnel.api.http;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import io.runnel.broker.BrokerService;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import static io.runnel.api.http.V3Json.badRequest;
import static io.runnel.api.http.V3Json.jsonType;
import static io.runnel.api.http.V3Json.parserMessage;

/**
 * Reads a Confluent REST Proxy v2 produce request into the broker's records, or refuses it with
 * the error Confluent's proxy would give.
 *
 * <p>Wire format: {@code {"records":[{"key":K,"value":V,"partition":P}, …]}}. {@code key} and
 * {@code partition} may be left out ({@code partition} may not appear at all when the partition is
 * in the path, as in Confluent's); {@code key_schema}, {@code key_schema_id},
 * {@code value_schema} and {@code value_schema_id} are accepted at the top: the AVRO format uses
 * them ({@link #parseAvro}), the others ignore them, as Confluent does for schemaless formats.
 * Any other field is refused, so a misspelt field (or v3's
 * {@code headers}, which v2 does not have) is never silently dropped. By {@link EmbeddedFormat}:
 * <ul>
 *   <li>JSON: K and V are any JSON; each is stored as its compact JSON text in UTF-8 (a string
 *       keeps its quotes, so a JSON consumer reads back what was sent; a fraction goes through a
 *       double, as in Confluent's proxy). The key's text is what the partitioner hashes. JSON
 *       {@code null} or a missing field is a null key or value (a tombstone), not the text
 *       {@code null}.</li>
 *   <li>BINARY: K and V are base64 (RFC 4648 basic alphabet) strings, stored as the bytes they
 *       encode; {@code null} or missing is null.</li>
 * </ul>
 *
 * <p>Refusals, as in Confluent's proxy (rest-utils): not JSON, or a field of the wrong JSON type,
 * is {@link ErrorCodes#BAD_REQUEST}; JSON of the right shape that breaks a rule (no records, an
 * unknown field, bad base64, a negative partition) is {@link ErrorCodes#UNPROCESSABLE_ENTITY}.
 * Messages name the record ({@code records[2].value}). A partition beyond the topic's count is
 * left to the broker, which knows the count.
 *
 * <p>Stateless and thread-safe; the body is bounded by the HTTP API's body limit before it gets here.
 */
final class ProduceRequest {

    /** The embedded formats served, by Content-Type; Confluent's JSON Schema and Protobuf are not yet. */
    enum EmbeddedFormat {
        JSON("application/vnd.kafka.json.v2+json"),
        BINARY("application/vnd.kafka.binary.v2+json"),
        /** Keys and values are JSON that is encoded to Avro with a schema of the registry ({@link AvroFormat}). */
        AVRO("application/vnd.kafka.avro.v2+json");

        final String contentType;

        EmbeddedFormat(String contentType) {
            this.contentType = contentType;
        }

        /** The format a Content-Type header names (parameters such as charset ignored), or a 415. */
        static EmbeddedFormat ofContentType(String header) {
            if (header == null || header.isBlank()) {
                throw new HttpApiException(ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
                        "A produce request needs a Content-Type: " + supported());
            }
            int semicolon = header.indexOf(';');
            String type = (semicolon < 0 ? header : header.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
            for (EmbeddedFormat f : values()) {
                if (f.contentType.equals(type)) {
                    return f;
                }
            }
            throw new HttpApiException(ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
                    "Content-Type '" + type + "' is not supported for produce: " + supported());
        }

        private static String supported() {
            return "use " + JSON.contentType + " (keys and values are JSON), " + BINARY.contentType
                    + " (keys and values are base64) or " + AVRO.contentType + " (keys and values are JSON, stored as"
                    + " Avro with a schema of the registry)";
        }
    }

    private static final Set<String> REQUEST_FIELDS =
            Set.of("records", "key_schema", "key_schema_id", "value_schema", "value_schema_id");
    private static final Set<String> RECORD_FIELDS = Set.of("key", "value", "partition");
    private static final Set<String> RECORD_FIELDS_NO_PARTITION = Set.of("key", "value");

    /** A record of the request before its key and value become bytes: JSON values, null when absent. */
    record JsonRecord(Object key, Object value, Integer partition) {
    }

    /** Where an Avro key or value schema comes from: its text (registered on use) or its id. Exactly one is set. */
    record SchemaSource(String schema, Integer id) {
    }

    /**
     * An Avro produce request: the key and value schemas (null when the request gives none) and
     * the records, still JSON.
     */
    record AvroRequest(SchemaSource keySchema, SchemaSource valueSchema, List<JsonRecord> records) {
    }

    private ProduceRequest() {
    }

    /**
     * The records and schemas of an AVRO request. Beyond the common rules: a schema is text
     * ({@code *_schema}, a string) or an id ({@code *_schema_id}, a whole number), not both; a
     * record with a key needs a key schema (Confluent's 42201), one with a value a value schema
     * (42202).
     *
     * @throws HttpApiException a 400 or 422 saying what is wrong with the body
     */
    static AvroRequest parseAvro(Buffer body, Integer pathPartition) {
        JsonObject request = requestOf(body);
        List<JsonRecord> records = jsonRecords(request, pathPartition);
        SchemaSource key = schemaSource(request, "key_schema");
        SchemaSource value = schemaSource(request, "value_schema");
        for (int i = 0; i < records.size(); i++) {
            if (records.get(i).key() != null && key == null) {
                throw new HttpApiException(ErrorCodes.KEY_SCHEMA_MISSING, "Request includes keys but does not include"
                        + " key schema: records[" + i + "].key needs key_schema or key_schema_id");
            }
            if (records.get(i).value() != null && value == null) {
                throw new HttpApiException(ErrorCodes.VALUE_SCHEMA_MISSING, "Request includes values but does not"
                        + " include value schema: records[" + i + "].value needs value_schema or value_schema_id");
            }
        }
        return new AvroRequest(key, value, records);
    }

    private static SchemaSource schemaSource(JsonObject request, String field) {
        Object text = request.getValue(field);
        Object id = request.getValue(field + "_id");
        if (text != null && id != null) {
            throw unprocessable("Give " + field + " or " + field + "_id, not both");
        }
        if (text != null) {
            if (!(text instanceof String schema)) {
                throw badRequest(field + " must be the schema as a JSON string, not " + jsonType(text));
            }
            return new SchemaSource(schema, null);
        }
        if (id != null) {
            if (!(id instanceof Integer schemaId)) {
                throw badRequest(field + "_id must be a whole number, not " + jsonType(id) + " " + Json.encode(id));
            }
            if (schemaId < 0) {
                throw unprocessable(field + "_id must be at least 0 (was " + schemaId + ")");
            }
            return new SchemaSource(null, schemaId);
        }
        return null;
    }

    /**
     * The records of {@code body}, in order. With {@code pathPartition} (the
     * {@code /partitions/{p}} endpoint) every record goes to that partition.
     *
     * @throws HttpApiException a 400 or 422 saying what is wrong with the body
     */
    static List<BrokerService.ProduceRecord> parse(Buffer body, EmbeddedFormat format, Integer pathPartition) {
        if (format == EmbeddedFormat.AVRO) {
            throw new IllegalArgumentException("AVRO requests need their schemas: use parseAvro");
        }
        List<JsonRecord> records = jsonRecords(requestOf(body), pathPartition);
        List<BrokerService.ProduceRecord> out = new ArrayList<>(records.size());
        for (int i = 0; i < records.size(); i++) {
            String where = "records[" + i + "]";
            JsonRecord r = records.get(i);
            out.add(new BrokerService.ProduceRecord(bytesOf(format, r.key(), where + ".key"),
                    bytesOf(format, r.value(), where + ".value"), null, r.partition(), null));
        }
        return out;
    }

    /** The records of a request, their fields checked, keys and values still JSON. */
    private static List<JsonRecord> jsonRecords(JsonObject request, Integer pathPartition) {
        JsonArray records = recordsOf(request);
        List<JsonRecord> out = new ArrayList<>(records.size());
        for (int i = 0; i < records.size(); i++) {
            String where = "records[" + i + "]";
            if (!(records.getValue(i) instanceof JsonObject record)) {
                throw badRequest(where + " must be a JSON object, not " + jsonType(records.getValue(i)));
            }
            Set<String> allowed = pathPartition == null ? RECORD_FIELDS : RECORD_FIELDS_NO_PARTITION;
            for (String field : record.fieldNames()) {
                if (!allowed.contains(field)) {
                    throw unprocessable("Unrecognized field: " + where + "." + field
                            + (field.equals("partition") ? " (the partition is in the path)" : ""));
                }
            }
            Integer partition = pathPartition != null ? pathPartition
                    : partitionOf(record.getValue("partition"), where + ".partition");
            out.add(new JsonRecord(record.getValue("key"), record.getValue("value"), partition));
        }
        return out;
    }

    private static JsonObject requestOf(Buffer body) {
        if (body == null || body.length() == 0) {
            throw badRequest("The request has no body: send {\"records\":[{\"value\":…}, …]}");
        }
        Object root;
        try {
            root = Json.decodeValue(body);
        } catch (DecodeException e) {
            throw badRequest("The body is not valid JSON: " + parserMessage(e));
        }
        if (root == null) {
            throw unprocessable("The request body must not be null: send {\"records\":[{\"value\":…}, …]}");
        }
        if (!(root instanceof JsonObject request)) {
            throw badRequest("The request body must be a JSON object with \"records\", not " + jsonType(root));
        }
        for (String field : request.fieldNames()) {
            if (!REQUEST_FIELDS.contains(field)) {
                throw unprocessable("Unrecognized field: " + field);
            }
        }
        return request;
    }

    private static JsonArray recordsOf(JsonObject request) {
        Object records = request.getValue("records");
        if (records == null) {
            throw unprocessable("records must not be empty (was " + (request.containsKey("records") ? "null" : "missing") + ")");
        }
        if (!(records instanceof JsonArray array)) {
            throw badRequest("records must be a JSON array, not " + jsonType(records));
        }
        if (array.isEmpty()) {
            throw unprocessable("records must not be empty");
        }
        return array;
    }

    private static byte[] bytesOf(EmbeddedFormat format, Object json, String where) {
        if (json == null) {
            return null;
        }
        return switch (format) {
            case JSON -> Json.encode(json).getBytes(StandardCharsets.UTF_8);
            case BINARY -> {
                if (!(json instanceof String base64)) {
                    throw badRequest(where + " must be a base64 string or null, not " + jsonType(json));
                }
                try {
                    yield Base64.getDecoder().decode(base64);
                } catch (IllegalArgumentException e) {
                    throw unprocessable(where + " contains invalid base64 encoding: " + e.getMessage());
                }
            }
            case AVRO -> throw new IllegalArgumentException("AVRO values are encoded with their schema");
        };
    }

    private static Integer partitionOf(Object json, String where) {
        if (json == null) {
            return null;
        }
        // The parser gives an Integer for whole numbers that fit one, else a Long or BigInteger.
        if (json instanceof Long || json instanceof BigInteger) {
            throw badRequest(where + " " + json + " is out of range for a partition number");
        }
        if (!(json instanceof Integer partition)) {
            throw badRequest(where + " must be a whole number, not " + jsonType(json) + " " + Json.encode(json));
        }
        if (partition < 0) {
            throw unprocessable(where + " must be at least 0 (was " + partition + ")");
        }
        return partition;
    }

    private static HttpApiException unprocessable(String message) {
        return new HttpApiException(ErrorCodes.UNPROCESSABLE_ENTITY, message);
    }
}

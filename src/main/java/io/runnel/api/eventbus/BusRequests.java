package io.runnel.api.eventbus;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;

import io.runnel.broker.BrokerService;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * Reads the request bodies of {@link EventBusAddresses} into typed requests, strictly: a body
 * that is not a JSON object or a field of the wrong type is a 400, a missing or unknown field or
 * a value out of range a 422 (as the WebSocket API reads its frames). Stateless and thread-safe.
 */
final class BusRequests {

    /** Kafka's max.poll.records: what a fetch returns at most when it does not say. */
    static final int DEFAULT_FETCH_MAX_RECORDS = 500;
    /** A bound on one reply's size: ten of Kafka's default polls. */
    static final int FETCH_MAX_RECORDS_LIMIT = 5_000;
    /** Kafka's fetch.max.wait.ms: how long a fetch waits for a first record when it does not say. */
    static final long DEFAULT_FETCH_MAX_WAIT_MS = 500;
    /**
     * A fetch may wait at most this long: under the event bus's default request timeout (30 s),
     * so a long poll answers before its requester gives up on it.
     */
    static final long FETCH_MAX_WAIT_MS_LIMIT = 20_000;
    /**
     * The most records one batch produce may hold: twenty of the client's batches (500), and
     * few enough that a batch of small records cannot hold up the API's event loop for long.
     */
    static final int PRODUCE_BATCH_MAX_RECORDS = 10_000;
    /** Kafka's limit on a group id is the topic name rule's length; a longer one is surely a mistake. */
    static final int GROUP_ID_MAX_CHARS = 249;
    /** Kafka's own limit on partitions per topic is far above this; a larger request is surely a typo. */
    static final int PARTITIONS_MAX = 10_000;

    private static final Set<String> PRODUCE_FIELDS = Set.of("topic", "key", "value", "headers", "partition",
            "timestamp", "encoding");
    /** The batch form of a produce: {@code records} instead of one record's fields. */
    private static final Set<String> PRODUCE_BATCH_FIELDS = Set.of("topic", "records", "encoding");
    /** A record of a batch: the single form's record fields (the encoding is the batch's). */
    private static final Set<String> BATCH_RECORD_FIELDS = Set.of("key", "value", "headers", "partition", "timestamp");
    private static final Set<String> FETCH_FIELDS = Set.of("topic", "partition", "offset", "maxRecords", "maxWaitMs",
            "encoding");
    private static final Set<String> SUBSCRIBE_FIELDS = Set.of("topic", "address", "group", "from", "partitions",
            "credit", "encoding");
    private static final Set<String> ADDRESS_FIELDS = Set.of("address");
    private static final Set<String> CREDIT_FIELDS = Set.of("address", "records");
    private static final Set<String> ACK_FIELDS = Set.of("address", "partition", "offset");
    private static final Set<String> TOPIC_FIELDS = Set.of("topic");
    private static final Set<String> CREATE_FIELDS = Set.of("topic", "partitions", "configs");

    /** How keys, values and header values are written in a body. */
    enum Encoding {
        /** UTF-8 text (records sent back flag bytes that are not UTF-8 and give them as base64). */
        STRING,
        /** Base64 of the bytes. */
        BASE64
    }

    /** Where a subscription starts a partition that has no committed offset. */
    enum Start { EARLIEST, LATEST, OFFSET, TIMESTAMP }

    /** {@code value} is the offset for OFFSET, the milliseconds for TIMESTAMP, unused otherwise. */
    record From(Start start, long value) {
    }

    record Produce(String topic, BrokerService.ProduceRecord record) {
    }

    /** The batch form: records in request order, at least one. */
    record ProduceBatch(String topic, List<BrokerService.ProduceRecord> records) {
    }

    record Fetch(String topic, int partition, long offset, int maxRecords, long maxWaitMs, Encoding encoding) {
    }

    /** {@code partitions} and {@code group} may be null; {@code initialCredit} null means unlimited until the first grant. */
    record Subscribe(String topic, String address, String group, From from, List<Integer> partitions,
                     Long initialCredit, Encoding encoding) {
    }

    record Credit(String address, long records) {
    }

    record Ack(String address, int partition, long offset) {
    }

    record CreateTopic(String topic, Integer partitions, Map<String, String> configs) {
    }

    private BusRequests() {
    }

    // ---------------------------------------------------------------- requests

    /** Whether a produce body is the batch form (it has {@code records}); the rest of it is judged by {@link #produceBatch}. */
    static boolean isProduceBatch(Object body) {
        return body instanceof JsonObject o && o.containsKey("records");
    }

    static Produce produce(Object body) {
        JsonObject o = object(body, PRODUCE_FIELDS);
        return new Produce(name(o, "topic"), record(o, encoding(o)));
    }

    /**
     * The batch form: {@code {"topic","records":[{key,value,headers,partition,timestamp}…],
     * "encoding"?}}. Every record is read as the single form reads its one; a refusal names the
     * record ({@code records[3]: …}) and keeps the single form's code.
     */
    static ProduceBatch produceBatch(Object body) {
        JsonObject o = object(body, PRODUCE_BATCH_FIELDS);
        String topic = name(o, "topic");
        Encoding encoding = encoding(o);
        Object raw = o.getValue("records");
        if (!(raw instanceof JsonArray array)) {
            throw wrongType("records", "an array of records", raw);
        }
        if (array.isEmpty() || array.size() > PRODUCE_BATCH_MAX_RECORDS) {
            throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Field records must hold from 1 to "
                    + PRODUCE_BATCH_MAX_RECORDS + " records, not " + array.size());
        }
        List<BrokerService.ProduceRecord> records = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++) {
            try {
                records.add(record(object(array.getValue(i), BATCH_RECORD_FIELDS), encoding));
            } catch (BusException e) {
                throw new BusException(e.errorCode(), "records[" + i + "]: " + e.getMessage());
            }
        }
        return new ProduceBatch(topic, records);
    }

    /** One record's fields, of the single form or of a batch's record. */
    private static BrokerService.ProduceRecord record(JsonObject o, Encoding encoding) {
        Integer partition = o.getValue("partition") == null ? null : (int) whole(o, "partition", Integer.MAX_VALUE);
        Long timestamp = o.getValue("timestamp") == null ? null : whole(o, "timestamp", Long.MAX_VALUE);
        return new BrokerService.ProduceRecord(payload(o, "key", encoding), payload(o, "value", encoding),
                headers(o, encoding), partition, timestamp);
    }

    static Fetch fetch(Object body) {
        JsonObject o = object(body, FETCH_FIELDS);
        int maxRecords = o.getValue("maxRecords") == null ? DEFAULT_FETCH_MAX_RECORDS
                : (int) whole(o, "maxRecords", FETCH_MAX_RECORDS_LIMIT);
        if (maxRecords < 1) {
            throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Field maxRecords must be from 1 to "
                    + FETCH_MAX_RECORDS_LIMIT + ", not 0");
        }
        long maxWaitMs = o.getValue("maxWaitMs") == null ? DEFAULT_FETCH_MAX_WAIT_MS
                : whole(o, "maxWaitMs", FETCH_MAX_WAIT_MS_LIMIT);
        return new Fetch(name(o, "topic"), (int) whole(o, "partition", Integer.MAX_VALUE),
                whole(o, "offset", Long.MAX_VALUE), maxRecords, maxWaitMs, encoding(o));
    }

    static Subscribe subscribe(Object body) {
        JsonObject o = object(body, SUBSCRIBE_FIELDS);
        String address = address(o);
        String group = null;
        if (o.getValue("group") != null) {
            group = string(o, "group");
            if (group.isBlank() || group.length() > GROUP_ID_MAX_CHARS) {
                throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Field group must be a group id of 1 to "
                        + GROUP_ID_MAX_CHARS + " characters, not '" + group + "'");
            }
        }
        List<Integer> partitions = o.getValue("partitions") == null ? null : partitions(o);
        Long credit = o.getValue("credit") == null ? null : whole(o, "credit", Long.MAX_VALUE);
        return new Subscribe(name(o, "topic"), address, group, from(o), partitions, credit, encoding(o));
    }

    /** The address of an unsubscribe request. */
    static String unsubscribe(Object body) {
        return address(object(body, ADDRESS_FIELDS));
    }

    static Credit credit(Object body) {
        JsonObject o = object(body, CREDIT_FIELDS);
        return new Credit(address(o), whole(o, "records", Long.MAX_VALUE));
    }

    static Ack ack(Object body) {
        JsonObject o = object(body, ACK_FIELDS);
        return new Ack(address(o), (int) whole(o, "partition", Integer.MAX_VALUE), whole(o, "offset", Long.MAX_VALUE - 1));
    }

    /** A list request: an empty object or no body at all. */
    static void topicsList(Object body) {
        if (body != null) {
            object(body, Set.of());
        }
    }

    /** The topic a describe or delete request names. */
    static String topic(Object body) {
        return name(object(body, TOPIC_FIELDS), "topic");
    }

    static CreateTopic createTopic(Object body) {
        JsonObject o = object(body, CREATE_FIELDS);
        Integer partitions = null;
        if (o.getValue("partitions") != null) {
            partitions = (int) whole(o, "partitions", PARTITIONS_MAX);
            if (partitions < 1) {
                throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Field partitions must be from 1 to "
                        + PARTITIONS_MAX + ", not 0");
            }
        }
        Map<String, String> configs = new LinkedHashMap<>();
        Object raw = o.getValue("configs");
        if (raw != null) {
            if (!(raw instanceof JsonObject c)) {
                throw wrongType("configs", "an object of name to string", raw);
            }
            for (Map.Entry<String, Object> e : c) {
                if (!(e.getValue() instanceof String s)) {
                    throw wrongType("configs." + e.getKey(), "a string", e.getValue());
                }
                configs.put(e.getKey(), s);
            }
        }
        return new CreateTopic(name(o, "topic"), partitions, configs);
    }

    // ---------------------------------------------------------------- fields

    private static JsonObject object(Object body, Set<String> allowed) {
        if (!(body instanceof JsonObject o)) {
            throw new BusException(BusErrorCodes.BAD_REQUEST, "The body must be a JSON object, not " + jsonType(body));
        }
        for (String name : o.fieldNames()) {
            if (!allowed.contains(name)) {
                throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Unknown field '" + name + "': expected "
                        + (allowed.isEmpty() ? "none" : new TreeSet<>(allowed)));
            }
        }
        return o;
    }

    private static String string(JsonObject o, String field) {
        Object value = o.getValue(field);
        if (value == null) {
            throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Field " + field + " is missing");
        }
        if (!(value instanceof String s)) {
            throw wrongType(field, "a string", value);
        }
        return s;
    }

    /** A required, non-blank name (a topic); the broker judges the rest of Kafka's naming rule. */
    private static String name(JsonObject o, String field) {
        String s = string(o, field);
        if (s.isBlank()) {
            throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Field " + field + " must not be blank");
        }
        return s;
    }

    private static String address(JsonObject o) {
        String address = string(o, "address");
        if (!address.startsWith(EventBusAddresses.SUBSCRIPTION_PREFIX)
                || address.length() == EventBusAddresses.SUBSCRIPTION_PREFIX.length()) {
            throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Field address must start with '"
                    + EventBusAddresses.SUBSCRIPTION_PREFIX + "' and go on (e.g. '"
                    + EventBusAddresses.SUBSCRIPTION_PREFIX + "my-app-1'), not '" + address + "'");
        }
        return address;
    }

    private static Encoding encoding(JsonObject o) {
        if (o.getValue("encoding") == null) {
            return Encoding.STRING;
        }
        return switch (string(o, "encoding")) {
            case "string" -> Encoding.STRING;
            case "base64" -> Encoding.BASE64;
            default -> throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY,
                    "Field encoding must be \"string\" or \"base64\", not '" + o.getValue("encoding") + "'");
        };
    }

    /** {@code "earliest"}, {@code "latest"} (the default: a live tail), an offset (number or digits), {@code "timestamp:{ms}"}. */
    private static From from(JsonObject o) {
        Object raw = o.getValue("from");
        if (raw == null) {
            return new From(Start.LATEST, 0);
        }
        if (raw instanceof Number) {
            return new From(Start.OFFSET, whole(o, "from", Long.MAX_VALUE));
        }
        if (!(raw instanceof String s)) {
            throw wrongType("from", "\"earliest\", \"latest\", an offset or \"timestamp:{ms}\"", raw);
        }
        if (s.equals("earliest")) {
            return new From(Start.EARLIEST, 0);
        }
        if (s.equals("latest")) {
            return new From(Start.LATEST, 0);
        }
        if (s.startsWith("timestamp:")) {
            return new From(Start.TIMESTAMP, digits(s.substring("timestamp:".length()), s));
        }
        return new From(Start.OFFSET, digits(s, s));
    }

    private static long digits(String text, String raw) {
        long n;
        try {
            n = Long.parseLong(text);
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 0) {
            throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Field from must be \"earliest\", \"latest\","
                    + " an offset (a whole number from 0) or \"timestamp:{ms}\", not '" + raw + "'");
        }
        return n;
    }

    private static List<Integer> partitions(JsonObject o) {
        Object raw = o.getValue("partitions");
        if (!(raw instanceof JsonArray array)) {
            throw wrongType("partitions", "an array of partition numbers", raw);
        }
        if (array.isEmpty()) {
            throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Field partitions must name at least one"
                    + " partition; leave it out to read them all");
        }
        TreeSet<Integer> out = new TreeSet<>();
        for (int i = 0; i < array.size(); i++) {
            out.add((int) wholeValue("partitions[" + i + "]", array.getValue(i), Integer.MAX_VALUE));
        }
        return new ArrayList<>(out);
    }

    private static byte[] payload(JsonObject o, String field, Encoding encoding) {
        Object value = o.getValue(field);
        if (value == null) {
            return null;
        }
        return bytes(field, value, encoding);
    }

    private static Header[] headers(JsonObject o, Encoding encoding) {
        Object raw = o.getValue("headers");
        if (raw == null) {
            return null;
        }
        if (!(raw instanceof JsonObject headers)) {
            throw wrongType("headers", "an object of name to value", raw);
        }
        List<Header> out = new ArrayList<>(headers.size());
        for (Map.Entry<String, Object> h : headers) {
            Object value = h.getValue();
            out.add(new RecordHeader(h.getKey(), value == null ? null : bytes("headers." + h.getKey(), value, encoding)));
        }
        return out.toArray(new Header[0]);
    }

    private static byte[] bytes(String field, Object value, Encoding encoding) {
        if (!(value instanceof String s)) {
            throw wrongType(field, encoding == Encoding.BASE64 ? "a base64 string" : "a string", value);
        }
        if (encoding == Encoding.STRING) {
            return s.getBytes(StandardCharsets.UTF_8);
        }
        try {
            return Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Field " + field + " is not base64: " + e.getMessage());
        }
    }

    private static long whole(JsonObject o, String field, long max) {
        Object value = o.getValue(field);
        if (value == null) {
            throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Field " + field + " is missing");
        }
        return wholeValue(field, value, max);
    }

    /** A whole number in {@code [0, max]}: not a number is a 400, a fraction or out of range a 422. */
    private static long wholeValue(String field, Object value, long max) {
        if (!(value instanceof Number n)) {
            throw wrongType(field, "a number", value);
        }
        BigDecimal exact = n instanceof BigDecimal d ? d : n instanceof BigInteger i ? new BigDecimal(i)
                : n instanceof Double || n instanceof Float ? BigDecimal.valueOf(n.doubleValue()) : BigDecimal.valueOf(n.longValue());
        if (exact.signum() < 0 || exact.compareTo(BigDecimal.valueOf(max)) > 0 || exact.stripTrailingZeros().scale() > 0) {
            throw new BusException(BusErrorCodes.UNPROCESSABLE_ENTITY, "Field " + field + " must be a whole number from 0 to "
                    + max + ", not " + value);
        }
        return exact.longValue();
    }

    private static BusException wrongType(String field, String expected, Object value) {
        return new BusException(BusErrorCodes.BAD_REQUEST, "Field " + field + " must be " + expected + ", not "
                + jsonType(value));
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
}

package io.runnel.api.eventbus;

import java.util.List;
import java.util.regex.Pattern;

/**
 * The event bus contract in one place (DESIGN.md, "Event bus"): every address the broker serves,
 * what its request and reply bodies hold, and the messages a subscription sends. All bodies are
 * JSON objects. A refused request is answered with a {@code ReplyException} of type
 * RECIPIENT_FAILURE whose {@code failureCode} is one of the HTTP API's error codes
 * ({@link BusErrorCodes}) and whose message says what was wrong.
 *
 * <h2>Keys, values and headers</h2>
 * A request may carry {@code "encoding"}: {@code "string"} (the default) or {@code "base64"}.
 * <ul>
 *   <li>Produce: with {@code string}, {@code key}, {@code value} and header values are text,
 *       stored as UTF-8; with {@code base64} they are the base64 of the bytes to store.</li>
 *   <li>Records sent back (fetch, subscribe): with {@code base64}, key, value and header values
 *       are base64. With {@code string} they are UTF-8 text, except bytes that are not UTF-8,
 *       which are base64 and flagged: {@code "key_encoding":"base64"},
 *       {@code "value_encoding":"base64"}, {@code "header_encodings":{name:"base64"}}.</li>
 * </ul>
 * A record is {@code {"topic","partition","offset","timestamp","key","value","headers":{name:value}}}
 * (a header name that repeats keeps its last value).
 *
 * <h2>Strictness</h2>
 * A body that is not a JSON object, or a field of the wrong JSON type, is a 400; a missing
 * required field, an unknown field, a number out of range or bad base64 is a 422. An unknown
 * field is refused rather than ignored, so a misspelt one never silently does nothing.
 */
public final class EventBusAddresses {

    /**
     * Produces one record, or a batch of them. One record: {@code {"topic","key"?,"value"?,
     * "headers"?:{name:value},"partition"?,"timestamp"?,"encoding"?}} → {@code {"partition","offset"}}.
     * A batch: {@code {"topic","records":[{"key"?,"value"?,"headers"?,"partition"?,"timestamp"?}…],
     * "encoding"?}} (1 to 10,000 records) → {@code {"offsets":[{"partition","offset"}…]}} in the
     * records' order. A batch is refused whole, nothing written, by anything that would refuse
     * one of its records alone (with the code the single form gives, the message naming the
     * record: {@code records[3]: …}); each partition's records are appended together, in order.
     * Only a failure of the append itself (storage, replicas, leadership) can leave a batch that
     * spans partitions written in some and not others; the request then fails. Acknowledged once
     * durable (acks=all). An unknown topic is created when {@code auto.create.topics.enable} is on.
     */
    public static final String PRODUCE = "runnel.produce";
    /**
     * Reads one partition from an offset, waiting up to {@code maxWaitMs} for a first record.
     * {@code {"topic","partition","offset","maxRecords"?,"maxWaitMs"?,"encoding"?}} →
     * {@code {"records":[record…],"nextOffset","highWatermark","logStartOffset"}}.
     */
    public static final String FETCH = "runnel.fetch";
    /**
     * Starts a subscription whose messages go to {@code address} (which must start with
     * {@link #SUBSCRIPTION_PREFIX}). {@code {"topic","address","group"?,"from"?,"partitions"?,
     * "credit"?,"encoding"?}} → {@code {"subscription","address","partitions":[…]}}. See
     * {@link BusSubscription} for {@code from}, groups and credit.
     */
    public static final String SUBSCRIBE = "runnel.subscribe";
    /** Ends the subscription on {@code address}. {@code {"address"}} → {@code {"subscription","recordsSent"}}. */
    public static final String UNSUBSCRIBE = "runnel.unsubscribe";
    /**
     * Grants a subscription more records (flow control; our addition to DESIGN.md's list).
     * {@code {"address","records"}} → {@code {"credit"}}, the credit it now has. The first grant
     * switches a subscription started without {@code credit} from unlimited to counted credit.
     */
    public static final String CREDIT = "runnel.credit";
    /**
     * Commits {@code offset + 1} of a partition for the subscription's group (our addition, the
     * WebSocket API's {@code ack}). {@code {"address","partition","offset"}} → {@code {}}.
     */
    public static final String ACK = "runnel.ack";
    /** Topic names, sorted. {@code {}} (or no body) → {@code {"topics":[name…]}}. */
    public static final String TOPICS_LIST = "runnel.admin.topics.list";
    /**
     * Creates a topic. {@code {"topic","partitions"?,"configs"?:{name:value}}} → as
     * {@link #TOPICS_DESCRIBE}. Without {@code partitions}, the broker's {@code num.partitions}.
     */
    public static final String TOPICS_CREATE = "runnel.admin.topics.create";
    /** Deletes a topic and its data. {@code {"topic"}} → {@code {"topic"}}. */
    public static final String TOPICS_DELETE = "runnel.admin.topics.delete";
    /**
     * A topic as it stands. {@code {"topic"}} → {@code {"topic","configs":{effective configs},
     * "partitions":[{"partition","logStartOffset","highWatermark"}]}}.
     */
    public static final String TOPICS_DESCRIBE = "runnel.admin.topics.describe";

    /** Every address the broker serves, and so every address the TCP bridge lets a client send to. */
    public static final List<String> SERVED = List.of(PRODUCE, FETCH, SUBSCRIBE, UNSUBSCRIBE, CREDIT, ACK,
            TOPICS_LIST, TOPICS_CREATE, TOPICS_DELETE, TOPICS_DESCRIBE);

    /**
     * Subscription addresses start with this, and only these may be registered through the TCP
     * bridge. A fixed prefix keeps the broker from ever being asked to send records to one of its
     * own service addresses, and gives the bridge one rule for what it lets out.
     */
    public static final String SUBSCRIPTION_PREFIX = "runnel.sub.";
    /** The bridge's outbound rule: a subscription address, the prefix followed by at least one character. */
    public static final String SUBSCRIPTION_ADDRESS_REGEX = Pattern.quote(SUBSCRIPTION_PREFIX) + ".+";

    // ---------------------------------------------------------------- messages on a subscription address

    /** {@code "type"} of a record: the record's fields and {@code "subscription"}. */
    public static final String MESSAGE_RECORD = "record";
    /** {@code "type"} of {@code {"partitions":[{"partition","offset"}]}}: what the subscription reads from now on, and where. */
    public static final String MESSAGE_ASSIGNMENT = "assignment";
    /** {@code "type"} of {@code {"error_code","message","partition"?}}: a problem the subscription survives. */
    public static final String MESSAGE_ERROR = "error";
    /**
     * {@code "type"} of {@code {"reason","error_code"?}}: the broker ended the subscription
     * (topic deleted, broker stopping); nothing follows.
     */
    public static final String MESSAGE_END = "end";
    /**
     * {@code "type"} of a liveness probe, sent as a request when the subscriber has been silent
     * for a while. Replying is optional: the broker only learns from it whether anyone still
     * consumes the address (no consumer at all ends the subscription).
     */
    public static final String MESSAGE_PROBE = "probe";

    private EventBusAddresses() {
    }
}

package io.runnel.api.ws;

import java.util.List;

import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidGroupIdException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.PolicyViolationException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.protocol.Errors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code error_code}s of WebSocket error frames. DESIGN.md: "WebSocket error frames carry the
 * same error codes" as the HTTP API, so every value here mirrors the constant of the same name in
 * {@code io.runnel.api.http.ErrorCodes} (Confluent REST Proxy's codes: an HTTP status, or a status
 * times 100 plus a sub-code). They are copied, not imported, because adapters stay apart
 * (PackageLayeringTest); {@code WsErrorCodesTest} fails if a value drifts from the HTTP one.
 *
 * <p>Which code a WebSocket client gets, by what went wrong:
 * <ul>
 *   <li>{@link #BAD_REQUEST}: a frame that is not a JSON object, a field of the wrong JSON type, a
 *       binary frame where text is expected, a query parameter that cannot be read.</li>
 *   <li>{@link #UNPROCESSABLE_ENTITY}: JSON of the right shape that breaks a rule (an unknown
 *       {@code type} or field, a negative offset, bad base64).</li>
 *   <li>{@link #TOPIC_NOT_FOUND}, {@link #PARTITION_NOT_FOUND}: what they say.</li>
 *   <li>{@link #CONSUMER_STATE_CONFLICT}: an ack or seek the subscription cannot do now (no group,
 *       a partition it does not read).</li>
 *   <li>{@link #PAYLOAD_TOO_LARGE}: a client message over the API's message limit.</li>
 *   <li>{@link #KAFKA_BAD_REQUEST}: the broker refused the request as the client's mistake, e.g.
 *       an offset outside the log ({@code OFFSET_OUT_OF_RANGE: …}).</li>
 *   <li>{@link #INVALID_RECORD}: the topic's schema validation refused the record (Kafka's
 *       INVALID_RECORD; the message says which part and why); nothing was written.</li>
 *   <li>{@link #KAFKA_ERROR}, {@link #KAFKA_RETRIABLE_ERROR}: the broker failed a record or a
 *       commit (a record too large for the topic, a rebalance, a storage failure); the message
 *       starts with Kafka's error name, as the HTTP API's per-record errors do.</li>
 *   <li>{@link #INTERNAL_SERVER_ERROR}: a bug; the broker log has it, the frame says only that.</li>
 * </ul>
 */
final class WsErrorCodes {

    static final int BAD_REQUEST = 400;
    static final int KAFKA_BAD_REQUEST = 40002;
    static final int TOPIC_NOT_FOUND = 40401;
    static final int PARTITION_NOT_FOUND = 40402;
    static final int CONSUMER_STATE_CONFLICT = 40903;
    static final int PAYLOAD_TOO_LARGE = 413;
    static final int UNPROCESSABLE_ENTITY = 422;
    static final int INVALID_RECORD = 42206;
    static final int INTERNAL_SERVER_ERROR = 500;
    static final int KAFKA_ERROR = 50002;
    static final int KAFKA_RETRIABLE_ERROR = 50003;

    private static final Logger LOG = LoggerFactory.getLogger(WsErrorCodes.class);

    /** Kafka's refusals that are the client's mistake (the HTTP API's list, plus a bad offset or group id). */
    private static final List<Class<? extends KafkaException>> CLIENT_MISTAKES = List.of(
            InvalidTopicException.class, InvalidRequestException.class, InvalidPartitionsException.class,
            InvalidConfigurationException.class, TopicExistsException.class, PolicyViolationException.class,
            OffsetOutOfRangeException.class, InvalidGroupIdException.class);

    private WsErrorCodes() {
    }

    /**
     * The error a failed broker call becomes. An unknown topic or partition is told apart by
     * whether the topic exists ({@code topicExists}), as the HTTP API does.
     */
    static WsException forFailure(Throwable error, boolean topicExists) {
        if (error instanceof WsException e) {
            return e;
        }
        if (error instanceof UnknownTopicOrPartitionException) {
            return new WsException(topicExists ? PARTITION_NOT_FOUND : TOPIC_NOT_FOUND, messageOf(error));
        }
        if (error instanceof InvalidRecordException) {
            return new WsException(INVALID_RECORD, kafkaMessage(error));
        }
        if (CLIENT_MISTAKES.stream().anyMatch(c -> c.isInstance(error))) {
            return new WsException(KAFKA_BAD_REQUEST, kafkaMessage(error));
        }
        if (error instanceof KafkaException) {
            return new WsException(error instanceof RetriableException ? KAFKA_RETRIABLE_ERROR : KAFKA_ERROR,
                    kafkaMessage(error));
        }
        LOG.error("Unexpected failure serving a WebSocket", error);
        return new WsException(INTERNAL_SERVER_ERROR, "Internal server error; the broker log has the details");
    }

    /**
     * The error of one record the broker did not write (its partition refused the batch): as the
     * HTTP API answers per record, 50003 when a retry may succeed, else 50002.
     */
    static WsException forRecordFailure(Throwable error) {
        if (!(error instanceof KafkaException)) {
            return forFailure(error, true);
        }
        return new WsException(error instanceof RetriableException ? KAFKA_RETRIABLE_ERROR : KAFKA_ERROR,
                kafkaMessage(error));
    }

    /** Kafka's error name first, so a client can tell MESSAGE_TOO_LARGE from INVALID_RECORD within one code. */
    private static String kafkaMessage(Throwable error) {
        return Errors.forException(error).name() + ": " + messageOf(error);
    }

    private static String messageOf(Throwable error) {
        return error.getMessage() != null ? error.getMessage() : Errors.forException(error).message();
    }
}

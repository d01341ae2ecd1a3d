package io.runnel.api.eventbus;

import java.util.List;

import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidGroupIdException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.InvalidRecordException;
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
 * The {@code failureCode}s of the event bus API's {@code ReplyException}s: DESIGN.md says they are
 * the HTTP API's error codes. Adapters must not import each other (PackageLayeringTest), so the
 * codes used here are copied from {@code io.runnel.api.http.ErrorCodes}, where each is explained;
 * {@code BusErrorCodesTest} checks every copy against the original by name. Add codes, never
 * renumber one. Stateless.
 */
final class BusErrorCodes {

    /** The body is not a JSON object, or a field has the wrong JSON type. */
    static final int BAD_REQUEST = 400;
    /** Kafka refused the request as the client's mistake (a bad topic name, an offset out of range, an existing topic). */
    static final int KAFKA_BAD_REQUEST = 40002;
    /** The topic does not exist. */
    static final int TOPIC_NOT_FOUND = 40401;
    /** The topic exists but has no such partition. */
    static final int PARTITION_NOT_FOUND = 40402;
    /** No subscription on that address (never made, already ended). */
    static final int CONSUMER_INSTANCE_NOT_FOUND = 40403;
    /** A subscription on that address already exists. */
    static final int CONSUMER_ALREADY_EXISTS = 40902;
    /** The subscription cannot do that (ack without a group, ack of a partition it does not read). */
    static final int CONSUMER_STATE_CONFLICT = 40903;
    /** The body is JSON of the right shape but breaks a rule: a missing field, an unknown one, bad base64, out of range. */
    static final int UNPROCESSABLE_ENTITY = 422;
    /** A record of a batch failed the topic's schema validation (Kafka's INVALID_RECORD); nothing was written. */
    static final int INVALID_RECORD = 42206;
    /** A failure we did not expect (a bug); the broker log has it. */
    static final int INTERNAL_SERVER_ERROR = 500;
    /** Kafka failed the request and retrying will not help. */
    static final int KAFKA_ERROR = 50002;
    /** Kafka failed the request and a retry may succeed (a storage failure, the broker shutting down). */
    static final int KAFKA_RETRIABLE_ERROR = 50003;

    private static final Logger LOG = LoggerFactory.getLogger(BusErrorCodes.class);

    /** Kafka's refusals that are the client's mistake (the WebSocket API's list). */
    private static final List<Class<? extends KafkaException>> CLIENT_MISTAKES = List.of(
            InvalidTopicException.class, InvalidRequestException.class, InvalidPartitionsException.class,
            InvalidConfigurationException.class, TopicExistsException.class, PolicyViolationException.class,
            OffsetOutOfRangeException.class, InvalidGroupIdException.class);

    private BusErrorCodes() {
    }

    /**
     * The refusal a failed broker call becomes. An unknown topic or partition is told apart by
     * whether the topic exists ({@code topicExists}), as the HTTP API does.
     */
    static BusException forFailure(Throwable error, boolean topicExists) {
        if (error instanceof BusException e) {
            return e;
        }
        if (error instanceof UnknownTopicOrPartitionException) {
            return new BusException(topicExists ? PARTITION_NOT_FOUND : TOPIC_NOT_FOUND, messageOf(error));
        }
        if (error instanceof InvalidRecordException) {
            return forRecordFailure(error);
        }
        if (CLIENT_MISTAKES.stream().anyMatch(c -> c.isInstance(error))) {
            return new BusException(KAFKA_BAD_REQUEST, kafkaMessage(error));
        }
        if (error instanceof KafkaException) {
            return forRecordFailure(error);
        }
        LOG.error("Unexpected failure serving an event bus request", error);
        return new BusException(INTERNAL_SERVER_ERROR, "Internal server error; the broker log has the details");
    }

    /** A record the broker did not write: 50003 when a retry may succeed, else 50002 (the HTTP API's rule). */
    static BusException forRecordFailure(Throwable error) {
        if (error instanceof InvalidRecordException) {
            return new BusException(INVALID_RECORD, kafkaMessage(error));
        }
        if (!(error instanceof KafkaException)) {
            return forFailure(error, true);
        }
        return new BusException(error instanceof RetriableException ? KAFKA_RETRIABLE_ERROR : KAFKA_ERROR,
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

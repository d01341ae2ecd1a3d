package io.runnel.api.http;

import org.apache.kafka.common.errors.RetriableException;

/**
 * The {@code error_code}s the HTTP API answers with: Confluent REST Proxy's, so a client written
 * for it reads ours. Every error body is {@code {"error_code": N, "message": "…"}}.
 *
 * <p>Confluent's scheme (rest-utils and kafka-rest): a three-digit code is the HTTP status itself
 * (what rest-utils answers for a generic failure); a five-digit code is the HTTP status times 100
 * plus a sub-code. So the status of any code is {@link #httpStatus}. Inside a 200 produce
 * response, a record that was not written carries {@link #KAFKA_ERROR} or
 * {@link #KAFKA_RETRIABLE_ERROR} in its {@code offsets} entry ({@link #forRecordFailure}), as
 * Confluent's does; the Kafka error name goes at the start of its {@code error} text.
 *
 * <p>A code here is a promise to clients: add codes, never renumber one.
 */
public final class ErrorCodes {

    /** 400: the body is not JSON, or a field has the wrong JSON type (rest-utils' JSON parse and mapping errors). */
    public static final int BAD_REQUEST = 400;
    /** 400: Kafka refused the request as the client's mistake, e.g. an illegal topic name to auto-create (Confluent's "Kafka bad request"). */
    public static final int KAFKA_BAD_REQUEST = 40002;
    /** 404: no such path. */
    public static final int NOT_FOUND = 404;
    /** 404: the topic does not exist (and produce does not create it: auto-creation is off, or the request only reads). */
    public static final int TOPIC_NOT_FOUND = 40401;
    /** 404: the topic exists but has no such partition (or the partition in the path is not a number). */
    public static final int PARTITION_NOT_FOUND = 40402;
    /** 404: no consumer instance of that name in that group (never made, deleted, or expired after being idle). */
    public static final int CONSUMER_INSTANCE_NOT_FOUND = 40403;
    /** 405: the path exists, the method does not (e.g. DELETE /topics/t). */
    public static final int METHOD_NOT_ALLOWED = 405;
    /** 406: the Accept header of a records read asks for another embedded format than the consumer instance's. */
    public static final int CONSUMER_FORMAT_MISMATCH = 40601;
    /** 409: a consumer instance of that name already exists in the group. */
    public static final int CONSUMER_ALREADY_EXISTS = 40902;
    /** 409: the consumer instance cannot do that in its state (subscribed and assigned at once, seek on an unassigned partition, read with nothing to read). */
    public static final int CONSUMER_STATE_CONFLICT = 40903;
    /** 413: the request body is larger than the API's body limit. */
    public static final int PAYLOAD_TOO_LARGE = 413;
    /** 415: a produce request whose Content-Type is not one of the embedded formats served. */
    public static final int UNSUPPORTED_MEDIA_TYPE = 415;
    /** 422: the body is JSON of the right shape but breaks a rule: no records, bad base64, a negative partition, an unknown field. */
    public static final int UNPROCESSABLE_ENTITY = 422;
    /** 422: an Avro produce request has a record with a key but no key_schema or key_schema_id (Confluent's 42201). */
    public static final int KEY_SCHEMA_MISSING = 42201;
    /** 422: an Avro produce request has a record with a value but no value_schema or value_schema_id (Confluent's 42202). */
    public static final int VALUE_SCHEMA_MISSING = 42202;
    /** 422: a record's JSON key or value does not fit its Avro schema (Confluent's "Conversion of JSON to Object failed"). */
    public static final int JSON_CONVERSION = 42203;
    /** 422: an Avro produce request's schema does not parse, is refused by the registry, or its id is not registered (Confluent's 42205). */
    public static final int INVALID_SCHEMA = 42205;
    /**
     * 422: the broker refused the records as a whole because one breaks its topic's schema
     * validation (Kafka's INVALID_RECORD); nothing was written. Confluent's proxy has no code of its
     * own for this: 42206 is the one it gives an invalid payload, which is what such a record is.
     */
    public static final int INVALID_RECORD = 42206;
    /** 500: an error we did not expect (a bug); the message says nothing of it, the broker log does. */
    public static final int INTERNAL_SERVER_ERROR = 500;
    /** 500, or per record: Kafka failed the request and retrying will not help (e.g. a record too large). */
    public static final int KAFKA_ERROR = 50002;
    /** 500, or per record: Kafka failed the request and a retry may succeed (e.g. a storage failure, the broker shutting down). */
    public static final int KAFKA_RETRIABLE_ERROR = 50003;

    private ErrorCodes() {
    }

    /** The HTTP status that goes with {@code errorCode}. */
    public static int httpStatus(int errorCode) {
        if (errorCode >= 100 && errorCode <= 599) {
            return errorCode;
        }
        if (errorCode >= 10_000 && errorCode <= 59_999) {
            return errorCode / 100;
        }
        throw new IllegalArgumentException("Error code " + errorCode + " is not a status or a status with a sub-code");
    }

    /** The code of a record in a produce response that was not written because of {@code error}. */
    public static int forRecordFailure(Throwable error) {
        return error instanceof RetriableException ? KAFKA_RETRIABLE_ERROR : KAFKA_ERROR;
    }
}

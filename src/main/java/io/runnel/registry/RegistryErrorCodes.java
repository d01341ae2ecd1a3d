package io.runnel.registry;

/**
 * The {@code error_code}s the schema registry answers with: Confluent Schema Registry's, so a
 * client written for it (its serializers, its Java client, kafkajs' registry client) reads ours.
 * Every error body is {@code {"error_code": N, "message": "…"}}.
 *
 * <p>Confluent's scheme: a three-digit code is the HTTP status itself; a five-digit code is the
 * HTTP status times 100 plus a sub-code, so the status of any code is {@link #httpStatus}. One
 * exception to "five digits for registry errors": an incompatible schema is answered 409 with
 * error_code 409, as most Confluent releases do and their clients expect.
 *
 * <p>A code here is a promise to clients: add codes, never renumber one.
 */
public final class RegistryErrorCodes {

    /** 400: the body is not JSON, or not a JSON object. */
    public static final int BAD_REQUEST = 400;
    /** 404: no such path. */
    public static final int NOT_FOUND = 404;
    /** 404: the subject has no version (or only soft-deleted ones, unless {@code deleted=true} was asked). */
    public static final int SUBJECT_NOT_FOUND = 40401;
    /** 404: the subject exists but has no such version (or it is soft-deleted and {@code deleted=true} was not asked). */
    public static final int VERSION_NOT_FOUND = 40402;
    /** 404: no schema with that id, or the schema looked up is not registered under the subject. */
    public static final int SCHEMA_NOT_FOUND = 40403;
    /** 404: a soft delete of a subject whose versions are all soft-deleted already; use {@code permanent=true}. */
    public static final int SUBJECT_SOFT_DELETED = 40404;
    /** 404: a permanent delete of a subject that still has live versions: soft-delete it first. */
    public static final int SUBJECT_NOT_SOFT_DELETED = 40405;
    /** 404: a soft delete of a version that is soft-deleted already; use {@code permanent=true}. */
    public static final int VERSION_SOFT_DELETED = 40406;
    /** 404: a permanent delete of a live version: soft-delete it first. */
    public static final int VERSION_NOT_SOFT_DELETED = 40407;
    /** 404: {@code GET|DELETE /config/{subject}} of a subject with no compatibility level of its own. */
    public static final int SUBJECT_COMPATIBILITY_NOT_CONFIGURED = 40408;
    /** 405: the path exists, the method does not. */
    public static final int METHOD_NOT_ALLOWED = 405;
    /** 409: the schema breaks the subject's compatibility level against its earlier versions. */
    public static final int INCOMPATIBLE_SCHEMA = 409;
    /** 413: the request body is larger than the registry's limit. */
    public static final int PAYLOAD_TOO_LARGE = 413;
    /** 415: a request body whose Content-Type is not one of the registry's JSON types. */
    public static final int UNSUPPORTED_MEDIA_TYPE = 415;
    /** 422: the body is JSON but a field has the wrong JSON type (a number where a string belongs, …). */
    public static final int UNPROCESSABLE_ENTITY = 422;
    /** 422: the schema does not parse, is of a type not served, or names references that do not exist. */
    public static final int INVALID_SCHEMA = 42201;
    /** 422: a version in a path that is neither 1..2^31-1, -1 nor "latest". */
    public static final int INVALID_VERSION = 42202;
    /** 422: a compatibility level that is not one of the seven. */
    public static final int INVALID_COMPATIBILITY_LEVEL = 42203;
    /** 422: a mode that is not READWRITE, READONLY or IMPORT. */
    public static final int INVALID_MODE = 42204;
    /** 422: the registry's mode forbids this (a write in READONLY; an id outside IMPORT; IMPORT while not empty). */
    public static final int OPERATION_NOT_PERMITTED = 42205;
    /** 422: the version (or a version of the subject) is referenced by another schema, so it cannot be deleted. */
    public static final int REFERENCE_EXISTS = 42206;
    /** 422: an import names an id that already belongs to a different schema. */
    public static final int ID_DOES_NOT_MATCH = 42207;
    /** 500: an error we did not expect (a bug); the message says nothing of it, the broker log does. */
    public static final int INTERNAL_SERVER_ERROR = 500;
    /** 500: the {@code _schemas} topic could not durably store the change; it may or may not have been applied. */
    public static final int STORE_ERROR = 50001;
    /**
     * 500: a change reached a broker whose registry does not write, and could not be forwarded to
     * the one that does (in a cluster one registry writes: that of the leader of {@code _schemas-0}):
     * none is live right now (nothing was changed), it is still catching up after taking over
     * (nothing was changed), or it did not answer (the change may or may not have been made).
     * Worth a retry.
     */
    public static final int REQUEST_FORWARDING_FAILED = 50003;

    private RegistryErrorCodes() {
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
}

package io.runnel.registry;

/**
 * A refusal of the schema registry, with the Confluent error code that says which
 * ({@link RegistryErrorCodes}); the REST API answers it as {@code {"error_code","message"}} with
 * the code's HTTP status. The message is for people and never carries a stack trace.
 */
public final class RegistryException extends RuntimeException {

    private final int errorCode;

    public RegistryException(int errorCode, String message) {
        this(errorCode, message, null);
    }

    public RegistryException(int errorCode, String message, Throwable cause) {
        super(message, cause, false, false);
        RegistryErrorCodes.httpStatus(errorCode); // a code without a status is a bug here, not at answer time
        this.errorCode = errorCode;
    }

    public int errorCode() {
        return errorCode;
    }

    public int httpStatus() {
        return RegistryErrorCodes.httpStatus(errorCode);
    }
}

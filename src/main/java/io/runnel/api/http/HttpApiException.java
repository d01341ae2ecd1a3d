package io.runnel.api.http;

/**
 * A request the HTTP API answers with an error body: {@code {"error_code": code, "message": …}}
 * and the status {@link ErrorCodes#httpStatus} of the code. The message is written for the client
 * and says what to change; it never carries a stack trace (none is even recorded: this is an
 * answer, not a bug).
 */
final class HttpApiException extends RuntimeException {

    private final int errorCode;

    HttpApiException(int errorCode, String message) {
        super(message, null, false, false);
        this.errorCode = errorCode;
        ErrorCodes.httpStatus(errorCode); // fails loudly on a code that maps to no status
    }

    int errorCode() {
        return errorCode;
    }

    int httpStatus() {
        return ErrorCodes.httpStatus(errorCode);
    }
}

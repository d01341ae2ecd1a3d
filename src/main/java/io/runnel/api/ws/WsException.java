package io.runnel.api.ws;

/**
 * A request or frame refused with one of {@link WsErrorCodes}: it becomes an error frame on the
 * socket, which stays open. Carries no stack trace: it is an answer to a client, not a bug.
 */
final class WsException extends RuntimeException {

    private final int errorCode;

    WsException(int errorCode, String message) {
        super(message, null, false, false);
        this.errorCode = errorCode;
    }

    int errorCode() {
        return errorCode;
    }
}

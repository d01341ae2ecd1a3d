package io.runnel.api.eventbus;

/**
 * A request refused with one of {@link BusErrorCodes}: it becomes the {@code ReplyException}
 * (RECIPIENT_FAILURE, that code, this message) the requester sees. Carries no stack trace: it is
 * an answer to a client, not a bug.
 */
final class BusException extends RuntimeException {

    private final int errorCode;

    BusException(int errorCode, String message) {
        super(message, null, false, false);
        this.errorCode = errorCode;
    }

    int errorCode() {
        return errorCode;
    }
}

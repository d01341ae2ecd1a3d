package io.runnel.cluster;

import java.util.function.Supplier;

import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.protocol.Errors;

import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;

/**
 * How brokers carry Kafka errors over the event bus to one another: a failed call is answered
 * with the error's Kafka code and message, and the caller gets the same Kafka exception back.
 * Anything else (no consumer, no answer in time) is the caller's to name.
 */
public final class BusErrors {

    private BusErrors() {
    }

    /** Answers {@code message} with the Kafka code of {@code error}. */
    public static void fail(Message<?> message, Throwable error) {
        message.fail(Errors.forException(error).code(), String.valueOf(error.getMessage()));
    }

    /** Whether the other broker answered with a Kafka error (rather than not answering at all). */
    public static boolean answeredWithKafkaError(Throwable e) {
        return e instanceof ReplyException r && r.failureType() == ReplyFailure.RECIPIENT_FAILURE;
    }

    /**
     * The Kafka exception a failed call stands for: the one the other broker answered with, or
     * {@code unanswered} when it did not answer (no consumer, timeout).
     */
    public static Throwable asKafkaError(Throwable e, Supplier<? extends ApiException> unanswered) {
        if (answeredWithKafkaError(e)) {
            ReplyException r = (ReplyException) e;
            return Errors.forCode((short) r.failureCode()).exception(r.getMessage());
        }
        return unanswered.get();
    }
}

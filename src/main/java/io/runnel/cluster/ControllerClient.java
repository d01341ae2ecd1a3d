package io.runnel.cluster;

import org.apache.kafka.common.errors.NotControllerException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.protocol.Errors;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;

/**
 * How a broker asks the controller for a change: an event bus request to {@link Controller#ADDRESS}.
 * While no broker consumes it (the controller role is moving) or the controller does not answer,
 * the request is retried until {@code deadlineMs}; a refusal comes back as the Kafka exception of
 * the controller's error code.
 */
public final class ControllerClient {

    private static final long RETRY_DELAY_MS = 200;

    private final Vertx vertx;
    private final long deadlineMs;

    public ControllerClient(Vertx vertx, long deadlineMs) {
        this.vertx = vertx;
        this.deadlineMs = deadlineMs;
    }

    public Future<JsonObject> request(JsonObject body) {
        Promise<JsonObject> result = Promise.promise();
        attempt(body, System.currentTimeMillis() + deadlineMs, result);
        return result.future();
    }

    private void attempt(JsonObject body, long deadline, Promise<JsonObject> result) {
        long left = deadline - System.currentTimeMillis();
        if (left <= 0) {
            result.fail(new TimeoutException("The cluster controller did not answer within " + deadlineMs + " ms"));
            return;
        }
        vertx.eventBus().<JsonObject>request(Controller.ADDRESS, body, new DeliveryOptions().setSendTimeout(left))
                .onSuccess(reply -> result.complete(reply.body()))
                .onFailure(e -> {
                    if (BusErrors.answeredWithKafkaError(e)) {
                        Throwable error = BusErrors.asKafkaError(e, null);
                        result.fail(Errors.forException(error) == Errors.UNKNOWN_SERVER_ERROR
                                ? new NotControllerException(e.getMessage()) : error);
                    } else {
                        vertx.setTimer(RETRY_DELAY_MS, t -> attempt(body, deadline, result));
                    }
                });
    }
}

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
 * How a broker asks the controller for a change: an event bus request to the address of the
 * broker this one believes is the controller ({@link ClusterMetadata#controllerId()},
 * {@link Controller#address(int)}). While that is unknown, does not answer, or answers
 * {@code NOT_CONTROLLER} (the role is moving), the request is retried, on whichever broker is the
 * controller by then, until {@code deadlineMs}; any other refusal comes back as the Kafka exception
 * of the controller's error code.
 */
public final class ControllerClient {

    private static final long RETRY_DELAY_MS = 200;

    private final Vertx vertx;
    private final ClusterMetadata metadata;
    private final long deadlineMs;

    public ControllerClient(Vertx vertx, ClusterMetadata metadata, long deadlineMs) {
        this.vertx = vertx;
        this.metadata = metadata;
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
        int controller = metadata.controllerId();
        if (controller < 0) {
            retryLater(body, deadline, result);
            return;
        }
        vertx.eventBus().<JsonObject>request(Controller.address(controller), body,
                        new DeliveryOptions().setSendTimeout(left))
                .onSuccess(reply -> result.complete(reply.body()))
                .onFailure(e -> {
                    if (!BusErrors.answeredWithKafkaError(e)) {
                        retryLater(body, deadline, result); // no consumer or no answer: the role may be moving
                        return;
                    }
                    Throwable refusal = BusErrors.asKafkaError(e, null);
                    Errors code = Errors.forException(refusal);
                    if (code == Errors.NOT_CONTROLLER) {
                        retryLater(body, deadline, result);
                    } else {
                        result.fail(code == Errors.UNKNOWN_SERVER_ERROR ? new NotControllerException(e.getMessage()) : refusal);
                    }
                });
    }

    private void retryLater(JsonObject body, long deadline, Promise<JsonObject> result) {
        vertx.setTimer(RETRY_DELAY_MS, t -> attempt(body, deadline, result));
    }
}

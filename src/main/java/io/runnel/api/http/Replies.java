package io.runnel.api.http;

import java.util.List;

import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.PolicyViolationException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.protocol.Errors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.runnel.broker.BrokerService;
import io.runnel.broker.TopicManager;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * What every route of the HTTP API shares: writing an answer, coming back to the request's
 * context, looking up the topic and partition a path names, and turning a broker failure into an
 * {@link HttpApiException} with Confluent's code. Stateless.
 *
 * <p>A {@link RoutingContext} belongs to its request's thread; broker futures may complete
 * elsewhere, so handlers wrap them in {@link #onRequestContext} before touching {@code ctx}.
 */
final class Replies {

    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);

    /** Kafka's refusals that are the client's mistake: a 400, not a 500 (Confluent's "Kafka bad request"). */
    private static final List<Class<? extends KafkaException>> CLIENT_MISTAKES = List.of(
            InvalidTopicException.class, InvalidRequestException.class, InvalidPartitionsException.class,
            InvalidConfigurationException.class, TopicExistsException.class, PolicyViolationException.class);

    private Replies() {
    }

    static void send(RoutingContext ctx, int status, String contentType, JsonObject json) {
        send(ctx, status, contentType, json.toBuffer());
    }

    static void send(RoutingContext ctx, int status, String contentType, JsonArray json) {
        send(ctx, status, contentType, json.toBuffer());
    }

    static void send(RoutingContext ctx, int status, String contentType, Buffer body) {
        ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, contentType).end(body);
    }

    /**
     * {@code result}, completed on the calling handler's context: broker futures complete on
     * partition contexts, and a {@link RoutingContext} belongs to its request's.
     */
    static <T> Future<T> onRequestContext(Future<T> result) {
        Context context = Vertx.currentContext();
        Promise<T> promise = Promise.promise();
        result.onComplete(r -> {
            if (Vertx.currentContext() == context) {
                promise.handle(r);
            } else {
                context.runOnContext(v -> promise.handle(r));
            }
        });
        return promise.future();
    }

    // ---------------------------------------------------------------- lookups

    /** The topic named by the path parameter {@code topic}; 40401 when there is none. */
    static TopicManager.Topic topic(BrokerService broker, RoutingContext ctx) {
        return topic(broker, ctx.pathParam("topic"));
    }

    static TopicManager.Topic topic(BrokerService broker, String name) {
        try {
            return broker.topics().topic(name);
        } catch (UnknownTopicOrPartitionException e) {
            throw new HttpApiException(ErrorCodes.TOPIC_NOT_FOUND, "Topic '" + name + "' not found");
        }
    }

    /** The partition named by the path parameter {@code partition}; 40402 when {@code t} has no such partition. */
    static int partition(TopicManager.Topic t, RoutingContext ctx) {
        return partition(t, ctx.pathParam("partition"));
    }

    static int partition(TopicManager.Topic t, String raw) {
        int p = partitionNumber(raw);
        if (p >= t.partitions().size()) {
            throw new HttpApiException(ErrorCodes.PARTITION_NOT_FOUND, "Topic '" + t.name() + "' has no partition " + p
                    + " (it has " + t.partitions().size() + ")");
        }
        return p;
    }

    /** A partition number from a path; anything that is not one names no partition (Confluent also answers 404). */
    static int partitionNumber(String raw) {
        int p;
        try {
            p = Integer.parseInt(raw);
        } catch (NumberFormatException e) {
            p = -1;
        }
        if (p < 0) {
            throw new HttpApiException(ErrorCodes.PARTITION_NOT_FOUND,
                    "Partition '" + raw + "' not found: partitions are numbered from 0");
        }
        return p;
    }

    static boolean topicExists(BrokerService broker, String name) {
        try {
            broker.topics().topic(name);
            return true;
        } catch (UnknownTopicOrPartitionException e) {
            return false;
        }
    }

    // ---------------------------------------------------------------- errors

    /**
     * The answer to a broker call that failed as a whole.
     *
     * @param topic the topic the request named (null if none): an unknown topic or partition is
     *              40401 or 40402 depending on whether the topic exists
     */
    static HttpApiException requestFailure(RoutingContext ctx, Throwable error, BrokerService broker, String topic) {
        if (error instanceof HttpApiException e) {
            return e;
        }
        String message = error.getMessage() != null ? error.getMessage() : Errors.forException(error).message();
        if (error instanceof UnknownTopicOrPartitionException) {
            // The broker says "unknown topic or partition"; the topic's existence tells which.
            boolean exists = topic != null && topicExists(broker, topic);
            return new HttpApiException(exists ? ErrorCodes.PARTITION_NOT_FOUND : ErrorCodes.TOPIC_NOT_FOUND, message);
        }
        if (error instanceof InvalidRecordException) {
            // Schema validation at the edge refused the batch; nothing of the request was written.
            return new HttpApiException(ErrorCodes.INVALID_RECORD, message);
        }
        if (CLIENT_MISTAKES.stream().anyMatch(c -> c.isInstance(error))) {
            return new HttpApiException(ErrorCodes.KAFKA_BAD_REQUEST, message);
        }
        if (error instanceof RetriableException) {
            return new HttpApiException(ErrorCodes.KAFKA_RETRIABLE_ERROR, message);
        }
        if (error instanceof KafkaException) {
            return new HttpApiException(ErrorCodes.KAFKA_ERROR, message);
        }
        return internalError(ctx, error);
    }

    /** A failure we did not expect: logged with its stack here, answered with a message that says only that. */
    static HttpApiException internalError(RoutingContext ctx, Throwable error) {
        LOG.error("Unexpected failure of {} {}", ctx.request().method(), ctx.normalizedPath(), error);
        return new HttpApiException(ErrorCodes.INTERNAL_SERVER_ERROR,
                "Internal server error; the broker log has the details");
    }
}

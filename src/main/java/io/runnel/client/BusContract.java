package io.runnel.client;

/**
 * The parts of the broker's event bus contract this client speaks. They are copies: the client
 * is embedded in applications and must not depend on the broker (PackageLayeringTest), so it
 * cannot read {@code io.runnel.api.eventbus.EventBusAddresses}, where each is explained.
 * {@code BusContractTest} checks every copy against the original by name.
 */
final class BusContract {

    static final String PRODUCE = "runnel.produce";
    static final String SUBSCRIBE = "runnel.subscribe";
    static final String UNSUBSCRIBE = "runnel.unsubscribe";
    static final String CREDIT = "runnel.credit";
    static final String ACK = "runnel.ack";
    static final String SUBSCRIPTION_PREFIX = "runnel.sub.";
    static final String MESSAGE_RECORD = "record";
    static final String MESSAGE_ASSIGNMENT = "assignment";
    static final String MESSAGE_ERROR = "error";
    static final String MESSAGE_END = "end";
    static final String MESSAGE_PROBE = "probe";

    /** The HTTP API's code for "no such subscription" (its CONSUMER_INSTANCE_NOT_FOUND): an unsubscribe of one already ended. */
    static final int CONSUMER_INSTANCE_NOT_FOUND = 40403;

    private BusContract() {
    }
}

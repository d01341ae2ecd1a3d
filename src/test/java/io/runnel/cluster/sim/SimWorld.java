package io.runnel.cluster.sim;

/** What a simulated broker may ask of the simulation: the clock, the network, the settings, and the record of acknowledgements. */
interface SimWorld {

    /** The address of the controller on the simulated network. */
    int CONTROLLER = -1;

    long nowMs();

    /** Sends {@code message}; it arrives after a random delay, or never if the receiver is down by then. */
    void send(int from, int to, Messages.Message message);

    long nextRequestId();

    /** The leader {@code broker} answered an acks=all append of {@code entry}, made in {@code epoch}, with success. */
    void acknowledged(SimBroker broker, int epoch, SimLog.Entry entry);

    int minInsyncReplicas();

    long replicaLagTimeMaxMs();

    long isrCheckIntervalMs();

    /** Notes an event for the failure report (a no-op unless the run traces). */
    void trace(String format, Object... args);
}

package io.runnel.registry;

import java.util.Optional;

/**
 * Which broker's registry writes, in a cluster: the one whose broker leads the only partition of
 * the registry's log (Confluent's "primary"; chosen by the cluster's leader election, not by the
 * registry). Every broker's registry follows the log; the others forward writes to the writer.
 *
 * <p>An epoch names one term of one leader: a broker that loses the lead and takes it back is in
 * a new epoch, and must catch up again before it writes (records may have been written meanwhile).
 *
 * <p>Thread-safe: answers from the cluster's metadata as it is at the call, on any thread.
 */
public interface WriterLocator {

    /** Where a writer's registry answers (its REST API). */
    record Address(int brokerId, String host, int port) {
    }

    /** This broker's id (forwarded requests carry it). */
    int localBrokerId();

    /** The leader epoch in which this broker leads the registry's log now, or -1 when it does not. */
    int localEpoch();

    /** The writer's registry when a live broker other than this one leads the log; empty when this one does, or none. */
    Optional<Address> remote();
}

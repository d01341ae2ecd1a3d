package io.runnel.cluster;

import java.util.function.Supplier;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * The cluster's meters, Kafka's names in Prometheus style: leader elections (counted by the
 * controller that made them), ISR shrinks and expands, under-replicated partitions led here, and
 * the largest replication lag (offsets) of a follower of a partition led here.
 */
public final class ClusterMetrics {

    private final Counter elections;
    private final Counter shrinks;
    private final Counter expands;
    private final MeterRegistry registry;

    public ClusterMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.elections = Counter.builder("runnel_cluster_leader_elections").description("Leader elections made by this"
                + " broker as controller").register(registry);
        this.shrinks = Counter.builder("runnel_cluster_isr_shrinks").description("ISR shrinks").register(registry);
        this.expands = Counter.builder("runnel_cluster_isr_expands").description("ISR expansions").register(registry);
    }

    void leaderElection() {
        elections.increment();
    }

    void isrShrink() {
        shrinks.increment();
    }

    void isrExpand() {
        expands.increment();
    }

    /** Gauges read from the replica manager's published figures. */
    public void bindReplication(Supplier<Number> underReplicated, Supplier<Number> maxLag, Supplier<Number> leaders) {
        Gauge.builder("runnel_cluster_under_replicated_partitions", underReplicated, n -> n.get().doubleValue())
                .description("Partitions led here whose ISR is smaller than their replica list").register(registry);
        Gauge.builder("runnel_cluster_replication_lag_max", maxLag, n -> n.get().doubleValue())
                .description("Largest lag, in offsets, of an in-sync follower of a partition led here").register(registry);
        Gauge.builder("runnel_cluster_leader_partitions", leaders, n -> n.get().doubleValue())
                .description("Partitions this broker leads").register(registry);
    }
}

package io.runnel.cluster;

import java.util.ArrayList;
import java.util.List;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * One partition's replication state as the cluster agrees on it: its replicas (the first is the
 * preferred leader), the leader ({@link #NO_LEADER} when none can be elected), the leader epoch,
 * the in-sync replicas, and a version bumped by every change, so that a change is a
 * compare-and-set on the version it was computed from.
 *
 * <p>Invariants: {@code isr} is a subset of {@code replicas}; a leader, when there is one, is in
 * the ISR; the epoch grows whenever the leader changes (including to {@link #NO_LEADER}), so a
 * broker that led in an older epoch is fenced by the number alone; the version grows on every change.
 * Immutable; stored as JSON text so Hazelcast compares and ships plain strings.
 */
public record PartitionState(String topic, int partition, List<Integer> replicas, int leader, int leaderEpoch,
                             List<Integer> isr, int version) {

    public static final int NO_LEADER = -1;

    public PartitionState {
        replicas = List.copyOf(replicas);
        isr = List.copyOf(isr);
    }

    /** A new partition: its preferred replica leads epoch 0 and every replica is in sync (all are empty). */
    public static PartitionState initial(String topic, int partition, List<Integer> replicas) {
        return new PartitionState(topic, partition, replicas, replicas.get(0), 0, replicas, 0);
    }

    public String key() {
        return key(topic, partition);
    }

    public static String key(String topic, int partition) {
        return topic + "/" + partition;
    }

    public boolean hasLeader() {
        return leader != NO_LEADER;
    }

    public int preferredLeader() {
        return replicas.get(0);
    }

    /** This state with a new leader and ISR: the epoch and the version move on. */
    public PartitionState withLeader(int newLeader, List<Integer> newIsr) {
        return new PartitionState(topic, partition, replicas, newLeader, leaderEpoch + 1, newIsr, version + 1);
    }

    /** This state with a new ISR under the same leader and epoch. */
    public PartitionState withIsr(List<Integer> newIsr) {
        return new PartitionState(topic, partition, replicas, leader, leaderEpoch, newIsr, version + 1);
    }

    public String toJson() {
        return new JsonObject().put("topic", topic).put("partition", partition)
                .put("replicas", new JsonArray(new ArrayList<>(replicas))).put("leader", leader)
                .put("leaderEpoch", leaderEpoch).put("isr", new JsonArray(new ArrayList<>(isr)))
                .put("version", version).encode();
    }

    public static PartitionState fromJson(String json) {
        JsonObject o = new JsonObject(json);
        return new PartitionState(o.getString("topic"), o.getInteger("partition"), ints(o.getJsonArray("replicas")),
                o.getInteger("leader"), o.getInteger("leaderEpoch"), ints(o.getJsonArray("isr")),
                o.getInteger("version"));
    }

    private static List<Integer> ints(JsonArray a) {
        List<Integer> out = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            out.add(a.getInteger(i));
        }
        return out;
    }
}

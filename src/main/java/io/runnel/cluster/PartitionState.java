package io.runnel.cluster;

import java.util.ArrayList;
import java.util.List;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * One partition's replication state as the cluster agrees on it: its replicas (the first is the
 * preferred leader), the leader ({@link #NO_LEADER} when none can be elected), the leader epoch,
 * the in-sync replicas, and a version bumped by every change, so that a change is a
 * compare-and-set on the version it was computed from. The incarnation tells a topic from an
 * earlier one of the same name: it is stamped when the topic is created and is higher than the
 * incarnation of any deleted topic of that name, so a recreated topic's state (version 0 again)
 * replaces what a broker still holds of the old one ({@link #supersedes}).
 *
 * <p>Invariants: {@code isr} is a subset of {@code replicas}; a leader, when there is one, is in
 * the ISR; the epoch grows whenever the leader changes (including to {@link #NO_LEADER}), so a
 * broker that led in an older epoch is fenced by the number alone; the version grows on every change;
 * the incarnation never changes within a topic's life.
 * Immutable; stored as JSON text so Hazelcast compares and ships plain strings.
 */
public record PartitionState(String topic, int partition, List<Integer> replicas, int leader, int leaderEpoch,
                             List<Integer> isr, int version, long incarnation) {

    public static final int NO_LEADER = -1;

    public PartitionState {
        replicas = List.copyOf(replicas);
        isr = List.copyOf(isr);
    }

    /** A new partition: its preferred replica leads epoch 0 and every replica is in sync (all are empty). */
    public static PartitionState initial(String topic, int partition, List<Integer> replicas, long incarnation) {
        return new PartitionState(topic, partition, replicas, replicas.get(0), 0, replicas, 0, incarnation);
    }

    /**
     * Whether this state may replace {@code held} in a broker's copy of the metadata: it belongs
     * to a later incarnation of the topic, or to the same one at a version at least as new. Entry
     * events and full reads race, so a copy must never go back to an older state.
     */
    public boolean supersedes(PartitionState held) {
        return incarnation != held.incarnation ? incarnation > held.incarnation : version >= held.version;
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
        return new PartitionState(topic, partition, replicas, newLeader, leaderEpoch + 1, newIsr, version + 1,
                incarnation);
    }

    /** This state with a new ISR under the same leader and epoch. */
    public PartitionState withIsr(List<Integer> newIsr) {
        return new PartitionState(topic, partition, replicas, leader, leaderEpoch, newIsr, version + 1, incarnation);
    }

    public String toJson() {
        return new JsonObject().put("topic", topic).put("partition", partition)
                .put("replicas", new JsonArray(new ArrayList<>(replicas))).put("leader", leader)
                .put("leaderEpoch", leaderEpoch).put("isr", new JsonArray(new ArrayList<>(isr)))
                .put("version", version).put("incarnation", incarnation).encode();
    }

    public static PartitionState fromJson(String json) {
        JsonObject o = new JsonObject(json);
        return new PartitionState(o.getString("topic"), o.getInteger("partition"), ints(o.getJsonArray("replicas")),
                o.getInteger("leader"), o.getInteger("leaderEpoch"), ints(o.getJsonArray("isr")),
                o.getInteger("version"), o.getLong("incarnation", 0L));
    }

    private static List<Integer> ints(JsonArray a) {
        List<Integer> out = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            out.add(a.getInteger(i));
        }
        return out;
    }
}

package io.runnel.cluster;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The controller's decisions, as pure functions of the current state and the live brokers, so
 * the Hazelcast-backed {@link Controller} and the deterministic simulation run the same rules.
 *
 * <p>Rules, Kafka's:
 * <ul>
 * <li>Assignment spreads replicas round robin over the brokers, each partition starting one
 *     broker further on, so preferred leaders are balanced; the replication factor is capped by the
 *     number of brokers.</li>
 * <li>A dead broker leaves every ISR it is in, except that the last ISR member is kept when no one
 *     else is in sync (so it can lead again when it returns, and nothing it acknowledged is given
 *     up for a replica that lacks it).</li>
 * <li>A partition without a live leader elects the first replica, in preferred order, that is live
 *     and in the ISR; the epoch grows. With none, the partition has no leader (epoch still grows, so
 *     the dead leader is fenced) — unless unclean election is enabled, when the first live replica
 *     leads with an ISR of itself.</li>
 * <li>The preferred replica takes leadership back when it is live and in the ISR.</li>
 * <li>An ISR change asked for by a leader applies only if it still leads in that epoch (a stale
 *     leader is fenced) and the state is still the version the leader computed it from (Kafka's
 *     partition epoch: a delayed request must not add a follower after the leader, having heard of
 *     a newer state, stopped counting it for the high watermark), keeps the leader in the ISR,
 *     names only replicas, and adds only live ones.</li>
 * </ul>
 */
public final class ControllerRules {

    private ControllerRules() {
    }

    /** Replica lists for partitions {@code first..first+count-1} of a topic, over {@code brokers} (sorted ids). */
    public static List<List<Integer>> assign(int first, int count, int replicationFactor, List<Integer> brokers,
                                             int startIndex) {
        if (brokers.isEmpty()) {
            throw new IllegalArgumentException("No live broker to place replicas on");
        }
        int rf = Math.min(replicationFactor, brokers.size());
        List<List<Integer>> out = new ArrayList<>(count);
        for (int p = first; p < first + count; p++) {
            List<Integer> replicas = new ArrayList<>(rf);
            for (int r = 0; r < rf; r++) {
                replicas.add(brokers.get(Math.floorMod(startIndex + p + r, brokers.size())));
            }
            out.add(replicas);
        }
        return out;
    }

    /**
     * The state after brokers left or returned: dead brokers leave the ISR, and a partition without
     * a live leader elects one. Empty when nothing changes.
     */
    public static Optional<PartitionState> onLiveBrokers(PartitionState s, Set<Integer> live, boolean uncleanElection) {
        List<Integer> liveIsr = filter(s.isr(), live);
        if (s.hasLeader() && live.contains(s.leader())) {
            return liveIsr.size() == s.isr().size() ? Optional.empty() : Optional.of(s.withIsr(liveIsr));
        }
        for (int candidate : s.replicas()) {
            if (live.contains(candidate) && liveIsr.contains(candidate)) {
                return Optional.of(s.withLeader(candidate, liveIsr));
            }
        }
        if (uncleanElection) {
            for (int candidate : s.replicas()) {
                if (live.contains(candidate)) {
                    return Optional.of(s.withLeader(candidate, List.of(candidate)));
                }
            }
        }
        if (!s.hasLeader()) {
            return Optional.empty();
        }
        // Nobody in sync is alive: no leader, and the ISR stays as it was, so its last members can
        // take the lead back when they return.
        return Optional.of(s.withLeader(PartitionState.NO_LEADER, s.isr()));
    }

    /** Moves leadership back to the preferred replica when it is live and in sync. Empty when nothing changes. */
    public static Optional<PartitionState> preferredLeader(PartitionState s, Set<Integer> live) {
        int preferred = s.preferredLeader();
        if (s.leader() == preferred || !live.contains(preferred) || !s.isr().contains(preferred)) {
            return Optional.empty();
        }
        return Optional.of(s.withLeader(preferred, s.isr()));
    }

    /** Why an ISR change was refused. */
    public enum IsrRefusal { FENCED, INVALID }

    /** The outcome of {@link #alterIsr}: the new state, or a refusal. */
    public record IsrChange(PartitionState state, IsrRefusal refusal) {
    }

    /**
     * A leader's request to change the ISR, computed from the state of version {@code basedOnVersion},
     * judged against the current state: FENCED when that state has moved on.
     */
    public static IsrChange alterIsr(PartitionState current, int leader, int leaderEpoch, int basedOnVersion,
                                     List<Integer> newIsr, Set<Integer> live) {
        if (current.leader() != leader || current.leaderEpoch() != leaderEpoch || current.version() != basedOnVersion) {
            return new IsrChange(null, IsrRefusal.FENCED);
        }
        if (!newIsr.contains(leader) || !current.replicas().containsAll(newIsr)) {
            return new IsrChange(null, IsrRefusal.INVALID);
        }
        for (int added : newIsr) {
            if (!current.isr().contains(added) && !live.contains(added)) {
                return new IsrChange(null, IsrRefusal.INVALID);
            }
        }
        List<Integer> ordered = filter(current.replicas(), Set.copyOf(newIsr));
        if (ordered.equals(current.isr())) {
            return new IsrChange(current, null);
        }
        return new IsrChange(current.withIsr(ordered), null);
    }

    private static List<Integer> filter(List<Integer> ids, Collection<Integer> keep) {
        List<Integer> out = new ArrayList<>(ids.size());
        for (int id : ids) {
            if (keep.contains(id)) {
                out.add(id);
            }
        }
        return out;
    }
}

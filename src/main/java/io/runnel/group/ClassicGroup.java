package io.runnel.group;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * One consumer group as the coordinator holds it: its state, generation, members and committed
 * offsets. A plain object; the {@link GroupCoordinator} drives it and owns its timers.
 *
 * <p>Invariants:
 * <ul>
 *   <li>{@code state} only moves along {@link GroupState}'s legal transitions.</li>
 *   <li>{@code EMPTY} if and only if it has no members (outside a deletion, {@code DEAD}).</li>
 *   <li>{@code leaderId} is null or names a member; with members outside {@code EMPTY} there is a leader.</li>
 *   <li>In {@code COMPLETING_REBALANCE} and {@code STABLE}, {@code protocolName} is a protocol every
 *       member supports and the generation is the one every member was last told.</li>
 *   <li>{@code generationId} never goes down; it rises by one at each completed join phase.</li>
 *   <li>{@code offsets} holds only commits the store has made durable.</li>
 * </ul>
 * Confined to the coordinator's context.
 */
final class ClassicGroup {

    final String groupId;
    private GroupState state = GroupState.EMPTY;
    int generationId;
    String protocolType;
    String protocolName;
    String leaderId;
    /** Members in the order they joined (the first becomes leader when there is none). */
    private final Map<String, ClassicMember> members = new LinkedHashMap<>();
    final Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();

    /** Preparing a rebalance: the join phase ends once all members rejoined and this time has passed (ms, monotonic). */
    long joinNotBeforeMs;
    /** Preparing a rebalance: the join phase ends at this time whoever has rejoined (ms, monotonic). */
    long joinDeadlineMs;
    /** Preparing the group's first rebalance since it was empty: newcomers extend {@link #joinNotBeforeMs}. */
    boolean initialJoinPhase;
    /** When the current rebalance began (ms, monotonic); bounds the initial delay's extensions. */
    long rebalanceStartMs;
    /** Members of this generation that have not sent their sync yet; removed if they do not before the timer. */
    final Set<String> pendingSync = new HashSet<>();
    /** The timer of the current phase (join deadline, initial delay or sync deadline); -1 when none. */
    long phaseTimerId = -1;

    ClassicGroup(String groupId) {
        this.groupId = groupId;
    }

    GroupState state() {
        return state;
    }

    void transitionTo(GroupState target) {
        state = state.moveTo(target);
    }

    boolean is(GroupState s) {
        return state == s;
    }

    ClassicMember member(String memberId) {
        return members.get(memberId);
    }

    Collection<ClassicMember> members() {
        return members.values();
    }

    boolean hasMembers() {
        return !members.isEmpty();
    }

    void add(ClassicMember m) {
        if (members.isEmpty()) {
            protocolType = m.protocolType;
        }
        members.put(m.memberId, m);
        if (leaderId == null) {
            leaderId = m.memberId;
        }
    }

    void remove(ClassicMember m) {
        members.remove(m.memberId);
        pendingSync.remove(m.memberId);
        if (m.memberId.equals(leaderId)) {
            leaderId = members.isEmpty() ? null : members.keySet().iterator().next();
        }
    }

    boolean isLeader(String memberId) {
        return memberId.equals(leaderId);
    }

    /** Nothing worth keeping: no members, no offsets, never a generation. */
    boolean isVacant() {
        return members.isEmpty() && offsets.isEmpty() && generationId == 0 && state == GroupState.EMPTY;
    }

    boolean allMembersAwaitingJoin() {
        return members.values().stream().allMatch(m -> m.awaitingJoin != null);
    }

    /** The longest rebalance timeout of its members: how long a join phase may wait for them all. */
    int rebalanceTimeoutMs() {
        return members.values().stream().mapToInt(m -> m.rebalanceTimeoutMs).max().orElse(0);
    }

    /**
     * Whether a member with these protocols may join: any non-empty list when the group has no
     * members, else the group's protocol type and at least one protocol all members support.
     */
    boolean supportsProtocols(String memberProtocolType, List<String> protocolNames) {
        if (members.isEmpty()) {
            return !protocolNames.isEmpty();
        }
        return memberProtocolType.equals(protocolType)
                && protocolNames.stream().anyMatch(name -> members.values().stream().allMatch(m -> m.supports(name)));
    }

    /**
     * Kafka's choice: among the protocols every member supports, each member votes for the one it
     * prefers most; most votes wins, a tie going to the earliest in the leader's preference.
     */
    String selectProtocol() {
        ClassicMember leader = members.get(leaderId);
        List<String> candidates = new ArrayList<>();
        for (GroupCoordinator.Protocol p : leader.protocols) {
            if (members.values().stream().allMatch(m -> m.supports(p.name()))) {
                candidates.add(p.name());
            }
        }
        if (candidates.isEmpty()) {
            throw new IllegalStateException("Group " + groupId + " has no protocol every member supports");
        }
        Map<String, Integer> votes = new HashMap<>();
        for (ClassicMember m : members.values()) {
            String vote = m.protocols.stream().map(GroupCoordinator.Protocol::name).filter(candidates::contains)
                    .findFirst().orElseThrow();
            votes.merge(vote, 1, Integer::sum);
        }
        String best = candidates.get(0);
        for (String c : candidates) {
            if (votes.getOrDefault(c, 0) > votes.getOrDefault(best, 0)) {
                best = c;
            }
        }
        return best;
    }
}

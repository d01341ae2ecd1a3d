package io.runnel.group;

import java.util.EnumSet;
import java.util.Set;

/**
 * The states of a classic (JoinGroup/SyncGroup) consumer group, as Kafka names them, with the
 * legal moves between them.
 *
 * <pre>
 *   Empty ──join──► PreparingRebalance ──every member rejoined (or timeout)──► CompletingRebalance
 *     ▲                 │   ▲                                                      │        │
 *     └──no member left─┘   └──join / leave / expiry─────────────── Stable ◄──leader's sync┘
 *                           └─────────────────────────────────────────────────────────────────┘
 *   any state but Dead ──delete (no members)──► Dead
 * </pre>
 *
 * <ul>
 *   <li>{@code EMPTY}: no members; the group may still have committed offsets and a generation.</li>
 *   <li>{@code PREPARING_REBALANCE}: waiting for every known member to (re)join; joins are held.</li>
 *   <li>{@code COMPLETING_REBALANCE}: joins answered; waiting for the leader's assignment.</li>
 *   <li>{@code STABLE}: every member has its assignment; heartbeats succeed.</li>
 *   <li>{@code DEAD}: being deleted: joins and commits are refused while its tombstones are
 *       written; then it is gone. Only a failed write brings it back, to {@code Empty}.</li>
 * </ul>
 */
public enum GroupState {
    EMPTY("Empty"),
    PREPARING_REBALANCE("PreparingRebalance"),
    COMPLETING_REBALANCE("CompletingRebalance"),
    STABLE("Stable"),
    DEAD("Dead");

    private final String kafkaName;

    GroupState(String kafkaName) {
        this.kafkaName = kafkaName;
    }

    /** The name Kafka's ListGroups and DescribeGroups report. */
    public String kafkaName() {
        return kafkaName;
    }

    /** The states this one may move to. */
    Set<GroupState> next() {
        return switch (this) {
            case EMPTY -> EnumSet.of(PREPARING_REBALANCE, DEAD);
            case PREPARING_REBALANCE -> EnumSet.of(COMPLETING_REBALANCE, EMPTY, DEAD);
            case COMPLETING_REBALANCE -> EnumSet.of(STABLE, PREPARING_REBALANCE, DEAD);
            case STABLE -> EnumSet.of(PREPARING_REBALANCE, DEAD);
            // A deletion whose tombstones could not be written gives the group back as it was.
            case DEAD -> EnumSet.of(EMPTY);
        };
    }

    /** Checks a move; an illegal one is a coordinator bug and throws. */
    GroupState moveTo(GroupState target) {
        if (!next().contains(target)) {
            throw new IllegalStateException("Illegal group state transition " + this + " -> " + target);
        }
        return target;
    }
}

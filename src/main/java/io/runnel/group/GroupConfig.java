package io.runnel.group;

/**
 * The group coordinator's settings, Kafka's broker keys in spirit.
 *
 * <p>Invariants (checked on construction): {@code initialRebalanceDelayMs >= 0} and
 * {@code 0 < minSessionTimeoutMs <= maxSessionTimeoutMs}.
 *
 * @param initialRebalanceDelayMs Kafka's {@code group.initial.rebalance.delay.ms}: how long the
 *        first rebalance of an empty group waits for more members before answering the first
 *        join, each newcomer extending the wait by as much again (never past the rebalance
 *        timeout). It spares a group that starts many members at once one rebalance per member.
 * @param minSessionTimeoutMs Kafka's {@code group.min.session.timeout.ms}: the shortest session a
 *        member may ask for. It stops members that would heartbeat the coordinator into the ground
 *        and be expired by every small pause.
 * @param maxSessionTimeoutMs Kafka's {@code group.max.session.timeout.ms}: the longest session a
 *        member may ask for, which bounds how long a dead member holds its partitions.
 */
public record GroupConfig(int initialRebalanceDelayMs, int minSessionTimeoutMs, int maxSessionTimeoutMs) {

    /** Kafka's default: 3 s is long enough for a deployment's members to start together. */
    public static final int DEFAULT_INITIAL_REBALANCE_DELAY_MS = 3_000;
    /** Kafka's default: 6 s, twice a consumer's default 3 s heartbeat interval. */
    public static final int DEFAULT_MIN_SESSION_TIMEOUT_MS = 6_000;
    /** Kafka's default: 30 min, so even a member with long pauses (a slow batch job) can ask for a session that survives them. */
    public static final int DEFAULT_MAX_SESSION_TIMEOUT_MS = 1_800_000;

    public GroupConfig {
        if (initialRebalanceDelayMs < 0) {
            throw new IllegalArgumentException("initialRebalanceDelayMs must be >= 0, not " + initialRebalanceDelayMs);
        }
        if (minSessionTimeoutMs <= 0 || minSessionTimeoutMs > maxSessionTimeoutMs) {
            throw new IllegalArgumentException("Session timeout bounds must satisfy 0 < min <= max, not min "
                    + minSessionTimeoutMs + " and max " + maxSessionTimeoutMs);
        }
    }

    /** Kafka's defaults. */
    public static GroupConfig defaults() {
        return new GroupConfig(DEFAULT_INITIAL_REBALANCE_DELAY_MS, DEFAULT_MIN_SESSION_TIMEOUT_MS,
                DEFAULT_MAX_SESSION_TIMEOUT_MS);
    }
}

package io.runnel.group;

import java.util.Arrays;
import java.util.List;

import io.vertx.core.Promise;

/**
 * One member of a {@link ClassicGroup}, as the coordinator sees it.
 *
 * <p>Invariants: {@code protocols} is non-empty and in the member's order of preference; at most
 * one join and one sync of the member are waiting for an answer ({@code awaitingJoin},
 * {@code awaitingSync}); {@code assignment} is never null (empty until the leader's sync).
 * Confined to the coordinator's context, like its group.
 */
final class ClassicMember {

    final String memberId;
    final String groupInstanceId;
    final String clientId;
    int sessionTimeoutMs;
    int rebalanceTimeoutMs;
    String protocolType;
    List<GroupCoordinator.Protocol> protocols;
    byte[] assignment = new byte[0];
    /** The member's join, held while the group prepares a rebalance. */
    Promise<GroupCoordinator.JoinResult> awaitingJoin;
    /** The member's sync, held until the leader's assignment is stored. */
    Promise<byte[]> awaitingSync;
    /** Its session timer; -1 when none is armed. */
    long sessionTimerId = -1;

    ClassicMember(String memberId, String groupInstanceId, String clientId, int sessionTimeoutMs,
                  int rebalanceTimeoutMs, String protocolType, List<GroupCoordinator.Protocol> protocols) {
        this.memberId = memberId;
        this.groupInstanceId = groupInstanceId;
        this.clientId = clientId;
        this.sessionTimeoutMs = sessionTimeoutMs;
        this.rebalanceTimeoutMs = rebalanceTimeoutMs;
        this.protocolType = protocolType;
        this.protocols = List.copyOf(protocols);
    }

    boolean supports(String protocolName) {
        return protocols.stream().anyMatch(p -> p.name().equals(protocolName));
    }

    /** Its metadata for {@code protocolName}, which it must support. */
    byte[] metadata(String protocolName) {
        return protocols.stream().filter(p -> p.name().equals(protocolName)).findFirst()
                .orElseThrow(() -> new IllegalStateException("Member " + memberId + " does not support " + protocolName))
                .metadata();
    }

    /** Whether {@code others} are the protocols it already has: same names, order and metadata. */
    boolean matches(List<GroupCoordinator.Protocol> others) {
        if (others.size() != protocols.size()) {
            return false;
        }
        for (int i = 0; i < others.size(); i++) {
            GroupCoordinator.Protocol mine = protocols.get(i);
            GroupCoordinator.Protocol theirs = others.get(i);
            if (!mine.name().equals(theirs.name()) || !Arrays.equals(mine.metadata(), theirs.metadata())) {
                return false;
            }
        }
        return true;
    }
}

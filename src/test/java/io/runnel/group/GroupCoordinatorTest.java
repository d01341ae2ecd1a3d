package io.runnel.group;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.CoordinatorNotAvailableException;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.IllegalGenerationException;
import org.apache.kafka.common.errors.InconsistentGroupProtocolException;
import org.apache.kafka.common.errors.InvalidGroupIdException;
import org.apache.kafka.common.errors.InvalidSessionTimeoutException;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.apache.kafka.common.protocol.Errors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.runnel.group.GroupCoordinator.JoinRequest;
import io.runnel.group.GroupCoordinator.JoinResult;
import io.runnel.group.GroupCoordinator.Protocol;
import io.runnel.group.GroupCoordinator.SyncRequest;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * The classic group protocol as members see it: joins held until everyone has rejoined, one
 * generation per rebalance, the leader's assignment handed out by sync, rebalances announced
 * through heartbeats, members removed when they leave, go silent or do not rejoin; offsets
 * committed under Kafka's rules, durable before visible, surviving a restart and erased by
 * deletion.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 15, unit = TimeUnit.SECONDS)
class GroupCoordinatorTest {

    static final int INITIAL_DELAY_MS = 150;
    static final int SESSION_MS = 5_000;
    static final int REBALANCE_MS = 5_000;
    static final GroupConfig CONFIG = new GroupConfig(INITIAL_DELAY_MS, 100, 60_000);
    static final TopicPartition ORDERS_0 = new TopicPartition("orders", 0);
    static final TopicPartition ORDERS_1 = new TopicPartition("orders", 1);

    final InMemoryGroupStore store = new InMemoryGroupStore(4);
    GroupCoordinator coordinator;

    @AfterEach
    void stop() throws Exception {
        if (coordinator != null) {
            await(coordinator.close());
        }
    }

    GroupCoordinator start(Vertx vertx) throws Exception {
        coordinator = await(GroupCoordinator.start(vertx, store, CONFIG));
        return coordinator;
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.await(10, TimeUnit.SECONDS);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String string(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    static JoinRequest joinRequest(String group, String memberId, int sessionMs, int rebalanceMs, String... protocols) {
        List<Protocol> ps = java.util.Arrays.stream(protocols).map(p -> new Protocol(p, bytes("subscription-" + p))).toList();
        return new JoinRequest(group, memberId, null, "client", "consumer", ps, sessionMs, rebalanceMs);
    }

    Future<JoinResult> join(String group, String memberId) {
        return coordinator.join(joinRequest(group, memberId, SESSION_MS, REBALANCE_MS, "range"));
    }

    Future<byte[]> sync(String group, JoinResult j, Map<String, byte[]> assignments) {
        return coordinator.sync(new SyncRequest(group, j.generationId(), j.memberId(), "consumer", j.protocolName(),
                assignments));
    }

    /** Polls from the test thread (never an event loop) until {@code condition} holds. */
    static void until(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Timed out waiting until " + what);
            }
            Thread.sleep(20);
        }
    }

    /** Two members formed into a stable group; returns [leader's join, follower's join]. */
    JoinResult[] stableGroupOfTwo(String group) throws Exception {
        Future<JoinResult> a = join(group, "");
        Future<JoinResult> b = join(group, "");
        JoinResult ja = await(a);
        JoinResult jb = await(b);
        JoinResult leader = ja.isLeader() ? ja : jb;
        JoinResult follower = ja.isLeader() ? jb : ja;
        Future<byte[]> followerSync = sync(group, follower, Map.of());
        await(sync(group, leader, Map.of(leader.memberId(), bytes("L"), follower.memberId(), bytes("F"))));
        await(followerSync);
        return new JoinResult[] {leader, follower};
    }

    // ---------------------------------------------------------------- join and sync

    @Test
    void twoMembersJoinIntoOneGenerationAndTheLeadersSyncHandsOutTheAssignment(Vertx vertx) throws Exception {
        start(vertx);
        long startNanos = System.nanoTime();
        Future<JoinResult> first = join("g", "");
        // Arrives within the initial delay, so the first member's join waits for it.
        Future<JoinResult> second = join("g", "");

        JoinResult a = await(first);
        JoinResult b = await(second);
        assertThat(System.nanoTime() - startNanos).as("the first join waited the initial rebalance delay")
                .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(INITIAL_DELAY_MS));
        assertThat(a.generationId()).isEqualTo(1).isEqualTo(b.generationId());
        assertThat(a.leaderId()).isEqualTo(b.leaderId()).isIn(a.memberId(), b.memberId());
        assertThat(a.memberId()).isNotEqualTo(b.memberId()).startsWith("client-");
        assertThat(a.protocolName()).isEqualTo("range");
        JoinResult leader = a.isLeader() ? a : b;
        JoinResult follower = a.isLeader() ? b : a;
        assertThat(leader.members()).extracting(GroupCoordinator.JoinedMember::memberId)
                .containsExactlyInAnyOrder(a.memberId(), b.memberId());
        assertThat(leader.members()).allSatisfy(m -> assertThat(string(m.metadata())).isEqualTo("subscription-range"));
        assertThat(follower.members()).as("only the leader learns the members").isEmpty();

        Future<byte[]> followerSync = sync("g", follower, Map.of());
        assertThat(await(coordinator.describeGroup("g")).state()).isEqualTo(GroupState.COMPLETING_REBALANCE);
        assertThat(followerSync.isComplete()).as("a follower's sync waits for the leader's").isFalse();
        byte[] leaderAssignment = await(sync("g", leader,
                Map.of(leader.memberId(), bytes("p0"), follower.memberId(), bytes("p1"))));

        assertThat(string(leaderAssignment)).isEqualTo("p0");
        assertThat(string(await(followerSync))).isEqualTo("p1");
        GroupCoordinator.GroupDescription described = await(coordinator.describeGroup("g"));
        assertThat(described.state()).isEqualTo(GroupState.STABLE);
        assertThat(described.protocolName()).isEqualTo("range");
        assertThat(described.members()).extracting(m -> string(m.assignment())).containsExactlyInAnyOrder("p0", "p1");
        await(coordinator.heartbeat("g", 1, follower.memberId()));
    }

    @Test
    void aNewMemberMakesHeartbeatsFailSoTheOthersRejoinIntoTheNextGeneration(Vertx vertx) throws Exception {
        start(vertx);
        JoinResult[] two = stableGroupOfTwo("g");
        String a = two[0].memberId();
        String b = two[1].memberId();

        Future<JoinResult> third = join("g", "");
        assertThatThrownBy(() -> await(coordinator.heartbeat("g", 1, a))).isInstanceOf(RebalanceInProgressException.class)
                .satisfies(e -> assertThat(Errors.forException(e)).isEqualTo(Errors.REBALANCE_IN_PROGRESS));
        assertThatThrownBy(() -> await(coordinator.heartbeat("g", 1, b))).isInstanceOf(RebalanceInProgressException.class);
        assertThat(third.isComplete()).as("held until every known member rejoined").isFalse();

        Future<JoinResult> rejoinA = join("g", a);
        Future<JoinResult> rejoinB = join("g", b);
        JoinResult ra = await(rejoinA);
        JoinResult rb = await(rejoinB);
        JoinResult rc = await(third);
        assertThat(List.of(ra, rb, rc)).extracting(JoinResult::generationId).containsOnly(2);
        JoinResult leader = List.of(ra, rb, rc).stream().filter(JoinResult::isLeader).findFirst().orElseThrow();
        assertThat(leader.memberId()).as("the leader stays the leader").isEqualTo(a);
        assertThat(leader.members()).hasSize(3);
    }

    @Test
    void aMemberThatDoesNotRejoinWithinTheRebalanceTimeoutIsRemoved(Vertx vertx) throws Exception {
        start(vertx);
        Future<JoinResult> fa = coordinator.join(joinRequest("g", "", SESSION_MS, 400, "range"));
        Future<JoinResult> fb = coordinator.join(joinRequest("g", "", SESSION_MS, 400, "range"));
        JoinResult a = await(fa);
        JoinResult b = await(fb);
        JoinResult leader = a.isLeader() ? a : b;
        JoinResult silent = a.isLeader() ? b : a;
        Future<byte[]> silentSync = sync("g", silent, Map.of());
        await(sync("g", leader, Map.of()));
        await(silentSync);

        leader = await(coordinator.join(joinRequest("g", leader.memberId(), SESSION_MS, 400, "range")));

        assertThat(leader.generationId()).isEqualTo(2);
        assertThat(leader.members()).extracting(GroupCoordinator.JoinedMember::memberId)
                .containsExactly(leader.memberId());
        String silentId = silent.memberId();
        assertThatThrownBy(() -> await(coordinator.heartbeat("g", 1, silentId)))
                .isInstanceOf(UnknownMemberIdException.class);
    }

    @Test
    void aSilentMemberIsRemovedWhenItsSessionExpiresAndTheOthersRebalance(Vertx vertx) throws Exception {
        start(vertx);
        int sessionMs = 400;
        Future<JoinResult> fa = coordinator.join(joinRequest("g", "", sessionMs, REBALANCE_MS, "range"));
        Future<JoinResult> fb = coordinator.join(joinRequest("g", "", sessionMs, REBALANCE_MS, "range"));
        JoinResult a = await(fa);
        JoinResult b = await(fb);
        Future<byte[]> syncB = sync("g", b, Map.of());
        await(sync("g", a, Map.of()));
        await(syncB);

        // a keeps heartbeating; b falls silent.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        Throwable heard = null;
        while (heard == null && System.nanoTime() < deadline) {
            Thread.sleep(sessionMs / 4);
            heard = coordinator.heartbeat("g", a.generationId(), a.memberId()).transform(Future::succeededFuture)
                    .await(5, TimeUnit.SECONDS).cause();
        }
        assertThat(heard).as("a learns of the rebalance").isInstanceOf(RebalanceInProgressException.class);

        JoinResult again = await(coordinator.join(joinRequest("g", a.memberId(), sessionMs, REBALANCE_MS, "range")));
        assertThat(again.generationId()).isEqualTo(2);
        assertThat(again.members()).extracting(GroupCoordinator.JoinedMember::memberId).containsExactly(a.memberId());
        assertThat(await(coordinator.describeGroup("g")).members()).extracting(GroupCoordinator.MemberDescription::memberId)
                .containsExactly(a.memberId());
    }

    @Test
    void aMemberLeavingMakesTheRestRebalance(Vertx vertx) throws Exception {
        start(vertx);
        JoinResult[] two = stableGroupOfTwo("g");
        JoinResult stays = two[1];

        await(coordinator.leave("g", two[0].memberId()));

        assertThatThrownBy(() -> await(coordinator.heartbeat("g", 1, stays.memberId())))
                .isInstanceOf(RebalanceInProgressException.class);
        JoinResult again = await(join("g", stays.memberId()));
        assertThat(again.generationId()).isEqualTo(2);
        assertThat(again.leaderId()).as("the follower took over").isEqualTo(stays.memberId());
        assertThatThrownBy(() -> await(coordinator.leave("g", two[0].memberId())))
                .isInstanceOf(UnknownMemberIdException.class);
    }

    @Test
    void theLastMemberLeavingEmptiesTheGroupAndEndsTheGeneration(Vertx vertx) throws Exception {
        start(vertx);
        JoinResult[] two = stableGroupOfTwo("g");
        await(coordinator.leave("g", two[0].memberId()));
        await(coordinator.leave("g", two[1].memberId()));

        GroupCoordinator.GroupDescription d = await(coordinator.describeGroup("g"));
        assertThat(d.state()).isEqualTo(GroupState.EMPTY);
        assertThat(d.members()).isEmpty();
        assertThat(await(coordinator.listGroups())).containsExactly(
                new GroupCoordinator.GroupOverview("g", "consumer", GroupState.EMPTY));
    }

    @Test
    void joinsThatCannotBeHonouredFailWithKafkasErrors(Vertx vertx) throws Exception {
        start(vertx);
        await(join("g", "").compose(j -> sync("g", j, Map.of())));

        assertThatThrownBy(() -> await(coordinator.join(joinRequest("g", "", SESSION_MS, REBALANCE_MS, "roundrobin"))))
                .isInstanceOf(InconsistentGroupProtocolException.class);
        assertThatThrownBy(() -> await(coordinator.join(joinRequest("g", "", 50, REBALANCE_MS, "range"))))
                .isInstanceOf(InvalidSessionTimeoutException.class);
        assertThatThrownBy(() -> await(coordinator.join(joinRequest("g", "", 70_000, REBALANCE_MS, "range"))))
                .isInstanceOf(InvalidSessionTimeoutException.class);
        assertThatThrownBy(() -> await(coordinator.join(joinRequest("", "", SESSION_MS, REBALANCE_MS, "range"))))
                .isInstanceOf(InvalidGroupIdException.class);
        assertThatThrownBy(() -> await(join("g", "no-such-member"))).isInstanceOf(UnknownMemberIdException.class);
        assertThatThrownBy(() -> await(coordinator.heartbeat("other", 1, "x"))).isInstanceOf(UnknownMemberIdException.class);
    }

    @Test
    void theProtocolChosenIsOneEveryMemberSupports(Vertx vertx) throws Exception {
        start(vertx);
        Future<JoinResult> a = coordinator.join(joinRequest("g", "", SESSION_MS, REBALANCE_MS, "roundrobin", "range"));
        Future<JoinResult> b = coordinator.join(joinRequest("g", "", SESSION_MS, REBALANCE_MS, "range"));
        assertThat(await(a).protocolName()).isEqualTo("range");
        assertThat(await(b).protocolName()).isEqualTo("range");
    }

    // ---------------------------------------------------------------- offsets

    @Test
    void aCommitFromAnEarlierGenerationIsRefused(Vertx vertx) throws Exception {
        start(vertx);
        JoinResult[] two = stableGroupOfTwo("g");
        String member = two[0].memberId();

        assertThatThrownBy(() -> await(coordinator.commitOffsets("g", 0, member, Map.of(ORDERS_0, new OffsetAndMetadata(5)))))
                .isInstanceOf(IllegalGenerationException.class)
                .satisfies(e -> assertThat(Errors.forException(e)).isEqualTo(Errors.ILLEGAL_GENERATION));
        assertThatThrownBy(() -> await(coordinator.commitOffsets("g", 1, "stranger", Map.of(ORDERS_0, new OffsetAndMetadata(5)))))
                .isInstanceOf(UnknownMemberIdException.class);
        await(coordinator.commitOffsets("g", 1, member, Map.of(ORDERS_0, new OffsetAndMetadata(7, Optional.of(3), "m"))));

        assertThat(await(coordinator.fetchOffsets("g", List.of(ORDERS_0, ORDERS_1))))
                .containsExactly(Map.entry(ORDERS_0, new OffsetAndMetadata(7, Optional.of(3), "m")));
    }

    @Test
    void aSimpleCommitIsAcceptedOnlyWhileTheGroupHasNoMembers(Vertx vertx) throws Exception {
        start(vertx);
        await(coordinator.commitOffsets("tool", -1, "", Map.of(ORDERS_0, new OffsetAndMetadata(10))));
        assertThat(await(coordinator.fetchOffsets("tool", null))).containsEntry(ORDERS_0, new OffsetAndMetadata(10));
        assertThat(await(coordinator.listGroups())).containsExactly(
                new GroupCoordinator.GroupOverview("tool", "", GroupState.EMPTY));

        stableGroupOfTwo("tool");
        assertThatThrownBy(() -> await(coordinator.commitOffsets("tool", -1, "", Map.of(ORDERS_0, new OffsetAndMetadata(11)))))
                .isInstanceOf(UnknownMemberIdException.class);
        assertThat(await(coordinator.fetchOffsets("tool", null))).containsEntry(ORDERS_0, new OffsetAndMetadata(10));
        assertThatThrownBy(() -> await(coordinator.commitOffsets("nobody", 3, "m", Map.of(ORDERS_0, new OffsetAndMetadata(1)))))
                .isInstanceOf(IllegalGenerationException.class);
    }

    @Test
    void aCommitTheStoreCouldNotMakeDurableIsNeitherAcknowledgedNorVisible(Vertx vertx) throws Exception {
        start(vertx);
        await(coordinator.commitOffsets("g", -1, "", Map.of(ORDERS_0, new OffsetAndMetadata(1))));
        store.failAppends(true);

        assertThatThrownBy(() -> await(coordinator.commitOffsets("g", -1, "", Map.of(ORDERS_0, new OffsetAndMetadata(2)))))
                .isInstanceOf(CoordinatorNotAvailableException.class);
        assertThat(await(coordinator.fetchOffsets("g", null))).containsExactly(Map.entry(ORDERS_0, new OffsetAndMetadata(1)));
    }

    @Test
    void committedOffsetsAndTheGenerationSurviveARestart(Vertx vertx) throws Exception {
        start(vertx);
        JoinResult[] two = stableGroupOfTwo("g");
        await(coordinator.commitOffsets("g", 1, two[0].memberId(), Map.of(ORDERS_0, new OffsetAndMetadata(42, "a"))));
        await(coordinator.commitOffsets("g", 1, two[1].memberId(), Map.of(ORDERS_1, new OffsetAndMetadata(7))));
        await(coordinator.commitOffsets("g", 1, two[1].memberId(), Map.of(ORDERS_1, new OffsetAndMetadata(9))));
        await(coordinator.commitOffsets("simple", -1, "", Map.of(ORDERS_0, new OffsetAndMetadata(3))));
        await(coordinator.close());

        start(vertx);

        assertThat(await(coordinator.fetchOffsets("g", null))).containsOnly(
                Map.entry(ORDERS_0, new OffsetAndMetadata(42, "a")), Map.entry(ORDERS_1, new OffsetAndMetadata(9)));
        assertThat(await(coordinator.fetchOffsets("simple", List.of(ORDERS_0)))).containsOnly(
                Map.entry(ORDERS_0, new OffsetAndMetadata(3)));
        assertThat(await(coordinator.listGroups())).containsExactly(
                new GroupCoordinator.GroupOverview("g", "consumer", GroupState.EMPTY),
                new GroupCoordinator.GroupOverview("simple", "", GroupState.EMPTY));
        String oldMember = two[0].memberId();
        assertThatThrownBy(() -> await(coordinator.heartbeat("g", 1, oldMember)))
                .as("members do not survive a restart: they join again").isInstanceOf(UnknownMemberIdException.class);
        assertThat(await(join("g", "")).generationId()).as("generations keep counting up").isEqualTo(2);
    }

    // ---------------------------------------------------------------- deletion

    @Test
    void deletingAGroupWritesTombstonesForItsMetadataAndEveryOffset(Vertx vertx) throws Exception {
        start(vertx);
        JoinResult[] two = stableGroupOfTwo("g");
        await(coordinator.commitOffsets("g", 1, two[0].memberId(),
                Map.of(ORDERS_0, new OffsetAndMetadata(1), ORDERS_1, new OffsetAndMetadata(2))));
        assertThatThrownBy(() -> await(coordinator.deleteGroup("g"))).isInstanceOf(GroupNotEmptyException.class);
        await(coordinator.leave("g", two[0].memberId()));
        await(coordinator.leave("g", two[1].memberId()));

        await(coordinator.deleteGroup("g"));

        List<GroupRecords.Entry> entries = store.entriesOf("g");
        assertThat(entries.subList(entries.size() - 3, entries.size())).containsExactlyInAnyOrder(
                new GroupRecords.GroupMetadata("g", null),
                new GroupRecords.OffsetCommit("g", ORDERS_0, null, -1),
                new GroupRecords.OffsetCommit("g", ORDERS_1, null, -1));
        assertThat(await(coordinator.fetchOffsets("g", null))).isEmpty();
        assertThat(await(coordinator.listGroups())).isEmpty();
        assertThatThrownBy(() -> await(coordinator.describeGroup("g"))).isInstanceOf(GroupIdNotFoundException.class);
        assertThatThrownBy(() -> await(coordinator.deleteGroup("g"))).isInstanceOf(GroupIdNotFoundException.class);

        await(coordinator.close());
        start(vertx);
        assertThat(await(coordinator.listGroups())).as("still gone after a restart").isEmpty();
        assertThat(await(coordinator.fetchOffsets("g", null))).isEmpty();
    }

    @Test
    void deletingOffsetsSparesTopicsTheMembersAreSubscribedToAndForgetsTheRest(Vertx vertx) throws Exception {
        start(vertx);
        TopicPartition audit0 = new TopicPartition("audit", 0);
        byte[] subscription = org.apache.kafka.common.utils.Utils.toArray(
                org.apache.kafka.clients.consumer.internals.ConsumerProtocol.serializeSubscription(
                        new org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.Subscription(List.of("orders"))));
        JoinResult only = await(coordinator.join(new JoinRequest("g", "", null, "client", "consumer",
                List.of(new Protocol("range", subscription)), SESSION_MS, REBALANCE_MS)));
        await(sync("g", only, Map.of(only.memberId(), bytes("A"))));
        await(coordinator.commitOffsets("g", only.generationId(), only.memberId(),
                Map.of(ORDERS_0, new OffsetAndMetadata(5), audit0, new OffsetAndMetadata(8))));

        Map<TopicPartition, org.apache.kafka.common.errors.ApiException> outcome =
                await(coordinator.deleteOffsets("g", List.of(ORDERS_0, audit0, ORDERS_1)));

        assertThat(outcome.get(ORDERS_0)).as("a subscribed topic keeps its offsets")
                .isInstanceOf(org.apache.kafka.common.errors.GroupSubscribedToTopicException.class);
        assertThat(outcome.get(ORDERS_1)).as("even a partition with none committed")
                .isInstanceOf(org.apache.kafka.common.errors.GroupSubscribedToTopicException.class);
        assertThat(outcome).containsEntry(audit0, null);
        assertThat(await(coordinator.fetchOffsets("g", null))).containsOnly(Map.entry(ORDERS_0, new OffsetAndMetadata(5)));
        assertThat(store.entriesOf("g")).last().isEqualTo(new GroupRecords.OffsetCommit("g", audit0, null, -1));

        await(coordinator.leave("g", only.memberId()));
        assertThat(await(coordinator.deleteOffsets("g", List.of(ORDERS_0)))).as("an empty group spares nothing")
                .containsEntry(ORDERS_0, null);
        assertThat(await(coordinator.fetchOffsets("g", null))).isEmpty();
        assertThatThrownBy(() -> await(coordinator.deleteOffsets("nobody", List.of(ORDERS_0))))
                .isInstanceOf(GroupIdNotFoundException.class);

        await(coordinator.close());
        start(vertx);
        assertThat(await(coordinator.fetchOffsets("g", null))).as("still gone after a restart").isEmpty();
        assertThat(await(coordinator.listGroups())).extracting(GroupCoordinator.GroupOverview::groupId).containsExactly("g");
    }
}

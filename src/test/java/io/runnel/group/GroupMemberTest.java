package io.runnel.group;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * In-process members share a topic's partitions as Kafka consumers would: disjoint sets that
 * cover every partition, computed by kafka-clients' assignors, and redistributed by themselves
 * (heartbeat, rejoin) when a member goes.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class GroupMemberTest {

    static final int SESSION_MS = 600;
    static final int REBALANCE_MS = 2_000;
    static final Map<String, Integer> TOPICS = Map.of("orders", 4);

    GroupCoordinator coordinator;
    final List<GroupMember> members = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (GroupMember m : members) {
            m.close().await(5, TimeUnit.SECONDS);
        }
        if (coordinator != null) {
            coordinator.close().await(5, TimeUnit.SECONDS);
        }
    }

    void start(Vertx vertx) throws Exception {
        coordinator = GroupCoordinator.start(vertx, new InMemoryGroupStore(2), new GroupConfig(100, 100, 60_000))
                .await(5, TimeUnit.SECONDS);
    }

    GroupMember member(Vertx vertx, String assignor) {
        GroupMember m = new GroupMember(vertx, coordinator, "g", "http-consumer", assignor,
                topic -> TOPICS.getOrDefault(topic, 0), SESSION_MS, REBALANCE_MS);
        members.add(m);
        return m;
    }

    static Set<TopicPartition> orders(int... partitions) {
        Set<TopicPartition> out = new HashSet<>();
        for (int p : partitions) {
            out.add(new TopicPartition("orders", p));
        }
        return out;
    }

    /** Members the coordinator holds in {@code group}; 0 when there is no such group. */
    int memberCount(String group) {
        return coordinator.describeGroup(group).map(d -> d.members().size()).otherwise(0).await();
    }

    static void until(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Timed out waiting until " + what);
            }
            Thread.sleep(20);
        }
    }

    /** Both hold partitions, none twice, all four between them. */
    static boolean shareAllFour(GroupMember a, GroupMember b) {
        Set<TopicPartition> x = a.assignment();
        Set<TopicPartition> y = b.assignment();
        Set<TopicPartition> union = new HashSet<>(x);
        union.addAll(y);
        return !x.isEmpty() && !y.isEmpty() && x.size() + y.size() == 4 && union.equals(orders(0, 1, 2, 3))
                && a.generationId() == b.generationId();
    }

    void twoMembersShareThenOneTakesAll(Vertx vertx, String assignor, List<Set<TopicPartition>> expectedSplit)
            throws Exception {
        start(vertx);
        GroupMember a = member(vertx, assignor);
        GroupMember b = member(vertx, assignor);
        List<Set<TopicPartition>> seenByB = new CopyOnWriteArrayList<>();
        b.assignmentListener(seenByB::add);

        Future<Set<TopicPartition>> fa = a.subscribe(Set.of("orders", "no-such-topic"));
        Future<Set<TopicPartition>> fb = b.subscribe(Set.of("orders"));
        fa.await(5, TimeUnit.SECONDS);
        fb.await(5, TimeUnit.SECONDS);
        until(() -> shareAllFour(a, b), "a and b share the four partitions");
        assertThat(List.of(a.assignment(), b.assignment())).containsExactlyInAnyOrderElementsOf(expectedSplit);

        a.close().await(5, TimeUnit.SECONDS);

        until(() -> b.assignment().equals(orders(0, 1, 2, 3)), "b holds all four partitions");
        assertThat(a.assignment()).isEmpty();
        assertThat(seenByB).contains(b.assignment()).last().isEqualTo(orders(0, 1, 2, 3));
        GroupCoordinator.GroupDescription d = coordinator.describeGroup("g").await(5, TimeUnit.SECONDS);
        assertThat(d.members()).hasSize(1);
        assertThat(d.protocolName()).isEqualTo(assignor);
    }

    @Test
    void rangeGivesTwoMembersContiguousHalvesAndTheSurvivorEverything(Vertx vertx) throws Exception {
        twoMembersShareThenOneTakesAll(vertx, "range", List.of(orders(0, 1), orders(2, 3)));
    }

    @Test
    void roundRobinDealsPartitionsInTurnAndTheSurvivorGetsEverything(Vertx vertx) throws Exception {
        twoMembersShareThenOneTakesAll(vertx, "roundrobin", List.of(orders(0, 2), orders(1, 3)));
    }

    @Test
    void aMemberCommitsUnderItsOwnGeneration(Vertx vertx) throws Exception {
        start(vertx);
        GroupMember a = member(vertx, "range");
        Set<TopicPartition> assigned = a.subscribe(Set.of("orders")).await(5, TimeUnit.SECONDS);
        assertThat(assigned).isEqualTo(orders(0, 1, 2, 3));
        assertThat(a.generationId()).isEqualTo(1);

        a.commit(Map.of(new TopicPartition("orders", 2), new OffsetAndMetadata(17))).await(5, TimeUnit.SECONDS);

        assertThat(coordinator.fetchOffsets("g", null).await(5, TimeUnit.SECONDS))
                .containsExactly(Map.entry(new TopicPartition("orders", 2), new OffsetAndMetadata(17)));
    }

    @Test
    void subscribeAndCloseRacingLeaveNoMemberBehind(Vertx vertx) throws Exception {
        start(vertx);
        List<GroupMember> racers = IntStream.range(0, 3).mapToObj(i -> member(vertx, "range")).toList();
        List<Future<Set<TopicPartition>>> subscribed = racers.stream().map(m -> m.subscribe(Set.of("orders"))).toList();
        List<Future<Void>> closed = racers.stream().map(GroupMember::close).toList();

        for (Future<Void> c : closed) {
            c.await(5, TimeUnit.SECONDS);
        }
        for (Future<Set<TopicPartition>> s : subscribed) {
            assertThatThrownBy(() -> s.await(5, TimeUnit.SECONDS)).isInstanceOf(IllegalStateException.class);
        }
        until(() -> memberCount("g") == 0, "the joins that were in flight have left");
        assertThat(racers).allSatisfy(m -> assertThat(m.assignment()).isEmpty());
        assertThatThrownBy(() -> racers.get(0).subscribe(Set.of("orders")).await(5, TimeUnit.SECONDS))
                .isInstanceOf(IllegalStateException.class);
    }
}

package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * Which of two partition states a broker's copy of the metadata keeps, when entry events and full
 * re-reads arrive in any order, including across a topic deleted and created again under its name.
 */
class PartitionStateTest {

    static final List<Integer> REPLICAS = List.of(1, 2, 3);

    @Test
    void withinOneTopicALateOlderStateNeverReplacesANewerOne() {
        PartitionState first = PartitionState.initial("orders", 0, REPLICAS, 100);
        PartitionState shrunk = first.withIsr(List.of(1, 2));

        assertThat(ClusterMetadata.NEWER_STATE.apply(first, shrunk)).isEqualTo(shrunk);
        assertThat(ClusterMetadata.NEWER_STATE.apply(shrunk, first)).as("a late event of version 0").isEqualTo(shrunk);
    }

    @Test
    void aRecreatedTopicsFirstStateReplacesWhatIsHeldOfTheDeletedOneWhateverTheVersions() {
        PartitionState deleted = PartitionState.initial("orders", 0, REPLICAS, 100)
                .withLeader(2, List.of(2, 3)).withLeader(3, List.of(3)).withIsr(List.of(3, 1));
        PartitionState recreated = PartitionState.initial("orders", 0, List.of(2, 3, 1), 101);
        assertThat(deleted.version()).isGreaterThan(recreated.version());

        assertThat(ClusterMetadata.NEWER_STATE.apply(deleted, recreated)).isEqualTo(recreated);
        assertThat(ClusterMetadata.NEWER_STATE.apply(recreated, deleted))
                .as("a full re-read that saw the map before the deletion").isEqualTo(recreated);
    }

    @Test
    void incarnationsOfOneNameOnlyGrowEvenWhenTheClockIsBehindTheDeletedOne() {
        assertThat(ClusterMetadata.incarnationAfter(null, 5_000)).isEqualTo(5_000);
        assertThat(ClusterMetadata.incarnationAfter(4_000L, 5_000)).isEqualTo(5_000);
        assertThat(ClusterMetadata.incarnationAfter(9_000L, 5_000)).as("another controller's clock ran ahead")
                .isEqualTo(9_001);
    }

    @Test
    void leaderAndIsrChangesKeepTheIncarnation() {
        PartitionState s = PartitionState.initial("orders", 0, REPLICAS, 42);
        assertThat(s.withLeader(2, List.of(2, 3)).incarnation()).isEqualTo(42);
        assertThat(s.withIsr(List.of(1, 3)).incarnation()).isEqualTo(42);
    }

    @Test
    void theIncarnationTravelsInTheJsonAndAStateWrittenWithoutOneReadsAsZero() {
        PartitionState s = PartitionState.initial("orders", 2, REPLICAS, 1_795_000_000_000L).withIsr(List.of(1, 2));
        assertThat(PartitionState.fromJson(s.toJson())).isEqualTo(s);

        PartitionState older = PartitionState.fromJson("{\"topic\":\"orders\",\"partition\":2,\"replicas\":[1,2,3],"
                + "\"leader\":1,\"leaderEpoch\":0,\"isr\":[1,2,3],\"version\":4}");
        assertThat(older.incarnation()).isZero();
        assertThat(older.version()).isEqualTo(4);
    }
}

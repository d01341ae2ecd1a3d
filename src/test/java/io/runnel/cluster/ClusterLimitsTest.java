package io.runnel.cluster;

import static io.runnel.cluster.ClusterReplicationTest.assertExactlyOnceInOrder;
import static io.runnel.cluster.ClusterReplicationTest.awaitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The limits the README claims for small clusters: metadata changes need a majority of the
 * listed members, so one broker alone is a working cluster, and two brokers with one down keep
 * their data but cannot move leadership until the other returns.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ClusterLimitsTest extends ClusterTestBase {

    @Test
    void aClusterOfOneIsItsOwnMajorityAndServesAcksAll() throws Exception {
        startCluster(1);
        try (Admin admin = cluster.admin()) {
            admin.createTopics(List.of(new NewTopic("solo", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
            List<ClusterReplicationTest.Acked> acked = new ArrayList<>();
            try (KafkaProducer<String, String> producer =
                         new KafkaProducer<>(ClusterReplicationTest.producerProps(cluster.bootstrap()))) {
                for (int i = 0; i < 20; i++) {
                    acked.add(new ClusterReplicationTest.Acked("s-" + i,
                            producer.send(new ProducerRecord<>("solo", "s-" + i)).get().offset()));
                }
            }
            assertExactlyOnceInOrder(new ClusterReplicationTest().readAllFrom(cluster, "solo"), acked);
        }
    }

    @Test
    void aClusterOfTwoWithOneDownCannotMoveLeadershipUntilItReturns() throws Exception {
        startCluster(2);
        try (Admin admin = cluster.admin()) {
            admin.createTopics(List.of(new NewTopic("pair", 1, (short) 2)
                    .configs(Map.of("min.insync.replicas", "1")))).all().get(30, TimeUnit.SECONDS);
            List<ClusterReplicationTest.Acked> acked = new ArrayList<>();
            try (KafkaProducer<String, String> producer =
                         new KafkaProducer<>(ClusterReplicationTest.producerProps(cluster.bootstrap()))) {
                for (int i = 0; i < 20; i++) {
                    acked.add(new ClusterReplicationTest.Acked("p-" + i,
                            producer.send(new ProducerRecord<>("pair", "p-" + i)).get().offset()));
                }
            }
            int leader = ClusterReplicationTest.leaderOf(admin, "pair");
            cluster.kill(cluster.broker(leader));
            // One of two is no majority: the survivor may not elect itself, however long it waits.
            Thread.sleep(8_000);
            Node now = ClusterReplicationTest.describeLeader(admin, "pair");
            assertThat(now == null || now.id() < 0).as("no leader while the majority is gone, got %s", now).isTrue();

            cluster.launch(cluster.broker(leader));
            awaitUntil(() -> ClusterReplicationTest.isrOf(admin, "pair").size() == 2, 60_000,
                    "both replicas in sync again");
            assertExactlyOnceInOrder(new ClusterReplicationTest().readAllFrom(cluster, "pair"), acked);
        }
    }
}

package io.runnel.cluster;

import static io.runnel.cluster.ClusterReplicationTest.assertExactlyOnceInOrder;
import static io.runnel.cluster.ClusterReplicationTest.awaitNewLeader;
import static io.runnel.cluster.ClusterReplicationTest.awaitUntil;
import static io.runnel.cluster.ClusterReplicationTest.createTopic;
import static io.runnel.cluster.ClusterReplicationTest.isrOf;
import static io.runnel.cluster.ClusterReplicationTest.leaderOf;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The long variant of the failover tests (slow profile: {@code mvn -B verify -Pslow}): ten
 * rounds, each killing or pausing the current leader under an idempotent acks=all load and
 * bringing it back, then one check that every acknowledged record is in the log exactly once and
 * in order. The kind of each round comes from a seed, printed so a failure can be replayed
 * ({@code -Dsoak.seed=N}).
 */
@Tag("slow")
@Timeout(value = 30, unit = TimeUnit.MINUTES)
class ClusterSoakTest extends ClusterTestBase {

    @Test
    void tenFailoversUnderLoadLoseNothingAcknowledged() throws Exception {
        long seed = Long.getLong("soak.seed", new Random().nextLong());
        Random random = new Random(seed);
        System.out.println("ClusterSoakTest seed " + seed);
        startCluster(3);
        try (Admin admin = cluster.admin();
             ClusterReplicationTest.Load load = new ClusterReplicationTest.Load(cluster.bootstrap(), "soak")) {
            createTopic(admin, "soak", 1);
            load.start();
            for (int round = 0; round < 10; round++) {
                int acked = load.acked.size();
                awaitUntil(() -> load.acked.size() > acked + 100, 60_000, "the load runs (seed " + seed + ")");
                int leader = leaderOf(admin, "soak");
                BrokerCluster.Broker b = cluster.broker(leader);
                boolean pause = random.nextBoolean();
                if (pause) {
                    cluster.pause(b);
                    awaitNewLeader(admin, "soak", leader);
                    Thread.sleep(2_000 + random.nextInt(8_000));
                    cluster.resume(b);
                } else {
                    cluster.kill(b);
                    awaitNewLeader(admin, "soak", leader);
                    cluster.launch(b);
                }
                awaitUntil(() -> isrOf(admin, "soak").size() == 3, 120_000,
                        "round " + round + " (seed " + seed + "): broker " + leader + " rejoins the ISR");
            }
            load.stop();
            assertThat(load.failure.get()).as("seed %d", seed).isNull();
            assertExactlyOnceInOrder(new ClusterReplicationTest().readAllFrom(cluster, "soak"), load.acked);
        }
    }
}

package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import com.hazelcast.config.Config;
import com.hazelcast.config.FileSystemXmlConfig;

import io.runnel.config.BrokerConfig;

/** How a broker's settings become its Hazelcast config. */
class ClusterNodeTest {

    static BrokerConfig broker(String... args) {
        return BrokerConfig.load(List.of(args), Map.of(), Path.of("no-such-file.properties"));
    }

    @Test
    void theMajorityIsOverTheListedMembers() {
        assertThat(ClusterNode.quorum(broker("--cluster"))).isEqualTo(1);
        assertThat(ClusterNode.quorum(broker("--cluster", "--cluster.members=a:1,b:1"))).isEqualTo(2);
        assertThat(ClusterNode.quorum(broker("--cluster", "--cluster.members=a:1,b:1,c:1"))).isEqualTo(2);
        assertThat(ClusterNode.quorum(broker("--cluster", "--cluster.members=a:1,b:1,c:1,d:1,e:1"))).isEqualTo(3);
    }

    @Test
    void membersAreFoundByTheListOnlyAndTheMetadataMapsNeedAMajority() {
        Config c = ClusterNode.hazelcastConfig(broker("--cluster", "--cluster.port=5801",
                "--cluster.members=127.0.0.1:5801,127.0.0.1:5802,127.0.0.1:5803", "--cluster.session.timeout.ms=2500"));
        var join = c.getNetworkConfig().getJoin();
        assertThat(join.getMulticastConfig().isEnabled()).isFalse();
        assertThat(join.getAutoDetectionConfig().isEnabled()).isFalse();
        assertThat(join.getTcpIpConfig().getMembers()).containsExactly("127.0.0.1:5801", "127.0.0.1:5802",
                "127.0.0.1:5803");
        assertThat(c.getNetworkConfig().getPort()).isEqualTo(5801);
        assertThat(c.getProperty("hazelcast.max.no.heartbeat.seconds")).isEqualTo("3");
        assertThat(c.getSplitBrainProtectionConfig(ClusterNode.MAJORITY).getMinimumClusterSize()).isEqualTo(2);
        assertThat(c.getMapConfig(ClusterMetadata.PARTITIONS).getSplitBrainProtectionName())
                .isEqualTo(ClusterNode.MAJORITY);
        assertThat(c.getMapConfig(ClusterMetadata.TOPICS).getSplitBrainProtectionName()).isEqualTo(ClusterNode.MAJORITY);
    }

    @Test
    void byDefaultASilentMemberIsDroppedAfterKafkasSessionTimeoutAndSplitsAreProbedEveryTwentySeconds() {
        Config c = ClusterNode.hazelcastConfig(broker("--cluster", "--cluster.members=a:1,b:1,c:1"));
        assertThat(c.getProperty("hazelcast.max.no.heartbeat.seconds")).isEqualTo("9");
        assertThat(c.getProperty("hazelcast.merge.first.run.delay.seconds")).isEqualTo("20");
        assertThat(c.getProperty("hazelcast.merge.next.run.delay.seconds")).isEqualTo("20");
        assertThat(c.getProperty("hazelcast.partition.count")).isEqualTo("31");
    }

    @Test
    void theShippedClusterXmlIsAValidBaseWithRunnelsClusterName() throws Exception {
        Config c = new FileSystemXmlConfig(Path.of(ClusterNode.CLUSTER_XML).toFile());
        assertThat(c.getClusterName()).isEqualTo(ClusterNode.CLUSTER_NAME);
        assertThat(c.getNetworkConfig().getJoin().getMulticastConfig().isEnabled()).isFalse();
    }
}

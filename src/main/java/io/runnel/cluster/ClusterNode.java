package io.runnel.cluster;

import java.io.FileNotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;

import com.hazelcast.config.Config;
import com.hazelcast.config.FileSystemXmlConfig;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.config.SplitBrainProtectionConfig;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.splitbrainprotection.SplitBrainProtectionOn;

import io.runnel.config.BrokerConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.internal.VertxInternal;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

/**
 * How a broker joins the cluster: Vert.x clustered by the Hazelcast cluster manager, members
 * found through the configured list (TCP/IP join; multicast and auto-detection off).
 *
 * <p>The Hazelcast config is {@code conf/cluster.xml} when it exists (else Vert.x's default), with
 * the broker's settings applied over it: {@code cluster.port}, {@code cluster.members}, the
 * listener host, failure detection from {@code cluster.session.timeout.ms} (a silent member is
 * removed after it; a paused one that returns merges back at the next merge probe, within about
 * 20 s), few Hazelcast partitions (the maps are small), and split-brain protection on the
 * metadata maps requiring a majority of the listed members.
 */
public final class ClusterNode {

    public static final String CLUSTER_XML = "conf/cluster.xml";
    public static final String CLUSTER_NAME = "runnel";
    static final String MAJORITY = "runnel-majority";
    /** Hazelcast partitions of the cluster's maps; every broker must use the same number. */
    static final int PARTITION_COUNT = 31;
    /** How often a cluster's master looks for another side of a split to merge with. */
    static final int MERGE_PROBE_SECONDS = 20;

    private ClusterNode() {
    }

    /** The Hazelcast config for {@code broker}. */
    public static Config hazelcastConfig(BrokerConfig broker) {
        Config config = loadBase();
        config.setProperty("hazelcast.phone.home.enabled", "false");
        config.setProperty("hazelcast.logging.type", "slf4j");
        config.setProperty("hazelcast.shutdownhook.enabled", "false");
        config.setProperty("hazelcast.wait.seconds.before.join", "1");
        config.setProperty("hazelcast.heartbeat.interval.seconds", "1");
        long sessionSeconds = Math.max(1, (broker.clusterSessionTimeoutMs + 999) / 1000);
        config.setProperty("hazelcast.max.no.heartbeat.seconds", Long.toString(sessionSeconds));
        // A cluster's master probes each listed member outside it for a merge. A paused broker's
        // port still accepts connections, so each probe waits out its timeouts (5 s to connect,
        // 10 s for an answer). Probing every 5 s, the master's heartbeats to the other survivor
        // stopped arriving until that broker dropped it, in 5 of 15 paused-leader test runs: the
        // two survivors each lost the majority. Probing every 20 s, 0 of 8. A returning broker
        // probes too, so it merges back within about 20 s.
        config.setProperty("hazelcast.merge.first.run.delay.seconds", Integer.toString(MERGE_PROBE_SECONDS));
        config.setProperty("hazelcast.merge.next.run.delay.seconds", Integer.toString(MERGE_PROBE_SECONDS));
        // The maps hold a few hundred small entries; Hazelcast's default of 271 partitions is sized
        // for a data grid, and every membership change promotes and migrates replicas partition by
        // partition, a burst on the survivors just when they must keep heartbeating.
        config.setProperty("hazelcast.partition.count", Integer.toString(PARTITION_COUNT));

        NetworkConfig network = config.getNetworkConfig();
        network.setPort(broker.clusterPort).setPortAutoIncrement(false);
        if (!isWildcard(broker.listenersHost)) {
            network.getInterfaces().setEnabled(true).addInterface(broker.listenersHost);
        }
        if (!broker.advertisedHost.equals(broker.listenersHost)) {
            network.setPublicAddress(broker.advertisedHost + ":" + broker.clusterPort);
        }
        JoinConfig join = network.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(true).getMembers().clear();
        if (broker.clusterMembers.isEmpty()) {
            join.getTcpIpConfig().addMember(broker.advertisedHost + ":" + broker.clusterPort);
        } else {
            broker.clusterMembers.forEach(m -> join.getTcpIpConfig().addMember(m));
        }

        // A majority of one needs no protection; Hazelcast would count a lone member's protection as
        // absent until a membership event it never gets.
        boolean protect = quorum(broker) > 1;
        if (protect) {
            config.addSplitBrainProtectionConfig(new SplitBrainProtectionConfig(MAJORITY, true, quorum(broker))
                    .setProtectOn(SplitBrainProtectionOn.WRITE));
        }
        for (String map : new String[] {ClusterMetadata.TOPICS, ClusterMetadata.PARTITIONS, ClusterMetadata.DELETED}) {
            MapConfig mapConfig = new MapConfig(map).setBackupCount(2);
            config.addMapConfig(protect ? mapConfig.setSplitBrainProtectionName(MAJORITY) : mapConfig);
        }
        config.addMapConfig(new MapConfig(ClusterMetadata.BROKERS).setBackupCount(2));
        return config;
    }

    /** A majority of the members listed in {@code cluster.members} (1 when none are listed). */
    public static int quorum(BrokerConfig broker) {
        int expected = Math.max(1, broker.clusterMembers.size());
        return expected / 2 + 1;
    }

    private static Config loadBase() {
        Path xml = Path.of(CLUSTER_XML);
        if (Files.isRegularFile(xml)) {
            try {
                return new FileSystemXmlConfig(xml.toFile());
            } catch (FileNotFoundException e) {
                throw new IllegalStateException(xml + " vanished while it was read", e);
            }
        }
        Config config = ConfigUtil.loadConfig();
        config.setClusterName(CLUSTER_NAME);
        return config;
    }

    private static boolean isWildcard(String host) {
        return host.equals("0.0.0.0") || host.equals("::") || host.equals("*");
    }

    /** Builds a clustered Vert.x for {@code broker} from {@code builder} (which may carry metrics options). */
    public static Future<Vertx> startVertx(VertxBuilder builder, io.vertx.core.VertxOptions options, BrokerConfig broker) {
        options.setEventBusOptions(new EventBusOptions()
                .setHost(isWildcard(broker.listenersHost) ? "0.0.0.0" : broker.listenersHost)
                .setClusterPublicHost(broker.advertisedHost)
                .setPort(0));
        return builder.with(options)
                .withClusterManager(new HazelcastClusterManager(hazelcastConfig(broker)))
                .buildClustered();
    }

    /** The Hazelcast instance under a clustered Vert.x. */
    public static HazelcastInstance hazelcast(Vertx vertx) {
        if (!(((VertxInternal) vertx).clusterManager() instanceof HazelcastClusterManager manager)) {
            throw new IllegalStateException("Vert.x is not clustered by Hazelcast; start it with ClusterNode.startVertx");
        }
        return manager.getHazelcastInstance();
    }
}

package io.runnel.client;

import static io.runnel.api.eventbus.EventBusFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;

import io.runnel.api.eventbus.EventBusAddresses;
import io.runnel.api.eventbus.EventBusFixture;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

/**
 * DESIGN.md: the event bus API is "reachable from a clustered Vert.x application that joins the
 * same Hazelcast cluster". Two Vert.x instances clustered by Hazelcast on loopback (TCP-IP join
 * on 127.0.0.1 only, multicast off, a random cluster name so parallel runs never meet): the
 * broker's API on one, an application with {@link EventBusClient} on the other.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class EventBusClientClusterTest {

    @TempDir
    Path dataDir;

    Vertx brokerNode;
    Vertx appNode;
    BlockedEventLoopExtension.Recorder brokerBlocks;
    BlockedEventLoopExtension.Recorder appBlocks;
    EventBusFixture bus;

    /** Hazelcast on loopback only: Vert.x's required maps (its default config), nothing that leaves the machine. */
    static Config loopbackCluster(String clusterName) {
        Config config = ConfigUtil.loadConfig();
        config.setClusterName(clusterName);
        config.setProperty("hazelcast.phone.home.enabled", "false");
        config.setProperty("hazelcast.logging.type", "slf4j");
        // Join at once: the only members are on this machine, and they are found by TCP-IP.
        config.setProperty("hazelcast.wait.seconds.before.join", "0");
        NetworkConfig network = config.getNetworkConfig();
        network.getInterfaces().setEnabled(true).addInterface("127.0.0.1");
        JoinConfig join = network.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(true).addMember("127.0.0.1");
        return config;
    }

    static Vertx clusteredNode(String clusterName) throws Exception {
        return await(Vertx.builder()
                .with(BlockedEventLoopExtension.vertxOptions()
                        .setEventBusOptions(new EventBusOptions().setHost("127.0.0.1").setPort(0)))
                .withClusterManager(new HazelcastClusterManager(loopbackCluster(clusterName)))
                .buildClustered());
    }

    @BeforeEach
    void start() throws Exception {
        String clusterName = "runnel-test-" + UUID.randomUUID();
        brokerNode = clusteredNode(clusterName);
        appNode = clusteredNode(clusterName);
        warmUp(brokerNode, appNode);
        warmUp(appNode, brokerNode);
        brokerBlocks = BlockedEventLoopExtension.Recorder.attachTo(brokerNode);
        appBlocks = BlockedEventLoopExtension.Recorder.attachTo(appNode);
        bus = EventBusFixture.start(brokerNode, dataDir, EventBusFixture.settings(), false);
    }

    /**
     * One round trip from {@code from} to {@code to} before the blocked-loop recorders attach: the
     * first message over a new cluster connection loads and initialises Netty's and Jackson's
     * classes on the event loop (hundreds of ms on a busy machine, once per JVM), which is not what
     * these tests watch for.
     */
    static void warmUp(Vertx to, Vertx from) throws Exception {
        String address = "runnel.test.warm-up." + UUID.randomUUID();
        var consumer = to.eventBus().<JsonObject>consumer(address, m -> m.reply(m.body()));
        await(consumer.completion());
        await(from.eventBus().request(address, new JsonObject().put("warm", true)));
        await(consumer.unregister());
    }

    @AfterEach
    void stop() throws Exception {
        bus.close();
        await(appNode.close());
        await(brokerNode.close());
        brokerBlocks.assertNoBlockedEventLoops();
        appBlocks.assertNoBlockedEventLoops();
    }

    @Test
    void anApplicationOnAnotherNodeProducesAndSubscribesThroughTheClient() throws Exception {
        EventBusFixture.request(appNode, EventBusAddresses.TOPICS_CREATE,
                new JsonObject().put("topic", "orders").put("partitions", 2));
        EventBusClient client = EventBusClient.create(appNode);

        BlockingQueue<ConsumedRecord> received = new LinkedBlockingQueue<>();
        Subscription orders = client.subscribe("orders", "billing", "earliest");
        orders.handler(received::add);
        await(orders.completion());
        RecordMetadata first = await(client.produce("orders", "order-1", "{\"total\":42}"));
        RecordMetadata second = await(client.produce("orders", "order-2", "{\"total\":7}"));

        List<ConsumedRecord> both = List.of(EventBusClientTest.poll(received), EventBusClientTest.poll(received));
        assertThat(both).extracting(ConsumedRecord::keyAsString).containsExactlyInAnyOrder("order-1", "order-2");
        ConsumedRecord one = both.stream().filter(r -> r.keyAsString().equals("order-1")).findFirst().orElseThrow();
        assertThat(one.valueAsString()).isEqualTo("{\"total\":42}");
        assertThat(one.partition()).isEqualTo(first.partition());
        assertThat(one.offset()).isEqualTo(first.offset());
        assertThat(second.topic()).isEqualTo("orders");

        await(client.close());
        assertThat(bus.api.subscriptionCount()).isZero();
    }

    @Test
    void aRefusalCrossesTheClusterWithItsErrorCode() throws Exception {
        EventBusClient client = EventBusClient.create(appNode);

        Throwable refused = await(client.produce("nowhere", "k", "v").map(x -> (Throwable) null).otherwise(e -> e));

        assertThat(refused).isInstanceOf(ReplyException.class);
        assertThat(((ReplyException) refused).failureCode()).isEqualTo(40401);
    }
}

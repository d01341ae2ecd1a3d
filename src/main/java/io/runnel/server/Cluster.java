package io.runnel.server;

import java.util.Map;
import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.micrometer.core.instrument.MeterRegistry;
import io.runnel.broker.LeaderForwarding;
import io.runnel.broker.Partition;
import io.runnel.broker.ReplicaManager;
import io.runnel.broker.SchemasTopicStore;
import io.runnel.broker.TopicManager;
import io.runnel.cluster.BrokerInfo;
import io.runnel.cluster.BusErrors;
import io.runnel.cluster.ClusterMetadata;
import io.runnel.cluster.ClusterMetrics;
import io.runnel.cluster.ClusterNode;
import io.runnel.cluster.Controller;
import io.runnel.cluster.ControllerClient;
import io.runnel.cluster.PartitionState;
import io.runnel.config.BrokerConfig;
import io.runnel.registry.SchemaRegistry;
import io.runnel.registry.WriterLocator;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import io.runnel.group.RemoteGroupCalls;

/**
 * A broker's part in a cluster, assembled: its view of the metadata, its controller (acting only
 * while it is the oldest member), the replica manager that applies the metadata to its
 * partitions, and the forwarding of appends to leaders elsewhere. Topic changes made through this
 * broker's {@link TopicManager} go to the controller from now on.
 *
 * <p>The schema registry: every broker's follows {@code _schemas}; the one of the leader of
 * {@code _schemas-0} writes ({@link #followSchemas}).
 *
 * <p>{@link #join} completes once enough brokers are live to place the internal topics'
 * replicas ({@code default.replication.factor}, capped by the listed members), so a cluster
 * started together does not create {@code __consumer_offsets} on its first broker alone.
 */
record Cluster(ClusterMetadata metadata, Controller controller, ReplicaManager replicas, LeaderForwarding forwarding,
               WorkerExecutor worker) {

    private static final Logger LOG = LoggerFactory.getLogger(Cluster.class);
    /** How long a broker waits for its peers before giving up starting. */
    static final long PEERS_WAIT_MS = 300_000;
    private static final long CONTROLLER_DEADLINE_MS = 30_000;
    /** Where a broker serves group calls forwarded by others: {@code runnel.groups.<broker id>}. */
    static final String GROUPS_ADDRESS = "runnel.groups.";
    /** One wait for a new leader's replica of {@code _schemas-0} to be committed; waits repeat while it leads. */
    private static final long SCHEMAS_COMMIT_WAIT_MS = 10_000;
    /**
     * How many such waits before giving up (the registry then refuses writes until the next term):
     * a leader whose followers cannot catch up in 5 minutes cannot commit a registration either.
     */
    private static final int SCHEMAS_COMMIT_WAITS_MAX = 30;

    static Future<Cluster> join(Vertx vertx, BrokerConfig config, TopicManager topics, MeterRegistry registry) {
        var hz = ClusterNode.hazelcast(vertx);
        WorkerExecutor worker = vertx.createSharedWorkerExecutor("runnel-cluster", 2);
        BrokerInfo self = new BrokerInfo(config.brokerId, config.advertisedHost, 0, 0, 0, ClusterMetadata.memberId(hz));
        ClusterMetrics metrics = new ClusterMetrics(registry);
        return ClusterMetadata.join(vertx, hz, worker, self).compose(metadata -> {
            if (metadata.liveBrokerIds().stream().anyMatch(id -> id == config.brokerId
                    && !metadata.broker(id).map(BrokerInfo::memberId).orElse("").equals(self.memberId()))) {
                return Future.failedFuture(new IllegalStateException("broker.id " + config.brokerId
                        + " is already taken by a live broker of this cluster"));
            }
            ControllerClient client = new ControllerClient(vertx, metadata, CONTROLLER_DEADLINE_MS);
            Controller controller = Controller.start(metadata, config.uncleanLeaderElectionEnable,
                    config.defaultReplicationFactor, config.leaderImbalanceCheckIntervalMs, metrics);
            topics.useController(new ControllerTopics(client, config.defaultReplicationFactor));
            LeaderForwarding forwarding = new LeaderForwarding(vertx, topics, config.brokerId);
            int needed = Math.min(config.defaultReplicationFactor, Math.max(1, config.clusterMembers.size()));
            return ReplicaManager.start(vertx, topics, metadata, client, config.replicaLagTimeMaxMs, metrics)
                    .compose(replicas -> awaitPeers(vertx, metadata, needed)
                            .map(v -> new Cluster(metadata, controller, replicas, forwarding, worker)));
        });
    }

    private static Future<Void> awaitPeers(Vertx vertx, ClusterMetadata metadata, int needed) {
        Promise<Void> ready = Promise.promise();
        long deadline = System.currentTimeMillis() + PEERS_WAIT_MS;
        long[] lastLog = {0};
        vertx.setPeriodic(0, 100, timer -> {
            int live = metadata.liveBrokerIds().size();
            // A broker joining a running cluster (its internal topics exist) needs only a controller.
            boolean established = metadata.topic(io.runnel.broker.OffsetsTopicStore.TOPIC).isPresent();
            if ((live >= needed || established) && metadata.controllerId() >= 0) {
                vertx.cancelTimer(timer);
                ready.tryComplete();
            } else if (System.currentTimeMillis() > deadline) {
                vertx.cancelTimer(timer);
                ready.tryFail("Only " + live + " of the " + needed + " brokers needed joined within "
                        + PEERS_WAIT_MS / 1000 + " s");
            } else if (System.currentTimeMillis() - lastLog[0] > 5_000) {
                lastLog[0] = System.currentTimeMillis();
                LOG.info("Waiting for brokers to join: {} of {} live", live, needed);
            }
        });
        return ready.future();
    }

    /**
     * Each group is coordinated by the leader of its {@code __consumer_offsets} partition: the
     * coordinator serves only those, and reloads a partition's groups when it takes the lead; this
     * broker's own members of groups coordinated elsewhere reach them over the event bus.
     */
    void coordinateGroups(Vertx vertx, io.runnel.group.GroupCoordinator groups, TopicManager topics) {
        String offsets = io.runnel.broker.OffsetsTopicStore.TOPIC;
        groups.useOwnership(p -> replicas.leadsLocally(offsets, p));
        vertx.eventBus().<JsonObject>consumer(GROUPS_ADDRESS + metadata.localBrokerId(), m ->
                RemoteGroupCalls.serve(groups, m.body()).onComplete(done -> {
                    if (done.succeeded()) {
                        m.reply(done.result());
                    } else {
                        BusErrors.fail(m, done.cause());
                    }
                }));
        groups.useRemote((partition, request, timeoutMs) -> {
            int leader = replicas.leaderOf(offsets, partition);
            if (leader < 0 || !metadata.isLive(leader)) {
                return Future.failedFuture(new org.apache.kafka.common.errors.CoordinatorNotAvailableException(
                        "Partition " + partition + " of " + offsets + " has no live leader"));
            }
            return vertx.eventBus().<JsonObject>request(GROUPS_ADDRESS + leader, request,
                            new DeliveryOptions().setSendTimeout(timeoutMs))
                    .map(io.vertx.core.eventbus.Message::body)
                    .recover(e -> Future.failedFuture(BusErrors.asKafkaError(e, () ->
                            new org.apache.kafka.common.errors.CoordinatorNotAvailableException(
                                    "The coordinator (broker " + leader + ") did not answer: " + e.getMessage()))));
        });
        replicas.onLeadership((topic, p) -> {
            if (topic.equals(offsets)) {
                groups.reload(p, replicas.caughtUp(topics.partition(offsets, p), 10_000))
                        .onFailure(e -> LOG.warn("Loading the groups of {}-{} failed: {}", offsets, p, e.toString()));
            }
        });
    }

    /**
     * The schema registry in a cluster: its writer is the broker leading {@code _schemas-0}, as the
     * cluster metadata has it now.
     */
    WriterLocator registryWriters() {
        return new WriterLocator() {
            @Override
            public int localBrokerId() {
                return metadata.localBrokerId();
            }

            @Override
            public int localEpoch() {
                return schemasEpochHere();
            }

            @Override
            public Optional<Address> remote() {
                int leader = replicas.leaderOf(SchemasTopicStore.TOPIC, 0);
                if (leader == PartitionState.NO_LEADER || leader == metadata.localBrokerId()
                        || !metadata.isLive(leader)) {
                    return Optional.empty();
                }
                // A broker advertises its registry port once its registry listens (0 until then).
                return metadata.broker(leader).filter(b -> b.registryPort() > 0)
                        .map(b -> new Address(b.id(), b.host(), b.registryPort()));
            }
        };
    }

    /**
     * Makes this broker's registry follow {@code _schemas}, and take the writer role each time
     * this broker takes the lead of {@code _schemas-0} — once every record of the local replica is
     * committed (the records the previous writer acknowledged are all there), so that the registry
     * can apply them all before it hands out an id.
     */
    Future<Void> followSchemas(SchemaRegistry registry, TopicManager topics) {
        String schemas = SchemasTopicStore.TOPIC;
        return registry.follow(registryWriters()).onSuccess(v -> replicas.onLeadership((topic, p) -> {
            int epoch = schemasEpochHere();
            if (!topic.equals(schemas) || p != 0 || epoch < 0) {
                return;
            }
            Partition partition = topics.partition(schemas, 0);
            registry.takeWriterRole(epoch, committed(partition, epoch));
        }));
    }

    /** This broker's leader epoch of {@code _schemas-0}, or -1 when it does not lead it. */
    private int schemasEpochHere() {
        return metadata.partition(SchemasTopicStore.TOPIC, 0)
                .filter(s -> s.leader() == metadata.localBrokerId())
                .map(PartitionState::leaderEpoch).orElse(-1);
    }

    /**
     * Completes once the high watermark of {@code p} reached the log end it had when asked, while
     * this broker leads it in {@code epoch}; fails when the lead moved on first.
     */
    private Future<Void> committed(Partition p, int epoch) {
        return committed(p, epoch, SCHEMAS_COMMIT_WAITS_MAX);
    }

    private Future<Void> committed(Partition p, int epoch, int waitsLeft) {
        return p.logEndOffset().compose(end -> replicas.caughtUp(p, SCHEMAS_COMMIT_WAIT_MS).compose(v -> {
            if (p.highWatermarkPublished() >= end) {
                return Future.<Void>succeededFuture();
            }
            if (schemasEpochHere() != epoch) {
                return Future.<Void>failedFuture(new IllegalStateException("This broker no longer leads "
                        + p.name() + " in epoch " + epoch));
            }
            if (waitsLeft <= 1) {
                return Future.<Void>failedFuture(new IllegalStateException("The records of " + p.name()
                        + " up to offset " + end + " were not committed within " + SCHEMAS_COMMIT_WAITS_MAX
                        + " waits of " + SCHEMAS_COMMIT_WAIT_MS + " ms"));
            }
            LOG.info("Waiting for the records of {} up to offset {} to be committed before its registry writes",
                    p.name(), end);
            return committed(p, epoch, waitsLeft - 1);
        }));
    }

    Future<Void> close() {
        controller.close();
        return replicas.close().transform(x -> forwarding.close()).transform(x -> worker.close());
    }

    /** Topic changes asked of the controller. */
    private record ControllerTopics(ControllerClient client, int replicationFactor)
            implements TopicManager.TopicController {

        @Override
        public Future<Void> createTopic(String name, int partitions, int factor, Map<String, String> configs) {
            return client.request(new JsonObject().put("op", "createTopic").put("name", name)
                    .put("partitions", partitions).put("replicationFactor", factor)
                    .put("configs", new JsonObject(Map.copyOf(configs)))).mapEmpty();
        }

        @Override
        public Future<Void> createPartitions(String name, int total) {
            return client.request(new JsonObject().put("op", "createPartitions").put("name", name)
                    .put("partitions", total)).mapEmpty();
        }

        @Override
        public Future<Void> replaceConfigs(String name, Map<String, String> overrides) {
            return client.request(new JsonObject().put("op", "alterConfigs").put("name", name)
                    .put("configs", new JsonObject(Map.copyOf(overrides)))).mapEmpty();
        }

        @Override
        public Future<Void> deleteTopic(String name) {
            return client.request(new JsonObject().put("op", "deleteTopic").put("name", name)).mapEmpty();
        }
    }
}

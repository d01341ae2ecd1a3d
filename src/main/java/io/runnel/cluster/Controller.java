package io.runnel.cluster;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.NotControllerException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.vertx.core.Future;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * The cluster's controller: the one broker (the oldest Hazelcast member) that changes topics and
 * partition states. Every broker runs one; only the oldest acts. Other brokers reach it through
 * {@link ControllerClient} on the event bus address of the controller's broker id
 * ({@link #address(int)}). Every broker consumes its own address for as long as it runs, and one
 * that is not the acting controller answers {@code NOT_CONTROLLER}, which the client retries on
 * the broker it then believes is the controller.
 *
 * <p>Why not one address that only the acting controller consumes: Vert.x caches, per sender, the
 * nodes an address is registered on, and refreshes that cache only on registration events. A
 * broker that was cut off, made itself controller of its own side and was merged back loses its
 * registration in Hazelcast's merge without an event, so it kept sending its requests to itself,
 * where no one consumed them any more. Addresses that never move do not go stale that way.
 *
 * <p>It reacts to brokers leaving and returning ({@link ControllerRules#onLiveBrokers}), runs
 * preferred-leader elections every {@code leader.imbalance.check.interval.ms}, applies leaders'
 * ISR changes ({@link ControllerRules#alterIsr}, which fences stale leaders) and creates, grows,
 * reconfigures and deletes topics. Every write is a compare-and-set on the value the decision was
 * computed from, and all of its work runs one piece at a time on the cluster worker, so two
 * decisions never interleave on this broker; a controller that has just lost the role can lose
 * only a compare-and-set race, never overwrite a newer state.
 *
 * <p>Choice and limits (README, Cluster): metadata lives in Hazelcast maps (AP, with synchronous
 * backups) behind split-brain protection requiring a majority of {@code cluster.members}, not in
 * the CP subsystem. Changes are compare-and-sets, so leadership changes are serialised per
 * partition, and the leader epoch fences a stale leader whatever the maps do. What this does not
 * give is Raft's guarantee under a network split: a minority side is refused writes only once
 * Hazelcast notices the split (within {@code cluster.session.timeout.ms}). A cluster of one has a
 * quorum of one; a cluster of two needs both brokers to change anything.
 */
public final class Controller {

    private static final Logger LOG = LoggerFactory.getLogger(Controller.class);

    private static final String ADDRESS_PREFIX = "runnel.cluster.controller.";

    private final ClusterMetadata metadata;
    private final boolean uncleanElection;
    private final int defaultReplicationFactor;
    private final ClusterMetrics metrics;
    private final AtomicBoolean reconcileQueued = new AtomicBoolean();
    /** Partitions whose last change failed (logged once until one succeeds). */
    private final Set<String> stuck = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final MessageConsumer<JsonObject> consumer;
    /** Whether this broker acted as controller at the last pass (only for saying so in the log). */
    private boolean acting;
    private final long[] timers;
    private volatile boolean closed;

    private Controller(ClusterMetadata metadata, boolean uncleanElection, int defaultReplicationFactor,
                       long imbalanceCheckMs, ClusterMetrics metrics) {
        this.metadata = metadata;
        this.uncleanElection = uncleanElection;
        this.defaultReplicationFactor = defaultReplicationFactor;
        this.metrics = metrics;
        var vertx = metadata.vertx();
        this.consumer = vertx.eventBus().consumer(address(metadata.localBrokerId()), this::handle);
        this.timers = new long[] {
            vertx.setPeriodic(1_000, t -> scheduleReconcile()),
            vertx.setPeriodic(imbalanceCheckMs, t -> {
                if (metadata.isController()) {
                    onWorker(this::preferredElections);
                }
            }),
        };
    }

    public static Controller start(ClusterMetadata metadata, boolean uncleanElection, int defaultReplicationFactor,
                                   long imbalanceCheckMs, ClusterMetrics metrics) {
        Controller c = new Controller(metadata, uncleanElection, defaultReplicationFactor, imbalanceCheckMs, metrics);
        metadata.onChange(c::scheduleReconcile);
        c.scheduleReconcile();
        return c;
    }

    /** Coalesces change notifications into one pass on the worker. */
    private void scheduleReconcile() {
        if (closed || !reconcileQueued.compareAndSet(false, true)) {
            return;
        }
        onWorker(() -> {
            reconcileQueued.set(false);
            updateRole();
            if (metadata.isController()) {
                reconcile();
            }
            return null;
        });
    }

    private <T> Future<T> onWorker(java.util.concurrent.Callable<T> work) {
        return metadata.worker().executeBlocking(work, true)
                .onFailure(e -> LOG.debug("Controller work failed: {}", e.toString()));
    }

    /** The event bus address on which broker {@code brokerId} takes controller requests. */
    public static String address(int brokerId) {
        return ADDRESS_PREFIX + brokerId;
    }

    private void updateRole() {
        boolean now = metadata.isController() && !closed;
        if (now && !acting) {
            LOG.info("Broker {} is the cluster controller", metadata.localBrokerId());
        } else if (!now && acting) {
            LOG.info("Broker {} is no longer the cluster controller", metadata.localBrokerId());
        }
        acting = now;
    }

    /** Dead brokers leave ISRs; partitions without a live leader elect one. */
    private void reconcile() {
        Set<Integer> live = metadata.liveBrokerIds();
        for (PartitionState s : metadata.partitions()) {
            Optional<PartitionState> next = ControllerRules.onLiveBrokers(s, live, uncleanElection);
            next.ifPresent(n -> apply(s, n, "brokers " + live + " live"));
        }
    }

    private Void preferredElections() {
        Set<Integer> live = metadata.liveBrokerIds();
        for (PartitionState s : metadata.partitions()) {
            ControllerRules.preferredLeader(s, live).ifPresent(n -> apply(s, n, "preferred leader"));
        }
        return null;
    }

    private boolean apply(PartitionState current, PartitionState next, String why) {
        try {
            if (!metadata.replacePartition(current, next)) {
                return false;
            }
        } catch (RuntimeException e) {
            // Split-brain protection (no majority) or a member leaving mid-call: the next pass
            // retries. Said once per partition until a change goes through, not every second.
            if (stuck.add(current.key())) {
                LOG.warn("Could not change {} ({}), retrying: {}", current.key(), why, e.toString());
            }
            return false;
        }
        stuck.remove(current.key());
        if (next.leader() != current.leader() || next.leaderEpoch() != current.leaderEpoch()) {
            metrics.leaderElection();
            LOG.info("{}: leader {} -> {} in epoch {}, ISR {} ({})", next.key(), current.leader(), next.leader(),
                    next.leaderEpoch(), next.isr(), why);
        } else if (next.isr().size() < current.isr().size()) {
            metrics.isrShrink();
        } else if (next.isr().size() > current.isr().size()) {
            metrics.isrExpand();
        }
        return true;
    }

    // ---------------------------------------------------------------- requests

    private void handle(Message<JsonObject> message) {
        JsonObject body = message.body();
        if (closed || !metadata.isController()) {
            // Sent on an older view of who leads the cluster; the client asks again.
            BusErrors.fail(message, new NotControllerException("Broker " + metadata.localBrokerId()
                    + " is not the cluster controller"));
            return;
        }
        onWorker(() -> switch (body.getString("op", "")) {
            case "createTopic" -> createTopic(body);
            case "createPartitions" -> createPartitions(body);
            case "alterConfigs" -> alterConfigs(body);
            case "deleteTopic" -> deleteTopic(body);
            case "alterIsr" -> alterIsr(body);
            case "adopt" -> adopt(body);
            default -> throw new IllegalArgumentException("Unknown controller request " + body.getString("op"));
        }).onComplete(done -> {
            if (done.succeeded()) {
                message.reply(done.result());
            } else {
                BusErrors.fail(message, done.cause());
            }
        });
    }

    private JsonObject createTopic(JsonObject body) {
        String name = body.getString("name");
        int partitions = body.getInteger("partitions");
        int rf = body.getInteger("replicationFactor", -1);
        List<Integer> live = new ArrayList<>(metadata.liveBrokerIds());
        int factor = rf < 0 ? Math.min(defaultReplicationFactor, live.size()) : rf;
        if (factor > live.size() || factor < 1) {
            throw new InvalidReplicationFactorException("Replication factor " + factor + " needs that many live brokers;"
                    + " " + live.size() + " are live");
        }
        if (metadata.readTopic(name).isPresent()) {
            throw new TopicExistsException("Topic '" + name + "' already exists");
        }
        TopicSpec spec = new TopicSpec(name, partitions, configs(body));
        List<PartitionState> states = initialStates(name, 0, partitions, factor, live, metadata.nextIncarnation(name));
        if (!metadata.createTopic(spec, states)) {
            throw new TopicExistsException("Topic '" + name + "' already exists");
        }
        LOG.info("Created topic {} with {} partition(s), replication factor {}", name, partitions, factor);
        return new JsonObject().put("replicationFactor", factor);
    }

    private List<PartitionState> initialStates(String name, int first, int count, int factor, List<Integer> live,
                                               long incarnation) {
        int start = Math.floorMod(name.hashCode(), live.size());
        List<List<Integer>> assignment = ControllerRules.assign(first, count, factor, live, start);
        List<PartitionState> states = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            states.add(PartitionState.initial(name, first + i, assignment.get(i), incarnation));
        }
        return states;
    }

    private JsonObject createPartitions(JsonObject body) {
        String name = body.getString("name");
        int total = body.getInteger("partitions");
        TopicSpec current = metadata.readTopic(name).orElseThrow(() -> unknown(name));
        if (total <= current.partitions()) {
            throw new InvalidPartitionsException("Topic '" + name + "' has " + current.partitions()
                    + " partitions; the new count must be larger, not " + total);
        }
        Optional<PartitionState> first = metadata.readPartition(PartitionState.key(name, 0));
        int factor = first.map(s -> s.replicas().size()).orElse(1);
        List<Integer> live = new ArrayList<>(metadata.liveBrokerIds());
        factor = Math.min(factor, live.size());
        List<PartitionState> added = initialStates(name, current.partitions(), total - current.partitions(), factor,
                live, first.map(PartitionState::incarnation).orElse(0L));
        if (!metadata.replaceTopic(current, new TopicSpec(name, total, current.configs()), added)) {
            throw new org.apache.kafka.common.errors.InvalidUpdateVersionException(
                    "Topic '" + name + "' changed while it was being grown; retry");
        }
        return new JsonObject();
    }

    private JsonObject alterConfigs(JsonObject body) {
        String name = body.getString("name");
        TopicSpec current = metadata.readTopic(name).orElseThrow(() -> unknown(name));
        if (!metadata.replaceTopic(current, new TopicSpec(name, current.partitions(), configs(body)), List.of())) {
            throw new org.apache.kafka.common.errors.InvalidUpdateVersionException(
                    "Topic '" + name + "' changed while it was being reconfigured; retry");
        }
        return new JsonObject();
    }

    private JsonObject deleteTopic(JsonObject body) {
        String name = body.getString("name");
        if (!metadata.deleteTopic(name)) {
            throw unknown(name);
        }
        return new JsonObject();
    }

    private JsonObject alterIsr(JsonObject body) {
        String key = PartitionState.key(body.getString("topic"), body.getInteger("partition"));
        PartitionState current = metadata.readPartition(key).orElseThrow(() -> unknown(key));
        if (body.getLong("incarnation", current.incarnation()) != current.incarnation()) {
            // Asked by a leader of a deleted topic of the same name: its epochs and versions mean nothing here.
            throw new org.apache.kafka.common.errors.FencedLeaderEpochException(key + " was recreated since");
        }
        List<Integer> isr = ints(body.getJsonArray("isr"));
        ControllerRules.IsrChange change = ControllerRules.alterIsr(current, body.getInteger("leader"),
                body.getInteger("leaderEpoch"), body.getInteger("version", -1), isr, metadata.liveBrokerIds());
        if (change.refusal() == ControllerRules.IsrRefusal.FENCED) {
            throw new org.apache.kafka.common.errors.FencedLeaderEpochException(key + " is led by "
                    + current.leader() + " in epoch " + current.leaderEpoch());
        }
        if (change.refusal() == ControllerRules.IsrRefusal.INVALID) {
            throw new org.apache.kafka.common.errors.InvalidRequestException("ISR " + isr + " is not valid for " + key);
        }
        if (change.state() != current && !apply(current, change.state(), "leader asked")) {
            throw new org.apache.kafka.common.errors.InvalidUpdateVersionException(key + " changed meanwhile; retry");
        }
        return new JsonObject().put("state", change.state().toJson());
    }

    /**
     * A broker reports topics it holds that the cluster does not know (after every broker
     * restarted, Hazelcast's maps start empty): each is added with the newest state any broker
     * stored for it, and the usual election then picks a live in-sync leader.
     */
    private JsonObject adopt(JsonObject body) {
        JsonArray topics = body.getJsonArray("topics");
        for (int i = 0; i < topics.size(); i++) {
            JsonObject t = topics.getJsonObject(i);
            TopicSpec spec = TopicSpec.fromJson(t.getString("spec"));
            if (metadata.readTopic(spec.name()).isPresent() || metadata.isDeleted(spec.name())) {
                continue;
            }
            List<PartitionState> states = new ArrayList<>();
            JsonArray stored = t.getJsonArray("states");
            for (int j = 0; j < stored.size(); j++) {
                states.add(PartitionState.fromJson(stored.getString(j)));
            }
            if (states.size() == spec.partitions()) {
                metadata.createTopic(spec, states);
                LOG.info("Adopted topic {} from broker {}'s stored metadata", spec.name(), body.getInteger("broker"));
            }
        }
        scheduleReconcile();
        return new JsonObject();
    }

    private static Map<String, String> configs(JsonObject body) {
        Map<String, String> out = new TreeMap<>();
        JsonObject c = body.getJsonObject("configs", new JsonObject());
        c.forEach(e -> out.put(e.getKey(), String.valueOf(e.getValue())));
        return out;
    }

    private static List<Integer> ints(JsonArray a) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            out.add(a.getInteger(i));
        }
        return out;
    }

    private static UnknownTopicOrPartitionException unknown(String name) {
        return new UnknownTopicOrPartitionException("Topic '" + name + "' does not exist");
    }

    public void close() {
        closed = true;
        for (long t : timers) {
            metadata.vertx().cancelTimer(t);
        }
        consumer.unregister();
    }
}

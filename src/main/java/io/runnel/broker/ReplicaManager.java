package io.runnel.broker;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.message.FetchRequestData;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.MemoryRecords;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.runnel.cluster.BrokerInfo;
import io.runnel.cluster.BusErrors;
import io.runnel.cluster.ClusterMetadata;
import io.runnel.cluster.ClusterMetrics;
import io.runnel.cluster.ControllerClient;
import io.runnel.cluster.PartitionState;
import io.runnel.cluster.TopicSpec;
import io.runnel.log.EpochEndOffset;
import io.runnel.log.StorageIo;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;

/**
 * Makes this broker's partitions what the cluster metadata says they are: it opens topics the
 * cluster has and removes those it deleted, makes each local replica leader or follower in the
 * agreed epoch, runs one fetcher per followed partition, answers its followers' truncation
 * questions, and asks the controller for ISR changes as followers fall behind or catch up. (The
 * leader serves its followers' fetches on its Kafka listener, {@code DataApis}.)
 *
 * <p>Replication transport: the Kafka protocol. A follower fetches each partition it follows with
 * the Kafka Fetch API, its broker id as replica id, over its own connection to the leader's Kafka
 * listener ({@link LeaderLink}), opened from the partition's context so an answer is handled
 * without a thread hop. The leader serves it on the fetch path consumers use, read up to the log
 * end instead of the high watermark ({@link Partition#replicaRead}). The truncation question
 * (OffsetForLeaderEpoch) goes over the cluster's event bus to {@code runnel.replica.<leader id>.epoch}.
 *
 * <p>A follower that (re)starts following first cuts its log back to where it agrees with the
 * leader (by epoch, {@link Partition#truncateToLeader}), then fetches in a loop; the leader
 * long-polls the fetch until its log end moves. A fetcher stops when the metadata gives the
 * partition another leader or epoch; its replacement starts over with truncation.
 *
 * <p>The last state this broker saw of each partition is written to {@code <data>/.cluster-state.json},
 * so that after every broker restarted (Hazelcast's maps start empty) the topics can be adopted
 * back with their replicas and ISRs.
 *
 * <p>Threading: reconciliation passes start on this manager's context and run one at a time;
 * partition work hops to the partitions' contexts and continues there, so the bookkeeping maps
 * are concurrent.
 */
public final class ReplicaManager {

    private static final Logger LOG = LoggerFactory.getLogger(ReplicaManager.class);

    static final String EPOCH_ADDRESS = "runnel.replica.%d.epoch";
    static final int FETCH_MAX_BYTES = 1 << 20;
    static final long FETCH_MAX_WAIT_MS = 500;
    static final long RETRY_DELAY_MS = 100;
    static final String STATE_FILE = ".cluster-state.json";

    private final Vertx vertx;
    private final Context context;
    private final NetClient leaderClient;
    private final TopicManager topics;
    private final ClusterMetadata metadata;
    private final ControllerClient controller;
    private final long replicaLagTimeMaxMs;
    private final int localId;
    /** The role applied to each local partition: key → "leader:<epoch>:<isr>" or "follower:<epoch>:<leader>". */
    private final Map<String, String> applied = new ConcurrentHashMap<>();
    private final Map<String, Fetcher> fetchers = new ConcurrentHashMap<>();
    private final Set<String> adopted = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean reconcileQueued = new AtomicBoolean();
    private final List<java.util.function.BiConsumer<String, Integer>> leadershipListeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<MessageConsumer<?>> consumers;
    private final long[] timers;
    private volatile int underReplicated;
    private volatile long maxLag;
    private volatile int leaderCount;
    private volatile String lastStoredState = "";
    private volatile boolean reconciling;
    private volatile long passes;
    static final long PASS_TIMEOUT_MS = 10_000;
    private volatile boolean closed;

    private ReplicaManager(Vertx vertx, TopicManager topics, ClusterMetadata metadata, ControllerClient controller,
                           long replicaLagTimeMaxMs) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.topics = topics;
        this.metadata = metadata;
        this.controller = controller;
        this.replicaLagTimeMaxMs = replicaLagTimeMaxMs;
        this.localId = metadata.localBrokerId();
        this.leaderClient = vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true).setConnectTimeout(5_000));
        this.consumers = List.of(
                vertx.eventBus().<JsonObject>consumer(String.format(EPOCH_ADDRESS, localId), this::serveEpoch));
        long isrCheck = Math.max(100, Math.min(replicaLagTimeMaxMs / 2, 1_000));
        this.timers = new long[] {
            vertx.setPeriodic(1_000, t -> scheduleReconcile()),
            vertx.setPeriodic(isrCheck, t -> context.runOnContext(v -> checkIsrs())),
        };
    }

    /** Starts following the cluster metadata; the first pass has run when the future completes. */
    public static Future<ReplicaManager> start(Vertx vertx, TopicManager topics, ClusterMetadata metadata,
                                               ControllerClient controller, long replicaLagTimeMaxMs,
                                               ClusterMetrics metrics) {
        ReplicaManager m = new ReplicaManager(vertx, topics, metadata, controller, replicaLagTimeMaxMs);
        metrics.bindReplication(() -> m.underReplicated, () -> m.maxLag, () -> m.leaderCount);
        metadata.onChange(m::scheduleReconcile);
        Promise<ReplicaManager> started = Promise.promise();
        m.context.runOnContext(v -> m.firstPass(started));
        return started.future();
    }

    /**
     * Runs the first pass, after any pass already running: a metadata change can schedule one
     * before this runs, and two passes at once would both open a topic the broker lacks.
     */
    private void firstPass(Promise<ReplicaManager> started) {
        if (reconciling) {
            vertx.setTimer(50, t -> firstPass(started));
            return;
        }
        reconcile().map(x -> this).onComplete(started);
    }

    // ---------------------------------------------------------------- routing (any thread)

    /** The leader of a partition as the cluster has it ({@link PartitionState#NO_LEADER} when none or unknown). */
    public int leaderOf(String topic, int partition) {
        return metadata.partition(topic, partition).map(PartitionState::leader).orElse(PartitionState.NO_LEADER);
    }

    public boolean leadsLocally(String topic, int partition) {
        return leaderOf(topic, partition) == localId;
    }

    public ClusterMetadata metadata() {
        return metadata;
    }

    /**
     * Calls {@code listener} (topic, partition) each time this broker takes the lead of a
     * partition in a new epoch, and now for every partition it leads already.
     */
    public void onLeadership(java.util.function.BiConsumer<String, Integer> listener) {
        leadershipListeners.add(listener);
        for (PartitionState s : metadata.partitions()) {
            if (s.leader() == localId && String.valueOf(applied.get(s.key())).startsWith("leader:")) {
                listener.accept(s.topic(), s.partition());
            }
        }
    }

    /** Completes once the partition's high watermark has reached its log end as of now (or after {@code timeoutMs}). */
    public Future<Void> caughtUp(Partition p, long timeoutMs) {
        Promise<Void> done = Promise.promise();
        long deadline = System.currentTimeMillis() + timeoutMs;
        p.logEndOffset().onComplete(end -> {
            long target = end.succeeded() ? end.result() : 0;
            vertx.setPeriodic(0, 20, t -> {
                if (p.highWatermarkPublished() >= target || System.currentTimeMillis() > deadline || closed) {
                    vertx.cancelTimer(t);
                    done.tryComplete();
                }
            });
        });
        return done.future();
    }

    // ---------------------------------------------------------------- reconciliation

    private void scheduleReconcile() {
        if (closed || !reconcileQueued.compareAndSet(false, true)) {
            return;
        }
        context.runOnContext(v -> {
            reconcileQueued.set(false);
            if (reconciling) {
                // One pass at a time: the running one is followed by another.
                vertx.setTimer(50, t -> scheduleReconcile());
                return;
            }
            reconcile();
        });
    }

    private Future<Void> reconcile() {
        if (closed) {
            return Future.succeededFuture();
        }
        reconciling = true;
        long pass = ++passes;
        // A pass that never ends (a partition that stopped answering) must not stop all later ones.
        long watchdog = vertx.setTimer(PASS_TIMEOUT_MS, t -> {
            if (reconciling && passes == pass) {
                LOG.warn("A pass applying the cluster metadata has run for {} ms; starting another", PASS_TIMEOUT_MS);
                reconciling = false;
                scheduleReconcile();
            }
        });
        Future<Void> topicsDone;
        try {
            topicsDone = reconcileTopics();
        } catch (RuntimeException e) {
            topicsDone = Future.failedFuture(e);
        }
        return topicsDone
                .compose(v -> reconcileRoles())
                .onFailure(e -> LOG.warn("Applying the cluster metadata failed (retried): {}", e.toString()))
                .eventually(() -> {
                    vertx.cancelTimer(watchdog);
                    if (passes == pass) {
                        reconciling = false;
                    }
                    storeStates();
                    return Future.succeededFuture();
                });
    }

    /** Opens what the cluster has, grows and reconfigures what changed, removes what it deleted. */
    private Future<Void> reconcileTopics() {
        Future<Void> chain = Future.succeededFuture();
        Map<String, TopicSpec> cluster = metadata.topics();
        for (TopicSpec spec : cluster.values()) {
            chain = chain.compose(v -> applyTopic(spec));
        }
        JsonArray orphans = new JsonArray();
        for (String name : topics.topicNames()) {
            if (cluster.containsKey(name)) {
                continue;
            }
            if (metadata.isDeleted(name)) {
                chain = chain.compose(v -> topics.applyDeleteTopic(name).recover(e -> Future.succeededFuture()));
            } else if (!adopted.contains(name)) {
                adopted.add(name);
                orphans.add(orphan(name));
            }
        }
        if (!orphans.isEmpty()) {
            controller.request(new JsonObject().put("op", "adopt").put("broker", localId).put("topics", orphans))
                    .onFailure(e -> {
                        LOG.warn("Could not hand topics this broker holds to the controller: {}", e.toString());
                        context.runOnContext(v -> orphans.forEach(o -> adopted.remove(
                                TopicSpec.fromJson(((JsonObject) o).getString("spec")).name())));
                    });
        }
        return chain;
    }

    private Future<Void> applyTopic(TopicSpec spec) {
        TopicManager.Topic local = topics.topicNames().contains(spec.name()) ? topics.topic(spec.name()) : null;
        if (local == null) {
            LOG.info("Opening topic {} ({} partitions) as the cluster has it", spec.name(), spec.partitions());
            return topics.applyCreateTopic(spec.name(), spec.partitions(), spec.configs()).<Void>mapEmpty()
                    // A pass the watchdog gave up on may have opened it meanwhile; then the next pass
                    // reconciles its partitions and configs.
                    .recover(e -> e instanceof TopicExistsException
                            ? Future.succeededFuture() : Future.failedFuture(e));
        }
        Future<Void> grown = local.partitions().size() < spec.partitions()
                ? topics.applyCreatePartitions(spec.name(), spec.partitions()).mapEmpty() : Future.succeededFuture();
        return grown.compose(v -> local.configOverrides().equals(spec.configs()) ? Future.succeededFuture()
                : topics.applyConfigs(spec.name(), spec.configs()).mapEmpty());
    }

    /** What this broker knows of a topic the cluster lacks: its spec and the states it last stored. */
    private JsonObject orphan(String name) {
        TopicManager.Topic t = topics.topic(name);
        JsonArray states = new JsonArray();
        Map<String, String> stored = storedStates();
        // A partition with no stored state takes the incarnation its stored siblings carry.
        long incarnation = 0;
        for (int p = 0; p < t.partitions().size(); p++) {
            String state = stored.get(PartitionState.key(name, p));
            if (state != null) {
                incarnation = Math.max(incarnation, PartitionState.fromJson(state).incarnation());
            }
        }
        for (int p = 0; p < t.partitions().size(); p++) {
            String state = stored.get(PartitionState.key(name, p));
            states.add(state != null ? state
                    : PartitionState.initial(name, p, List.of(localId), incarnation).toJson());
        }
        return new JsonObject().put("spec", new TopicSpec(name, t.partitions().size(), t.configOverrides()).toJson())
                .put("states", states);
    }

    /** Makes every local replica leader or follower as the metadata says. */
    private Future<Void> reconcileRoles() {
        Set<String> current = new HashSet<>();
        Future<Void> chain = Future.succeededFuture();
        for (PartitionState s : metadata.partitions()) {
            if (!s.replicas().contains(localId) || !topics.topicNames().contains(s.topic())
                    || topics.topic(s.topic()).partitions().size() <= s.partition()) {
                continue;
            }
            current.add(s.key());
            chain = chain.compose(v -> applyRole(s));
        }
        for (String key : Set.copyOf(fetchers.keySet())) {
            if (!current.contains(key)) {
                fetchers.remove(key).stop();
                applied.remove(key);
            }
        }
        applied.keySet().retainAll(current);
        return chain;
    }

    private Future<Void> applyRole(PartitionState s) {
        Partition p = topics.partition(s.topic(), s.partition());
        String role = s.leader() == localId ? "leader:" + s.leaderEpoch() + ":" + s.isr()
                : "follower:" + s.leaderEpoch() + ":" + s.leader();
        if (role.equals(applied.get(s.key()))) {
            return Future.succeededFuture();
        }
        if (s.leader() == localId) {
            Fetcher old = fetchers.remove(s.key());
            if (old != null) {
                old.stop();
            }
            boolean newTerm = !String.valueOf(applied.get(s.key())).startsWith("leader:" + s.leaderEpoch() + ":");
            return p.becomeLeader(localId, s.leaderEpoch(), s.replicas(), s.isr(), metadata::isLive)
                    .onSuccess(v -> {
                        applied.put(s.key(), role);
                        if (newTerm) {
                            leadershipListeners.forEach(l -> l.accept(s.topic(), s.partition()));
                        }
                    });
        }
        Fetcher old = fetchers.remove(s.key());
        if (old != null) {
            old.stop();
        }
        return p.becomeFollower(s.leaderEpoch()).onSuccess(v -> {
            applied.put(s.key(), role);
            if (s.hasLeader()) {
                Fetcher f = new Fetcher(p, s.topic(), s.partition(), s.leader(), s.leaderEpoch());
                fetchers.put(s.key(), f);
                f.start();
            }
        });
    }

    /** Saves the states this broker knows (for adoption after a full restart), when they changed. */
    private void storeStates() {
        JsonObject all = new JsonObject();
        for (PartitionState s : metadata.partitions()) {
            if (s.replicas().contains(localId)) {
                all.put(s.key(), s.toJson());
            }
        }
        String text = all.encode();
        if (text.equals(lastStoredState) || all.isEmpty()) {
            return;
        }
        lastStoredState = text;
        Path file = topics.dataDir().resolve(STATE_FILE);
        // On this manager's context, ordered: writes of the file never overlap.
        context.executeBlocking(() -> {
            StorageIo.SYSTEM.writeAtomically(file, text.getBytes(StandardCharsets.UTF_8));
            return null;
        }, true).onFailure(e -> LOG.warn("Could not store the cluster state in {}: {}", file, e.toString()));
    }

    private Map<String, String> storedStates() {
        Path file = topics.dataDir().resolve(STATE_FILE);
        Map<String, String> out = new HashMap<>();
        try {
            if (Files.exists(file)) {
                JsonObject all = new JsonObject(Files.readString(file));
                all.forEach(e -> out.put(e.getKey(), String.valueOf(e.getValue())));
            }
        } catch (Exception e) {
            LOG.warn("Could not read {}: {}", file, e.toString());
        }
        return out;
    }

    // ---------------------------------------------------------------- ISR upkeep (leader side)

    private void checkIsrs() {
        if (closed) {
            return;
        }
        int under = 0;
        int leading = 0;
        long lag = 0;
        for (PartitionState s : metadata.partitions()) {
            if (s.leader() != localId || !topics.topicNames().contains(s.topic())) {
                continue;
            }
            leading++;
            if (s.isr().size() < s.replicas().size()) {
                under++;
            }
            Partition p;
            try {
                p = topics.partition(s.topic(), s.partition());
            } catch (RuntimeException e) {
                continue;
            }
            p.failStarvedAppends();
            p.maxFollowerLag().onSuccess(l -> maxLag = Math.max(0, l));
            p.proposedIsr(replicaLagTimeMaxMs).onSuccess(proposal -> {
                if (proposal != null) {
                    askForIsr(s, proposal);
                }
            });
        }
        underReplicated = under;
        leaderCount = leading;
        if (leading == 0) {
            maxLag = 0;
        }
    }

    private void askForIsr(PartitionState s, List<Integer> isr) {
        controller.request(new JsonObject().put("op", "alterIsr").put("topic", s.topic()).put("partition", s.partition())
                        .put("leader", localId).put("leaderEpoch", s.leaderEpoch()).put("version", s.version())
                        .put("incarnation", s.incarnation()).put("isr", new JsonArray(isr)))
                .onSuccess(reply -> LOG.info("{}: ISR {} -> {}", s.key(), s.isr(), isr))
                .onFailure(e -> LOG.debug("{}: ISR change to {} refused: {}", s.key(), isr, e.toString()));
    }

    // ---------------------------------------------------------------- answering followers' truncation (leader side)

    private void serveEpoch(Message<JsonObject> message) {
        JsonObject r = message.body();
        Partition p;
        try {
            p = topics.partition(r.getString("topic"), r.getInteger("partition"));
        } catch (RuntimeException e) {
            BusErrors.fail(message, e);
            return;
        }
        p.role().compose(role -> role == Partition.Role.LEADER ? p.endOffsetForEpoch(r.getInteger("epoch"))
                        : Future.failedFuture(new NotLeaderOrFollowerException("Not the leader")))
                .onSuccess(answer -> message.reply(new JsonObject().put("epoch", answer.epoch())
                        .put("endOffset", answer.endOffset())))
                .onFailure(e -> BusErrors.fail(message, e));
    }

    // ---------------------------------------------------------------- following (follower side)

    /** Copies one partition from its leader until stopped. */
    private final class Fetcher {
        private final Partition partition;
        private final String topic;
        private final int index;
        private final int leader;
        private final int epoch;
        private volatile boolean stopped;
        /** Opened and used on the partition's context; volatile for {@link #stop}, which closes it from anywhere. */
        private volatile LeaderLink link;

        Fetcher(Partition partition, String topic, int index, int leader, int epoch) {
            this.partition = partition;
            this.topic = topic;
            this.index = index;
            this.leader = leader;
            this.epoch = epoch;
        }

        void start() {
            truncate();
        }

        void stop() {
            stopped = true;
            LeaderLink l = link;
            if (l != null) {
                l.close();
            }
        }

        /** Cuts the log back to where it agrees with the leader, then fetches. */
        private void truncate() {
            if (stopped || closed) {
                return;
            }
            partition.latestLogEpoch().compose(latest -> {
                if (latest < 0) {
                    return Future.succeededFuture(true);
                }
                JsonObject ask = new JsonObject().put("topic", topic).put("partition", index).put("epoch", latest);
                return vertx.eventBus().<JsonObject>request(String.format(EPOCH_ADDRESS, leader), ask,
                                new DeliveryOptions().setSendTimeout(5_000))
                        .compose(reply -> partition.truncateToLeader(new EpochEndOffset(
                                reply.body().getInteger("epoch"), reply.body().getLong("endOffset")), epoch));
            }).onSuccess(complete -> {
                if (complete) {
                    fetch();
                } else {
                    truncate();
                }
            }).onFailure(e -> {
                LOG.debug("{}-{}: truncation against leader {} failed, retrying: {}", topic, index, leader, e.toString());
                vertx.setTimer(RETRY_DELAY_MS * 2, t -> truncate());
            });
        }

        private void fetch() {
            if (stopped || closed) {
                return;
            }
            partition.logEndOffset()
                    .compose(offset -> link().compose(l -> l.fetch(fetchRequest(offset), FETCH_MAX_WAIT_MS + 5_000)))
                    .onSuccess(this::onFetched).onFailure(e -> {
                        LOG.debug("{}-{}: fetch from leader {} failed, retrying: {}", topic, index, leader, e.toString());
                        vertx.setTimer(RETRY_DELAY_MS, t -> fetch());
                    });
        }

        /** This partition from {@code offset} (this replica's log end), in this fetcher's epoch, long-polled. */
        private FetchRequestData fetchRequest(long offset) {
            return new FetchRequestData().setReplicaId(localId).setMaxWaitMs((int) FETCH_MAX_WAIT_MS).setMinBytes(1)
                    .setMaxBytes(FETCH_MAX_BYTES).setTopics(List.of(new FetchRequestData.FetchTopic().setTopic(topic)
                            .setPartitions(List.of(new FetchRequestData.FetchPartition().setPartition(index)
                                    .setCurrentLeaderEpoch(epoch).setFetchOffset(offset)
                                    .setPartitionMaxBytes(FETCH_MAX_BYTES)))));
        }

        /** The connection to the leader, opened on first use from the partition's context (where this runs). */
        private Future<LeaderLink> link() {
            if (link == null) {
                BrokerInfo at = metadata.kafkaBroker(leader).orElse(null);
                if (at == null) {
                    return Future.failedFuture(new NotLeaderOrFollowerException("Leader " + leader + " of " + topic + "-"
                            + index + " has no Kafka listener in the cluster metadata"));
                }
                link = new LeaderLink(vertx, leaderClient, at.host(), at.kafkaPort(), "runnel-replica-" + localId);
                if (stopped) {
                    // stop() ran while this was opening and may have missed it (both fields are volatile).
                    link.close();
                }
            }
            return Future.succeededFuture(link);
        }

        private void onFetched(FetchResponseData response) {
            if (stopped || closed) {
                return;
            }
            FetchResponseData.PartitionData answer = response.responses().stream()
                    .flatMap(t -> t.partitions().stream()).filter(p -> p.partitionIndex() == index)
                    .findFirst().orElse(null);
            Errors error = Errors.forCode(response.errorCode());
            if (error == Errors.NONE) {
                error = answer == null ? Errors.UNKNOWN_TOPIC_OR_PARTITION : Errors.forCode(answer.errorCode());
            }
            if (error == Errors.OFFSET_OUT_OF_RANGE) {
                vertx.setTimer(RETRY_DELAY_MS, t -> truncate());
                return;
            }
            if (error != Errors.NONE) {
                // Not (yet) the leader in this epoch, or fenced: the metadata will move this fetcher on.
                vertx.setTimer(RETRY_DELAY_MS, t -> fetch());
                return;
            }
            MemoryRecords records = answer.records() instanceof MemoryRecords m ? m : MemoryRecords.EMPTY;
            partition.appendAsFollower(records, answer.highWatermark(), epoch)
                    .onSuccess(end -> fetch())
                    .onFailure(e -> {
                        LOG.warn("{}-{}: appending what leader {} sent failed: {}", topic, index, leader, e.toString());
                        vertx.setTimer(RETRY_DELAY_MS, t -> truncate());
                    });
        }
    }

    // ---------------------------------------------------------------- close

    public Future<Void> close() {
        closed = true;
        for (long t : timers) {
            vertx.cancelTimer(t);
        }
        fetchers.values().forEach(Fetcher::stop);
        leaderClient.close();
        return Future.join(consumers.stream().map(MessageConsumer::unregister).toList()).mapEmpty();
    }

    @Override
    public String toString() {
        return "ReplicaManager(broker " + localId + ", " + Objects.toString(fetchers.keySet()) + ")";
    }
}

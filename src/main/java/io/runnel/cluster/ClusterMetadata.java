package io.runnel.cluster;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;

/**
 * This broker's view of the cluster metadata, kept in three Hazelcast maps — brokers (id → its
 * {@link BrokerInfo}), topics (name → {@link TopicSpec}) and partitions ("topic/p" →
 * {@link PartitionState}) — plus the deleted-topic tombstones, so a broker that was away when a
 * topic was deleted removes its copy instead of bringing it back.
 *
 * <p>Reads are local and never block: every map is mirrored in concurrent maps, updated by
 * Hazelcast's entry listeners and by a full refresh (on membership changes and every second), so
 * a missed event is repaired within a refresh. Events and refreshes race, so a partition's state
 * in the mirror only moves to a newer version: a leader that saw an ISR grow must never act on the
 * smaller ISR of a late event (it would count acknowledgements without a replica the controller
 * may already have made leader). A topic deleted and created again starts at version 0 under a
 * higher incarnation, which wins over any version of the deleted one: otherwise a refresh that read
 * the map before the deletion would leave the old state in the mirror until the new topic's
 * versions passed it. Listeners registered with {@link #onChange} run on
 * Hazelcast's threads and must only schedule work.
 *
 * <p>Writes block (Hazelcast calls) and run on the cluster worker. Only the {@link Controller}
 * writes topics and partition states, each with a compare-and-set on the value it read; each
 * broker writes only its own broker entry. The maps are guarded by Hazelcast split-brain
 * protection (a majority of {@code cluster.members}), so a minority side cannot change them.
 *
 * <p>Liveness: a broker is live while the Hazelcast member named in its entry is in the member
 * list. The controller is the broker of the oldest member.
 */
public final class ClusterMetadata {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterMetadata.class);

    static final String BROKERS = "runnel.brokers";
    static final String TOPICS = "runnel.topics";
    static final String PARTITIONS = "runnel.partitions";
    static final String DELETED = "runnel.deleted-topics";
    static final long REFRESH_PERIOD_MS = 1_000;

    /**
     * Entry events and full reads race: a partition's state in the mirror never goes back to an
     * older one, but a recreated topic's states replace the deleted topic's ({@link PartitionState#supersedes}).
     */
    static final java.util.function.BinaryOperator<PartitionState> NEWER_STATE =
            (held, arrived) -> arrived.supersedes(held) ? arrived : held;
    /** Brokers and topics: the value last read or heard of wins. */
    private static <V> java.util.function.BinaryOperator<V> latest() {
        return (held, arrived) -> arrived;
    }

    private final Vertx vertx;
    private final HazelcastInstance hz;
    private final WorkerExecutor worker;
    private volatile BrokerInfo self;
    private final IMap<Integer, String> brokerMap;
    private final IMap<String, String> topicMap;
    private final IMap<String, String> partitionMap;
    private final IMap<String, Long> deletedMap;

    private final Map<Integer, BrokerInfo> brokers = new ConcurrentHashMap<>();
    private final Map<String, TopicSpec> topics = new ConcurrentHashMap<>();
    private final Map<String, PartitionState> partitions = new ConcurrentHashMap<>();
    private final Set<String> deleted = ConcurrentHashMap.newKeySet();
    private volatile Set<String> memberIds = Set.of();
    private volatile String oldestMemberId;
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();

    private ClusterMetadata(Vertx vertx, HazelcastInstance hz, WorkerExecutor worker, BrokerInfo self) {
        this.vertx = vertx;
        this.hz = hz;
        this.worker = worker;
        this.self = self;
        this.brokerMap = hz.getMap(BROKERS);
        this.topicMap = hz.getMap(TOPICS);
        this.partitionMap = hz.getMap(PARTITIONS);
        this.deletedMap = hz.getMap(DELETED);
    }

    /** Registers this broker in the cluster and mirrors the metadata. */
    public static Future<ClusterMetadata> join(Vertx vertx, HazelcastInstance hz, WorkerExecutor worker,
                                               BrokerInfo self) {
        ClusterMetadata m = new ClusterMetadata(vertx, hz, worker, self);
        return worker.executeBlocking(() -> {
            m.listen();
            m.registerSelf();
            m.refreshBlocking();
            return m;
        }, true).onSuccess(x -> m.refreshEvery(REFRESH_PERIOD_MS));
    }

    private void listen() {
        // After a split heals, this member merges into the other side and comes back under a new
        // member id: the entries must be read again and this broker registered under its new id.
        hz.getLifecycleService().addLifecycleListener(e -> {
            if (e.getState() == com.hazelcast.core.LifecycleEvent.LifecycleState.MERGED) {
                refreshMembers();
                refreshSoon();
            }
        });
        hz.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent e) {
                refreshMembers();
                refreshSoon();
            }

            @Override
            public void memberRemoved(MembershipEvent e) {
                refreshMembers();
                refreshSoon();
            }
        });
        refreshMembers();
        brokerMap.addEntryListener(new Mirror<>(brokers, BrokerInfo::fromJson, latest()), true);
        topicMap.addEntryListener(new Mirror<>(topics, TopicSpec::fromJson, latest()), true);
        partitionMap.addEntryListener(new Mirror<>(partitions, PartitionState::fromJson, NEWER_STATE), true);
        deletedMap.addEntryListener((EntryAddedListener<String, Long>) e -> {
            deleted.add(e.getKey());
            fire();
        }, false);
    }

    /** Mirrors one Hazelcast map into a local one. */
    private final class Mirror<K, V> implements EntryAddedListener<K, String>, EntryUpdatedListener<K, String>,
            EntryRemovedListener<K, String> {
        private final Map<K, V> target;
        private final java.util.function.Function<String, V> parse;
        private final java.util.function.BinaryOperator<V> keep;

        Mirror(Map<K, V> target, java.util.function.Function<String, V> parse, java.util.function.BinaryOperator<V> keep) {
            this.target = target;
            this.parse = parse;
            this.keep = keep;
        }

        @Override
        public void entryAdded(EntryEvent<K, String> e) {
            target.merge(e.getKey(), parse.apply(e.getValue()), keep);
            fire();
        }

        @Override
        public void entryUpdated(EntryEvent<K, String> e) {
            target.merge(e.getKey(), parse.apply(e.getValue()), keep);
            fire();
        }

        @Override
        public void entryRemoved(EntryEvent<K, String> e) {
            target.remove(e.getKey());
            fire();
        }
    }

    private void refreshMembers() {
        Set<Member> members = hz.getCluster().getMembers();
        Set<String> ids = new HashSet<>();
        String oldest = null;
        for (Member m : members) {
            ids.add(m.getUuid().toString());
            if (oldest == null) {
                oldest = m.getUuid().toString();
            }
        }
        memberIds = Set.copyOf(ids);
        oldestMemberId = oldest;
        fire();
    }

    /** Publishes this broker's addresses (once its listeners are bound). Blocking: the cluster worker. */
    public Future<Void> updateSelf(BrokerInfo info) {
        return worker.executeBlocking(() -> {
            self = info;
            registerSelf();
            fire();
            return null;
        }, true);
    }

    private void registerSelf() {
        brokerMap.set(self.id(), self.toJson());
        brokers.put(self.id(), self);
    }

    /** Repairs the mirrors every {@code periodMs}, whatever events were missed. */
    void refreshEvery(long periodMs) {
        vertx.setPeriodic(periodMs, t -> refreshSoon());
    }

    private void refreshSoon() {
        worker.executeBlocking(() -> {
            refreshBlocking();
            return null;
        }, true).onFailure(e -> LOG.debug("Cluster metadata refresh failed: {}", e.toString()));
    }

    /** Reads every map in full (blocking); repairs anything an event missed. */
    public void refreshBlocking() {
        replaceAll(brokers, brokerMap.entrySet(), BrokerInfo::fromJson, latest());
        replaceAll(topics, topicMap.entrySet(), TopicSpec::fromJson, latest());
        replaceAll(partitions, partitionMap.entrySet(), PartitionState::fromJson, NEWER_STATE);
        deleted.addAll(deletedMap.keySet());
        refreshMembers();
        String member = memberId(hz);
        if (!member.equals(self.memberId())) {
            self = new BrokerInfo(self.id(), self.host(), self.kafkaPort(), self.httpPort(), self.registryPort(), member);
        }
        if (!brokers.containsKey(self.id()) || !self.equals(brokers.get(self.id()))) {
            // Lost in a merge after a split, or never written: this broker must stay findable.
            registerSelf();
        }
        fire();
    }

    private static <K, V> void replaceAll(Map<K, V> target, Set<Map.Entry<K, String>> source,
                                          java.util.function.Function<String, V> parse,
                                          java.util.function.BinaryOperator<V> keep) {
        Set<K> seen = new HashSet<>();
        for (Map.Entry<K, String> e : source) {
            target.merge(e.getKey(), parse.apply(e.getValue()), keep);
            seen.add(e.getKey());
        }
        target.keySet().retainAll(seen);
    }

    /** Runs {@code listener} (on a Hazelcast or worker thread) after any change; it must only schedule work. */
    public void onChange(Runnable listener) {
        listeners.add(listener);
    }

    private void fire() {
        for (Runnable r : listeners) {
            try {
                r.run();
            } catch (RuntimeException e) {
                LOG.warn("A cluster metadata listener failed", e);
            }
        }
    }

    // ---------------------------------------------------------------- reads (any thread, never block)

    public BrokerInfo self() {
        return self;
    }

    public int localBrokerId() {
        return self.id();
    }

    /** Live brokers, by id. */
    public Set<Integer> liveBrokerIds() {
        Set<Integer> live = new TreeSet<>();
        Set<String> members = memberIds;
        for (BrokerInfo b : brokers.values()) {
            if (members.contains(b.memberId())) {
                live.add(b.id());
            }
        }
        return live;
    }

    public boolean isLive(int brokerId) {
        BrokerInfo b = brokers.get(brokerId);
        return b != null && memberIds.contains(b.memberId());
    }

    public List<BrokerInfo> liveBrokers() {
        List<BrokerInfo> out = new ArrayList<>();
        Set<String> members = memberIds;
        for (BrokerInfo b : brokers.values()) {
            if (members.contains(b.memberId())) {
                out.add(b);
            }
        }
        out.sort(java.util.Comparator.comparingInt(BrokerInfo::id));
        return out;
    }

    /** Live brokers whose Kafka listener is up (its port published): the ones Kafka clients are told of. */
    public List<BrokerInfo> kafkaBrokers() {
        return liveBrokers().stream().filter(b -> b.kafkaPort() > 0).toList();
    }

    /** A live broker with its Kafka listener up, by id. */
    public Optional<BrokerInfo> kafkaBroker(int id) {
        return broker(id).filter(b -> b.kafkaPort() > 0 && isLive(id));
    }

    public Optional<BrokerInfo> broker(int id) {
        return Optional.ofNullable(brokers.get(id));
    }

    /** The controller's broker id: the broker of the oldest member (-1 while it has not registered). */
    public int controllerId() {
        String oldest = oldestMemberId;
        for (BrokerInfo b : brokers.values()) {
            if (b.memberId().equals(oldest)) {
                return b.id();
            }
        }
        return -1;
    }

    public boolean isController() {
        return memberId(hz).equals(oldestMemberId);
    }

    public Map<String, TopicSpec> topics() {
        return Map.copyOf(topics);
    }

    public Optional<TopicSpec> topic(String name) {
        return Optional.ofNullable(topics.get(name));
    }

    public Optional<PartitionState> partition(String topic, int partition) {
        return Optional.ofNullable(partitions.get(PartitionState.key(topic, partition)));
    }

    public Collection<PartitionState> partitions() {
        return List.copyOf(partitions.values());
    }

    public boolean isDeleted(String topic) {
        return deleted.contains(topic) && !topics.containsKey(topic);
    }

    // ---------------------------------------------------------------- writes (blocking; the controller's worker)

    /** Compare-and-set of one partition's state; false when someone changed it first. */
    boolean replacePartition(PartitionState expected, PartitionState next) {
        boolean done = partitionMap.replace(expected.key(), expected.toJson(), next.toJson());
        if (done) {
            partitions.put(next.key(), next);
        }
        return done;
    }

    /** Reads one partition's state from Hazelcast (not the mirror). */
    Optional<PartitionState> readPartition(String key) {
        String json = partitionMap.get(key);
        return Optional.ofNullable(json).map(PartitionState::fromJson);
    }

    /** The incarnation for a topic created now under {@code name}: above that of any deleted topic of that name. */
    long nextIncarnation(String name) {
        return incarnationAfter(deletedMap.get(name), System.currentTimeMillis());
    }

    /**
     * A new topic's incarnation: the clock, but above the tombstone of a deleted topic of the same
     * name (which holds that topic's incarnation when the clock was behind it), so incarnations of
     * one name only grow, whichever controller's clock stamps them.
     */
    static long incarnationAfter(Long tombstone, long nowMs) {
        return tombstone == null ? nowMs : Math.max(nowMs, tombstone + 1);
    }

    /** Adds a topic and its partitions unless it exists; false when it did. */
    boolean createTopic(TopicSpec spec, List<PartitionState> states) {
        if (topicMap.putIfAbsent(spec.name(), spec.toJson()) != null) {
            return false;
        }
        deletedMap.remove(spec.name());
        deleted.remove(spec.name());
        for (PartitionState s : states) {
            partitionMap.putIfAbsent(s.key(), s.toJson());
            partitions.putIfAbsent(s.key(), s);
        }
        topics.put(spec.name(), spec);
        return true;
    }

    /** Grows or reconfigures a topic: its spec is replaced only if unchanged since it was read. */
    boolean replaceTopic(TopicSpec expected, TopicSpec next, List<PartitionState> added) {
        for (PartitionState s : added) {
            partitionMap.putIfAbsent(s.key(), s.toJson());
        }
        boolean done = topicMap.replace(expected.name(), expected.toJson(), next.toJson());
        if (done) {
            topics.put(next.name(), next);
        }
        return done;
    }

    boolean deleteTopic(String name) {
        String spec = topicMap.get(name);
        if (spec == null) {
            return false;
        }
        long incarnation = Optional.ofNullable(partitionMap.get(PartitionState.key(name, 0)))
                .map(json -> PartitionState.fromJson(json).incarnation()).orElse(0L);
        deletedMap.set(name, Math.max(System.currentTimeMillis(), incarnation));
        int count = TopicSpec.fromJson(spec).partitions();
        topicMap.remove(name);
        for (int p = 0; p < count; p++) {
            partitionMap.remove(PartitionState.key(name, p));
        }
        topics.remove(name);
        deleted.add(name);
        return true;
    }

    /** Reads the topic map entry directly (blocking). */
    Optional<TopicSpec> readTopic(String name) {
        return Optional.ofNullable(topicMap.get(name)).map(TopicSpec::fromJson);
    }

    Vertx vertx() {
        return vertx;
    }

    WorkerExecutor worker() {
        return worker;
    }

    HazelcastInstance hazelcast() {
        return hz;
    }

    /** The Hazelcast member id of this broker. */
    public static String memberId(HazelcastInstance hz) {
        UUID uuid = hz.getCluster().getLocalMember().getUuid();
        return uuid.toString();
    }
}

package io.runnel.broker;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

import io.runnel.config.ConfigException;
import io.runnel.config.LogConfig;
import io.runnel.log.GroupCommitFlusher;
import io.runnel.log.StorageIo;
import io.vertx.core.Context;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VerticleBase;
import io.vertx.core.WorkerExecutor;

/**
 * The topics of this broker and their partitions.
 *
 * <p>Model: a topic is a name, a partition count and its config overrides (Kafka topic config
 * names), stored in {@code <data>/.topics/<topic>.properties} (written atomically); partition p
 * lives in {@code <data>/<topic>-<p>/}. The metadata file is the truth: a partition directory
 * without one (a delete interrupted by a crash) is removed at start.
 *
 * <p>Threading: partitions are spread over one {@link PartitionHost} verticle per event loop, and
 * each partition runs on its host's context. Topic changes (create, delete, add partitions, alter
 * configs) are serialised on this manager's own context; lookups ({@link #partition}) may come
 * from any thread and read a concurrent map.
 *
 * <p>Invariants: a topic in {@link #topics} has all its partitions open; names follow Kafka's
 * rules (1–249 of {@code [a-zA-Z0-9._-]}, not "." or ".."); a partition count only grows.
 *
 * <p>In a cluster, changes are decided by the controller ({@link TopicController}): the public
 * methods ask it and then wait until the change has reached this broker, which the replica
 * manager applies through the {@code apply*} methods, as on a single node.
 *
 * <p>Metrics: each open partition has its gauges in {@link BrokerMetrics}, registered when its
 * topic is registered here and removed when the topic is deleted.
 */
public final class TopicManager {

    static final String METADATA_DIR = ".topics";
    private static final Pattern LEGAL_NAME = Pattern.compile("[a-zA-Z0-9._-]{1,249}");

    /** One topic as it stands. */
    public record Topic(String name, List<Partition> partitions, Map<String, String> configOverrides, LogConfig config) {
    }

    /** Hosts partitions on its event loop; one instance is deployed per event loop. */
    static final class PartitionHost extends VerticleBase {
        private final List<Context> contexts;

        PartitionHost(List<Context> contexts) {
            this.contexts = contexts;
        }

        @Override
        public Future<?> start() {
            contexts.add(context);
            return Future.succeededFuture();
        }
    }

    private final Vertx vertx;
    private final Context context;
    private final Path dataDir;
    private final LogConfig defaults;
    private final GroupCommitFlusher flusher;
    private final WorkerExecutor worker;
    private final boolean durableAcks;
    private final List<Context> hosts;
    private final BrokerMetrics metrics;
    private final Map<String, Topic> topics = new ConcurrentHashMap<>();
    private boolean closed;

    private TopicManager(Vertx vertx, Context context, Path dataDir, LogConfig defaults, GroupCommitFlusher flusher,
                         WorkerExecutor worker, boolean durableAcks, List<Context> hosts, BrokerMetrics metrics,
                         boolean clustered) {
        this.vertx = vertx;
        this.context = context;
        this.dataDir = dataDir;
        this.defaults = defaults;
        this.flusher = flusher;
        this.worker = worker;
        this.durableAcks = durableAcks;
        this.clustered = clustered;
        this.hosts = List.copyOf(hosts);
        this.metrics = metrics;
    }

    /**
     * Deploys {@code eventLoops} partition hosts and opens every topic found under {@code dataDir}
     * (recovering their logs on the worker).
     */
    public static Future<TopicManager> start(Vertx vertx, Path dataDir, LogConfig defaults, int eventLoops,
                                             GroupCommitFlusher flusher, WorkerExecutor worker, boolean durableAcks) {
        return start(vertx, dataDir, defaults, eventLoops, flusher, worker, durableAcks, BrokerMetrics.noop());
    }

    /** As {@link #start(Vertx, Path, LogConfig, int, GroupCommitFlusher, WorkerExecutor, boolean)}, measured into {@code metrics}. */
    public static Future<TopicManager> start(Vertx vertx, Path dataDir, LogConfig defaults, int eventLoops,
                                             GroupCommitFlusher flusher, WorkerExecutor worker, boolean durableAcks,
                                             BrokerMetrics metrics) {
        return start(vertx, dataDir, defaults, eventLoops, flusher, worker, durableAcks, metrics, false);
    }

    /** As above; {@code clustered} opens partitions as followers until the cluster gives them a leader. */
    public static Future<TopicManager> start(Vertx vertx, Path dataDir, LogConfig defaults, int eventLoops,
                                             GroupCommitFlusher flusher, WorkerExecutor worker, boolean durableAcks,
                                             BrokerMetrics metrics, boolean clustered) {
        List<Context> hosts = new CopyOnWriteArrayList<>();
        Context own = vertx.getOrCreateContext();
        return vertx.deployVerticle(() -> new PartitionHost(hosts), new DeploymentOptions().setInstances(eventLoops))
                .compose(id -> {
                    TopicManager m = new TopicManager(vertx, own, dataDir, defaults, flusher, worker, durableAcks, hosts,
                            metrics, clustered);
                    Promise<TopicManager> loaded = Promise.promise();
                    own.runOnContext(v -> m.loadAll().map(x -> m).onComplete(loaded));
                    return loaded.future();
                });
    }

    // ---------------------------------------------------------------- lookups (any thread)

    /** Where this broker's metrics go; the broker service records into the same place. */
    public Vertx vertx() {
        return vertx;
    }

    /** The broker's data directory (topics live in subdirectories of it). */
    public Path dataDir() {
        return dataDir;
    }

    public BrokerMetrics metrics() {
        return metrics;
    }

    public Set<String> topicNames() {
        return Collections.unmodifiableSet(new TreeSet<>(topics.keySet()));
    }

    public Topic topic(String name) {
        Topic t = topics.get(name);
        if (t == null) {
            throw new UnknownTopicOrPartitionException("Topic '" + name + "' does not exist");
        }
        return t;
    }

    public Partition partition(String topic, int partition) {
        Topic t = topic(topic);
        if (partition < 0 || partition >= t.partitions().size()) {
            throw new UnknownTopicOrPartitionException("Topic '" + topic + "' has no partition " + partition
                    + " (it has " + t.partitions().size() + ")");
        }
        return t.partitions().get(partition);
    }

    /**
     * The most partitions one topic may have. A guard, not a tuning knob: each partition is a log
     * with open files, and a request for millions of them (one mistyped number, or a hostile
     * client) must be refused, not attempted. Well above what one broker serves usefully.
     */
    public static final int MAX_PARTITIONS_PER_TOPIC = 1_024;

    // ---------------------------------------------------------------- changes (serialised)

    /**
     * Where topic changes are decided when this broker is part of a cluster: the controller. The
     * change reaches this broker's own topics through the cluster metadata ({@code apply*}).
     */
    public interface TopicController {
        Future<Void> createTopic(String name, int partitions, int replicationFactor, Map<String, String> configs);

        Future<Void> createPartitions(String name, int total);

        Future<Void> replaceConfigs(String name, Map<String, String> overrides);

        Future<Void> deleteTopic(String name);
    }

    private volatile TopicController controller;
    /** In a cluster, partitions open as followers and lead only when the cluster says so. */
    private final boolean clustered;
    /** How long a change decided by the controller may take to reach this broker's topics. */
    private static final long CLUSTER_APPLY_TIMEOUT_MS = 30_000;

    /** From now on topic changes go to {@code controller} (cluster mode). */
    public void useController(TopicController controller) {
        this.controller = controller;
    }

    /** Creates a topic; fails with Kafka's exception for a bad name, count or config, or an existing topic. */
    public Future<Topic> createTopic(String name, int partitions, Map<String, String> configs) {
        return createTopic(name, partitions, -1, configs);
    }

    /**
     * As above, with {@code replicationFactor} copies of each partition in a cluster (-1: the
     * broker's default, capped by the live brokers); a single node keeps one.
     */
    public Future<Topic> createTopic(String name, int partitions, int replicationFactor, Map<String, String> configs) {
        TopicController c = controller;
        if (c == null) {
            return applyCreateTopic(name, partitions, configs);
        }
        try {
            checkName(name);
            checkPartitionCount(partitions);
            configFor(configs);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return c.createTopic(name, partitions, replicationFactor, configs)
                .compose(v -> awaitLocal(() -> topics.get(name), t -> t.partitions().size() >= partitions));
    }

    /** Waits until this broker's own topic {@code name} exists (created locally or from the cluster). */
    public Future<Topic> awaitTopic(String name) {
        return awaitLocal(() -> topics.get(name), t -> true);
    }

    private <T> Future<T> awaitLocal(java.util.function.Supplier<T> look, java.util.function.Predicate<T> done) {
        Promise<T> result = Promise.promise();
        long deadline = System.currentTimeMillis() + CLUSTER_APPLY_TIMEOUT_MS;
        pollLocal(look, done, deadline, result);
        return result.future();
    }

    private <T> void pollLocal(java.util.function.Supplier<T> look, java.util.function.Predicate<T> done, long deadline,
                               Promise<T> result) {
        T now = look.get();
        if (now != null && done.test(now)) {
            result.complete(now);
        } else if (System.currentTimeMillis() > deadline) {
            result.fail(new org.apache.kafka.common.errors.TimeoutException(
                    "The cluster's change did not reach this broker within " + CLUSTER_APPLY_TIMEOUT_MS + " ms"));
        } else {
            vertx.setTimer(20, t -> pollLocal(look, done, deadline, result));
        }
    }

    private static void checkPartitionCount(int partitions) {
        if (partitions < 1 || partitions > MAX_PARTITIONS_PER_TOPIC) {
            throw new InvalidPartitionsException("A topic has 1 to " + MAX_PARTITIONS_PER_TOPIC
                    + " partitions, not " + partitions);
        }
    }

    /** Creates a topic on this broker alone (single node, or as the cluster decided). */
    public Future<Topic> applyCreateTopic(String name, int partitions, Map<String, String> configs) {
        return serialised(() -> {
            checkName(name);
            if (topics.containsKey(name)) {
                throw new TopicExistsException("Topic '" + name + "' already exists");
            }
            checkPartitionCount(partitions);
            LogConfig config = configFor(configs);
            Map<String, String> overrides = Map.copyOf(configs);
            return blocking(() -> {
                writeMetadata(name, partitions, overrides);
                return null;
            }).compose(v -> openPartitions(name, 0, partitions, config))
                    .map(opened -> register(name, opened, overrides, config));
        });
    }

    /** Grows a topic to {@code newTotal} partitions (Kafka's CreatePartitions). */
    public Future<Topic> createPartitions(String name, int newTotal) {
        TopicController c = controller;
        if (c == null) {
            return applyCreatePartitions(name, newTotal);
        }
        return c.createPartitions(name, newTotal)
                .compose(v -> awaitLocal(() -> topics.get(name), t -> t.partitions().size() >= newTotal));
    }

    /** Grows a topic on this broker alone. */
    public Future<Topic> applyCreatePartitions(String name, int newTotal) {
        return serialised(() -> {
            Topic t = topic(name);
            if (newTotal <= t.partitions().size()) {
                throw new InvalidPartitionsException("Topic '" + name + "' has " + t.partitions().size()
                        + " partitions; the new count must be larger, not " + newTotal);
            }
            if (newTotal > MAX_PARTITIONS_PER_TOPIC) {
                throw new InvalidPartitionsException("A topic has at most " + MAX_PARTITIONS_PER_TOPIC
                        + " partitions, not " + newTotal);
            }
            return blocking(() -> {
                writeMetadata(name, newTotal, t.configOverrides());
                return null;
            }).compose(v -> openPartitions(name, t.partitions().size(), newTotal, t.config()))
                    .map(added -> {
                        List<Partition> all = new ArrayList<>(t.partitions());
                        all.addAll(added);
                        return register(name, all, t.configOverrides(), t.config());
                    });
        });
    }

    /** Sets and removes config overrides of a topic; the new config applies to its logs at once. */
    public Future<Topic> alterConfigs(String name, Map<String, String> set, Set<String> delete) {
        TopicController c = controller;
        if (c == null) {
            return changeConfigs(name, current -> {
                Map<String, String> overrides = new TreeMap<>(current);
                overrides.keySet().removeAll(delete);
                overrides.putAll(set);
                return overrides;
            });
        }
        Map<String, String> overrides;
        try {
            overrides = new TreeMap<>(topic(name).configOverrides());
            overrides.keySet().removeAll(delete);
            overrides.putAll(set);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return replaceConfigs(name, overrides);
    }

    /** Replaces all config overrides of a topic with {@code overrides} (Kafka's legacy AlterConfigs). */
    public Future<Topic> replaceConfigs(String name, Map<String, String> overrides) {
        TopicController c = controller;
        if (c == null) {
            return applyConfigs(name, overrides);
        }
        try {
            topic(name);
            configFor(overrides);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        Map<String, String> wanted = Map.copyOf(overrides);
        return c.replaceConfigs(name, wanted)
                .compose(v -> awaitLocal(() -> topics.get(name), t -> t.configOverrides().equals(wanted)));
    }

    /** Replaces a topic's config overrides on this broker alone. */
    public Future<Topic> applyConfigs(String name, Map<String, String> overrides) {
        return changeConfigs(name, current -> new TreeMap<>(overrides));
    }

    private Future<Topic> changeConfigs(String name,
                                        java.util.function.Function<Map<String, String>, Map<String, String>> change) {
        return serialised(() -> {
            Topic t = topic(name);
            Map<String, String> overrides = change.apply(t.configOverrides());
            LogConfig config = configFor(overrides);
            Map<String, String> frozen = Map.copyOf(overrides);
            return blocking(() -> {
                writeMetadata(name, t.partitions().size(), frozen);
                return null;
            }).compose(v -> Future.all(t.partitions().stream().map(p -> p.updateConfig(config)).toList()))
                    .map(v -> register(name, t.partitions(), frozen, config));
        });
    }

    /** Deletes a topic: its partitions close, its metadata goes, then its files (on the worker). */
    public Future<Void> deleteTopic(String name) {
        TopicController c = controller;
        if (c == null) {
            return applyDeleteTopic(name);
        }
        return c.deleteTopic(name).compose(v -> awaitLocal(() -> topics.containsKey(name) ? null : Boolean.TRUE,
                gone -> true)).mapEmpty();
    }

    /** Deletes a topic on this broker alone. */
    public Future<Void> applyDeleteTopic(String name) {
        return serialised(() -> {
            Topic t = topic(name);
            topics.remove(name);
            metrics.topicDeleted(name);
            return Future.all(t.partitions().stream().map(Partition::close).toList())
                    .compose(v -> blocking(() -> {
                        StorageIo.SYSTEM.deleteIfExists(metadataFile(name));
                        for (int p = 0; p < t.partitions().size(); p++) {
                            deleteTree(dataDir.resolve(name + "-" + p));
                        }
                        return null;
                    }));
        });
    }

    /** Runs every partition's housekeeping (flush policy, retention, compaction, checkpoint). */
    public Future<Void> maintainAll() {
        List<Future<Void>> rounds = new ArrayList<>();
        for (Topic t : topics.values()) {
            for (Partition p : t.partitions()) {
                rounds.add(p.maintain());
            }
        }
        return Future.join(rounds).mapEmpty();
    }

    /** Asks every partition to flush if its {@code flush.*} policy says so. */
    public void flushDue() {
        topics.values().forEach(t -> t.partitions().forEach(Partition::flushIfDue));
    }

    /** Closes every partition cleanly (clean-shutdown markers written). */
    public Future<Void> close() {
        return serialised(() -> {
            closed = true;
            List<Future<Void>> closing = new ArrayList<>();
            topics.values().forEach(t -> t.partitions().forEach(p -> closing.add(p.close())));
            return Future.join(closing).mapEmpty();
        });
    }

    // ---------------------------------------------------------------- internals

    private Future<Void> loadAll() {
        return blocking(this::readAllMetadata).compose(found -> {
            List<Future<Topic>> opening = new ArrayList<>();
            for (Map.Entry<String, Properties> e : found.entrySet()) {
                String name = e.getKey();
                int count = Integer.parseInt(e.getValue().getProperty("partitions"));
                Map<String, String> overrides = new TreeMap<>();
                e.getValue().stringPropertyNames().stream().filter(k -> k.startsWith("config."))
                        .forEach(k -> overrides.put(k.substring("config.".length()), e.getValue().getProperty(k)));
                LogConfig config = configFor(overrides);
                Map<String, String> frozen = Map.copyOf(overrides);
                opening.add(openPartitions(name, 0, count, config).map(ps -> register(name, ps, frozen, config)));
            }
            return Future.all(opening).mapEmpty();
        });
    }

    private Topic register(String name, List<Partition> partitions, Map<String, String> overrides, LogConfig config) {
        Topic t = new Topic(name, List.copyOf(partitions), overrides, config);
        topics.put(name, t);
        for (int p = 0; p < partitions.size(); p++) {
            metrics.partitionOpened(name, p, partitions.get(p));
        }
        return t;
    }

    private Future<List<Partition>> openPartitions(String topic, int from, int to, LogConfig config) {
        List<Future<Partition>> opening = new ArrayList<>();
        for (int p = from; p < to; p++) {
            String name = topic + "-" + p;
            Context host = hosts.get(Math.floorMod(name.hashCode(), hosts.size()));
            opening.add(Partition.open(name, vertx, host, dataDir.resolve(name), config, flusher, worker, durableAcks,
                    clustered));
        }
        return Future.all(opening).map(all -> {
            List<Partition> out = new ArrayList<>();
            for (int i = 0; i < opening.size(); i++) {
                out.add(all.resultAt(i));
            }
            return out;
        });
    }

    private LogConfig configFor(Map<String, String> overrides) {
        try {
            return defaults.with(overrides);
        } catch (ConfigException e) {
            throw new InvalidConfigurationException(e.getMessage());
        }
    }

    private static void checkName(String name) {
        if (name == null || !LEGAL_NAME.matcher(name).matches() || name.equals(".") || name.equals("..")) {
            throw new InvalidTopicException("Topic name '" + name + "' is illegal: use 1 to 249 of a-z, A-Z, 0-9, '.', '_', '-'"
                    + " (and not '.' or '..')");
        }
    }

    private Path metadataFile(String topic) {
        return dataDir.resolve(METADATA_DIR).resolve(topic + ".properties");
    }

    private void writeMetadata(String topic, int partitions, Map<String, String> overrides) throws IOException {
        Properties props = new Properties();
        props.setProperty("partitions", Integer.toString(partitions));
        overrides.forEach((k, v) -> props.setProperty("config." + k, v));
        StringWriter out = new StringWriter();
        props.store(out, "topic " + topic);
        StorageIo.SYSTEM.createDirectories(metadataFile(topic).getParent());
        StorageIo.SYSTEM.writeAtomically(metadataFile(topic), out.toString().getBytes(StandardCharsets.ISO_8859_1));
    }

    /** Reads every topic's metadata and removes partition directories that belong to no topic. */
    private Map<String, Properties> readAllMetadata() throws IOException {
        Map<String, Properties> found = new TreeMap<>();
        Path metaDir = dataDir.resolve(METADATA_DIR);
        StorageIo.SYSTEM.createDirectories(metaDir);
        for (Path f : StorageIo.SYSTEM.list(metaDir)) {
            String file = f.getFileName().toString();
            if (!file.endsWith(".properties")) {
                continue;
            }
            Properties props = new Properties();
            props.load(new StringReader(new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1)));
            found.put(file.substring(0, file.length() - ".properties".length()), props);
        }
        try (Stream<Path> dirs = Files.list(dataDir)) {
            for (Path d : dirs.filter(Files::isDirectory).toList()) {
                String dir = d.getFileName().toString();
                int dash = dir.lastIndexOf('-');
                if (dir.equals(METADATA_DIR) || dash < 1) {
                    continue;
                }
                Properties meta = found.get(dir.substring(0, dash));
                int p;
                try {
                    p = Integer.parseInt(dir.substring(dash + 1));
                } catch (NumberFormatException e) {
                    continue;
                }
                if (meta == null || p >= Integer.parseInt(meta.getProperty("partitions"))) {
                    deleteTree(d);
                }
            }
        }
        return found;
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path f : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }

    private <T> Future<T> blocking(java.util.concurrent.Callable<T> work) {
        return worker.executeBlocking(work, false);
    }

    /** Runs a topic change on the manager's context, one at a time, after any before it. */
    private <T> Future<T> serialised(java.util.function.Supplier<Future<T>> change) {
        Promise<T> done = Promise.promise();
        context.runOnContext(v -> {
            Future<Void> previous = tail;
            Promise<Void> mine = Promise.promise();
            tail = mine.future();
            previous.onComplete(x -> {
                Future<T> result;
                try {
                    if (closed) {
                        throw new org.apache.kafka.common.errors.KafkaStorageException("The broker is shutting down");
                    }
                    result = change.get();
                } catch (RuntimeException e) {
                    result = Future.failedFuture(e);
                }
                result.onComplete(done).onComplete(r -> mine.complete());
            });
        });
        return done.future();
    }

    private Future<Void> tail = Future.succeededFuture();
}

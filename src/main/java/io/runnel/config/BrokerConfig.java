package io.runnel.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * The broker's settings, typed and validated, merged from four sources. Lowest to highest
 * precedence: the built-in defaults below; a properties file ({@code conf/runnel.properties} if it
 * exists, or the file named by {@code --config=PATH} / {@code RUNNEL_CONFIG}, which must exist); the
 * environment, as {@code RUNNEL_KEY} (upper case, dots as underscores: {@code RUNNEL_DATA_DIR} sets
 * {@code data.dir}); the command line, as {@code --key=value} ({@code --cluster} alone is
 * {@code cluster.enabled=true}).
 *
 * <p>Unknown keys: one in the file or on the command line is refused, so a typo never silently does
 * nothing; a {@code RUNNEL_} variable that names no key is ignored, because environments carry
 * unrelated variables. The parser never reads the process environment itself: callers pass it in.
 *
 * <p>Topic defaults use Kafka's broker key names ({@code log.segment.bytes} and so on, see
 * {@link #TOPIC_DEFAULT_KEYS}); they become the {@link LogConfig} every topic starts from, and LogConfig
 * holds their default values, so each default lives in one place.
 *
 * <p>Invariants: {@link #load} validates every key, so an instance holds only valid values;
 * a {@link ConfigException} names the key, the value, the rule and the source (file path, variable
 * name, or command line). Instances are immutable and thread-safe.
 */
public final class BrokerConfig {

    public static final String BROKER_ID = "broker.id";
    public static final String DATA_DIR = "data.dir";
    public static final String LISTENERS_HOST = "listeners.host";
    public static final String KAFKA_PORT = "kafka.port";
    public static final String REGISTRY_PORT = "registry.port";
    public static final String HTTP_PORT = "http.port";
    public static final String BRIDGE_PORT = "bridge.port";
    public static final String CLUSTER_ENABLED = "cluster.enabled";
    public static final String CLUSTER_PORT = "cluster.port";
    public static final String CLUSTER_MEMBERS = "cluster.members";
    public static final String CLUSTER_SESSION_TIMEOUT_MS = "cluster.session.timeout.ms";
    public static final String ADVERTISED_HOST = "advertised.host";
    public static final String DEFAULT_REPLICATION_FACTOR = "default.replication.factor";
    public static final String REPLICA_LAG_TIME_MAX_MS = "replica.lag.time.max.ms";
    public static final String UNCLEAN_LEADER_ELECTION_ENABLE = "unclean.leader.election.enable";
    public static final String LEADER_IMBALANCE_CHECK_INTERVAL_MS = "leader.imbalance.check.interval.ms";
    public static final String AUTO_CREATE_TOPICS_ENABLE = "auto.create.topics.enable";
    public static final String NUM_PARTITIONS = "num.partitions";
    public static final String OFFSETS_TOPIC_NUM_PARTITIONS = "offsets.topic.num.partitions";
    public static final String GROUP_INITIAL_REBALANCE_DELAY_MS = "group.initial.rebalance.delay.ms";
    public static final String GROUP_MIN_SESSION_TIMEOUT_MS = "group.min.session.timeout.ms";
    public static final String GROUP_MAX_SESSION_TIMEOUT_MS = "group.max.session.timeout.ms";
    public static final String CONSUMER_INSTANCE_TIMEOUT_MS = "consumer.instance.timeout.ms";

    /** The argument (and {@code RUNNEL_CONFIG} variable) naming the properties file; not a key of the file. */
    public static final String CONFIG = "config";
    /** The prefix of the environment variables that set keys. */
    public static final String ENV_PREFIX = "RUNNEL_";
    /** Where {@code bin/runnel} looks for the file: relative to the working directory, like {@code ./data}. */
    public static final Path DEFAULT_CONFIG_FILE = Path.of("conf/runnel.properties");

    /** 0, because a single node is a cluster of one. */
    public static final int DEFAULT_BROKER_ID = 0;
    /** Relative to the working directory, so a checkout runs without setup. */
    public static final String DEFAULT_DATA_DIR = "./data";
    /** Loopback, so a broker started by hand is not reachable from the network until someone decides. */
    public static final String DEFAULT_LISTENERS_HOST = "127.0.0.1";
    /** Kafka's own port, so clients' defaults find us. */
    public static final int DEFAULT_KAFKA_PORT = 9092;
    /** Confluent Schema Registry's port, so registry clients' defaults find us. */
    public static final int DEFAULT_REGISTRY_PORT = 8081;
    /** Confluent REST Proxy's port: HTTP API, WebSocket, metrics and health. */
    public static final int DEFAULT_HTTP_PORT = 8082;
    /** Vert.x's customary event bus TCP bridge port. */
    public static final int DEFAULT_BRIDGE_PORT = 7000;
    /** Off: the default is one broker on its own (DESIGN.md, single node is a cluster of one). */
    public static final boolean DEFAULT_CLUSTER_ENABLED = false;
    /** Hazelcast's own default port. */
    public static final int DEFAULT_CLUSTER_PORT = 5701;
    /** No members to contact: a lone broker needs none. */
    public static final String DEFAULT_CLUSTER_MEMBERS = "";
    /**
     * A broker whose Hazelcast member is silent this long is declared dead, and its partitions
     * get new leaders. A killed broker is noticed sooner, when its connections close; this bounds
     * the time to notice a paused or cut-off one. Kafka's broker.session.timeout.ms (9 s), long
     * enough that a busy machine's pauses are not taken for deaths: on two loaded cores, gaps of
     * 4-5 s in a live broker's heartbeats were seen while another was being dropped, and a live
     * broker taken for dead can leave both survivors without a majority. Whole seconds, as
     * Hazelcast counts them.
     */
    public static final long DEFAULT_CLUSTER_SESSION_TIMEOUT_MS = 9_000;
    /** Empty: clients reach a broker at {@code listeners.host}; set it when that is a wildcard (0.0.0.0). */
    public static final String DEFAULT_ADVERTISED_HOST = "";
    /** Kafka's default: three copies of every partition in a cluster of three or more (capped by its size). */
    public static final int DEFAULT_DEFAULT_REPLICATION_FACTOR = 3;
    /** Kafka's default: an ISR member that has not caught up for this long leaves the ISR. */
    public static final long DEFAULT_REPLICA_LAG_TIME_MAX_MS = 30_000;
    /** Kafka's default: only an in-sync replica may become leader, so nothing acknowledged is lost. */
    public static final boolean DEFAULT_UNCLEAN_LEADER_ELECTION_ENABLE = false;
    /**
     * How often the controller moves leadership back to preferred replicas. Shorter than Kafka's
     * five minutes: a returning broker gets its share of the load within seconds.
     */
    public static final long DEFAULT_LEADER_IMBALANCE_CHECK_INTERVAL_MS = 5_000;
    /** Kafka's default: producing to a missing topic creates it, as Kafka clients expect. */
    public static final boolean DEFAULT_AUTO_CREATE_TOPICS_ENABLE = true;
    /** Kafka's default: one partition keeps a new topic totally ordered. */
    public static final int DEFAULT_NUM_PARTITIONS = 1;
    /**
     * Partitions of {@code __consumer_offsets}, where committed offsets live. Fewer than Kafka's 50:
     * a group's coordinator is its partition's leader, and a small cluster needs little spreading,
     * while each partition costs open files. Fixed once the topic exists.
     */
    public static final int DEFAULT_OFFSETS_TOPIC_NUM_PARTITIONS = 8;
    /** Kafka's default: the first member of an empty group waits this long for others, so they share one rebalance. */
    public static final long DEFAULT_GROUP_INITIAL_REBALANCE_DELAY_MS = 3_000;
    /** Kafka's default: the shortest session timeout a member may ask for. */
    public static final long DEFAULT_GROUP_MIN_SESSION_TIMEOUT_MS = 6_000;
    /** Kafka's default: the longest session timeout a member may ask for. */
    public static final long DEFAULT_GROUP_MAX_SESSION_TIMEOUT_MS = 1_800_000;
    /** Confluent REST Proxy's default: an HTTP consumer instance idle this long is deleted. */
    public static final long DEFAULT_CONSUMER_INSTANCE_TIMEOUT_MS = 300_000;
    /** Kafka's default: old segments are deleted; compaction is chosen per topic. */
    public static final String DEFAULT_LOG_CLEANUP_POLICY = "delete";

    /** Kafka's broker key for each topic default, mapped to the LogConfig (topic) key it sets. */
    public static final Map<String, String> TOPIC_DEFAULT_KEYS = orderedMap(
            "log.segment.bytes", LogConfig.SEGMENT_BYTES,
            "log.roll.ms", LogConfig.SEGMENT_MS,
            "log.retention.ms", LogConfig.RETENTION_MS,
            "log.retention.bytes", LogConfig.RETENTION_BYTES,
            "log.cleanup.policy", LogConfig.CLEANUP_POLICY,
            "message.max.bytes", LogConfig.MAX_MESSAGE_BYTES,
            "log.message.timestamp.type", LogConfig.MESSAGE_TIMESTAMP_TYPE,
            "log.cleaner.delete.retention.ms", LogConfig.DELETE_RETENTION_MS,
            "log.cleaner.min.compaction.lag.ms", LogConfig.MIN_COMPACTION_LAG_MS,
            "log.flush.interval.messages", LogConfig.FLUSH_MESSAGES,
            "log.flush.interval.ms", LogConfig.FLUSH_MS,
            "log.index.interval.bytes", LogConfig.INDEX_INTERVAL_BYTES,
            "log.index.size.max.bytes", LogConfig.SEGMENT_INDEX_BYTES,
            "log.segment.delete.delay.ms", LogConfig.FILE_DELETE_DELAY_MS,
            "min.insync.replicas", LogConfig.MIN_INSYNC_REPLICAS);

    /** Every key with its built-in default, in the order {@link #effective()} lists them. */
    private static final Map<String, String> DEFAULTS = orderedMap(
            BROKER_ID, String.valueOf(DEFAULT_BROKER_ID),
            DATA_DIR, DEFAULT_DATA_DIR,
            LISTENERS_HOST, DEFAULT_LISTENERS_HOST,
            KAFKA_PORT, String.valueOf(DEFAULT_KAFKA_PORT),
            REGISTRY_PORT, String.valueOf(DEFAULT_REGISTRY_PORT),
            HTTP_PORT, String.valueOf(DEFAULT_HTTP_PORT),
            BRIDGE_PORT, String.valueOf(DEFAULT_BRIDGE_PORT),
            CLUSTER_ENABLED, String.valueOf(DEFAULT_CLUSTER_ENABLED),
            CLUSTER_PORT, String.valueOf(DEFAULT_CLUSTER_PORT),
            CLUSTER_MEMBERS, DEFAULT_CLUSTER_MEMBERS,
            CLUSTER_SESSION_TIMEOUT_MS, String.valueOf(DEFAULT_CLUSTER_SESSION_TIMEOUT_MS),
            ADVERTISED_HOST, DEFAULT_ADVERTISED_HOST,
            DEFAULT_REPLICATION_FACTOR, String.valueOf(DEFAULT_DEFAULT_REPLICATION_FACTOR),
            REPLICA_LAG_TIME_MAX_MS, String.valueOf(DEFAULT_REPLICA_LAG_TIME_MAX_MS),
            UNCLEAN_LEADER_ELECTION_ENABLE, String.valueOf(DEFAULT_UNCLEAN_LEADER_ELECTION_ENABLE),
            LEADER_IMBALANCE_CHECK_INTERVAL_MS, String.valueOf(DEFAULT_LEADER_IMBALANCE_CHECK_INTERVAL_MS),
            AUTO_CREATE_TOPICS_ENABLE, String.valueOf(DEFAULT_AUTO_CREATE_TOPICS_ENABLE),
            NUM_PARTITIONS, String.valueOf(DEFAULT_NUM_PARTITIONS),
            OFFSETS_TOPIC_NUM_PARTITIONS, String.valueOf(DEFAULT_OFFSETS_TOPIC_NUM_PARTITIONS),
            GROUP_INITIAL_REBALANCE_DELAY_MS, String.valueOf(DEFAULT_GROUP_INITIAL_REBALANCE_DELAY_MS),
            GROUP_MIN_SESSION_TIMEOUT_MS, String.valueOf(DEFAULT_GROUP_MIN_SESSION_TIMEOUT_MS),
            GROUP_MAX_SESSION_TIMEOUT_MS, String.valueOf(DEFAULT_GROUP_MAX_SESSION_TIMEOUT_MS),
            CONSUMER_INSTANCE_TIMEOUT_MS, String.valueOf(DEFAULT_CONSUMER_INSTANCE_TIMEOUT_MS),
            "log.segment.bytes", String.valueOf(LogConfig.DEFAULT_SEGMENT_BYTES),
            "log.roll.ms", String.valueOf(LogConfig.DEFAULT_SEGMENT_MS),
            "log.retention.ms", String.valueOf(LogConfig.DEFAULT_RETENTION_MS),
            "log.retention.bytes", String.valueOf(LogConfig.DEFAULT_RETENTION_BYTES),
            "log.cleanup.policy", DEFAULT_LOG_CLEANUP_POLICY,
            "message.max.bytes", String.valueOf(LogConfig.DEFAULT_MAX_MESSAGE_BYTES),
            "log.message.timestamp.type", LogConfig.TimestampType.CREATE_TIME.configName,
            "log.cleaner.delete.retention.ms", String.valueOf(LogConfig.DEFAULT_DELETE_RETENTION_MS),
            "log.cleaner.min.compaction.lag.ms", String.valueOf(LogConfig.DEFAULT_MIN_COMPACTION_LAG_MS),
            "log.flush.interval.messages", String.valueOf(LogConfig.DEFAULT_FLUSH_MESSAGES),
            "log.flush.interval.ms", String.valueOf(LogConfig.DEFAULT_FLUSH_MS),
            "log.index.interval.bytes", String.valueOf(LogConfig.DEFAULT_INDEX_INTERVAL_BYTES),
            "log.index.size.max.bytes", String.valueOf(LogConfig.DEFAULT_SEGMENT_INDEX_BYTES),
            "log.segment.delete.delay.ms", String.valueOf(LogConfig.DEFAULT_FILE_DELETE_DELAY_MS),
            "min.insync.replicas", String.valueOf(LogConfig.DEFAULT_MIN_INSYNC_REPLICAS));

    /** Every key this class understands. */
    public static final Set<String> KEYS = Collections.unmodifiableSet(DEFAULTS.keySet());

    public final int brokerId;
    public final Path dataDir;
    public final String listenersHost;
    /** Each port is 0..65535; 0 means "bind any free port" (tests use it). */
    public final int kafkaPort;
    public final int registryPort;
    public final int httpPort;
    public final int bridgePort;
    public final boolean clusterEnabled;
    public final int clusterPort;
    /** Members to contact when joining, each {@code host:port} with a port 1..65535; may be empty. */
    public final List<String> clusterMembers;
    public final long clusterSessionTimeoutMs;
    /** The host clients are told to reach this broker at (advertised.host, else listeners.host). */
    public final String advertisedHost;
    public final int defaultReplicationFactor;
    public final long replicaLagTimeMaxMs;
    public final boolean uncleanLeaderElectionEnable;
    public final long leaderImbalanceCheckIntervalMs;
    public final boolean autoCreateTopicsEnable;
    public final int numPartitions;
    public final int offsetsTopicNumPartitions;
    public final long groupInitialRebalanceDelayMs;
    public final long groupMinSessionTimeoutMs;
    public final long groupMaxSessionTimeoutMs;
    public final long consumerInstanceTimeoutMs;

    private final Map<String, String> effective;
    private final LogConfig topicDefaults;

    /** A value and where it came from, for error messages. */
    private record Setting(String value, String source) {
    }

    private BrokerConfig(Map<String, Setting> settings) {
        this.brokerId = (int) number(settings, BROKER_ID, 0, Integer.MAX_VALUE);
        this.dataDir = path(settings, DATA_DIR);
        this.listenersHost = nonBlank(settings, LISTENERS_HOST);
        this.kafkaPort = port(settings, KAFKA_PORT);
        this.registryPort = port(settings, REGISTRY_PORT);
        this.httpPort = port(settings, HTTP_PORT);
        this.bridgePort = port(settings, BRIDGE_PORT);
        this.clusterEnabled = bool(settings, CLUSTER_ENABLED);
        this.clusterPort = port(settings, CLUSTER_PORT);
        this.clusterMembers = members(settings, CLUSTER_MEMBERS);
        this.clusterSessionTimeoutMs = number(settings, CLUSTER_SESSION_TIMEOUT_MS, 1_000, 3_600_000);
        String advertised = settings.get(ADVERTISED_HOST).value().trim();
        this.advertisedHost = advertised.isEmpty() ? listenersHost : advertised;
        this.defaultReplicationFactor = (int) number(settings, DEFAULT_REPLICATION_FACTOR, 1, 1_000);
        this.replicaLagTimeMaxMs = number(settings, REPLICA_LAG_TIME_MAX_MS, 100, Integer.MAX_VALUE);
        this.uncleanLeaderElectionEnable = bool(settings, UNCLEAN_LEADER_ELECTION_ENABLE);
        this.leaderImbalanceCheckIntervalMs = number(settings, LEADER_IMBALANCE_CHECK_INTERVAL_MS, 100,
                Integer.MAX_VALUE);
        this.autoCreateTopicsEnable = bool(settings, AUTO_CREATE_TOPICS_ENABLE);
        this.numPartitions = (int) number(settings, NUM_PARTITIONS, 1, Integer.MAX_VALUE);
        this.offsetsTopicNumPartitions = (int) number(settings, OFFSETS_TOPIC_NUM_PARTITIONS, 1, 1000);
        this.groupInitialRebalanceDelayMs = number(settings, GROUP_INITIAL_REBALANCE_DELAY_MS, 0, Integer.MAX_VALUE);
        this.groupMinSessionTimeoutMs = number(settings, GROUP_MIN_SESSION_TIMEOUT_MS, 1, Integer.MAX_VALUE);
        this.groupMaxSessionTimeoutMs = number(settings, GROUP_MAX_SESSION_TIMEOUT_MS, 1, Integer.MAX_VALUE);
        if (groupMaxSessionTimeoutMs < groupMinSessionTimeoutMs) {
            throw new ConfigException(GROUP_MAX_SESSION_TIMEOUT_MS, settings.get(GROUP_MAX_SESSION_TIMEOUT_MS).value(),
                    "must be at least " + GROUP_MIN_SESSION_TIMEOUT_MS + " (" + groupMinSessionTimeoutMs + ")");
        }
        this.consumerInstanceTimeoutMs = number(settings, CONSUMER_INSTANCE_TIMEOUT_MS, 1, Long.MAX_VALUE);
        this.topicDefaults = topicDefaults(settings);
        Map<String, String> values = new LinkedHashMap<>();
        settings.forEach((key, setting) -> values.put(key, setting.value()));
        this.effective = Collections.unmodifiableMap(values);
    }

    /**
     * Merges defaults, the properties file, {@code env} and {@code args} and validates the result.
     *
     * @param args              command-line arguments, each {@code --key=value} or {@code --cluster}
     * @param env               the environment (only {@code RUNNEL_} variables naming a key are read)
     * @param defaultConfigFile read if it exists and no other file is named; may be null
     * @throws ConfigException for an unknown key in the file or on the command line, a bad value,
     *                         a malformed argument, or a named file that cannot be read
     */
    public static BrokerConfig load(List<String> args, Map<String, String> env, Path defaultConfigFile) {
        Map<String, Setting> commandLine = parseArgs(args);
        Map<String, Setting> settings = new LinkedHashMap<>();
        DEFAULTS.forEach((key, value) -> settings.put(key, new Setting(value, "built-in default")));

        String envConfigVar = ENV_PREFIX + CONFIG.toUpperCase(Locale.ROOT);
        Setting namedFile = commandLine.remove(CONFIG);
        if (namedFile == null && env.get(envConfigVar) != null) {
            namedFile = new Setting(env.get(envConfigVar).trim(), "environment variable " + envConfigVar);
        }
        if (namedFile != null) {
            Path file = path(CONFIG, namedFile);
            if (!Files.isRegularFile(file)) {
                throw new ConfigException(CONFIG, namedFile.value(), "no such file (" + namedFile.source() + ")");
            }
            settings.putAll(readFile(file));
        } else if (defaultConfigFile != null && Files.isRegularFile(defaultConfigFile)) {
            settings.putAll(readFile(defaultConfigFile));
        }

        for (String key : KEYS) {
            String variable = envVariable(key);
            String value = env.get(variable);
            if (value != null) {
                settings.put(key, new Setting(value.trim(), "environment variable " + variable));
            }
        }
        settings.putAll(commandLine);
        return new BrokerConfig(settings);
    }

    /** The environment variable that sets {@code key}: {@code data.dir} is {@code RUNNEL_DATA_DIR}. */
    public static String envVariable(String key) {
        return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('.', '_');
    }

    /** Every key with its effective value, in a fixed order, for logging at start. */
    public Map<String, String> effective() {
        return effective;
    }

    /** The log settings every topic starts from: the broker's {@code log.*} keys as topic config. */
    public LogConfig topicDefaults() {
        return topicDefaults;
    }

    /** A topic's log settings: {@link #topicDefaults()} overlaid with the topic's own (Kafka topic config names). */
    public LogConfig topicConfig(Map<String, String> topicOverrides) {
        return topicConfig(topicOverrides, Set.of());
    }

    /** As {@link #topicConfig(Map)}, letting through keys other layers own (see {@link LogConfig#fromMap(Map, Set)}). */
    public LogConfig topicConfig(Map<String, String> topicOverrides, Set<String> passThroughKeys) {
        Map<String, String> merged = new LinkedHashMap<>(topicDefaults.originals());
        merged.putAll(topicOverrides);
        return LogConfig.fromMap(merged, passThroughKeys);
    }

    private static Map<String, Setting> parseArgs(List<String> args) {
        Map<String, Setting> settings = new LinkedHashMap<>();
        for (String arg : args) {
            if (arg.equals("--cluster")) {
                settings.put(CLUSTER_ENABLED, new Setting("true", "command line --cluster"));
                continue;
            }
            int eq = arg.indexOf('=');
            if (!arg.startsWith("--") || eq < 0) {
                throw new ConfigException(arg, null, "expected --key=value or --cluster (command line)");
            }
            String key = arg.substring(2, eq);
            String value = arg.substring(eq + 1).trim();
            if (!KEYS.contains(key) && !key.equals(CONFIG)) {
                throw new ConfigException(key, value, "unknown broker config (command line)");
            }
            settings.put(key, new Setting(value, "command line"));
        }
        return settings;
    }

    private static Map<String, Setting> readFile(Path file) {
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            properties.load(reader);
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigException(CONFIG, file.toString(), "cannot read the file: " + e.getMessage());
        }
        String source = "file " + file;
        Map<String, Setting> settings = new LinkedHashMap<>();
        for (String key : properties.stringPropertyNames()) {
            String value = properties.getProperty(key).trim();
            if (!KEYS.contains(key)) {
                throw new ConfigException(key, value, "unknown broker config (" + source + ")");
            }
            settings.put(key, new Setting(value, source));
        }
        return settings;
    }

    private static long number(Map<String, Setting> settings, String key, long min, long max) {
        Setting s = settings.get(key);
        long v;
        try {
            v = Long.parseLong(s.value());
        } catch (NumberFormatException e) {
            throw invalid(key, s, "expected a whole number");
        }
        if (v < min || v > max) {
            throw invalid(key, s, "must be " + min + ".." + max);
        }
        return v;
    }

    private static int port(Map<String, Setting> settings, String key) {
        return (int) number(settings, key, 0, 65535);
    }

    private static boolean bool(Map<String, Setting> settings, String key) {
        Setting s = settings.get(key);
        return switch (s.value().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw invalid(key, s, "expected true or false");
        };
    }

    private static String nonBlank(Map<String, Setting> settings, String key) {
        Setting s = settings.get(key);
        if (s.value().isEmpty()) {
            throw invalid(key, s, "a value is required");
        }
        return s.value();
    }

    private static Path path(Map<String, Setting> settings, String key) {
        nonBlank(settings, key);
        return path(key, settings.get(key));
    }

    private static Path path(String key, Setting s) {
        try {
            return Path.of(s.value());
        } catch (InvalidPathException e) {
            throw invalid(key, s, "not a valid path: " + e.getReason());
        }
    }

    /** Parses a comma-separated {@code host:port} list; an empty value is an empty list. */
    private static List<String> members(Map<String, Setting> settings, String key) {
        Setting s = settings.get(key);
        List<String> members = new ArrayList<>();
        if (s.value().isEmpty()) {
            return List.of();
        }
        for (String raw : s.value().split(",", -1)) {
            String member = raw.trim();
            int colon = member.lastIndexOf(':');
            String problem = "each member must be host:port with a port 1..65535, not '" + member + "'";
            if (colon <= 0 || colon == member.length() - 1) {
                throw invalid(key, s, problem);
            }
            try {
                int port = Integer.parseInt(member.substring(colon + 1));
                if (port < 1 || port > 65535) {
                    throw invalid(key, s, problem);
                }
            } catch (NumberFormatException e) {
                throw invalid(key, s, problem);
            }
            members.add(member);
        }
        return List.copyOf(members);
    }

    /** Validates the log.* keys through LogConfig's rules; an error names the broker key and its source. */
    private static LogConfig topicDefaults(Map<String, Setting> settings) {
        Map<String, String> topicValues = new LinkedHashMap<>();
        TOPIC_DEFAULT_KEYS.forEach((brokerKey, topicKey) -> topicValues.put(topicKey, settings.get(brokerKey).value()));
        try {
            return LogConfig.fromMap(topicValues);
        } catch (ConfigException e) {
            String brokerKey = brokerKeyFor(e.key());
            Setting s = settings.get(brokerKey);
            // LogConfig's message begins with the same "Invalid value ... for configuration key: " prefix; keep its rule.
            String prefix = new ConfigException(e.key(), s.value(), "").getMessage();
            String rule = e.getMessage().startsWith(prefix) ? e.getMessage().substring(prefix.length()) : e.getMessage();
            throw invalid(brokerKey, s, rule + ", as topic config " + e.key());
        }
    }

    private static String brokerKeyFor(String topicKey) {
        for (Map.Entry<String, String> e : TOPIC_DEFAULT_KEYS.entrySet()) {
            if (e.getValue().equals(topicKey)) {
                return e.getKey();
            }
        }
        throw new IllegalStateException("no broker key for topic config " + topicKey);
    }

    private static ConfigException invalid(String key, Setting s, String rule) {
        return new ConfigException(key, s.value(), rule + " (" + s.source() + ")");
    }

    private static Map<String, String> orderedMap(String... keysAndValues) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return Collections.unmodifiableMap(map);
    }

    @Override
    public String toString() {
        return "BrokerConfig" + effective;
    }
}

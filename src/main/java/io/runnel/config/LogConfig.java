package io.runnel.config;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The per-partition log settings, typed and validated: Kafka's topic config names and Kafka's
 * defaults, so a topic moved from Kafka behaves the same.
 *
 * <p>Invariants: every field holds a validated value (sizes positive where Kafka requires it,
 * -1 meaning "unbounded" only where Kafka allows it); instances are immutable and thread-safe.
 * {@link #fromMap} rejects an unknown key or a bad value with a {@link ConfigException} naming it.
 */
public final class LogConfig {

    public static final String SEGMENT_BYTES = "segment.bytes";
    public static final String SEGMENT_MS = "segment.ms";
    public static final String RETENTION_MS = "retention.ms";
    public static final String RETENTION_BYTES = "retention.bytes";
    public static final String CLEANUP_POLICY = "cleanup.policy";
    public static final String MAX_MESSAGE_BYTES = "max.message.bytes";
    public static final String MESSAGE_TIMESTAMP_TYPE = "message.timestamp.type";
    public static final String DELETE_RETENTION_MS = "delete.retention.ms";
    public static final String MIN_COMPACTION_LAG_MS = "min.compaction.lag.ms";
    public static final String FLUSH_MESSAGES = "flush.messages";
    public static final String FLUSH_MS = "flush.ms";
    public static final String INDEX_INTERVAL_BYTES = "index.interval.bytes";
    public static final String SEGMENT_INDEX_BYTES = "segment.index.bytes";
    public static final String FILE_DELETE_DELAY_MS = "file.delete.delay.ms";
    public static final String MIN_INSYNC_REPLICAS = "min.insync.replicas";
    /** Confluent Server's name: every record's value must be registered Avro of its subject. */
    public static final String VALUE_SCHEMA_VALIDATION = "confluent.value.schema.validation";
    /** Confluent Server's name: every record's key must be registered Avro of its subject. */
    public static final String KEY_SCHEMA_VALIDATION = "confluent.key.schema.validation";
    /** Confluent Server's name: how a value's subject is named ({@link SubjectNameStrategy}). */
    public static final String VALUE_SUBJECT_NAME_STRATEGY = "confluent.value.subject.name.strategy";
    /** Confluent Server's name: how a key's subject is named ({@link SubjectNameStrategy}). */
    public static final String KEY_SUBJECT_NAME_STRATEGY = "confluent.key.subject.name.strategy";

    /** Kafka's default: 1 GiB segments keep file counts low while retention stays fine-grained. */
    public static final int DEFAULT_SEGMENT_BYTES = 1024 * 1024 * 1024;
    /** Kafka's default: a week, so a quiet topic still rolls and can age out. */
    public static final long DEFAULT_SEGMENT_MS = 7L * 24 * 60 * 60 * 1000;
    /** Kafka's default: a week of history. */
    public static final long DEFAULT_RETENTION_MS = 7L * 24 * 60 * 60 * 1000;
    /** Kafka's default: no size bound; time retention governs. */
    public static final long DEFAULT_RETENTION_BYTES = -1;
    /** Kafka's default: 1 MiB of records plus the batch overhead (12 + 61 bytes, rounded as Kafka does). */
    public static final int DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024 + 12;
    /** Kafka's default: tombstones stay a day so slow consumers still see deletions. */
    public static final long DEFAULT_DELETE_RETENTION_MS = 24L * 60 * 60 * 1000;
    /** Kafka's default: a record may be compacted as soon as it is in a closed segment. */
    public static final long DEFAULT_MIN_COMPACTION_LAG_MS = 0;
    /** Kafka's default: flushing is left to the OS; durability comes from the broker's policy. */
    public static final long DEFAULT_FLUSH_MESSAGES = Long.MAX_VALUE;
    /** Kafka's default, for the same reason as {@link #DEFAULT_FLUSH_MESSAGES}. */
    public static final long DEFAULT_FLUSH_MS = Long.MAX_VALUE;
    /** Kafka's default: one index entry per 4 KiB bounds a lookup's scan to about one page. */
    public static final int DEFAULT_INDEX_INTERVAL_BYTES = 4096;
    /** Kafka's default: 10 MiB of index is ~1.3M entries, far more than a 1 GiB segment needs. */
    public static final int DEFAULT_SEGMENT_INDEX_BYTES = 10 * 1024 * 1024;
    /** Kafka's default: a minute for in-flight reads of a deleted segment to finish. */
    public static final long DEFAULT_FILE_DELETE_DELAY_MS = 60_000;
    /** Kafka's default: a single node acknowledges alone. */
    public static final int DEFAULT_MIN_INSYNC_REPLICAS = 1;

    /**
     * Confluent Server's default: validation is opt-in per topic, since it refuses every record a
     * schema-unaware producer writes and costs a decode per record.
     */
    public static final boolean DEFAULT_SCHEMA_VALIDATION = false;
    /** Confluent's default: the subject is the topic's ({@code {topic}-value}), as its serializers register it. */
    public static final SubjectNameStrategy DEFAULT_SUBJECT_NAME_STRATEGY = SubjectNameStrategy.TOPIC_NAME;

    /** Kafka's floor for segment.bytes: a segment must hold at least one batch header and more. */
    public static final int MIN_SEGMENT_BYTES = 14;
    /** Kafka's floor for segment.index.bytes: room for at least one entry of each index. */
    public static final int MIN_SEGMENT_INDEX_BYTES = 12;

    /** How records' timestamps are set, as in Kafka. */
    public enum TimestampType {
        CREATE_TIME("CreateTime"), LOG_APPEND_TIME("LogAppendTime");

        public final String configName;

        TimestampType(String configName) {
            this.configName = configName;
        }

        static TimestampType parse(String key, String value) {
            for (TimestampType t : values()) {
                if (t.configName.equals(value)) {
                    return t;
                }
            }
            throw new ConfigException(key, value, "expected CreateTime or LogAppendTime");
        }
    }

    public final int segmentBytes;
    public final long segmentMs;
    public final long retentionMs;
    public final long retentionBytes;
    public final boolean cleanupDelete;
    public final boolean cleanupCompact;
    public final int maxMessageBytes;
    public final TimestampType timestampType;
    public final long deleteRetentionMs;
    public final long minCompactionLagMs;
    public final long flushMessages;
    public final long flushMs;
    public final int indexIntervalBytes;
    public final int segmentIndexBytes;
    public final long fileDeleteDelayMs;
    public final int minInsyncReplicas;
    public final boolean valueSchemaValidation;
    public final boolean keySchemaValidation;
    public final SubjectNameStrategy valueSubjectNameStrategy;
    public final SubjectNameStrategy keySubjectNameStrategy;

    private final Map<String, String> originals;

    private LogConfig(Map<String, String> values) {
        this.originals = Map.copyOf(values);
        this.segmentBytes = intAtLeast(values, SEGMENT_BYTES, DEFAULT_SEGMENT_BYTES, MIN_SEGMENT_BYTES);
        this.segmentMs = longAtLeast(values, SEGMENT_MS, DEFAULT_SEGMENT_MS, 1);
        this.retentionMs = longAtLeast(values, RETENTION_MS, DEFAULT_RETENTION_MS, -1);
        this.retentionBytes = longAtLeast(values, RETENTION_BYTES, DEFAULT_RETENTION_BYTES, -1);
        String policy = values.getOrDefault(CLEANUP_POLICY, "delete");
        boolean delete = false;
        boolean compact = false;
        for (String part : policy.split(",")) {
            switch (part.trim().toLowerCase(Locale.ROOT)) {
                case "delete" -> delete = true;
                case "compact" -> compact = true;
                default -> throw new ConfigException(CLEANUP_POLICY, policy, "expected delete, compact or compact,delete");
            }
        }
        this.cleanupDelete = delete;
        this.cleanupCompact = compact;
        this.maxMessageBytes = intAtLeast(values, MAX_MESSAGE_BYTES, DEFAULT_MAX_MESSAGE_BYTES, 0);
        this.timestampType = TimestampType.parse(MESSAGE_TIMESTAMP_TYPE,
                values.getOrDefault(MESSAGE_TIMESTAMP_TYPE, TimestampType.CREATE_TIME.configName));
        this.deleteRetentionMs = longAtLeast(values, DELETE_RETENTION_MS, DEFAULT_DELETE_RETENTION_MS, 0);
        this.minCompactionLagMs = longAtLeast(values, MIN_COMPACTION_LAG_MS, DEFAULT_MIN_COMPACTION_LAG_MS, 0);
        this.flushMessages = longAtLeast(values, FLUSH_MESSAGES, DEFAULT_FLUSH_MESSAGES, 1);
        this.flushMs = longAtLeast(values, FLUSH_MS, DEFAULT_FLUSH_MS, 0);
        this.indexIntervalBytes = intAtLeast(values, INDEX_INTERVAL_BYTES, DEFAULT_INDEX_INTERVAL_BYTES, 0);
        this.segmentIndexBytes = intAtLeast(values, SEGMENT_INDEX_BYTES, DEFAULT_SEGMENT_INDEX_BYTES, MIN_SEGMENT_INDEX_BYTES);
        this.fileDeleteDelayMs = longAtLeast(values, FILE_DELETE_DELAY_MS, DEFAULT_FILE_DELETE_DELAY_MS, 0);
        this.minInsyncReplicas = intAtLeast(values, MIN_INSYNC_REPLICAS, DEFAULT_MIN_INSYNC_REPLICAS, 1);
        this.valueSchemaValidation = bool(values, VALUE_SCHEMA_VALIDATION, DEFAULT_SCHEMA_VALIDATION);
        this.keySchemaValidation = bool(values, KEY_SCHEMA_VALIDATION, DEFAULT_SCHEMA_VALIDATION);
        this.valueSubjectNameStrategy = strategy(values, VALUE_SUBJECT_NAME_STRATEGY);
        this.keySubjectNameStrategy = strategy(values, KEY_SUBJECT_NAME_STRATEGY);
    }

    /** Whether records of a topic with this config must pass schema validation (key, value or both). */
    public boolean schemaValidation() {
        return valueSchemaValidation || keySchemaValidation;
    }

    /** The default configuration. */
    public static LogConfig defaults() {
        return new LogConfig(Map.of());
    }

    /**
     * Builds a configuration from Kafka topic config names. Keys the log does not know are
     * refused unless they are in {@code passThroughKeys} (settings other layers own, such as
     * schema validation), so a typo never silently does nothing.
     */
    public static LogConfig fromMap(Map<String, String> values, Set<String> passThroughKeys) {
        Map<String, String> known = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : values.entrySet()) {
            String key = Objects.requireNonNull(e.getKey(), "config key");
            if (e.getValue() == null) {
                throw new ConfigException(key, null, "a value is required");
            }
            if (KEYS.contains(key)) {
                known.put(key, e.getValue().trim());
            } else if (!passThroughKeys.contains(key)) {
                throw new ConfigException(key, e.getValue(), "unknown topic config");
            }
        }
        return new LogConfig(known);
    }

    public static LogConfig fromMap(Map<String, String> values) {
        return fromMap(values, Set.of());
    }

    /** A copy with some keys changed; the result is validated like {@link #fromMap}. */
    public LogConfig with(Map<String, String> overrides) {
        Map<String, String> merged = new LinkedHashMap<>(originals);
        merged.putAll(overrides);
        return fromMap(merged);
    }

    public LogConfig with(String key, Object value) {
        return with(Map.of(key, String.valueOf(value)));
    }

    /** The explicitly set values (not the defaults). */
    public Map<String, String> originals() {
        return originals;
    }

    /** Every log config name this class understands. */
    public static final Set<String> KEYS = Set.of(SEGMENT_BYTES, SEGMENT_MS, RETENTION_MS, RETENTION_BYTES,
            CLEANUP_POLICY, MAX_MESSAGE_BYTES, MESSAGE_TIMESTAMP_TYPE, DELETE_RETENTION_MS, MIN_COMPACTION_LAG_MS,
            FLUSH_MESSAGES, FLUSH_MS, INDEX_INTERVAL_BYTES, SEGMENT_INDEX_BYTES, FILE_DELETE_DELAY_MS,
            MIN_INSYNC_REPLICAS, VALUE_SCHEMA_VALIDATION, KEY_SCHEMA_VALIDATION, VALUE_SUBJECT_NAME_STRATEGY,
            KEY_SUBJECT_NAME_STRATEGY);

    /** Kafka's boolean configs: {@code true} or {@code false}, any case. */
    private static boolean bool(Map<String, String> values, String key, boolean def) {
        String raw = values.get(key);
        if (raw == null) {
            return def;
        }
        return switch (raw.trim().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new ConfigException(key, raw, "expected true or false");
        };
    }

    private static SubjectNameStrategy strategy(Map<String, String> values, String key) {
        String raw = values.get(key);
        return raw == null ? DEFAULT_SUBJECT_NAME_STRATEGY : SubjectNameStrategy.parse(key, raw);
    }

    private static long longAtLeast(Map<String, String> values, String key, long def, long min) {
        String raw = values.get(key);
        if (raw == null) {
            return def;
        }
        long v;
        try {
            v = Long.parseLong(raw.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException(key, raw, "expected a whole number");
        }
        if (v < min) {
            throw new ConfigException(key, raw, "must be at least " + min);
        }
        return v;
    }

    private static int intAtLeast(Map<String, String> values, String key, int def, int min) {
        long v = longAtLeast(values, key, def, min);
        if (v > Integer.MAX_VALUE) {
            throw new ConfigException(key, values.get(key), "must be at most " + Integer.MAX_VALUE);
        }
        return (int) v;
    }

    @Override
    public String toString() {
        return "LogConfig" + originals;
    }
}

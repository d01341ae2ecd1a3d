package io.runnel.broker;

import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

import io.runnel.config.LogConfig;

/**
 * A topic's effective configuration as Kafka's DescribeConfigs shows it: every topic config the
 * broker knows, by Kafka's name, with the value in force (the override, else the default) written
 * as Kafka writes it ({@code cleanup.policy} {@code compact,delete}, unbounded sizes and times as
 * -1 or {@link Long#MAX_VALUE}). Stateless.
 */
public final class TopicConfigs {

    private TopicConfigs() {
    }

    /**
     * The effective values of {@code config}, sorted by name. An override LogConfig does not model
     * (a setting another layer owns) is shown as set, so nothing a user set is hidden.
     */
    public static SortedMap<String, String> effective(LogConfig config, Map<String, String> overrides) {
        SortedMap<String, String> out = new TreeMap<>();
        out.put(LogConfig.SEGMENT_BYTES, Integer.toString(config.segmentBytes));
        out.put(LogConfig.SEGMENT_MS, Long.toString(config.segmentMs));
        out.put(LogConfig.RETENTION_MS, Long.toString(config.retentionMs));
        out.put(LogConfig.RETENTION_BYTES, Long.toString(config.retentionBytes));
        out.put(LogConfig.CLEANUP_POLICY, cleanupPolicy(config));
        out.put(LogConfig.MAX_MESSAGE_BYTES, Integer.toString(config.maxMessageBytes));
        out.put(LogConfig.MESSAGE_TIMESTAMP_TYPE, config.timestampType.configName);
        out.put(LogConfig.DELETE_RETENTION_MS, Long.toString(config.deleteRetentionMs));
        out.put(LogConfig.MIN_COMPACTION_LAG_MS, Long.toString(config.minCompactionLagMs));
        out.put(LogConfig.FLUSH_MESSAGES, Long.toString(config.flushMessages));
        out.put(LogConfig.FLUSH_MS, Long.toString(config.flushMs));
        out.put(LogConfig.INDEX_INTERVAL_BYTES, Integer.toString(config.indexIntervalBytes));
        out.put(LogConfig.SEGMENT_INDEX_BYTES, Integer.toString(config.segmentIndexBytes));
        out.put(LogConfig.FILE_DELETE_DELAY_MS, Long.toString(config.fileDeleteDelayMs));
        out.put(LogConfig.MIN_INSYNC_REPLICAS, Integer.toString(config.minInsyncReplicas));
        out.put(LogConfig.VALUE_SCHEMA_VALIDATION, Boolean.toString(config.valueSchemaValidation));
        out.put(LogConfig.KEY_SCHEMA_VALIDATION, Boolean.toString(config.keySchemaValidation));
        out.put(LogConfig.VALUE_SUBJECT_NAME_STRATEGY, config.valueSubjectNameStrategy.className());
        out.put(LogConfig.KEY_SUBJECT_NAME_STRATEGY, config.keySubjectNameStrategy.className());
        overrides.forEach(out::putIfAbsent);
        return out;
    }

    private static String cleanupPolicy(LogConfig config) {
        if (config.cleanupCompact && config.cleanupDelete) {
            return "compact,delete";
        }
        return config.cleanupCompact ? "compact" : "delete";
    }
}

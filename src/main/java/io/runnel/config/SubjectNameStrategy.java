package io.runnel.config;

import java.util.Locale;

/**
 * How a record's subject in the schema registry is named from its topic and schema: Confluent's
 * three subject name strategies, by their class names, so a topic config written for Confluent
 * Server ({@code confluent.value.subject.name.strategy}) means the same here. Immutable.
 *
 * <ul>
 *   <li>{@link #TOPIC_NAME}: {@code {topic}-key} / {@code {topic}-value}; one schema lineage per
 *       topic (the default, as in Confluent's serializers).</li>
 *   <li>{@link #RECORD_NAME}: the fully qualified name of the record's schema; one lineage per
 *       record type, shared by every topic that carries it.</li>
 *   <li>{@link #TOPIC_RECORD_NAME}: {@code {topic}-{fully qualified name}}; several record types
 *       in one topic, each with its own lineage.</li>
 * </ul>
 */
public enum SubjectNameStrategy {
    TOPIC_NAME("TopicNameStrategy"),
    RECORD_NAME("RecordNameStrategy"),
    TOPIC_RECORD_NAME("TopicRecordNameStrategy");

    /** The package of Confluent's strategy classes; a config may name a strategy with or without it. */
    public static final String CONFLUENT_PACKAGE = "io.confluent.kafka.serializers.subject.";

    /** The strategy's simple class name in Confluent's serializers. */
    public final String simpleName;

    SubjectNameStrategy(String simpleName) {
        this.simpleName = simpleName;
    }

    /** The name Confluent Server shows for this strategy: its full class name. */
    public String className() {
        return CONFLUENT_PACKAGE + simpleName;
    }

    /** Whether the subject depends on the schema's record name (so the schema must be a named type). */
    public boolean needsRecordName() {
        return this != TOPIC_NAME;
    }

    /**
     * The subject of a key ({@code isKey}) or value of {@code topic} whose schema's full name is
     * {@code recordName} (ignored by {@link #TOPIC_NAME}, required by the others).
     */
    public String subject(String topic, boolean isKey, String recordName) {
        return switch (this) {
            case TOPIC_NAME -> topic + (isKey ? "-key" : "-value");
            case RECORD_NAME -> requireName(recordName);
            case TOPIC_RECORD_NAME -> topic + "-" + requireName(recordName);
        };
    }

    private String requireName(String recordName) {
        if (recordName == null || recordName.isEmpty()) {
            throw new IllegalArgumentException(simpleName + " needs the schema's record name");
        }
        return recordName;
    }

    /** The strategy {@code value} names (simple or full class name, case as Confluent writes it). */
    static SubjectNameStrategy parse(String key, String value) {
        String name = value.trim();
        if (name.startsWith(CONFLUENT_PACKAGE)) {
            name = name.substring(CONFLUENT_PACKAGE.length());
        }
        for (SubjectNameStrategy s : values()) {
            if (s.simpleName.toLowerCase(Locale.ROOT).equals(name.toLowerCase(Locale.ROOT))) {
                return s;
            }
        }
        throw new ConfigException(key, value, "expected TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy"
                + " (optionally with the package " + CONFLUENT_PACKAGE + ")");
    }
}

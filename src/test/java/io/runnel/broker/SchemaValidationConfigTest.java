package io.runnel.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import org.junit.jupiter.api.Test;

import io.runnel.config.ConfigException;
import io.runnel.config.LogConfig;
import io.runnel.config.SubjectNameStrategy;

/**
 * The schema validation topic configs, by Confluent Server's names: off by default, subjects by
 * TopicNameStrategy, strategies accepted by simple or full class name, bad values refused with
 * the key named, and every one shown among the effective configs.
 */
class SchemaValidationConfigTest {

    @Test
    void validationIsOffAndSubjectsAreTopicNamedByDefault() {
        LogConfig config = LogConfig.defaults();

        assertThat(config.valueSchemaValidation).isFalse();
        assertThat(config.keySchemaValidation).isFalse();
        assertThat(config.schemaValidation()).isFalse();
        assertThat(config.valueSubjectNameStrategy).isEqualTo(SubjectNameStrategy.TOPIC_NAME);
        assertThat(config.keySubjectNameStrategy).isEqualTo(SubjectNameStrategy.TOPIC_NAME);
    }

    @Test
    void strategiesAreAcceptedBySimpleOrConfluentClassName() {
        LogConfig config = LogConfig.fromMap(Map.of(
                LogConfig.VALUE_SCHEMA_VALIDATION, "TRUE",
                LogConfig.VALUE_SUBJECT_NAME_STRATEGY, "io.confluent.kafka.serializers.subject.RecordNameStrategy",
                LogConfig.KEY_SUBJECT_NAME_STRATEGY, "TopicRecordNameStrategy"));

        assertThat(config.valueSchemaValidation).isTrue();
        assertThat(config.schemaValidation()).isTrue();
        assertThat(config.valueSubjectNameStrategy).isEqualTo(SubjectNameStrategy.RECORD_NAME);
        assertThat(config.keySubjectNameStrategy).isEqualTo(SubjectNameStrategy.TOPIC_RECORD_NAME);
    }

    @Test
    void badValuesAreRefusedNamingTheKey() {
        assertThatThrownBy(() -> LogConfig.fromMap(Map.of(LogConfig.KEY_SCHEMA_VALIDATION, "yes")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(LogConfig.KEY_SCHEMA_VALIDATION).hasMessageContaining("true or false");
        assertThatThrownBy(() -> LogConfig.fromMap(Map.of(LogConfig.VALUE_SUBJECT_NAME_STRATEGY, "com.example.Mine")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(LogConfig.VALUE_SUBJECT_NAME_STRATEGY).hasMessageContaining("TopicNameStrategy");
        assertThatThrownBy(() -> LogConfig.fromMap(Map.of("confluent.value.schema.validaton", "true")))
                .as("a misspelt key is still refused").isInstanceOf(ConfigException.class);
    }

    @Test
    void subjectsAreNamedAsConfluentsSerializersNameThem() {
        assertThat(SubjectNameStrategy.TOPIC_NAME.subject("orders", false, "com.acme.Order")).isEqualTo("orders-value");
        assertThat(SubjectNameStrategy.TOPIC_NAME.subject("orders", true, null)).isEqualTo("orders-key");
        assertThat(SubjectNameStrategy.RECORD_NAME.subject("orders", false, "com.acme.Order")).isEqualTo("com.acme.Order");
        assertThat(SubjectNameStrategy.TOPIC_RECORD_NAME.subject("orders", true, "com.acme.Id"))
                .isEqualTo("orders-com.acme.Id");
    }

    @Test
    void effectiveConfigsShowEveryValidationSetting() {
        Map<String, String> overrides = Map.of(LogConfig.VALUE_SCHEMA_VALIDATION, "true",
                LogConfig.VALUE_SUBJECT_NAME_STRATEGY, "RecordNameStrategy");

        Map<String, String> effective = TopicConfigs.effective(LogConfig.fromMap(overrides), overrides);

        assertThat(effective)
                .containsEntry(LogConfig.VALUE_SCHEMA_VALIDATION, "true")
                .containsEntry(LogConfig.KEY_SCHEMA_VALIDATION, "false")
                .containsEntry(LogConfig.VALUE_SUBJECT_NAME_STRATEGY,
                        "io.confluent.kafka.serializers.subject.RecordNameStrategy")
                .containsEntry(LogConfig.KEY_SUBJECT_NAME_STRATEGY,
                        "io.confluent.kafka.serializers.subject.TopicNameStrategy");
    }
}

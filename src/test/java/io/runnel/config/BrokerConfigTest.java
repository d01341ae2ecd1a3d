package io.runnel.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BrokerConfig, as a specification: where each setting comes from (defaults &lt; file &lt; environment
 * &lt; command line), which mistakes are refused and how the refusal names the key and its source,
 * and how the broker's {@code log.*} keys become every topic's defaults. The last tests guard the
 * documented {@code conf/runnel.properties}.
 */
class BrokerConfigTest {

    static final Path REPO_CONFIG_FILE = Path.of("conf/runnel.properties");

    @TempDir
    Path dir;

    Path file(String... lines) throws IOException {
        Path file = dir.resolve("runnel.properties");
        Files.write(file, List.of(lines));
        return file;
    }

    static BrokerConfig load(List<String> args, Map<String, String> env, Path file) {
        return BrokerConfig.load(args, env, file);
    }

    @Test
    void withNoFileNoEnvironmentAndNoArgumentsEveryKeyHasItsDefault() {
        BrokerConfig config = load(List.of(), Map.of(), dir.resolve("absent.properties"));

        assertThat(config.brokerId).isZero();
        assertThat(config.dataDir).isEqualTo(Path.of("./data"));
        assertThat(config.listenersHost).isEqualTo("127.0.0.1");
        assertThat(config.kafkaPort).isEqualTo(9092);
        assertThat(config.registryPort).isEqualTo(8081);
        assertThat(config.httpPort).isEqualTo(8082);
        assertThat(config.bridgePort).isEqualTo(7000);
        assertThat(config.clusterEnabled).isFalse();
        assertThat(config.clusterPort).isEqualTo(5701);
        assertThat(config.clusterMembers).isEmpty();
        assertThat(config.autoCreateTopicsEnable).isTrue();
        assertThat(config.numPartitions).isEqualTo(1);
        assertThat(config.effective()).containsOnlyKeys(BrokerConfig.KEYS);
    }

    @Test
    void theDefaultTopicConfigIsLogConfigsDefault() {
        LogConfig topic = load(List.of(), Map.of(), null).topicDefaults();
        LogConfig expected = LogConfig.defaults();

        assertThat(topic).usingRecursiveComparison().ignoringFields("originals").isEqualTo(expected);
    }

    @Test
    void theFileOverridesDefaults() throws IOException {
        BrokerConfig config = load(List.of(), Map.of(), file("kafka.port=19092", "data.dir=/var/lib/runnel"));

        assertThat(config.kafkaPort).isEqualTo(19092);
        assertThat(config.dataDir).isEqualTo(Path.of("/var/lib/runnel"));
        assertThat(config.httpPort).isEqualTo(8082);
    }

    @Test
    void theEnvironmentOverridesTheFile() throws IOException {
        BrokerConfig config = load(List.of(), Map.of("RUNNEL_KAFKA_PORT", "29092", "RUNNEL_DATA_DIR", "/env/data"),
                file("kafka.port=19092", "http.port=18082"));

        assertThat(config.kafkaPort).isEqualTo(29092);
        assertThat(config.dataDir).isEqualTo(Path.of("/env/data"));
        assertThat(config.httpPort).isEqualTo(18082);
    }

    @Test
    void theCommandLineOverridesTheEnvironment() throws IOException {
        BrokerConfig config = load(List.of("--kafka.port=39092", "--broker.id=2"),
                Map.of("RUNNEL_KAFKA_PORT", "29092", "RUNNEL_BROKER_ID", "1"), file("kafka.port=19092"));

        assertThat(config.kafkaPort).isEqualTo(39092);
        assertThat(config.brokerId).isEqualTo(2);
        assertThat(config.effective()).containsEntry("kafka.port", "39092");
    }

    @Test
    void clusterAloneMeansClusterEnabled() {
        BrokerConfig config = load(List.of("--cluster", "--cluster.members=10.0.0.1:5701, 10.0.0.2:5702"),
                Map.of(), null);

        assertThat(config.clusterEnabled).isTrue();
        assertThat(config.clusterMembers).containsExactly("10.0.0.1:5701", "10.0.0.2:5702");
    }

    @Test
    void configNamesAnotherFileWhichMustExist() throws IOException {
        Path other = file("broker.id=7");

        assertThat(load(List.of("--config=" + other), Map.of(), REPO_CONFIG_FILE).brokerId).isEqualTo(7);
        assertThatThrownBy(() -> load(List.of("--config=" + dir.resolve("missing")), Map.of(), null))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("config").hasMessageContaining("missing").hasMessageContaining("command line");
    }

    @Test
    void anUnknownKeyInTheFileIsRefusedNamingKeyAndFile() throws IOException {
        Path file = file("kafka.prot=9093");

        assertThatThrownBy(() -> load(List.of(), Map.of(), file))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("kafka.prot").hasMessageContaining(file.toString())
                .extracting(e -> ((ConfigException) e).key()).isEqualTo("kafka.prot");
    }

    @Test
    void anUnknownKeyOnTheCommandLineIsRefusedNamingKeyAndSource() {
        assertThatThrownBy(() -> load(List.of("--data.dri=/tmp/x"), Map.of(), null))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("data.dri").hasMessageContaining("command line");
        assertThatThrownBy(() -> load(List.of("server"), Map.of(), null))
                .isInstanceOf(ConfigException.class).hasMessageContaining("--key=value");
    }

    @Test
    void environmentVariablesThatNameNoKeyAreIgnored() {
        BrokerConfig config = load(List.of(),
                Map.of("RUNNEL_HOME", "/opt/runnel", "PATH", "/usr/bin", "KAFKA_PORT", "1"), null);

        assertThat(config.effective()).isEqualTo(load(List.of(), Map.of(), null).effective());
    }

    @Test
    void badValuesAreRefusedNamingKeyValueAndSource() {
        assertThatThrownBy(() -> load(List.of("--http.port=65536"), Map.of(), null))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("http.port").hasMessageContaining("65536").hasMessageContaining("command line");
        assertThatThrownBy(() -> load(List.of(), Map.of("RUNNEL_BROKER_ID", "-1"), null))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("broker.id").hasMessageContaining("RUNNEL_BROKER_ID");
        assertThatThrownBy(() -> load(List.of("--cluster.members=10.0.0.1:5701,10.0.0.2"), Map.of(), null))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("cluster.members").hasMessageContaining("'10.0.0.2'");
        assertThatThrownBy(() -> load(List.of("--cluster.enabled=yes"), Map.of(), null))
                .isInstanceOf(ConfigException.class).hasMessageContaining("cluster.enabled");
    }

    @Test
    void portZeroMeansAnyFreePortAndIsAllowed() {
        assertThat(load(List.of("--kafka.port=0"), Map.of(), null).kafkaPort).isZero();
    }

    @Test
    void brokerLogKeysBecomeTopicDefaults() throws IOException {
        BrokerConfig config = load(List.of("--log.cleanup.policy=compact,delete"),
                Map.of("RUNNEL_LOG_RETENTION_MS", "3600000"),
                file("log.segment.bytes=1048576", "log.segment.delete.delay.ms=0", "message.max.bytes=2000000"));

        LogConfig topic = config.topicDefaults();
        assertThat(topic.segmentBytes).isEqualTo(1048576);
        assertThat(topic.retentionMs).isEqualTo(3_600_000L);
        assertThat(topic.cleanupCompact).isTrue();
        assertThat(topic.cleanupDelete).isTrue();
        assertThat(topic.fileDeleteDelayMs).isZero();
        assertThat(topic.maxMessageBytes).isEqualTo(2_000_000);
    }

    @Test
    void aBadBrokerLogKeyIsRefusedByLogConfigsRulesNamingTheBrokerKey() {
        assertThatThrownBy(() -> load(List.of("--log.segment.bytes=10"), Map.of(), null))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("log.segment.bytes").hasMessageContaining("at least 14")
                .hasMessageContaining("command line")
                .extracting(e -> ((ConfigException) e).key()).isEqualTo("log.segment.bytes");
    }

    @Test
    void aTopicsOwnConfigOverridesTheBrokerDefaults() {
        BrokerConfig config = load(List.of("--log.retention.ms=3600000", "--log.segment.bytes=1048576"), Map.of(), null);

        LogConfig topic = config.topicConfig(Map.of("retention.ms", "-1", "cleanup.policy", "compact"));

        assertThat(topic.retentionMs).isEqualTo(-1);
        assertThat(topic.cleanupCompact).isTrue();
        assertThat(topic.segmentBytes).isEqualTo(1048576);
        assertThatThrownBy(() -> config.topicConfig(Map.of("retention.msec", "1")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("retention.msec");
    }

    @Test
    void theDocumentedFileLoadsAndHoldsExactlyTheDefaults() {
        BrokerConfig fromFile = load(List.of(), Map.of(), REPO_CONFIG_FILE);
        BrokerConfig builtIn = load(List.of(), Map.of(), null);

        assertThat(fromFile.effective()).isEqualTo(builtIn.effective());
    }

    @Test
    void theDocumentedFileListsEveryKey() throws IOException {
        Properties documented = new Properties();
        try (Reader reader = Files.newBufferedReader(REPO_CONFIG_FILE, StandardCharsets.UTF_8)) {
            documented.load(reader);
        }

        assertThat(documented.stringPropertyNames()).containsExactlyInAnyOrderElementsOf(BrokerConfig.KEYS);
    }
}

package io.runnel.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;

import org.apache.kafka.common.errors.InconsistentClusterIdException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BrokerIdentityTest {

    @Test
    void aNewDataDirectoryGetsAClusterIdThatSurvivesRestarts(@TempDir Path dir) throws Exception {
        BrokerIdentity first = BrokerIdentity.loadOrCreate(dir.resolve("data"), 3);
        BrokerIdentity again = BrokerIdentity.loadOrCreate(dir.resolve("data"), 3);

        assertThat(first.brokerId()).isEqualTo(3);
        assertThat(first.clusterId()).hasSize(22); // a Kafka Uuid in base64, as Kafka shows cluster ids
        assertThat(again).isEqualTo(first);
        assertThat(Files.readString(dir.resolve("data/meta.properties"))).contains("cluster.id=" + first.clusterId());
    }

    @Test
    void twoDataDirectoriesAreTwoClusters(@TempDir Path dir) throws Exception {
        assertThat(BrokerIdentity.loadOrCreate(dir.resolve("a"), 0).clusterId())
                .isNotEqualTo(BrokerIdentity.loadOrCreate(dir.resolve("b"), 0).clusterId());
    }

    @Test
    void aDataDirectoryOfAnotherBrokerIsRefused(@TempDir Path dir) throws Exception {
        BrokerIdentity.loadOrCreate(dir, 1);

        assertThatThrownBy(() -> BrokerIdentity.loadOrCreate(dir, 2))
                .isInstanceOf(InconsistentClusterIdException.class)
                .hasMessageContaining("broker.id 1").hasMessageContaining("--broker.id=1");
    }
}

package io.runnel.cluster;

import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/** A test that starts brokers in child JVMs: their data in a temporary directory, every one ended after the test. */
abstract class ClusterTestBase {

    @TempDir
    Path dir;

    BrokerCluster cluster;

    /** Starts {@code size} brokers and waits until all of them run. */
    BrokerCluster startCluster(int size) throws Exception {
        cluster = new BrokerCluster(dir, size);
        cluster.start();
        return cluster;
    }

    @AfterEach
    void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }
}

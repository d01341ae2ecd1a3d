package io.runnel.broker;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Properties;

import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.InconsistentClusterIdException;

/**
 * Who this broker is: its {@code broker.id} and the id of the cluster its data belongs to, as
 * Kafka keeps them in {@code meta.properties} at the top of the data directory.
 *
 * <p>The cluster id is made once, when a data directory is first used (a random Kafka
 * {@link Uuid}, base64 as Kafka writes it), and never changes after: clients (the v3 API's
 * {@code /v3/clusters/{cluster_id}}, Kafka's Metadata) see the same id across restarts. A data
 * directory written by another {@code broker.id} is refused rather than silently adopted, so two
 * brokers can never serve one directory's partitions under different names.
 */
public record BrokerIdentity(int brokerId, String clusterId) {

    static final String FILE = "meta.properties";

    /**
     * Reads {@code dataDir/meta.properties}, writing it first (atomically) if the directory has
     * none. Blocking: call it from a worker or before the event loops serve anything.
     *
     * @throws InconsistentClusterIdException if the directory belongs to another broker id
     */
    public static BrokerIdentity loadOrCreate(Path dataDir, int brokerId) throws IOException {
        Path file = dataDir.resolve(FILE);
        if (Files.exists(file)) {
            Properties props = new Properties();
            try (Reader in = Files.newBufferedReader(file, StandardCharsets.ISO_8859_1)) {
                props.load(in);
            }
            String clusterId = props.getProperty("cluster.id");
            String storedBroker = props.getProperty("broker.id");
            if (clusterId == null || clusterId.isBlank() || storedBroker == null) {
                throw new IOException(file + " lacks cluster.id or broker.id; restore it or move the data directory away");
            }
            if (!storedBroker.trim().equals(Integer.toString(brokerId))) {
                throw new InconsistentClusterIdException("Data directory " + dataDir + " belongs to broker.id "
                        + storedBroker.trim() + ", not " + brokerId + "; start with --broker.id=" + storedBroker.trim()
                        + " or another data.dir");
            }
            return new BrokerIdentity(brokerId, clusterId.trim());
        }
        Files.createDirectories(dataDir);
        BrokerIdentity identity = new BrokerIdentity(brokerId, Uuid.randomUuid().toString());
        Properties props = new Properties();
        props.setProperty("version", "1");
        props.setProperty("cluster.id", identity.clusterId());
        props.setProperty("broker.id", Integer.toString(brokerId));
        Path tmp = dataDir.resolve(FILE + ".tmp");
        try (Writer out = Files.newBufferedWriter(tmp, StandardCharsets.ISO_8859_1)) {
            props.store(out, "Written by Runnel when this data directory was first used; do not edit");
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return identity;
    }
}

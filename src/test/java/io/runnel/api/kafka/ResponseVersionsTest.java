package io.runnel.api.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.requests.AbstractResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.BrokerConfig;
import io.runnel.server.RunnelServer;
import io.runnel.testing.BlockedEventLoopExtension;
import io.runnel.testing.BrokerWarmUp;
import io.vertx.core.Vertx;

/**
 * Every API version the listener advertises is answered, and the answer parses with
 * kafka-clients. A response carrying a field its version lacks cannot be serialized, and the
 * client that asked would wait forever (ListOffsets v1-3 with a leader epoch did exactly that), so
 * each (API, version) pair in {@link SupportedApis} is sent once, as a real client would fill it
 * ({@link SampleRequests}), over a real socket.
 */
@ExtendWith({BrokerWarmUp.class, BlockedEventLoopExtension.class})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ResponseVersionsTest {

    static final String TOPIC = "versions";
    static final int READ_TIMEOUT_MS = 10_000;

    @TempDir
    static Path dataDir;

    RunnelServer server;
    final SampleRequests samples = new SampleRequests(TOPIC, "versions-group");

    @BeforeAll
    void start(Vertx vertx) throws Exception {
        BrokerConfig config = BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0",
                "--data.dir=" + dataDir, "--group.initial.rebalance.delay.ms=0"), Map.of(), dataDir.resolve("none.properties"));
        server = RunnelServer.start(vertx, config).await(30, TimeUnit.SECONDS);
        server.broker().topics().createTopic(TOPIC, 1, Map.of()).await(10, TimeUnit.SECONDS);
        server.broker().topics().createTopic(samples.growingTopic(), 1, Map.of()).await(10, TimeUnit.SECONDS);
    }

    @AfterAll
    void stop() throws Exception {
        server.stop().await(30, TimeUnit.SECONDS);
    }

    /** In API key order, so Produce precedes Fetch and CreateTopics vN precedes DeleteTopics vN. */
    @TestFactory
    Stream<DynamicTest> everyAdvertisedVersionIsAnsweredWithAParsableResponse() {
        List<ApiVersionsResponseData.ApiVersion> ranges = new ArrayList<>(SupportedApis.versions());
        ranges.sort(Comparator.comparingInt(ApiVersionsResponseData.ApiVersion::apiKey));
        List<DynamicTest> tests = new ArrayList<>();
        for (ApiVersionsResponseData.ApiVersion range : ranges) {
            ApiKeys api = ApiKeys.forId(range.apiKey());
            for (short v = range.minVersion(); v <= range.maxVersion(); v++) {
                short version = v;
                tests.add(DynamicTest.dynamicTest(api + " v" + v, () -> answered(api, version)));
            }
        }
        return tests.stream();
    }

    private void answered(ApiKeys api, short version) throws Exception {
        try (KafkaWire wire = new KafkaWire(server.kafkaPort(), READ_TIMEOUT_MS)) {
            AbstractResponse response;
            try {
                response = wire.roundTrip(api, version, samples.request(api, version));
            } catch (java.io.EOFException e) {
                throw new AssertionError("The broker closed the connection instead of answering " + api + " v" + version
                        + " (a response this version cannot carry?)", e);
            }
            assertThat(response.apiKey()).isEqualTo(api);
            // Written back at the same version: a field the version lacks would throw here too.
            assertThat(response.data().size(new org.apache.kafka.common.protocol.ObjectSerializationCache(), version))
                    .isPositive();
            assertThat(response.errorCounts().keySet()).as("errors in %s v%d: %s", api, version, response)
                    .doesNotContain(org.apache.kafka.common.protocol.Errors.UNKNOWN_SERVER_ERROR);
        }
    }
}

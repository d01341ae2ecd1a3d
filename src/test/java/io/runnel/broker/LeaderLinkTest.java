package io.runnel.broker;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import org.apache.kafka.common.message.FetchRequestData;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.protocol.MessageUtil;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.requests.ResponseHeader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.BrokerConfig;
import io.runnel.log.Batches;
import io.runnel.server.RunnelServer;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;

/**
 * A follower's link to its leader's Kafka listener: a fetch goes out as a Kafka Fetch with the
 * follower's broker id as replica id; an answer is matched by correlation id; and every fault (a
 * wrong answer, silence, a closed socket, {@code close()}) fails the outstanding fetch and drops the
 * connection, so the next fetch starts on a fresh one.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LeaderLinkTest {

    /** How the fake leader answers the fetch it is sent. */
    enum Answer { RECORDS, WRONG_CORRELATION_ID, SILENCE, CLOSE }

    Vertx vertx;
    Context context;
    NetClient client;
    NetServer leader;
    final AtomicReference<Answer> answer = new AtomicReference<>(Answer.RECORDS);
    final AtomicInteger connections = new AtomicInteger();
    final List<FetchRequestData> received = new CopyOnWriteArrayList<>();

    @BeforeEach
    void startFakeLeader() throws Exception {
        vertx = Vertx.vertx();
        context = vertx.getOrCreateContext();
        client = vertx.createNetClient();
        leader = vertx.createNetServer().connectHandler(this::serve).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws Exception {
        vertx.close().await(10, TimeUnit.SECONDS);
    }

    @Test
    void aFetchCarriesTheReplicaIdEpochAndOffsetAndReturnsTheLeadersRecords() throws Exception {
        LeaderLink link = onContext(() -> Future.succeededFuture(newLink(leader.actualPort())));

        FetchResponseData response = onContext(() -> link.fetch(fetch(2, 7, 41), 5_000));

        FetchRequestData sent = received.get(0);
        assertThat(sent.replicaId()).isEqualTo(2);
        assertThat(sent.topics().get(0).topic()).isEqualTo("orders");
        assertThat(sent.topics().get(0).partitions().get(0).currentLeaderEpoch()).isEqualTo(7);
        assertThat(sent.topics().get(0).partitions().get(0).fetchOffset()).isEqualTo(41);
        FetchResponseData.PartitionData p = response.responses().get(0).partitions().get(0);
        assertThat(p.highWatermark()).isEqualTo(5);
        assertThat(Batches.records((MemoryRecords) p.records())).extracting(Batches.Rec::value).containsExactly("v0");
    }

    @Test
    void anAnswerToAnotherRequestFailsTheFetchAndTheNextFetchUsesAFreshConnection() throws Exception {
        LeaderLink link = onContext(() -> Future.succeededFuture(newLink(leader.actualPort())));
        answer.set(Answer.WRONG_CORRELATION_ID);

        Throwable failure = failureOf(() -> link.fetch(fetch(2, 7, 0), 5_000));

        assertThat(failure).isInstanceOf(IOException.class).hasMessageContaining("Unexpected answer");
        answer.set(Answer.RECORDS);
        assertThat(onContext(() -> link.fetch(fetch(2, 7, 0), 5_000)).responses()).hasSize(1);
        assertThat(connections).as("the confused connection was dropped").hasValue(2);
    }

    @Test
    void aLeaderThatDoesNotAnswerFailsTheFetchAfterItsTimeout() throws Exception {
        LeaderLink link = onContext(() -> Future.succeededFuture(newLink(leader.actualPort())));
        answer.set(Answer.SILENCE);

        Throwable failure = failureOf(() -> link.fetch(fetch(2, 7, 0), 300));

        assertThat(failure).isInstanceOf(TimeoutException.class);
        answer.set(Answer.RECORDS);
        assertThat(onContext(() -> link.fetch(fetch(2, 7, 0), 5_000)).responses()).hasSize(1);
        assertThat(connections).hasValue(2);
    }

    @Test
    void aLeaderThatClosesTheConnectionFailsTheFetch() throws Exception {
        LeaderLink link = onContext(() -> Future.succeededFuture(newLink(leader.actualPort())));
        answer.set(Answer.CLOSE);

        Throwable failure = failureOf(() -> link.fetch(fetch(2, 7, 0), 30_000));

        assertThat(failure).isInstanceOf(IOException.class).hasMessageContaining("closed the connection");
        answer.set(Answer.RECORDS);
        assertThat(onContext(() -> link.fetch(fetch(2, 7, 0), 5_000)).responses()).hasSize(1);
    }

    @Test
    void closingTheLinkFailsTheOutstandingFetchAndEveryLaterOne() throws Exception {
        LeaderLink link = onContext(() -> Future.succeededFuture(newLink(leader.actualPort())));
        answer.set(Answer.SILENCE);
        Promise<FetchResponseData> outstanding = Promise.promise();
        context.runOnContext(v -> link.fetch(fetch(2, 7, 0), 30_000).onComplete(outstanding));
        waitUntil(() -> received.size() == 1);

        link.close();

        assertThat(failureOf(outstanding::future)).isInstanceOf(IOException.class).hasMessageContaining("closed");
        assertThat(failureOf(() -> link.fetch(fetch(2, 7, 0), 5_000))).isInstanceOf(IOException.class);
    }

    @Test
    void aLeaderThatIsNotThereFailsTheFetch() throws Exception {
        int nobody;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            nobody = s.getLocalPort();
        }
        LeaderLink link = onContext(() -> Future.succeededFuture(newLink(nobody)));

        assertThat(failureOf(() -> link.fetch(fetch(2, 7, 0), 5_000))).isNotNull();
    }

    @Test
    void theKafkaListenerRefusesAReplicaFetchFromABrokerThatHoldsNoReplica(@TempDir Path dataDir) throws Exception {
        BrokerConfig config = BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0",
                "--bridge.port=0", "--data.dir=" + dataDir), Map.of(), dataDir.resolve("none.properties"));
        RunnelServer server = RunnelServer.start(vertx, config).await(30, TimeUnit.SECONDS);
        try {
            server.broker().topics().createTopic("orders", 1, Map.of()).await(10, TimeUnit.SECONDS);
            server.broker().appendBatches("orders", 0, batch(record("k", "v", 1_000)), Partition.Acks.LEADER)
                    .await(10, TimeUnit.SECONDS);
            LeaderLink link = onContext(() -> Future.succeededFuture(newLink(server.kafkaPort())));

            // A single node has no followers: whoever claims to be one must not read past the high watermark.
            FetchResponseData response = onContext(() -> link.fetch(fetch(2, 0, 0), 5_000));

            FetchResponseData.PartitionData p = response.responses().get(0).partitions().get(0);
            assertThat(Errors.forCode(p.errorCode())).isEqualTo(Errors.NOT_LEADER_OR_FOLLOWER);
            assertThat(((MemoryRecords) p.records()).sizeInBytes()).isZero();
        } finally {
            server.stop().await(30, TimeUnit.SECONDS);
        }
    }

    // ---------------------------------------------------------------- helpers

    LeaderLink newLink(int port) {
        return new LeaderLink(vertx, client, "127.0.0.1", port, "leader-link-test");
    }

    static FetchRequestData fetch(int replicaId, int epoch, long offset) {
        return new FetchRequestData().setReplicaId(replicaId).setMaxWaitMs(0).setMinBytes(1).setMaxBytes(1 << 20)
                .setTopics(List.of(new FetchRequestData.FetchTopic().setTopic("orders").setPartitions(List.of(
                        new FetchRequestData.FetchPartition().setPartition(0).setCurrentLeaderEpoch(epoch)
                                .setFetchOffset(offset).setPartitionMaxBytes(1 << 20)))));
    }

    /** Runs {@code action} on the link's context (a link is used from one context) and waits for it. */
    <T> T onContext(Supplier<Future<T>> action) throws Exception {
        Promise<T> done = Promise.promise();
        context.runOnContext(v -> action.get().onComplete(done));
        return done.future().await(20, TimeUnit.SECONDS);
    }

    Throwable failureOf(Supplier<Future<?>> action) throws Exception {
        Promise<Throwable> failed = Promise.promise();
        context.runOnContext(v -> action.get().onComplete(r -> failed.complete(r.failed() ? r.cause() : null)));
        return failed.future().await(20, TimeUnit.SECONDS);
    }

    static void waitUntil(Supplier<Boolean> condition) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        while (!condition.get()) {
            assertThat(System.currentTimeMillis()).as("waited 10 s").isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    /** The fake leader: parses each Fetch and answers it the way {@link #answer} says. */
    void serve(NetSocket socket) {
        connections.incrementAndGet();
        RecordParser parser = RecordParser.newFixed(4);
        boolean[] readingSize = {true};
        parser.handler(chunk -> {
            if (readingSize[0]) {
                readingSize[0] = false;
                parser.fixedSizeMode(chunk.getInt(0));
                return;
            }
            readingSize[0] = true;
            parser.fixedSizeMode(4);
            ByteBuffer buffer = ByteBuffer.wrap(chunk.getBytes());
            RequestHeader header = RequestHeader.parse(buffer);
            FetchRequestData request = new FetchRequestData(new ByteBufferAccessor(buffer), header.apiVersion());
            received.add(request);
            switch (answer.get()) {
                case RECORDS -> socket.write(frame(header.correlationId(), header.apiVersion(), request));
                case WRONG_CORRELATION_ID -> socket.write(frame(header.correlationId() + 100, header.apiVersion(), request));
                case CLOSE -> socket.close();
                case SILENCE -> { }
            }
        });
        socket.handler(parser);
    }

    static Buffer frame(int correlationId, short version, FetchRequestData request) {
        FetchRequestData.FetchPartition asked = request.topics().get(0).partitions().get(0);
        FetchResponseData body = new FetchResponseData().setResponses(List.of(new FetchResponseData.FetchableTopicResponse()
                .setTopic(request.topics().get(0).topic()).setPartitions(List.of(new FetchResponseData.PartitionData()
                        .setPartitionIndex(asked.partition()).setHighWatermark(5).setLastStableOffset(5).setLogStartOffset(0)
                        .setRecords(batch(record("k0", "v0", 1_000)))))));
        ResponseHeader header = new ResponseHeader(correlationId, ApiKeys.FETCH.responseHeaderVersion(version));
        ByteBuffer head = MessageUtil.toByteBufferAccessor(header.data(), header.headerVersion()).buffer();
        ByteBuffer payload = MessageUtil.toByteBufferAccessor(body, version).buffer();
        Buffer out = Buffer.buffer().appendInt(head.remaining() + payload.remaining());
        out.appendBytes(bytes(head)).appendBytes(bytes(payload));
        return out;
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}

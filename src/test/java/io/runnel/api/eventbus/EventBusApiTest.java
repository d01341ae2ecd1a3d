package io.runnel.api.eventbus;

import static io.runnel.api.eventbus.EventBusFixture.await;
import static io.runnel.api.eventbus.EventBusFixture.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * The event bus API in process (requests on the broker's own Vert.x): every address of
 * {@link EventBusAddresses}, and the refusals, each a RECIPIENT_FAILURE with the HTTP API's code.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EventBusApiTest {

    @TempDir
    Path dataDir;

    EventBusFixture bus;

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        // Probes every 200 ms, so the liveness tests take a moment, not ten seconds.
        bus = EventBusFixture.start(vertx, dataDir, new EventBusApi.Settings(
                EventBusApi.Settings.DEFAULT_FETCH_WAIT_MS, EventBusApi.Settings.DEFAULT_FETCH_MAX_BYTES, 200, 1_000), false);
    }

    @AfterEach
    void stop() throws Exception {
        bus.close();
    }

    static JsonObject produceRequest(String topic, String key, String value) {
        return new JsonObject().put("topic", topic).put("key", key).put("value", value);
    }

    // ---------------------------------------------------------------- produce and fetch

    @Test
    void produceAnswersWithPartitionAndOffsetAndFetchReadsTheRecordsBack() throws Exception {
        bus.createTopic("orders", 1);

        JsonObject first = bus.request(EventBusAddresses.PRODUCE, produceRequest("orders", "k1", "first")
                .put("headers", new JsonObject().put("trace", "t-1")));
        JsonObject second = bus.request(EventBusAddresses.PRODUCE, produceRequest("orders", null, "second"));
        assertThat(first).isEqualTo(new JsonObject().put("partition", 0).put("offset", 0L));
        assertThat(second.getLong("offset")).isEqualTo(1L);

        JsonObject fetched = bus.request(EventBusAddresses.FETCH, new JsonObject().put("topic", "orders")
                .put("partition", 0).put("offset", 0));
        JsonArray records = fetched.getJsonArray("records");
        assertThat(records).hasSize(2);
        JsonObject r0 = records.getJsonObject(0);
        assertThat(r0.getString("topic")).isEqualTo("orders");
        assertThat(r0.getLong("offset")).isEqualTo(0L);
        assertThat(r0.getString("key")).isEqualTo("k1");
        assertThat(r0.getString("value")).isEqualTo("first");
        assertThat(r0.getJsonObject("headers")).isEqualTo(new JsonObject().put("trace", "t-1"));
        assertThat(records.getJsonObject(1).getValue("key")).isNull();
        assertThat(fetched.getLong("nextOffset")).isEqualTo(2L);
        assertThat(fetched.getLong("highWatermark")).isEqualTo(2L);
        assertThat(fetched.getLong("logStartOffset")).isEqualTo(0L);
    }

    @Test
    void base64CarriesBytesThatAreNotTextAndTheStringEncodingFlagsThem() throws Exception {
        bus.createTopic("blobs", 1);
        byte[] notUtf8 = {(byte) 0xff, 0, (byte) 0xfe, 7};
        String encoded = Base64.getEncoder().encodeToString(notUtf8);
        bus.request(EventBusAddresses.PRODUCE, new JsonObject().put("topic", "blobs").put("encoding", "base64")
                .put("key", Base64.getEncoder().encodeToString("k".getBytes())).put("value", encoded)
                .put("headers", new JsonObject().put("raw", encoded)));

        JsonObject asBase64 = bus.request(EventBusAddresses.FETCH, new JsonObject().put("topic", "blobs")
                .put("partition", 0).put("offset", 0).put("encoding", "base64")).getJsonArray("records").getJsonObject(0);
        assertThat(Base64.getDecoder().decode(asBase64.getString("value"))).isEqualTo(notUtf8);
        assertThat(asBase64.getString("key")).isEqualTo(Base64.getEncoder().encodeToString("k".getBytes()));
        assertThat(asBase64.containsKey("value_encoding")).isFalse();

        JsonObject asString = bus.request(EventBusAddresses.FETCH, new JsonObject().put("topic", "blobs")
                .put("partition", 0).put("offset", 0)).getJsonArray("records").getJsonObject(0);
        assertThat(asString.getString("key")).isEqualTo("k");
        assertThat(asString.getString("value")).isEqualTo(encoded);
        assertThat(asString.getString("value_encoding")).isEqualTo("base64");
        assertThat(asString.containsKey("key_encoding")).isFalse();
        assertThat(asString.getJsonObject("header_encodings")).isEqualTo(new JsonObject().put("raw", "base64"));
    }

    @Test
    void fetchReturnsAtMostMaxRecordsAndSaysWhereToGoOn() throws Exception {
        bus.createTopic("orders", 1);
        for (int i = 0; i < 5; i++) {
            bus.request(EventBusAddresses.PRODUCE, produceRequest("orders", null, "v" + i));
        }

        JsonObject fetched = bus.request(EventBusAddresses.FETCH, new JsonObject().put("topic", "orders")
                .put("partition", 0).put("offset", 1).put("maxRecords", 2));

        assertThat(fetched.getJsonArray("records")).extracting(r -> ((JsonObject) r).getString("value"))
                .containsExactly("v1", "v2");
        assertThat(fetched.getLong("nextOffset")).isEqualTo(3L);
    }

    @Test
    void aFetchAtTheEndWaitsForTheNextAppend(Vertx vertx) throws Exception {
        bus.createTopic("orders", 1);
        long started = System.nanoTime();
        Future<io.vertx.core.eventbus.Message<JsonObject>> waiting = vertx.eventBus().request(EventBusAddresses.FETCH,
                new JsonObject().put("topic", "orders").put("partition", 0).put("offset", 0).put("maxWaitMs", 10_000));
        Thread.sleep(300);
        assertThat(waiting.isComplete()).as("the fetch still waits").isFalse();

        bus.request(EventBusAddresses.PRODUCE, produceRequest("orders", null, "late"));

        JsonObject fetched = await(waiting).body();
        assertThat(fetched.getJsonArray("records").getJsonObject(0).getString("value")).isEqualTo("late");
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).isLessThan(9_000);
    }

    @Test
    void aFetchWithNothingToReadAnswersEmptyAfterItsWait() throws Exception {
        bus.createTopic("orders", 1);
        JsonObject fetched = bus.request(EventBusAddresses.FETCH, new JsonObject().put("topic", "orders")
                .put("partition", 0).put("offset", 0).put("maxWaitMs", 100));
        assertThat(fetched.getJsonArray("records")).isEmpty();
        assertThat(fetched.getLong("nextOffset")).isEqualTo(0L);
    }

    // ---------------------------------------------------------------- refusals

    record Refused(String address, Object body, int code) {
    }

    @Test
    void everyBadRequestIsRefusedWithTheHttpApisErrorCode() throws Exception {
        bus.createTopic("orders", 1);
        JsonObject fetch = new JsonObject().put("topic", "orders").put("partition", 0).put("offset", 0);
        JsonObject subscribe = new JsonObject().put("topic", "orders").put("address", "runnel.sub.t");
        List<Refused> cases = List.of(
                new Refused(EventBusAddresses.PRODUCE, "not an object", 400),
                new Refused(EventBusAddresses.PRODUCE, new JsonArray().add(1), 400),
                new Refused(EventBusAddresses.PRODUCE, new JsonObject().put("value", "v"), 422),
                new Refused(EventBusAddresses.PRODUCE, new JsonObject().put("topic", 5), 400),
                new Refused(EventBusAddresses.PRODUCE, new JsonObject().put("topic", " "), 422),
                new Refused(EventBusAddresses.PRODUCE, produceRequest("orders", null, "v").put("colour", "red"), 422),
                new Refused(EventBusAddresses.PRODUCE, new JsonObject().put("topic", "orders").put("value", 42), 400),
                new Refused(EventBusAddresses.PRODUCE, produceRequest("orders", null, "%%%").put("encoding", "base64"), 422),
                new Refused(EventBusAddresses.PRODUCE, produceRequest("orders", null, "v").put("encoding", "hex"), 422),
                new Refused(EventBusAddresses.PRODUCE, produceRequest("orders", null, "v").put("partition", -1), 422),
                new Refused(EventBusAddresses.PRODUCE, produceRequest("orders", null, "v").put("partition", 0.5), 422),
                new Refused(EventBusAddresses.PRODUCE, produceRequest("orders", null, "v").put("headers", "h"), 400),
                new Refused(EventBusAddresses.PRODUCE, produceRequest("orders", null, "v").put("partition", 3), 40402),
                new Refused(EventBusAddresses.PRODUCE, produceRequest("nowhere", null, "v"), 40401),
                new Refused(EventBusAddresses.FETCH, fetch.copy().put("maxWaitMs", 60_000), 422),
                new Refused(EventBusAddresses.FETCH, fetch.copy().put("maxRecords", 0), 422),
                new Refused(EventBusAddresses.FETCH, new JsonObject().put("topic", "orders").put("partition", 0), 422),
                new Refused(EventBusAddresses.FETCH, fetch.copy().put("offset", "zero"), 400),
                new Refused(EventBusAddresses.FETCH, fetch.copy().put("offset", 99), 40002),
                new Refused(EventBusAddresses.FETCH, fetch.copy().put("partition", 9), 40402),
                new Refused(EventBusAddresses.FETCH, fetch.copy().put("topic", "nowhere"), 40401),
                new Refused(EventBusAddresses.SUBSCRIBE, subscribe.copy().put("address", "orders-feed"), 422),
                new Refused(EventBusAddresses.SUBSCRIBE, subscribe.copy().put("address", "runnel.sub."), 422),
                new Refused(EventBusAddresses.SUBSCRIBE, subscribe.copy().put("from", "yesterday"), 422),
                new Refused(EventBusAddresses.SUBSCRIBE, subscribe.copy().put("from", true), 400),
                new Refused(EventBusAddresses.SUBSCRIBE, subscribe.copy().put("group", ""), 422),
                new Refused(EventBusAddresses.SUBSCRIBE, subscribe.copy().put("partitions", new JsonArray()), 422),
                new Refused(EventBusAddresses.SUBSCRIBE, subscribe.copy().put("partitions", new JsonArray().add(4)), 40402),
                new Refused(EventBusAddresses.SUBSCRIBE, subscribe.copy().put("topic", "nowhere"), 40401),
                new Refused(EventBusAddresses.SUBSCRIBE, subscribe.copy().put("credit", -1), 422),
                new Refused(EventBusAddresses.UNSUBSCRIBE, new JsonObject().put("address", "runnel.sub.none"), 40403),
                new Refused(EventBusAddresses.CREDIT, new JsonObject().put("address", "runnel.sub.none").put("records", 1), 40403),
                new Refused(EventBusAddresses.CREDIT, new JsonObject().put("address", "runnel.sub.none"), 422),
                new Refused(EventBusAddresses.ACK, new JsonObject().put("address", "runnel.sub.none").put("partition", 0)
                        .put("offset", 0), 40403),
                new Refused(EventBusAddresses.TOPICS_LIST, new JsonObject().put("all", true), 422),
                new Refused(EventBusAddresses.TOPICS_CREATE, new JsonObject().put("topic", "orders"), 40002),
                new Refused(EventBusAddresses.TOPICS_CREATE, new JsonObject().put("topic", "a/b"), 40002),
                new Refused(EventBusAddresses.TOPICS_CREATE, new JsonObject().put("topic", "t").put("partitions", 0), 422),
                new Refused(EventBusAddresses.TOPICS_CREATE, new JsonObject().put("topic", "t")
                        .put("configs", new JsonObject().put("retention.ms", 5)), 400),
                new Refused(EventBusAddresses.TOPICS_CREATE, new JsonObject().put("topic", "t")
                        .put("configs", new JsonObject().put("retention.ms", "soon")), 40002),
                new Refused(EventBusAddresses.TOPICS_DESCRIBE, new JsonObject().put("topic", "nowhere"), 40401),
                new Refused(EventBusAddresses.TOPICS_DELETE, new JsonObject().put("topic", "nowhere"), 40401));

        for (Refused c : cases) {
            ReplyException refusal = bus.refusal(c.address(), c.body());
            assertThat(refusal.failureType()).as("%s %s", c.address(), c.body()).isEqualTo(ReplyFailure.RECIPIENT_FAILURE);
            assertThat(refusal.failureCode()).as("%s %s: %s", c.address(), c.body(), refusal.getMessage())
                    .isEqualTo(c.code());
            assertThat(refusal.getMessage()).as("a message that says why").isNotBlank();
        }
        assertThat(bus.api.subscriptionCount()).as("no refused subscription lingers").isZero();
        assertThat(bus.request(EventBusAddresses.TOPICS_LIST, null).getJsonArray("topics"))
                .as("nothing refused was created").containsExactly("__consumer_offsets", "orders");
    }

    // ---------------------------------------------------------------- batch produce

    static JsonObject batch(String topic, JsonObject... records) {
        return new JsonObject().put("topic", topic).put("records", new JsonArray(List.of((Object[]) records)));
    }

    static JsonObject record(String value) {
        return new JsonObject().put("value", value);
    }

    long logEndOffset(String topic, int partition) throws Exception {
        return await(bus.broker.listOffset(topic, partition, io.runnel.broker.Partition.LATEST_TIMESTAMP));
    }

    List<String> values(String topic, int partition) throws Exception {
        JsonArray records = bus.request(EventBusAddresses.FETCH, new JsonObject().put("topic", topic)
                .put("partition", partition).put("offset", 0).put("maxWaitMs", 0)).getJsonArray("records");
        return records.stream().map(r -> ((JsonObject) r).getString("value")).toList();
    }

    @Test
    void aBatchAnswersEachRecordsOffsetInRequestOrderAndTheRecordsReadBackInOrder() throws Exception {
        bus.createTopic("orders", 2);
        bus.request(EventBusAddresses.PRODUCE, produceRequest("orders", null, "single").put("partition", 1));

        JsonObject answer = bus.request(EventBusAddresses.PRODUCE, batch("orders",
                record("a0").put("partition", 0), record("b1").put("partition", 1), record("c0").put("partition", 0),
                record("d1").put("partition", 1).put("key", "k").put("headers", new JsonObject().put("h", "x")),
                record("e0").put("partition", 0)));

        assertThat(answer.fieldNames()).containsExactly("offsets");
        assertThat(answer.getJsonArray("offsets")).containsExactly(
                new JsonObject().put("partition", 0).put("offset", 0L),
                new JsonObject().put("partition", 1).put("offset", 1L),
                new JsonObject().put("partition", 0).put("offset", 1L),
                new JsonObject().put("partition", 1).put("offset", 2L),
                new JsonObject().put("partition", 0).put("offset", 2L));
        assertThat(values("orders", 0)).containsExactly("a0", "c0", "e0");
        assertThat(values("orders", 1)).containsExactly("single", "b1", "d1");
        JsonObject d1 = bus.request(EventBusAddresses.FETCH, new JsonObject().put("topic", "orders").put("partition", 1)
                .put("offset", 2)).getJsonArray("records").getJsonObject(0);
        assertThat(d1.getString("key")).isEqualTo("k");
        assertThat(d1.getJsonObject("headers")).isEqualTo(new JsonObject().put("h", "x"));
    }

    @Test
    void aBatchLargerThanMaxMessageBytesIsPackedIntoSeveralRecordBatchesAndWrittenWhole() throws Exception {
        await(bus.topics.createTopic("small", 1, java.util.Map.of("max.message.bytes", "400")));
        JsonObject[] records = new JsonObject[12];
        for (int i = 0; i < records.length; i++) {
            records[i] = record(i + "-" + "x".repeat(60));
        }

        JsonArray offsets = bus.request(EventBusAddresses.PRODUCE, batch("small", records)).getJsonArray("offsets");

        assertThat(offsets).hasSize(records.length);
        for (int i = 0; i < records.length; i++) {
            assertThat(offsets.getJsonObject(i).getLong("offset")).as("record %d", i).isEqualTo(i);
        }
        assertThat(values("small", 0)).containsExactlyElementsOf(
                java.util.Arrays.stream(records).map(r -> r.getString("value")).toList());
    }

    @Test
    void aBatchWithOneBadRecordIsRefusedWholeWithTheSingleFormsCodeAndWritesNothing() throws Exception {
        bus.createTopic("orders", 2);
        await(bus.topics.createTopic("small", 2, java.util.Map.of("max.message.bytes", "200")));
        await(bus.topics.createTopic("compacted", 2, java.util.Map.of("cleanup.policy", "compact")));
        JsonObject good = record("fine").put("partition", 0);
        JsonObject keyed = record("fine").put("partition", 0).put("key", "k");
        String big = "x".repeat(500);
        List<RefusedBatch> cases = List.of(
                new RefusedBatch(batch("orders", good, new JsonObject().put("value", 42)), 400, "records[1]"),
                new RefusedBatch(batch("orders", good, good, record("%%%")).put("encoding", "base64"), 422, "records[2]"),
                new RefusedBatch(batch("orders", good, record("v").put("partition", -1)), 422, "records[1]"),
                new RefusedBatch(batch("orders", good, record("v").put("colour", "red")), 422, "records[1]"),
                new RefusedBatch(batch("orders", good, record("v").put("headers", "h")), 400, "records[1]"),
                new RefusedBatch(batch("orders", good).put("value", "v"), 422, "Unknown field"),
                new RefusedBatch(new JsonObject().put("topic", "orders").put("records",
                        new JsonArray().add(good).add("not a record")), 400, "records[1]"),
                new RefusedBatch(batch("orders", good, record("v").put("partition", 3)), 40402, "partition 3"),
                new RefusedBatch(batch("small", good, record(big).put("partition", 1)), 50002, "MESSAGE_TOO_LARGE"),
                new RefusedBatch(batch("compacted", keyed, record("no key").put("partition", 1)), 42206, "INVALID_RECORD"));

        for (RefusedBatch c : cases) {
            ReplyException refusal = bus.refusal(EventBusAddresses.PRODUCE, c.body());
            assertThat(refusal.failureType()).as("%s", c.body()).isEqualTo(ReplyFailure.RECIPIENT_FAILURE);
            assertThat(refusal.failureCode()).as("%s: %s", c.body(), refusal.getMessage()).isEqualTo(c.code());
            assertThat(refusal.getMessage()).as("%s", c.body()).contains(c.says());
        }
        for (String topic : List.of("orders", "small", "compacted")) {
            for (int p = 0; p < 2; p++) {
                assertThat(logEndOffset(topic, p)).as("%s-%d: a refused batch leaves no trace", topic, p).isZero();
            }
        }
        // The same records produced one by one: the good ones are written, as the single form always did.
        bus.request(EventBusAddresses.PRODUCE, produceRequest("small", null, "fine").put("partition", 0));
        assertThat(logEndOffset("small", 0)).isOne();
    }

    @Test
    void aBatchWithoutRecordsOrWithTooManyOrToAnUnknownTopicIsRefused() throws Exception {
        bus.createTopic("orders", 1);
        JsonArray tooMany = new JsonArray();
        for (int i = 0; i <= BusRequests.PRODUCE_BATCH_MAX_RECORDS; i++) {
            tooMany.add(record("v"));
        }
        List<RefusedBatch> cases = List.of(
                new RefusedBatch(batch("orders"), 422, "from 1 to " + BusRequests.PRODUCE_BATCH_MAX_RECORDS),
                new RefusedBatch(new JsonObject().put("topic", "orders").put("records", tooMany), 422,
                        "not " + tooMany.size()),
                new RefusedBatch(new JsonObject().put("topic", "orders").put("records", "v"), 400, "records"),
                new RefusedBatch(new JsonObject().put("records", new JsonArray().add(record("v"))), 422, "topic"),
                new RefusedBatch(batch("nowhere", record("v")), 40401, "nowhere"));
        for (RefusedBatch c : cases) {
            ReplyException refusal = bus.refusal(EventBusAddresses.PRODUCE, c.body());
            assertThat(refusal.failureCode()).as("%s: %s", c.body(), refusal.getMessage()).isEqualTo(c.code());
            assertThat(refusal.getMessage()).contains(c.says());
        }
        assertThat(logEndOffset("orders", 0)).isZero();
        assertThat(bus.request(EventBusAddresses.TOPICS_LIST, null).getJsonArray("topics"))
                .as("a refused batch creates no topic").containsExactly("__consumer_offsets", "orders");
    }

    record RefusedBatch(JsonObject body, int code, String says) {
    }

    // ---------------------------------------------------------------- subscriptions

    JsonObject subscribe(JsonObject request) throws Exception {
        return bus.request(EventBusAddresses.SUBSCRIBE, request);
    }

    @Test
    void aSubscriptionSendsTheRecordsFromItsStartAndThoseAppendedLaterUntilUnsubscribed() throws Exception {
        bus.createTopic("orders", 2);
        bus.request(EventBusAddresses.PRODUCE, produceRequest("orders", null, "before").put("partition", 1));
        EventBusFixture.Inbox inbox = bus.inbox("runnel.sub.orders-1");

        JsonObject reply = subscribe(new JsonObject().put("topic", "orders").put("address", "runnel.sub.orders-1")
                .put("from", "earliest"));

        assertThat(reply.getString("subscription")).isNotBlank();
        assertThat(reply.getString("address")).isEqualTo("runnel.sub.orders-1");
        assertThat(reply.getJsonArray("partitions")).containsExactly(0, 1);
        JsonObject assignment = inbox.next(EventBusAddresses.MESSAGE_ASSIGNMENT);
        assertThat(assignment.getJsonArray("partitions")).hasSize(2);
        JsonObject before = inbox.next(EventBusAddresses.MESSAGE_RECORD);
        assertThat(before.getString("value")).isEqualTo("before");
        assertThat(before.getString("subscription")).isEqualTo(reply.getString("subscription"));

        bus.request(EventBusAddresses.PRODUCE, produceRequest("orders", null, "after").put("partition", 0));
        assertThat(inbox.next(EventBusAddresses.MESSAGE_RECORD).getString("value")).isEqualTo("after");

        JsonObject unsubscribed = bus.request(EventBusAddresses.UNSUBSCRIBE, new JsonObject().put("address", "runnel.sub.orders-1"));
        assertThat(unsubscribed.getLong("recordsSent")).isEqualTo(2L);
        assertThat(bus.api.subscriptionCount()).isZero();
        bus.request(EventBusAddresses.PRODUCE, produceRequest("orders", null, "unseen").put("partition", 0));
        inbox.assertNoRecordFor(300);
    }

    @Test
    void fromLatestSkipsWhatWasThereAndFromAnOffsetOrATimeStartsThere() throws Exception {
        bus.createTopic("orders", 1);
        for (int i = 0; i < 3; i++) {
            bus.request(EventBusAddresses.PRODUCE, produceRequest("orders", null, "old" + i));
        }
        EventBusFixture.Inbox latest = bus.inbox("runnel.sub.latest");
        EventBusFixture.Inbox atOne = bus.inbox("runnel.sub.at-one");
        EventBusFixture.Inbox byTime = bus.inbox("runnel.sub.by-time");
        subscribe(new JsonObject().put("topic", "orders").put("address", "runnel.sub.latest"));
        subscribe(new JsonObject().put("topic", "orders").put("address", "runnel.sub.at-one").put("from", 1));
        subscribe(new JsonObject().put("topic", "orders").put("address", "runnel.sub.by-time").put("from", "timestamp:0"));

        bus.request(EventBusAddresses.PRODUCE, produceRequest("orders", null, "new"));

        assertThat(latest.records(1)).extracting(r -> r.getString("value")).containsExactly("new");
        assertThat(atOne.records(3)).extracting(r -> r.getString("value")).containsExactly("old1", "old2", "new");
        assertThat(byTime.records(4)).extracting(r -> r.getString("value")).containsExactly("old0", "old1", "old2", "new");
    }

    @Test
    void withCreditTheBrokerSendsOnlyWhatWasGranted() throws Exception {
        bus.createTopic("orders", 1);
        EventBusFixture.Inbox inbox = bus.inbox("runnel.sub.slow");
        subscribe(new JsonObject().put("topic", "orders").put("address", "runnel.sub.slow").put("from", "earliest")
                .put("credit", 2));
        for (int i = 0; i < 6; i++) {
            bus.request(EventBusAddresses.PRODUCE, produceRequest("orders", null, "v" + i));
        }

        assertThat(inbox.records(2)).extracting(r -> r.getString("value")).containsExactly("v0", "v1");
        inbox.assertNoRecordFor(300);

        JsonObject granted = bus.request(EventBusAddresses.CREDIT, new JsonObject().put("address", "runnel.sub.slow")
                .put("records", 3));
        assertThat(granted.getLong("credit")).isBetween(0L, 3L);
        assertThat(inbox.records(3)).extracting(r -> r.getString("value")).containsExactly("v2", "v3", "v4");
        inbox.assertNoRecordFor(300);
    }

    @Test
    void aSecondSubscriptionOnAnAddressInUseIsRefused() throws Exception {
        bus.createTopic("orders", 1);
        bus.inbox("runnel.sub.taken");
        subscribe(new JsonObject().put("topic", "orders").put("address", "runnel.sub.taken"));

        ReplyException refusal = bus.refusal(EventBusAddresses.SUBSCRIBE, new JsonObject().put("topic", "orders")
                .put("address", "runnel.sub.taken"));

        assertThat(refusal.failureCode()).isEqualTo(40902);
        assertThat(bus.api.subscriptionCount()).isEqualTo(1);
    }

    static Set<Integer> partitions(JsonObject assignment) {
        Set<Integer> out = new TreeSet<>();
        assignment.getJsonArray("partitions").forEach(p -> out.add(((JsonObject) p).getInteger("partition")));
        return out;
    }

    @Test
    void subscriptionsInOneGroupSplitThePartitionsAndAckedRecordsAreNotSentAgain() throws Exception {
        bus.createTopic("orders", 4);
        EventBusFixture.Inbox a = bus.inbox("runnel.sub.a");
        EventBusFixture.Inbox b = bus.inbox("runnel.sub.b");
        JsonObject group = new JsonObject().put("topic", "orders").put("group", "billing").put("from", "earliest");
        assertThat(subscribe(group.copy().put("address", "runnel.sub.a")).getJsonArray("partitions")).hasSize(4);
        subscribe(group.copy().put("address", "runnel.sub.b"));

        Set<Integer> shareA = waitForShare(a, 2);
        Set<Integer> shareB = waitForShare(b, 2);
        Set<Integer> union = new HashSet<>(shareA);
        union.addAll(shareB);
        assertThat(union).containsExactlyInAnyOrder(0, 1, 2, 3);

        for (int p = 0; p < 4; p++) {
            bus.request(EventBusAddresses.PRODUCE, produceRequest("orders", null, "in " + p).put("partition", p));
        }
        List<JsonObject> toA = a.records(2);
        assertThat(toA).extracting(r -> r.getInteger("partition")).containsExactlyInAnyOrderElementsOf(shareA);
        assertThat(b.records(2)).extracting(r -> r.getInteger("partition")).containsExactlyInAnyOrderElementsOf(shareB);
        for (JsonObject r : toA) {
            bus.request(EventBusAddresses.ACK, new JsonObject().put("address", "runnel.sub.a")
                    .put("partition", r.getInteger("partition")).put("offset", r.getLong("offset")));
        }

        bus.request(EventBusAddresses.UNSUBSCRIBE, new JsonObject().put("address", "runnel.sub.a"));
        bus.request(EventBusAddresses.UNSUBSCRIBE, new JsonObject().put("address", "runnel.sub.b"));
        EventBusFixture.Inbox again = bus.inbox("runnel.sub.again");
        subscribe(group.copy().put("address", "runnel.sub.again"));

        // A's partitions were acked: only B's records (never acked) come again.
        assertThat(again.records(2)).extracting(r -> r.getInteger("partition")).containsExactlyInAnyOrderElementsOf(shareB);
        again.assertNoRecordFor(300);
    }

    private static Set<Integer> waitForShare(EventBusFixture.Inbox inbox, int size) throws Exception {
        while (true) {
            Set<Integer> share = partitions(inbox.next(EventBusAddresses.MESSAGE_ASSIGNMENT));
            if (share.size() == size) {
                return share;
            }
        }
    }

    @Test
    void anAckWithoutAGroupOrForAPartitionNotReadIsAConflict() throws Exception {
        bus.createTopic("orders", 2);
        bus.inbox("runnel.sub.plain");
        bus.inbox("runnel.sub.one");
        subscribe(new JsonObject().put("topic", "orders").put("address", "runnel.sub.plain"));
        subscribe(new JsonObject().put("topic", "orders").put("address", "runnel.sub.one").put("group", "g")
                .put("partitions", new JsonArray().add(0)));

        ReplyException noGroup = bus.refusal(EventBusAddresses.ACK, new JsonObject().put("address", "runnel.sub.plain")
                .put("partition", 0).put("offset", 0));
        ReplyException notRead = bus.refusal(EventBusAddresses.ACK, new JsonObject().put("address", "runnel.sub.one")
                .put("partition", 1).put("offset", 0));

        assertThat(noGroup.failureCode()).isEqualTo(40903);
        assertThat(notRead.failureCode()).isEqualTo(40903);
    }

    @Test
    void aSubscriptionWhoseAddressNobodyConsumesAnyMoreEnds() throws Exception {
        bus.createTopic("orders", 1);
        EventBusFixture.Inbox inbox = bus.inbox("runnel.sub.gone");
        subscribe(new JsonObject().put("topic", "orders").put("address", "runnel.sub.gone"));

        eventually("a silent subscriber is probed", () -> inbox.probes.get() > 0);
        assertThat(bus.api.subscriptionCount()).as("a consumer that answers probes keeps it").isEqualTo(1);
        inbox.answerProbes = false;
        int probed = inbox.probes.get();
        eventually("a probe left unanswered", () -> inbox.probes.get() > probed + 1);
        assertThat(bus.api.subscriptionCount()).as("a consumer that exists but does not answer keeps it").isEqualTo(1);

        inbox.unregister();

        eventually("the subscription ends once no consumer is left", () -> bus.api.subscriptionCount() == 0);
    }

    @Test
    void deletingTheTopicEndsItsSubscriptionsWithTheReason() throws Exception {
        bus.createTopic("doomed", 1);
        EventBusFixture.Inbox inbox = bus.inbox("runnel.sub.doomed");
        subscribe(new JsonObject().put("topic", "doomed").put("address", "runnel.sub.doomed"));

        bus.request(EventBusAddresses.TOPICS_DELETE, new JsonObject().put("topic", "doomed"));

        JsonObject end = inbox.next(EventBusAddresses.MESSAGE_END);
        assertThat(end.getInteger("error_code")).isEqualTo(40401);
        assertThat(end.getString("reason")).contains("doomed");
        eventually("the subscription is gone", () -> bus.api.subscriptionCount() == 0);
    }

    @Test
    void closingTheApiEndsEverySubscriptionAndStopsServing() throws Exception {
        bus.createTopic("orders", 1);
        EventBusFixture.Inbox inbox = bus.inbox("runnel.sub.last");
        subscribe(new JsonObject().put("topic", "orders").put("address", "runnel.sub.last"));

        await(bus.api.close());

        assertThat(inbox.next(EventBusAddresses.MESSAGE_END).getInteger("error_code")).isEqualTo(50003);
        assertThat(bus.api.subscriptionCount()).isZero();
        ReplyException gone = bus.refusal(EventBusAddresses.TOPICS_LIST, new JsonObject());
        assertThat(gone.failureType()).isEqualTo(ReplyFailure.NO_HANDLERS);
    }

    // ---------------------------------------------------------------- admin

    @Test
    void topicsAreCreatedDescribedListedAndDeleted() throws Exception {
        JsonObject created = bus.request(EventBusAddresses.TOPICS_CREATE, new JsonObject().put("topic", "audit")
                .put("partitions", 3).put("configs", new JsonObject().put("retention.ms", "60000")));
        assertThat(created.getString("topic")).isEqualTo("audit");
        assertThat(created.getJsonArray("partitions")).hasSize(3);
        assertThat(created.getJsonObject("configs").getString("retention.ms")).isEqualTo("60000");

        bus.request(EventBusAddresses.PRODUCE, produceRequest("audit", null, "x").put("partition", 2));
        JsonObject described = bus.request(EventBusAddresses.TOPICS_DESCRIBE, new JsonObject().put("topic", "audit"));
        assertThat(described.getJsonArray("partitions").getJsonObject(2))
                .isEqualTo(new JsonObject().put("partition", 2).put("logStartOffset", 0L).put("highWatermark", 1L));
        assertThat(bus.request(EventBusAddresses.TOPICS_CREATE, new JsonObject().put("topic", "defaulted"))
                .getJsonArray("partitions")).as("num.partitions").hasSize(1);
        assertThat(bus.request(EventBusAddresses.TOPICS_LIST, new JsonObject()).getJsonArray("topics"))
                .contains("audit", "defaulted");

        assertThat(bus.request(EventBusAddresses.TOPICS_DELETE, new JsonObject().put("topic", "audit")))
                .isEqualTo(new JsonObject().put("topic", "audit"));
        assertThat(bus.request(EventBusAddresses.TOPICS_LIST, null).getJsonArray("topics")).doesNotContain("audit");
        assertThat(bus.topics.topicNames()).doesNotContain("audit");
    }
}

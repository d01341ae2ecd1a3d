package io.runnel.broker;

import static io.runnel.broker.AvroWire.ORDER;
import static io.runnel.broker.AvroWire.USER;
import static io.runnel.broker.AvroWire.user;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecordBuilder;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.runnel.config.LogConfig;
import io.runnel.registry.SchemaRegistry;
import io.runnel.registry.SchemaRegistry.SchemaRequest;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * The rule of schema validation, record by record, against a registry without a broker: what
 * passes, what is refused, and that a refusal names the record, the part and the reason.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RecordValidatorTest {

    static final LogConfig VALUES = LogConfig.fromMap(Map.of(LogConfig.VALUE_SCHEMA_VALIDATION, "true"));

    SchemaRegistry registry;
    RecordValidator validator;
    int userId;
    int orderId;

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        registry = await(SchemaRegistry.start(vertx, new io.runnel.registry.InMemorySchemaStore()));
        userId = register("users-value", USER);
        orderId = register("orders-value", ORDER);
        validator = new RecordValidator(() -> registry);
    }

    int register(String subject, String schema) throws Exception {
        return await(registry.register(subject, SchemaRequest.avro(schema))).id();
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.await(10, TimeUnit.SECONDS);
    }

    static BrokerService.ProduceRecord value(byte[] value) {
        return new BrokerService.ProduceRecord(null, value, null, null, null);
    }

    static BrokerService.ProduceRecord keyed(byte[] key, byte[] value) {
        return new BrokerService.ProduceRecord(key, value, null, null, null);
    }

    void refusedAs(String topic, LogConfig config, List<BrokerService.ProduceRecord> records, String... parts) {
        assertThatThrownBy(() -> validator.check(topic, config, records))
                .isInstanceOf(InvalidRecordException.class)
                .hasMessageContainingAll(parts)
                .hasMessageContaining("no record of the batch was written");
    }

    @Test
    void aRecordOfTheSubjectsSchemaPasses() {
        assertThatCode(() -> validator.check("users", VALUES, List.of(value(user(userId, "ada", 36)))))
                .doesNotThrowAnyException();
    }

    @Test
    void aTombstonePasses() {
        assertThatCode(() -> validator.check("users", VALUES, List.of(value(null)))).doesNotThrowAnyException();
    }

    @Test
    void rawJsonIsRefusedForItsFirstByte() {
        byte[] json = "{\"name\":\"ada\",\"age\":36}".getBytes(StandardCharsets.UTF_8);
        refusedAs("users", VALUES, List.of(value(json)), "Record 0", "topic 'users'", "its value",
                "starts with byte 0x7b, not the magic byte 0");
    }

    @Test
    void aPayloadShorterThanTheWireHeaderIsRefused() {
        refusedAs("users", VALUES, List.of(value(new byte[] {0, 0, 1})), "Record 0", "is 3 byte(s), too short");
    }

    @Test
    void anUnknownSchemaIdIsRefused() {
        refusedAs("users", VALUES, List.of(value(user(999, "ada", 36))), "names schema id 999, which is not registered");
    }

    @Test
    void anIdRegisteredOnlyUnderAnotherSubjectIsRefused() {
        Schema order = new Schema.Parser().parse(ORDER);
        byte[] anOrder = AvroWire.wire(orderId, order, new GenericRecordBuilder(order).set("id", 7L).set("note", "x").build());

        refusedAs("users", VALUES, List.of(value(anOrder)), "names schema id " + orderId,
                "not registered under subject 'users-value' (TopicNameStrategy)");
    }

    @Test
    void aTruncatedPayloadIsRefused() {
        byte[] whole = user(userId, "ada lovelace", 36);
        refusedAs("users", VALUES, List.of(value(AvroWire.truncated(whole, whole.length - 3))),
                "does not decode with schema id " + userId);
    }

    @Test
    void bytesLeftOverAfterTheDatumAreRefused() {
        byte[] whole = user(userId, "ada", 36);
        byte[] longer = Arrays.copyOf(whole, whole.length + 2);
        refusedAs("users", VALUES, List.of(value(longer)), "has 2 byte(s) left over");
    }

    @Test
    void aLengthLargerThanThePayloadIsRefusedWithoutAllocatingIt() {
        // name's length says 2^30 bytes; Avro checks it against the 3 bytes that follow.
        byte[] header = user(userId, "", 0);
        byte[] hostile = Arrays.copyOf(header, 5 + 5 + 3);
        byte[] varint = {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x08};
        System.arraycopy(varint, 0, hostile, 5, varint.length);
        refusedAs("users", VALUES, List.of(value(hostile)), "does not decode with schema id " + userId);
    }

    @Test
    void theRefusalNamesTheFirstBadRecordOfTheCall() {
        List<BrokerService.ProduceRecord> records = List.of(value(user(userId, "a", 1)), value(null),
                value(user(999, "c", 3)), value("x".getBytes(StandardCharsets.UTF_8)));
        refusedAs("users", VALUES, records, "Record 2 ", "schema id 999");
    }

    @Test
    void keysAreCheckedOnlyWhenKeyValidationIsOn() throws Exception {
        int keyId = register("users-key", "\"string\"");
        byte[] plainKey = "alice".getBytes(StandardCharsets.UTF_8);
        byte[] avroKey = AvroWire.wire(keyId, Schema.create(Schema.Type.STRING), "alice");
        LogConfig both = VALUES.with(LogConfig.KEY_SCHEMA_VALIDATION, true);

        assertThatCode(() -> validator.check("users", VALUES, List.of(keyed(plainKey, user(userId, "a", 1)))))
                .doesNotThrowAnyException();
        assertThatCode(() -> validator.check("users", both, List.of(keyed(avroKey, user(userId, "a", 1)))))
                .doesNotThrowAnyException();
        refusedAs("users", both, List.of(keyed(plainKey, user(userId, "a", 1))), "Record 0", "its key",
                "0x61");
    }

    @Test
    void recordNameStrategiesNameTheSubjectAfterTheSchema() throws Exception {
        int byRecord = register("com.acme.User", USER);
        LogConfig recordName = VALUES.with(LogConfig.VALUE_SUBJECT_NAME_STRATEGY,
                "io.confluent.kafka.serializers.subject.RecordNameStrategy");
        LogConfig topicRecordName = VALUES.with(LogConfig.VALUE_SUBJECT_NAME_STRATEGY, "TopicRecordNameStrategy");

        assertThatCode(() -> validator.check("anything", recordName, List.of(value(user(byRecord, "a", 1)))))
                .doesNotThrowAnyException();
        refusedAs("mixed", topicRecordName, List.of(value(user(byRecord, "a", 1))),
                "not registered under subject 'mixed-com.acme.User' (TopicRecordNameStrategy)");
        register("mixed-com.acme.User", USER);
        assertThatCode(() -> validator.check("mixed", topicRecordName, List.of(value(user(byRecord, "a", 1)))))
                .doesNotThrowAnyException();
        int stringId = register("plain-value", "\"string\"");
        refusedAs("anything", recordName, List.of(value(AvroWire.wire(stringId, Schema.create(Schema.Type.STRING), "s"))),
                "a string schema; RecordNameStrategy needs a named type");
    }

    @Test
    void aSoftDeletedVersionNoLongerValidatesNewRecords() throws Exception {
        byte[] record = user(userId, "a", 1);
        await(registry.deleteVersion("users-value", 1, false));

        refusedAs("users", VALUES, List.of(value(record)), "not registered under subject 'users-value'");
    }

    @Test
    void compressedBatchesAreDecompressedToCheckAndCountedAcrossBatches() {
        MemoryRecords first = batch(Compression.gzip().build(), user(userId, "a", 1), user(userId, "b", 2));
        MemoryRecords second = batch(Compression.gzip().build(), user(userId, "c", 3), user(userId, "d", 4),
                "oops, plain text".getBytes(StandardCharsets.UTF_8));
        ByteBuffer both = ByteBuffer.allocate(first.sizeInBytes() + second.sizeInBytes());
        both.put(first.buffer().duplicate()).put(second.buffer().duplicate()).flip();

        assertThatCode(() -> validator.check("users", VALUES, first)).doesNotThrowAnyException();
        assertThatThrownBy(() -> validator.check("users", VALUES, MemoryRecords.readableRecords(both)))
                .isInstanceOf(InvalidRecordException.class)
                .hasMessageContaining("Record 4 ")
                .hasMessageContaining("0x6f");
    }

    @Test
    void withValidationOffAnythingPasses() {
        byte[] json = "{}".getBytes(StandardCharsets.UTF_8);
        assertThatCode(() -> validator.check("users", LogConfig.defaults(), List.of(value(json))))
                .doesNotThrowAnyException();
    }

    @Test
    void withoutARegistryAValidatingTopicRefusesEverything() {
        RecordValidator noRegistry = new RecordValidator(() -> null);
        assertThatThrownBy(() -> noRegistry.check("users", VALUES, List.of(value(user(userId, "a", 1)))))
                .isInstanceOf(InvalidRecordException.class)
                .hasMessageContaining("has none running");
    }

    static MemoryRecords batch(Compression compression, byte[]... values) {
        MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(4096), compression,
                TimestampType.CREATE_TIME, 0L);
        List<byte[]> all = new ArrayList<>(Arrays.asList(values));
        for (byte[] v : all) {
            b.append(0L, null, v);
        }
        return b.build();
    }
}

package io.runnel.api.ws;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import io.runnel.registry.SchemaRegistry;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

/**
 * Record frames with {@code format=json} on a broker with a schema registry: a value in the schema
 * wire format of a registered Avro schema is shown as its JSON; bytes that only look like the
 * wire format (an unknown id) are shown as before.
 */
@ExtendWith(BlockedEventLoopExtension.class)
class FramesAvroTest {

    static final String USER = "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"},"
            + "{\"name\":\"age\",\"type\":\"int\"}]}";

    static byte[] wireFormat(int id, Schema schema, GenericRecord datum) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0);
        out.write(ByteBuffer.allocate(4).putInt(id).array());
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(schema).write(datum, encoder);
        encoder.flush();
        return out.toByteArray();
    }

    static Record record(byte[] value) {
        MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(1024), Compression.NONE, TimestampType.CREATE_TIME, 0);
        b.append(1_000L, null, value);
        return b.build().records().iterator().next();
    }

    @Test
    void avroValuesOfRegisteredSchemasAreShownAsJson(Vertx vertx) throws Exception {
        SchemaRegistry registry = SchemaRegistry.start(vertx, new io.runnel.registry.InMemorySchemaStore()).await(10, TimeUnit.SECONDS);
        int id = registry.register("users-value", new SchemaRegistry.SchemaRequest("AVRO", USER, null, null, null))
                .await(10, TimeUnit.SECONDS).id();
        Schema schema = new Schema.Parser().parse(USER);
        GenericRecord ada = new GenericData.Record(schema);
        ada.put("name", "ada");
        ada.put("age", 36);

        JsonObject frame = new JsonObject(Frames.record("users", 0, record(wireFormat(id, schema, ada)), Frames.Format.JSON, registry));
        JsonObject unknownId = new JsonObject(Frames.record("users", 0, record(wireFormat(id + 41, schema, ada)), Frames.Format.JSON,
                registry));

        assertThat(frame.getJsonObject("value")).isEqualTo(new JsonObject().put("name", "ada").put("age", 36));
        assertThat(unknownId.getValue("value")).as("not a registered schema's record: shown as bytes")
                .isNotInstanceOf(JsonObject.class);
        registry.close().await(10, TimeUnit.SECONDS);
    }
}

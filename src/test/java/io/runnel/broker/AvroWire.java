package io.runnel.broker;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.generic.GenericRecordBuilder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;


/**
 * What the schema validation tests share: Confluent's schema wire format written by hand (magic
 * byte 0, 4-byte big-endian schema id, Avro binary), since KafkaAvroSerializer is not on Maven
 * Central, and a schema store in memory for a registry without a broker.
 */
public final class AvroWire {

    public static final String USER = """
            {"type":"record","name":"User","namespace":"com.acme","fields":[
              {"name":"name","type":"string"},{"name":"age","type":"int"}]}""";
    public static final String ORDER = """
            {"type":"record","name":"Order","namespace":"com.acme","fields":[
              {"name":"id","type":"long"},{"name":"note","type":"string"}]}""";

    private AvroWire() {
    }

    /** A User in the wire format of schema {@code id}. */
    public static byte[] user(int id, String name, int age) {
        Schema schema = new Schema.Parser().parse(USER);
        GenericRecord r = new GenericRecordBuilder(schema).set("name", name).set("age", age).build();
        return wire(id, schema, r);
    }

    /** {@code datum} of {@code schema} in the wire format of schema {@code id}. */
    public static byte[] wire(int id, Schema schema, Object datum) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0);
        out.writeBytes(ByteBuffer.allocate(4).putInt(id).array());
        try {
            BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
            new GenericDatumWriter<>(schema).write(datum, encoder);
            encoder.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** The first {@code length} bytes of {@code bytes}. */
    public static byte[] truncated(byte[] bytes, int length) {
        return java.util.Arrays.copyOf(bytes, length);
    }
}

package io.runnel.registry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.io.JsonEncoder;

/**
 * Confluent's schema wire format (magic byte 0, a 4-byte big-endian schema id, then the Avro
 * binary payload), read back as JSON for the adapters that show records as JSON (HTTP avro
 * consumers, WebSocket {@code format=json}). Stateless; the registry's id lookup is thread-safe.
 */
public final class WireFormat {

    private WireFormat() {
    }

    /** Whether {@code payload} starts like the wire format (it may still not decode). */
    public static boolean looksLikeWireFormat(byte[] payload) {
        return payload != null && payload.length >= 5 && payload[0] == 0;
    }

    /**
     * The JSON text (Avro's JSON encoding) of a payload in the wire format.
     *
     * @throws IllegalArgumentException saying why it cannot be read: not the wire format, an
     *         unknown id, bytes that do not decode with the schema
     */
    public static String toJson(SchemaRegistry registry, byte[] payload) {
        if (!looksLikeWireFormat(payload)) {
            throw new IllegalArgumentException("it is not in the schema wire format (magic byte 0, then a 4-byte schema id)");
        }
        int id = ByteBuffer.wrap(payload, 1, 4).getInt();
        Schema schema = registry.registeredSchema(id);
        if (schema == null) {
            throw new IllegalArgumentException("its schema id " + id + " is not registered");
        }
        try {
            Object datum = new GenericDatumReader<>(schema)
                    .read(null, DecoderFactory.get().binaryDecoder(payload, 5, payload.length - 5, null));
            ByteArrayOutputStream out = new ByteArrayOutputStream(payload.length * 2);
            JsonEncoder encoder = EncoderFactory.get().jsonEncoder(schema, out);
            new GenericDatumWriter<>(schema).write(datum, encoder);
            encoder.flush();
            return out.toString(StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("it does not decode with schema " + id + ": "
                    + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName()));
        }
    }
}

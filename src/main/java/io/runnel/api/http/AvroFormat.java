package io.runnel.api.http;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;

import io.runnel.broker.BrokerService;
import io.runnel.registry.RegistryException;
import io.runnel.registry.SchemaRegistry;
import io.vertx.core.Future;
import io.vertx.core.json.Json;

/**
 * The v2 API's Avro embedded format ({@code application/vnd.kafka.avro.v2+json}), as Confluent's
 * proxy has it: keys and values travel as JSON in Avro's JSON encoding (a union's branch is
 * named, {@code {"int":25}}) and are stored in the schema wire format — magic byte 0, the 4-byte
 * big-endian schema id, the Avro binary encoding — so Confluent's deserializers read them.
 *
 * <p>Schemas: a request gives each of key and value as text or as an id. Text is registered
 * under the topic's TopicNameStrategy subject ({@code {topic}-key}, {@code {topic}-value}), as
 * Confluent's proxy does, and gets the registry's id (the same schema registered twice keeps its
 * id); an id must be registered. Registry refusals become {@link ErrorCodes#INVALID_SCHEMA}.
 * Reading back ({@link #toJson}) finds the schema by the id in the record.
 *
 * <p>Stateless and thread-safe. Conversions run on the request's event loop: their work is
 * linear in the body, which the API's body limit bounds; registrations run on the registry's
 * context.
 */
final class AvroFormat {

    private AvroFormat() {
    }

    /** A key or value schema, resolved: its id and the parsed schema. */
    record ResolvedSchema(int id, Schema schema) {
    }

    /**
     * Resolves a request's schema for {@code subject}: registers text, looks up an id. Completes
     * with null for a null {@code source}.
     */
    static Future<ResolvedSchema> resolve(SchemaRegistry registry, String subject, ProduceRequest.SchemaSource source) {
        if (source == null) {
            return Future.succeededFuture();
        }
        Future<Integer> id = source.id() != null ? Future.succeededFuture(source.id())
                : registry.registerAvro(subject, source.schema());
        return id.compose(known -> caughtUpWith(registry, known)).transform(done -> {
            if (done.failed()) {
                return Future.failedFuture(schemaFailure(subject, done.cause()));
            }
            Schema schema = registry.registeredSchema(done.result());
            if (schema == null) {
                return Future.failedFuture(new HttpApiException(ErrorCodes.INVALID_SCHEMA, "Invalid schema: schema id "
                        + done.result() + " is not registered"));
            }
            return Future.succeededFuture(new ResolvedSchema(done.result(), schema));
        });
    }

    /**
     * The id, once this broker's registry knows it if it can: in a cluster, a schema registered
     * through another broker a moment ago may not have reached this one's registry yet.
     */
    private static Future<Integer> caughtUpWith(SchemaRegistry registry, int id) {
        if (registry.registeredSchema(id) != null || !registry.isFollowing()) {
            return Future.succeededFuture(id);
        }
        return registry.catchUpUntil(() -> registry.registeredSchema(id) != null, SchemaRegistry.UNKNOWN_SCHEMA_WAIT_MS)
                .transform(x -> Future.succeededFuture(id));
    }

    private static Throwable schemaFailure(String subject, Throwable error) {
        if (error instanceof RegistryException refusal) {
            if (refusal.httpStatus() >= 500) {
                return new HttpApiException(ErrorCodes.KAFKA_RETRIABLE_ERROR, "The schema registry could not register"
                        + " the schema for subject '" + subject + "': " + refusal.getMessage());
            }
            return new HttpApiException(ErrorCodes.INVALID_SCHEMA, "Invalid schema for subject '" + subject + "': "
                    + refusal.getMessage());
        }
        return error;
    }

    /**
     * The request's records with keys and values in the schema wire format.
     *
     * @throws HttpApiException 42203 naming the first key or value that does not fit its schema
     */
    static List<BrokerService.ProduceRecord> encode(List<ProduceRequest.JsonRecord> records, ResolvedSchema key,
                                                    ResolvedSchema value) {
        List<BrokerService.ProduceRecord> out = new ArrayList<>(records.size());
        for (int i = 0; i < records.size(); i++) {
            ProduceRequest.JsonRecord r = records.get(i);
            byte[] k = r.key() == null ? null : wireFormat(key, r.key(), "records[" + i + "].key");
            byte[] v = r.value() == null ? null : wireFormat(value, r.value(), "records[" + i + "].value");
            out.add(new BrokerService.ProduceRecord(k, v, null, r.partition(), null));
        }
        return out;
    }

    /** One JSON datum in the wire format of {@code schema}. */
    static byte[] wireFormat(ResolvedSchema schema, Object json, String where) {
        Object datum;
        try {
            datum = new GenericDatumReader<>(schema.schema())
                    .read(null, DecoderFactory.get().jsonDecoder(schema.schema(), Json.encode(json)));
        } catch (IOException | RuntimeException e) {
            throw new HttpApiException(ErrorCodes.JSON_CONVERSION, "Conversion of JSON to Avro failed: " + where
                    + " does not fit schema " + schema.id() + ": " + (e.getMessage() != null ? e.getMessage()
                    : e.getClass().getSimpleName()));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(64);
        out.write(0);
        out.writeBytes(ByteBuffer.allocate(4).putInt(schema.id()).array());
        try {
            BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
            new GenericDatumWriter<>(schema.schema()).write(datum, encoder);
            encoder.flush();
        } catch (IOException e) {
            throw new IllegalStateException("Writing Avro to memory failed", e);
        }
        return out.toByteArray();
    }
}

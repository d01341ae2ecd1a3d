package io.runnel.broker;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;

import io.runnel.config.LogConfig;
import io.runnel.config.SubjectNameStrategy;
import io.runnel.registry.SchemaRegistry;
import io.vertx.core.Future;

/**
 * Schema validation at the broker's edge (Confluent Server's {@code confluent.value.schema.validation}
 * and {@code confluent.key.schema.validation}), applied by the {@link BrokerService} to every batch
 * before it reaches a partition, whichever way it came in.
 *
 * <h2>Rule</h2>
 * On a topic with validation on for values (keys), every record's value (key) that is not null
 * must be in the schema wire format — magic byte {@value #MAGIC_BYTE}, then a 4-byte big-endian
 * schema id, then the Avro binary encoding of a datum — where the id is registered under the
 * record's subject (a live version; the subject named by the topic's subject name strategy), and
 * the rest decodes with that schema by Avro's {@link GenericDatumReader}, every byte consumed.
 * Null passes: tombstones are how compacted topics delete, and Confluent's serializers write no
 * bytes for null. Confluent Server and Redpanda check only that the id is registered; decoding is
 * where this goes further, so a producer cannot write bytes its consumers will fail on.
 *
 * <h2>Refusal</h2>
 * The first record that breaks the rule refuses the whole batch (every batch of the call) with
 * Kafka's {@link InvalidRecordException} (INVALID_RECORD, 87), whose message names the record's
 * index within the call, key or value, and the reason. Validation runs before anything is
 * appended, so a refused batch leaves no trace in the log.
 *
 * <h2>In a cluster</h2>
 * Each broker's registry follows {@code _schemas}, so a schema registered through another broker
 * reaches this one's view a moment later. A producer that registered a schema and produces at
 * once may get here first; {@link #checkAfterCatchUp} lets the registry catch up (reads of the
 * local replica) for a moment and checks again before refusing.
 *
 * <h2>Cost and threading</h2>
 * No registry round trip per record: schemas come from the registry's concurrent view
 * ({@link SchemaRegistry#registeredSchema}, parsed once when registered), and a
 * {@link GenericDatumReader} is kept per schema id (ids are never reused, so an id's reader stays
 * right while the id is registered). Thread-safe: the readers are safe for concurrent use (Avro
 * keeps their resolving decoders per thread) and the binary decoder is reused per thread. A
 * check runs on the calling thread, i.e. the adapter's connection context, not a partition's
 * (see {@link BrokerService}); its work is linear in the batch's bytes, which
 * {@code max.message.bytes} and the adapters' request limits bound. Avro itself refuses lengths
 * and collection counts larger than the bytes left, so a hostile payload cannot make it allocate
 * more than the payload's size.
 */
public final class RecordValidator {

    /** The first byte of Confluent's schema wire format (its only version so far). */
    public static final byte MAGIC_BYTE = 0;
    /** Magic byte plus schema id: the shortest payload that can carry a schema. */
    public static final int WIRE_HEADER_BYTES = 5;

    private final Supplier<SchemaRegistry> registry;
    private final Map<Integer, GenericDatumReader<Object>> readers = new ConcurrentHashMap<>();
    private final ThreadLocal<BinaryDecoder> decoders = new ThreadLocal<>();

    /** @param registry the broker's schema registry; it may give null until the registry has started */
    public RecordValidator(Supplier<SchemaRegistry> registry) {
        this.registry = registry;
    }

    /**
     * Checks the records of one produce call to {@code topic} (its config {@code config});
     * returns normally when validation is off or every record passes.
     *
     * @throws InvalidRecordException naming the first record that does not pass
     */
    public void check(String topic, LogConfig config, List<BrokerService.ProduceRecord> records) {
        if (!config.schemaValidation()) {
            return;
        }
        SchemaRegistry schemas = schemasFor(topic);
        for (int i = 0; i < records.size(); i++) {
            BrokerService.ProduceRecord r = records.get(i);
            if (config.keySchemaValidation && r.key() != null) {
                check(schemas, topic, config.keySubjectNameStrategy, true, i, r.key(), 0, r.key().length);
            }
            if (config.valueSchemaValidation && r.value() != null) {
                check(schemas, topic, config.valueSubjectNameStrategy, false, i, r.value(), 0, r.value().length);
            }
        }
    }

    /**
     * Runs {@code check} (one of the checks above); if it refuses and the registry follows a log
     * other brokers write, waits (up to {@link SchemaRegistry#UNKNOWN_SCHEMA_WAIT_MS}) for the
     * registry to catch up until the check passes: the refusal may name a schema registered through
     * another broker a moment ago. Otherwise (a single node) the outcome is the check's own, at
     * once. The future completes on any thread.
     */
    public Future<Void> checkAfterCatchUp(Runnable check) {
        RuntimeException refusal = refusal(check);
        SchemaRegistry schemas = registry.get();
        if (refusal == null || schemas == null || !schemas.isFollowing()) {
            return refusal == null ? Future.succeededFuture() : Future.failedFuture(refusal);
        }
        return schemas.catchUpUntil(() -> refusal(check) == null, SchemaRegistry.UNKNOWN_SCHEMA_WAIT_MS)
                .transform(x -> {
                    RuntimeException last = refusal(check);
                    return last == null ? Future.succeededFuture() : Future.failedFuture(last);
                });
    }

    /** What {@code check} throws, or null when it passes. */
    private static RuntimeException refusal(Runnable check) {
        try {
            check.run();
            return null;
        } catch (RuntimeException e) {
            return e;
        }
    }

    /**
     * Checks record batches as a client built them (compressed ones are decompressed to look);
     * records are counted across the batches from 0.
     *
     * @throws InvalidRecordException naming the first record that does not pass
     */
    public void check(String topic, LogConfig config, MemoryRecords batches) {
        if (!config.schemaValidation()) {
            return;
        }
        SchemaRegistry schemas = schemasFor(topic);
        int index = 0;
        for (RecordBatch batch : batches.batches()) {
            for (Record r : batch) {
                if (config.keySchemaValidation && r.hasKey()) {
                    check(schemas, topic, config.keySubjectNameStrategy, true, index, r.key());
                }
                if (config.valueSchemaValidation && r.hasValue()) {
                    check(schemas, topic, config.valueSubjectNameStrategy, false, index, r.value());
                }
                index++;
            }
        }
    }

    private SchemaRegistry schemasFor(String topic) {
        SchemaRegistry schemas = registry.get();
        if (schemas == null) {
            throw new InvalidRecordException("Topic '" + topic + "' validates records against the schema registry,"
                    + " but this broker has none running; no record was written");
        }
        return schemas;
    }

    private void check(SchemaRegistry schemas, String topic, SubjectNameStrategy strategy, boolean isKey, int index,
                       ByteBuffer payload) {
        if (payload.hasArray()) {
            check(schemas, topic, strategy, isKey, index, payload.array(), payload.arrayOffset() + payload.position(),
                    payload.remaining());
        } else {
            byte[] copy = new byte[payload.remaining()];
            payload.duplicate().get(copy);
            check(schemas, topic, strategy, isKey, index, copy, 0, copy.length);
        }
    }

    private void check(SchemaRegistry schemas, String topic, SubjectNameStrategy strategy, boolean isKey, int index,
                       byte[] bytes, int offset, int length) {
        if (length < WIRE_HEADER_BYTES) {
            throw refused(topic, index, isKey, "is " + length + " byte(s), too short for the schema wire format"
                    + " (magic byte 0, then a 4-byte schema id)");
        }
        if (bytes[offset] != MAGIC_BYTE) {
            throw refused(topic, index, isKey, String.format("starts with byte 0x%02x, not the magic byte 0 of the"
                    + " schema wire format", bytes[offset] & 0xff));
        }
        int id = ByteBuffer.wrap(bytes, offset + 1, 4).getInt();
        Schema schema = schemas.registeredSchema(id);
        if (schema == null) {
            readers.remove(id);
            throw refused(topic, index, isKey, "names schema id " + id + ", which is not registered");
        }
        String subject = subjectOf(topic, strategy, isKey, id, schema, index);
        if (!schemas.isLiveUnder(subject, id)) {
            throw refused(topic, index, isKey, "names schema id " + id + ", which is not registered under subject '"
                    + subject + "' (" + strategy.simpleName + ")");
        }
        decode(topic, index, isKey, id, schema, bytes, offset + WIRE_HEADER_BYTES, length - WIRE_HEADER_BYTES);
    }

    private static String subjectOf(String topic, SubjectNameStrategy strategy, boolean isKey, int id, Schema schema,
                                     int index) {
        if (!strategy.needsRecordName()) {
            return strategy.subject(topic, isKey, null);
        }
        boolean named = schema.getType() == Schema.Type.RECORD || schema.getType() == Schema.Type.ENUM
                || schema.getType() == Schema.Type.FIXED;
        if (!named) {
            throw refused(topic, index, isKey, "names schema id " + id + ", a " + schema.getType().getName()
                    + " schema; " + strategy.simpleName + " needs a named type (record, enum or fixed)");
        }
        return strategy.subject(topic, isKey, schema.getFullName());
    }

    private void decode(String topic, int index, boolean isKey, int id, Schema schema, byte[] bytes, int offset,
                        int length) {
        GenericDatumReader<Object> reader = readers.get(id);
        if (reader == null || reader.getSchema() != schema) {
            reader = new GenericDatumReader<>(schema);
            readers.put(id, reader);
        }
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(bytes, offset, length, decoders.get());
        decoders.set(decoder);
        try {
            reader.read(null, decoder);
            if (!decoder.isEnd()) {
                throw refused(topic, index, isKey, "decodes with schema id " + id + " but has "
                        + decoder.remainingBytes() + " byte(s) left over after the datum");
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof InvalidRecordException refusal) {
                throw refusal;
            }
            String why = e instanceof java.io.EOFException ? "the payload ends before the datum does"
                    : e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            throw refused(topic, index, isKey, "does not decode with schema id " + id + ": " + why);
        }
    }

    private static InvalidRecordException refused(String topic, int index, boolean isKey, String reason) {
        return new InvalidRecordException("Record " + index + " refused by schema validation of topic '" + topic
                + "': its " + (isKey ? "key" : "value") + " " + reason + "; no record of the batch was written");
    }
}

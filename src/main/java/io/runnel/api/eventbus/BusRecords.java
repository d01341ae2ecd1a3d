package io.runnel.api.eventbus;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;

import io.runnel.broker.Partition;
import io.vertx.core.json.JsonObject;

/**
 * Turns what a partition read into the JSON records of the event bus contract
 * ({@link EventBusAddresses}, "Keys, values and headers"). Stateless and thread-safe.
 */
final class BusRecords {

    /** The records of one read that a reader asked for, and the offset to read next. */
    record Decoded(List<JsonObject> records, long nextOffset) {
    }

    private BusRecords() {
    }

    /**
     * The records of {@code read} at or after {@code fromOffset}, at most {@code maxRecords};
     * control batches (transaction markers) are skipped, and {@code nextOffset} moves past them.
     */
    static Decoded decode(String topic, int partition, Partition.ReadResult read, long fromOffset, int maxRecords,
                          BusRequests.Encoding encoding) {
        MemoryRecords records;
        try {
            records = read.slice().readRecords();
        } catch (IOException e) {
            throw new KafkaStorageException("Reading " + topic + "-" + partition + " failed", e);
        }
        List<JsonObject> out = new ArrayList<>();
        long next = fromOffset;
        for (RecordBatch batch : records.batches()) {
            if (out.size() >= maxRecords) {
                break;
            }
            if (batch.isControlBatch()) {
                next = Math.max(next, batch.nextOffset());
                continue;
            }
            for (Record r : batch) {
                if (r.offset() < next) {
                    continue;
                }
                if (out.size() >= maxRecords) {
                    break;
                }
                out.add(record(topic, partition, r, encoding));
                next = r.offset() + 1;
            }
        }
        return new Decoded(out, next);
    }

    static JsonObject record(String topic, int partition, Record r, BusRequests.Encoding encoding) {
        JsonObject o = new JsonObject()
                .put("topic", topic)
                .put("partition", partition)
                .put("offset", r.offset())
                .put("timestamp", r.timestamp());
        putBytes(o, "key", "key_encoding", r.hasKey() ? bytes(r.key()) : null, encoding);
        putBytes(o, "value", "value_encoding", r.hasValue() ? bytes(r.value()) : null, encoding);
        JsonObject headers = new JsonObject();
        JsonObject headerEncodings = new JsonObject();
        for (Header h : r.headers()) {
            byte[] value = h.value();
            String text = value == null ? null : encoding == BusRequests.Encoding.STRING ? utf8(value) : null;
            if (value == null || text != null) {
                headers.put(h.key(), text);
                headerEncodings.remove(h.key());
            } else {
                headers.put(h.key(), Base64.getEncoder().encodeToString(value));
                if (encoding == BusRequests.Encoding.STRING) {
                    headerEncodings.put(h.key(), "base64");
                }
            }
        }
        o.put("headers", headers);
        if (!headerEncodings.isEmpty()) {
            o.put("header_encodings", headerEncodings);
        }
        return o;
    }

    private static void putBytes(JsonObject o, String field, String flag, byte[] value, BusRequests.Encoding encoding) {
        if (value == null) {
            o.putNull(field);
            return;
        }
        if (encoding == BusRequests.Encoding.STRING) {
            String text = utf8(value);
            if (text != null) {
                o.put(field, text);
                return;
            }
            o.put(flag, "base64");
        }
        o.put(field, Base64.getEncoder().encodeToString(value));
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] out = new byte[buffer.remaining()];
        buffer.duplicate().get(out);
        return out;
    }

    /** The text, or null when the bytes are not UTF-8 (a lossy decode would corrupt them silently). */
    private static String utf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}

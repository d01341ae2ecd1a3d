package io.runnel.log;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.SimpleRecord;
import org.apache.kafka.common.record.TimestampType;

/** Builds record batches for tests the way a producer would, and reads them back as plain values. */
public final class Batches {

    private Batches() {
    }

    /** A record as tests see it: offset, key, value (null for a tombstone), timestamp. */
    public record Rec(long offset, String key, String value, long timestamp) {
    }

    public static SimpleRecord record(String key, String value, long timestamp) {
        return new SimpleRecord(timestamp, key == null ? null : key.getBytes(StandardCharsets.UTF_8),
                value == null ? null : value.getBytes(StandardCharsets.UTF_8));
    }

    /** One uncompressed batch of the given records. */
    public static MemoryRecords batch(SimpleRecord... records) {
        return batch(Compression.NONE, records);
    }

    public static MemoryRecords batch(Compression compression, SimpleRecord... records) {
        return MemoryRecords.withRecords(RecordBatch.MAGIC_VALUE_V2, 0L, compression, TimestampType.CREATE_TIME, records);
    }

    /** A batch from an idempotent producer. */
    public static MemoryRecords idempotentBatch(long producerId, short epoch, int baseSequence, SimpleRecord... records) {
        return MemoryRecords.withIdempotentRecords(RecordBatch.MAGIC_VALUE_V2, 0L, Compression.NONE, producerId, epoch,
                baseSequence, RecordBatch.NO_PARTITION_LEADER_EPOCH, records);
    }

    /** {@code count} records of {@code valueBytes} bytes each, keyed k0..k(count-1), in one batch. */
    public static MemoryRecords sized(int count, int valueBytes, long timestamp) {
        ByteBuffer buf = ByteBuffer.allocate(count * (valueBytes + 64) + 128);
        MemoryRecordsBuilder b = MemoryRecords.builder(buf, Compression.NONE, TimestampType.CREATE_TIME, 0L);
        byte[] value = new byte[valueBytes];
        for (int i = 0; i < count; i++) {
            b.append(timestamp, ("k" + i).getBytes(StandardCharsets.UTF_8), value);
        }
        return b.build();
    }

    /** Every record in the slice, decompressed. */
    public static List<Rec> records(MemoryRecords records) {
        List<Rec> out = new ArrayList<>();
        for (RecordBatch batch : records.batches()) {
            for (Record r : batch) {
                out.add(new Rec(r.offset(), str(r.key()), str(r.value()),
                        batch.timestampType() == TimestampType.LOG_APPEND_TIME ? batch.maxTimestamp() : r.timestamp()));
            }
        }
        return out;
    }

    /** Every record from {@code from} to the end of the log (up to the log end offset), following the slices. */
    public static List<Rec> readAll(Log log, long from) throws java.io.IOException {
        List<Rec> out = new ArrayList<>();
        long next = Math.max(from, log.logStartOffset());
        while (next < log.logEndOffset()) {
            FetchSlice slice = log.read(next, 1 << 20, log.logEndOffset());
            if (slice.isEmpty()) {
                break;
            }
            for (Rec r : records(slice.readRecords())) {
                if (r.offset() >= next) {
                    out.add(r);
                }
            }
            long last = -1;
            for (RecordBatch b : slice.readRecords().batches()) {
                last = b.lastOffset();
            }
            next = last + 1;
        }
        return out;
    }

    private static String str(ByteBuffer b) {
        if (b == null) {
            return null;
        }
        byte[] bytes = new byte[b.remaining()];
        b.duplicate().get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }
}

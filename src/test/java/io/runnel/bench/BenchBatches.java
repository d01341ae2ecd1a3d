package io.runnel.bench;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Random;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.TimestampType;

/**
 * Record batches for the benchmarks, built the way a producer builds them (kafka-clients'
 * {@link MemoryRecordsBuilder}, format v2, uncompressed, no producer id). Building is not what the
 * benchmarks measure, so batches are built before the measured loop.
 */
final class BenchBatches {

    /** A record's value: 1 KiB, as the targets state. */
    static final int VALUE_BYTES = 1024;
    /** Records per batch: 16 x 1 KiB is a 16 KiB batch, a typical producer batch.size. */
    static final int RECORDS_PER_BATCH = 16;

    private BenchBatches() {
    }

    /** Keys look like {@code key-000042}: 10 bytes, so a key space of up to a million is fixed-width. */
    static byte[] key(int k) {
        return String.format("key-%06d", k).getBytes(StandardCharsets.US_ASCII);
    }

    /** Random, incompressible value bytes (the batches are uncompressed, so content does not matter). */
    static byte[] value(Random random) {
        byte[] v = new byte[VALUE_BYTES];
        random.nextBytes(v);
        return v;
    }

    /**
     * The bytes of one uncompressed batch of {@link #RECORDS_PER_BATCH} records with the given
     * keys (indexes into the key space) and the same value, all timestamped {@code timestampMs}.
     */
    static byte[] batchBytes(int[] keys, byte[] value, long timestampMs) {
        ByteBuffer buf = ByteBuffer.allocate(keys.length * (VALUE_BYTES + 64) + 128);
        MemoryRecordsBuilder b = MemoryRecords.builder(buf, Compression.NONE, TimestampType.CREATE_TIME, 0L);
        for (int k : keys) {
            b.append(timestampMs, key(k), value);
        }
        MemoryRecords records = b.build();
        ByteBuffer out = records.buffer();
        byte[] bytes = new byte[out.remaining()];
        out.get(bytes);
        return bytes;
    }

    /** One batch with keys 0..15: what the append and read benchmarks write over and over. */
    static byte[] sequentialBatchBytes(long timestampMs) {
        int[] keys = new int[RECORDS_PER_BATCH];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = i;
        }
        return batchBytes(keys, value(new Random(1)), timestampMs);
    }
}

package io.runnel.log;

import java.nio.ByteBuffer;

import org.apache.kafka.common.record.RecordBatch;

/**
 * The fixed 61-byte header of a record batch in Kafka's format v2 (magic 2), read without the
 * records behind it. Layout (big-endian): baseOffset int64 @0, batchLength int32 @8 (bytes after
 * this field), partitionLeaderEpoch int32 @12, magic int8 @16, crc uint32 @17 (CRC-32C of
 * attributes..end), attributes int16 @21, lastOffsetDelta int32 @23, baseTimestamp int64 @27,
 * maxTimestamp int64 @35, producerId int64 @43, producerEpoch int16 @51, baseSequence int32 @53,
 * recordsCount int32 @57.
 *
 * <p>Only a view: it checks nothing beyond what {@link #plausible} says. A batch's CRC is checked
 * by kafka-clients' {@code RecordBatch.isValid()} on the full bytes.
 */
record BatchHeader(long baseOffset, int sizeInBytes, byte magic, int lastOffsetDelta, long maxTimestamp,
                   long producerId, short producerEpoch, int baseSequence, int recordCount,
                   int partitionLeaderEpoch) {

    /** Bytes of the header, which is also the smallest possible batch. */
    static final int SIZE = 61;
    /** Bytes before the batchLength field's value starts counting. */
    static final int LOG_OVERHEAD = 12;

    static BatchHeader parse(ByteBuffer buf) {
        int p = buf.position();
        return new BatchHeader(
                buf.getLong(p),
                buf.getInt(p + 8) + LOG_OVERHEAD,
                buf.get(p + 16),
                buf.getInt(p + 23),
                buf.getLong(p + 35),
                buf.getLong(p + 43),
                buf.getShort(p + 51),
                buf.getInt(p + 53),
                buf.getInt(p + 57),
                buf.getInt(p + 12));
    }

    long lastOffset() {
        return baseOffset + lastOffsetDelta;
    }

    long nextOffset() {
        return lastOffset() + 1;
    }

    boolean hasProducerId() {
        return producerId != RecordBatch.NO_PRODUCER_ID;
    }

    int lastSequence() {
        if (baseSequence == RecordBatch.NO_SEQUENCE) {
            return RecordBatch.NO_SEQUENCE;
        }
        return (int) ((baseSequence + (long) lastOffsetDelta) % (1L + Integer.MAX_VALUE));
    }

    /** Whether the header could start a valid v2 batch that fits in {@code remainingBytes}. */
    boolean plausible(int remainingBytes) {
        return magic == RecordBatch.MAGIC_VALUE_V2
                && sizeInBytes >= SIZE
                && sizeInBytes <= remainingBytes
                && lastOffsetDelta >= 0
                && baseOffset >= 0;
    }
}

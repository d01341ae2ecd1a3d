package io.runnel.log;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * The sparse offset index of one segment ({@code <baseOffset>.index}): it maps a batch's base
 * offset to its byte position in the segment's {@code .log} file, one entry per
 * {@code index.interval.bytes} of log.
 *
 * <p>File format: entries of 8 bytes, big-endian: offset relative to the segment's base offset
 * (int32), position (int32). Invariant: each entry names the start of a batch whose base offset is
 * the entry's offset; a lookup for offset o returns a position at or before the batch holding o.
 *
 * <p>Not thread-safe: used only by its segment's owner.
 */
final class OffsetIndex extends SparseIndex {

    static final int ENTRY_BYTES = 8;
    OffsetIndex(Path file, FileChannel channel, long baseOffset, int maxIndexBytes) {
        super(file, channel, baseOffset, maxIndexBytes);
    }

    @Override
    int entryBytes() {
        return ENTRY_BYTES;
    }

    @Override
    void encode(ByteBuffer out, long key, int value) {
        out.putInt((int) key).putInt(value);
    }

    @Override
    long decodeKey(ByteBuffer in) {
        return in.getInt();
    }

    @Override
    int decodeValue(ByteBuffer in) {
        return in.getInt();
    }

    void append(long batchBaseOffset, int position) {
        add(batchBaseOffset - baseOffset, position);
    }

    /** Position to start scanning from to find {@code offset}: that of the last entry at or before it, else 0. */
    int lookup(long offset) {
        int slot = floorSlot(offset - baseOffset);
        return slot < 0 ? 0 : valueAt(slot);
    }

    /** Whether every entry points inside a segment of {@code segmentBytes}. */
    boolean fits(int segmentBytes) {
        return entries() == 0 || lastValue() < segmentBytes;
    }
}

package io.runnel.log;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * The sparse time index of one segment ({@code <baseOffset>.timeindex}): entries of (largest
 * timestamp seen so far in the segment, base offset of the batch that holds it), added when the
 * offset index gets an entry and the largest timestamp has grown.
 *
 * <p>File format: entries of 12 bytes, big-endian: timestamp (int64), offset relative to the
 * segment's base offset (int32). Invariant: timestamps strictly increase, offsets never decrease;
 * every record before an entry's offset has a timestamp at most the entry's timestamp. So a
 * search for the first record at or after time t can start at the offset of the last entry whose
 * timestamp is below t.
 *
 * <p>Not thread-safe: used only by its segment's owner.
 */
final class TimeIndex extends SparseIndex {

    static final int ENTRY_BYTES = 12;
    TimeIndex(Path file, FileChannel channel, long baseOffset, int maxIndexBytes) {
        super(file, channel, baseOffset, maxIndexBytes);
    }

    @Override
    int entryBytes() {
        return ENTRY_BYTES;
    }

    @Override
    void encode(ByteBuffer out, long key, int value) {
        out.putLong(key).putInt(value);
    }

    @Override
    long decodeKey(ByteBuffer in) {
        return in.getLong();
    }

    @Override
    int decodeValue(ByteBuffer in) {
        return in.getInt();
    }

    /** Records that the segment's largest timestamp grew to {@code timestamp} at the batch starting at {@code offset}. */
    void maybeAppend(long timestamp, long offset) {
        if (timestamp > lastKey() && !isFull()) {
            add(timestamp, (int) (offset - baseOffset));
        }
    }

    /** The offset to start a search for {@code timestamp} from: that of the last entry below it, else the base. */
    long lookupStartOffset(long timestamp) {
        int slot = floorSlot(timestamp - 1);
        return slot < 0 ? baseOffset : baseOffset + valueAt(slot);
    }

    /** Whether every entry points at an offset below {@code nextOffset}. */
    boolean fits(long nextOffset) {
        return entries() == 0 || baseOffset + lastValue() < nextOffset;
    }
}

package io.runnel.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A sparse, sorted index of (key, value) entries kept in memory and persisted to its own file,
 * the common part of {@link OffsetIndex} and {@link TimeIndex}.
 *
 * <p>Invariants: keys strictly increase; values never decrease; the file holds a prefix of the
 * entries (entries are appended to the file on {@link #persist}, never rewritten in place except
 * by {@link #reset}). An index that does not match its segment is not trusted: it is rebuilt from
 * the segment, so the file is a cache and is not fsynced on the append path.
 *
 * <p>Not thread-safe: used only by its segment's owner.
 */
abstract class SparseIndex {

    protected final Path file;
    /** The segment's base offset; entries store offsets relative to it. */
    protected final long baseOffset;
    private final FileChannel channel;
    private final int maxEntries;
    private long[] keys = new long[16];
    private int[] values = new int[16];
    private int entries;
    private int persistedEntries;

    SparseIndex(Path file, FileChannel channel, long baseOffset, int maxIndexBytes) {
        this.file = file;
        this.baseOffset = baseOffset;
        this.channel = channel;
        this.maxEntries = Math.max(1, maxIndexBytes / entryBytes());
    }

    /** Bytes of one entry on disk. */
    abstract int entryBytes();

    abstract void encode(ByteBuffer out, long key, int value);

    abstract long decodeKey(ByteBuffer in);

    abstract int decodeValue(ByteBuffer in);

    final int entries() {
        return entries;
    }

    final boolean isFull() {
        return entries >= maxEntries;
    }

    final long lastKey() {
        return entries == 0 ? -1 : keys[entries - 1];
    }

    final int lastValue() {
        return entries == 0 ? -1 : values[entries - 1];
    }

    final long keyAt(int i) {
        return keys[i];
    }

    final int valueAt(int i) {
        return values[i];
    }

    final void add(long key, int value) {
        if (entries > 0 && (key <= keys[entries - 1] || value < values[entries - 1])) {
            throw new IllegalStateException("Index " + file + " entries must increase: (" + key + ", " + value
                    + ") after (" + keys[entries - 1] + ", " + values[entries - 1] + ")");
        }
        if (isFull()) {
            throw new IllegalStateException("Index " + file + " is full at " + entries + " entries");
        }
        if (entries == keys.length) {
            keys = Arrays.copyOf(keys, entries * 2);
            values = Arrays.copyOf(values, entries * 2);
        }
        keys[entries] = key;
        values[entries] = value;
        entries++;
    }

    /** Index of the last entry whose key is at most {@code key}, or -1. */
    final int floorSlot(long key) {
        int lo = 0;
        int hi = entries - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (keys[mid] <= key) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
    }

    /** Writes entries not yet in the file (to the page cache; no fsync, see the class comment). */
    final void persist() throws IOException {
        if (persistedEntries == entries) {
            return;
        }
        ByteBuffer buf = ByteBuffer.allocate((entries - persistedEntries) * entryBytes());
        for (int i = persistedEntries; i < entries; i++) {
            encode(buf, keys[i], values[i]);
        }
        buf.flip();
        long pos = (long) persistedEntries * entryBytes();
        while (buf.hasRemaining()) {
            pos += channel.write(buf, pos);
        }
        persistedEntries = entries;
    }

    /**
     * Loads the file's entries. Returns false, leaving the index empty, when the file is not a
     * whole number of entries or its entries are out of order: the caller then rebuilds it.
     */
    final boolean load() throws IOException {
        long size = channel.size();
        if (size % entryBytes() != 0 || size / entryBytes() > maxEntries) {
            return false;
        }
        ByteBuffer buf = ByteBuffer.allocate((int) size);
        while (buf.hasRemaining()) {
            if (channel.read(buf, buf.position()) < 0) {
                return false;
            }
        }
        buf.flip();
        entries = 0;
        while (buf.hasRemaining()) {
            long key = decodeKey(buf);
            int value = decodeValue(buf);
            if (entries > 0 && (key <= keys[entries - 1] || value < values[entries - 1])) {
                entries = 0;
                return false;
            }
            add(key, value);
        }
        persistedEntries = entries;
        return true;
    }

    /** Empties the index and its file, ready to be rebuilt. */
    final void reset() throws IOException {
        entries = 0;
        persistedEntries = 0;
        channel.truncate(0);
    }

    final FileChannel channel() {
        return channel;
    }
}

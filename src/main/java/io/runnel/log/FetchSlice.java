package io.runnel.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;

import org.apache.kafka.common.record.MemoryRecords;

/**
 * A run of whole record batches in one segment file, to be sent as they are: a network layer
 * hands {@link #channel()} with {@link #position()} and {@link #sizeBytes()} to a zero-copy
 * transfer (sendfile) and the bytes never pass through the heap.
 *
 * <p>Invariants: the slice starts at a batch boundary and holds whole batches only; it is empty
 * ({@link #sizeBytes()} 0) when there was nothing to read. The file may be deleted by retention
 * after the slice was made; the channel stays readable for {@code file.delete.delay.ms}.
 *
 * @param file the segment file, for adapters that send by name
 * @param firstOffset base offset of the first batch in the slice (the requested offset may lie inside it)
 */
public record FetchSlice(Path file, FileChannel channel, int position, int sizeBytes, long firstOffset) {

    public static FetchSlice empty(long offset) {
        return new FetchSlice(null, null, 0, 0, offset);
    }

    public boolean isEmpty() {
        return sizeBytes == 0;
    }

    /** Copies the slice into the heap; for adapters that must look inside and for tests. */
    public MemoryRecords readRecords() throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(sizeBytes);
        long pos = position;
        while (buf.hasRemaining()) {
            int n = channel.read(buf, pos);
            if (n < 0) {
                throw new IOException("Segment " + file + " ended at " + pos + " inside a slice of " + sizeBytes + " bytes");
            }
            pos += n;
        }
        buf.flip();
        return MemoryRecords.readableRecords(buf);
    }

    /** Sends the slice to {@code target} with the kernel's zero-copy transfer; returns bytes sent. */
    public long transferTo(WritableByteChannel target) throws IOException {
        long sent = 0;
        while (sent < sizeBytes) {
            long n = channel.transferTo(position + sent, sizeBytes - sent, target);
            if (n <= 0) {
                break;
            }
            sent += n;
        }
        return sent;
    }
}

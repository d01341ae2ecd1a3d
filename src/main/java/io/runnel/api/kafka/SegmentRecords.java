package io.runnel.api.kafka;

import java.io.IOException;
import java.nio.channels.FileChannel;

import org.apache.kafka.common.network.TransferableChannel;
import org.apache.kafka.common.record.BaseRecords;
import org.apache.kafka.common.record.RecordsSend;

import io.runnel.log.FetchSlice;

/**
 * The records of a fetch answer as they lie in a segment file: a {@link FetchSlice} in the shape
 * kafka-clients' serializer takes for zero-copy data. When a response holding these is written
 * ({@code SendBuilder}), the bytes around them are serialized as usual and these are handed to
 * {@link TransferableChannel#transferFrom} — which {@link SocketSink} turns into a file region on
 * the socket, so record bytes go from the page cache to the socket without passing the heap.
 *
 * <p>Invariants: the slice is non-empty and holds whole batches (the log's promise); its channel
 * is the segment's own, owned by the log and never closed here. Immutable.
 */
final class SegmentRecords implements BaseRecords {

    private final FileChannel channel;
    private final long position;
    private final int sizeBytes;

    SegmentRecords(FetchSlice slice) {
        if (slice.isEmpty() || slice.channel() == null) {
            throw new IllegalArgumentException("An empty slice has no segment to send from");
        }
        this.channel = slice.channel();
        this.position = slice.position();
        this.sizeBytes = slice.sizeBytes();
    }

    @Override
    public int sizeInBytes() {
        return sizeBytes;
    }

    @Override
    public RecordsSend<SegmentRecords> toSend() {
        return new RecordsSend<>(this, sizeBytes) {
            @Override
            protected int writeTo(TransferableChannel target, int previouslyWritten, int remaining) throws IOException {
                return (int) target.transferFrom(channel, position + previouslyWritten, remaining);
            }
        };
    }

    @Override
    public String toString() {
        return "SegmentRecords(position=" + position + ", sizeBytes=" + sizeBytes + ")";
    }
}

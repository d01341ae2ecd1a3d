package io.runnel.api.kafka;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

import org.apache.kafka.common.network.Send;
import org.apache.kafka.common.network.TransferableChannel;

import io.netty.channel.DefaultFileRegion;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;

/**
 * Writes a kafka-clients {@link Send} (a serialized response) onto a Vert.x socket: serialized
 * bytes are gathered into one buffer write, and file data ({@link #transferFrom}) becomes a Netty
 * file region, which the transport sends with sendfile(2) — the zero-copy half of a fetch.
 *
 * <p>Every write is queued on the socket at once (Vert.x buffers what the peer has not taken
 * yet), so from kafka-clients' side the channel never has pending writes, and writes of one
 * socket keep their order. File regions read the segment's own channel, which stays readable
 * after retention unlinks the file; they do not close it (the log owns it). Used only on the
 * socket's context; one sink per response.
 */
final class SocketSink implements TransferableChannel {

    /** A region of a channel someone else owns: Netty must not close it when the write is done. */
    private static final class BorrowedFileRegion extends DefaultFileRegion {
        BorrowedFileRegion(FileChannel channel, long position, long count) {
            super(channel, position, count);
        }

        @Override
        protected void deallocate() {
            // the log's segment channel: closed by the log, not by the network
        }
    }

    private final NetSocketInternal socket;
    private Buffer pending;

    private SocketSink(NetSocket socket) {
        this.socket = (NetSocketInternal) socket;
    }

    /**
     * Queues all of {@code send} on the socket. A part the socket fails to write (a segment
     * channel closed under it, a peer gone) closes the socket: what follows would be misframed.
     */
    static void write(NetSocket socket, Send send) throws IOException {
        SocketSink sink = new SocketSink(socket);
        // Every write is taken whole, so one pass completes the send; the bound guards that promise.
        for (int passes = 0; !send.completed(); passes++) {
            if (passes > 1_000) {
                throw new IOException("A response of " + send.size() + " bytes did not complete");
            }
            send.writeTo(sink);
        }
        sink.flushPending();
    }

    @Override
    public int write(ByteBuffer src) {
        int n = src.remaining();
        if (pending == null) {
            pending = Buffer.buffer(Math.max(n, 256));
        }
        byte[] bytes = new byte[n];
        src.get(bytes);
        pending.appendBytes(bytes);
        return n;
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) {
        long n = 0;
        for (int i = offset; i < offset + length; i++) {
            n += write(srcs[i]);
        }
        return n;
    }

    @Override
    public long write(ByteBuffer[] srcs) {
        return write(srcs, 0, srcs.length);
    }

    @Override
    public long transferFrom(FileChannel fileChannel, long position, long count) {
        flushPending();
        closeOnFailure(socket.writeMessage(new BorrowedFileRegion(fileChannel, position, count)));
        return count;
    }

    private void flushPending() {
        if (pending != null) {
            closeOnFailure(socket.write(pending));
            pending = null;
        }
    }

    private void closeOnFailure(Future<Void> written) {
        written.onFailure(e -> socket.close());
    }

    @Override
    public boolean hasPendingWrites() {
        return false;
    }

    @Override
    public boolean isOpen() {
        return true;
    }

    @Override
    public void close() {
        // the connection owns the socket
    }
}

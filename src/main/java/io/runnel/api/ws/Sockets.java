package io.runnel.api.ws;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import io.netty.buffer.ByteBuf;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocketFrame;
import io.vertx.core.http.WebSocketFrameType;
import io.vertx.core.http.impl.ws.WebSocketFrameImpl;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.internal.http.WebSocketInternal;

/**
 * Writing to a server WebSocket the way every session does. Stateless; call on the socket's
 * context.
 *
 * <p>Outgoing messages are cut into frames of at most {@link #OUTBOUND_FRAME_BYTES}, whatever the
 * server's inbound frame limit: that limit must be large (a browser sends a message as one frame),
 * but clients commonly refuse frames over 64 KiB (Vert.x's and Netty's default), and a record
 * frame of a large value would otherwise be one.
 */
final class Sockets {

    /** The largest frame sent: the default inbound frame limit of Vert.x and Netty clients. */
    static final int OUTBOUND_FRAME_BYTES = 65_536;
    /** A close frame's reason may hold at most 123 bytes (RFC 6455, 5.5: 125 less the status code). */
    private static final int CLOSE_REASON_MAX_BYTES = 123;

    private Sockets() {
    }

    /** Writes one text message; the future completes when its last frame is written to the connection. */
    static Future<Void> writeText(ServerWebSocket socket, String message) {
        // A char takes at most 3 bytes in UTF-8 (a surrogate pair 4 for 2 chars), so this many always fit.
        int firstChars = OUTBOUND_FRAME_BYTES / 3;
        if (message.length() <= firstChars) {
            return socket.writeFinalTextFrame(message);
        }
        if (Character.isHighSurrogate(message.charAt(firstChars - 1))) {
            firstChars--; // keep a surrogate pair in one piece: the first frame is a String
        }
        // The rest may be split at any byte: only the whole message must be valid UTF-8 (RFC 6455, 5.6).
        byte[] rest = message.substring(firstChars).getBytes(StandardCharsets.UTF_8);
        Future<Void> last = socket.writeFrame(WebSocketFrame.textFrame(message.substring(0, firstChars), false));
        for (int from = 0; from < rest.length; from += OUTBOUND_FRAME_BYTES) {
            int to = Math.min(rest.length, from + OUTBOUND_FRAME_BYTES);
            last = socket.writeFrame(WebSocketFrame.continuationFrame(
                    Buffer.buffer(Arrays.copyOfRange(rest, from, to)), to == rest.length));
        }
        return last;
    }

    /**
     * Writes one text message already encoded as UTF-8, which may be shared: every socket sends
     * the same bytes, none copies or changes them (each frame reads its own slice). Vert.x's public
     * API takes text only as a String, which it encodes again for each socket; so the frame is
     * made with its internal {@link WebSocketFrameImpl}, which wraps the bytes unreleasable, as
     * {@code writeBinaryMessage} does for a Buffer.
     */
    static Future<Void> writeText(ServerWebSocket socket, Buffer utf8) {
        int length = utf8.length();
        if (length <= OUTBOUND_FRAME_BYTES) {
            return socket.writeFrame(new WebSocketFrameImpl(WebSocketFrameType.TEXT, byteBuf(utf8), true));
        }
        // Only the whole message must be valid UTF-8 (RFC 6455, 5.6): the cuts may fall anywhere.
        Future<Void> last = socket.writeFrame(new WebSocketFrameImpl(WebSocketFrameType.TEXT,
                byteBuf(utf8.slice(0, OUTBOUND_FRAME_BYTES)), false));
        for (int from = OUTBOUND_FRAME_BYTES; from < length; from += OUTBOUND_FRAME_BYTES) {
            int to = Math.min(length, from + OUTBOUND_FRAME_BYTES);
            last = socket.writeFrame(WebSocketFrame.continuationFrame(utf8.slice(from, to), to == length));
        }
        return last;
    }

    private static ByteBuf byteBuf(Buffer buffer) {
        return ((BufferInternal) buffer).getByteBuf();
    }

    /**
     * Makes the socket's flushes wait until its event loop has run the tasks at hand (Netty's
     * {@link FlushConsolidationHandler}, also while no read is in progress), so the frames one
     * turn writes leave in one system call. Vert.x flushes every frame written outside a read: a
     * subscriber sent a hundred records in one turn made a hundred {@code write} calls, which at
     * fan-out rates cost more than everything else together. A flush still happens after
     * {@link FlushConsolidationHandler#DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES} at the latest, and
     * before a close. Needs Vert.x's internal {@link WebSocketInternal} for the channel; a socket
     * that is not one is left as it is.
     */
    static void consolidateFlushes(ServerWebSocket socket) {
        if (socket instanceof WebSocketInternal internal) {
            internal.channelHandlerContext().pipeline().addFirst("runnel-flush-consolidation",
                    new FlushConsolidationHandler(FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true));
        }
    }

    /** Whether the socket's write queue is full; a closed socket counts as full (nothing more goes out). */
    static boolean writeQueueFull(ServerWebSocket socket) {
        try {
            return socket.isClosed() || socket.writeQueueFull();
        } catch (IllegalStateException closedMeanwhile) {
            return true;
        }
    }

    /** Closes with {@code status} and as much of {@code reason} as a close frame holds. */
    static Future<Void> close(ServerWebSocket socket, short status, String reason) {
        if (socket.isClosed()) {
            return Future.succeededFuture();
        }
        return socket.close(status, truncate(reason));
    }

    private static String truncate(String reason) {
        byte[] bytes = reason.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= CLOSE_REASON_MAX_BYTES) {
            return reason;
        }
        int end = CLOSE_REASON_MAX_BYTES;
        while (end > 0 && (bytes[end] & 0xC0) == 0x80) {
            end--; // do not cut a character in two
        }
        return new String(bytes, 0, end, StandardCharsets.UTF_8);
    }
}

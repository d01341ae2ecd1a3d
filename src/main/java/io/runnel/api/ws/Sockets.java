package io.runnel.api.ws;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocketFrame;

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

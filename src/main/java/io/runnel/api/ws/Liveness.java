package io.runnel.api.ws;

import java.util.function.BooleanSupplier;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;

/**
 * Keeps a socket honest: pings it every {@code intervalMs} and closes it when a whole interval
 * passed without a pong or any other frame from the peer, so a client that vanished without a
 * close (a pulled cable, a suspended laptop, a stalled reader) stops holding a subscription, a
 * group membership and its buffer. A dead peer is closed between one and two intervals after it
 * last spoke.
 *
 * <p>A session may excuse silence ({@code excused}) while it has paused reading the socket
 * itself: then the peer's pongs wait unread behind its messages, and silence proves nothing.
 *
 * <p>Threading: created, fed and stopped on the socket's context; its timer runs there too.
 */
final class Liveness {

    private static final Buffer PING = Buffer.buffer("runnel");

    private final Vertx vertx;
    private final ServerWebSocket socket;
    private final long intervalMs;
    private final BooleanSupplier excused;
    private final Runnable onDead;
    private final long timerId;
    private boolean heardSinceLastPing = true;
    private boolean stopped;

    /**
     * @param onDead called once the peer is given up on; the session lets go of everything then,
     *               without waiting for the TCP close, which a dead peer delays by the server's
     *               WebSocket closing timeout
     */
    Liveness(Vertx vertx, ServerWebSocket socket, long intervalMs, BooleanSupplier excused, Runnable onDead) {
        this.vertx = vertx;
        this.socket = socket;
        this.intervalMs = intervalMs;
        this.excused = excused;
        this.onDead = onDead;
        socket.pongHandler(pong -> heard());
        this.timerId = vertx.setPeriodic(intervalMs, t -> check());
    }

    /** The peer sent something: it is alive. */
    void heard() {
        heardSinceLastPing = true;
    }

    void stop() {
        if (!stopped) {
            stopped = true;
            vertx.cancelTimer(timerId);
        }
    }

    private void check() {
        if (stopped || socket.isClosed()) {
            stop();
            return;
        }
        if (!heardSinceLastPing && !excused.getAsBoolean()) {
            stop();
            Sockets.close(socket, Frames.CLOSE_GOING_AWAY, "No answer to ping within " + intervalMs + " ms");
            onDead.run();
            return;
        }
        heardSinceLastPing = false;
        socket.writePing(PING);
    }
}

package io.runnel.broker;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.common.message.FetchRequestData;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.requests.RequestUtils;
import org.apache.kafka.common.requests.ResponseHeader;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;

/**
 * A follower's connection to its leader's Kafka listener. The follower fetches with the Kafka
 * Fetch API and its broker id as replica id, so the leader serves it on the same fetch path as
 * consumers, as Kafka's followers are served.
 *
 * <p>Invariants: at most one request is outstanding. A response is matched by its correlation id.
 * Anything else fails the outstanding request and closes the connection, so the next fetch opens a
 * fresh one: a wrong correlation id, a malformed frame, a closed socket, or no answer within the
 * timeout.
 *
 * <p>Threading: made and used on one context (the follower partition's). The socket is opened
 * from that context, so its events run there too, and a fetch's answer needs no thread hop.
 * {@link #close} may be called from anywhere.
 */
final class LeaderLink {

    /** Fetch v12: the newest Runnel serves; it carries the replica id and each partition's leader epoch. */
    static final short FETCH_VERSION = 12;
    /** A frame larger than this is not a fetch answer (the follower asks for at most a few MiB). */
    private static final int MAX_FRAME_BYTES = 256 << 20;

    private final Vertx vertx;
    private final Context context;
    private final NetClient client;
    private final String host;
    private final int port;
    private final String clientId;
    /** {@code host:port}, for messages. */
    private final String address;
    private Future<NetSocket> connection;
    private Promise<FetchResponseData> outstanding;
    private int correlationId;
    private long timer = -1;
    private boolean closed;

    LeaderLink(Vertx vertx, NetClient client, String host, int port, String clientId) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.client = client;
        this.host = host;
        this.port = port;
        this.clientId = clientId;
        this.address = host + ":" + port;
    }

    /** Sends {@code request}; fails if no answer comes within {@code timeoutMs}. */
    Future<FetchResponseData> fetch(FetchRequestData request, long timeoutMs) {
        if (closed) {
            return Future.failedFuture(new IOException("The connection to the leader at " + address + " is closed"));
        }
        if (outstanding != null) {
            return Future.failedFuture(new IllegalStateException("A fetch to " + address + " is outstanding"));
        }
        Promise<FetchResponseData> answer = Promise.promise();
        outstanding = answer;
        timer = vertx.setTimer(timeoutMs, t -> {
            timer = -1;
            if (outstanding == answer) {
                fail(new TimeoutException("No fetch answer from " + address + " within " + timeoutMs + " ms"));
            }
        });
        connection().onSuccess(socket -> {
            if (outstanding != answer) {
                return;
            }
            RequestHeader header = new RequestHeader(ApiKeys.FETCH, FETCH_VERSION, clientId, ++correlationId);
            ByteBuffer body = RequestUtils.serialize(header.data(), header.headerVersion(), request, FETCH_VERSION);
            Buffer frame = Buffer.buffer(4 + body.remaining()).appendInt(body.remaining());
            frame.appendBytes(body.array(), body.arrayOffset() + body.position(), body.remaining());
            socket.write(frame);
        }).onFailure(this::fail);
        return answer.future();
    }

    void close() {
        context.runOnContext(v -> {
            closed = true;
            fail(new IOException("The connection to the leader at " + address + " was closed"));
        });
    }

    private Future<NetSocket> connection() {
        if (connection == null) {
            connection = client.connect(port, host).onSuccess(socket -> {
                RecordParser parser = RecordParser.newFixed(4);
                parser.handler(new FrameHandler(parser, socket));
                socket.handler(parser);
                socket.exceptionHandler(e -> {
                    if (isCurrent(socket)) {
                        fail(e);
                    }
                });
                socket.closeHandler(v -> {
                    if (isCurrent(socket)) {
                        fail(new IOException("The leader at " + address + " closed the connection"));
                    }
                });
            });
        }
        return connection;
    }

    /** Whether {@code socket} is this link's connection now, not one it dropped. */
    private boolean isCurrent(NetSocket socket) {
        return connection != null && connection.succeeded() && connection.result() == socket;
    }

    private void onFrame(Buffer frame) {
        Promise<FetchResponseData> answer = outstanding;
        FetchResponseData data;
        try {
            ByteBuffer buffer = ByteBuffer.wrap(frame.getBytes());
            ResponseHeader header = ResponseHeader.parse(buffer, ApiKeys.FETCH.responseHeaderVersion(FETCH_VERSION));
            if (answer == null || header.correlationId() != correlationId) {
                throw new IOException("Unexpected answer #" + header.correlationId() + " from the leader at " + address
                        + " (waiting for #" + (answer == null ? "none" : correlationId) + ")");
            }
            data = new FetchResponseData(new ByteBufferAccessor(buffer), FETCH_VERSION);
        } catch (IOException | RuntimeException e) {
            fail(e);
            return;
        }
        clearOutstanding();
        answer.complete(data);
    }

    /** Fails the outstanding request, if any, and drops the connection (the next fetch reconnects). */
    private void fail(Throwable cause) {
        Promise<FetchResponseData> answer = outstanding;
        clearOutstanding();
        Future<NetSocket> old = connection;
        connection = null;
        if (old != null) {
            old.onSuccess(NetSocket::close);
        }
        if (answer != null) {
            answer.tryFail(cause);
        }
    }

    private void clearOutstanding() {
        outstanding = null;
        if (timer >= 0) {
            vertx.cancelTimer(timer);
            timer = -1;
        }
    }

    /** Splits the byte stream into Kafka frames: a 4-byte size, then that many bytes. */
    private final class FrameHandler implements io.vertx.core.Handler<Buffer> {
        private final RecordParser parser;
        private final NetSocket socket;
        private boolean readingSize = true;

        FrameHandler(RecordParser parser, NetSocket socket) {
            this.parser = parser;
            this.socket = socket;
        }

        @Override
        public void handle(Buffer chunk) {
            if (!isCurrent(socket)) {
                return; // a dropped connection's last bytes
            }
            if (readingSize) {
                int size = chunk.getInt(0);
                if (size <= 0 || size > MAX_FRAME_BYTES) {
                    fail(new IOException("A frame of " + size + " bytes from the leader at " + address));
                    return;
                }
                readingSize = false;
                parser.fixedSizeMode(size);
            } else {
                readingSize = true;
                parser.fixedSizeMode(4);
                onFrame(chunk);
            }
        }
    }
}

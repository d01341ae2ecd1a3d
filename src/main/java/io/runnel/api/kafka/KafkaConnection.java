package io.runnel.api.kafka;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Deque;

import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.network.Send;
import org.apache.kafka.common.protocol.SendBuilder;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.requests.ResponseHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;

/**
 * One client connection speaking the Kafka protocol: size-prefixed frames in, responses out in
 * the order their requests came, as the protocol requires of a connection.
 *
 * <p>Invariants:
 * <ul>
 *   <li>A frame's size is checked before its bytes are gathered: a size below a header's or above
 *       {@code maxRequestBytes} closes the connection (there is no correlation id to answer to).</li>
 *   <li>Requests of one connection are handled concurrently (a long-poll fetch does not hold up a
 *       heartbeat's handling), but their responses are written strictly in request order: each
 *       request takes a slot in {@link #pending} and a response waits for the slots before it.</li>
 *   <li>A request that cannot be parsed, an unknown API or an unsupported version closes the
 *       connection — except ApiVersions at a version we do not know, which gets Kafka's v0-format
 *       UNSUPPORTED_VERSION answer with our ranges, so newer clients downgrade.</li>
 *   <li>A response is serialized when it is ready and written when its turn comes; record data
 *       from segment files ({@link SegmentRecords}) is not copied but sent from the file
 *       ({@link SocketSink}).</li>
 *   <li>All state is touched only on the socket's context.</li>
 * </ul>
 */
final class KafkaConnection {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaConnection.class);

    /** A request's place in the response order; {@code response} null until it is ready (or when there is none). */
    private static final class Slot {
        Send response;
        boolean done;
    }

    private final NetSocket socket;
    private final KafkaApis apis;
    private final int maxRequestBytes;
    private final RecordParser parser;
    private final Deque<Slot> pending = new ArrayDeque<>();
    private boolean readingSize = true;
    private boolean closed;

    KafkaConnection(NetSocket socket, KafkaApis apis, int maxRequestBytes) {
        this.socket = socket;
        this.apis = apis;
        this.maxRequestBytes = maxRequestBytes;
        this.parser = RecordParser.newFixed(4, this::onChunk);
        socket.handler(parser);
        socket.closeHandler(v -> closed = true);
        socket.exceptionHandler(e -> {
            LOG.debug("Kafka connection from {} failed: {}", socket.remoteAddress(), e.toString());
            close();
        });
    }

    private void onChunk(Buffer chunk) {
        if (closed) {
            return;
        }
        if (readingSize) {
            int size = chunk.getInt(0);
            if (size < 8 || size > maxRequestBytes) {
                LOG.info("Closing Kafka connection from {}: a request of {} bytes (limit {})", socket.remoteAddress(),
                        size, maxRequestBytes);
                close();
                return;
            }
            readingSize = false;
            parser.fixedSizeMode(size);
        } else {
            readingSize = true;
            parser.fixedSizeMode(4);
            onRequest(chunk);
        }
    }

    private void onRequest(Buffer frame) {
        ByteBuffer buffer = ByteBuffer.wrap(frame.getBytes());
        short apiKey = buffer.getShort(0);
        short version = buffer.getShort(2);
        if (apiKey == ApiKeys.API_VERSIONS.id && !SupportedApis.supports(ApiKeys.API_VERSIONS, version)) {
            respondUnsupportedApiVersions(buffer.getInt(4));
            return;
        }
        if (!ApiKeys.hasId(apiKey) || !SupportedApis.supports(ApiKeys.forId(apiKey), version)) {
            LOG.info("Closing Kafka connection from {}: API {} version {} is not served", socket.remoteAddress(),
                    apiKey, version);
            close();
            return;
        }
        RequestHeader header;
        AbstractRequest request;
        try {
            header = RequestHeader.parse(buffer);
            request = AbstractRequest.parseRequest(header.apiKey(), header.apiVersion(),
                    new ByteBufferAccessor(buffer)).request;
        } catch (RuntimeException e) {
            LOG.info("Closing Kafka connection from {}: a malformed {} v{} request ({})", socket.remoteAddress(),
                    ApiKeys.forId(apiKey), version, e.toString());
            close();
            return;
        }
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} v{} #{} from {}", header.apiKey(), header.apiVersion(), header.correlationId(),
                    socket.remoteAddress());
        }
        Slot slot = new Slot();
        pending.addLast(slot);
        Future<ApiMessage> handled;
        try {
            handled = apis.handle(header, request);
        } catch (RuntimeException e) {
            handled = Future.failedFuture(e);
        }
        handled.onComplete(done -> {
            if (done.failed()) {
                if (done.cause() instanceof InvalidRequestException) {
                    LOG.info("Closing Kafka connection from {}: {}", socket.remoteAddress(), done.cause().getMessage());
                } else {
                    LOG.error("Kafka {} v{} from {} failed", header.apiKey(), header.apiVersion(), socket.remoteAddress(),
                            done.cause());
                }
                close();
                return;
            }
            if (LOG.isDebugEnabled()) {
                LOG.debug("{} v{} #{} answered: {}", header.apiKey(), header.apiVersion(), header.correlationId(),
                        done.result());
            }
            try {
                // Serialized now (record data excepted: a fetch's segment slices are sent from their files).
                slot.response = done.result() == null ? null
                        : SendBuilder.buildResponseSend(header.toResponseHeader(), done.result(), header.apiVersion());
            } catch (RuntimeException e) {
                // A response this version cannot carry is our bug; the client must not wait for it forever.
                LOG.error("Kafka {} v{} response could not be written for {}", header.apiKey(), header.apiVersion(),
                        socket.remoteAddress(), e);
                close();
                return;
            }
            slot.done = true;
            flush();
        });
    }

    /** Writes every finished response at the head of the queue. */
    private void flush() {
        while (!pending.isEmpty() && pending.peekFirst().done) {
            Slot slot = pending.pollFirst();
            if (slot.response != null && !closed) {
                try {
                    SocketSink.write(socket, slot.response);
                } catch (IOException | RuntimeException e) {
                    LOG.error("Writing a response to {} failed", socket.remoteAddress(), e);
                    close();
                }
            }
        }
    }

    private void respondUnsupportedApiVersions(int correlationId) {
        ApiVersionsResponseData data = new ApiVersionsResponseData()
                .setErrorCode(Errors.UNSUPPORTED_VERSION.code())
                .setApiKeys(SupportedApis.versions());
        Slot slot = new Slot();
        slot.response = SendBuilder.buildResponseSend(new ResponseHeader(correlationId, (short) 0), data, (short) 0);
        slot.done = true;
        pending.addLast(slot);
        flush();
    }

    private void close() {
        if (!closed) {
            closed = true;
            socket.close();
        }
    }
}

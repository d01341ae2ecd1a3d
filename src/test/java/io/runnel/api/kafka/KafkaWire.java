package io.runnel.api.kafka;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;

import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.MessageUtil;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.RequestHeader;

/**
 * A blocking Kafka protocol connection for tests: writes size-prefixed frames and reads answers
 * with a read timeout, so a broker that neither answers nor closes fails the test instead of
 * hanging it. Runs on the test thread, never on an event loop. Not thread-safe.
 */
final class KafkaWire implements AutoCloseable {

    static final String CLIENT_ID = "runnel-wire-test";

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private int nextCorrelationId = 1;

    KafkaWire(int port, int readTimeoutMs) throws IOException {
        socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        socket.setSoTimeout(readTimeoutMs);
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    /** The header of the next request of {@code api} at {@code version}. */
    RequestHeader nextHeader(ApiKeys api, short version) {
        return new RequestHeader(api, version, CLIENT_ID, nextCorrelationId++);
    }

    /** A request as sent, without its size prefix: header, then body at the header's version. */
    static byte[] encode(RequestHeader header, ApiMessage body) {
        ByteBuffer head = MessageUtil.toByteBufferAccessor(header.data(), header.headerVersion()).buffer();
        ByteBuffer payload = MessageUtil.toByteBufferAccessor(body, header.apiVersion()).buffer();
        byte[] bytes = new byte[head.remaining() + payload.remaining()];
        head.get(bytes, 0, head.remaining());
        payload.get(bytes, bytes.length - payload.remaining(), payload.remaining());
        return bytes;
    }

    /** Writes one frame: {@code bytes} after a 4-byte size. */
    void sendFrame(byte[] bytes) throws IOException {
        sendRaw(ByteBuffer.allocate(4).putInt(bytes.length).array());
        sendRaw(bytes);
    }

    /** Writes bytes as they are (a size prefix, if any, is the caller's). */
    void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Reads one answer frame (without its size); throws {@link EOFException} if the broker closed. */
    ByteBuffer readFrame() throws IOException {
        int size = in.readInt();
        if (size < 0 || size > 64 << 20) {
            throw new IOException("An answer claiming " + size + " bytes");
        }
        byte[] bytes = new byte[size];
        in.readFully(bytes);
        return ByteBuffer.wrap(bytes);
    }

    /** Sends {@code body} and parses the answer with kafka-clients, checking its correlation id. */
    AbstractResponse roundTrip(ApiKeys api, short version, ApiMessage body) throws IOException {
        RequestHeader header = nextHeader(api, version);
        sendFrame(encode(header, body));
        return AbstractResponse.parseResponse(readFrame(), header);
    }

    /** Whether the broker closed this connection: reads until end of stream or the timeout. */
    boolean closedByBroker() {
        try {
            return in.read() < 0;
        } catch (IOException e) {
            return e.getMessage() != null && e.getMessage().contains("reset");
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}

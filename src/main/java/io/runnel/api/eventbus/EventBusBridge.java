package io.runnel.api.eventbus;

import java.lang.reflect.Field;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import io.vertx.ext.bridge.BridgeOptions;
import io.vertx.ext.bridge.PermittedOptions;
import io.vertx.ext.eventbus.bridge.tcp.TcpEventBusBridge;

/**
 * The TCP event bus bridge (port 7000 by default): Vert.x's bridge, so a program in any language
 * reaches the event bus API over a plain socket. Its framing is Vert.x's: each frame is a 4-byte
 * big-endian length and that many bytes of UTF-8 JSON, e.g.
 * {@code {"type":"send","address":"runnel.produce","replyAddress":"r1","body":{…}}} (answered by
 * {@code {"type":"message","address":"r1","body":{…}}}, or {@code {"type":"err","address":"r1",
 * "failureCode":N,"failureType":"RECIPIENT_FAILURE","message":"…"}}), and
 * {@code {"type":"register","address":"runnel.sub.…"}} to receive a subscription's messages.
 *
 * <h2>Permissions</h2>
 * Inbound (send, publish): only the addresses the broker serves ({@link EventBusAddresses#SERVED})
 * and replies to messages the client received (the probes). Outbound (register): only
 * subscription addresses ({@link EventBusAddresses#SUBSCRIPTION_ADDRESS_REGEX}). Anything else is
 * answered with {@code {"type":"err","message":"access_denied"}} and not forwarded: a bridge
 * client must not reach the rest of the broker's (or a cluster's) event bus. Any client may
 * register any subscription address, so one that knows another's address can share its records:
 * the bridge has no identities, which is one reason it listens on loopback by default.
 *
 * <h2>Threading</h2>
 * The bridge's sockets run on their event loops; {@link #start} and {@link #close} may be called
 * from any thread.
 */
public final class EventBusBridge {

    private final TcpEventBusBridge bridge;
    private final int port;

    private EventBusBridge(TcpEventBusBridge bridge, int port) {
        this.bridge = bridge;
        this.port = port;
    }

    /** The bridge's permissions: exactly the event bus API's addresses in, subscription addresses out. */
    public static BridgeOptions permissions() {
        BridgeOptions options = new BridgeOptions();
        for (String address : EventBusAddresses.SERVED) {
            options.addInboundPermitted(new PermittedOptions().setAddress(address));
        }
        options.addOutboundPermitted(new PermittedOptions().setAddressRegex(EventBusAddresses.SUBSCRIPTION_ADDRESS_REGEX));
        return options;
    }

    /** Listens on {@code host:port} (port 0: any free port, see {@link #port()}). */
    public static Future<EventBusBridge> start(Vertx vertx, String host, int port) {
        TcpEventBusBridge bridge = TcpEventBusBridge.create(vertx, permissions());
        return bridge.listen(port, host).map(listening -> new EventBusBridge(listening,
                port != 0 ? port : boundPort(listening)));
    }

    /** The port the bridge listens on (useful with port 0). */
    public int port() {
        return port;
    }

    public Future<Void> close() {
        return bridge.close();
    }

    /**
     * The port a bridge asked to listen on port 0 got. {@link TcpEventBusBridge} does not say, so
     * this reads its implementation's {@code NetServer} (field {@code server} of vertx-tcp-eventbus-bridge
     * 5.0's {@code TcpEventBusBridgeImpl}); tests use port 0, and {@code EventBusBridgeTest}
     * fails loudly if an upgrade moves the field.
     */
    private static int boundPort(TcpEventBusBridge bridge) {
        try {
            Field server = bridge.getClass().getDeclaredField("server");
            server.setAccessible(true);
            return ((NetServer) server.get(bridge)).actualPort();
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("Cannot learn the port of a TCP event bus bridge started on port 0 ("
                    + bridge.getClass().getName() + " changed?); give bridge.port a fixed port", e);
        }
    }
}

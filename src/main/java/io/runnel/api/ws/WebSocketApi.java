package io.runnel.api.ws;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.netty.handler.codec.http.QueryStringDecoder;
import io.runnel.broker.BrokerService;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.ServerWebSocketHandshake;
import io.vertx.core.net.HostAndPort;
import io.vertx.ext.web.Router;

/**
 * The WebSocket API (port 8082, beside the HTTP API on the same server): live subscriptions and
 * produce, as DESIGN.md's "WebSocket" section has them; the frames are in {@link Frames}.
 *
 * <h2>Endpoints</h2>
 * <ul>
 *   <li>{@code /ws/v1/topics/{topic}/subscribe?from=&partitions=&format=&group=}: see
 *       {@link SubscribeRequest} and {@link SubscriberSession}.</li>
 *   <li>{@code /ws/v1/topics/{topic}/produce?format=}: see {@link ProducerSession}.</li>
 *   <li>{@code GET /live.html?topic=…}: a page that tails a topic over the subscribe endpoint
 *       ({@link #mountPage}).</li>
 * </ul>
 * Any other WebSocket upgrade is refused with HTTP 404 before the handshake completes; one from a
 * web page of another origin with 403 (a page elsewhere must not produce to, or read, a broker on
 * the user's machine: browsers apply no same-origin rule to WebSockets, so the server must).
 * A subscribe request that cannot start (unknown topic or partition, a bad parameter) is
 * accepted, answered with an error frame and closed with status 1008, because a browser sees
 * nothing of a refused handshake but the failure; bad frames later on get an error frame and the
 * socket stays open.
 *
 * <h2>Mounting</h2>
 * <pre>{@code
 * WebSocketApi ws = WebSocketApi.create(vertx, broker, WebSocketApi.Settings.defaults());
 * ws.mountPage(router);                                          // before the server listens
 * vertx.createHttpServer(ws.configure(new HttpServerOptions()…))
 *      .requestHandler(router)
 *      .webSocketHandshakeHandler(ws::handshake)                  // every upgrade comes here, not to the router
 * }</pre>
 *
 * <h2>Threading</h2>
 * Each socket's session lives on the socket's event loop and never blocks it. The registry of
 * open sessions is a concurrent set, touched by every loop.
 */
public final class WebSocketApi {

    private static final Logger LOG = LoggerFactory.getLogger(WebSocketApi.class);
    private static final Pattern PATH = Pattern.compile("/ws/v1/topics/([^/]+)/(subscribe|produce)");
    private static final String PAGE_RESOURCE = "io/runnel/api/ws/live.html";
    /**
     * A single frame may be this many times the message limit: a browser sends a message as one
     * frame, so a message somewhat over the limit still gets a 413 error frame; one beyond this is
     * cut off by the WebSocket decoder, which closes the socket (status 1009), bounding the memory
     * one frame can take.
     */
    static final int FRAME_LIMIT_TIMES_MESSAGE_LIMIT = 4;

    /**
     * What the API is configured with.
     *
     * @param maxMessageBytes   the largest message a client may send (a 413 error frame beyond it)
     * @param socketBufferBytes per socket: the write queue's high-water mark, and about half the
     *                          most a subscriber's undelivered frames may hold
     * @param pingIntervalMs    how often sockets are pinged; one silent for a whole interval is closed
     * @param fetchWaitMs       how long a subscriber's long poll of a partition waits before it is renewed
     * @param allowCrossOrigin  accept upgrades from web pages of other origins (off: same origin,
     *                          or no Origin header, as non-browser clients send)
     */
    public record Settings(int maxMessageBytes, int socketBufferBytes, long pingIntervalMs, long fetchWaitMs,
                           boolean allowCrossOrigin) {

        /**
         * 2 MiB: the HTTP API's body limit, a little over Kafka's default max.message.bytes once
         * JSON or base64 encoding is added.
         */
        public static final int DEFAULT_MAX_MESSAGE_BYTES = 2 * 1024 * 1024;
        /**
         * 256 KiB: about a thousand 200-byte records in flight, enough to keep a subscriber
         * streaming at 10,000 records/s across a 100 ms round trip; a thousand stalled
         * subscribers hold at most about half a GiB.
         */
        public static final int DEFAULT_SOCKET_BUFFER_BYTES = 256 * 1024;
        /** 30 s: under the 60 s idle timeout of common proxies, so pings also keep sockets through them. */
        public static final long DEFAULT_PING_INTERVAL_MS = 30_000;
        /** 10 s: a waiting long poll costs nothing; renewing it more often only adds empty fetches. */
        public static final long DEFAULT_FETCH_WAIT_MS = 10_000;

        public Settings {
            if (maxMessageBytes < 1 || maxMessageBytes > Integer.MAX_VALUE / FRAME_LIMIT_TIMES_MESSAGE_LIMIT) {
                throw new IllegalArgumentException("maxMessageBytes must be from 1 to "
                        + Integer.MAX_VALUE / FRAME_LIMIT_TIMES_MESSAGE_LIMIT + ", not " + maxMessageBytes);
            }
            if (socketBufferBytes < 1) {
                throw new IllegalArgumentException("socketBufferBytes must be positive, not " + socketBufferBytes);
            }
            if (pingIntervalMs < 1) {
                throw new IllegalArgumentException("pingIntervalMs must be positive, not " + pingIntervalMs);
            }
            if (fetchWaitMs < 1) {
                throw new IllegalArgumentException("fetchWaitMs must be positive, not " + fetchWaitMs);
            }
        }

        public static Settings defaults() {
            return new Settings(DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_SOCKET_BUFFER_BYTES, DEFAULT_PING_INTERVAL_MS,
                    DEFAULT_FETCH_WAIT_MS, false);
        }
    }

    /**
     * One subscriber as it stands: records sent, and the characters of record frames it holds
     * (fetched but unsent, or written but not yet handed to the connection), now and at most.
     */
    public record SubscriberStats(String remoteAddress, String topic, String group, long recordsSent,
                                  long bufferedChars, long bufferedCharsPeak) {
    }

    /** An open socket's session. */
    interface Session {
        /** Closes the socket (status 1001) and completes once the session has let go of everything. */
        Future<Void> shutdown();
    }

    private final Vertx vertx;
    private final BrokerService broker;
    private final Settings settings;
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    private final FrameFeed.Registry feeds;
    private volatile boolean closed;
    private Future<Buffer> page;

    private WebSocketApi(Vertx vertx, BrokerService broker, Settings settings) {
        this.vertx = vertx;
        this.broker = broker;
        this.settings = settings;
        this.feeds = new FrameFeed.Registry(broker, settings);
    }

    public static WebSocketApi create(Vertx vertx, BrokerService broker, Settings settings) {
        return new WebSocketApi(vertx, broker, settings);
    }

    public Settings settings() {
        return settings;
    }

    /** Sets the server's WebSocket limits to this API's (the message limit and the frame limit above it). */
    public HttpServerOptions configure(HttpServerOptions options) {
        return options.setMaxWebSocketMessageSize(settings.maxMessageBytes())
                .setMaxWebSocketFrameSize(settings.maxMessageBytes() * FRAME_LIMIT_TIMES_MESSAGE_LIMIT);
    }

    /** Adds {@code GET /live.html} to {@code router}. */
    public void mountPage(Router router) {
        router.get("/live.html").handler(ctx -> page().onComplete(loaded -> {
            if (loaded.failed()) {
                ctx.fail(loaded.cause());
                return;
            }
            ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, "text/html; charset=utf-8")
                    .putHeader("Cache-Control", "no-cache")
                    .putHeader("X-Content-Type-Options", "nosniff")
                    .end(loaded.result());
        }));
    }

    /** The page, read once from the classpath on a worker (a jar read is blocking I/O). */
    private synchronized Future<Buffer> page() {
        if (page == null) {
            page = vertx.executeBlocking(() -> {
                try (InputStream in = WebSocketApi.class.getClassLoader().getResourceAsStream(PAGE_RESOURCE)) {
                    if (in == null) {
                        throw new IOException(PAGE_RESOURCE + " is missing from the classpath");
                    }
                    return Buffer.buffer(in.readAllBytes());
                }
            }, false);
        }
        return page;
    }

    // ---------------------------------------------------------------- upgrades

    /** Takes a WebSocket upgrade: for {@code HttpServer#webSocketHandshakeHandler}. */
    public void handshake(ServerWebSocketHandshake handshake) {
        if (closed) {
            handshake.reject(503);
            return;
        }
        Matcher path = PATH.matcher(handshake.path());
        if (!path.matches()) {
            handshake.reject(404);
            return;
        }
        if (!settings.allowCrossOrigin() && !sameOrigin(handshake.headers().get(HttpHeaders.ORIGIN), handshake.authority())) {
            LOG.debug("Refused a WebSocket from origin {} to {}", handshake.headers().get(HttpHeaders.ORIGIN),
                    handshake.authority());
            handshake.reject(403);
            return;
        }
        String topic = QueryStringDecoder.decodeComponent(path.group(1));
        boolean subscribe = path.group(2).equals("subscribe");
        String query = handshake.query();
        handshake.accept().onComplete(accepted -> {
            if (accepted.failed()) {
                LOG.debug("WebSocket handshake from {} failed: {}", handshake.remoteAddress(), accepted.cause().toString());
                return;
            }
            ServerWebSocket socket = accepted.result();
            if (subscribe) {
                startSubscriber(socket, topic, query);
            } else {
                startProducer(socket, topic, query);
            }
        });
    }

    private void startSubscriber(ServerWebSocket socket, String topic, String query) {
        SubscribeRequest request;
        try {
            request = SubscribeRequest.parse(topic, query);
        } catch (WsException e) {
            refuse(socket, e);
            return;
        }
        SubscriberSession[] session = new SubscriberSession[1];
        session[0] = new SubscriberSession(vertx, socket, broker, request, settings, feeds,
                () -> sessions.remove(session[0]));
        sessions.add(session[0]);
        session[0].start();
        closeIfShutDown(session[0]);
    }

    private void startProducer(ServerWebSocket socket, String topic, String query) {
        Frames.Format format;
        try {
            format = SubscribeRequest.produceFormat(query);
        } catch (WsException e) {
            refuse(socket, e);
            return;
        }
        ProducerSession[] session = new ProducerSession[1];
        session[0] = new ProducerSession(vertx, socket, broker, topic, format, settings, () -> sessions.remove(session[0]));
        sessions.add(session[0]);
        session[0].start();
        closeIfShutDown(session[0]);
    }

    /** A session registered while {@link #close} ran may have been missed by it; it closes itself. */
    private void closeIfShutDown(Session session) {
        if (closed) {
            session.shutdown();
        }
    }

    private static void refuse(ServerWebSocket socket, WsException error) {
        Sockets.writeText(socket, Frames.error(error, false, null, null));
        Sockets.close(socket, Frames.CLOSE_REFUSED, error.getMessage());
    }

    /** No Origin (not a browser), or the origin the page came from is this server as the client addressed it. */
    static boolean sameOrigin(String origin, HostAndPort authority) {
        if (origin == null) {
            return true;
        }
        if (authority == null) {
            return false;
        }
        try {
            URI uri = new URI(origin);
            if (uri.getHost() == null || uri.getScheme() == null) {
                return false;
            }
            int defaultPort = uri.getScheme().equalsIgnoreCase("https") ? 443 : 80;
            int originPort = uri.getPort() >= 0 ? uri.getPort() : defaultPort;
            int hostPort = authority.port() >= 0 ? authority.port() : defaultPort;
            return uri.getHost().toLowerCase(Locale.ROOT).equals(authority.host().toLowerCase(Locale.ROOT))
                    && originPort == hostPort;
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    // ---------------------------------------------------------------- state

    /** The open subscribers, as they stand (for metrics and tests). */
    public List<SubscriberStats> subscribers() {
        List<SubscriberStats> out = new ArrayList<>();
        for (Session s : sessions) {
            if (s instanceof SubscriberSession subscriber) {
                out.add(subscriber.stats());
            }
        }
        return out;
    }

    /** The shared record feeds open now ({@link FrameFeed}: one per event loop, partition and format read). */
    public int feedsOpen() {
        return feeds.size();
    }

    /** Closes every socket (status 1001); subscribers commit what they were acked and leave their groups. */
    public Future<Void> close() {
        closed = true;
        List<Future<Void>> closing = new ArrayList<>();
        for (Session s : List.copyOf(sessions)) {
            closing.add(s.shutdown());
        }
        return Future.join(closing).mapEmpty();
    }

    // ---------------------------------------------------------------- shared by the sessions

    /** Whether a socket's exception is Vert.x refusing a message over the message limit (the socket stays open). */
    static boolean isOversizeMessage(Throwable error) {
        return error instanceof IllegalStateException && error.getMessage() != null
                && error.getMessage().contains("overflow max message size");
    }

    static WsException oversize(Settings settings) {
        return new WsException(WsErrorCodes.PAYLOAD_TOO_LARGE, "The message is larger than the limit of "
                + settings.maxMessageBytes() + " bytes; it was ignored");
    }
}

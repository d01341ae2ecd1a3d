package io.runnel.api.kafka;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.runnel.broker.BrokerService;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;

/**
 * The Kafka protocol listener (port 9092): a Vert.x {@link NetServer} whose every connection is a
 * {@link KafkaConnection} over one shared {@link KafkaApis}. Clients are told to reach the broker
 * at the listener's host and actual port (so port 0 works in tests).
 */
public final class KafkaListener {

    /** Kafka's socket.request.max.bytes default: a larger frame closes its connection unread. */
    public static final int MAX_REQUEST_BYTES = 100 * 1024 * 1024;

    private static final Logger LOG = LoggerFactory.getLogger(KafkaListener.class);

    private final NetServer server;

    private KafkaListener(NetServer server) {
        this.server = server;
    }

    /** Listens on {@code host:port} for {@code broker}. */
    public static Future<KafkaListener> start(Vertx vertx, BrokerService broker, String host, int port,
                                              boolean autoCreateTopics) {
        NetServer server = vertx.createNetServer(new NetServerOptions().setHost(host).setPort(port).setTcpNoDelay(true));
        KafkaApis[] apis = new KafkaApis[1];
        server.connectHandler(socket -> {
            if (apis[0] == null) {
                socket.close(); // bound but not yet announced: the client retries
                return;
            }
            new KafkaConnection(socket, apis[0], MAX_REQUEST_BYTES);
        });
        return server.listen().map(s -> {
            apis[0] = new KafkaApis(broker, new KafkaApis.Node(broker.identity().brokerId(), host, s.actualPort()),
                    autoCreateTopics);
            LOG.info("Kafka protocol on {}:{}", host, s.actualPort());
            return new KafkaListener(s);
        });
    }

    public int port() {
        return server.actualPort();
    }

    public Future<Void> close() {
        return server.close();
    }
}

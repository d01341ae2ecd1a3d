package io.runnel.server;

import java.util.concurrent.atomic.AtomicBoolean;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.runnel.api.eventbus.EventBusApi;
import io.runnel.api.eventbus.EventBusBridge;
import io.runnel.api.http.HttpApi;
import io.runnel.api.ws.WebSocketApi;
import io.runnel.api.kafka.KafkaListener;
import io.runnel.broker.BrokerIdentity;
import io.runnel.broker.BrokerMetrics;
import io.runnel.broker.OffsetsTopicStore;
import io.runnel.broker.BrokerService;
import io.runnel.broker.TopicManager;
import io.runnel.broker.SchemasTopicStore;
import io.runnel.cluster.BrokerInfo;
import io.runnel.cluster.ClusterNode;
import io.runnel.config.BrokerConfig;
import io.runnel.registry.RegistryApi;
import io.runnel.registry.SchemaRegistry;
import io.runnel.registry.WriterClient;
import io.runnel.group.GroupConfig;
import io.runnel.group.GroupCoordinator;
import io.runnel.log.GroupCommitFlusher;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;

/**
 * One broker process, assembled: the topics and their logs, the broker service, the HTTP API,
 * and the timers that keep logs flushed and trimmed. Single node is a cluster of one: the same
 * code paths a cluster will use.
 *
 * <p>Lifecycle: {@link #start} opens every topic found in {@code data.dir} (recovering logs after
 * an unclean stop) before the HTTP port answers {@code /ready}; {@link #stop} stops taking
 * requests, then closes every log cleanly (flush, checkpoint, clean-shutdown marker).
 *
 * <p>Metrics: one Prometheus registry per broker holds the {@link BrokerMetrics} and the JVM's
 * (memory, GC, threads, CPU); the HTTP API serves it at {@code GET /metrics}.
 */
public final class RunnelServer {

    private static final Logger LOG = LoggerFactory.getLogger(RunnelServer.class);

    /** Kafka's log.retention.check.interval.ms: retention and compaction passes every five minutes. */
    static final long MAINTENANCE_INTERVAL_MS = 300_000;
    /** How often idle partitions are checked against flush.ms; appends check on their own. */
    static final long FLUSH_CHECK_INTERVAL_MS = 1_000;
    /** Largest HTTP request body: a little over Kafka's default max.message.bytes. */
    static final long MAX_HTTP_BODY_BYTES = 2L * 1024 * 1024;
    /** Durable by default: acks=all is answered after fsync, and consumers see only durable records. */
    static final boolean DURABLE_ACKS = true;

    private final Vertx vertx;
    private final BrokerService broker;
    private final TopicManager topics;
    private final HttpApi api;
    private final WebSocketApi ws;
    private final KafkaListener kafka;
    private final Registry schemaRegistry;
    private final EventBus eventBus;
    /** This broker's part in a cluster; null on a single node. */
    private final Cluster cluster;

    /** The event bus API on the broker's Vert.x and the TCP bridge to it (port 7000). */
    private record EventBus(EventBusApi api, EventBusBridge bridge) {
    }

    /**
     * The schema registry and the HTTP server of its REST API (port 8081); in a cluster, the client
     * that forwards writes to the writer's registry (null on a single node).
     */
    private record Registry(SchemaRegistry schemas, HttpServer http, HttpClient forwarding) {
    }
    private final GroupCommitFlusher flusher;
    private final WorkerExecutor worker;
    private final HttpServer http;
    private final long[] timers;
    private final PrometheusMeterRegistry registry;
    private final JvmGcMetrics gcMetrics;
    private final AtomicBoolean stopped = new AtomicBoolean();

    private RunnelServer(Vertx vertx, BrokerService broker, HttpApi api, WebSocketApi ws, KafkaListener kafka,
                         Registry schemaRegistry, EventBus eventBus, Cluster cluster,
                         GroupCommitFlusher flusher,
                         WorkerExecutor worker, HttpServer http, long[] timers, PrometheusMeterRegistry registry,
                         JvmGcMetrics gcMetrics) {
        this.vertx = vertx;
        this.broker = broker;
        this.topics = broker.topics();
        this.api = api;
        this.ws = ws;
        this.kafka = kafka;
        this.schemaRegistry = schemaRegistry;
        this.eventBus = eventBus;
        this.cluster = cluster;
        this.flusher = flusher;
        this.worker = worker;
        this.http = http;
        this.timers = timers;
        this.registry = registry;
        this.gcMetrics = gcMetrics;
    }

    /** A registry for one broker's metrics, served at {@code GET /metrics}. */
    public static PrometheusMeterRegistry newRegistry() {
        return new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    /**
     * A Vert.x whose own metrics (event loops' pending tasks, HTTP connections and requests, worker
     * pools) go to {@code registry}; {@code runnel server} runs on one. Metrics must be chosen when
     * a Vertx is built, so this is the broker's way to get them next to its own.
     */
    public static Vertx vertxWithMetrics(PrometheusMeterRegistry registry) {
        return Vertx.builder()
                .with(brokerVertxOptions())
                .withMetrics(new MicrometerMetricsFactory(registry))
                .build();
    }

    /**
     * A clustered Vert.x (Hazelcast, per {@code config}'s cluster keys) whose own metrics go to
     * {@code registry}; {@code runnel server --cluster} runs on one.
     */
    public static Future<Vertx> clusteredVertxWithMetrics(PrometheusMeterRegistry registry, BrokerConfig config) {
        return ClusterNode.startVertx(Vertx.builder().withMetrics(new MicrometerMetricsFactory(registry)),
                brokerVertxOptions(), config);
    }

    /** A broker's Vert.x, single or clustered: its metrics on, and its sockets on epoll where it can. */
    private static VertxOptions brokerVertxOptions() {
        return new VertxOptions().setPreferNativeTransport(true)
                .setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true));
    }

    /** Starts a broker on {@code vertx} with {@code config}, its metrics in a registry of its own. */
    public static Future<RunnelServer> start(Vertx vertx, BrokerConfig config) {
        return start(vertx, config, newRegistry());
    }

    /**
     * Starts a broker on {@code vertx} with {@code config}; its metrics and the JVM's go to
     * {@code registry} (pass the one {@code vertx} was built with to serve Vert.x's too). The
     * registry is closed when the broker stops.
     */
    public static Future<RunnelServer> start(Vertx vertx, BrokerConfig config, PrometheusMeterRegistry registry) {
        GroupCommitFlusher flusher = new GroupCommitFlusher();
        WorkerExecutor worker = vertx.createSharedWorkerExecutor("runnel-log", 4);
        int eventLoops = Math.max(1, Runtime.getRuntime().availableProcessors());
        AtomicBoolean ready = new AtomicBoolean();
        BrokerMetrics metrics = new BrokerMetrics(registry);
        JvmGcMetrics gcMetrics = bindJvmMetrics(registry);
        Future<BrokerIdentity> identity = vertx.executeBlocking(
                () -> BrokerIdentity.loadOrCreate(config.dataDir, config.brokerId), false);
        GroupConfig groupConfig = new GroupConfig((int) config.groupInitialRebalanceDelayMs,
                (int) config.groupMinSessionTimeoutMs, (int) config.groupMaxSessionTimeoutMs);
        boolean clustered = config.clusterEnabled;
        if (clustered && !vertx.isClustered()) {
            return Future.failedFuture(new IllegalStateException("cluster.enabled needs a clustered Vert.x"
                    + " (RunnelServer.clusteredVertxWithMetrics)"));
        }
        // In a cluster, replication to the ISR stands in for fsync before acks=all (as in Kafka).
        boolean durableAcks = DURABLE_ACKS && !clustered;
        Cluster[] cluster = new Cluster[1];
        return identity.compose(id -> TopicManager.start(vertx, config.dataDir, config.topicDefaults(), eventLoops,
                        flusher, worker, durableAcks, metrics, clustered))
                .compose(topics -> !clustered ? Future.succeededFuture(topics)
                        : Cluster.join(vertx, config, topics, registry).map(c -> {
                            cluster[0] = c;
                            return topics;
                        }))
                .compose(topics -> OffsetsTopicStore.start(vertx, topics, config.offsetsTopicNumPartitions)
                        .compose(store -> GroupCoordinator.start(vertx, store, groupConfig))
                        .map(groups -> {
                            BrokerService b = new BrokerService(identity.result(), topics, groups,
                                    config.autoCreateTopicsEnable, config.numPartitions);
                            if (cluster[0] != null) {
                                b.useCluster(cluster[0].replicas(), cluster[0].forwarding());
                                cluster[0].coordinateGroups(vertx, groups, topics);
                            }
                            return b;
                        }))
                .compose(broker -> startRegistry(vertx, config, broker, cluster[0]).map(r -> new Started(broker, r)))
                .compose(started -> {
                    BrokerService broker = started.broker();
                    Registry schemaRegistry = started.registry();
                    TopicManager topics = broker.topics();
                    KafkaListener[] kafkaListener = new KafkaListener[1];
                    EventBus[] eventBus = new EventBus[1];
                    HttpApi api = HttpApi.create(vertx, broker, new HttpApi.Settings(MAX_HTTP_BODY_BYTES,
                            config.consumerInstanceTimeoutMs, ready::get, registry));
                    WebSocketApi ws = WebSocketApi.create(vertx, broker, WebSocketApi.Settings.defaults());
                    ws.mountPage(api.router());
                    HttpServerOptions options = ws.configure(new HttpServerOptions().setHost(config.listenersHost)
                            .setPort(config.httpPort));
                    return vertx.createHttpServer(options)
                            .connectionHandler(connection -> {
                                metrics.httpConnectionOpened();
                                connection.closeHandler(v -> metrics.httpConnectionClosed());
                            })
                            .requestHandler(api.router())
                            .webSocketHandshakeHandler(ws::handshake)
                            .listen()
                            .compose(http -> KafkaListener.start(vertx, broker, config.listenersHost, config.kafkaPort,
                                    config.autoCreateTopicsEnable).map(kafka -> {
                                        kafkaListener[0] = kafka;
                                        return http;
                                    }))
                            .compose(http -> startEventBus(vertx, config, broker).map(bus -> {
                                        eventBus[0] = bus;
                                        return http;
                                    }))
                            .compose(http -> cluster[0] == null ? Future.succeededFuture(http)
                                    : cluster[0].metadata().updateSelf(new BrokerInfo(config.brokerId,
                                            config.advertisedHost, kafkaListener[0].port(), http.actualPort(),
                                            schemaRegistry.http().actualPort(),
                                            cluster[0].metadata().self().memberId())).map(http))
                            .map(http -> {
                                long[] timers = {
                                    vertx.setPeriodic(FLUSH_CHECK_INTERVAL_MS, t -> topics.flushDue()),
                                    vertx.setPeriodic(MAINTENANCE_INTERVAL_MS, t -> topics.maintainAll()
                                            .onFailure(e -> LOG.warn("Log maintenance failed", e))),
                                };
                                ready.set(true);
                                LOG.info("Runnel broker {} ready: HTTP on {}:{}, Kafka on {}:{}, event bus bridge on {}:{},"
                                        + " data in {}, {} topic(s), {} sockets",
                                        config.brokerId, config.listenersHost, http.actualPort(), config.listenersHost,
                                        kafkaListener[0].port(), config.listenersHost, eventBus[0].bridge().port(),
                                        config.dataDir.toAbsolutePath(),
                                        topics.topicNames().size(),
                                        vertx.isNativeTransportEnabled() ? "epoll" : "Java NIO");
                                return new RunnelServer(vertx, broker, api, ws, kafkaListener[0], schemaRegistry,
                                        eventBus[0], cluster[0], flusher,
                                        worker, http, timers, registry, gcMetrics);
                            });
                })
                .onFailure(e -> {
                    gcMetrics.close();
                    registry.close();
                });
    }

    /**
     * The schema registry over the broker's {@code _schemas} topic, and its REST API on
     * {@code registry.port}. In a cluster (non-null {@code cluster}) it follows the topic, writes
     * while this broker leads {@code _schemas-0}, and its API forwards writes to the one that does.
     */
    private static Future<Registry> startRegistry(Vertx vertx, BrokerConfig config, BrokerService broker,
                                                  Cluster cluster) {
        HttpClient forwarding = cluster == null ? null : vertx.createHttpClient();
        WriterClient writer = cluster == null ? null : new WriterClient(cluster.registryWriters(), forwarding);
        return SchemasTopicStore.start(vertx, broker.topics())
                .compose(store -> SchemaRegistry.start(vertx, store))
                .compose(schemas -> cluster == null ? Future.succeededFuture(schemas)
                        : cluster.followSchemas(schemas, broker.topics()).map(v -> {
                            schemas.forwardRegistrationsTo(writer);
                            return schemas;
                        }))
                .onSuccess(broker::useSchemaRegistry)
                .compose(schemas -> vertx.createHttpServer(new HttpServerOptions()
                                .setHost(config.listenersHost).setPort(config.registryPort))
                        .requestHandler(cluster == null ? RegistryApi.router(vertx, schemas)
                                : RegistryApi.clusterRouter(vertx, schemas, writer))
                        .listen()
                        .map(http -> new Registry(schemas, http, forwarding)))
                .onFailure(e -> {
                    if (forwarding != null) {
                        forwarding.close();
                    }
                });
    }

    /** The event bus API, then the bridge in front of it on {@code bridge.port}. */
    private static Future<EventBus> startEventBus(Vertx vertx, BrokerConfig config, BrokerService broker) {
        return EventBusApi.deploy(vertx, broker, EventBusApi.Settings.defaults())
                .compose(api -> EventBusBridge.start(vertx, config.listenersHost, config.bridgePort)
                        .map(bridge -> new EventBus(api, bridge))
                        .recover(e -> api.close().transform(x -> Future.failedFuture(e))));
    }

    private record Started(BrokerService broker, Registry registry) {
    }

    /** Binds the JVM's meters; the GC meters listen to GC notifications until closed. */
    private static JvmGcMetrics bindJvmMetrics(PrometheusMeterRegistry registry) {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(registry);
        return gc;
    }

    /** The port the schema registry's REST API listens on (useful with port 0). */
    public int registryPort() {
        return schemaRegistry.http().actualPort();
    }

    /** The port the Kafka protocol listens on (useful with port 0). */
    public int kafkaPort() {
        return kafka.port();
    }

    /** The port the event bus TCP bridge listens on (useful with port 0). */
    public int bridgePort() {
        return eventBus.bridge().port();
    }

    /** The port the HTTP API listens on (useful with port 0). */
    public int httpPort() {
        return http.actualPort();
    }

    public BrokerService broker() {
        return broker;
    }

    public TopicManager topics() {
        return topics;
    }

    /** Stops taking requests, then closes every log cleanly. Idempotent. */
    public Future<Void> stop() {
        if (!stopped.compareAndSet(false, true)) {
            return Future.succeededFuture();
        }
        for (long t : timers) {
            vertx.cancelTimer(t);
        }
        // WebSocket and event bus subscribers and HTTP consumers leave their groups before the coordinator stops, and it
        // stops before the logs close.
        // Each step runs whatever the one before it did; the logs' close decides the outcome.
        return ws.close()
                .transform(x -> eventBus.bridge().close())
                .transform(x -> eventBus.api().close())
                .transform(x -> http.close())
                .transform(x -> kafka.close())
                .transform(x -> schemaRegistry.http().close())
                .transform(x -> schemaRegistry.forwarding() == null ? Future.succeededFuture()
                        : schemaRegistry.forwarding().close())
                .transform(x -> schemaRegistry.schemas().close())
                .transform(x -> api.close())
                .transform(x -> broker.groups().close())
                .transform(x -> cluster == null ? Future.succeededFuture() : cluster.close())
                .transform(x -> topics.close())
                .eventually(() -> {
                    try {
                        flusher.close();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    gcMetrics.close();
                    registry.close();
                    return worker.close();
                });
    }
}

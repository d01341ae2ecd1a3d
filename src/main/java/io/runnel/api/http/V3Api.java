package io.runnel.api.http;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

import io.runnel.broker.BrokerService;
import io.runnel.broker.TopicConfigs;
import io.runnel.broker.TopicManager;
import io.runnel.config.LogConfig;
import io.vertx.core.AsyncResult;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.HostAndPort;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

import static io.runnel.api.http.Replies.onRequestContext;
import static io.runnel.api.http.Replies.send;
import static io.runnel.api.http.V3Json.badRequest;

/**
 * The Confluent REST Proxy v3 API: cluster, brokers, topics, topic configs, partitions and
 * replicas, and produce ({@link V3ProduceStream}). A client or tool written for Confluent's v3
 * reads the same resources here.
 *
 * <h2>Routes</h2>
 * All under {@code /v3/clusters}; {@code {c}} must be this broker's cluster id, {@code {t}} an
 * existing topic.
 * <ul>
 *   <li>{@code GET /v3/clusters}: KafkaClusterList of the one cluster; {@code GET /v3/clusters/{c}}: KafkaCluster.</li>
 *   <li>{@code GET .../{c}/brokers}, {@code GET .../{c}/brokers/{id}}: this broker (host and port
 *       as the client reached it: there is no other listener to name yet).</li>
 *   <li>{@code GET .../{c}/topics}: KafkaTopicList, by name; {@code POST .../{c}/topics}
 *       {@code {"topic_name","partitions_count"?,"replication_factor"?,"configs"?:[{"name","value"}]}}
 *       → 201 KafkaTopic ({@code partitions_count} missing or -1: {@code num.partitions};
 *       {@code replication_factor} must be 1 or -1: one node holds one replica).</li>
 *   <li>{@code GET .../topics/{t}}: KafkaTopic; {@code DELETE} → 204; {@code PATCH}
 *       {@code {"partitions_count":N}} grows the topic to N partitions → 200 KafkaTopic (Runnel's
 *       own: Confluent grows partitions only through the Kafka protocol).</li>
 *   <li>{@code GET .../topics/{t}/configs}: KafkaTopicConfigList, every topic config with its value
 *       in force; {@code GET .../configs/{name}}; {@code PUT .../configs/{name}} {@code {"value"}} → 204;
 *       {@code DELETE .../configs/{name}} (back to the default) → 204;
 *       {@code POST .../configs:alter} {@code {"data":[{"name","value"?,"operation"?:"SET"|"DELETE"}]}}
 *       → 204, all or nothing.</li>
 *   <li>{@code GET .../topics/{t}/partitions}, {@code .../partitions/{p}}: KafkaPartition(List);
 *       {@code .../partitions/{p}/replicas}, {@code .../replicas/{id}}: KafkaReplica(List).</li>
 *   <li>{@code POST .../topics/{t}/records}: produce, one record or a stream of them; see
 *       {@link V3ProduceStream} and {@link V3Records}. Not read through the body handler: the body
 *       is consumed as it arrives.</li>
 * </ul>
 *
 * <h2>Shapes</h2>
 * Confluent's: every resource has {@code kind}, {@code metadata.self} (an absolute URL built from
 * the request's scheme and Host header, so links work through whatever address the client used)
 * and {@code metadata.resource_name} (a CRN such as {@code crn:///kafka=c/topic=t}); lists have
 * {@code metadata.next} null (no paging: everything fits one page) and {@code data}; links to
 * other resources are {@code {"related": url}}. Content type {@code application/json}.
 *
 * <h2>Configs</h2>
 * A config set on the topic is {@code is_default:false}, source {@code DYNAMIC_TOPIC_CONFIG},
 * with itself as its one synonym; any other is {@code is_default:true}, source
 * {@code DEFAULT_CONFIG} (the broker's default, which the broker's settings may have changed).
 * None is read-only or sensitive.
 *
 * <h2>Errors</h2>
 * {@code {"error_code":N,"message"}} as everywhere in this API. v3 uses plain statuses as codes:
 * 404 for an unknown cluster, broker, topic, partition or config; 400 for a malformed body.
 * Kafka's refusals of what a body asks (a topic that exists, an illegal name, an unknown config
 * or a bad value, fewer partitions) are 40002, status 400, as in Confluent's proxy.
 *
 * <h2>Threading</h2>
 * As {@link HttpApi}: handlers run on the request's event loop and never block; topic changes
 * complete on the topic manager's context and come back with {@link Replies#onRequestContext}.
 * Stateless apart from its broker.
 */
final class V3Api {

    private static final String CREATE_TOPIC_EXAMPLE = "{\"topic_name\":\"orders\",\"partitions_count\":3}";
    private static final Set<String> CREATE_TOPIC_FIELDS =
            Set.of("topic_name", "partitions_count", "replication_factor", "configs");
    private static final Set<String> CONFIG_ENTRY_FIELDS = Set.of("name", "value");
    private static final Set<String> ALTER_ENTRY_FIELDS = Set.of("name", "value", "operation");
    private static final String SOURCE_TOPIC = "DYNAMIC_TOPIC_CONFIG";
    private static final String SOURCE_DEFAULT = "DEFAULT_CONFIG";
    private static final String CLUSTER_PATH = "/v3/clusters/:cluster_id";
    private static final String TOPIC_PATH = CLUSTER_PATH + "/topics/:topic_name";
    private static final String PARTITION_PATH = TOPIC_PATH + "/partitions/:partition_id";

    private final BrokerService broker;
    private final long maxRecordBytes;

    private V3Api(BrokerService broker, long maxRecordBytes) {
        this.broker = broker;
        this.maxRecordBytes = maxRecordBytes;
    }

    /**
     * Adds the v3 routes to {@code router}.
     *
     * @param body         the API's body handler, for the JSON bodies of the admin routes
     * @param maxBodyBytes the body limit of the API: here the largest single record object of a produce stream
     */
    static void mount(Router router, BrokerService broker, BodyHandler body, long maxBodyBytes) {
        V3Api api = new V3Api(broker, maxBodyBytes);
        router.get("/v3/clusters").handler(api::listClusters);
        router.get(CLUSTER_PATH).handler(api::getCluster);
        router.get(CLUSTER_PATH + "/brokers").handler(api::listBrokers);
        router.get(CLUSTER_PATH + "/brokers/:broker_id").handler(api::getBroker);
        router.get(CLUSTER_PATH + "/topics").handler(api::listTopics);
        router.post(CLUSTER_PATH + "/topics").handler(body).handler(api::createTopic);
        router.get(TOPIC_PATH).handler(api::getTopic);
        router.delete(TOPIC_PATH).handler(api::deleteTopic);
        router.patch(TOPIC_PATH).handler(body).handler(api::patchTopic);
        router.get(TOPIC_PATH + "/configs").handler(api::listConfigs);
        // A regex route: in a plain path ":alter" would be read as a path parameter. (Java's group
        // names allow no '_', hence "cluster" and "topic" for this route's parameters.)
        router.postWithRegex("/v3/clusters/(?<cluster>[^/]+)/topics/(?<topic>[^/]+)/configs:alter")
                .handler(body).handler(api::alterConfigs);
        router.get(TOPIC_PATH + "/configs/:name").handler(api::getConfig);
        router.put(TOPIC_PATH + "/configs/:name").handler(body).handler(api::putConfig);
        router.delete(TOPIC_PATH + "/configs/:name").handler(api::deleteConfig);
        router.get(TOPIC_PATH + "/partitions").handler(api::listPartitions);
        router.get(PARTITION_PATH).handler(api::getPartition);
        router.get(PARTITION_PATH + "/replicas").handler(api::listReplicas);
        router.get(PARTITION_PATH + "/replicas/:broker_id").handler(api::getReplica);
        router.post(TOPIC_PATH + "/records").handler(api::produce);
    }

    // ---------------------------------------------------------------- cluster and brokers

    private void listClusters(RoutingContext ctx) {
        Urls urls = new Urls(ctx, broker);
        send(ctx, 200, HttpApi.JSON, list("KafkaClusterList", urls.root + "/v3/clusters",
                new JsonArray().add(clusterJson(urls))));
    }

    private void getCluster(RoutingContext ctx) {
        send(ctx, 200, HttpApi.JSON, clusterJson(cluster(ctx)));
    }

    private JsonObject clusterJson(Urls urls) {
        String c = urls.cluster;
        return resource("KafkaCluster", c, crn())
                .put("cluster_id", clusterId())
                .put("controller", related(c + "/brokers/" + brokerId()))
                .put("acls", related(c + "/acls"))
                .put("brokers", related(c + "/brokers"))
                .put("broker_configs", related(c + "/broker-configs"))
                .put("consumer_groups", related(c + "/consumer-groups"))
                .put("topics", related(c + "/topics"))
                .put("partition_reassignments", related(c + "/topics/-/partitions/-/reassignment"));
    }

    private void listBrokers(RoutingContext ctx) {
        Urls urls = cluster(ctx);
        send(ctx, 200, HttpApi.JSON, list("KafkaBrokerList", urls.cluster + "/brokers",
                new JsonArray().add(brokerJson(ctx, urls))));
    }

    private void getBroker(RoutingContext ctx) {
        Urls urls = cluster(ctx);
        if (!Integer.toString(brokerId()).equals(ctx.pathParam("broker_id"))) {
            throw new HttpApiException(ErrorCodes.NOT_FOUND, "Broker '" + ctx.pathParam("broker_id")
                    + "' not found: this cluster has one broker, " + brokerId());
        }
        send(ctx, 200, HttpApi.JSON, brokerJson(ctx, urls));
    }

    private JsonObject brokerJson(RoutingContext ctx, Urls urls) {
        String self = urls.cluster + "/brokers/" + brokerId();
        HostAndPort reached = reachedAt(ctx.request());
        return resource("KafkaBroker", self, crn() + "/broker=" + brokerId())
                .put("cluster_id", clusterId())
                .put("broker_id", brokerId())
                .put("host", reached.host())
                .put("port", reached.port())
                .putNull("rack")
                .put("configs", related(self + "/configs"))
                .put("partition_replicas", related(self + "/partition-replicas"));
    }

    // ---------------------------------------------------------------- topics

    private void listTopics(RoutingContext ctx) {
        Urls urls = cluster(ctx);
        JsonArray data = new JsonArray();
        for (String name : broker.topics().topicNames()) {
            try {
                data.add(topicJson(urls, broker.topics().topic(name)));
            } catch (UnknownTopicOrPartitionException deletedMeanwhile) {
                // Deleted between listing the names and reading it: not there any more.
            }
        }
        send(ctx, 200, HttpApi.JSON, list("KafkaTopicList", urls.cluster + "/topics", data));
    }

    private void createTopic(RoutingContext ctx) {
        Urls urls = cluster(ctx);
        JsonObject body = V3Json.object(ctx.body().buffer(), CREATE_TOPIC_EXAMPLE);
        V3Json.allowOnly(body, CREATE_TOPIC_FIELDS, "");
        String name = V3Json.requiredString(body, "topic_name", "");
        Integer partitions = V3Json.optionalInt(body, "partitions_count", "");
        if (partitions == null || partitions == -1) {
            partitions = broker.defaultPartitions();
        } else if (partitions < 1) {
            throw badRequest("partitions_count must be at least 1, or -1 for the broker's default (was " + partitions + ")");
        }
        Integer replication = V3Json.optionalInt(body, "replication_factor", "");
        if (replication != null && replication != 1 && replication != -1) {
            throw badRequest("replication_factor " + replication + " is not possible: this single-node broker keeps one"
                    + " replica of each partition; use 1 (or -1 for the default)");
        }
        Map<String, String> configs = new TreeMap<>();
        JsonArray entries = V3Json.optionalArray(body, "configs", "");
        for (int i = 0; entries != null && i < entries.size(); i++) {
            String where = "configs[" + i + "]";
            JsonObject entry = V3Json.objectAt(entries, i, where);
            V3Json.allowOnly(entry, CONFIG_ENTRY_FIELDS, where + ".");
            String key = V3Json.requiredString(entry, "name", where + ".");
            String value = V3Json.requiredString(entry, "value", where + ".");
            if (configs.put(key, value) != null) {
                throw badRequest(where + ": config '" + key + "' is given twice");
            }
        }
        onRequestContext(broker.topics().createTopic(name, partitions, configs)).onComplete(done -> {
            if (done.failed()) {
                ctx.fail(failure(ctx, done.cause(), broker));
                return;
            }
            send(ctx, 201, HttpApi.JSON, topicJson(urls, done.result()));
        });
    }

    private void getTopic(RoutingContext ctx) {
        Urls urls = cluster(ctx);
        send(ctx, 200, HttpApi.JSON, topicJson(urls, topic(ctx)));
    }

    private void deleteTopic(RoutingContext ctx) {
        cluster(ctx);
        TopicManager.Topic t = topic(ctx);
        onRequestContext(broker.topics().deleteTopic(t.name())).onComplete(done -> answerNoContent(ctx, done));
    }

    private void patchTopic(RoutingContext ctx) {
        Urls urls = cluster(ctx);
        TopicManager.Topic t = topic(ctx);
        JsonObject body = V3Json.object(ctx.body().buffer(), "{\"partitions_count\":" + (t.partitions().size() + 1) + "}");
        V3Json.allowOnly(body, Set.of("partitions_count"), "");
        Integer count = V3Json.optionalInt(body, "partitions_count", "");
        if (count == null) {
            throw badRequest("partitions_count is required: the topic's new partition count");
        }
        onRequestContext(broker.topics().createPartitions(t.name(), count)).onComplete(done -> {
            if (done.failed()) {
                ctx.fail(failure(ctx, done.cause(), broker));
                return;
            }
            send(ctx, 200, HttpApi.JSON, topicJson(urls, done.result()));
        });
    }

    private JsonObject topicJson(Urls urls, TopicManager.Topic t) {
        String self = urls.topic(t.name());
        return resource("KafkaTopic", self, crn() + "/topic=" + t.name())
                .put("cluster_id", clusterId())
                .put("topic_name", t.name())
                .put("is_internal", isInternal(t.name()))
                .put("replication_factor", 1)
                .put("partitions_count", t.partitions().size())
                .put("partitions", related(self + "/partitions"))
                .put("configs", related(self + "/configs"))
                .put("partition_reassignments", related(self + "/partitions/-/reassignment"))
                .put("authorized_operations", new JsonArray());
    }

    /** Kafka's internal topics ({@code __consumer_offsets}, …) and the schema registry's {@code _schemas}. */
    static boolean isInternal(String topic) {
        return topic.startsWith("__") || topic.startsWith("_schemas");
    }

    // ---------------------------------------------------------------- configs

    private void listConfigs(RoutingContext ctx) {
        Urls urls = cluster(ctx);
        TopicManager.Topic t = topic(ctx);
        JsonArray data = new JsonArray();
        effectiveConfigs(t).forEach((name, value) -> data.add(configJson(urls, t, name, value)));
        send(ctx, 200, HttpApi.JSON, list("KafkaTopicConfigList", urls.topic(t.name()) + "/configs", data));
    }

    private void getConfig(RoutingContext ctx) {
        Urls urls = cluster(ctx);
        TopicManager.Topic t = topic(ctx);
        String name = knownConfig(t, ctx.pathParam("name"));
        send(ctx, 200, HttpApi.JSON, configJson(urls, t, name, effectiveConfigs(t).get(name)));
    }

    /** Unknown names and bad values are the topic manager's to refuse (40002, its message names the key). */
    private void putConfig(RoutingContext ctx) {
        cluster(ctx);
        TopicManager.Topic t = topic(ctx);
        String name = ctx.pathParam("name");
        JsonObject body = V3Json.object(ctx.body().buffer(), "{\"value\":\"…\"}");
        V3Json.allowOnly(body, Set.of("value"), "");
        String value = V3Json.requiredString(body, "value", "");
        alter(ctx, t, Map.of(name, value), Set.of());
    }

    private void deleteConfig(RoutingContext ctx) {
        cluster(ctx);
        TopicManager.Topic t = topic(ctx);
        alter(ctx, t, Map.of(), Set.of(knownConfig(t, ctx.pathParam("name"))));
    }

    private void alterConfigs(RoutingContext ctx) {
        cluster(ctx, ctx.pathParam("cluster"));
        TopicManager.Topic t = topic(ctx.pathParam("topic"));
        JsonObject body = V3Json.object(ctx.body().buffer(),
                "{\"data\":[{\"name\":\"retention.ms\",\"value\":\"60000\"},{\"name\":\"cleanup.policy\",\"operation\":\"DELETE\"}]}");
        V3Json.allowOnly(body, Set.of("data"), "");
        JsonArray entries = V3Json.optionalArray(body, "data", "");
        if (entries == null) {
            throw badRequest("data is required: [{\"name\":…,\"value\":…,\"operation\":\"SET\"|\"DELETE\"}, …]");
        }
        Map<String, String> set = new TreeMap<>();
        Set<String> delete = new HashSet<>();
        for (int i = 0; i < entries.size(); i++) {
            String where = "data[" + i + "]";
            JsonObject entry = V3Json.objectAt(entries, i, where);
            V3Json.allowOnly(entry, ALTER_ENTRY_FIELDS, where + ".");
            String name = V3Json.requiredString(entry, "name", where + ".");
            String operation = V3Json.optionalString(entry, "operation", where + ".");
            if (set.containsKey(name) || delete.contains(name)) {
                throw badRequest(where + ": config '" + name + "' appears twice");
            }
            if (operation == null || operation.equals("SET")) {
                set.put(name, V3Json.requiredString(entry, "value", where + "."));
            } else if (operation.equals("DELETE")) {
                if (entry.getValue("value") != null) {
                    throw badRequest(where + ": a DELETE takes no value (it resets '" + name + "' to its default)");
                }
                if (!isTopicConfig(t, name)) {
                    throw badRequest(where + ": '" + name + "' is not a topic config");
                }
                delete.add(name);
            } else {
                throw badRequest(where + ".operation '" + operation + "' is not supported: use SET or DELETE");
            }
        }
        alter(ctx, t, set, delete);
    }

    private void alter(RoutingContext ctx, TopicManager.Topic t, Map<String, String> set, Set<String> delete) {
        onRequestContext(broker.topics().alterConfigs(t.name(), set, delete)).onComplete(done -> answerNoContent(ctx, done));
    }

    /** {@code name} when it is a config of {@code t}; else 404. */
    private static String knownConfig(TopicManager.Topic t, String name) {
        if (!isTopicConfig(t, name)) {
            throw new HttpApiException(ErrorCodes.NOT_FOUND, "Config '" + name + "' not found for topic '" + t.name()
                    + "': it is not a topic config");
        }
        return name;
    }

    private static boolean isTopicConfig(TopicManager.Topic t, String name) {
        return LogConfig.KEYS.contains(name) || t.configOverrides().containsKey(name);
    }

    private static SortedMap<String, String> effectiveConfigs(TopicManager.Topic t) {
        return TopicConfigs.effective(t.config(), t.configOverrides());
    }

    private JsonObject configJson(Urls urls, TopicManager.Topic t, String name, String value) {
        boolean set = t.configOverrides().containsKey(name);
        String source = set ? SOURCE_TOPIC : SOURCE_DEFAULT;
        return resource("KafkaTopicConfig", urls.topic(t.name()) + "/configs/" + name,
                crn() + "/topic=" + t.name() + "/config=" + name)
                .put("cluster_id", clusterId())
                .put("topic_name", t.name())
                .put("name", name)
                .put("value", value)
                .put("is_default", !set)
                .put("is_read_only", false)
                .put("is_sensitive", false)
                .put("source", source)
                .put("synonyms", new JsonArray().add(new JsonObject()
                        .put("name", name).put("value", value).put("source", source)));
    }

    // ---------------------------------------------------------------- partitions and replicas

    private void listPartitions(RoutingContext ctx) {
        Urls urls = cluster(ctx);
        TopicManager.Topic t = topic(ctx);
        JsonArray data = new JsonArray();
        for (int p = 0; p < t.partitions().size(); p++) {
            data.add(partitionJson(urls, t.name(), p));
        }
        send(ctx, 200, HttpApi.JSON, list("KafkaPartitionList", urls.topic(t.name()) + "/partitions", data));
    }

    private void getPartition(RoutingContext ctx) {
        Urls urls = cluster(ctx);
        TopicManager.Topic t = topic(ctx);
        send(ctx, 200, HttpApi.JSON, partitionJson(urls, t.name(), partition(ctx, t)));
    }

    /** A single node is a cluster of one: this broker leads every partition and is its only replica. */
    private JsonObject partitionJson(Urls urls, String topic, int partition) {
        String self = urls.partition(topic, partition);
        return resource("KafkaPartition", self, crn() + "/topic=" + topic + "/partition=" + partition)
                .put("cluster_id", clusterId())
                .put("topic_name", topic)
                .put("partition_id", partition)
                .put("leader", related(self + "/replicas/" + brokerId()))
                .put("replicas", related(self + "/replicas"))
                .put("reassignment", related(self + "/reassignment"));
    }

    private void listReplicas(RoutingContext ctx) {
        Urls urls = cluster(ctx);
        TopicManager.Topic t = topic(ctx);
        int p = partition(ctx, t);
        send(ctx, 200, HttpApi.JSON, list("KafkaReplicaList", urls.partition(t.name(), p) + "/replicas",
                new JsonArray().add(replicaJson(urls, t.name(), p))));
    }

    private void getReplica(RoutingContext ctx) {
        Urls urls = cluster(ctx);
        TopicManager.Topic t = topic(ctx);
        int p = partition(ctx, t);
        if (!Integer.toString(brokerId()).equals(ctx.pathParam("broker_id"))) {
            throw new HttpApiException(ErrorCodes.NOT_FOUND, "Replica '" + ctx.pathParam("broker_id") + "' not found:"
                    + " partition " + p + " of '" + t.name() + "' has one replica, on broker " + brokerId());
        }
        send(ctx, 200, HttpApi.JSON, replicaJson(urls, t.name(), p));
    }

    private JsonObject replicaJson(Urls urls, String topic, int partition) {
        return resource("KafkaReplica", urls.partition(topic, partition) + "/replicas/" + brokerId(),
                crn() + "/topic=" + topic + "/partition=" + partition + "/replica=" + brokerId())
                .put("cluster_id", clusterId())
                .put("topic_name", topic)
                .put("partition_id", partition)
                .put("broker_id", brokerId())
                .put("is_leader", true)
                .put("is_in_sync", true)
                .put("broker", related(urls.cluster + "/brokers/" + brokerId()));
    }

    // ---------------------------------------------------------------- records

    private void produce(RoutingContext ctx) {
        cluster(ctx);
        // No auto-creation here, as in Confluent's v3: producing to a missing topic is a 404.
        TopicManager.Topic t = topic(ctx);
        V3ProduceStream.start(ctx, broker, t.name(), maxRecordBytes);
    }

    // ---------------------------------------------------------------- shared

    /** The links of a request; {@code cluster} checked to be this cluster's. */
    static final class Urls {
        /** Scheme and authority as the client addressed us, e.g. {@code http://127.0.0.1:8082}. */
        final String root;
        /** {@code root/v3/clusters/{cluster_id}}. */
        final String cluster;

        Urls(RoutingContext ctx, BrokerService broker) {
            HttpServerRequest request = ctx.request();
            String host = request.getHeader(HttpHeaders.HOST);
            if (host == null || host.isBlank()) {
                HostAndPort reached = reachedAt(request);
                host = reached.host() + ":" + reached.port();
            }
            this.root = request.scheme() + "://" + host;
            this.cluster = root + "/v3/clusters/" + broker.identity().clusterId();
        }

        String topic(String name) {
            return cluster + "/topics/" + name;
        }

        String partition(String topic, int partition) {
            return topic(topic) + "/partitions/" + partition;
        }
    }

    /** The address the client reached: the Host header's, else the socket's. */
    private static HostAndPort reachedAt(HttpServerRequest request) {
        HostAndPort authority = request.authority();
        int localPort = request.localAddress() != null ? request.localAddress().port() : -1;
        if (authority != null) {
            return HostAndPort.create(authority.host(), authority.port() >= 0 ? authority.port() : localPort);
        }
        String localHost = request.localAddress() != null ? request.localAddress().hostAddress() : "localhost";
        return HostAndPort.create(localHost, localPort);
    }

    /** Checks the path's {@code cluster_id}: 404 unless it is this cluster's. */
    private Urls cluster(RoutingContext ctx) {
        return cluster(ctx, ctx.pathParam("cluster_id"));
    }

    private Urls cluster(RoutingContext ctx, String id) {
        return cluster(ctx, broker, id);
    }

    /** The links of a request to cluster {@code id}: 404 unless it is this broker's cluster. */
    static Urls cluster(RoutingContext ctx, BrokerService broker, String id) {
        String clusterId = broker.identity().clusterId();
        if (!clusterId.equals(id)) {
            throw new HttpApiException(ErrorCodes.NOT_FOUND, "Cluster '" + id + "' not found: this broker belongs to"
                    + " cluster '" + clusterId + "' (see GET /v3/clusters)");
        }
        return new Urls(ctx, broker);
    }

    private TopicManager.Topic topic(RoutingContext ctx) {
        return topic(ctx.pathParam("topic_name"));
    }

    private TopicManager.Topic topic(String name) {
        try {
            return broker.topics().topic(name);
        } catch (UnknownTopicOrPartitionException e) {
            throw topicNotFound(name);
        }
    }

    static HttpApiException topicNotFound(String topic) {
        return new HttpApiException(ErrorCodes.NOT_FOUND, "Topic '" + topic + "' not found");
    }

    private static int partition(RoutingContext ctx, TopicManager.Topic t) {
        String raw = ctx.pathParam("partition_id");
        int p;
        try {
            p = Integer.parseInt(raw);
        } catch (NumberFormatException e) {
            p = -1;
        }
        if (p < 0 || p >= t.partitions().size()) {
            throw new HttpApiException(ErrorCodes.NOT_FOUND, "Partition '" + raw + "' not found: topic '" + t.name()
                    + "' has partitions 0 to " + (t.partitions().size() - 1));
        }
        return p;
    }

    /**
     * The answer to a broker call that failed: v3's 404 for an unknown topic or partition, else
     * as every route of this API answers ({@link Replies#requestFailure}).
     */
    static HttpApiException failure(RoutingContext ctx, Throwable error, BrokerService broker) {
        if (error instanceof UnknownTopicOrPartitionException) {
            return new HttpApiException(ErrorCodes.NOT_FOUND, error.getMessage());
        }
        return Replies.requestFailure(ctx, error, broker, null);
    }

    private void answerNoContent(RoutingContext ctx, AsyncResult<?> done) {
        if (done.failed()) {
            ctx.fail(failure(ctx, done.cause(), broker));
            return;
        }
        ctx.response().setStatusCode(204).end();
    }

    private String clusterId() {
        return broker.identity().clusterId();
    }

    private int brokerId() {
        return broker.identity().brokerId();
    }

    private String crn() {
        return "crn:///kafka=" + clusterId();
    }

    static JsonObject resource(String kind, String self, String resourceName) {
        return new JsonObject()
                .put("kind", kind)
                .put("metadata", new JsonObject().put("self", self).put("resource_name", resourceName));
    }

    static JsonObject list(String kind, String self, JsonArray data) {
        return new JsonObject()
                .put("kind", kind)
                .put("metadata", new JsonObject().put("self", self).putNull("next"))
                .put("data", data);
    }

    static JsonObject related(String url) {
        return new JsonObject().put("related", url);
    }
}

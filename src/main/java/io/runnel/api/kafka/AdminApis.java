package io.runnel.api.kafka;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.message.AlterConfigsRequestData;
import org.apache.kafka.common.message.AlterConfigsResponseData;
import org.apache.kafka.common.message.CreatePartitionsRequestData;
import org.apache.kafka.common.message.CreatePartitionsResponseData;
import org.apache.kafka.common.message.CreateTopicsRequestData;
import org.apache.kafka.common.message.CreateTopicsResponseData;
import org.apache.kafka.common.message.DeleteTopicsRequestData;
import org.apache.kafka.common.message.DeleteTopicsResponseData;
import org.apache.kafka.common.message.DescribeClusterResponseData;
import org.apache.kafka.common.message.DescribeConfigsRequestData;
import org.apache.kafka.common.message.DescribeConfigsResponseData;
import org.apache.kafka.common.message.IncrementalAlterConfigsRequestData;
import org.apache.kafka.common.message.IncrementalAlterConfigsResponseData;
import org.apache.kafka.common.message.MetadataRequestData;
import org.apache.kafka.common.message.MetadataResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.DescribeConfigsResponse;

import io.runnel.broker.BrokerService;
import io.runnel.config.ConfigException;
import io.runnel.broker.TopicConfigs;
import io.runnel.broker.TopicManager;
import io.vertx.core.Future;

/**
 * The Kafka APIs that describe and change the cluster's shape: Metadata, CreateTopics,
 * DeleteTopics, CreatePartitions, DescribeConfigs, IncrementalAlterConfigs, AlterConfigs and DescribeCluster,
 * each a translation onto the broker's {@link TopicManager}. Stateless.
 *
 * <p>A single node is a cluster of one: this broker is the controller, and the leader and only
 * replica of every partition, in leader epoch {@link DataApis#LEADER_EPOCH}. Topics have no ids
 * (every id is {@link Uuid#ZERO_UUID}), which the versions served allow. Metadata creates missing
 * topics when the client allows it and {@code auto.create.topics.enable} is on, as Kafka does.
 */
final class AdminApis {

    private final BrokerService broker;
    private final KafkaApis.Node self;
    private final boolean autoCreateTopics;

    AdminApis(BrokerService broker, KafkaApis.Node self, boolean autoCreateTopics) {
        this.broker = broker;
        this.self = self;
        this.autoCreateTopics = autoCreateTopics;
    }

    private TopicManager topics() {
        return broker.topics();
    }

    // ---------------------------------------------------------------- metadata

    Future<MetadataResponseData> metadata(MetadataRequestData request, short version) {
        Set<String> names;
        // Topics asked for by id alone (a null name, v10+): we keep no ids, so none is known.
        List<Uuid> unknownIds = new ArrayList<>();
        if (request.topics() == null || (version == 0 && request.topics().isEmpty())) {
            names = new LinkedHashSet<>(topics().topicNames());
        } else {
            names = new LinkedHashSet<>();
            request.topics().forEach(t -> {
                if (t.name() != null) {
                    names.add(t.name());
                } else {
                    unknownIds.add(t.topicId());
                }
            });
        }
        boolean mayCreate = autoCreateTopics && (version < 4 || request.allowAutoTopicCreation());
        Map<String, Future<?>> creating = new java.util.LinkedHashMap<>();
        for (String name : names) {
            if (mayCreate && !exists(name)) {
                creating.put(name, topics().createTopic(name, broker.defaultPartitions(), Map.of())
                        .recover(e -> e instanceof TopicExistsException ? Future.succeededFuture() : Future.failedFuture(e)));
            }
        }
        List<String> ordered = new ArrayList<>(names);
        return Future.join(new ArrayList<>(creating.values())).transform(x -> {
            var cluster = broker.cluster().map(c -> c.metadata()).orElse(null);
            MetadataResponseData response = new MetadataResponseData()
                    .setClusterId(broker.identity().clusterId())
                    .setControllerId(cluster == null ? self.id() : cluster.controllerId());
            if (cluster == null) {
                response.brokers().add(new MetadataResponseData.MetadataResponseBroker()
                        .setNodeId(self.id()).setHost(self.host()).setPort(self.port()));
            } else {
                cluster.kafkaBrokers().forEach(b -> response.brokers().add(
                        new MetadataResponseData.MetadataResponseBroker().setNodeId(b.id()).setHost(b.host())
                                .setPort(b.kafkaPort())));
            }
            unknownIds.forEach(id -> response.topics().add(new MetadataResponseData.MetadataResponseTopic()
                    .setName(null).setTopicId(id).setErrorCode(Errors.UNKNOWN_TOPIC_ID.code())));
            for (String name : ordered) {
                MetadataResponseData.MetadataResponseTopic topic = new MetadataResponseData.MetadataResponseTopic()
                        .setName(name).setTopicId(Uuid.ZERO_UUID).setIsInternal(name.startsWith("__"));
                response.topics().add(topic);
                TopicManager.Topic t;
                try {
                    t = topics().topic(name);
                } catch (UnknownTopicOrPartitionException e) {
                    Future<?> creation = creating.get(name);
                    Throwable why = creation != null && creation.failed() ? creation.cause() : null;
                    topic.setErrorCode((why != null ? Errors.forException(why) : Errors.UNKNOWN_TOPIC_OR_PARTITION).code());
                    continue;
                }
                for (int p = 0; p < t.partitions().size(); p++) {
                    if (cluster == null) {
                        topic.partitions().add(new MetadataResponseData.MetadataResponsePartition()
                                .setPartitionIndex(p).setLeaderId(self.id()).setLeaderEpoch(DataApis.LEADER_EPOCH)
                                .setReplicaNodes(List.of(self.id())).setIsrNodes(List.of(self.id())));
                        continue;
                    }
                    topic.partitions().add(clusterPartition(cluster, name, p));
                }
            }
            return Future.succeededFuture(response);
        });
    }

    /**
     * A partition as the cluster has it: its leader when that broker is live (else
     * LEADER_NOT_AVAILABLE, so clients wait and ask again), epoch, replicas and ISR.
     */
    private static MetadataResponseData.MetadataResponsePartition clusterPartition(
            io.runnel.cluster.ClusterMetadata cluster, String topic, int p) {
        var answer = new MetadataResponseData.MetadataResponsePartition().setPartitionIndex(p);
        var state = cluster.partition(topic, p).orElse(null);
        if (state == null) {
            return answer.setErrorCode(Errors.LEADER_NOT_AVAILABLE.code()).setLeaderId(-1).setLeaderEpoch(-1)
                    .setReplicaNodes(List.of()).setIsrNodes(List.of());
        }
        boolean led = state.hasLeader() && cluster.kafkaBroker(state.leader()).isPresent();
        return answer.setErrorCode(led ? Errors.NONE.code() : Errors.LEADER_NOT_AVAILABLE.code())
                .setLeaderId(led ? state.leader() : -1).setLeaderEpoch(state.leaderEpoch())
                .setReplicaNodes(state.replicas()).setIsrNodes(state.isr())
                .setOfflineReplicas(state.replicas().stream().filter(r -> !cluster.isLive(r)).toList());
    }

    private boolean exists(String name) {
        return topics().topicNames().contains(name);
    }

    Future<DescribeClusterResponseData> describeCluster() {
        var cluster = broker.cluster().map(c -> c.metadata()).orElse(null);
        DescribeClusterResponseData response = new DescribeClusterResponseData()
                .setClusterId(broker.identity().clusterId())
                .setControllerId(cluster == null ? self.id() : cluster.controllerId());
        if (cluster == null) {
            response.brokers().add(new DescribeClusterResponseData.DescribeClusterBroker()
                    .setBrokerId(self.id()).setHost(self.host()).setPort(self.port()));
        } else {
            cluster.kafkaBrokers().forEach(b -> response.brokers().add(
                    new DescribeClusterResponseData.DescribeClusterBroker().setBrokerId(b.id()).setHost(b.host())
                            .setPort(b.kafkaPort())));
        }
        return Future.succeededFuture(response);
    }

    // ---------------------------------------------------------------- topics

    Future<CreateTopicsResponseData> createTopics(CreateTopicsRequestData request) {
        CreateTopicsResponseData response = new CreateTopicsResponseData();
        List<Future<?>> creating = new ArrayList<>();
        for (CreateTopicsRequestData.CreatableTopic topic : request.topics()) {
            CreateTopicsResponseData.CreatableTopicResult result = new CreateTopicsResponseData.CreatableTopicResult()
                    .setName(topic.name()).setTopicId(Uuid.ZERO_UUID).setNumPartitions(-1).setReplicationFactor((short) -1);
            response.topics().add(result);
            int liveBrokers = broker.cluster().map(c -> c.metadata().liveBrokerIds().size()).orElse(1);
            short factor = topic.replicationFactor();
            if (factor != -1 && (factor < 1 || factor > liveBrokers)) {
                fail(result, new InvalidReplicationFactorException("Replication factor " + factor
                        + " is more than the cluster's " + liveBrokers + " live broker(s)"));
                continue;
            }
            if (!topic.assignments().isEmpty()) {
                fail(result, new InvalidRequestException("Manual replica assignment is not supported"));
                continue;
            }
            int partitions = topic.numPartitions() == -1 ? broker.defaultPartitions() : topic.numPartitions();
            Map<String, String> configs = new HashMap<>();
            topic.configs().forEach(c -> configs.put(c.name(), c.value()));
            if (request.validateOnly()) {
                if (exists(topic.name())) {
                    fail(result, new TopicExistsException("Topic '" + topic.name() + "' already exists."));
                } else {
                    result.setNumPartitions(partitions).setReplicationFactor(factor == -1 ? (short) 1 : factor);
                }
                continue;
            }
            String name = topic.name();
            creating.add(topics().createTopic(name, partitions, factor, configs)
                    .onSuccess(t -> result.setNumPartitions(t.partitions().size()).setReplicationFactor(
                            (short) (int) broker.cluster().flatMap(c -> c.metadata().partition(name, 0))
                                    .map(s -> s.replicas().size()).orElse(1)))
                    .onFailure(e -> fail(result, e)));
        }
        return Future.join(creating).transform(x -> Future.succeededFuture(response));
    }

    private static void fail(CreateTopicsResponseData.CreatableTopicResult result, Throwable e) {
        result.setErrorCode(Errors.forException(e).code()).setErrorMessage(e.getMessage());
    }

    Future<DeleteTopicsResponseData> deleteTopics(DeleteTopicsRequestData request) {
        DeleteTopicsResponseData response = new DeleteTopicsResponseData();
        List<Future<?>> deleting = new ArrayList<>();
        for (String name : request.topicNames()) {
            DeleteTopicsResponseData.DeletableTopicResult result =
                    new DeleteTopicsResponseData.DeletableTopicResult().setName(name);
            response.responses().add(result);
            deleting.add(topics().deleteTopic(name).onFailure(e -> result.setErrorCode(Errors.forException(e).code())
                    .setErrorMessage(e.getMessage())));
        }
        return Future.join(deleting).transform(x -> Future.succeededFuture(response));
    }

    Future<CreatePartitionsResponseData> createPartitions(CreatePartitionsRequestData request) {
        CreatePartitionsResponseData response = new CreatePartitionsResponseData();
        List<Future<?>> growing = new ArrayList<>();
        for (CreatePartitionsRequestData.CreatePartitionsTopic topic : request.topics()) {
            CreatePartitionsResponseData.CreatePartitionsTopicResult result =
                    new CreatePartitionsResponseData.CreatePartitionsTopicResult().setName(topic.name());
            response.results().add(result);
            if (request.validateOnly()) {
                continue;
            }
            growing.add(topics().createPartitions(topic.name(), topic.count())
                    .onFailure(e -> result.setErrorCode(Errors.forException(e).code()).setErrorMessage(e.getMessage())));
        }
        return Future.join(growing).transform(x -> Future.succeededFuture(response));
    }

    // ---------------------------------------------------------------- configs

    Future<DescribeConfigsResponseData> describeConfigs(DescribeConfigsRequestData request) {
        DescribeConfigsResponseData response = new DescribeConfigsResponseData();
        for (DescribeConfigsRequestData.DescribeConfigsResource resource : request.resources()) {
            DescribeConfigsResponseData.DescribeConfigsResult result = new DescribeConfigsResponseData.DescribeConfigsResult()
                    .setResourceType(resource.resourceType()).setResourceName(resource.resourceName());
            response.results().add(result);
            if (resource.resourceType() == ConfigResource.Type.BROKER.id()) {
                continue; // broker settings are static (conf/runnel.properties); none are described yet
            }
            if (resource.resourceType() != ConfigResource.Type.TOPIC.id()) {
                result.setErrorCode(Errors.INVALID_REQUEST.code()).setErrorMessage("Only topic and broker configs are served");
                continue;
            }
            TopicManager.Topic t;
            try {
                t = topics().topic(resource.resourceName());
            } catch (UnknownTopicOrPartitionException e) {
                result.setErrorCode(Errors.UNKNOWN_TOPIC_OR_PARTITION.code()).setErrorMessage(e.getMessage());
                continue;
            }
            Set<String> wanted = resource.configurationKeys() == null ? null : new HashSet<>(resource.configurationKeys());
            TopicConfigs.effective(t.config(), t.configOverrides()).forEach((name, value) -> {
                if (wanted == null || wanted.contains(name)) {
                    boolean overridden = t.configOverrides().containsKey(name);
                    result.configs().add(new DescribeConfigsResponseData.DescribeConfigsResourceResult()
                            .setName(name).setValue(value).setReadOnly(false)
                            .setConfigSource(overridden ? DescribeConfigsResponse.ConfigSource.TOPIC_CONFIG.id()
                                    : DescribeConfigsResponse.ConfigSource.DEFAULT_CONFIG.id())
                            .setIsSensitive(false));
                }
            });
        }
        return Future.succeededFuture(response);
    }

    Future<IncrementalAlterConfigsResponseData> incrementalAlterConfigs(IncrementalAlterConfigsRequestData request) {
        IncrementalAlterConfigsResponseData response = new IncrementalAlterConfigsResponseData();
        List<Future<?>> altering = new ArrayList<>();
        for (IncrementalAlterConfigsRequestData.AlterConfigsResource resource : request.resources()) {
            IncrementalAlterConfigsResponseData.AlterConfigsResourceResponse result =
                    new IncrementalAlterConfigsResponseData.AlterConfigsResourceResponse()
                            .setResourceType(resource.resourceType()).setResourceName(resource.resourceName());
            response.responses().add(result);
            if (resource.resourceType() != ConfigResource.Type.TOPIC.id()) {
                result.setErrorCode(Errors.INVALID_REQUEST.code())
                        .setErrorMessage("Only topic configs can be altered; broker settings live in conf/runnel.properties");
                continue;
            }
            Map<String, String> set = new HashMap<>();
            Set<String> delete = new HashSet<>();
            String unsupported = null;
            for (IncrementalAlterConfigsRequestData.AlterableConfig c : resource.configs()) {
                switch (c.configOperation()) {
                    case 0 -> set.put(c.name(), c.value());
                    case 1 -> delete.add(c.name());
                    default -> unsupported = c.name();
                }
            }
            if (unsupported != null) {
                result.setErrorCode(Errors.INVALID_REQUEST.code())
                        .setErrorMessage("APPEND and SUBTRACT are not supported (config " + unsupported + ")");
                continue;
            }
            if (request.validateOnly()) {
                continue;
            }
            altering.add(topics().alterConfigs(resource.resourceName(), set, delete)
                    .onFailure(e -> result.setErrorCode(Errors.forException(e).code()).setErrorMessage(e.getMessage())));
        }
        return Future.join(altering).transform(x -> Future.succeededFuture(response));
    }

    /**
     * AlterConfigs (the legacy form): each topic's overrides become exactly the configs sent; a
     * config left out returns to its default. With {@code validateOnly} the values are checked and
     * nothing changes.
     */
    Future<AlterConfigsResponseData> alterConfigs(AlterConfigsRequestData request) {
        AlterConfigsResponseData response = new AlterConfigsResponseData();
        List<Future<?>> altering = new ArrayList<>();
        for (AlterConfigsRequestData.AlterConfigsResource resource : request.resources()) {
            AlterConfigsResponseData.AlterConfigsResourceResponse result = new AlterConfigsResponseData.AlterConfigsResourceResponse()
                    .setResourceType(resource.resourceType()).setResourceName(resource.resourceName());
            response.responses().add(result);
            if (resource.resourceType() != ConfigResource.Type.TOPIC.id()) {
                result.setErrorCode(Errors.INVALID_REQUEST.code())
                        .setErrorMessage("Only topic configs can be altered; broker settings live in conf/runnel.properties");
                continue;
            }
            Map<String, String> overrides = new HashMap<>();
            resource.configs().forEach(c -> {
                if (c.value() != null) {
                    overrides.put(c.name(), c.value());
                }
            });
            if (request.validateOnly()) {
                try {
                    topics().topic(resource.resourceName()).config().with(overrides);
                } catch (UnknownTopicOrPartitionException e) {
                    result.setErrorCode(Errors.UNKNOWN_TOPIC_OR_PARTITION.code()).setErrorMessage(e.getMessage());
                } catch (ConfigException e) {
                    result.setErrorCode(Errors.INVALID_CONFIG.code()).setErrorMessage(e.getMessage());
                }
                continue;
            }
            altering.add(topics().replaceConfigs(resource.resourceName(), overrides)
                    .onFailure(e -> result.setErrorCode(Errors.forException(e).code()).setErrorMessage(e.getMessage())));
        }
        return Future.join(altering).transform(x -> Future.succeededFuture(response));
    }
}

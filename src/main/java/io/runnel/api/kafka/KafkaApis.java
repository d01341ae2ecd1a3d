package io.runnel.api.kafka;

import org.apache.kafka.common.message.AlterConfigsRequestData;
import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.message.CreatePartitionsRequestData;
import org.apache.kafka.common.message.CreateTopicsRequestData;
import org.apache.kafka.common.message.DeleteGroupsRequestData;
import org.apache.kafka.common.message.DeleteRecordsRequestData;
import org.apache.kafka.common.message.DeleteTopicsRequestData;
import org.apache.kafka.common.message.DescribeConfigsRequestData;
import org.apache.kafka.common.message.DescribeGroupsRequestData;
import org.apache.kafka.common.message.DescribeProducersRequestData;
import org.apache.kafka.common.message.FetchRequestData;
import org.apache.kafka.common.message.FindCoordinatorRequestData;
import org.apache.kafka.common.message.HeartbeatRequestData;
import org.apache.kafka.common.message.IncrementalAlterConfigsRequestData;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.message.JoinGroupRequestData;
import org.apache.kafka.common.message.LeaveGroupRequestData;
import org.apache.kafka.common.message.ListOffsetsRequestData;
import org.apache.kafka.common.message.MetadataRequestData;
import org.apache.kafka.common.message.OffsetCommitRequestData;
import org.apache.kafka.common.message.OffsetDeleteRequestData;
import org.apache.kafka.common.message.OffsetFetchRequestData;
import org.apache.kafka.common.message.OffsetForLeaderEpochRequestData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.SyncGroupRequestData;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.RequestHeader;

import io.runnel.broker.BrokerService;
import io.vertx.core.Future;

/**
 * Routes a parsed Kafka request to the handler of its API and returns the response body (null
 * for a request Kafka does not answer: Produce with acks=0). Only APIs in {@link SupportedApis}
 * reach here; the connection refuses the rest before parsing. Stateless.
 */
final class KafkaApis {

    /** How clients reach this broker, as Metadata and FindCoordinator tell them. */
    record Node(int id, String host, int port) {
    }

    private final DataApis data;
    private final GroupApis groups;
    private final AdminApis admin;

    KafkaApis(BrokerService broker, Node self, boolean autoCreateTopics) {
        this.data = new DataApis(broker);
        this.groups = new GroupApis(broker, self);
        this.admin = new AdminApis(broker, self, autoCreateTopics);
    }

    @SuppressWarnings("unchecked")
    Future<ApiMessage> handle(RequestHeader header, AbstractRequest request) {
        short v = header.apiVersion();
        ApiMessage body = request.data();
        Future<? extends ApiMessage> answer = switch (header.apiKey()) {
            case API_VERSIONS -> Future.succeededFuture(new ApiVersionsResponseData().setApiKeys(SupportedApis.versions()));
            case METADATA -> admin.metadata((MetadataRequestData) body, v);
            case PRODUCE -> data.produce((ProduceRequestData) body);
            case FETCH -> data.fetch((FetchRequestData) body);
            case LIST_OFFSETS -> data.listOffsets((ListOffsetsRequestData) body, v);
            case OFFSET_FOR_LEADER_EPOCH -> data.offsetForLeaderEpoch((OffsetForLeaderEpochRequestData) body);
            case DELETE_RECORDS -> data.deleteRecords((DeleteRecordsRequestData) body);
            case DESCRIBE_PRODUCERS -> data.describeProducers((DescribeProducersRequestData) body);
            case INIT_PRODUCER_ID -> data.initProducerId((InitProducerIdRequestData) body);
            case FIND_COORDINATOR -> groups.findCoordinator((FindCoordinatorRequestData) body, v);
            case JOIN_GROUP -> groups.join((JoinGroupRequestData) body, header.clientId(), v);
            case SYNC_GROUP -> groups.sync((SyncGroupRequestData) body);
            case HEARTBEAT -> groups.heartbeat((HeartbeatRequestData) body);
            case LEAVE_GROUP -> groups.leave((LeaveGroupRequestData) body, v);
            case OFFSET_COMMIT -> groups.commit((OffsetCommitRequestData) body);
            case OFFSET_FETCH -> groups.fetchOffsets((OffsetFetchRequestData) body);
            case LIST_GROUPS -> groups.listGroups();
            case DESCRIBE_GROUPS -> groups.describeGroups((DescribeGroupsRequestData) body);
            case OFFSET_DELETE -> groups.deleteOffsets((OffsetDeleteRequestData) body);
            case DELETE_GROUPS -> groups.deleteGroups((DeleteGroupsRequestData) body);
            case CREATE_TOPICS -> admin.createTopics((CreateTopicsRequestData) body);
            case DELETE_TOPICS -> admin.deleteTopics((DeleteTopicsRequestData) body);
            case CREATE_PARTITIONS -> admin.createPartitions((CreatePartitionsRequestData) body);
            case DESCRIBE_CONFIGS -> admin.describeConfigs((DescribeConfigsRequestData) body);
            case INCREMENTAL_ALTER_CONFIGS -> admin.incrementalAlterConfigs((IncrementalAlterConfigsRequestData) body);
            case ALTER_CONFIGS -> admin.alterConfigs((AlterConfigsRequestData) body);
            case DESCRIBE_CLUSTER -> admin.describeCluster();
            default -> Future.failedFuture(new IllegalStateException(header.apiKey() + " is listed as served but has no handler"));
        };
        return (Future<ApiMessage>) answer;
    }
}

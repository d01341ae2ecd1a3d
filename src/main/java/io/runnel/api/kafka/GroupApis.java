package io.runnel.api.kafka;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.message.DeleteGroupsRequestData;
import org.apache.kafka.common.message.DeleteGroupsResponseData;
import org.apache.kafka.common.message.DescribeGroupsRequestData;
import org.apache.kafka.common.message.DescribeGroupsResponseData;
import org.apache.kafka.common.message.FindCoordinatorRequestData;
import org.apache.kafka.common.message.FindCoordinatorResponseData;
import org.apache.kafka.common.message.HeartbeatRequestData;
import org.apache.kafka.common.message.HeartbeatResponseData;
import org.apache.kafka.common.message.JoinGroupRequestData;
import org.apache.kafka.common.message.JoinGroupResponseData;
import org.apache.kafka.common.message.LeaveGroupRequestData;
import org.apache.kafka.common.message.LeaveGroupResponseData;
import org.apache.kafka.common.message.ListGroupsResponseData;
import org.apache.kafka.common.message.OffsetCommitRequestData;
import org.apache.kafka.common.message.OffsetCommitResponseData;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.message.OffsetDeleteRequestData;
import org.apache.kafka.common.message.OffsetDeleteResponseData;
import org.apache.kafka.common.message.OffsetFetchRequestData;
import org.apache.kafka.common.message.OffsetFetchResponseData;
import org.apache.kafka.common.message.SyncGroupRequestData;
import org.apache.kafka.common.message.SyncGroupResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.FindCoordinatorRequest;

import io.runnel.broker.BrokerService;
import io.runnel.group.GroupCoordinator;
import io.runnel.group.GroupState;
import io.vertx.core.Future;

/**
 * The Kafka consumer group APIs, each a translation onto the broker's {@link GroupCoordinator}:
 * the same groups the HTTP API's consumer instances join, so a Kafka consumer and an HTTP
 * consumer in one group share its partitions. Errors are the coordinator's Kafka exceptions,
 * answered as their codes. Stateless.
 */
final class GroupApis {

    private final BrokerService broker;
    private final KafkaApis.Node self;

    GroupApis(BrokerService broker, KafkaApis.Node self) {
        this.broker = broker;
        this.self = self;
    }

    private GroupCoordinator groups() {
        return broker.groups();
    }

    /**
     * A group's coordinator: on a single node this broker; in a cluster the leader of the group's
     * {@code __consumer_offsets} partition (COORDINATOR_NOT_AVAILABLE while it has no live leader).
     */
    private FindCoordinatorResponseData.Coordinator coordinatorOf(String groupId,
                                                                  FindCoordinatorResponseData.Coordinator c) {
        var cluster = broker.cluster().orElse(null);
        if (cluster == null) {
            return c.setNodeId(self.id()).setHost(self.host()).setPort(self.port());
        }
        int partition = io.runnel.group.GroupStore.partitionFor(groupId,
                broker.topics().topic(io.runnel.broker.OffsetsTopicStore.TOPIC).partitions().size());
        int leader = cluster.leaderOf(io.runnel.broker.OffsetsTopicStore.TOPIC, partition);
        var info = cluster.metadata().kafkaBroker(leader);
        if (info.isEmpty()) {
            return c.setErrorCode(Errors.COORDINATOR_NOT_AVAILABLE.code()).setNodeId(-1).setHost("").setPort(-1)
                    .setErrorMessage("The coordinator's partition has no leader right now");
        }
        return c.setNodeId(leader).setHost(info.get().host()).setPort(info.get().kafkaPort());
    }

    /** Transactions are not served. */
    Future<FindCoordinatorResponseData> findCoordinator(FindCoordinatorRequestData request, short version) {
        FindCoordinatorResponseData response = new FindCoordinatorResponseData();
        boolean group = request.keyType() == FindCoordinatorRequest.CoordinatorType.GROUP.id();
        if (version < 4) {
            if (!group) {
                return Future.succeededFuture(response.setErrorCode(Errors.COORDINATOR_NOT_AVAILABLE.code())
                        .setNodeId(-1).setHost("").setPort(-1).setErrorMessage("transactions are not served"));
            }
            FindCoordinatorResponseData.Coordinator c = coordinatorOf(request.key(),
                    new FindCoordinatorResponseData.Coordinator());
            return Future.succeededFuture(response.setErrorCode(c.errorCode()).setErrorMessage(c.errorMessage())
                    .setNodeId(c.nodeId()).setHost(c.host()).setPort(c.port()));
        }
        for (String key : request.coordinatorKeys()) {
            FindCoordinatorResponseData.Coordinator c = new FindCoordinatorResponseData.Coordinator().setKey(key);
            if (group) {
                coordinatorOf(key, c);
            } else {
                c.setErrorCode(Errors.COORDINATOR_NOT_AVAILABLE.code()).setNodeId(-1).setHost("").setPort(-1)
                        .setErrorMessage("transactions are not served");
            }
            response.coordinators().add(c);
        }
        return Future.succeededFuture(response);
    }

    Future<JoinGroupResponseData> join(JoinGroupRequestData request, String clientId, short version) {
        List<GroupCoordinator.Protocol> protocols = new ArrayList<>();
        request.protocols().forEach(p -> protocols.add(new GroupCoordinator.Protocol(p.name(), p.metadata())));
        int rebalanceTimeout = version >= 1 ? request.rebalanceTimeoutMs() : request.sessionTimeoutMs();
        GroupCoordinator.JoinRequest join = new GroupCoordinator.JoinRequest(request.groupId(), request.memberId(),
                request.groupInstanceId(), clientId, request.protocolType(), protocols, request.sessionTimeoutMs(),
                rebalanceTimeout);
        return groups().join(join).map(r -> {
            JoinGroupResponseData response = new JoinGroupResponseData()
                    .setGenerationId(r.generationId())
                    .setProtocolType(request.protocolType())
                    .setProtocolName(r.protocolName())
                    .setLeader(r.leaderId())
                    .setMemberId(r.memberId());
            r.members().forEach(m -> response.members().add(new JoinGroupResponseData.JoinGroupResponseMember()
                    .setMemberId(m.memberId()).setGroupInstanceId(m.groupInstanceId()).setMetadata(m.metadata())));
            return response;
        }).otherwise(e -> new JoinGroupResponseData().setErrorCode(Errors.forException(e).code())
                .setGenerationId(-1).setMemberId(request.memberId()).setLeader("")
                .setProtocolName(version >= 7 ? null : ""));
    }

    Future<SyncGroupResponseData> sync(SyncGroupRequestData request) {
        Map<String, byte[]> assignments = new HashMap<>();
        request.assignments().forEach(a -> assignments.put(a.memberId(), a.assignment()));
        return groups().sync(new GroupCoordinator.SyncRequest(request.groupId(), request.generationId(),
                        request.memberId(), request.protocolType(), request.protocolName(), assignments))
                .map(assignment -> new SyncGroupResponseData().setAssignment(assignment)
                        .setProtocolType(request.protocolType()).setProtocolName(request.protocolName()))
                .otherwise(e -> new SyncGroupResponseData().setErrorCode(Errors.forException(e).code())
                        .setAssignment(new byte[0]));
    }

    Future<HeartbeatResponseData> heartbeat(HeartbeatRequestData request) {
        return groups().heartbeat(request.groupId(), request.generationId(), request.memberId())
                .map(v -> new HeartbeatResponseData())
                .otherwise(e -> new HeartbeatResponseData().setErrorCode(Errors.forException(e).code()));
    }

    Future<LeaveGroupResponseData> leave(LeaveGroupRequestData request, short version) {
        LeaveGroupResponseData response = new LeaveGroupResponseData();
        if (version < 3) {
            return groups().leave(request.groupId(), request.memberId()).map(v -> response)
                    .otherwise(e -> response.setErrorCode(Errors.forException(e).code()));
        }
        List<Future<?>> leaving = new ArrayList<>();
        for (LeaveGroupRequestData.MemberIdentity m : request.members()) {
            LeaveGroupResponseData.MemberResponse answer = new LeaveGroupResponseData.MemberResponse()
                    .setMemberId(m.memberId()).setGroupInstanceId(m.groupInstanceId());
            response.members().add(answer);
            leaving.add(groups().leave(request.groupId(), m.memberId())
                    .onFailure(e -> answer.setErrorCode(Errors.forException(e).code())));
        }
        return Future.join(leaving).transform(x -> Future.succeededFuture(response));
    }

    Future<OffsetCommitResponseData> commit(OffsetCommitRequestData request) {
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        OffsetCommitResponseData response = new OffsetCommitResponseData();
        List<OffsetCommitResponseData.OffsetCommitResponsePartition> answers = new ArrayList<>();
        for (OffsetCommitRequestData.OffsetCommitRequestTopic topic : request.topics()) {
            OffsetCommitResponseData.OffsetCommitResponseTopic topicResponse =
                    new OffsetCommitResponseData.OffsetCommitResponseTopic().setName(topic.name());
            response.topics().add(topicResponse);
            for (OffsetCommitRequestData.OffsetCommitRequestPartition p : topic.partitions()) {
                OffsetCommitResponseData.OffsetCommitResponsePartition answer =
                        new OffsetCommitResponseData.OffsetCommitResponsePartition().setPartitionIndex(p.partitionIndex());
                topicResponse.partitions().add(answer);
                if (p.committedOffset() < 0) {
                    // No position in a log; Kafka's clients never send one (OffsetAndMetadata refuses it).
                    answer.setErrorCode(Errors.INVALID_REQUEST.code());
                    continue;
                }
                answers.add(answer);
                offsets.put(new TopicPartition(topic.name(), p.partitionIndex()),
                        new OffsetAndMetadata(p.committedOffset(), p.committedMetadata()));
            }
        }
        return groups().commitOffsets(request.groupId(), request.generationIdOrMemberEpoch(), request.memberId(), offsets)
                .map(v -> response)
                .otherwise(e -> {
                    short code = Errors.forException(e).code();
                    answers.forEach(a -> a.setErrorCode(code));
                    return response;
                });
    }

    Future<OffsetFetchResponseData> fetchOffsets(OffsetFetchRequestData request) {
        List<TopicPartition> asked = null;
        if (request.topics() != null) {
            asked = new ArrayList<>();
            for (OffsetFetchRequestData.OffsetFetchRequestTopic t : request.topics()) {
                for (int p : t.partitionIndexes()) {
                    asked.add(new TopicPartition(t.name(), p));
                }
            }
        }
        List<TopicPartition> partitions = asked;
        return groups().fetchOffsets(request.groupId(), partitions).map(commits -> {
            Map<String, OffsetFetchResponseData.OffsetFetchResponseTopic> byTopic = new java.util.LinkedHashMap<>();
            List<TopicPartition> shown = partitions != null ? partitions : new ArrayList<>(commits.keySet());
            for (TopicPartition tp : shown) {
                OffsetAndMetadata c = commits.get(tp);
                byTopic.computeIfAbsent(tp.topic(), t -> new OffsetFetchResponseData.OffsetFetchResponseTopic().setName(t))
                        .partitions().add(new OffsetFetchResponseData.OffsetFetchResponsePartition()
                                .setPartitionIndex(tp.partition())
                                .setCommittedOffset(c == null ? -1 : c.offset())
                                .setCommittedLeaderEpoch(-1)
                                .setMetadata(c == null ? "" : c.metadata()));
            }
            return new OffsetFetchResponseData().setTopics(new ArrayList<>(byTopic.values()));
        }).otherwise(e -> new OffsetFetchResponseData().setErrorCode(Errors.forException(e).code()));
    }

    Future<ListGroupsResponseData> listGroups() {
        return groups().listGroups().map(list -> {
            ListGroupsResponseData response = new ListGroupsResponseData();
            list.forEach(g -> response.groups().add(new ListGroupsResponseData.ListedGroup().setGroupId(g.groupId())
                    .setProtocolType(g.protocolType()).setGroupState(g.state().kafkaName())));
            return response;
        }).otherwise(e -> new ListGroupsResponseData().setErrorCode(Errors.forException(e).code()));
    }

    Future<DescribeGroupsResponseData> describeGroups(DescribeGroupsRequestData request) {
        DescribeGroupsResponseData response = new DescribeGroupsResponseData();
        List<Future<?>> described = new ArrayList<>();
        for (String groupId : request.groups()) {
            DescribeGroupsResponseData.DescribedGroup answer = new DescribeGroupsResponseData.DescribedGroup()
                    .setGroupId(groupId).setGroupState(GroupState.DEAD.kafkaName()).setProtocolType("").setProtocolData("");
            response.groups().add(answer);
            described.add(groups().describeGroup(groupId).onSuccess(d -> {
                answer.setGroupState(d.state().kafkaName()).setProtocolType(d.protocolType())
                        .setProtocolData(d.protocolName());
                d.members().forEach(m -> answer.members().add(new DescribeGroupsResponseData.DescribedGroupMember()
                        .setMemberId(m.memberId()).setGroupInstanceId(m.groupInstanceId()).setClientId(m.clientId())
                        .setClientHost("/" + self.host()).setMemberMetadata(m.metadata())
                        .setMemberAssignment(m.assignment() == null ? new byte[0] : m.assignment())));
            }).onFailure(e -> {
                // Kafka answers an unknown group as Dead with no members, not as an error.
                if (!(e instanceof GroupIdNotFoundException)) {
                    answer.setErrorCode(Errors.forException(e).code());
                }
            }));
        }
        return Future.join(described).transform(x -> Future.succeededFuture(response));
    }

    Future<DeleteGroupsResponseData> deleteGroups(DeleteGroupsRequestData request) {
        DeleteGroupsResponseData response = new DeleteGroupsResponseData();
        List<Future<?>> deleting = new ArrayList<>();
        for (String groupId : request.groupsNames()) {
            DeleteGroupsResponseData.DeletableGroupResult answer =
                    new DeleteGroupsResponseData.DeletableGroupResult().setGroupId(groupId);
            response.results().add(answer);
            deleting.add(groups().deleteGroup(groupId).onFailure(e -> answer.setErrorCode(Errors.forException(e).code())));
        }
        return Future.join(deleting).transform(x -> Future.succeededFuture(response));
    }

    /** OffsetDelete: a group's committed offsets forgotten, except for topics its members consume. */
    Future<OffsetDeleteResponseData> deleteOffsets(OffsetDeleteRequestData request) {
        List<TopicPartition> partitions = new ArrayList<>();
        request.topics().forEach(t -> t.partitions().forEach(p -> partitions.add(new TopicPartition(t.name(), p.partitionIndex()))));
        return groups().deleteOffsets(request.groupId(), partitions).map(outcome -> {
            OffsetDeleteResponseData response = new OffsetDeleteResponseData();
            for (OffsetDeleteRequestData.OffsetDeleteRequestTopic t : request.topics()) {
                OffsetDeleteResponseData.OffsetDeleteResponseTopic topic =
                        new OffsetDeleteResponseData.OffsetDeleteResponseTopic().setName(t.name());
                response.topics().add(topic);
                for (OffsetDeleteRequestData.OffsetDeleteRequestPartition p : t.partitions()) {
                    ApiException error = outcome.get(new TopicPartition(t.name(), p.partitionIndex()));
                    topic.partitions().add(new OffsetDeleteResponseData.OffsetDeleteResponsePartition()
                            .setPartitionIndex(p.partitionIndex())
                            .setErrorCode(error == null ? Errors.NONE.code() : Errors.forException(error).code()));
                }
            }
            return response;
        }).otherwise(e -> new OffsetDeleteResponseData().setErrorCode(Errors.forException(e).code()));
    }
}

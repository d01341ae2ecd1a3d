package io.runnel.api.kafka;

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.message.AlterConfigsRequestData;
import org.apache.kafka.common.message.ApiVersionsRequestData;
import org.apache.kafka.common.message.CreatePartitionsRequestData;
import org.apache.kafka.common.message.CreateTopicsRequestData;
import org.apache.kafka.common.message.DeleteGroupsRequestData;
import org.apache.kafka.common.message.DeleteRecordsRequestData;
import org.apache.kafka.common.message.DeleteTopicsRequestData;
import org.apache.kafka.common.message.DescribeClusterRequestData;
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
import org.apache.kafka.common.message.ListGroupsRequestData;
import org.apache.kafka.common.message.ListOffsetsRequestData;
import org.apache.kafka.common.message.MetadataRequestData;
import org.apache.kafka.common.message.OffsetCommitRequestData;
import org.apache.kafka.common.message.OffsetDeleteRequestData;
import org.apache.kafka.common.message.OffsetFetchRequestData;
import org.apache.kafka.common.message.OffsetForLeaderEpochRequestData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.SyncGroupRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.SimpleRecord;
import org.apache.kafka.common.requests.ListOffsetsRequest;

/**
 * A valid request body for every API the listener serves, at any version of its range, as a
 * Kafka client would fill it (fields set only at versions that carry them). The requests name
 * {@code topic} (which the caller creates with one partition) and {@code group}; requests that
 * create or delete things name topics derived from {@code topic} and the version, so sending the
 * request for every version of an API in turn is meaningful (CreateTopics v2 makes what
 * DeleteTopics v2 removes; CreatePartitions vN grows its topic to N + 2 partitions).
 *
 * <p>An API with no sample here throws, so a newly advertised API cannot slip past the tests that
 * walk {@link SupportedApis}.
 */
final class SampleRequests {

    private final String topic;
    private final String group;

    SampleRequests(String topic, String group) {
        this.topic = topic;
        this.group = group;
    }

    /** The topic CreateTopics at {@code version} creates and DeleteTopics at {@code version} deletes. */
    String createdTopic(short version) {
        return topic + "-made-v" + version;
    }

    /** The topic CreatePartitions grows (create it with one partition first). */
    String growingTopic() {
        return topic + "-growing";
    }

    static MemoryRecords records(String... values) {
        SimpleRecord[] records = new SimpleRecord[values.length];
        for (int i = 0; i < values.length; i++) {
            records[i] = new SimpleRecord(System.currentTimeMillis(), ("k" + i).getBytes(StandardCharsets.UTF_8),
                    values[i].getBytes(StandardCharsets.UTF_8));
        }
        return MemoryRecords.withRecords(Compression.NONE, records);
    }

    ApiMessage request(ApiKeys api, short v) {
        return switch (api) {
            case API_VERSIONS -> v >= 3
                    ? new ApiVersionsRequestData().setClientSoftwareName("runnel-test").setClientSoftwareVersion("1.0")
                    : new ApiVersionsRequestData();
            case METADATA -> {
                MetadataRequestData m = new MetadataRequestData();
                m.topics().add(new MetadataRequestData.MetadataRequestTopic().setName(topic));
                if (v >= 4) {
                    m.setAllowAutoTopicCreation(false);
                }
                if (v >= 8 && v <= 10) {
                    m.setIncludeClusterAuthorizedOperations(true);
                }
                if (v >= 8) {
                    m.setIncludeTopicAuthorizedOperations(true);
                }
                yield m;
            }
            case PRODUCE -> {
                ProduceRequestData p = new ProduceRequestData().setAcks((short) -1).setTimeoutMs(10_000);
                ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName(topic);
                t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(0)
                        .setRecords(records("produce-v" + v)));
                p.topicData().add(t);
                yield p;
            }
            case FETCH -> {
                FetchRequestData f = new FetchRequestData().setReplicaId(-1).setMaxWaitMs(0).setMinBytes(1)
                        .setMaxBytes(1 << 20).setIsolationLevel((byte) 0);
                if (v >= 7) {
                    f.setSessionId(0).setSessionEpoch(-1);
                }
                FetchRequestData.FetchPartition partition = new FetchRequestData.FetchPartition().setPartition(0)
                        .setFetchOffset(0).setPartitionMaxBytes(1 << 20);
                if (v >= 5) {
                    partition.setLogStartOffset(-1);
                }
                if (v >= 9) {
                    partition.setCurrentLeaderEpoch(0);
                }
                if (v >= 12) {
                    partition.setLastFetchedEpoch(-1);
                }
                f.topics().add(new FetchRequestData.FetchTopic().setTopic(topic).setPartitions(List.of(partition)));
                if (v >= 11) {
                    f.setRackId("");
                }
                yield f;
            }
            case LIST_OFFSETS -> {
                ListOffsetsRequestData l = new ListOffsetsRequestData().setReplicaId(-1);
                if (v >= 2) {
                    l.setIsolationLevel((byte) 0);
                }
                ListOffsetsRequestData.ListOffsetsTopic t = new ListOffsetsRequestData.ListOffsetsTopic().setName(topic);
                // Offsets by time the version can ask for, on distinct partitions as Kafka requires; only
                // partition 0 exists, so the others answer UNKNOWN_TOPIC_OR_PARTITION, which must serialize too.
                List<Long> times = new java.util.ArrayList<>(List.of(ListOffsetsRequest.LATEST_TIMESTAMP,
                        ListOffsetsRequest.EARLIEST_TIMESTAMP, 0L));
                if (v >= 7) {
                    times.add(ListOffsetsRequest.MAX_TIMESTAMP);
                }
                if (v >= 8) {
                    times.add(ListOffsetsRequest.EARLIEST_LOCAL_TIMESTAMP);
                }
                for (int i = 0; i < times.size(); i++) {
                    ListOffsetsRequestData.ListOffsetsPartition p = new ListOffsetsRequestData.ListOffsetsPartition()
                            .setPartitionIndex(i).setTimestamp(times.get(i));
                    if (v >= 4) {
                        p.setCurrentLeaderEpoch(0);
                    }
                    t.partitions().add(p);
                }
                l.topics().add(t);
                yield l;
            }
            case OFFSET_FOR_LEADER_EPOCH -> {
                OffsetForLeaderEpochRequestData o = new OffsetForLeaderEpochRequestData();
                if (v >= 3) {
                    o.setReplicaId(-1);
                }
                OffsetForLeaderEpochRequestData.OffsetForLeaderTopic t =
                        new OffsetForLeaderEpochRequestData.OffsetForLeaderTopic().setTopic(topic);
                t.partitions().add(new OffsetForLeaderEpochRequestData.OffsetForLeaderPartition().setPartition(0)
                        .setLeaderEpoch(0).setCurrentLeaderEpoch(0));
                o.topics().add(t);
                yield o;
            }
            case INIT_PRODUCER_ID -> {
                InitProducerIdRequestData i = new InitProducerIdRequestData().setTransactionalId(null)
                        .setTransactionTimeoutMs(60_000);
                if (v >= 3) {
                    i.setProducerId(-1).setProducerEpoch((short) -1);
                }
                yield i;
            }
            case FIND_COORDINATOR -> {
                FindCoordinatorRequestData f = new FindCoordinatorRequestData();
                if (v >= 1) {
                    f.setKeyType((byte) 0);
                }
                if (v >= 4) {
                    f.setCoordinatorKeys(List.of(group));
                } else {
                    f.setKey(group);
                }
                yield f;
            }
            case JOIN_GROUP -> {
                // A group of its own per version: a join into a group with members waits for them to rejoin.
                JoinGroupRequestData j = new JoinGroupRequestData().setGroupId(group + "-join-v" + v)
                        .setSessionTimeoutMs(10_000).setMemberId("").setProtocolType("consumer");
                if (v >= 1) {
                    j.setRebalanceTimeoutMs(10_000);
                }
                if (v >= 8) {
                    j.setReason("versions test");
                }
                j.protocols().add(new JoinGroupRequestData.JoinGroupRequestProtocol().setName("range")
                        .setMetadata(new byte[] {0, 1}));
                yield j;
            }
            case SYNC_GROUP -> {
                SyncGroupRequestData s = new SyncGroupRequestData().setGroupId(group).setGenerationId(7)
                        .setMemberId("nobody");
                if (v >= 5) {
                    s.setProtocolType("consumer").setProtocolName("range");
                }
                yield s;
            }
            case HEARTBEAT -> new HeartbeatRequestData().setGroupId(group).setGenerationId(7).setMemberId("nobody");
            case LEAVE_GROUP -> v >= 3
                    ? new LeaveGroupRequestData().setGroupId(group).setMembers(List.of(
                            new LeaveGroupRequestData.MemberIdentity().setMemberId("nobody")))
                    : new LeaveGroupRequestData().setGroupId(group).setMemberId("nobody");
            case OFFSET_COMMIT -> {
                OffsetCommitRequestData o = new OffsetCommitRequestData().setGroupId(group)
                        .setGenerationIdOrMemberEpoch(-1).setMemberId("");
                if (v <= 4) {
                    o.setRetentionTimeMs(-1);
                }
                OffsetCommitRequestData.OffsetCommitRequestPartition p =
                        new OffsetCommitRequestData.OffsetCommitRequestPartition().setPartitionIndex(0)
                                .setCommittedOffset(1).setCommittedMetadata("v" + v);
                if (v >= 6) {
                    p.setCommittedLeaderEpoch(0);
                }
                o.topics().add(new OffsetCommitRequestData.OffsetCommitRequestTopic().setName(topic)
                        .setPartitions(List.of(p)));
                yield o;
            }
            case OFFSET_FETCH -> {
                OffsetFetchRequestData o = new OffsetFetchRequestData().setGroupId(group);
                o.topics().add(new OffsetFetchRequestData.OffsetFetchRequestTopic().setName(topic)
                        .setPartitionIndexes(List.of(0, 1)));
                if (v >= 7) {
                    o.setRequireStable(true);
                }
                yield o;
            }
            case LIST_GROUPS -> new ListGroupsRequestData();
            case DESCRIBE_GROUPS -> {
                DescribeGroupsRequestData d = new DescribeGroupsRequestData()
                        .setGroups(List.of(group, group + "-join-v0", "no-such-group"));
                if (v >= 3) {
                    d.setIncludeAuthorizedOperations(true);
                }
                yield d;
            }
            case DELETE_GROUPS -> new DeleteGroupsRequestData().setGroupsNames(List.of("no-such-group"));
            case CREATE_TOPICS -> {
                CreateTopicsRequestData c = new CreateTopicsRequestData().setTimeoutMs(10_000);
                c.topics().add(new CreateTopicsRequestData.CreatableTopic().setName(createdTopic(v)).setNumPartitions(1)
                        .setReplicationFactor((short) 1));
                c.topics().add(new CreateTopicsRequestData.CreatableTopic().setName(topic).setNumPartitions(1)
                        .setReplicationFactor((short) 1)); // exists: an error result in the same answer
                yield c;
            }
            case DELETE_TOPICS -> new DeleteTopicsRequestData().setTimeoutMs(10_000)
                    .setTopicNames(List.of(createdTopic(v), "no-such-topic"));
            case CREATE_PARTITIONS -> {
                CreatePartitionsRequestData c = new CreatePartitionsRequestData().setTimeoutMs(10_000);
                c.topics().add(new CreatePartitionsRequestData.CreatePartitionsTopic().setName(growingTopic())
                        .setCount(v + 2).setAssignments(null));
                yield c;
            }
            case DESCRIBE_CONFIGS -> {
                DescribeConfigsRequestData d = new DescribeConfigsRequestData();
                d.resources().add(new DescribeConfigsRequestData.DescribeConfigsResource()
                        .setResourceType(ConfigResource.Type.TOPIC.id()).setResourceName(topic).setConfigurationKeys(null));
                d.resources().add(new DescribeConfigsRequestData.DescribeConfigsResource()
                        .setResourceType(ConfigResource.Type.BROKER.id()).setResourceName("0").setConfigurationKeys(null));
                d.setIncludeSynonyms(true);
                if (v >= 3) {
                    d.setIncludeDocumentation(true);
                }
                yield d;
            }
            case INCREMENTAL_ALTER_CONFIGS -> {
                IncrementalAlterConfigsRequestData i = new IncrementalAlterConfigsRequestData();
                IncrementalAlterConfigsRequestData.AlterConfigsResource r =
                        new IncrementalAlterConfigsRequestData.AlterConfigsResource()
                                .setResourceType(ConfigResource.Type.TOPIC.id()).setResourceName(topic);
                r.configs().add(new IncrementalAlterConfigsRequestData.AlterableConfig().setName("retention.ms")
                        .setConfigOperation((byte) 0).setValue("3600000"));
                i.resources().add(r);
                yield i;
            }
            case ALTER_CONFIGS -> {
                AlterConfigsRequestData a = new AlterConfigsRequestData();
                AlterConfigsRequestData.AlterConfigsResource r = new AlterConfigsRequestData.AlterConfigsResource()
                        .setResourceType(ConfigResource.Type.TOPIC.id()).setResourceName(topic);
                r.configs().add(new AlterConfigsRequestData.AlterableConfig().setName("retention.ms").setValue("7200000"));
                a.resources().add(r);
                yield a;
            }
            case DESCRIBE_CLUSTER -> {
                DescribeClusterRequestData d = new DescribeClusterRequestData().setIncludeClusterAuthorizedOperations(true);
                if (v >= 1) {
                    d.setEndpointType((byte) 1);
                }
                yield d;
            }
            case DELETE_RECORDS -> {
                DeleteRecordsRequestData d = new DeleteRecordsRequestData().setTimeoutMs(10_000);
                DeleteRecordsRequestData.DeleteRecordsTopic t = new DeleteRecordsRequestData.DeleteRecordsTopic().setName(topic);
                t.partitions().add(new DeleteRecordsRequestData.DeleteRecordsPartition().setPartitionIndex(0).setOffset(0));
                t.partitions().add(new DeleteRecordsRequestData.DeleteRecordsPartition().setPartitionIndex(9).setOffset(0));
                d.topics().add(t);
                yield d;
            }
            case OFFSET_DELETE -> {
                OffsetDeleteRequestData o = new OffsetDeleteRequestData().setGroupId(group);
                OffsetDeleteRequestData.OffsetDeleteRequestTopic t =
                        new OffsetDeleteRequestData.OffsetDeleteRequestTopic().setName(topic);
                t.partitions().add(new OffsetDeleteRequestData.OffsetDeleteRequestPartition().setPartitionIndex(0));
                o.topics().add(t);
                yield o;
            }
            case DESCRIBE_PRODUCERS -> {
                DescribeProducersRequestData d = new DescribeProducersRequestData();
                d.topics().add(new DescribeProducersRequestData.TopicRequest().setName(topic)
                        .setPartitionIndexes(List.of(0, 9)));
                yield d;
            }
            default -> throw new IllegalArgumentException("No sample request for " + api
                    + ": add one here before advertising it");
        };
    }
}

package io.runnel.api.kafka;

import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.message.DeleteRecordsRequestData;
import org.apache.kafka.common.message.DeleteRecordsResponseData;
import org.apache.kafka.common.message.DescribeProducersRequestData;
import org.apache.kafka.common.message.DescribeProducersResponseData;
import org.apache.kafka.common.message.FetchRequestData;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.message.InitProducerIdResponseData;
import org.apache.kafka.common.message.ListOffsetsRequestData;
import org.apache.kafka.common.message.ListOffsetsResponseData;
import org.apache.kafka.common.message.OffsetForLeaderEpochRequestData;
import org.apache.kafka.common.message.OffsetForLeaderEpochResponseData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.ProduceResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.BaseRecords;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.requests.ListOffsetsRequest;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.log.FetchSlice;
import io.vertx.core.Future;
import io.vertx.core.Promise;

/**
 * The Kafka APIs that move records: Produce, Fetch, ListOffsets, OffsetForLeaderEpoch,
 * DeleteRecords, InitProducerId and DescribeProducers, each a translation onto the
 * {@link BrokerService}. Stateless.
 *
 * <p>Fetch answers carry {@link SegmentRecords}: the batches stay in their segment files and are
 * sent from there when the response is written, never copied into the heap.
 *
 * <p>A Fetch with a replica id (a follower's, in a cluster) reads up to the log end instead of the
 * high watermark and reports the follower's progress; see {@link #replicaFetch}.
 *
 * <p>A single node is a cluster of one: this broker leads every partition in leader epoch
 * {@value #LEADER_EPOCH} on a single node; OffsetForLeaderEpoch answers from the log's epoch history.
 * Fetch sessions are not kept (every answer says session 0), so clients send full fetches, which
 * Kafka's protocol allows.
 */
final class DataApis {

    static final int LEADER_EPOCH = 0;

    private final BrokerService broker;

    DataApis(BrokerService broker) {
        this.broker = broker;
    }

    // ---------------------------------------------------------------- produce

    /** The answer, or null for acks=0 (Kafka sends none). */
    Future<ProduceResponseData> produce(ProduceRequestData request) {
        Partition.Acks acks = switch (request.acks()) {
            case 0 -> Partition.Acks.NONE;
            case 1 -> Partition.Acks.LEADER;
            default -> Partition.Acks.ALL;
        };
        ProduceResponseData response = new ProduceResponseData();
        List<Future<?>> appends = new ArrayList<>();
        for (ProduceRequestData.TopicProduceData topic : request.topicData()) {
            ProduceResponseData.TopicProduceResponse topicResponse =
                    new ProduceResponseData.TopicProduceResponse().setName(topic.name());
            response.responses().add(topicResponse);
            for (ProduceRequestData.PartitionProduceData partition : topic.partitionData()) {
                ProduceResponseData.PartitionProduceResponse answer = new ProduceResponseData.PartitionProduceResponse()
                        .setIndex(partition.index()).setBaseOffset(-1).setLogAppendTimeMs(-1).setLogStartOffset(-1);
                topicResponse.partitionResponses().add(answer);
                if (!(partition.records() instanceof MemoryRecords records) || records.sizeInBytes() == 0) {
                    answer.setErrorCode(Errors.CORRUPT_MESSAGE.code()).setErrorMessage("No record batches");
                    continue;
                }
                appends.add(broker.appendBatches(topic.name(), partition.index(), records, acks)
                        .onSuccess(info -> answer.setBaseOffset(info.firstOffset())
                                .setLogAppendTimeMs(info.logAppendTimeMs()))
                        .onFailure(e -> answer.setErrorCode(Errors.forException(e).code())
                                .setErrorMessage(e.getMessage())));
            }
        }
        Future<ProduceResponseData> done = Future.join(appends).transform(x -> Future.succeededFuture(response));
        return acks == Partition.Acks.NONE ? done.map(r -> (ProduceResponseData) null) : done;
    }

    // ---------------------------------------------------------------- fetch

    /** One partition's read within a fetch. */
    private record Read(FetchResponseData.PartitionData answer, String topic, int partition, long offset,
                        int maxBytes) {
    }

    Future<FetchResponseData> fetch(FetchRequestData request) {
        if (request.replicaId() >= 0) {
            return replicaFetch(request);
        }
        List<Read> reads = new ArrayList<>();
        FetchResponseData response = emptyAnswers(request, (topic, asked, answer) ->
                reads.add(new Read(answer, topic, asked.partition(), asked.fetchOffset(), asked.partitionMaxBytes())));
        long deadline = System.currentTimeMillis() + Math.max(0, request.maxWaitMs());
        return readAll(reads, request.maxBytes()).compose(bytes -> {
            long left = deadline - System.currentTimeMillis();
            if (bytes >= Math.max(1, request.minBytes()) || left <= 0 || reads.isEmpty()) {
                return Future.succeededFuture(response);
            }
            return waitForData(reads, left).compose(v -> readAll(reads, request.maxBytes())).map(x -> response);
        });
    }

    /**
     * A follower's fetch (replica id = its broker id), as Kafka's followers send them: each partition
     * is read up to the log end instead of the high watermark, in the follower's current leader
     * epoch, and its fetch offset (the follower's log end) moves the ISR and the high watermark
     * ({@link Partition#replicaRead}). A fetch naming one partition, which is what Runnel's
     * followers send, long-polls up to its max wait; one naming several is answered at once.
     */
    private Future<FetchResponseData> replicaFetch(FetchRequestData request) {
        int partitions = request.topics().stream().mapToInt(t -> t.partitions().size()).sum();
        long maxWaitMs = partitions == 1 ? Math.max(0, request.maxWaitMs()) : 0;
        List<Future<?>> reads = new ArrayList<>();
        FetchResponseData response = emptyAnswers(request, (topic, asked, answer) -> reads.add(
                broker.replicaRead(topic, asked.partition(), request.replicaId(), asked.currentLeaderEpoch(),
                                asked.fetchOffset(), Math.max(1, asked.partitionMaxBytes()), maxWaitMs)
                        .onSuccess(read -> answer.setHighWatermark(read.highWatermark())
                                .setLastStableOffset(read.highWatermark()).setLogStartOffset(read.logStartOffset())
                                .setRecords(sendable(read.slice())))
                        .onFailure(e -> answer.setErrorCode(Errors.forException(e).code()))));
        return Future.join(reads).transform(x -> Future.succeededFuture(response));
    }

    /** One partition of a fetch: its topic, what was asked, and its answer (filled in by the read). */
    private interface PartitionFetch {
        void accept(String topic, FetchRequestData.FetchPartition asked, FetchResponseData.PartitionData answer);
    }

    /** A fetch answer with an empty answer for every partition asked for, each handed to {@code each} to fill. */
    private static FetchResponseData emptyAnswers(FetchRequestData request, PartitionFetch each) {
        FetchResponseData response = new FetchResponseData().setSessionId(0).setErrorCode(Errors.NONE.code());
        for (FetchRequestData.FetchTopic topic : request.topics()) {
            FetchResponseData.FetchableTopicResponse topicResponse =
                    new FetchResponseData.FetchableTopicResponse().setTopic(topic.topic());
            response.responses().add(topicResponse);
            for (FetchRequestData.FetchPartition asked : topic.partitions()) {
                FetchResponseData.PartitionData answer = new FetchResponseData.PartitionData()
                        .setPartitionIndex(asked.partition()).setHighWatermark(-1).setLastStableOffset(-1)
                        .setLogStartOffset(-1).setRecords(MemoryRecords.EMPTY);
                topicResponse.partitions().add(answer);
                each.accept(topic.topic(), asked, answer);
            }
        }
        return response;
    }

    /** Reads every partition once, without waiting; returns the bytes read. */
    private Future<Integer> readAll(List<Read> reads, int maxBytes) {
        List<Future<BrokerService.FetchResult>> results = new ArrayList<>();
        for (Read r : reads) {
            Throwable elsewhere = notLeaderHere(r.topic(), r.partition());
            results.add(elsewhere != null ? Future.failedFuture(elsewhere)
                    : broker.fetch(r.topic(), r.partition(), r.offset(), Math.max(1, r.maxBytes()), 0, 0));
        }
        return Future.join(results).transform(x -> {
            int total = 0;
            for (int i = 0; i < reads.size(); i++) {
                Read r = reads.get(i);
                Future<BrokerService.FetchResult> f = results.get(i);
                FetchResponseData.PartitionData answer = r.answer();
                if (f.failed()) {
                    answer.setErrorCode(Errors.forException(f.cause()).code()).setRecords(MemoryRecords.EMPTY);
                    continue;
                }
                Partition.ReadResult read = f.result().read();
                answer.setErrorCode(Errors.NONE.code())
                        .setHighWatermark(read.highWatermark())
                        .setLastStableOffset(read.highWatermark())
                        .setLogStartOffset(read.logStartOffset());
                // The response's size limit: a partition past it answers empty, but the first always gets its batch.
                if (total > 0 && total + read.slice().sizeBytes() > maxBytes) {
                    answer.setRecords(MemoryRecords.EMPTY);
                    continue;
                }
                answer.setRecords(sendable(read.slice()));
                total += answer.records().sizeInBytes();
            }
            return Future.succeededFuture(total);
        });
    }

    /** A read's batches as a fetch answer carries them: sent from their segment file, not copied. */
    private static BaseRecords sendable(FetchSlice slice) {
        if (slice.isEmpty() || !slice.channel().isOpen()) {
            // Nothing read, or the segment went (retention, compaction, deletion) after the read:
            // nothing to send this time; the next fetch reads from whatever holds the offset now.
            return MemoryRecords.EMPTY;
        }
        return new SegmentRecords(slice);
    }

    /** Long poll: completes when any partition has data past its offset, or after {@code waitMs}. */
    private Future<Void> waitForData(List<Read> reads, long waitMs) {
        Promise<Void> woken = Promise.promise();
        for (Read r : reads) {
            broker.fetch(r.topic(), r.partition(), r.offset(), 1, 1, waitMs).onComplete(x -> woken.tryComplete());
        }
        return woken.future();
    }

    // ---------------------------------------------------------------- offsets

    Future<ListOffsetsResponseData> listOffsets(ListOffsetsRequestData request, short version) {
        ListOffsetsResponseData response = new ListOffsetsResponseData();
        List<Future<?>> lookups = new ArrayList<>();
        for (ListOffsetsRequestData.ListOffsetsTopic topic : request.topics()) {
            ListOffsetsResponseData.ListOffsetsTopicResponse topicResponse =
                    new ListOffsetsResponseData.ListOffsetsTopicResponse().setName(topic.name());
            response.topics().add(topicResponse);
            for (ListOffsetsRequestData.ListOffsetsPartition p : topic.partitions()) {
                ListOffsetsResponseData.ListOffsetsPartitionResponse answer =
                        new ListOffsetsResponseData.ListOffsetsPartitionResponse().setPartitionIndex(p.partitionIndex())
                                .setTimestamp(-1).setOffset(-1);
                if (version >= 4) { // the field exists from v4; older versions refuse a non-default value
                    answer.setLeaderEpoch(leaderEpochOf(topic.name(), p.partitionIndex()));
                }
                topicResponse.partitions().add(answer);
                Throwable elsewhere = notLeaderHere(topic.name(), p.partitionIndex());
                if (elsewhere != null) {
                    answer.setErrorCode(Errors.forException(elsewhere).code());
                    continue;
                }
                long ts = p.timestamp();
                Future<?> lookup;
                if (ts == ListOffsetsRequest.EARLIEST_TIMESTAMP || ts == ListOffsetsRequest.LATEST_TIMESTAMP) {
                    lookup = broker.listOffset(topic.name(), p.partitionIndex(), ts).onSuccess(answer::setOffset);
                } else if (ts == ListOffsetsRequest.EARLIEST_LOCAL_TIMESTAMP) {
                    // No tiered storage: every record is local, so the earliest local offset is the log start.
                    lookup = broker.listOffset(topic.name(), p.partitionIndex(), ListOffsetsRequest.EARLIEST_TIMESTAMP)
                            .onSuccess(answer::setOffset);
                } else if (ts == ListOffsetsRequest.MAX_TIMESTAMP) {
                    lookup = broker.offsetOfMaxTimestamp(topic.name(), p.partitionIndex()).onSuccess(found ->
                            found.ifPresent(t -> answer.setOffset(t.offset()).setTimestamp(t.timestamp())));
                } else if (ts >= 0) {
                    lookup = broker.offsetForTimestamp(topic.name(), p.partitionIndex(), ts).onSuccess(found ->
                            found.ifPresent(t -> answer.setOffset(t.offset()).setTimestamp(t.timestamp())));
                } else {
                    answer.setErrorCode(Errors.UNSUPPORTED_VERSION.code());
                    continue;
                }
                lookups.add(lookup.onFailure(e -> answer.setErrorCode(Errors.forException(e).code())));
            }
        }
        return Future.join(lookups).transform(x -> Future.succeededFuture(response));
    }

    /**
     * DeleteRecords: moves each partition's log start offset up to the offset asked (-1: the high
     * watermark) and answers the new one as its low watermark.
     */
    Future<DeleteRecordsResponseData> deleteRecords(DeleteRecordsRequestData request) {
        DeleteRecordsResponseData response = new DeleteRecordsResponseData();
        List<Future<?>> deleting = new ArrayList<>();
        for (DeleteRecordsRequestData.DeleteRecordsTopic topic : request.topics()) {
            DeleteRecordsResponseData.DeleteRecordsTopicResult topicResult =
                    new DeleteRecordsResponseData.DeleteRecordsTopicResult().setName(topic.name());
            response.topics().add(topicResult);
            for (DeleteRecordsRequestData.DeleteRecordsPartition p : topic.partitions()) {
                DeleteRecordsResponseData.DeleteRecordsPartitionResult answer =
                        new DeleteRecordsResponseData.DeleteRecordsPartitionResult()
                                .setPartitionIndex(p.partitionIndex()).setLowWatermark(-1);
                topicResult.partitions().add(answer);
                deleting.add(broker.deleteRecords(topic.name(), p.partitionIndex(), p.offset())
                        .onSuccess(answer::setLowWatermark)
                        .onFailure(e -> answer.setErrorCode(Errors.forException(e).code())));
            }
        }
        return Future.join(deleting).transform(x -> Future.succeededFuture(response));
    }

    /**
     * DescribeProducers: the idempotent producers each partition's log keeps state for. No
     * transactions are served, so there is never a coordinator epoch or an open transaction.
     */
    Future<DescribeProducersResponseData> describeProducers(DescribeProducersRequestData request) {
        DescribeProducersResponseData response = new DescribeProducersResponseData();
        List<Future<?>> lookups = new ArrayList<>();
        for (DescribeProducersRequestData.TopicRequest topic : request.topics()) {
            DescribeProducersResponseData.TopicResponse topicResponse =
                    new DescribeProducersResponseData.TopicResponse().setName(topic.name());
            response.topics().add(topicResponse);
            for (int partition : topic.partitionIndexes()) {
                DescribeProducersResponseData.PartitionResponse answer =
                        new DescribeProducersResponseData.PartitionResponse().setPartitionIndex(partition);
                topicResponse.partitions().add(answer);
                lookups.add(broker.activeProducers(topic.name(), partition)
                        .onSuccess(producers -> producers.forEach(s -> answer.activeProducers().add(
                                new DescribeProducersResponseData.ProducerState().setProducerId(s.producerId())
                                        .setProducerEpoch(s.producerEpoch()).setLastSequence(s.lastSequence())
                                        .setLastTimestamp(s.lastTimestampMs()).setCoordinatorEpoch(-1)
                                        .setCurrentTxnStartOffset(-1))))
                        .onFailure(e -> answer.setErrorCode(Errors.forException(e).code()).setErrorMessage(e.getMessage())));
            }
        }
        return Future.join(lookups).transform(x -> Future.succeededFuture(response));
    }

    /**
     * In a cluster, Kafka clients fetch and list offsets at the leader only: a follower's high
     * watermark trails the leader's, and an end offset read there would be stale. They are told
     * NOT_LEADER_OR_FOLLOWER and refresh their metadata. Null when this broker may answer.
     */
    private Throwable notLeaderHere(String topic, int partition) {
        var cluster = broker.cluster().orElse(null);
        if (cluster == null || cluster.leadsLocally(topic, partition)) {
            return null;
        }
        return new org.apache.kafka.common.errors.NotLeaderOrFollowerException("Broker "
                + cluster.metadata().localBrokerId() + " does not lead " + topic + "-" + partition);
    }

    private int leaderEpochOf(String topic, int partition) {
        return broker.cluster().flatMap(c -> c.metadata().partition(topic, partition))
                .map(io.runnel.cluster.PartitionState::leaderEpoch).orElse(LEADER_EPOCH);
    }

    Future<OffsetForLeaderEpochResponseData> offsetForLeaderEpoch(OffsetForLeaderEpochRequestData request) {
        OffsetForLeaderEpochResponseData response = new OffsetForLeaderEpochResponseData();
        List<Future<?>> lookups = new ArrayList<>();
        for (OffsetForLeaderEpochRequestData.OffsetForLeaderTopic topic : request.topics()) {
            OffsetForLeaderEpochResponseData.OffsetForLeaderTopicResult topicResult =
                    new OffsetForLeaderEpochResponseData.OffsetForLeaderTopicResult().setTopic(topic.topic());
            response.topics().add(topicResult);
            for (OffsetForLeaderEpochRequestData.OffsetForLeaderPartition p : topic.partitions()) {
                OffsetForLeaderEpochResponseData.EpochEndOffset answer = new OffsetForLeaderEpochResponseData.EpochEndOffset()
                        .setPartition(p.partition()).setLeaderEpoch(LEADER_EPOCH).setEndOffset(-1);
                topicResult.partitions().add(answer);
                Throwable elsewhere = notLeaderHere(topic.topic(), p.partition());
                if (elsewhere != null) {
                    answer.setErrorCode(Errors.forException(elsewhere).code());
                    continue;
                }
                lookups.add(broker.endOffsetForEpoch(topic.topic(), p.partition(), p.leaderEpoch())
                        .onSuccess(end -> answer.setLeaderEpoch(end.epoch()).setEndOffset(end.endOffset()))
                        .onFailure(e -> answer.setErrorCode(Errors.forException(e).code())));
            }
        }
        return Future.join(lookups).transform(x -> Future.succeededFuture(response));
    }

    // ---------------------------------------------------------------- idempotent producers

    /**
     * A fresh producer id (epoch 0); a producer that already has an id and asks again (after a
     * timeout, KIP-360) keeps it with the next epoch. Transactions are not served.
     */
    Future<InitProducerIdResponseData> initProducerId(InitProducerIdRequestData request) {
        InitProducerIdResponseData response = new InitProducerIdResponseData().setProducerId(-1).setProducerEpoch((short) -1);
        if (request.transactionalId() != null) {
            return Future.succeededFuture(response.setErrorCode(Errors.UNSUPPORTED_VERSION.code()));
        }
        if (request.producerId() >= 0 && request.producerEpoch() >= 0 && request.producerEpoch() < Short.MAX_VALUE - 1) {
            return Future.succeededFuture(response.setProducerId(request.producerId())
                    .setProducerEpoch((short) (request.producerEpoch() + 1)));
        }
        return broker.newProducerId()
                .map(id -> response.setProducerId(id).setProducerEpoch((short) 0))
                .otherwise(e -> response.setErrorCode(Errors.forException(e instanceof KafkaStorageException ? e
                        : new KafkaStorageException(e.getMessage(), e)).code()));
    }
}

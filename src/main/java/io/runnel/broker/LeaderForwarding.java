package io.runnel.broker;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.apache.kafka.common.errors.LeaderNotAvailableException;
import org.apache.kafka.common.record.MemoryRecords;

import io.runnel.cluster.BusErrors;
import io.runnel.cluster.PartitionState;
import io.runnel.log.LogAppendInfo;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;

/**
 * Forwards appends from brokers that do not lead a partition to the one that does, for the
 * adapters whose clients do not route by partition (HTTP, WebSocket, event bus). Kafka clients
 * route themselves: they are told NOT_LEADER_OR_FOLLOWER instead.
 *
 * <p>A forwarded append is one event bus request to {@code runnel.broker.<leader id>.append}:
 * {@code [topic length:short][topic:utf-8][partition:int][acks:byte][batch...]}; the leader
 * appends the batch (already validated at the edge where it arrived) and answers the offsets, or
 * fails with the Kafka error code, which comes back here as the same exception.
 */
public final class LeaderForwarding {

    static final String ADDRESS = "runnel.broker.";
    private static final long TIMEOUT_MS = 30_000;

    private final Vertx vertx;
    private final TopicManager topics;
    private final MessageConsumer<Buffer> consumer;

    public LeaderForwarding(Vertx vertx, TopicManager topics, int localId) {
        this.vertx = vertx;
        this.topics = topics;
        this.consumer = vertx.eventBus().consumer(ADDRESS + localId + ".append", this::serve);
    }

    Future<LogAppendInfo> append(int leader, String topic, int partition, MemoryRecords batch, Partition.Acks acks) {
        if (leader == PartitionState.NO_LEADER) {
            return Future.failedFuture(new LeaderNotAvailableException("Partition " + topic + "-" + partition
                    + " has no leader right now"));
        }
        byte[] name = topic.getBytes(StandardCharsets.UTF_8);
        ByteBuffer records = batch.buffer().duplicate();
        byte[] bytes = new byte[records.remaining()];
        records.get(bytes);
        Buffer body = Buffer.buffer(2 + name.length + 5 + bytes.length).appendShort((short) name.length)
                .appendBytes(name).appendInt(partition).appendByte((byte) acks.ordinal()).appendBytes(bytes);
        return vertx.eventBus().<JsonObject>request(ADDRESS + leader + ".append", body,
                        new DeliveryOptions().setSendTimeout(TIMEOUT_MS))
                .map(reply -> {
                    JsonObject o = reply.body();
                    return new LogAppendInfo(o.getLong("firstOffset"), o.getLong("lastOffset"), o.getLong("maxTimestamp"),
                            o.getLong("appendTime"), o.getInteger("count"), o.getInteger("bytes"),
                            o.getBoolean("duplicate"));
                })
                .recover(e -> Future.failedFuture(BusErrors.asKafkaError(e, () ->
                        new org.apache.kafka.common.errors.NotLeaderOrFollowerException("The leader of " + topic + "-"
                                + partition + " (broker " + leader + ") did not answer: " + e.getMessage()))));
    }

    private void serve(Message<Buffer> message) {
        Buffer b = message.body();
        int nameLength = b.getShort(0);
        String topic = b.getString(2, 2 + nameLength, "UTF-8");
        int partition = b.getInt(2 + nameLength);
        Partition.Acks acks = Partition.Acks.values()[b.getByte(6 + nameLength)];
        MemoryRecords batch = MemoryRecords.readableRecords(ByteBuffer.wrap(b.getBytes(7 + nameLength, b.length())));
        Partition p;
        try {
            p = topics.partition(topic, partition);
        } catch (RuntimeException e) {
            BusErrors.fail(message, e);
            return;
        }
        p.append(batch, acks).onComplete(done -> {
            if (done.succeeded()) {
                LogAppendInfo i = done.result();
                message.reply(new JsonObject().put("firstOffset", i.firstOffset()).put("lastOffset", i.lastOffset())
                        .put("maxTimestamp", i.maxTimestamp()).put("appendTime", i.logAppendTimeMs())
                        .put("count", i.recordCount()).put("bytes", i.sizeBytes()).put("duplicate", i.duplicate()));
            } else {
                BusErrors.fail(message, done.cause());
            }
        });
    }

    public Future<Void> close() {
        return consumer.unregister();
    }
}

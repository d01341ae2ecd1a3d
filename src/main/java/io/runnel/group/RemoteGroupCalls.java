package io.runnel.group;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * The group calls a broker makes on another broker's coordinator, in a cluster: the broker
 * service's own members (HTTP, WebSocket and event bus consumers) join, sync, heartbeat, leave,
 * commit and fetch offsets wherever their group is coordinated. Each call is one JSON request
 * ({@code op} and its arguments, byte arrays as base64) answered by {@link #serve} on the
 * coordinating broker, which runs it on its own coordinator — and so refuses it with
 * NOT_COORDINATOR if the group moved meanwhile, as the member's own retry expects.
 */
public final class RemoteGroupCalls {

    /** Sends a request to the broker coordinating offsets partition {@code partition}; fails with the Kafka error it answered. */
    public interface Transport {
        Future<JsonObject> call(int partition, JsonObject request, long timeoutMs);
    }

    /** Time beyond a join's rebalance timeout that a forwarded call may take. */
    static final long MARGIN_MS = 30_000;

    private RemoteGroupCalls() {
    }

    // ---------------------------------------------------------------- calling

    static Future<GroupCoordinator.JoinResult> join(Transport t, int partition, GroupCoordinator.JoinRequest r) {
        JsonArray protocols = new JsonArray();
        r.protocols().forEach(p -> protocols.add(new JsonObject().put("name", p.name()).put("metadata", p.metadata())));
        JsonObject request = new JsonObject().put("op", "join").put("groupId", r.groupId()).put("memberId", r.memberId())
                .put("groupInstanceId", r.groupInstanceId()).put("clientId", r.clientId())
                .put("protocolType", r.protocolType()).put("protocols", protocols)
                .put("sessionTimeoutMs", r.sessionTimeoutMs()).put("rebalanceTimeoutMs", r.rebalanceTimeoutMs());
        long timeout = Math.max(r.rebalanceTimeoutMs(), r.sessionTimeoutMs()) + MARGIN_MS;
        return t.call(partition, request, timeout).map(RemoteGroupCalls::joinResult);
    }

    static Future<byte[]> sync(Transport t, int partition, GroupCoordinator.SyncRequest r) {
        JsonObject assignments = new JsonObject();
        if (r.assignments() != null) {
            r.assignments().forEach(assignments::put);
        }
        JsonObject request = new JsonObject().put("op", "sync").put("groupId", r.groupId())
                .put("generationId", r.generationId()).put("memberId", r.memberId())
                .put("protocolType", r.protocolType()).put("protocolName", r.protocolName())
                .put("assignments", assignments);
        return t.call(partition, request, MARGIN_MS * 10).map(o -> o.getBinary("assignment"));
    }

    static Future<Void> heartbeat(Transport t, int partition, String groupId, int generationId, String memberId) {
        return t.call(partition, new JsonObject().put("op", "heartbeat").put("groupId", groupId)
                .put("generationId", generationId).put("memberId", memberId), MARGIN_MS).mapEmpty();
    }

    static Future<Void> leave(Transport t, int partition, String groupId, String memberId) {
        return t.call(partition, new JsonObject().put("op", "leave").put("groupId", groupId).put("memberId", memberId),
                MARGIN_MS).mapEmpty();
    }

    static Future<Void> commit(Transport t, int partition, String groupId, int generationId, String memberId,
                               Map<TopicPartition, OffsetAndMetadata> offsets) {
        JsonArray list = new JsonArray();
        offsets.forEach((tp, om) -> list.add(new JsonObject().put("topic", tp.topic()).put("partition", tp.partition())
                .put("offset", om.offset()).put("metadata", om.metadata())
                .put("leaderEpoch", om.leaderEpoch().orElse(null))));
        return t.call(partition, new JsonObject().put("op", "commit").put("groupId", groupId)
                .put("generationId", generationId).put("memberId", memberId).put("offsets", list), MARGIN_MS).mapEmpty();
    }

    static Future<Map<TopicPartition, OffsetAndMetadata>> fetch(Transport t, int partition, String groupId,
                                                                java.util.Collection<TopicPartition> partitions) {
        JsonArray wanted = null;
        if (partitions != null) {
            wanted = new JsonArray();
            for (TopicPartition tp : partitions) {
                wanted.add(new JsonObject().put("topic", tp.topic()).put("partition", tp.partition()));
            }
        }
        return t.call(partition, new JsonObject().put("op", "fetch").put("groupId", groupId).put("partitions", wanted),
                MARGIN_MS).map(o -> offsets(o.getJsonArray("offsets")));
    }

    // ---------------------------------------------------------------- serving

    /** Runs a forwarded call on this broker's coordinator. */
    public static Future<JsonObject> serve(GroupCoordinator coordinator, JsonObject r) {
        String groupId = r.getString("groupId");
        return switch (r.getString("op", "")) {
            case "join" -> {
                List<GroupCoordinator.Protocol> protocols = new ArrayList<>();
                r.getJsonArray("protocols").forEach(p -> {
                    JsonObject o = (JsonObject) p;
                    protocols.add(new GroupCoordinator.Protocol(o.getString("name"), o.getBinary("metadata")));
                });
                yield coordinator.join(new GroupCoordinator.JoinRequest(groupId, r.getString("memberId"),
                        r.getString("groupInstanceId"), r.getString("clientId"), r.getString("protocolType"), protocols,
                        r.getInteger("sessionTimeoutMs"), r.getInteger("rebalanceTimeoutMs")))
                        .map(RemoteGroupCalls::joinAnswer);
            }
            case "sync" -> {
                Map<String, byte[]> assignments = new HashMap<>();
                r.getJsonObject("assignments").forEach(e -> assignments.put(e.getKey(),
                        r.getJsonObject("assignments").getBinary(e.getKey())));
                yield coordinator.sync(new GroupCoordinator.SyncRequest(groupId, r.getInteger("generationId"),
                        r.getString("memberId"), r.getString("protocolType"), r.getString("protocolName"), assignments))
                        .map(bytes -> new JsonObject().put("assignment", bytes));
            }
            case "heartbeat" -> coordinator.heartbeat(groupId, r.getInteger("generationId"), r.getString("memberId"))
                    .map(v -> new JsonObject());
            case "leave" -> coordinator.leave(groupId, r.getString("memberId")).map(v -> new JsonObject());
            case "commit" -> coordinator.commitOffsets(groupId, r.getInteger("generationId"), r.getString("memberId"),
                    offsets(r.getJsonArray("offsets"))).map(v -> new JsonObject());
            case "fetch" -> {
                List<TopicPartition> wanted = null;
                if (r.getJsonArray("partitions") != null) {
                    wanted = new ArrayList<>();
                    for (Object o : r.getJsonArray("partitions")) {
                        JsonObject p = (JsonObject) o;
                        wanted.add(new TopicPartition(p.getString("topic"), p.getInteger("partition")));
                    }
                }
                yield coordinator.fetchOffsets(groupId, wanted).map(found -> {
                    JsonArray list = new JsonArray();
                    found.forEach((tp, om) -> list.add(new JsonObject().put("topic", tp.topic())
                            .put("partition", tp.partition()).put("offset", om.offset()).put("metadata", om.metadata())
                            .put("leaderEpoch", om.leaderEpoch().orElse(null))));
                    return new JsonObject().put("offsets", list);
                });
            }
            default -> Future.failedFuture(new org.apache.kafka.common.errors.InvalidRequestException(
                    "Unknown group call " + r.getString("op")));
        };
    }

    // ---------------------------------------------------------------- codecs

    private static JsonObject joinAnswer(GroupCoordinator.JoinResult j) {
        JsonArray members = new JsonArray();
        j.members().forEach(m -> members.add(new JsonObject().put("memberId", m.memberId())
                .put("groupInstanceId", m.groupInstanceId()).put("metadata", m.metadata())));
        return new JsonObject().put("generationId", j.generationId()).put("protocolName", j.protocolName())
                .put("leaderId", j.leaderId()).put("memberId", j.memberId()).put("members", members);
    }

    private static GroupCoordinator.JoinResult joinResult(JsonObject o) {
        List<GroupCoordinator.JoinedMember> members = new ArrayList<>();
        o.getJsonArray("members").forEach(m -> {
            JsonObject j = (JsonObject) m;
            members.add(new GroupCoordinator.JoinedMember(j.getString("memberId"), j.getString("groupInstanceId"),
                    j.getBinary("metadata")));
        });
        return new GroupCoordinator.JoinResult(o.getInteger("generationId"), o.getString("protocolName"),
                o.getString("leaderId"), o.getString("memberId"), members);
    }

    private static Map<TopicPartition, OffsetAndMetadata> offsets(JsonArray list) {
        Map<TopicPartition, OffsetAndMetadata> out = new HashMap<>();
        for (Object o : list) {
            JsonObject e = (JsonObject) o;
            out.put(new TopicPartition(e.getString("topic"), e.getInteger("partition")),
                    new OffsetAndMetadata(e.getLong("offset"), Optional.ofNullable(e.getInteger("leaderEpoch")),
                            e.getString("metadata")));
        }
        return out;
    }
}

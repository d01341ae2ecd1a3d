package io.runnel.api.http;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.internals.ConsumerProtocol;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.runnel.group.GroupCoordinator;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import static io.runnel.api.http.Replies.onRequestContext;
import static io.runnel.api.http.Replies.requestFailure;
import static io.runnel.api.http.Replies.send;

/**
 * Confluent REST Proxy v3's consumer groups, read-only: {@code /v3/clusters/{c}/consumer-groups},
 * {@code …/{group}}, {@code …/{group}/consumers}, {@code …/{group}/lags} and
 * {@code …/{group}/lag-summary}, in Confluent's shapes ({@code kind}, {@code metadata.self}).
 *
 * <p>A partition's lag is its high watermark (what a consumer can read) minus the group's
 * committed offset; its owner is the member whose current assignment holds it (consumer groups,
 * protocol type {@code consumer}, carry assignments in Kafka's ConsumerProtocol format). A group
 * known only by its committed offsets (none of its members connected since a restart) is
 * {@code EMPTY} with no consumers. Stateless: every answer is read from the coordinator and the
 * partitions when asked.
 */
final class V3ConsumerGroups {

    private final BrokerService broker;

    V3ConsumerGroups(BrokerService broker) {
        this.broker = broker;
    }

    void mount(Router router) {
        String groups = "/v3/clusters/:cluster/consumer-groups";
        router.get(groups).handler(this::list);
        router.get(groups + "/:group").handler(ctx -> reply(ctx, describe(ctx).map(d -> groupJson(ctx, d))));
        router.get(groups + "/:group/consumers").handler(ctx -> reply(ctx, describe(ctx).map(d -> consumers(ctx, d))));
        router.get(groups + "/:group/lags").handler(ctx -> reply(ctx, lags(ctx).map(l -> list(ctx, "KafkaConsumerLagList", l))));
        router.get(groups + "/:group/lag-summary").handler(ctx -> reply(ctx, lags(ctx).map(l -> summary(ctx, l))));
    }

    /** One partition's lag and owner. */
    private record Lag(String topic, int partition, long current, long end, String consumerId, String clientId) {
        long lag() {
            return Math.max(0, end - current);
        }
    }

    // ---------------------------------------------------------------- handlers

    private void list(RoutingContext ctx) {
        checkCluster(ctx);
        Future<JsonObject> answer = broker.groups().listGroups().compose(overviews -> {
            List<Future<GroupCoordinator.GroupDescription>> described = new ArrayList<>();
            overviews.forEach(o -> described.add(broker.groups().describeGroup(o.groupId())));
            return Future.join(described).map(x -> {
                JsonArray data = new JsonArray();
                for (Future<GroupCoordinator.GroupDescription> d : described) {
                    if (d.succeeded()) { // a group deleted between the two calls is simply gone
                        data.add(groupJson(ctx, d.result()));
                    }
                }
                return listJson(ctx, "KafkaConsumerGroupList", data);
            });
        });
        reply(ctx, answer);
    }

    private Future<GroupCoordinator.GroupDescription> describe(RoutingContext ctx) {
        checkCluster(ctx);
        String group = ctx.pathParam("group");
        return broker.groups().describeGroup(group).recover(e -> Future.failedFuture(e instanceof GroupIdNotFoundException
                ? new HttpApiException(ErrorCodes.NOT_FOUND, "Consumer group '" + group + "' not found") : e));
    }

    private JsonObject groupJson(RoutingContext ctx, GroupCoordinator.GroupDescription d) {
        String self = clusterUrl(ctx) + "/consumer-groups/" + d.groupId();
        return new JsonObject()
                .put("kind", "KafkaConsumerGroup")
                .put("metadata", new JsonObject().put("self", self)
                        .put("resource_name", "crn:///kafka=" + clusterId() + "/consumer-group=" + d.groupId()))
                .put("cluster_id", clusterId())
                .put("consumer_group_id", d.groupId())
                .put("is_simple", d.protocolType().isEmpty())
                .put("partition_assignor", d.protocolName())
                .put("state", d.state().name())
                .put("coordinator", related(clusterUrl(ctx) + "/brokers/" + broker.identity().brokerId()))
                .put("consumers", related(self + "/consumers"))
                .put("lag_summary", related(self + "/lag-summary"));
    }

    private JsonObject consumers(RoutingContext ctx, GroupCoordinator.GroupDescription d) {
        String base = clusterUrl(ctx) + "/consumer-groups/" + d.groupId() + "/consumers/";
        JsonArray data = new JsonArray();
        for (GroupCoordinator.MemberDescription m : d.members()) {
            JsonArray assignments = new JsonArray();
            assignmentOf(d, m).stream()
                    .sorted(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition))
                    .forEach(tp -> assignments.add(new JsonObject().put("topic_name", tp.topic())
                            .put("partition_id", tp.partition())));
            data.add(new JsonObject()
                    .put("kind", "KafkaConsumer")
                    .put("metadata", new JsonObject().put("self", base + m.memberId()))
                    .put("cluster_id", clusterId())
                    .put("consumer_group_id", d.groupId())
                    .put("consumer_id", m.memberId())
                    .put("instance_id", m.groupInstanceId())
                    .put("client_id", m.clientId())
                    .put("assignments", assignments));
        }
        return listJson(ctx, "KafkaConsumerList", data);
    }

    /** Every partition the group has committed to or is assigned, with its lag. */
    private Future<List<Lag>> lags(RoutingContext ctx) {
        return describe(ctx).compose(d -> broker.groups().fetchOffsets(d.groupId(), null).compose(commits -> {
            Map<TopicPartition, GroupCoordinator.MemberDescription> owners = new HashMap<>();
            for (GroupCoordinator.MemberDescription m : d.members()) {
                assignmentOf(d, m).forEach(tp -> owners.put(tp, m));
            }
            List<TopicPartition> partitions = new ArrayList<>(commits.keySet());
            owners.keySet().stream().filter(tp -> !commits.containsKey(tp)).forEach(partitions::add);
            partitions.sort(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
            List<Future<Long>> ends = new ArrayList<>();
            for (TopicPartition tp : partitions) {
                ends.add(broker.listOffset(tp.topic(), tp.partition(), Partition.LATEST_TIMESTAMP)
                        .otherwise(-1L)); // a topic deleted since the commit has no end
            }
            return Future.all(ends).map(x -> {
                List<Lag> out = new ArrayList<>();
                for (int i = 0; i < partitions.size(); i++) {
                    TopicPartition tp = partitions.get(i);
                    long end = ends.get(i).result();
                    if (end < 0) {
                        continue;
                    }
                    OffsetAndMetadata c = commits.get(tp);
                    GroupCoordinator.MemberDescription owner = owners.get(tp);
                    out.add(new Lag(tp.topic(), tp.partition(), c == null ? 0 : c.offset(), end,
                            owner == null ? "" : owner.memberId(), owner == null ? "" : owner.clientId()));
                }
                return out;
            });
        }));
    }

    private JsonArray lagsJson(RoutingContext ctx, List<Lag> lags) {
        String group = ctx.pathParam("group");
        JsonArray data = new JsonArray();
        for (Lag l : lags) {
            data.add(new JsonObject()
                    .put("kind", "KafkaConsumerLag")
                    .put("metadata", new JsonObject().put("self", clusterUrl(ctx) + "/consumer-groups/" + group
                            + "/lags/" + l.topic() + "/partitions/" + l.partition()))
                    .put("cluster_id", clusterId())
                    .put("consumer_group_id", group)
                    .put("topic_name", l.topic())
                    .put("partition_id", l.partition())
                    .put("current_offset", l.current())
                    .put("log_end_offset", l.end())
                    .put("lag", l.lag())
                    .put("consumer_id", l.consumerId())
                    .put("instance_id", (String) null)
                    .put("client_id", l.clientId()));
        }
        return data;
    }

    private JsonObject list(RoutingContext ctx, String kind, List<Lag> lags) {
        return listJson(ctx, kind, lagsJson(ctx, lags));
    }

    private JsonObject summary(RoutingContext ctx, List<Lag> lags) {
        String group = ctx.pathParam("group");
        Lag max = lags.stream().max(Comparator.comparingLong(Lag::lag)).orElse(null);
        long total = lags.stream().mapToLong(Lag::lag).sum();
        String self = clusterUrl(ctx) + "/consumer-groups/" + group;
        return new JsonObject()
                .put("kind", "KafkaConsumerGroupLagSummary")
                .put("metadata", new JsonObject().put("self", self + "/lag-summary"))
                .put("cluster_id", clusterId())
                .put("consumer_group_id", group)
                .put("max_lag_consumer_id", max == null ? "" : max.consumerId())
                .put("max_lag_instance_id", (String) null)
                .put("max_lag_client_id", max == null ? "" : max.clientId())
                .put("max_lag_topic_name", max == null ? "" : max.topic())
                .put("max_lag_partition_id", max == null ? 0 : max.partition())
                .put("max_lag", max == null ? 0 : max.lag())
                .put("total_lag", total);
    }

    // ---------------------------------------------------------------- plumbing

    /** A member's partitions, when the group speaks Kafka's consumer protocol; else none. */
    private static List<TopicPartition> assignmentOf(GroupCoordinator.GroupDescription d,
                                                     GroupCoordinator.MemberDescription m) {
        if (!"consumer".equals(d.protocolType()) || m.assignment() == null || m.assignment().length == 0) {
            return List.of();
        }
        try {
            ConsumerPartitionAssignor.Assignment a = ConsumerProtocol.deserializeAssignment(ByteBuffer.wrap(m.assignment()));
            return a.partitions();
        } catch (RuntimeException e) {
            return List.of(); // a client's assignment we cannot read: shown without owners, not refused
        }
    }

    private String clusterId() {
        return broker.identity().clusterId();
    }

    private void checkCluster(RoutingContext ctx) {
        clusterUrl(ctx);
    }

    private String clusterUrl(RoutingContext ctx) {
        return V3Api.cluster(ctx, broker, ctx.pathParam("cluster")).cluster;
    }

    private static JsonObject related(String url) {
        return V3Api.related(url);
    }

    private static JsonObject listJson(RoutingContext ctx, String kind, JsonArray data) {
        return V3Api.list(kind, ctx.request().absoluteURI(), data);
    }

    private void reply(RoutingContext ctx, Future<JsonObject> answer) {
        onRequestContext(answer).onComplete(done -> {
            if (done.failed()) {
                ctx.fail(requestFailure(ctx, done.cause(), broker, null));
            } else {
                send(ctx, 200, HttpApi.JSON, done.result());
            }
        });
    }
}

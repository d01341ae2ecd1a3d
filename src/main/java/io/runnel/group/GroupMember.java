package io.runnel.group;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.Function;

import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.clients.consumer.internals.ConsumerProtocol;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.CoordinatorNotAvailableException;
import org.apache.kafka.common.errors.IllegalGenerationException;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.apache.kafka.common.utils.Utils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

/**
 * A consumer group member that lives inside the broker (the HTTP API's consumer instances, the
 * WebSocket's group subscriptions): it speaks the classic consumer protocol to a
 * {@link GroupCoordinator} directly, as a Kafka consumer would over the wire.
 *
 * <h2>Model</h2>
 * {@link #subscribe} joins with protocol type {@code consumer} and the subscription serialised by
 * kafka-clients' {@link ConsumerProtocol}; when this member is elected leader it computes every
 * member's assignment with kafka-clients' {@link RangeAssignor} or {@link RoundRobinAssignor}.
 * It heartbeats every {@code min(sessionTimeoutMs / 3, 1 s)}; a heartbeat that fails with
 * {@link RebalanceInProgressException} (or an illegal generation, or an unknown member id, which
 * also resets the member id) makes it rejoin by itself. Rebalancing is eager, as with Kafka's
 * range and round-robin assignors: before each join it gives up its partitions, so
 * {@link #assignment()} is empty while a rebalance runs and two members never hold a partition
 * at the same time as far as they know. The assignment listener hears every change, revocations
 * included. Other join failures (an inconsistent protocol, a closing coordinator) fail the pending
 * {@code subscribe} futures and leave the member idle until the next {@code subscribe}.
 *
 * <h2>Invariants</h2>
 * At most one join-and-sync round is in flight; a subscription change during one causes exactly
 * one more round after it. A {@code subscribe} future completes with the first assignment that
 * came from a join carrying that subscription (or a later one). After {@link #close()} no timer
 * runs and no join is started; a join that was in flight leaves the group when it is answered.
 *
 * <h2>Threading</h2>
 * State lives on the context the member was created on (a new event-loop context when created
 * outside Vert.x). Methods may be called from any thread; futures complete on the caller's
 * context when there is one. The listener runs on the member's context. {@code partitionCount}
 * is called there too and must be quick and thread-safe (a topic table lookup).
 */
public final class GroupMember {

    private static final Logger LOG = LoggerFactory.getLogger(GroupMember.class);
    /** Kafka's heartbeat interval is at most a third of the session, so two may be lost without expiry. */
    private static final int HEARTBEATS_PER_SESSION = 3;
    /** Heartbeats more often than this buy nothing: the coordinator answers a rebalance on the next one. */
    private static final long HEARTBEAT_INTERVAL_MAX_MS = 1_000;

    private record Waiter(int subscriptionVersion, Promise<Set<TopicPartition>> promise) {
    }

    private final Vertx vertx;
    private final Context context;
    private final GroupCoordinator coordinator;
    private final String groupId;
    private final String clientId;
    private final ConsumerPartitionAssignor assignor;
    private final Function<String, Integer> partitionCount;
    private final int sessionTimeoutMs;
    private final int rebalanceTimeoutMs;

    // Confined to the context.
    private Set<String> topics = Set.of();
    /** Bumped by each subscribe; a round carries the version it joined with. */
    private int subscriptionVersion;
    private String memberId = "";
    private boolean roundInFlight;
    private boolean roundAgain;
    private boolean heartbeatInFlight;
    private long heartbeatTimerId = -1;
    private boolean closed;
    private Future<Void> closing;
    /** Set from any thread (so it is in place when the setter returns), called on the context. */
    private volatile Consumer<Set<TopicPartition>> listener = partitions -> { };
    private final List<Waiter> waiters = new ArrayList<>();

    // Written on the context, read from any thread.
    private volatile Set<TopicPartition> assignment = Set.of();
    private volatile int generationId = -1;

    /**
     * @param assignor "range" or "roundrobin"
     * @param partitionCount a topic's partition count, 0 (or null) for a topic that does not exist
     */
    public GroupMember(Vertx vertx, GroupCoordinator coordinator, String groupId, String clientId, String assignor,
                       Function<String, Integer> partitionCount, int sessionTimeoutMs, int rebalanceTimeoutMs) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.coordinator = coordinator;
        this.groupId = groupId;
        this.clientId = clientId;
        this.assignor = switch (assignor) {
            case RangeAssignor.RANGE_ASSIGNOR_NAME -> new RangeAssignor();
            case RoundRobinAssignor.ROUNDROBIN_ASSIGNOR_NAME -> new RoundRobinAssignor();
            default -> throw new IllegalArgumentException("Unknown assignor '" + assignor + "': use "
                    + RangeAssignor.RANGE_ASSIGNOR_NAME + " or " + RoundRobinAssignor.ROUNDROBIN_ASSIGNOR_NAME);
        };
        this.partitionCount = partitionCount;
        this.sessionTimeoutMs = sessionTimeoutMs;
        this.rebalanceTimeoutMs = rebalanceTimeoutMs;
    }

    /** The partitions this member holds now (empty while it rebalances). */
    public Set<TopicPartition> assignment() {
        return assignment;
    }

    /** The generation of its last join, -1 before the first. */
    public int generationId() {
        return generationId;
    }

    /** Called on the member's context with the new assignment each time it changes. */
    public GroupMember assignmentListener(Consumer<Set<TopicPartition>> listener) {
        this.listener = listener;
        return this;
    }

    /** Subscribes to {@code topics} (replacing any earlier subscription); completes with the assignment it leads to. */
    public Future<Set<TopicPartition>> subscribe(Set<String> topics) {
        Set<String> wanted = Set.copyOf(topics);
        return Contexts.onCaller(Contexts.runOn(context, () -> {
            if (closed) {
                return Future.failedFuture(closedError());
            }
            this.topics = wanted;
            subscriptionVersion++;
            Promise<Set<TopicPartition>> assigned = Promise.promise();
            waiters.add(new Waiter(subscriptionVersion, assigned));
            startHeartbeats();
            rebalance();
            return assigned.future();
        }));
    }

    /** Commits with this member's id and generation. */
    public Future<Void> commit(Map<TopicPartition, OffsetAndMetadata> offsets) {
        Map<TopicPartition, OffsetAndMetadata> copy = Map.copyOf(offsets);
        return Contexts.onCaller(Contexts.runOn(context, () -> {
            if (closed) {
                return Future.failedFuture(closedError());
            }
            if (memberId.isEmpty()) {
                return Future.failedFuture(new UnknownMemberIdException("Not a member of group " + groupId + " yet"));
            }
            return coordinator.commitOffsets(groupId, generationId, memberId, copy);
        }));
    }

    /** Leaves the group and stops heartbeating; pending subscribes fail. Idempotent. */
    public Future<Void> close() {
        return Contexts.onCaller(Contexts.runOn(context, () -> {
            if (closing != null) {
                return closing;
            }
            closed = true;
            vertx.cancelTimer(heartbeatTimerId);
            heartbeatTimerId = -1;
            failWaiters(closedError());
            setAssignment(Set.of());
            // A first join still in flight has no member id yet; its answer leaves (see rebalance).
            closing = memberId.isEmpty() ? Future.succeededFuture() : leaveQuietly(memberId);
            return closing;
        }));
    }

    // ---------------------------------------------------------------- the join-and-sync round

    /** Starts a round, or asks for one more after the one in flight. On the context. */
    private void rebalance() {
        if (closed) {
            return;
        }
        if (roundInFlight) {
            roundAgain = true;
            return;
        }
        roundInFlight = true;
        roundAgain = false;
        setAssignment(Set.of());
        int version = subscriptionVersion;
        byte[] subscription = Utils.toArray(ConsumerProtocol.serializeSubscription(
                new ConsumerPartitionAssignor.Subscription(new ArrayList<>(new TreeSet<>(topics)))));
        GroupCoordinator.JoinRequest join = new GroupCoordinator.JoinRequest(groupId, memberId, null, clientId,
                ConsumerProtocol.PROTOCOL_TYPE, List.of(new GroupCoordinator.Protocol(assignor.name(), subscription)),
                sessionTimeoutMs, rebalanceTimeoutMs);
        coordinator.join(join).compose(joined -> {
            memberId = joined.memberId();
            generationId = joined.generationId();
            if (closed) {
                return leaveQuietly(joined.memberId()).compose(v -> Future.failedFuture(closedError()));
            }
            Map<String, byte[]> assignments = joined.isLeader() ? assign(joined) : Map.of();
            return coordinator.sync(new GroupCoordinator.SyncRequest(groupId, joined.generationId(), joined.memberId(),
                    ConsumerProtocol.PROTOCOL_TYPE, joined.protocolName(), assignments));
        }).onComplete(synced -> {
            roundInFlight = false;
            if (closed) {
                return;
            }
            if (synced.succeeded()) {
                setAssignment(partitionsOf(synced.result()));
                completeWaiters(version);
            } else {
                onRoundFailed(synced.cause());
            }
            if (roundAgain) {
                rebalance();
            }
        });
    }

    private void onRoundFailed(Throwable error) {
        if (error instanceof UnknownMemberIdException) {
            memberId = "";
            roundAgain = true;
        } else if (error instanceof RebalanceInProgressException || error instanceof IllegalGenerationException) {
            roundAgain = true;
        } else {
            LOG.warn("Member {} of group {} could not join", memberId, groupId, error);
            failWaiters(error);
        }
    }

    /** The leader's part: every member's partitions, computed by the kafka-clients assignor. */
    private Map<String, byte[]> assign(GroupCoordinator.JoinResult joined) {
        Map<String, ConsumerPartitionAssignor.Subscription> subscriptions = new HashMap<>();
        Set<String> allTopics = new TreeSet<>();
        for (GroupCoordinator.JoinedMember m : joined.members()) {
            ConsumerPartitionAssignor.Subscription s = ConsumerProtocol.deserializeSubscription(ByteBuffer.wrap(m.metadata()));
            subscriptions.put(m.memberId(), s);
            allTopics.addAll(s.topics());
        }
        List<PartitionInfo> partitions = new ArrayList<>();
        for (String topic : allTopics) {
            Integer count = partitionCount.apply(topic);
            for (int p = 0; count != null && p < count; p++) {
                partitions.add(new PartitionInfo(topic, p, null, new Node[0], new Node[0]));
            }
        }
        Cluster cluster = new Cluster(null, List.of(), partitions, Set.of(), Set.of());
        Map<String, byte[]> out = new HashMap<>();
        assignor.assign(cluster, new ConsumerPartitionAssignor.GroupSubscription(subscriptions)).groupAssignment()
                .forEach((member, a) -> out.put(member, Utils.toArray(ConsumerProtocol.serializeAssignment(a))));
        return out;
    }

    private static Set<TopicPartition> partitionsOf(byte[] assignment) {
        if (assignment.length == 0) {
            return Set.of();
        }
        return Set.copyOf(ConsumerProtocol.deserializeAssignment(ByteBuffer.wrap(assignment)).partitions());
    }

    // ---------------------------------------------------------------- heartbeats

    private void startHeartbeats() {
        if (heartbeatTimerId >= 0) {
            return;
        }
        long intervalMs = Math.max(1, Math.min(sessionTimeoutMs / HEARTBEATS_PER_SESSION, HEARTBEAT_INTERVAL_MAX_MS));
        heartbeatTimerId = vertx.setPeriodic(intervalMs, id -> heartbeat());
    }

    private void heartbeat() {
        // While a round is in flight the coordinator holds the member's join or sync, which keeps it alive.
        if (closed || roundInFlight || heartbeatInFlight || memberId.isEmpty()) {
            return;
        }
        heartbeatInFlight = true;
        coordinator.heartbeat(groupId, generationId, memberId).onComplete(beat -> {
            heartbeatInFlight = false;
            if (beat.succeeded() || closed) {
                return;
            }
            Throwable error = beat.cause();
            if (error instanceof UnknownMemberIdException) {
                memberId = "";
                rebalance();
            } else if (error instanceof RebalanceInProgressException || error instanceof IllegalGenerationException) {
                rebalance();
            } else if (!(error instanceof CoordinatorNotAvailableException)) {
                LOG.warn("Heartbeat of member {} of group {} failed", memberId, groupId, error);
            }
        });
    }

    // ---------------------------------------------------------------- plumbing

    private Future<Void> leaveQuietly(String member) {
        return coordinator.leave(groupId, member).recover(error -> {
            // Already gone (expired, or the coordinator closed): leaving is done either way.
            LOG.debug("Member {} of group {} left with {}", member, groupId, error.toString());
            return Future.succeededFuture();
        });
    }

    private void setAssignment(Set<TopicPartition> partitions) {
        if (partitions.equals(assignment)) {
            return;
        }
        assignment = partitions;
        try {
            listener.accept(partitions);
        } catch (RuntimeException e) {
            LOG.warn("The assignment listener of a member of group {} failed", groupId, e);
        }
    }

    private void completeWaiters(int version) {
        List<Waiter> done = new ArrayList<>();
        waiters.removeIf(w -> w.subscriptionVersion() <= version && done.add(w));
        Set<TopicPartition> now = assignment;
        done.forEach(w -> w.promise().tryComplete(now));
    }

    private void failWaiters(Throwable error) {
        List<Waiter> failed = new ArrayList<>(waiters);
        waiters.clear();
        failed.forEach(w -> w.promise().tryFail(error));
    }

    private IllegalStateException closedError() {
        return new IllegalStateException("This member of group " + groupId + " is closed");
    }
}

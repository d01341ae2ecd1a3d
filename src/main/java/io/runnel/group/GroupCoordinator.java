package io.runnel.group;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.internals.ConsumerProtocol;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.CoordinatorNotAvailableException;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.GroupSubscribedToTopicException;
import org.apache.kafka.common.errors.IllegalGenerationException;
import org.apache.kafka.common.errors.InconsistentGroupProtocolException;
import org.apache.kafka.common.errors.InvalidGroupIdException;
import org.apache.kafka.common.errors.InvalidSessionTimeoutException;
import org.apache.kafka.common.errors.OffsetMetadataTooLarge;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.apache.kafka.common.record.MemoryRecords;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;

/**
 * Kafka's classic group coordinator (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
 * OffsetFetch, OffsetDelete, ListGroups, DescribeGroups, DeleteGroups), protocol-agnostic: the HTTP API's
 * consumer instances, {@link GroupMember} and the Kafka protocol adapter all call it.
 *
 * <h2>Model</h2>
 * A group moves through {@link GroupState}. A join to a stable group (a newcomer, the leader, or a
 * member whose protocols changed) starts a rebalance: the group waits until every known member
 * has rejoined, or until the longest rebalance timeout of its members has passed — members that
 * did not rejoin by then are removed — and answers all joins at once with a new generation, the
 * leader's answer carrying every member's metadata. The leader's sync carries the assignment,
 * which is stored and then handed to every member's sync. Members learn of a rebalance when a
 * heartbeat fails with {@link RebalanceInProgressException}, and rejoin. A member that neither
 * heartbeats, joins nor syncs within its session timeout is removed, as is one that does not sync
 * within the rebalance timeout after its join was answered; either starts a rebalance. The first
 * rebalance of an empty group waits {@link GroupConfig#initialRebalanceDelayMs()} for more members.
 *
 * <h2>Durability</h2>
 * Committed offsets and each generation's metadata go to the {@link GroupStore} (format in its
 * Javadoc); an offset commit is answered, and becomes visible to fetches, only once its records
 * are durable. {@link #start} replays the store before it completes, so offsets (and generation
 * numbers) survive restarts; members do not (they get {@link UnknownMemberIdException} and join
 * again). Offsets do not expire.
 *
 * <h2>Threading</h2>
 * All group state lives on one Vert.x context owned by the coordinator (its own verticle), so it
 * needs no locks. Public methods may be called from any thread; their futures complete on the
 * caller's context when the caller is on one. Errors are Kafka's exceptions, so
 * {@code Errors.forException} gives the wire error code.
 */
public final class GroupCoordinator {

    private static final Logger LOG = LoggerFactory.getLogger(GroupCoordinator.class);

    /** Kafka's {@code offset.metadata.max.bytes}: the longest metadata string an offset commit may carry. */
    public static final int OFFSET_METADATA_MAX_CHARS = 4096;

    /** One protocol a member supports (an assignor, for consumers) and its metadata for it (the subscription). */
    public record Protocol(String name, byte[] metadata) {
        public Protocol {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(metadata, "metadata");
        }
    }

    /**
     * A JoinGroup.
     *
     * @param memberId "" for a member joining for the first time
     * @param groupInstanceId static membership's id; kept and reported, with no further meaning here (nullable)
     * @param protocols in the member's order of preference
     * @param rebalanceTimeoutMs how long a rebalance may wait for this member to rejoin; the session timeout if {@code <= 0}
     */
    public record JoinRequest(String groupId, String memberId, String groupInstanceId, String clientId,
                              String protocolType, List<Protocol> protocols, int sessionTimeoutMs,
                              int rebalanceTimeoutMs) {
    }

    /** A member as the leader learns it: its metadata for the chosen protocol. */
    public record JoinedMember(String memberId, String groupInstanceId, byte[] metadata) {
    }

    /** The answer to a join. {@code members} is filled for the leader only (it computes the assignment). */
    public record JoinResult(int generationId, String protocolName, String leaderId, String memberId,
                             List<JoinedMember> members) {
        public boolean isLeader() {
            return memberId.equals(leaderId);
        }
    }

    /**
     * A SyncGroup. {@code assignments} (member id to assignment) matters only from the leader.
     * {@code protocolType} and {@code protocolName} are checked when not null.
     */
    public record SyncRequest(String groupId, int generationId, String memberId, String protocolType,
                              String protocolName, Map<String, byte[]> assignments) {
    }

    /** A line of ListGroups; {@code protocolType} is "" for a group that only stores offsets. */
    public record GroupOverview(String groupId, String protocolType, GroupState state) {
    }

    /** A member in DescribeGroups: its metadata for the group's protocol (empty before one is chosen) and assignment. */
    public record MemberDescription(String memberId, String groupInstanceId, String clientId, byte[] metadata,
                                    byte[] assignment) {
    }

    /** DescribeGroups for one group. {@code protocolType} is "" and {@code protocolName} "" when there are none. */
    public record GroupDescription(String groupId, GroupState state, String protocolType, String protocolName,
                                   List<MemberDescription> members) {
    }

    /** Gives the coordinator a context of its own. */
    private static final class Home extends VerticleBase {
        Context home() {
            return context;
        }
    }

    private final Vertx vertx;
    private final Context context;
    private final String deploymentId;
    private final GroupStore store;
    private final GroupConfig config;
    private final Map<String, ClassicGroup> groups = new HashMap<>();
    private boolean closed;

    private GroupCoordinator(Vertx vertx, Context context, String deploymentId, GroupStore store, GroupConfig config) {
        this.vertx = vertx;
        this.context = context;
        this.deploymentId = deploymentId;
        this.store = store;
        this.config = config;
    }

    /** Starts a coordinator on a context of its own, after replaying {@code store}. */
    public static Future<GroupCoordinator> start(Vertx vertx, GroupStore store, GroupConfig config) {
        Home home = new Home();
        return Contexts.onCaller(vertx.deployVerticle(home).compose(id -> {
            GroupCoordinator c = new GroupCoordinator(vertx, home.home(), id, store, config);
            return c.load().map(v -> c);
        }));
    }

    /** Stops: pending joins and syncs fail with {@link CoordinatorNotAvailableException}, timers stop. */
    public Future<Void> close() {
        return Contexts.onCaller(Contexts.runOn(context, () -> {
            if (closed) {
                return Future.succeededFuture();
            }
            closed = true;
            List<Runnable> answers = new ArrayList<>();
            CoordinatorNotAvailableException gone = new CoordinatorNotAvailableException("The group coordinator is shutting down");
            for (ClassicGroup g : groups.values()) {
                cancelPhaseTimer(g);
                for (ClassicMember m : g.members()) {
                    vertx.cancelTimer(m.sessionTimerId);
                    answers.add(failJoin(m, gone));
                    answers.add(failSync(m, gone));
                }
            }
            groups.clear();
            answers.forEach(Runnable::run);
            return vertx.undeploy(deploymentId);
        }));
    }

    // ---------------------------------------------------------------- loading

    /** What the store holds about the groups, collected while it replays (one record at a time). */
    private static final class Replayed {
        final Map<String, Map<TopicPartition, OffsetAndMetadata>> offsets = new HashMap<>();
        final Map<String, GroupRecords.GroupMetadataValue> metadata = new HashMap<>();

        void apply(GroupRecords.Entry entry) {
            if (entry instanceof GroupRecords.OffsetCommit c) {
                if (c.offset() == null) {
                    Map<TopicPartition, OffsetAndMetadata> of = offsets.get(c.groupId());
                    if (of != null) {
                        of.remove(c.partition());
                    }
                } else {
                    offsets.computeIfAbsent(c.groupId(), g -> new HashMap<>()).put(c.partition(), c.offset());
                }
            } else if (entry instanceof GroupRecords.GroupMetadata m) {
                if (m.value() == null) {
                    metadata.remove(m.groupId());
                } else {
                    metadata.put(m.groupId(), m.value());
                }
            }
        }
    }

    private Future<Void> load() {
        Replayed replayed = new Replayed();
        Future<Void> chain = Future.succeededFuture();
        // One partition after another, so the store never calls the collector from two threads at once.
        for (int p = 0; p < store.partitions(); p++) {
            int partition = p;
            chain = chain.compose(v -> store.replay(partition, r -> replayed.apply(GroupRecords.read(r))));
        }
        return Contexts.deliverOn(context, chain).map(v -> {
            adopt(replayed);
            return null;
        });
    }

    /** Takes in what a replay found. */
    private void adopt(Replayed replayed) {
        replayed.metadata.forEach((id, value) -> {
            ClassicGroup g = groups.computeIfAbsent(id, ClassicGroup::new);
            g.generationId = value.generationId();
            g.protocolType = value.protocolType();
        });
        replayed.offsets.forEach((id, offsets) -> {
            if (!offsets.isEmpty()) {
                groups.computeIfAbsent(id, ClassicGroup::new).offsets.putAll(offsets);
            }
        });
    }

    // ---------------------------------------------------------------- join

    /** JoinGroup; the answer comes when the group's join phase completes. */
    public Future<JoinResult> join(JoinRequest request) {
        if (isRemote(request.groupId())) {
            return RemoteGroupCalls.join(remote, partitionOf(request.groupId()), request);
        }
        return call(() -> doJoin(request));
    }

    private Future<JoinResult> doJoin(JoinRequest r) {
        checkGroupId(r.groupId());
        if (r.sessionTimeoutMs() < config.minSessionTimeoutMs() || r.sessionTimeoutMs() > config.maxSessionTimeoutMs()) {
            throw new InvalidSessionTimeoutException("Session timeout " + r.sessionTimeoutMs() + " ms is outside ["
                    + config.minSessionTimeoutMs() + ", " + config.maxSessionTimeoutMs() + "] ms");
        }
        if (r.protocolType() == null || r.protocolType().isEmpty() || r.protocols() == null || r.protocols().isEmpty()) {
            throw new InconsistentGroupProtocolException("A join needs a protocol type and at least one protocol");
        }
        boolean newMember = r.memberId() == null || r.memberId().isEmpty();
        ClassicGroup group = groups.get(r.groupId());
        if (group == null) {
            if (!newMember) {
                throw new UnknownMemberIdException("Group " + r.groupId() + " has no member " + r.memberId());
            }
            group = new ClassicGroup(r.groupId());
            groups.put(r.groupId(), group);
        }
        checkNotDead(group);
        if (!group.supportsProtocols(r.protocolType(), r.protocols().stream().map(Protocol::name).toList())) {
            throw new InconsistentGroupProtocolException("Group " + r.groupId() + " (protocol type "
                    + group.protocolType + ") has no protocol in common with " + describe(r));
        }
        if (newMember) {
            return addMemberAndRebalance(group, r);
        }
        ClassicMember m = memberOf(group, r.memberId());
        armSession(group, m);
        return switch (group.state()) {
            case PREPARING_REBALANCE -> updateMemberAndRebalance(group, m, r);
            case COMPLETING_REBALANCE -> m.matches(r.protocols())
                    // It lost the answer to its join: give it the same one again.
                    ? Future.succeededFuture(joinResultFor(group, m))
                    : updateMemberAndRebalance(group, m, r);
            case STABLE -> group.isLeader(m.memberId) || !m.matches(r.protocols())
                    // The leader rejoining means it wants a new assignment (its topics changed).
                    ? updateMemberAndRebalance(group, m, r)
                    : Future.succeededFuture(joinResultFor(group, m));
            case EMPTY, DEAD -> throw new IllegalStateException("Group " + group.groupId + " is " + group.state()
                    + " yet has member " + m.memberId);
        };
    }

    private static String describe(JoinRequest r) {
        return r.protocolType() + " " + r.protocols().stream().map(Protocol::name).toList();
    }

    private Future<JoinResult> addMemberAndRebalance(ClassicGroup group, JoinRequest r) {
        String clientId = r.clientId() == null ? "" : r.clientId();
        String memberId = (clientId.isEmpty() ? "member" : clientId) + "-" + UUID.randomUUID();
        ClassicMember m = new ClassicMember(memberId, r.groupInstanceId(), clientId, r.sessionTimeoutMs(),
                rebalanceTimeoutOf(r), r.protocolType(), r.protocols());
        Promise<JoinResult> answer = Promise.promise();
        m.awaitingJoin = answer;
        group.add(m);
        armSession(group, m);
        if (group.is(GroupState.PREPARING_REBALANCE) && group.initialJoinPhase) {
            // Kafka's initial delay: each newcomer gives others another delay to arrive.
            group.joinNotBeforeMs = Math.min(nowMs() + config.initialRebalanceDelayMs(),
                    group.rebalanceStartMs + group.rebalanceTimeoutMs());
        }
        maybePrepareRebalance(group, "member " + memberId + " joined");
        return answer.future();
    }

    private Future<JoinResult> updateMemberAndRebalance(ClassicGroup group, ClassicMember m, JoinRequest r) {
        m.protocols = List.copyOf(r.protocols());
        m.sessionTimeoutMs = r.sessionTimeoutMs();
        m.rebalanceTimeoutMs = rebalanceTimeoutOf(r);
        Runnable superseded = failJoin(m, new RebalanceInProgressException("A newer join of member " + m.memberId
                + " replaced this one"));
        Promise<JoinResult> answer = Promise.promise();
        m.awaitingJoin = answer;
        superseded.run();
        maybePrepareRebalance(group, "member " + m.memberId + " rejoined");
        return answer.future();
    }

    private static int rebalanceTimeoutOf(JoinRequest r) {
        return r.rebalanceTimeoutMs() > 0 ? r.rebalanceTimeoutMs() : r.sessionTimeoutMs();
    }

    private JoinResult joinResultFor(ClassicGroup group, ClassicMember m) {
        List<JoinedMember> members = List.of();
        if (group.isLeader(m.memberId)) {
            members = group.members().stream()
                    .map(x -> new JoinedMember(x.memberId, x.groupInstanceId, x.metadata(group.protocolName))).toList();
        }
        return new JoinResult(group.generationId, group.protocolName, group.leaderId, m.memberId, members);
    }

    // ---------------------------------------------------------------- the rebalance

    private void maybePrepareRebalance(ClassicGroup group, String reason) {
        switch (group.state()) {
            case EMPTY, STABLE, COMPLETING_REBALANCE -> prepareRebalance(group, reason);
            case PREPARING_REBALANCE -> {
                scheduleJoinPhaseTimer(group);
                tryCompleteJoinPhase(group);
            }
            case DEAD -> { }
        }
    }

    private void prepareRebalance(ClassicGroup group, String reason) {
        LOG.debug("Group {} prepares a rebalance (generation {}): {}", group.groupId, group.generationId, reason);
        List<Runnable> answers = new ArrayList<>();
        if (group.is(GroupState.COMPLETING_REBALANCE)) {
            RebalanceInProgressException again = new RebalanceInProgressException("Group " + group.groupId
                    + " is rebalancing again: " + reason);
            group.members().forEach(m -> answers.add(failSync(m, again)));
        }
        group.members().forEach(m -> m.assignment = new byte[0]);
        group.pendingSync.clear();
        long now = nowMs();
        boolean initial = group.is(GroupState.EMPTY);
        group.transitionTo(GroupState.PREPARING_REBALANCE);
        group.initialJoinPhase = initial;
        group.rebalanceStartMs = now;
        group.joinDeadlineMs = now + group.rebalanceTimeoutMs();
        group.joinNotBeforeMs = initial ? now + Math.min(config.initialRebalanceDelayMs(), group.rebalanceTimeoutMs()) : now;
        scheduleJoinPhaseTimer(group);
        answers.forEach(Runnable::run);
        tryCompleteJoinPhase(group);
    }

    /** One timer for the join phase: at the end of the initial delay, else at the deadline. */
    private void scheduleJoinPhaseTimer(ClassicGroup group) {
        cancelPhaseTimer(group);
        long now = nowMs();
        boolean deadline = now >= group.joinNotBeforeMs;
        long wakeMs = deadline ? group.joinDeadlineMs : group.joinNotBeforeMs;
        group.phaseTimerId = vertx.setTimer(Math.max(1, wakeMs - now), id -> {
            if (group.phaseTimerId != id || !group.is(GroupState.PREPARING_REBALANCE)) {
                return;
            }
            group.phaseTimerId = -1;
            if (deadline) {
                completeJoinPhase(group);
            } else if (!tryCompleteJoinPhase(group)) {
                scheduleJoinPhaseTimer(group);
            }
        });
    }

    private boolean tryCompleteJoinPhase(ClassicGroup group) {
        if (!group.is(GroupState.PREPARING_REBALANCE)) {
            return false;
        }
        boolean nobodyLeft = !group.hasMembers();
        if (nobodyLeft || (group.allMembersAwaitingJoin() && nowMs() >= group.joinNotBeforeMs)) {
            completeJoinPhase(group);
            return true;
        }
        return false;
    }

    /** Ends the join phase: drops members that did not rejoin, starts the next generation, answers the joins. */
    private void completeJoinPhase(ClassicGroup group) {
        cancelPhaseTimer(group);
        List<Runnable> answers = new ArrayList<>();
        for (ClassicMember m : List.copyOf(group.members())) {
            if (m.awaitingJoin == null) {
                LOG.info("Group {}: member {} did not rejoin in time and is removed", group.groupId, m.memberId);
                answers.addAll(removeMember(group, m));
            }
        }
        group.generationId++;
        if (!group.hasMembers()) {
            group.protocolName = null;
            group.transitionTo(GroupState.EMPTY);
            persistMetadata(group);
            answers.forEach(Runnable::run);
            return;
        }
        group.protocolName = group.selectProtocol();
        group.transitionTo(GroupState.COMPLETING_REBALANCE);
        LOG.debug("Group {} generation {}: protocol {}, leader {}, {} members", group.groupId, group.generationId,
                group.protocolName, group.leaderId, group.members().size());
        for (ClassicMember m : group.members()) {
            Promise<JoinResult> answer = m.awaitingJoin;
            m.awaitingJoin = null;
            group.pendingSync.add(m.memberId);
            armSession(group, m);
            JoinResult result = joinResultFor(group, m);
            answers.add(() -> answer.complete(result));
        }
        scheduleSyncDeadline(group);
        answers.forEach(Runnable::run);
    }

    /** Members told of a generation must sync within the rebalance timeout; those that do not are removed. */
    private void scheduleSyncDeadline(ClassicGroup group) {
        int generation = group.generationId;
        group.phaseTimerId = vertx.setTimer(Math.max(1, group.rebalanceTimeoutMs()), id -> {
            if (group.phaseTimerId != id || group.generationId != generation) {
                return;
            }
            group.phaseTimerId = -1;
            if (group.pendingSync.isEmpty()
                    || !(group.is(GroupState.COMPLETING_REBALANCE) || group.is(GroupState.STABLE))) {
                return;
            }
            List<Runnable> answers = new ArrayList<>();
            for (String memberId : List.copyOf(group.pendingSync)) {
                LOG.info("Group {}: member {} did not sync in time and is removed", group.groupId, memberId);
                answers.addAll(removeMember(group, group.member(memberId)));
            }
            prepareRebalance(group, "members did not sync in time");
            answers.forEach(Runnable::run);
        });
    }

    private void cancelPhaseTimer(ClassicGroup group) {
        if (group.phaseTimerId >= 0) {
            vertx.cancelTimer(group.phaseTimerId);
            group.phaseTimerId = -1;
        }
    }

    // ---------------------------------------------------------------- sync

    /** SyncGroup: this member's assignment, once the leader's has been stored. */
    public Future<byte[]> sync(SyncRequest request) {
        if (isRemote(request.groupId())) {
            return RemoteGroupCalls.sync(remote, partitionOf(request.groupId()), request);
        }
        return call(() -> doSync(request));
    }

    private Future<byte[]> doSync(SyncRequest r) {
        ClassicGroup group = existingGroup(r.groupId(), r.memberId());
        ClassicMember m = memberOf(group, r.memberId());
        checkGeneration(group, r.generationId());
        if ((r.protocolType() != null && !r.protocolType().equals(group.protocolType))
                || (r.protocolName() != null && !r.protocolName().equals(group.protocolName))) {
            throw new InconsistentGroupProtocolException("Group " + group.groupId + " uses " + group.protocolType + " "
                    + group.protocolName + ", not " + r.protocolType() + " " + r.protocolName());
        }
        armSession(group, m);
        group.pendingSync.remove(m.memberId);
        return switch (group.state()) {
            case PREPARING_REBALANCE -> throw new RebalanceInProgressException("Group " + group.groupId
                    + " is rebalancing; join again");
            case STABLE -> Future.succeededFuture(m.assignment);
            case COMPLETING_REBALANCE -> {
                Runnable superseded = failSync(m, new RebalanceInProgressException("A newer sync of member "
                        + m.memberId + " replaced this one"));
                Promise<byte[]> answer = Promise.promise();
                m.awaitingSync = answer;
                superseded.run();
                if (group.isLeader(m.memberId)) {
                    storeAssignment(group, r.assignments() == null ? Map.of() : Map.copyOf(r.assignments()));
                }
                yield answer.future();
            }
            case EMPTY, DEAD -> throw new IllegalStateException("Group " + group.groupId + " is " + group.state()
                    + " yet has member " + m.memberId);
        };
    }

    /** Stores the generation, then hands each waiting member its part of the leader's assignment. */
    private void storeAssignment(ClassicGroup group, Map<String, byte[]> assignments) {
        int generation = group.generationId;
        persistMetadata(group).onComplete(stored -> {
            if (groups.get(group.groupId) != group || group.generationId != generation
                    || !group.is(GroupState.COMPLETING_REBALANCE)) {
                return; // a newer rebalance already answered these syncs
            }
            List<Runnable> answers = new ArrayList<>();
            if (stored.failed()) {
                CoordinatorNotAvailableException error = new CoordinatorNotAvailableException(
                        "Storing generation " + generation + " of group " + group.groupId + " failed", stored.cause());
                group.members().forEach(m -> answers.add(failSync(m, error)));
                prepareRebalance(group, "its assignment could not be stored");
            } else {
                group.members().forEach(m -> m.assignment = assignments.getOrDefault(m.memberId, new byte[0]));
                group.transitionTo(GroupState.STABLE);
                for (ClassicMember m : group.members()) {
                    Promise<byte[]> answer = m.awaitingSync;
                    m.awaitingSync = null;
                    if (answer != null) {
                        byte[] mine = m.assignment;
                        answers.add(() -> answer.complete(mine));
                    }
                }
            }
            answers.forEach(Runnable::run);
        });
    }

    // ---------------------------------------------------------------- heartbeat, leave, expiry

    /** Heartbeat; fails with {@link RebalanceInProgressException} while the member should rejoin. */
    public Future<Void> heartbeat(String groupId, int generationId, String memberId) {
        if (isRemote(groupId)) {
            return RemoteGroupCalls.heartbeat(remote, partitionOf(groupId), groupId, generationId, memberId);
        }
        return call(() -> {
            ClassicGroup group = existingGroup(groupId, memberId);
            ClassicMember m = memberOf(group, memberId);
            checkGeneration(group, generationId);
            armSession(group, m);
            if (group.is(GroupState.PREPARING_REBALANCE)) {
                throw new RebalanceInProgressException("Group " + groupId + " is rebalancing; join again");
            }
            return Future.succeededFuture();
        });
    }

    /** LeaveGroup: removes the member and starts a rebalance of the rest. */
    public Future<Void> leave(String groupId, String memberId) {
        if (isRemote(groupId)) {
            return RemoteGroupCalls.leave(remote, partitionOf(groupId), groupId, memberId);
        }
        return call(() -> {
            ClassicGroup group = existingGroup(groupId, memberId);
            ClassicMember m = memberOf(group, memberId);
            removeMemberAndRebalance(group, m, "member " + memberId + " left");
            return Future.succeededFuture();
        });
    }

    /** (Re)starts the member's session: unless it is heard from again within its session timeout, it is removed. */
    private void armSession(ClassicGroup group, ClassicMember m) {
        vertx.cancelTimer(m.sessionTimerId);
        m.sessionTimerId = vertx.setTimer(m.sessionTimeoutMs, id -> {
            if (m.sessionTimerId != id || group.member(m.memberId) != m) {
                return;
            }
            m.sessionTimerId = -1;
            if (m.awaitingJoin != null || m.awaitingSync != null) {
                // Its request is in hand; the join and sync deadlines bound how long that lasts.
                armSession(group, m);
                return;
            }
            LOG.info("Group {}: member {} missed its session timeout of {} ms and is removed", group.groupId,
                    m.memberId, m.sessionTimeoutMs);
            removeMemberAndRebalance(group, m, "member " + m.memberId + "'s session expired");
        });
    }

    private void removeMemberAndRebalance(ClassicGroup group, ClassicMember m, String reason) {
        List<Runnable> answers = removeMember(group, m);
        switch (group.state()) {
            case STABLE, COMPLETING_REBALANCE -> prepareRebalance(group, reason);
            case PREPARING_REBALANCE -> tryCompleteJoinPhase(group);
            case EMPTY, DEAD -> { }
        }
        answers.forEach(Runnable::run);
    }

    /** Takes the member out; returns the failing of its waiting requests, to run once state is settled. */
    private List<Runnable> removeMember(ClassicGroup group, ClassicMember m) {
        vertx.cancelTimer(m.sessionTimerId);
        m.sessionTimerId = -1;
        group.remove(m);
        UnknownMemberIdException gone = new UnknownMemberIdException("Member " + m.memberId
                + " is no longer in group " + group.groupId);
        return List.of(failJoin(m, gone), failSync(m, gone));
    }

    private static Runnable failJoin(ClassicMember m, ApiException error) {
        Promise<JoinResult> answer = m.awaitingJoin;
        m.awaitingJoin = null;
        return answer == null ? () -> { } : () -> answer.tryFail(error);
    }

    private static Runnable failSync(ClassicMember m, ApiException error) {
        Promise<byte[]> answer = m.awaitingSync;
        m.awaitingSync = null;
        return answer == null ? () -> { } : () -> answer.tryFail(error);
    }

    // ---------------------------------------------------------------- offsets

    /**
     * OffsetCommit. A member commits with its member id and generation. With generation -1 and
     * member id "" it is a "simple" commit (no group management), accepted only while the group has
     * no members. Answered once the offsets are durable, and only then visible to fetches.
     */
    public Future<Void> commitOffsets(String groupId, int generationId, String memberId,
                                      Map<TopicPartition, OffsetAndMetadata> offsets) {
        if (isRemote(groupId)) {
            return RemoteGroupCalls.commit(remote, partitionOf(groupId), groupId, generationId,
                    memberId == null ? "" : memberId, Map.copyOf(offsets));
        }
        return call(() -> doCommit(groupId, generationId, memberId == null ? "" : memberId, Map.copyOf(offsets)));
    }

    private Future<Void> doCommit(String groupId, int generationId, String memberId,
                                  Map<TopicPartition, OffsetAndMetadata> offsets) {
        checkGroupId(groupId);
        offsets.forEach((tp, om) -> {
            if (om.metadata() != null && om.metadata().length() > OFFSET_METADATA_MAX_CHARS) {
                throw new OffsetMetadataTooLarge("The metadata committed for " + tp + " has " + om.metadata().length()
                        + " characters, more than " + OFFSET_METADATA_MAX_CHARS);
            }
        });
        boolean simple = generationId < 0 && memberId.isEmpty();
        ClassicGroup group = groups.get(groupId);
        if (group == null) {
            if (!simple) {
                throw new IllegalGenerationException("Group " + groupId + " does not exist, so generation "
                        + generationId + " is not its generation");
            }
            group = new ClassicGroup(groupId);
            groups.put(groupId, group);
        }
        checkNotDead(group);
        if (simple) {
            if (group.hasMembers()) {
                throw new UnknownMemberIdException("Group " + groupId + " has members: a commit without a member id"
                        + " is accepted only from an empty group");
            }
        } else {
            memberOf(group, memberId);
            checkGeneration(group, generationId);
            if (group.is(GroupState.COMPLETING_REBALANCE)) {
                // It has the new generation but not its assignment yet: it cannot own what it commits.
                throw new RebalanceInProgressException("Group " + groupId + " is waiting for its assignment");
            }
        }
        if (offsets.isEmpty()) {
            return Future.succeededFuture();
        }
        ClassicGroup committing = group;
        MemoryRecords records = GroupRecords.offsetCommits(groupId, offsets, System.currentTimeMillis());
        return Contexts.deliverOn(context, store.append(partitionOf(groupId), records)).transform(appended -> {
            if (appended.failed()) {
                if (committing.isVacant() && groups.get(groupId) == committing) {
                    groups.remove(groupId);
                }
                return Future.failedFuture(new CoordinatorNotAvailableException("Storing offsets of group " + groupId
                        + " failed", appended.cause()));
            }
            // A deletion appended after this commit wins, in the log and here.
            if (groups.get(groupId) == committing) {
                committing.offsets.putAll(offsets);
            }
            return Future.succeededFuture();
        });
    }

    /** OffsetFetch: the committed offsets of {@code partitions} (all when null); partitions without one are absent. */
    public Future<Map<TopicPartition, OffsetAndMetadata>> fetchOffsets(String groupId, Collection<TopicPartition> partitions) {
        if (isRemote(groupId)) {
            return RemoteGroupCalls.fetch(remote, partitionOf(groupId), groupId, partitions);
        }
        return call(() -> {
            checkGroupId(groupId);
            ClassicGroup group = groups.get(groupId);
            Map<TopicPartition, OffsetAndMetadata> found = new HashMap<>();
            if (group != null) {
                if (partitions == null) {
                    found.putAll(group.offsets);
                } else {
                    for (TopicPartition tp : partitions) {
                        OffsetAndMetadata om = group.offsets.get(tp);
                        if (om != null) {
                            found.put(tp, om);
                        }
                    }
                }
            }
            return Future.succeededFuture(found);
        });
    }

    /**
     * OffsetDelete: forgets the committed offsets of {@code partitions}, with tombstones in the
     * store, and answers each partition's outcome (null for deleted, also when nothing was
     * committed). As in Kafka, a group with members keeps the offsets of topics its consumers are
     * subscribed to ({@link GroupSubscribedToTopicException}): they would be committed again at
     * once, or worse, reset. {@link GroupIdNotFoundException} for an unknown group.
     */
    public Future<Map<TopicPartition, ApiException>> deleteOffsets(String groupId, Collection<TopicPartition> partitions) {
        return call(() -> {
            checkGroupId(groupId);
            ClassicGroup group = groups.get(groupId);
            if (group == null || group.is(GroupState.DEAD)) {
                throw new GroupIdNotFoundException("Group " + groupId + " does not exist");
            }
            Set<String> subscribed = subscribedTopics(group);
            Map<TopicPartition, ApiException> outcome = new HashMap<>();
            List<TopicPartition> deleting = new ArrayList<>();
            for (TopicPartition tp : partitions) {
                if (subscribed.contains(tp.topic())) {
                    outcome.put(tp, new GroupSubscribedToTopicException("Group " + groupId + " has members subscribed to "
                            + tp.topic()));
                } else {
                    outcome.put(tp, null);
                    if (group.offsets.containsKey(tp)) {
                        deleting.add(tp);
                    }
                }
            }
            if (deleting.isEmpty()) {
                return Future.succeededFuture(outcome);
            }
            MemoryRecords tombstones = GroupRecords.offsetTombstones(groupId, deleting, System.currentTimeMillis());
            return Contexts.deliverOn(context, store.append(partitionOf(groupId), tombstones)).transform(appended -> {
                if (appended.failed()) {
                    return Future.failedFuture(new CoordinatorNotAvailableException("Deleting offsets of group " + groupId
                            + " failed", appended.cause()));
                }
                deleting.forEach(group.offsets::remove);
                return Future.succeededFuture(outcome);
            });
        });
    }

    /**
     * The topics the members of a consumer group subscribe to, from their subscriptions for the
     * group's protocol (kafka-clients' consumer protocol); empty for an empty group or another
     * protocol type. A subscription that does not parse counts as none, as in Kafka.
     */
    private static Set<String> subscribedTopics(ClassicGroup group) {
        Set<String> topics = new HashSet<>();
        if (!ConsumerProtocol.PROTOCOL_TYPE.equals(group.protocolType) || group.protocolName == null) {
            return topics;
        }
        for (ClassicMember m : group.members()) {
            if (!m.supports(group.protocolName)) {
                continue;
            }
            try {
                topics.addAll(ConsumerProtocol.deserializeSubscription(ByteBuffer.wrap(m.metadata(group.protocolName)))
                        .topics());
            } catch (RuntimeException e) {
                LOG.debug("Member {} of group {} has a subscription that does not parse: {}", m.memberId, group.groupId,
                        e.toString());
            }
        }
        return topics;
    }

    // ---------------------------------------------------------------- admin

    /** ListGroups, sorted by group id. */
    public Future<List<GroupOverview>> listGroups() {
        return call(() -> Future.succeededFuture(new TreeMap<>(groups).values().stream()
                .filter(g -> !g.is(GroupState.DEAD) && owns.test(partitionOf(g.groupId)))
                .map(g -> new GroupOverview(g.groupId, orEmpty(g.protocolType), g.state())).toList()));
    }

    /** DescribeGroups for one group; {@link GroupIdNotFoundException} when there is no such group. */
    public Future<GroupDescription> describeGroup(String groupId) {
        return call(() -> {
            checkGroupId(groupId);
            ClassicGroup group = groups.get(groupId);
            if (group == null || group.is(GroupState.DEAD)) {
                throw new GroupIdNotFoundException("Group " + groupId + " does not exist");
            }
            List<MemberDescription> members = group.members().stream().map(m -> new MemberDescription(m.memberId,
                    m.groupInstanceId, m.clientId,
                    group.protocolName != null && m.supports(group.protocolName) ? m.metadata(group.protocolName) : new byte[0],
                    m.assignment)).toList();
            return Future.succeededFuture(new GroupDescription(groupId, group.state(), orEmpty(group.protocolType),
                    orEmpty(group.protocolName), members));
        });
    }

    /**
     * DeleteGroups for one group: writes tombstones for its metadata and every committed offset,
     * then forgets it. {@link GroupNotEmptyException} while it has members.
     */
    public Future<Void> deleteGroup(String groupId) {
        return call(() -> {
            checkGroupId(groupId);
            ClassicGroup group = groups.get(groupId);
            if (group == null || group.is(GroupState.DEAD)) {
                throw new GroupIdNotFoundException("Group " + groupId + " does not exist");
            }
            if (group.hasMembers()) {
                throw new GroupNotEmptyException("Group " + groupId + " has " + group.members().size() + " members");
            }
            group.transitionTo(GroupState.DEAD);
            MemoryRecords tombstones = GroupRecords.tombstones(groupId, List.copyOf(group.offsets.keySet()),
                    System.currentTimeMillis());
            return Contexts.deliverOn(context, store.append(partitionOf(groupId), tombstones)).transform(appended -> {
                if (appended.failed()) {
                    group.transitionTo(GroupState.EMPTY);
                    return Future.failedFuture(new CoordinatorNotAvailableException("Deleting group " + groupId
                            + " failed", appended.cause()));
                }
                groups.remove(groupId);
                return Future.succeededFuture();
            });
        });
    }

    // ---------------------------------------------------------------- plumbing

    private Future<Void> persistMetadata(ClassicGroup group) {
        long now = System.currentTimeMillis();
        MemoryRecords records = GroupRecords.groupMetadata(group.groupId, new GroupRecords.GroupMetadataValue(
                group.protocolType, group.generationId, group.protocolName, group.leaderId, now), now);
        return Contexts.deliverOn(context, store.append(partitionOf(group.groupId), records))
                .onFailure(e -> LOG.warn("Storing generation {} of group {} failed", group.generationId,
                        group.groupId, e));
    }

    private int partitionOf(String groupId) {
        return GroupStore.partitionFor(groupId, store.partitions());
    }

    /** Runs {@code action} on the coordinator's context and answers on the caller's. */
    private <T> Future<T> call(java.util.function.Supplier<Future<T>> action) {
        return Contexts.onCaller(Contexts.runOn(context, () -> {
            if (closed) {
                throw new CoordinatorNotAvailableException("The group coordinator is closed");
            }
            return action.get();
        }));
    }

    private void checkGroupId(String groupId) {
        if (groupId == null || groupId.isEmpty()) {
            throw new InvalidGroupIdException("A group id must not be empty");
        }
        int partition = partitionOf(groupId);
        if (!owns.test(partition)) {
            throw new org.apache.kafka.common.errors.NotCoordinatorException("This broker does not coordinate group "
                    + groupId + " (partition " + partition + " of __consumer_offsets is led elsewhere)");
        }
        if (loading.contains(partition)) {
            throw new org.apache.kafka.common.errors.CoordinatorLoadInProgressException("Group " + groupId
                    + "'s offsets are being loaded");
        }
    }

    // ---------------------------------------------------------------- cluster: which groups are ours

    /**
     * In a cluster: this coordinator serves only the groups whose {@code __consumer_offsets}
     * partition {@code owns} says this broker leads; others are told NOT_COORDINATOR (Kafka clients
     * then find the right broker). A single node owns every partition.
     */
    public void useOwnership(java.util.function.IntPredicate owns) {
        this.owns = owns;
    }

    /**
     * This broker has just become the leader of offsets partition {@code partition}: forgets what
     * it held of those groups (members of an older term are told NOT_COORDINATOR and find the
     * coordinator again) and replays the partition, which replication kept up to date. Requests
     * for those groups get COORDINATOR_LOAD_IN_PROGRESS meanwhile; the replay starts when
     * {@code caughtUp} completes (the partition's high watermark has reached what the new leader holds).
     */
    public Future<Void> reload(int partition, Future<Void> caughtUp) {
        return Contexts.onCaller(Contexts.runOn(context, () -> {
            if (closed) {
                return Future.succeededFuture();
            }
            loading.add(partition);
            List<Runnable> answers = new ArrayList<>();
            var moved = new org.apache.kafka.common.errors.NotCoordinatorException("The coordinator of this group moved");
            for (var it = groups.values().iterator(); it.hasNext(); ) {
                ClassicGroup g = it.next();
                if (partitionOf(g.groupId) == partition) {
                    cancelPhaseTimer(g);
                    for (ClassicMember m : g.members()) {
                        vertx.cancelTimer(m.sessionTimerId);
                        answers.add(failJoin(m, moved));
                        answers.add(failSync(m, moved));
                    }
                    it.remove();
                }
            }
            answers.forEach(Runnable::run);
            Replayed replayed = new Replayed();
            Future<Void> replay = caughtUp.recover(e -> Future.succeededFuture())
                    .compose(v -> store.replay(partition, r -> replayed.apply(GroupRecords.read(r))));
            return Contexts.deliverOn(context, replay)
                    .map(v -> {
                        adopt(replayed);
                        return (Void) null;
                    })
                    .eventually(() -> {
                        loading.remove(partition);
                        return Future.succeededFuture();
                    });
        }));
    }

    private volatile java.util.function.IntPredicate owns = p -> true;
    private volatile RemoteGroupCalls.Transport remote;

    /**
     * In a cluster: calls for groups coordinated elsewhere (made by this broker's own members:
     * HTTP, WebSocket and event bus consumers) go through {@code remote} to the coordinating broker.
     */
    public void useRemote(RemoteGroupCalls.Transport remote) {
        this.remote = remote;
    }

    private boolean isRemote(String groupId) {
        return remote != null && groupId != null && !groupId.isEmpty() && !owns.test(partitionOf(groupId));
    }
    private final java.util.Set<Integer> loading = new java.util.HashSet<>();

    private static void checkNotDead(ClassicGroup group) {
        if (group.is(GroupState.DEAD)) {
            throw new CoordinatorNotAvailableException("Group " + group.groupId + " is being deleted");
        }
    }

    /** The group of a member's request; an unknown group means an unknown member, as Kafka answers. */
    private ClassicGroup existingGroup(String groupId, String memberId) {
        checkGroupId(groupId);
        ClassicGroup group = groups.get(groupId);
        if (group == null) {
            throw new UnknownMemberIdException("Group " + groupId + " does not exist, so has no member " + memberId);
        }
        checkNotDead(group);
        return group;
    }

    private static ClassicMember memberOf(ClassicGroup group, String memberId) {
        ClassicMember m = memberId == null ? null : group.member(memberId);
        if (m == null) {
            throw new UnknownMemberIdException("Group " + group.groupId + " has no member " + memberId);
        }
        return m;
    }

    private static void checkGeneration(ClassicGroup group, int generationId) {
        if (generationId != group.generationId) {
            throw new IllegalGenerationException("Group " + group.groupId + " is at generation " + group.generationId
                    + ", not " + generationId);
        }
    }

    private static String orEmpty(String s) {
        return s == null ? "" : s;
    }

    private static long nowMs() {
        return System.nanoTime() / 1_000_000;
    }
}

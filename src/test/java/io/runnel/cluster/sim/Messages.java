package io.runnel.cluster.sim;

import java.util.List;
import java.util.Set;

import io.runnel.cluster.PartitionState;
import io.runnel.log.EpochEndOffset;

/**
 * What travels between the simulated brokers, the controller and the clients: one record per
 * request or answer the real cluster sends (event bus requests of {@code ReplicaManager}, the
 * controller's {@code alterIsr}, Hazelcast's membership events and map updates).
 */
final class Messages {

    private Messages() {
    }

    /** Anything the network carries. */
    sealed interface Message permits Metadata, Membership, AlterIsr, EpochRequest, EpochResponse, FetchRequest,
            FetchResponse, Produce {
    }

    /** The controller's view reaching a broker: the partition's state and the live brokers, numbered in the order they were sent. */
    record Metadata(long sequence, PartitionState state, Set<Integer> live) implements Message {
    }

    /** A broker joining or leaving the controller's membership view (process start, kill, or session timeout). */
    record Membership(int broker, boolean alive) implements Message {
    }

    /** A leader asking the controller to change the ISR ({@code ReplicaManager.askForIsr}); the answer is ignored, as there. */
    record AlterIsr(int leader, int leaderEpoch, int basedOnVersion, List<Integer> isr) implements Message {
    }

    /** OffsetForLeaderEpoch from a follower about its latest epoch. */
    record EpochRequest(int follower, long requestId, int epoch) implements Message {
    }

    /** The leader's answer; {@code answer} is null when it refused (it does not lead). */
    record EpochResponse(long requestId, EpochEndOffset answer) implements Message {
    }

    /** A follower's fetch in {@code epoch} from its log end {@code offset}. */
    record FetchRequest(int follower, long requestId, int epoch, long offset) implements Message {
    }

    /** Why a leader refused a fetch ({@code Partition.replicaFetchRefusal}). */
    enum FetchError { NONE, NOT_LEADER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, OFFSET_OUT_OF_RANGE }

    /**
     * Records from the fetch offset up to the leader's log end, and the leader's high watermark;
     * {@code learnedHighWatermark} is the checkers' annotation, not on the wire (see
     * {@code SimBroker.learnedHighWatermark}).
     */
    record FetchResponse(long requestId, FetchError error, List<SimLog.Entry> records, long highWatermark,
                         long learnedHighWatermark) implements Message {
    }

    /** A client's acks=all append of one record, sent to the broker it believes leads. */
    record Produce(long recordId) implements Message {
    }
}

package io.runnel.log;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.record.RecordBatch;

/**
 * Per-producer sequence state of one partition, for the idempotent producer: a retried batch is
 * recognised and answered with its original offsets instead of being written twice; a batch that
 * skips sequence numbers is refused with OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is fenced.
 *
 * <p>Model (Kafka's): for each producer id, its epoch and the metadata of its last
 * {@link #CACHED_BATCHES} batches (first/last sequence, first/last offset). A batch from a
 * producer we know, with its current epoch, must start at last sequence + 1 (wrapping at
 * Integer.MAX_VALUE). A new epoch must start at sequence 0. A producer we have never seen (or
 * whose state aged out with retention) may start anywhere, as in Kafka.
 *
 * <p>The state is rebuilt from the log's batch headers when the log opens, so it survives
 * restarts. Not thread-safe: owned by its log.
 */
final class ProducerStateManager {

    /** Kafka keeps five: the producer's default max.in.flight.requests.per.connection with idempotence. */
    static final int CACHED_BATCHES = 5;

    /** One batch a producer wrote. */
    record BatchMetadata(int firstSeq, int lastSeq, long firstOffset, long lastOffset) {
    }

    private static final class ProducerEntry {
        short epoch;
        /** The largest timestamp of the producer's last batch. */
        long lastTimestampMs = RecordBatch.NO_TIMESTAMP;
        final ArrayDeque<BatchMetadata> batches = new ArrayDeque<>();
    }

    private final Map<Long, ProducerEntry> producers = new HashMap<>();

    /** A batch that was already written: the append must return its metadata and write nothing. */
    BatchMetadata findDuplicate(BatchHeader h) {
        if (!h.hasProducerId() || h.baseSequence() == RecordBatch.NO_SEQUENCE) {
            return null;
        }
        ProducerEntry e = producers.get(h.producerId());
        if (e == null || e.epoch != h.producerEpoch()) {
            return null;
        }
        for (BatchMetadata m : e.batches) {
            if (m.firstSeq() == h.baseSequence() && m.lastSeq() == h.lastSequence()) {
                return m;
            }
        }
        return null;
    }

    /**
     * Checks that {@code h} may follow what this producer wrote before, counting batches earlier in
     * the same append ({@code pending}). Throws Kafka's exception if not.
     */
    void check(BatchHeader h, Map<Long, int[]> pending) {
        if (!h.hasProducerId()) {
            return;
        }
        ProducerEntry e = producers.get(h.producerId());
        int[] pendingState = pending.get(h.producerId());
        short epoch = pendingState != null ? (short) pendingState[0] : e != null ? e.epoch : RecordBatch.NO_PRODUCER_EPOCH;
        int lastSeq = pendingState != null ? pendingState[1]
                : e != null && !e.batches.isEmpty() ? e.batches.peekLast().lastSeq() : RecordBatch.NO_SEQUENCE;
        boolean known = pendingState != null || e != null;
        if (known && h.producerEpoch() < epoch) {
            throw new InvalidProducerEpochException("Producer " + h.producerId() + " epoch " + h.producerEpoch()
                    + " is older than the current epoch " + epoch);
        }
        if (h.baseSequence() != RecordBatch.NO_SEQUENCE) {
            if (known && h.producerEpoch() > epoch) {
                if (h.baseSequence() != 0) {
                    throw new OutOfOrderSequenceException("Producer " + h.producerId() + " started epoch "
                            + h.producerEpoch() + " at sequence " + h.baseSequence() + ", expected 0");
                }
            } else if (known && lastSeq != RecordBatch.NO_SEQUENCE) {
                int expected = lastSeq == Integer.MAX_VALUE ? 0 : lastSeq + 1;
                if (h.baseSequence() != expected) {
                    throw new OutOfOrderSequenceException("Producer " + h.producerId() + " sent sequence "
                            + h.baseSequence() + ", expected " + expected);
                }
            }
        }
        pending.put(h.producerId(), new int[] {h.producerEpoch(), h.lastSequence()});
    }

    /** Records a batch that is now in the log (at append, or replayed from the log on open). */
    void update(BatchHeader h) {
        if (!h.hasProducerId()) {
            return;
        }
        ProducerEntry e = producers.computeIfAbsent(h.producerId(), id -> new ProducerEntry());
        if (h.producerEpoch() != e.epoch) {
            e.epoch = h.producerEpoch();
            e.batches.clear();
        }
        e.lastTimestampMs = h.maxTimestamp();
        if (h.baseSequence() == RecordBatch.NO_SEQUENCE) {
            return;
        }
        e.batches.addLast(new BatchMetadata(h.baseSequence(), h.lastSequence(), h.baseOffset(), h.lastOffset()));
        while (e.batches.size() > CACHED_BATCHES) {
            e.batches.removeFirst();
        }
    }

    /** Forgets everything (before a rebuild after truncation). */
    void clear() {
        producers.clear();
    }

    /** Every producer with a batch on record, by producer id. */
    java.util.List<Log.ProducerSnapshot> snapshot() {
        java.util.List<Log.ProducerSnapshot> out = new java.util.ArrayList<>();
        new java.util.TreeMap<>(producers).forEach((id, e) -> {
            if (!e.batches.isEmpty()) {
                BatchMetadata last = e.batches.peekLast();
                out.add(new Log.ProducerSnapshot(id, e.epoch, last.lastSeq(), e.lastTimestampMs, last.lastOffset()));
            }
        });
        return out;
    }

    /** The last offset each producer wrote, for compaction to keep a producer's last batch. */
    Map<Long, Long> lastOffsets() {
        Map<Long, Long> out = new HashMap<>();
        producers.forEach((id, e) -> {
            if (!e.batches.isEmpty()) {
                out.put(id, e.batches.peekLast().lastOffset());
            }
        });
        return out;
    }
}

package io.runnel.group;

import java.util.function.Consumer;

import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.utils.Utils;

import io.vertx.core.Future;

/**
 * Where the group coordinator keeps what must survive a restart: committed offsets and group
 * metadata, as records in a partitioned, compacted log — on a broker, the topic
 * {@code __consumer_offsets}. The coordinator depends on this interface only, so {@code group}
 * stays below {@code broker} (which implements it).
 *
 * <h2>Partitioning</h2>
 * Every record of a group goes to partition {@link #partitionFor(String, int)}
 * ({@code Utils.abs(groupId.hashCode()) % partitions()}), as Kafka places them, so a group's
 * records are in one partition and in the order they were appended.
 *
 * <h2>Record format (version 1)</h2>
 * Big-endian; a string is an int16 byte length and that many UTF-8 bytes, length -1 for null.
 * The key says what a record is about; compaction keeps the latest value per key, so the latest
 * value is the truth and a record with a null value (a tombstone) erases the key.
 * <pre>
 *   key   := int16 type, then by type
 *            1 offset commit:  string group, string topic, int32 partition
 *            2 group metadata: string group
 *   value of an offset commit  := int16 version (1), int64 offset, int32 leader epoch (-1: none),
 *                                 string metadata, int64 commit timestamp (ms)
 *   value of a group metadata  := int16 version (1), string protocol type, int32 generation id,
 *                                 string protocol name, string leader member id, int64 timestamp (ms)
 * </pre>
 * Group metadata records the generation and protocol a group reached, not its members: after a
 * restart a group comes back {@code Empty} with its generation, so members of the old coordinator
 * are told their member id is unknown and join again. A reader refuses a key type or value
 * version it does not know (it fails loudly rather than lose offsets silently); a new format is a
 * new version number. {@link GroupRecords} writes and reads this format.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>{@link #append} completes once the records are durable and will be seen by every later
 *       {@link #replay}; it fails if they are not (and then may or may not be replayed).</li>
 *   <li>{@link #replay} hands every record of a partition from its log start to its end to
 *       {@code each}, in log order, one at a time (possibly on a worker thread, never two at
 *       once), then completes.</li>
 *   <li>Thread-safe: methods may be called from any thread; futures may complete on any thread.</li>
 * </ul>
 */
public interface GroupStore {

    /** How many partitions the store has; fixed for its lifetime (group placement depends on it). */
    int partitions();

    /** Appends {@code records} to {@code partition}; completes when they are durable. */
    Future<Void> append(int partition, MemoryRecords records);

    /** Passes every record of {@code partition}, from log start to end, in order, to {@code each}. */
    Future<Void> replay(int partition, Consumer<Record> each);

    /** The partition a group's records go to, Kafka's placement. */
    static int partitionFor(String groupId, int partitions) {
        return Utils.abs(groupId.hashCode()) % partitions;
    }
}

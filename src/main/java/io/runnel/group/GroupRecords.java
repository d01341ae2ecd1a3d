package io.runnel.group;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.TimestampType;

/**
 * Writes and reads the records of a {@link GroupStore}, in the format its Javadoc defines.
 *
 * <p>Invariants: what {@link #read} returns for a record is exactly what was given to the method
 * that wrote it (pair-checked in the tests); a string longer than {@value #STRING_BYTES_MAX} UTF-8
 * bytes is refused when written, never truncated; an unknown key type or value version is refused
 * when read. Stateless and thread-safe.
 */
public final class GroupRecords {

    /** Key type of an offset commit. */
    static final short OFFSET_COMMIT_KEY = 1;
    /** Key type of a group's metadata. */
    static final short GROUP_METADATA_KEY = 2;
    /** The one value version this code writes and reads. */
    static final short VALUE_VERSION = 1;
    /** An int16 length prefix, as Kafka's own strings. */
    static final int STRING_BYTES_MAX = Short.MAX_VALUE;

    private GroupRecords() {
    }

    /** What one record says; a null value is a tombstone. */
    public sealed interface Entry permits OffsetCommit, GroupMetadata {
        String groupId();
    }

    /** A committed offset of {@code partition}, or its erasure when {@code offset} is null. */
    public record OffsetCommit(String groupId, TopicPartition partition, OffsetAndMetadata offset,
                               long commitTimestampMs) implements Entry {
    }

    /** A group's generation and protocol, or its erasure when {@code value} is null. */
    public record GroupMetadata(String groupId, GroupMetadataValue value) implements Entry {
    }

    /** The persisted part of a group (see the format in {@link GroupStore}). Nullable strings may be null. */
    public record GroupMetadataValue(String protocolType, int generationId, String protocolName, String leaderId,
                                     long timestampMs) {
    }

    // ---------------------------------------------------------------- writing

    /** One batch with a record per committed offset. */
    public static MemoryRecords offsetCommits(String groupId, Map<TopicPartition, OffsetAndMetadata> offsets,
                                              long nowMs) {
        MemoryRecordsBuilder batch = builder(offsets.size());
        offsets.forEach((tp, om) -> batch.append(nowMs, offsetKey(groupId, tp), offsetValue(om, nowMs)));
        return batch.build();
    }

    /** One batch with the group's metadata record. */
    public static MemoryRecords groupMetadata(String groupId, GroupMetadataValue value, long nowMs) {
        MemoryRecordsBuilder batch = builder(1);
        batch.append(nowMs, groupKey(groupId), groupValue(value));
        return batch.build();
    }

    /** One batch of tombstones: the group's metadata and each of {@code partitions}' committed offsets. */
    public static MemoryRecords tombstones(String groupId, Collection<TopicPartition> partitions, long nowMs) {
        MemoryRecordsBuilder batch = builder(partitions.size() + 1);
        batch.append(nowMs, groupKey(groupId), (byte[]) null);
        partitions.forEach(tp -> batch.append(nowMs, offsetKey(groupId, tp), (byte[]) null));
        return batch.build();
    }

    /** One batch of tombstones for {@code partitions}' committed offsets only (OffsetDelete; the group stays). */
    public static MemoryRecords offsetTombstones(String groupId, Collection<TopicPartition> partitions, long nowMs) {
        MemoryRecordsBuilder batch = builder(partitions.size());
        partitions.forEach(tp -> batch.append(nowMs, offsetKey(groupId, tp), (byte[]) null));
        return batch.build();
    }

    private static MemoryRecordsBuilder builder(int records) {
        return MemoryRecords.builder(ByteBuffer.allocate(256 + records * 256), Compression.NONE,
                TimestampType.CREATE_TIME, 0L);
    }

    static byte[] offsetKey(String groupId, TopicPartition tp) {
        byte[] group = utf8(groupId);
        byte[] topic = utf8(tp.topic());
        ByteBuffer b = ByteBuffer.allocate(2 + 2 + group.length + 2 + topic.length + 4);
        b.putShort(OFFSET_COMMIT_KEY);
        putString(b, group);
        putString(b, topic);
        b.putInt(tp.partition());
        return b.array();
    }

    static byte[] groupKey(String groupId) {
        byte[] group = utf8(groupId);
        ByteBuffer b = ByteBuffer.allocate(2 + 2 + group.length);
        b.putShort(GROUP_METADATA_KEY);
        putString(b, group);
        return b.array();
    }

    private static byte[] offsetValue(OffsetAndMetadata om, long commitTimestampMs) {
        byte[] metadata = utf8(om.metadata());
        ByteBuffer b = ByteBuffer.allocate(2 + 8 + 4 + 2 + lengthOf(metadata) + 8);
        b.putShort(VALUE_VERSION);
        b.putLong(om.offset());
        b.putInt(om.leaderEpoch().orElse(-1));
        putString(b, metadata);
        b.putLong(commitTimestampMs);
        return b.array();
    }

    private static byte[] groupValue(GroupMetadataValue v) {
        byte[] protocolType = utf8(v.protocolType());
        byte[] protocolName = utf8(v.protocolName());
        byte[] leader = utf8(v.leaderId());
        ByteBuffer b = ByteBuffer.allocate(2 + 2 + lengthOf(protocolType) + 4 + 2 + lengthOf(protocolName)
                + 2 + lengthOf(leader) + 8);
        b.putShort(VALUE_VERSION);
        putString(b, protocolType);
        b.putInt(v.generationId());
        putString(b, protocolName);
        putString(b, leader);
        b.putLong(v.timestampMs());
        return b.array();
    }

    private static byte[] utf8(String s) {
        if (s == null) {
            return null;
        }
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > STRING_BYTES_MAX) {
            throw new IllegalArgumentException("A string of " + bytes.length + " UTF-8 bytes does not fit the group"
                    + " record format (at most " + STRING_BYTES_MAX + ")");
        }
        return bytes;
    }

    private static int lengthOf(byte[] bytes) {
        return bytes == null ? 0 : bytes.length;
    }

    private static void putString(ByteBuffer b, byte[] bytes) {
        if (bytes == null) {
            b.putShort((short) -1);
        } else {
            b.putShort((short) bytes.length);
            b.put(bytes);
        }
    }

    // ---------------------------------------------------------------- reading

    /** What {@code record} says; throws {@link IllegalStateException} for a format this code does not know. */
    public static Entry read(Record record) {
        if (!record.hasKey()) {
            throw new IllegalStateException("A group record at offset " + record.offset() + " has no key");
        }
        try {
            return read(record.key(), record.hasValue() ? record.value() : null, record.offset());
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new IllegalStateException("A group record at offset " + record.offset() + " is cut short", e);
        }
    }

    private static Entry read(ByteBuffer key, ByteBuffer value, long recordOffset) {
        short type = key.getShort();
        if (type != OFFSET_COMMIT_KEY && type != GROUP_METADATA_KEY) {
            throw new IllegalStateException("Unknown group record key type " + type + " at offset " + recordOffset);
        }
        String groupId = getString(key);
        return switch (type) {
            case OFFSET_COMMIT_KEY -> {
                TopicPartition tp = new TopicPartition(getString(key), key.getInt());
                if (value == null) {
                    yield new OffsetCommit(groupId, tp, null, -1);
                }
                checkVersion(value, recordOffset);
                long offset = value.getLong();
                int leaderEpoch = value.getInt();
                String metadata = getString(value);
                long commitTimestampMs = value.getLong();
                yield new OffsetCommit(groupId, tp, new OffsetAndMetadata(offset,
                        leaderEpoch < 0 ? Optional.empty() : Optional.of(leaderEpoch), metadata), commitTimestampMs);
            }
            case GROUP_METADATA_KEY -> {
                if (value == null) {
                    yield new GroupMetadata(groupId, null);
                }
                checkVersion(value, recordOffset);
                String protocolType = getString(value);
                int generationId = value.getInt();
                String protocolName = getString(value);
                String leaderId = getString(value);
                long timestampMs = value.getLong();
                yield new GroupMetadata(groupId, new GroupMetadataValue(protocolType, generationId, protocolName,
                        leaderId, timestampMs));
            }
            default -> throw new IllegalStateException("Unknown group record key type " + type);
        };
    }

    private static void checkVersion(ByteBuffer value, long offset) {
        short version = value.getShort();
        if (version != VALUE_VERSION) {
            throw new IllegalStateException("Unknown group record value version " + version + " at offset " + offset);
        }
    }

    private static String getString(ByteBuffer b) {
        short length = b.getShort();
        if (length < 0) {
            return null;
        }
        byte[] bytes = new byte[length];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

}

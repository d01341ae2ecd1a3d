package io.runnel.group;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

/** The store's record format reads back exactly what was written, and refuses what it does not know. */
class GroupRecordsTest {

    static List<GroupRecords.Entry> read(MemoryRecords records) {
        List<GroupRecords.Entry> out = new ArrayList<>();
        for (RecordBatch batch : records.batches()) {
            for (Record r : batch) {
                out.add(GroupRecords.read(r));
            }
        }
        return out;
    }

    @Test
    void offsetCommitsMetadataAndTombstonesReadBackAsWritten() {
        TopicPartition tp = new TopicPartition("ördérs", 7);
        OffsetAndMetadata om = new OffsetAndMetadata(123_456_789_012L, Optional.of(5), "where I was");
        assertThat(read(GroupRecords.offsetCommits("grüppe", Map.of(tp, om), 1000L)))
                .containsExactly(new GroupRecords.OffsetCommit("grüppe", tp, om, 1000L));
        assertThat(read(GroupRecords.offsetCommits("g", Map.of(tp, new OffsetAndMetadata(1)), 5L)))
                .containsExactly(new GroupRecords.OffsetCommit("g", tp, new OffsetAndMetadata(1, Optional.empty(), ""), 5L));

        GroupRecords.GroupMetadataValue value = new GroupRecords.GroupMetadataValue("consumer", 9, "range", "m-1", 77L);
        assertThat(read(GroupRecords.groupMetadata("g", value, 77L))).containsExactly(new GroupRecords.GroupMetadata("g", value));
        GroupRecords.GroupMetadataValue empty = new GroupRecords.GroupMetadataValue(null, 0, null, null, 1L);
        assertThat(read(GroupRecords.groupMetadata("g", empty, 1L))).containsExactly(new GroupRecords.GroupMetadata("g", empty));

        assertThat(read(GroupRecords.tombstones("g", List.of(tp), 9L))).containsExactly(
                new GroupRecords.GroupMetadata("g", null), new GroupRecords.OffsetCommit("g", tp, null, -1));
    }

    @Test
    void anUnknownKeyTypeOrValueVersionIsRefusedNotSkipped() {
        byte[] unknownKey = ByteBuffer.allocate(2).putShort((short) 99).array();
        byte[] futureValue = ByteBuffer.allocate(2).putShort((short) 2).array();
        MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(512), Compression.NONE,
                TimestampType.CREATE_TIME, 0L);
        b.append(0L, unknownKey, new byte[0]);
        b.append(0L, GroupRecords.groupKey("g"), futureValue);
        List<Record> records = new ArrayList<>();
        b.build().records().forEach(records::add);

        assertThatThrownBy(() -> GroupRecords.read(records.get(0))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("key type 99");
        assertThatThrownBy(() -> GroupRecords.read(records.get(1))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("value version 2");
    }

    @Test
    void aGroupsRecordsGoWhereKafkaPutsThem() {
        assertThat(GroupStore.partitionFor("my-group", 50)).isEqualTo(Math.abs("my-group".hashCode()) % 50);
        // Integer.MIN_VALUE has no positive twin; Kafka's Utils.abs maps it to 0 rather than a negative partition.
        assertThat(GroupStore.partitionFor("polygenelubricants", 50)).isBetween(0, 49);
    }
}

package io.runnel.group;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;

import io.vertx.core.Future;

/**
 * A {@link GroupStore} in memory, for tests: every appended batch is kept (copied) per partition,
 * in order, and replayed as is (nothing is compacted, so tests see every tombstone). Appends can
 * be made to fail. Thread-safe (synchronized); the futures it returns are already complete.
 */
final class InMemoryGroupStore implements GroupStore {

    private final List<List<MemoryRecords>> logs = new ArrayList<>();
    private boolean failAppends;

    InMemoryGroupStore(int partitions) {
        for (int p = 0; p < partitions; p++) {
            logs.add(new ArrayList<>());
        }
    }

    @Override
    public int partitions() {
        return logs.size();
    }

    /** From now on appends fail (true) or succeed (false). */
    synchronized void failAppends(boolean fail) {
        failAppends = fail;
    }

    @Override
    public synchronized Future<Void> append(int partition, MemoryRecords records) {
        if (failAppends) {
            return Future.failedFuture(new KafkaStorageException("Appends fail in this test"));
        }
        ByteBuffer original = records.buffer();
        ByteBuffer copy = ByteBuffer.allocate(original.remaining());
        copy.put(original).flip();
        logs.get(partition).add(MemoryRecords.readableRecords(copy));
        return Future.succeededFuture();
    }

    @Override
    public synchronized Future<Void> replay(int partition, Consumer<Record> each) {
        for (MemoryRecords records : logs.get(partition)) {
            for (RecordBatch batch : records.batches()) {
                for (Record r : batch) {
                    each.accept(r);
                }
            }
        }
        return Future.succeededFuture();
    }

    /** Every entry of a group's partition, oldest first, as {@link GroupRecords} reads it. */
    synchronized List<GroupRecords.Entry> entriesOf(String groupId) {
        List<GroupRecords.Entry> entries = new ArrayList<>();
        replay(GroupStore.partitionFor(groupId, partitions()), r -> {
            GroupRecords.Entry e = GroupRecords.read(r);
            if (e.groupId().equals(groupId)) {
                entries.add(e);
            }
        });
        return entries;
    }
}

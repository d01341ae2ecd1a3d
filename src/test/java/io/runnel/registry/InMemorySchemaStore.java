package io.runnel.registry;

import java.util.ArrayList;
import java.util.List;

import io.vertx.core.Future;

/**
 * A {@link SchemaStore} in memory for the registry's model tests: records go through their byte
 * encoding (as they would through the topic) and can be made to fail. A failed append can be
 * told to land anyway, the way a write whose fsync failed may still be in the log after a restart.
 * A record's offset is its position in the list.
 * Thread-safe (synchronised), since the registry calls it from its own context; several
 * registries may share one, as a cluster's brokers share {@code _schemas}.
 */
public final class InMemorySchemaStore implements SchemaStore {

    private final List<byte[][]> log = new ArrayList<>();
    private int failuresLeft;
    private boolean failedWritesLand;

    /** The next {@code count} appends fail; with {@code land}, their records are kept all the same. */
    synchronized void failNextAppends(int count, boolean land) {
        failuresLeft = count;
        failedWritesLand = land;
    }

    synchronized int size() {
        return log.size();
    }

    @Override
    public synchronized Future<Long> append(List<RegistryRecord> records) {
        boolean fail = failuresLeft > 0;
        if (fail) {
            failuresLeft--;
        }
        long first = log.size();
        if (!fail || failedWritesLand) {
            records.forEach(r -> log.add(new byte[][] {r.key(), r.value()}));
        }
        return fail ? Future.failedFuture(new java.io.IOException("injected: disk full")) : Future.succeededFuture(first);
    }

    @Override
    public synchronized Future<Tail> readFrom(long offset) {
        int from = (int) Math.min(Math.max(offset, 0), log.size());
        List<RegistryRecord> out = new ArrayList<>();
        log.subList(from, log.size()).forEach(kv -> out.add(RegistryRecord.read(kv[0], kv[1])));
        return Future.succeededFuture(new Tail(out, Math.max(offset, log.size())));
    }
}

package io.runnel.broker;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * Hands out producer ids (Kafka's InitProducerId) that are never reused by one data directory,
 * across restarts and crashes.
 *
 * <p>Ids are reserved in blocks of {@value #BLOCK}: the end of the reserved range is written (and
 * fsynced) to {@code data.dir/producer-ids} before any id of the block is given out, so after a
 * crash the next start begins past every id that may have been used. A restart skips the rest of
 * its block, which is cheap: ids are 63-bit.
 *
 * <p>Thread-safe: ids are taken under the instance's lock; reserving a block is file IO, done on
 * a worker thread, and callers wait for it through the returned future.
 */
final class ProducerIds {

    static final long BLOCK = 1_000;
    static final String FILE = "producer-ids";

    private final Vertx vertx;
    private final Path file;
    private long next;
    private long blockEnd;
    private Future<Void> reserving;

    ProducerIds(Vertx vertx, Path dataDir) {
        this.vertx = vertx;
        this.file = dataDir.resolve(FILE);
    }

    Future<Long> next() {
        Future<Void> wait;
        synchronized (this) {
            if (next < blockEnd) {
                return Future.succeededFuture(next++);
            }
            if (reserving == null) {
                reserving = vertx.executeBlocking(this::reserveBlock, true).onFailure(e -> {
                    synchronized (this) {
                        reserving = null; // the next caller tries again
                    }
                });
            }
            wait = reserving;
        }
        return wait.compose(v -> next());
    }

    /** Reads the last reserved end, writes the new one, and makes the block available. */
    private Void reserveBlock() throws IOException {
        long start = Files.exists(file)
                ? Long.parseLong(Files.readString(file, StandardCharsets.US_ASCII).trim()) : 0;
        long end = start + BLOCK;
        Path tmp = file.resolveSibling(FILE + ".tmp");
        try (var channel = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
            channel.write(java.nio.ByteBuffer.wrap(Long.toString(end).getBytes(StandardCharsets.US_ASCII)));
            channel.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        synchronized (this) {
            next = start;
            blockEnd = end;
            reserving = null;
        }
        return null;
    }
}

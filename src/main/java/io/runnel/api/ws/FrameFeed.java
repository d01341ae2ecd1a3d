package io.runnel.api.ws;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;

import io.runnel.broker.BrokerService;
import io.runnel.broker.Partition;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;

/**
 * The record frames of one partition in one format, read from the log once and encoded once for
 * every subscriber on one event loop that reads them: the fan-out path of
 * {@link SubscriberSession}. Without it each of N subscribers fetched the same slice and encoded
 * every record again, N times the work for the same bytes.
 *
 * <h2>Model</h2>
 * <ul>
 *   <li>A <em>read</em> asks for the frames from {@code offset}, at most {@code maxChars} of them
 *       (at least one when there is one), and gets them with the offset to read next.</li>
 *   <li>Reads at an offset the <em>window</em> covers are answered at once, from memory. The
 *       window is the frames of the contiguous range {@code [windowFrom, windowEnd)} most recently
 *       fetched, at most {@link #windowChars} characters of them (the oldest go first).</li>
 *   <li>Other reads wait for a <em>fetch</em> from that offset ({@link BrokerService#fetch}, a
 *       long poll at the log's end). At most one fetch per offset is out: reads at an offset
 *       already being fetched join it. So subscribers at the tail share one long poll and one
 *       encoding per append.</li>
 *   <li>A fetch's frames join the window when they continue it (they start at {@code windowEnd})
 *       or lie ahead of it (the window then restarts there); frames behind it (a lagging reader)
 *       are given to that fetch's readers only.</li>
 * </ul>
 *
 * <h2>Invariants</h2>
 * Frames in the window are in strictly increasing offset order, all in {@code [windowFrom,
 * windowEnd)}, and every record of the log in that range that is not in a control batch is there
 * (a gap in offsets is a gap in the log: compaction, control records). A read is never answered
 * from the window below the log start offset the last fetch saw, so records removed by retention
 * or {@code DeleteRecords} before that fetch are not served from memory (one removed after it may
 * be, as it would have been had the subscriber read it a moment earlier). Frames are immutable and
 * shared: the same {@link Buffer} goes to every socket.
 *
 * <h2>Threading and lifetime</h2>
 * A feed belongs to one event-loop thread and is used only there: its readers run there, and
 * its fetches complete on the context of the reader that started them, which runs there too. Sessions
 * {@link Registry#acquire acquire} a feed per partition they read and {@link #release} it when the
 * cursor goes; the last release removes it from the registry, with its window.
 */
final class FrameFeed {

    /** One record's frame: its offset, its UTF-8 bytes and its length in characters (for the stats). */
    record Frame(long offset, Buffer bytes, int chars) {
    }

    /**
     * What a read gets: {@code frames} (possibly none: the long poll ended without records) and
     * the offset to read next; {@code fetchedNanos} is when the fetch that produced them started
     * ({@link System#nanoTime}), so a reader can tell a long poll that ended early.
     */
    record Slice(List<Frame> frames, long nextOffset, long fetchStartedNanos) {
    }

    /**
     * Identifies a feed: the event-loop thread its subscribers run on, the partition, and the
     * format. The thread, not the context: Vert.x gives each connection a context of its own, and
     * all the contexts of one event loop run on its one thread, so they can share a feed.
     */
    record Key(Thread eventLoop, String topic, int partition, Frames.Format format) {
    }

    /** The feeds of one {@link WebSocketApi}, any context. Thread-safe (a concurrent map). */
    static final class Registry {
        private final BrokerService broker;
        private final WebSocketApi.Settings settings;
        private final Map<Key, FrameFeed> feeds = new ConcurrentHashMap<>();

        Registry(BrokerService broker, WebSocketApi.Settings settings) {
            this.broker = broker;
            this.settings = settings;
        }

        /** The feed for {@code key}, created if need be, with one more user; on {@code key.eventLoop()}. */
        FrameFeed acquire(Key key) {
            if (Thread.currentThread() != key.eventLoop()) {
                throw new IllegalStateException("A feed of " + key.eventLoop() + " acquired on " + Thread.currentThread());
            }
            FrameFeed feed = feeds.computeIfAbsent(key, k -> new FrameFeed(this, k));
            feed.users++;
            return feed;
        }

        /** Feeds open now (for tests). */
        int size() {
            return feeds.size();
        }
    }

    private record Waiter(int maxChars, Promise<Slice> promise) {
    }

    private final Registry registry;
    private final Key key;
    /**
     * 4 socket buffers (1 MiB by default): a subscriber that keeps up is at most about two
     * buffers (its outbox and its write queue) behind the fastest, so its reads stay in the window.
     */
    private final long windowChars;
    private final int fetchMaxBytes;

    /** The window's frames are {@code window[windowHead..]}; the head is cut off in bulk, not one by one. */
    private final ArrayList<Frame> window = new ArrayList<>();
    private int windowHead;
    private long windowFrom = -1;
    private long windowEnd = -1;
    private long windowCharsNow;
    private long logStartOffsetSeen;

    /** Fetches out, by the offset they read from, with the reads waiting for each. */
    private final Map<Long, List<Waiter>> fetching = new HashMap<>();
    private int users;

    private FrameFeed(Registry registry, Key key) {
        this.registry = registry;
        this.key = key;
        this.windowChars = 4L * registry.settings.socketBufferBytes();
        this.fetchMaxBytes = registry.settings.socketBufferBytes();
    }

    /** One user fewer; the last one removes the feed. On the feed's event loop. */
    void release() {
        if (--users == 0) {
            registry.feeds.remove(key, this);
            window.clear();
            windowHead = 0;
            windowCharsNow = 0;
        }
    }

    /**
     * The frames from {@code offset}, at most {@code maxChars} of them but at least one if there is
     * one; already complete when the window holds them. On the feed's event loop.
     */
    Future<Slice> read(long offset, int maxChars) {
        if (offset >= windowFrom && offset < windowEnd && offset >= logStartOffsetSeen) {
            return Future.succeededFuture(fromWindow(offset, maxChars));
        }
        Promise<Slice> promise = Promise.promise();
        List<Waiter> waiting = fetching.get(offset);
        if (waiting != null) {
            waiting.add(new Waiter(maxChars, promise));
            return promise.future();
        }
        waiting = new ArrayList<>();
        waiting.add(new Waiter(maxChars, promise));
        fetching.put(offset, waiting);
        fetch(offset);
        return promise.future();
    }

    private Slice fromWindow(long offset, int maxChars) {
        int i = firstAtOrAfter(offset);
        int end = i;
        long chars = 0;
        while (end < window.size() && (end == i || chars + window.get(end).chars() <= maxChars)) {
            chars += window.get(end).chars();
            end++;
        }
        long next = end < window.size() ? window.get(end).offset() : windowEnd;
        return new Slice(List.copyOf(window.subList(i, end)), next, 0);
    }

    /** The index of the first frame in the window at or after {@code offset} (binary search: offsets increase). */
    private int firstAtOrAfter(long offset) {
        int lo = windowHead;
        int hi = window.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (window.get(mid).offset() < offset) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private void fetch(long offset) {
        long startedNanos = System.nanoTime();
        registry.broker.fetch(key.topic(), key.partition(), offset, fetchMaxBytes, 1, registry.settings.fetchWaitMs())
                .onComplete(fetched -> {
                    List<Waiter> waiting = fetching.remove(offset);
                    if (fetched.failed()) {
                        waiting.forEach(w -> w.promise().fail(fetched.cause()));
                        return;
                    }
                    List<Frame> frames;
                    long next;
                    Partition.ReadResult read = fetched.result().read();
                    try {
                        frames = new ArrayList<>();
                        next = encode(read, offset, frames);
                    } catch (RuntimeException e) {
                        waiting.forEach(w -> w.promise().fail(e));
                        return;
                    }
                    logStartOffsetSeen = Math.max(logStartOffsetSeen, read.logStartOffset());
                    remember(offset, frames, next);
                    for (Waiter w : waiting) {
                        w.promise().complete(firstOf(frames, next, w.maxChars(), startedNanos));
                    }
                });
    }

    /** Encodes the records at or after {@code offset}; returns the offset after the last one read. */
    private long encode(Partition.ReadResult read, long offset, List<Frame> out) {
        if (read.slice().isEmpty()) {
            return offset;
        }
        MemoryRecords records;
        try {
            records = read.slice().readRecords();
        } catch (IOException e) {
            throw new KafkaStorageException("Reading " + key.topic() + "-" + key.partition() + " failed", e);
        }
        long next = offset;
        for (RecordBatch batch : records.batches()) {
            if (batch.isControlBatch()) {
                next = Math.max(next, batch.nextOffset());
                continue;
            }
            for (Record r : batch) {
                if (r.offset() < next) {
                    continue;
                }
                String text = Frames.record(key.topic(), key.partition(), r, key.format(),
                        registry.broker.schemaRegistry().orElse(null));
                out.add(new Frame(r.offset(), Buffer.buffer(text), text.length()));
                next = r.offset() + 1;
            }
        }
        return next;
    }

    /** Adds a fetch's frames to the window when they continue it or lie ahead of it. */
    private void remember(long offset, List<Frame> frames, long next) {
        if (next == offset) {
            return; // nothing read
        }
        if (offset != windowEnd) {
            if (offset < windowEnd) {
                return; // behind the window: a lagging reader's, kept for its readers only
            }
            window.clear(); // ahead of the window, or the first: the window restarts here
            windowHead = 0;
            windowCharsNow = 0;
            windowFrom = offset;
        }
        for (Frame f : frames) {
            window.add(f);
            windowCharsNow += f.chars();
        }
        windowEnd = next;
        while (windowCharsNow > windowChars && window.size() - windowHead > 1) {
            Frame gone = window.set(windowHead++, null);
            windowCharsNow -= gone.chars();
            windowFrom = gone.offset() + 1;
        }
        if (windowHead > window.size() / 2) {
            window.subList(0, windowHead).clear();
            windowHead = 0;
        }
    }

    private static Slice firstOf(List<Frame> frames, long next, int maxChars, long startedNanos) {
        long chars = 0;
        for (int i = 0; i < frames.size(); i++) {
            chars += frames.get(i).chars();
            if (i > 0 && chars > maxChars) {
                return new Slice(frames.subList(0, i), frames.get(i).offset(), startedNanos);
            }
        }
        return new Slice(frames, next, startedNanos);
    }
}

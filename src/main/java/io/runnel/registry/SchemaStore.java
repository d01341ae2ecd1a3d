package io.runnel.registry;

import java.util.List;

import io.vertx.core.Future;

/**
 * Where the registry keeps what must survive a restart: {@link RegistryRecord}s in a compacted
 * log — on a broker, the topic {@code _schemas} (broker.SchemasTopicStore). The registry depends
 * on this interface only, so its model can be tested without a broker.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>Every record has an offset in the log; offsets grow in log order, and may have gaps (a
 *       compacted log drops records).</li>
 *   <li>{@link #append} takes a non-empty list and completes, with the offset of its first record,
 *       once all its records are durable (and will be in every later {@link #readFrom}, in order,
 *       at consecutive offsets from that one); it fails if they are not, and then they may or may
 *       not be. The records of one append are accepted or refused together.</li>
 *   <li>{@link #readFrom} returns records from an offset (one below the log's start reads from
 *       the start), in log order, never past what was acknowledged (in a cluster: committed), at
 *       most a bounded amount per call; its {@link Tail#nextOffset} is where the next read
 *       continues (at least the offset asked, more when it returned records or skipped a gap).
 *       Reading from 0 on until a read returns nothing new gives every record, in log order.</li>
 *   <li>Thread-safe: methods may be called from any thread; futures may complete on any thread.</li>
 * </ul>
 */
public interface SchemaStore {

    /** Records read from the log, and the offset the next read continues at. */
    record Tail(List<RegistryRecord> records, long nextOffset) {
        public Tail {
            records = List.copyOf(records);
        }
    }

    /** Appends {@code records} (not empty) as one batch; completes with the first one's offset when they are durable. */
    Future<Long> append(List<RegistryRecord> records);

    /** The records from {@code offset} on (see the contract). */
    Future<Tail> readFrom(long offset);
}

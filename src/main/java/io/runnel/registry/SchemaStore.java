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
 *   <li>{@link #append} completes once all its records are durable (and will be in every later
 *       {@link #readAll}, in order); it fails if they are not, and then they may or may not be.
 *       The records of one append are accepted or refused together.</li>
 *   <li>{@link #readAll} returns every record from the log's start to what was acknowledged, in
 *       log order.</li>
 *   <li>Thread-safe: methods may be called from any thread; futures may complete on any thread.</li>
 * </ul>
 */
public interface SchemaStore {

    /** Appends {@code records} as one batch; completes when they are durable. */
    Future<Void> append(List<RegistryRecord> records);

    /** Every record, in log order. */
    Future<List<RegistryRecord>> readAll();
}

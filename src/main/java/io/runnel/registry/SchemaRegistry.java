package io.runnel.registry;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import org.apache.avro.Schema;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.vertx.core.Context;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.ThreadingModel;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;

/**
 * The schema registry's model: subjects, their versions, global schema ids, compatibility levels
 * and the mode, as Confluent Schema Registry has them; Avro only, for now.
 *
 * <h2>Model</h2>
 * A subject is a sequence of versions (1, 2, …); a version is live or soft-deleted, and a
 * permanent delete (only of a soft-deleted version) erases it. Every version points to a schema
 * by its global id. A schema is identified by its type, its canonical text ({@link AvroSchemas})
 * and its references: registering one that is already known — under this subject or any other —
 * gives it the id it has; a new one gets the highest id ever handed out plus one.
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>An id names one schema for as long as the registry exists: ids are never reused, even
 *       after the schema holding one was erased ({@link RegistryRecord.IdCounter} remembers the
 *       highest, and a failed write burns the id it tried).</li>
 *   <li>A subject's new version is one more than the highest it ever had that is not erased (or
 *       was tried by a failed write); versions never go back.</li>
 *   <li>A schema id can be read while at least one version (live or soft-deleted) points to it,
 *       so consumers can decode old data after a soft delete.</li>
 *   <li>A version referenced by another schema cannot be deleted (42206).</li>
 *   <li>A registration is compatible, at the subject's level (else the global one, else
 *       BACKWARD), with the subject's live versions; except in IMPORT mode.</li>
 *   <li>Nothing changes in memory before its records are durable in the {@link SchemaStore}; the
 *       in-memory state is exactly what replaying the store gives, because both go through
 *       {@link #apply}.</li>
 * </ul>
 *
 * <h2>Threading</h2>
 * All state lives on one Vert.x context owned by the registry (its own verticle), so it needs no
 * locks. That context is a worker context (tasks run one at a time, in order, on the worker
 * pool): parsing a large schema and comparing it with every earlier version is CPU work without a
 * small bound, which must not hold up an event loop that serves connections. Changes are serialised: each is decided against the state left by the one before it,
 * written, applied, answered, and only then is the next decided. Reads are answered from the
 * state at once. Public methods may be called from any thread; their futures complete on the
 * caller's context when the caller is on one. Refusals are {@link RegistryException}s.
 *
 * <h2>In a cluster: one writer, every registry follows the log</h2>
 * Confluent's arrangement. Every broker runs a registry over its local replica of the log;
 * {@link #follow} makes it apply, every {@value #FOLLOW_INTERVAL_MS} ms (or when asked,
 * {@link #catchUp}), the records committed since the last it applied ({@code appliedOffset}: the
 * store offset after them). Only the registry of the broker leading the log writes
 * ({@link WriterLocator}); the REST API forwards writes reaching the others to it. A registry
 * becomes the writer in a leader epoch only after the log's records are committed and it has
 * applied all of them ({@link #takeWriterRole}): deciding an id on a state that misses the
 * previous writer's last records would hand that id out twice. Its own writes are applied at once
 * (and {@code appliedOffset} moved past them), so the tail does not apply them again; were a
 * record applied twice anyway, {@link #apply} is idempotent (a record states a fact: "version v of
 * s is this", "the level of s is L", "the highest id is at least n"), though only applying in log
 * order gives the log's state.
 *
 * <p>The exception: {@link #registeredSchema} and {@link #isLiveUnder}, the broker's view for
 * record validation, read two concurrent maps that {@link #apply} keeps up to date, so they answer
 * on any thread at once, without a hop to the registry's context (a producer's batch must not wait
 * for a queue of registrations). They show the state as of the last applied record: a change is
 * visible to them before its caller is answered.
 */
public final class SchemaRegistry {

    private static final Logger LOG = LoggerFactory.getLogger(SchemaRegistry.class);

    /** Stands for "the latest version" where a version number is expected (Confluent's -1). */
    public static final int LATEST = -1;
    /**
     * How often a following registry reads what was committed to the log since it last looked: a
     * schema registered on one broker is readable on the others within about this long (and at
     * once where a reader asks for {@link #catchUpUntil}, as record validation does for an unknown id).
     */
    public static final long FOLLOW_INTERVAL_MS = 250;
    /** How often {@link #catchUpUntil} looks again: a replica's fetch round trip is a few ms, so this polls briskly without spinning. */
    static final long CATCH_UP_RETRY_MS = 25;
    /**
     * How long a reader on a following registry waits for an unknown schema id before it is
     * refused ({@link #catchUpUntil}): enough for a schema registered through another broker to be
     * committed and fetched here, short enough that a wrong id is answered promptly.
     */
    public static final long UNKNOWN_SCHEMA_WAIT_MS = 2_000;
    /** How deep references may nest; deeper is refused, so resolving them is bounded. */
    static final int REFERENCE_DEPTH_MAX = 32;

    /** A registration, lookup or compatibility check: the schema and what it references. */
    public record SchemaRequest(String schemaType, String schema, List<SchemaReference> references, Integer id,
                                Integer version) {
        public SchemaRequest {
            references = references == null ? List.of() : List.copyOf(references);
        }

        /** A plain request: an Avro schema, no references, no id or version of its own. */
        public static SchemaRequest avro(String schema) {
            return new SchemaRequest(null, schema, List.of(), null, null);
        }
    }

    /** A version of a subject, with its schema. */
    public record RegisteredSchema(String subject, int version, int id, String schemaType, String schema,
                                   List<SchemaReference> references, boolean deleted) {
    }

    /** A schema by its id. */
    public record SchemaById(int id, String schemaType, String schema, List<SchemaReference> references) {
    }

    /** Where a schema is registered. */
    public record SubjectVersion(String subject, int version) {
    }

    /** What makes two schemas the same schema (and so the same id). */
    private record Identity(String schemaType, String canonical, List<SchemaReference> references) {
    }

    private record VersionEntry(int version, int id, boolean deleted) {
    }

    /** Gives the registry a context of its own. */
    private static final class Home extends VerticleBase {
        Context home() {
            return context;
        }
    }

    private final Vertx vertx;
    private final Context context;
    private final String deploymentId;
    private final SchemaStore store;

    /** Subject → version → entry; a subject is here while it has a version that is not erased. */
    private final Map<String, TreeMap<Integer, VersionEntry>> subjects = new TreeMap<>();
    /** Id → the schema, while a version points to it. */
    private final Map<Integer, RegistryRecord.SchemaVersion> schemasById = new HashMap<>();
    /** How many versions point to each id in {@link #schemasById}. */
    private final Map<Integer, Integer> versionsPerId = new HashMap<>();
    private final Map<Identity, Integer> idsByIdentity = new HashMap<>();
    /** Parsed schemas by id, made when first needed (comparisons, references). */
    private final Map<Integer, Schema> parsedById = new HashMap<>();
    /** Per subject, the highest version a failed write tried: not handed out again. */
    private final Map<String, Integer> versionsTried = new HashMap<>();
    private final Map<String, CompatibilityLevel> subjectLevels = new HashMap<>();
    private CompatibilityLevel globalLevel;
    private RegistryMode mode;
    private int highestId;
    /** Validation's view: the parsed schema of every id a version points to (see {@link #registeredSchema}). */
    private final Map<Integer, Schema> publishedSchemas = new ConcurrentHashMap<>();
    /** Validation's view: per subject, the ids of its live versions (see {@link #isLiveUnder}). */
    private final Map<String, Set<Integer>> publishedLiveIds = new ConcurrentHashMap<>();
    private Future<Void> changeTail = Future.succeededFuture();
    private boolean closed;
    /** The store offset after the last record applied: where the next read of the log starts. */
    private long appliedOffset;
    /** Who writes, in a cluster ({@link #follow}); null on a single node, where this registry is the only writer. */
    private volatile WriterLocator writers;
    /** Where registrations of the broker's own adapters go while this registry does not write; null on a single node. */
    private volatile WriterClient writerClient;
    /** The leader epoch in which this registry caught up and writes; -1 while it does not. */
    private int writerEpoch = -1;
    private long followTimer = -1;
    /** A catch-up is reading; {@link #catchUpQueued} is the one that runs after it, for callers who came meanwhile. */
    private boolean catchingUp;
    private Promise<Void> catchUpQueued;
    private long tailWarnedAtMs;

    private SchemaRegistry(Vertx vertx, Context context, String deploymentId, SchemaStore store) {
        this.vertx = vertx;
        this.context = context;
        this.deploymentId = deploymentId;
        this.store = store;
    }

    /** Starts the registry over {@code store}, replaying it before the future completes. */
    public static Future<SchemaRegistry> start(Vertx vertx, SchemaStore store) {
        Home home = new Home();
        DeploymentOptions onWorker = new DeploymentOptions().setThreadingModel(ThreadingModel.WORKER);
        return onCaller(vertx.deployVerticle(home, onWorker).compose(id -> {
            SchemaRegistry r = new SchemaRegistry(vertx, home.home(), id, store);
            return runOn(r.context, () -> r.applyTail(0)).map(count -> {
                LOG.info("Schema registry replayed {} record(s): {} subject(s), highest id {}", count,
                        r.subjects.size(), r.highestId);
                return r;
            }).recover(e -> vertx.undeploy(id).transform(x -> Future.failedFuture(e)));
        }));
    }

    /** Stops answering: later calls fail with {@link RegistryErrorCodes#STORE_ERROR}. Idempotent. */
    public Future<Void> close() {
        return onCaller(runOn(context, () -> {
            if (closed) {
                return Future.succeededFuture();
            }
            closed = true;
            if (followTimer >= 0) {
                vertx.cancelTimer(followTimer);
            }
            return vertx.undeploy(deploymentId);
        }));
    }

    // ---------------------------------------------------------------- in a cluster

    /**
     * Cluster mode: from now on this registry applies what other brokers' registries commit to the
     * log (every {@value #FOLLOW_INTERVAL_MS} ms), and changes only as the writer {@code writers}
     * names, once it has caught up ({@link #takeWriterRole}); until then changes are refused with
     * {@link RegistryErrorCodes#REQUEST_FORWARDING_FAILED}. Called once, before any change.
     */
    public Future<Void> follow(WriterLocator writers) {
        Objects.requireNonNull(writers, "writers");
        return onCaller(runOn(context, () -> {
            if (this.writers != null) {
                throw new IllegalStateException("This registry follows its log already");
            }
            this.writers = writers;
            followTimer = vertx.setPeriodic(FOLLOW_INTERVAL_MS, t -> catchUpOnContext());
            return Future.succeededFuture();
        }));
    }

    /**
     * Cluster mode: registrations the broker's own adapters make ({@link #registerAvro}) while this
     * registry does not write go to the writer through {@code client}. Called once, after {@link #follow}.
     */
    public void forwardRegistrationsTo(WriterClient client) {
        if (writerClient != null) {
            throw new IllegalStateException("This registry forwards registrations already");
        }
        writerClient = Objects.requireNonNull(client, "client");
    }

    /**
     * Registers an Avro schema under {@code subject} for the broker's own adapters (HTTP produce
     * with schema text), on any broker: here when this registry writes (always, on a single node),
     * else at the writer. Completes with the schema's id; this registry may learn of it a moment
     * later, on its next catch-up.
     */
    public Future<Integer> registerAvro(String subject, String schema) {
        WriterClient remote = writerClient;
        if (remote == null || remote.localWrites()) {
            return register(subject, SchemaRequest.avro(schema)).map(RegisteredSchema::id);
        }
        return onCaller(remote.registerAvro(subject, schema));
    }

    /**
     * Cluster mode: this broker took the lead of the log in {@code epoch}. Changes wait (in their
     * queue) until {@code logCommitted} completes — every record of the local log is committed —
     * and this registry has applied them all; then it writes, while {@link WriterLocator#localEpoch}
     * is still {@code epoch}. Completes when it writes, or has given up (logged; its changes are
     * then refused until the next term).
     */
    public Future<Void> takeWriterRole(int epoch, Future<Void> logCommitted) {
        return onCaller(runOn(context, () -> {
            if (writers == null) {
                throw new IllegalStateException("Only a following registry takes the writer role (follow first)");
            }
            writerEpoch = -1;
            Promise<Void> ready = Promise.promise();
            Future<Void> previous = changeTail;
            changeTail = ready.future();
            previous.transform(x -> deliverOn(context, logCommitted))
                    .compose(x -> catchUpOnContext())
                    .onComplete(caughtUp -> {
                        if (caughtUp.failed()) {
                            LOG.warn("The schema registry could not catch up to become the writer in epoch {};"
                                    + " its changes are refused", epoch, caughtUp.cause());
                        } else if (writers.localEpoch() != epoch) {
                            LOG.info("The schema registry caught up for epoch {}, which is over; not the writer", epoch);
                        } else {
                            writerEpoch = epoch;
                            LOG.info("The schema registry writes in epoch {}: applied the log to offset {},"
                                    + " highest id {}", epoch, appliedOffset, highestId);
                        }
                        ready.complete();
                    });
            return ready.future();
        }));
    }

    /**
     * Applies what the log has that this registry has not applied yet; completes once a read that
     * began after this call found nothing more. On a single node there is never anything new.
     */
    public Future<Void> catchUp() {
        return onCaller(runOn(context, this::catchUpOnContext));
    }

    /**
     * Catches up, then again every {@value #CATCH_UP_RETRY_MS} ms, until {@code condition} (asked on
     * the registry's context, after each catch-up) holds or {@code maxWaitMs} passed; answers
     * whether it held. For a reader who knows what it waits for — a schema id registered through
     * another broker a moment ago — and reaches this broker before the commit does: a replica
     * learns that records are committed on its next fetch after the writer was answered.
     */
    public Future<Boolean> catchUpUntil(BooleanSupplier condition, long maxWaitMs) {
        long deadline = System.currentTimeMillis() + maxWaitMs;
        return onCaller(runOn(context, () -> catchUpUntilOnContext(condition, deadline)));
    }

    private Future<Boolean> catchUpUntilOnContext(BooleanSupplier condition, long deadlineMs) {
        return catchUpOnContext().transform(x -> {
            if (condition.getAsBoolean()) {
                return Future.succeededFuture(true);
            }
            if (closed || System.currentTimeMillis() >= deadlineMs) {
                return Future.succeededFuture(false);
            }
            Promise<Boolean> later = Promise.promise();
            vertx.setTimer(CATCH_UP_RETRY_MS, t -> catchUpUntilOnContext(condition, deadlineMs).onComplete(later));
            return later.future();
        });
    }

    /** Whether this registry follows a log other registries write ({@link #follow}). */
    public boolean isFollowing() {
        return writers != null;
    }

    private Future<Void> catchUpOnContext() {
        if (closed) {
            return Future.succeededFuture();
        }
        if (catchingUp) {
            // The read under way may have started before what the caller waits for was committed.
            if (catchUpQueued == null) {
                catchUpQueued = Promise.promise();
            }
            return catchUpQueued.future();
        }
        catchingUp = true;
        Promise<Void> done = Promise.promise();
        applyTail(0).onComplete(result -> {
            catchingUp = false;
            Promise<Void> next = catchUpQueued;
            catchUpQueued = null;
            if (result.failed()) {
                warnTail(result.cause());
                done.fail(result.cause());
            } else {
                done.complete();
            }
            if (next != null) {
                catchUpOnContext().onComplete(next);
            }
        });
        return done.future();
    }

    /**
     * Reads the log from {@link #appliedOffset} and applies what it finds, until a read finds
     * nothing new; answers how many records were applied. On the registry's context.
     */
    private Future<Integer> applyTail(int appliedSoFar) {
        long from = appliedOffset;
        return deliverOn(context, store.readFrom(from)).compose(tail -> {
            if (appliedOffset != from) {
                // A change applied its own records while this read was out; the read may hold them again.
                return applyTail(appliedSoFar);
            }
            if (tail.nextOffset() < from) {
                throw new IllegalStateException("The schema store went back from offset " + from + " to "
                        + tail.nextOffset());
            }
            tail.records().forEach(this::apply);
            appliedOffset = tail.nextOffset();
            int applied = appliedSoFar + tail.records().size();
            return tail.nextOffset() > from ? applyTail(applied) : Future.succeededFuture(applied);
        });
    }

    /** A failing read of the log is retried every interval; it is logged once a minute, not every time. */
    private void warnTail(Throwable cause) {
        long now = System.currentTimeMillis();
        if (now - tailWarnedAtMs > 60_000) {
            tailWarnedAtMs = now;
            LOG.warn("The schema registry could not read its log from offset {}; retrying", appliedOffset, cause);
        }
    }

    /** In a cluster, only the registry that caught up as the writer in the current epoch changes anything. */
    private void checkWriter() {
        if (writers == null) {
            return;
        }
        int epoch = writers.localEpoch();
        if (epoch < 0 || epoch != writerEpoch) {
            throw new RegistryException(RegistryErrorCodes.REQUEST_FORWARDING_FAILED, epoch < 0
                    ? "This broker's schema registry is not the writer (the leader of _schemas-0 is); retry"
                    : "This broker's schema registry is taking over as the writer and has not caught up yet; retry");
        }
    }

    // ---------------------------------------------------------------- reads

    /** Subjects with a live version, sorted; with {@code includeDeleted}, also those with only soft-deleted ones. */
    public Future<List<String>> subjects(boolean includeDeleted) {
        return read(() -> {
            List<String> names = new ArrayList<>();
            subjects.forEach((s, versions) -> {
                if (includeDeleted || versions.values().stream().anyMatch(v -> !v.deleted())) {
                    names.add(s);
                }
            });
            return names;
        });
    }

    /** The subject's version numbers, ascending: live ones, or all with {@code includeDeleted}; 40401 if none. */
    public Future<List<Integer>> versions(String subject, boolean includeDeleted) {
        return read(() -> entries(subject, includeDeleted).stream().map(VersionEntry::version).toList());
    }

    /**
     * A version of a subject ({@link #LATEST}: its latest live one, or latest of all with
     * {@code includeDeleted}). 40401 when the subject has none; 40402 when it lacks that one.
     */
    public Future<RegisteredSchema> version(String subject, int version, boolean includeDeleted) {
        return read(() -> registered(subject, entry(subject, version, includeDeleted)));
    }

    /** The version of {@code subject} that holds the schema of {@code request}; 40401, 40403 otherwise. */
    public Future<RegisteredSchema> lookup(String subject, SchemaRequest request, boolean includeDeleted) {
        return read(() -> {
            List<VersionEntry> candidates = entries(subject, includeDeleted);
            Identity identity = identityOf(request, parse(request));
            for (int i = candidates.size() - 1; i >= 0; i--) {
                VersionEntry e = candidates.get(i);
                if (identity.equals(identityOf(schemasById.get(e.id())))) {
                    return registered(subject, e);
                }
            }
            throw new RegistryException(RegistryErrorCodes.SCHEMA_NOT_FOUND, "Schema not found under subject '"
                    + subject + "'");
        });
    }

    /** The schema with id {@code id}; 40403 when no version points to it. */
    public Future<SchemaById> schemaById(int id) {
        return read(() -> {
            RegistryRecord.SchemaVersion s = schemaOf(id);
            return new SchemaById(id, s.schemaType(), s.schema(), s.references());
        });
    }

    /** The Avro schema with id {@code id}, parsed (for encoding and decoding); 40403 when unknown. */
    public Future<Schema> avroSchema(int id) {
        return read(() -> parsed(id));
    }

    /** Where the schema with id {@code id} is registered (live versions, or all); 40403 when unknown. */
    public Future<List<SubjectVersion>> versionsOf(int id, boolean includeDeleted) {
        return read(() -> {
            schemaOf(id);
            List<SubjectVersion> found = new ArrayList<>();
            subjects.forEach((s, versions) -> versions.values().forEach(v -> {
                if (v.id() == id && (includeDeleted || !v.deleted())) {
                    found.add(new SubjectVersion(s, v.version()));
                }
            }));
            return found;
        });
    }

    /** The subjects the schema with id {@code id} is registered under, sorted; 40403 when unknown. */
    public Future<List<String>> subjectsOf(int id, boolean includeDeleted) {
        return versionsOf(id, includeDeleted).map(found -> found.stream().map(SubjectVersion::subject).distinct().toList());
    }

    /** The ids of the schemas that reference this version, ascending; 40401, 40402 as for {@link #version}. */
    public Future<List<Integer>> referencedBy(String subject, int version) {
        return read(() -> {
            VersionEntry e = entry(subject, version, true);
            return referencingIds(subject, e.version());
        });
    }

    /**
     * Why {@code request} could not be registered after {@code version} of {@code subject}
     * ({@link #LATEST}: its latest live one) at the subject's level, compared with that version
     * alone; empty when it could. 40401, 40402 as for {@link #version}; 42201 if it does not parse.
     */
    public Future<List<String>> compatibilityProblems(String subject, int version, SchemaRequest request) {
        return read(() -> {
            VersionEntry against = entry(subject, version, false);
            Schema candidate = parse(request).schema();
            return effectiveLevel(subject).problems(candidate,
                    List.of(new CompatibilityLevel.Version(against.version(), parsed(against.id()))));
        });
    }

    /** The global compatibility level (BACKWARD until one is set). */
    public Future<CompatibilityLevel> globalCompatibility() {
        return read(() -> globalLevel == null ? CompatibilityLevel.DEFAULT : globalLevel);
    }

    /** The subject's own compatibility level, if it has one. */
    public Future<Optional<CompatibilityLevel>> subjectCompatibility(String subject) {
        return read(() -> Optional.ofNullable(subjectLevels.get(subject)));
    }

    /** The registry's mode (READWRITE until one is set). */
    public Future<RegistryMode> mode() {
        return read(() -> mode == null ? RegistryMode.DEFAULT : mode);
    }

    /**
     * The Avro schema with id {@code id}, parsed, or null when no version (live or soft-deleted)
     * points to it. Thread-safe and non-blocking: for record validation on producers' threads.
     * Avro {@link Schema}s are immutable once parsed, so the one returned may be shared.
     */
    public Schema registeredSchema(int id) {
        return publishedSchemas.get(id);
    }

    /**
     * Whether {@code subject} has a live (not soft-deleted) version with schema id {@code id}.
     * Thread-safe and non-blocking, like {@link #registeredSchema}. Soft-deleted versions do not
     * count: a soft delete is how a user retires a schema for new data, while consumers can still
     * read old data by its id.
     */
    public boolean isLiveUnder(String subject, int id) {
        Set<Integer> live = publishedLiveIds.get(subject);
        return live != null && live.contains(id);
    }

    // ---------------------------------------------------------------- changes

    /**
     * Registers {@code request} under {@code subject}: its existing version when it is already
     * there, else a new version (after the compatibility check) with the schema's id, new or known.
     * Refusals: 42201 (does not parse, unknown type, missing reference), 409 (incompatible),
     * 42205 (READONLY; an id outside IMPORT), 42207 (an imported id that belongs to another schema).
     */
    public Future<RegisteredSchema> register(String subject, SchemaRequest request) {
        return change(() -> {
            checkSubjectName(subject);
            RegistryMode current = mode == null ? RegistryMode.DEFAULT : mode;
            if (current == RegistryMode.READONLY) {
                throw readOnly();
            }
            if ((request.id() != null || request.version() != null) && current != RegistryMode.IMPORT) {
                throw new RegistryException(RegistryErrorCodes.OPERATION_NOT_PERMITTED, "A schema id or version may be"
                        + " given only in IMPORT mode; the registry is in " + current + " mode");
            }
            AvroSchemas.Parsed parsed = parse(request);
            Identity identity = identityOf(request, parsed);
            TreeMap<Integer, VersionEntry> versions = subjects.getOrDefault(subject, new TreeMap<>());
            for (VersionEntry e : versions.descendingMap().values()) {
                if (!e.deleted() && identity.equals(identityOf(schemasById.get(e.id())))
                        && (request.id() == null || request.id() == e.id())) {
                    return Future.succeededFuture(registered(subject, e));
                }
            }
            if (current != RegistryMode.IMPORT) {
                List<String> problems = effectiveLevel(subject).problems(parsed.schema(), liveVersions(subject));
                if (!problems.isEmpty()) {
                    throw new RegistryException(RegistryErrorCodes.INCOMPATIBLE_SCHEMA, "Schema being registered is"
                            + " incompatible with an earlier schema for subject \"" + subject + "\", details: "
                            + problems);
                }
            }
            int id = idFor(request, identity);
            int version = versionFor(subject, request, versions);
            RegistryRecord.SchemaVersion record = new RegistryRecord.SchemaVersion(subject, version, id,
                    identity.schemaType(), identity.canonical(), identity.references(), false);
            List<RegistryRecord> records = new ArrayList<>(List.of(record));
            if (id > highestId) {
                records.add(new RegistryRecord.IdCounter(id));
            }
            return commit(records, () -> {
                highestId = Math.max(highestId, id);
                versionsTried.merge(subject, version, Math::max);
            }).map(v -> registered(subject, subjects.get(subject).get(version)));
        });
    }

    /**
     * Soft-deletes every live version of {@code subject}, or with {@code permanent} erases a
     * subject whose versions are all soft-deleted (and its compatibility level). Answers the
     * versions deleted. Refusals: 40401, 40404 (soft-deleted already), 40405 (not soft-deleted
     * first), 42206 (referenced), 42205 (READONLY).
     */
    public Future<List<Integer>> deleteSubject(String subject, boolean permanent) {
        return change(() -> {
            checkWritable();
            List<VersionEntry> all = entries(subject, true);
            List<VersionEntry> live = all.stream().filter(e -> !e.deleted()).toList();
            for (VersionEntry e : all) {
                checkNotReferenced(subject, e.version());
            }
            List<RegistryRecord> records = new ArrayList<>();
            List<VersionEntry> deleted;
            if (!permanent) {
                if (live.isEmpty()) {
                    throw new RegistryException(RegistryErrorCodes.SUBJECT_SOFT_DELETED, "Subject '" + subject
                            + "' was soft deleted. Set permanent=true to delete permanently");
                }
                live.forEach(e -> records.add(schemaOf(e.id()).withPlace(subject, e.version(), true)));
                deleted = live;
            } else {
                if (!live.isEmpty()) {
                    throw new RegistryException(RegistryErrorCodes.SUBJECT_NOT_SOFT_DELETED, "Subject '" + subject
                            + "' was not deleted first before being permanently deleted");
                }
                all.forEach(e -> records.add(new RegistryRecord.SchemaVersionErased(subject, e.version())));
                if (subjectLevels.containsKey(subject)) {
                    records.add(new RegistryRecord.Compatibility(subject, null));
                }
                deleted = all;
            }
            List<Integer> numbers = deleted.stream().map(VersionEntry::version).toList();
            return commit(records, () -> { }).map(v -> numbers);
        });
    }

    /**
     * Soft-deletes a live version ({@link #LATEST}: the latest live one), or with
     * {@code permanent} erases a soft-deleted one ({@link #LATEST}: the latest of all). Answers its
     * number. Refusals: 40401, 40402, 40406 (soft-deleted already), 40407 (not soft-deleted
     * first), 42206 (referenced), 42205 (READONLY).
     */
    public Future<Integer> deleteVersion(String subject, int version, boolean permanent) {
        return change(() -> {
            checkWritable();
            // A soft delete of "latest" means the latest live version; a number may name a deleted one (40406).
            VersionEntry e = entry(subject, version, permanent || version != LATEST);
            checkNotReferenced(subject, e.version());
            RegistryRecord record;
            if (!permanent) {
                if (e.deleted()) {
                    throw new RegistryException(RegistryErrorCodes.VERSION_SOFT_DELETED, "Subject '" + subject
                            + "' Version " + e.version() + " was soft deleted. Set permanent=true to delete permanently");
                }
                record = schemaOf(e.id()).withPlace(subject, e.version(), true);
            } else {
                if (!e.deleted()) {
                    throw new RegistryException(RegistryErrorCodes.VERSION_NOT_SOFT_DELETED, "Subject '" + subject
                            + "' Version " + e.version() + " was not deleted first before being permanently deleted");
                }
                record = new RegistryRecord.SchemaVersionErased(subject, e.version());
            }
            return commit(List.of(record), () -> { }).map(v -> e.version());
        });
    }

    /** Sets the global compatibility level. */
    public Future<CompatibilityLevel> setGlobalCompatibility(CompatibilityLevel level) {
        Objects.requireNonNull(level, "level");
        return change(() -> commit(List.of(new RegistryRecord.Compatibility(null, level)), () -> { }).map(v -> level));
    }

    /** Removes the global level (back to BACKWARD); answers the level it had. */
    public Future<CompatibilityLevel> deleteGlobalCompatibility() {
        return change(() -> {
            CompatibilityLevel previous = globalLevel == null ? CompatibilityLevel.DEFAULT : globalLevel;
            List<RegistryRecord> records = globalLevel == null ? List.of()
                    : List.of(new RegistryRecord.Compatibility(null, null));
            return commit(records, () -> { }).map(v -> previous);
        });
    }

    /** Sets {@code subject}'s own compatibility level (the subject need not have versions yet). */
    public Future<CompatibilityLevel> setSubjectCompatibility(String subject, CompatibilityLevel level) {
        Objects.requireNonNull(level, "level");
        return change(() -> {
            checkSubjectName(subject);
            return commit(List.of(new RegistryRecord.Compatibility(subject, level)), () -> { }).map(v -> level);
        });
    }

    /** Removes {@code subject}'s own level; answers the level it had; 40408 when it had none. */
    public Future<CompatibilityLevel> deleteSubjectCompatibility(String subject) {
        return change(() -> {
            CompatibilityLevel previous = subjectLevels.get(subject);
            if (previous == null) {
                throw noSubjectLevel(subject);
            }
            return commit(List.of(new RegistryRecord.Compatibility(subject, null)), () -> { }).map(v -> previous);
        });
    }

    /** Sets the mode; IMPORT needs a registry without subjects unless {@code force} (42205). */
    public Future<RegistryMode> setMode(RegistryMode newMode, boolean force) {
        Objects.requireNonNull(newMode, "newMode");
        return change(() -> {
            if (newMode == RegistryMode.IMPORT && !subjects.isEmpty() && !force) {
                throw new RegistryException(RegistryErrorCodes.OPERATION_NOT_PERMITTED, "Cannot enter IMPORT mode: the"
                        + " registry has subjects, and imported ids could collide with theirs (force=true to insist)");
            }
            return commit(List.of(new RegistryRecord.Mode(newMode)), () -> { }).map(v -> newMode);
        });
    }

    /** 40408: the subject has no level of its own (what {@code GET /config/{subject}} answers without defaultToGlobal). */
    static RegistryException noSubjectLevel(String subject) {
        return new RegistryException(RegistryErrorCodes.SUBJECT_COMPATIBILITY_NOT_CONFIGURED, "Subject '" + subject
                + "' does not have subject-level compatibility configured");
    }

    // ---------------------------------------------------------------- applying records

    /** Applies one record: the only way state changes, live or in replay. */
    private void apply(RegistryRecord record) {
        if (record instanceof RegistryRecord.SchemaVersion v) {
            putVersion(v);
        } else if (record instanceof RegistryRecord.SchemaVersionErased erased) {
            TreeMap<Integer, VersionEntry> versions = subjects.get(erased.subject());
            VersionEntry gone = versions == null ? null : versions.remove(erased.version());
            if (gone != null) {
                release(gone.id());
                if (versions.isEmpty()) {
                    subjects.remove(erased.subject());
                }
                publishLiveIds(erased.subject());
            }
        } else if (record instanceof RegistryRecord.Compatibility c) {
            if (c.subject() == null) {
                globalLevel = c.level();
            } else if (c.level() == null) {
                subjectLevels.remove(c.subject());
            } else {
                subjectLevels.put(c.subject(), c.level());
            }
        } else if (record instanceof RegistryRecord.Mode m) {
            mode = m.mode();
        } else if (record instanceof RegistryRecord.IdCounter counter) {
            highestId = Math.max(highestId, counter.highestId());
        } else {
            throw new IllegalStateException("No rule to apply " + record);
        }
    }

    private void putVersion(RegistryRecord.SchemaVersion v) {
        RegistryRecord.SchemaVersion known = schemasById.get(v.id());
        if (known != null && !identityOf(known).equals(identityOf(v))) {
            throw new IllegalStateException("Schema id " + v.id() + " would name two schemas: " + known.schema()
                    + " and " + v.schema());
        }
        VersionEntry previous = subjects.computeIfAbsent(v.subject(), s -> new TreeMap<>())
                .put(v.version(), new VersionEntry(v.version(), v.id(), v.deleted()));
        if (known == null) {
            schemasById.put(v.id(), v);
            idsByIdentity.putIfAbsent(identityOf(v), v.id());
        }
        versionsPerId.merge(v.id(), 1, Integer::sum);
        if (previous != null) {
            release(previous.id());
        }
        highestId = Math.max(highestId, v.id());
        if (known == null) {
            publishSchema(v.id());
        }
        publishLiveIds(v.subject());
    }

    /**
     * Parses a new id's schema for validation now, on the registry's context, so producers'
     * threads never parse. A stored schema that no longer parses (it did when registered) is left
     * out and logged: validation then refuses records that name it rather than guess.
     */
    private void publishSchema(int id) {
        try {
            publishedSchemas.put(id, parsed(id));
        } catch (RuntimeException e) {
            LOG.warn("Schema {} does not parse; records naming it will be refused by validation", id, e);
        }
    }

    /** Publishes the ids of {@code subject}'s live versions (none: the subject is dropped from the view). */
    private void publishLiveIds(String subject) {
        TreeMap<Integer, VersionEntry> versions = subjects.get(subject);
        Set<Integer> live = versions == null ? Set.of() : versions.values().stream().filter(e -> !e.deleted())
                .map(VersionEntry::id).collect(Collectors.toUnmodifiableSet());
        if (live.isEmpty()) {
            publishedLiveIds.remove(subject);
        } else {
            publishedLiveIds.put(subject, live);
        }
    }

    /** One version fewer points to {@code id}; the schema is forgotten when none does. */
    private void release(int id) {
        int left = versionsPerId.merge(id, -1, Integer::sum);
        if (left > 0) {
            return;
        }
        versionsPerId.remove(id);
        RegistryRecord.SchemaVersion gone = schemasById.remove(id);
        parsedById.remove(id);
        publishedSchemas.remove(id);
        Identity identity = identityOf(gone);
        if (Objects.equals(idsByIdentity.get(identity), id)) {
            idsByIdentity.remove(identity);
            // An import may have given the same schema two ids; the other one still stands.
            schemasById.values().stream().filter(s -> identityOf(s).equals(identity)).findFirst()
                    .ifPresent(s -> idsByIdentity.put(identity, s.id()));
        }
    }

    // ---------------------------------------------------------------- internals

    /**
     * Writes {@code records}, then applies them. A failed write may still have landed (and will
     * then be replayed on the next start), so {@code onFailure} burns what the write tried to hand
     * out: a later change must not give the same id or version to something else.
     */
    private Future<Void> commit(List<RegistryRecord> records, Runnable onFailure) {
        if (records.isEmpty()) {
            return Future.succeededFuture();
        }
        return deliverOn(context, store.append(records)).transform(written -> {
            if (written.failed()) {
                onFailure.run();
                LOG.warn("Writing {} schema registry record(s) failed", records.size(), written.cause());
                return Future.failedFuture(new RegistryException(RegistryErrorCodes.STORE_ERROR,
                        "Error while storing the change in _schemas: "
                                + written.cause().getMessage(), written.cause()));
            }
            long first = written.result();
            if (writers == null || first == appliedOffset) {
                records.forEach(this::apply);
                appliedOffset = Math.max(appliedOffset, first + records.size());
                return Future.succeededFuture();
            }
            // Records this registry has not applied come before its own (written by a writer it did
            // not know was still writing): apply the log in its order, up to and with its own.
            LOG.warn("The schema registry wrote at offset {} but had applied only up to {}; reading the log",
                    first, appliedOffset);
            long end = first + records.size();
            return catchUpOnContext().compose(v -> appliedOffset >= end ? Future.<Void>succeededFuture()
                    : Future.failedFuture(new RegistryException(RegistryErrorCodes.STORE_ERROR, "The change was"
                            + " stored at offset " + first + " of _schemas, but could not be read back yet")));
        });
    }

    private int idFor(SchemaRequest request, Identity identity) {
        if (request.id() != null) {
            int id = request.id();
            if (id < 1) {
                throw new RegistryException(RegistryErrorCodes.ID_DOES_NOT_MATCH, "A schema id is at least 1, not " + id);
            }
            RegistryRecord.SchemaVersion holder = schemasById.get(id);
            if (holder != null && !identityOf(holder).equals(identity)) {
                throw new RegistryException(RegistryErrorCodes.ID_DOES_NOT_MATCH, "Schema id " + id
                        + " already belongs to another schema");
            }
            return id;
        }
        Integer known = idsByIdentity.get(identity);
        if (known != null) {
            return known;
        }
        if (highestId == Integer.MAX_VALUE) {
            throw new RegistryException(RegistryErrorCodes.STORE_ERROR, "Every schema id has been handed out");
        }
        return highestId + 1;
    }

    private int versionFor(String subject, SchemaRequest request, TreeMap<Integer, VersionEntry> versions) {
        if (request.version() != null) {
            int version = request.version();
            if (version < 1) {
                throw new RegistryException(RegistryErrorCodes.INVALID_VERSION, "A version is at least 1, not " + version);
            }
            if (versions.containsKey(version)) {
                throw new RegistryException(RegistryErrorCodes.OPERATION_NOT_PERMITTED, "Subject '" + subject
                        + "' already has a version " + version);
            }
            return version;
        }
        int highest = versions.isEmpty() ? 0 : versions.lastKey();
        return Math.max(highest, versionsTried.getOrDefault(subject, 0)) + 1;
    }

    /** Parses a request's schema with its references resolved; 42201 for any failure. */
    private AvroSchemas.Parsed parse(SchemaRequest request) {
        String type = request.schemaType() == null || request.schemaType().isEmpty() ? AvroSchemas.AVRO
                : request.schemaType();
        if (!type.equals(AvroSchemas.AVRO)) {
            throw new RegistryException(RegistryErrorCodes.INVALID_SCHEMA, "Invalid schema type '" + type
                    + "': this registry serves " + List.of(AvroSchemas.AVRO));
        }
        return AvroSchemas.parse(request.schema(), referencedTexts(request.references()));
    }

    /** The parsed schema of a stored id (made once, kept while the id lives). */
    private Schema parsed(int id) {
        Schema known = parsedById.get(id);
        if (known != null) {
            return known;
        }
        RegistryRecord.SchemaVersion s = schemaOf(id);
        Schema schema = AvroSchemas.parse(s.schema(), referencedTexts(s.references())).schema();
        parsedById.put(id, schema);
        return schema;
    }

    /** The texts of every schema {@code references} needs, transitively, dependencies first, each once. */
    private List<String> referencedTexts(List<SchemaReference> references) {
        LinkedHashMap<Integer, String> ordered = new LinkedHashMap<>();
        collectReferences(references, ordered, new HashSet<>(), 0);
        return new ArrayList<>(ordered.values());
    }

    private void collectReferences(List<SchemaReference> references, LinkedHashMap<Integer, String> ordered,
                                   Set<Integer> visiting, int depth) {
        if (depth > REFERENCE_DEPTH_MAX) {
            throw new RegistryException(RegistryErrorCodes.INVALID_SCHEMA, "Invalid schema: references nest deeper"
                    + " than " + REFERENCE_DEPTH_MAX);
        }
        for (SchemaReference ref : references) {
            TreeMap<Integer, VersionEntry> versions = subjects.get(ref.subject());
            VersionEntry target = versions == null ? null : versions.get(ref.version());
            if (target == null) {
                throw new RegistryException(RegistryErrorCodes.INVALID_SCHEMA, "Invalid schema: reference '"
                        + ref.name() + "' names subject '" + ref.subject() + "' version " + ref.version()
                        + ", which does not exist");
            }
            if (ordered.containsKey(target.id()) || !visiting.add(target.id())) {
                continue;
            }
            RegistryRecord.SchemaVersion s = schemasById.get(target.id());
            collectReferences(s.references(), ordered, visiting, depth + 1);
            ordered.put(target.id(), s.schema());
        }
    }

    private static Identity identityOf(SchemaRequest request, AvroSchemas.Parsed parsed) {
        return new Identity(AvroSchemas.AVRO, parsed.canonical(), request.references());
    }

    private static Identity identityOf(RegistryRecord.SchemaVersion s) {
        return new Identity(s.schemaType(), s.schema(), s.references());
    }

    private RegistryRecord.SchemaVersion schemaOf(int id) {
        RegistryRecord.SchemaVersion s = schemasById.get(id);
        if (s == null) {
            throw new RegistryException(RegistryErrorCodes.SCHEMA_NOT_FOUND, "Schema " + id + " not found");
        }
        return s;
    }

    /** The subject's versions (live, or all), ascending; 40401 when there are none. */
    private List<VersionEntry> entries(String subject, boolean includeDeleted) {
        TreeMap<Integer, VersionEntry> versions = subjects.get(subject);
        List<VersionEntry> out = versions == null ? List.of()
                : versions.values().stream().filter(e -> includeDeleted || !e.deleted()).toList();
        if (out.isEmpty()) {
            throw new RegistryException(RegistryErrorCodes.SUBJECT_NOT_FOUND, "Subject '" + subject + "' not found");
        }
        return out;
    }

    private VersionEntry entry(String subject, int version, boolean includeDeleted) {
        List<VersionEntry> candidates = entries(subject, includeDeleted);
        if (version == LATEST) {
            return candidates.get(candidates.size() - 1);
        }
        return candidates.stream().filter(e -> e.version() == version).findFirst()
                .orElseThrow(() -> new RegistryException(RegistryErrorCodes.VERSION_NOT_FOUND, "Version " + version
                        + " not found for subject '" + subject + "'"));
    }

    private List<CompatibilityLevel.Version> liveVersions(String subject) {
        TreeMap<Integer, VersionEntry> versions = subjects.get(subject);
        if (versions == null) {
            return List.of();
        }
        return versions.values().stream().filter(e -> !e.deleted())
                .map(e -> new CompatibilityLevel.Version(e.version(), parsed(e.id()))).toList();
    }

    private CompatibilityLevel effectiveLevel(String subject) {
        CompatibilityLevel own = subjectLevels.get(subject);
        if (own != null) {
            return own;
        }
        return globalLevel == null ? CompatibilityLevel.DEFAULT : globalLevel;
    }

    private RegisteredSchema registered(String subject, VersionEntry e) {
        RegistryRecord.SchemaVersion s = schemaOf(e.id());
        return new RegisteredSchema(subject, e.version(), e.id(), s.schemaType(), s.schema(), s.references(),
                e.deleted());
    }

    private List<Integer> referencingIds(String subject, int version) {
        Set<Integer> ids = new TreeSet<>();
        schemasById.values().forEach(s -> s.references().forEach(r -> {
            if (r.subject().equals(subject) && r.version() == version) {
                ids.add(s.id());
            }
        }));
        return new ArrayList<>(ids);
    }

    private void checkNotReferenced(String subject, int version) {
        List<Integer> by = referencingIds(subject, version);
        if (!by.isEmpty()) {
            throw new RegistryException(RegistryErrorCodes.REFERENCE_EXISTS, "One or more references exist to the"
                    + " schema {subject=" + subject + ", version=" + version + "}: schema id(s) " + by);
        }
    }

    private void checkWritable() {
        if (mode == RegistryMode.READONLY) {
            throw readOnly();
        }
    }

    private static RegistryException readOnly() {
        return new RegistryException(RegistryErrorCodes.OPERATION_NOT_PERMITTED, "The registry is in READONLY mode;"
                + " set the mode to READWRITE to change schemas");
    }

    private static void checkSubjectName(String subject) {
        if (subject == null || subject.isEmpty() || subject.chars().anyMatch(Character::isISOControl)) {
            throw new RegistryException(RegistryErrorCodes.INVALID_SCHEMA, "Invalid subject name '" + subject
                    + "': it must be non-empty, without control characters");
        }
    }

    // ---------------------------------------------------------------- contexts

    /** Answers {@code query} from the state on the registry's context. */
    private <T> Future<T> read(Supplier<T> query) {
        return onCaller(runOn(context, () -> {
            checkOpen();
            return Future.succeededFuture(query.get());
        }));
    }

    /** Runs {@code change} on the registry's context after every change before it has finished. */
    private <T> Future<T> change(Supplier<Future<T>> change) {
        return onCaller(runOn(context, () -> {
            Promise<T> done = Promise.promise();
            Future<Void> previous = changeTail;
            Promise<Void> mine = Promise.promise();
            changeTail = mine.future();
            previous.onComplete(x -> attempt(() -> {
                checkOpen();
                checkWriter();
                return change.get();
            }).onComplete(done).onComplete(r -> mine.complete()));
            return done.future();
        }));
    }

    private void checkOpen() {
        if (closed) {
            throw new RegistryException(RegistryErrorCodes.STORE_ERROR, "The schema registry is shutting down");
        }
    }

    private static <T> Future<T> runOn(Context home, Supplier<Future<T>> action) {
        if (Vertx.currentContext() == home) {
            return attempt(action);
        }
        Promise<T> promise = Promise.promise();
        home.runOnContext(v -> attempt(action).onComplete(promise));
        return promise.future();
    }

    private static <T> Future<T> deliverOn(Context target, Future<T> result) {
        Promise<T> promise = Promise.promise();
        result.onComplete(outcome -> {
            if (Vertx.currentContext() == target) {
                promise.handle(outcome);
            } else {
                target.runOnContext(v -> promise.handle(outcome));
            }
        });
        return promise.future();
    }

    private static <T> Future<T> onCaller(Future<T> result) {
        Context caller = Vertx.currentContext();
        return caller == null ? result : deliverOn(caller, result);
    }

    private static <T> Future<T> attempt(Supplier<Future<T>> action) {
        try {
            return action.get();
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
    }
}

package io.runnel.registry;

import static io.runnel.registry.SchemaRegistryTest.USER_V1;
import static io.runnel.registry.SchemaRegistryTest.USER_V2;
import static io.runnel.registry.SchemaRegistryTest.ADDRESS;
import static io.runnel.registry.SchemaRegistryTest.assertRefused;
import static io.runnel.registry.SchemaRegistryTest.await;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.runnel.registry.SchemaRegistry.SchemaRequest;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

/**
 * The registry in a cluster, without one: several registries over one shared store stand for the
 * brokers over their replicas of {@code _schemas}, and a settable epoch per registry stands for
 * the leadership of {@code _schemas-0}. One writes; the others follow; a writer takes over only
 * after it has applied the whole log.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SchemaRegistryFollowTest {

    /** One broker's view of who writes: its own epoch when it leads, else -1. */
    static final class Leadership implements WriterLocator {
        volatile int epoch = -1;

        @Override
        public int localBrokerId() {
            return 0;
        }

        @Override
        public int localEpoch() {
            return epoch;
        }

        @Override
        public Optional<Address> remote() {
            return Optional.empty();
        }
    }

    final InMemorySchemaStore log = new InMemorySchemaStore();
    final List<SchemaRegistry> opened = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (SchemaRegistry r : opened) {
            await(r.close());
        }
    }

    SchemaRegistry follower(Vertx vertx, Leadership leadership) throws Exception {
        SchemaRegistry r = await(SchemaRegistry.start(vertx, log));
        opened.add(r);
        await(r.follow(leadership));
        return r;
    }

    SchemaRegistry writer(Vertx vertx, Leadership leadership, int epoch) throws Exception {
        SchemaRegistry r = follower(vertx, leadership);
        leadership.epoch = epoch;
        await(r.takeWriterRole(epoch, Future.succeededFuture()));
        return r;
    }

    @Test
    void aFollowerReadsWhatTheWriterRegistered(Vertx vertx) throws Exception {
        SchemaRegistry writer = writer(vertx, new Leadership(), 1);
        SchemaRegistry follower = follower(vertx, new Leadership());

        int id = await(writer.register("users-value", SchemaRequest.avro(USER_V1))).id();
        await(follower.catchUp());

        assertThat(await(follower.schemaById(id)).schema()).isEqualTo(await(writer.schemaById(id)).schema());
        assertThat(await(follower.versions("users-value", false))).containsExactly(1);
        assertThat(follower.registeredSchema(id)).as("the validation view follows too").isNotNull();
    }

    @Test
    void aFollowerCatchesUpOnItsOwnWithinAFewIntervals(Vertx vertx) throws Exception {
        SchemaRegistry writer = writer(vertx, new Leadership(), 1);
        SchemaRegistry follower = follower(vertx, new Leadership());

        int id = await(writer.register("users-value", SchemaRequest.avro(USER_V1))).id();

        long deadline = System.currentTimeMillis() + 10 * SchemaRegistry.FOLLOW_INTERVAL_MS;
        while (follower.registeredSchema(id) == null && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        assertThat(follower.registeredSchema(id)).isNotNull();
    }

    @Test
    void aRegistryThatDoesNotWriteRefusesChangesWithTheForwardingError(Vertx vertx) throws Exception {
        writer(vertx, new Leadership(), 1);
        SchemaRegistry follower = follower(vertx, new Leadership());

        assertRefused(follower.register("users-value", SchemaRequest.avro(USER_V1)),
                RegistryErrorCodes.REQUEST_FORWARDING_FAILED);
        assertRefused(follower.setMode(RegistryMode.READONLY, false), RegistryErrorCodes.REQUEST_FORWARDING_FAILED);
        assertThat(log.size()).isZero();
    }

    @Test
    void aNewWriterAppliesTheWholeLogBeforeHandingOutAnId(Vertx vertx) throws Exception {
        Leadership first = new Leadership();
        SchemaRegistry old = writer(vertx, first, 1);
        int oldId = await(old.register("users-value", SchemaRequest.avro(USER_V1))).id();
        Leadership second = new Leadership();
        SchemaRegistry successor = follower(vertx, second);

        first.epoch = -1;
        second.epoch = 2;
        await(successor.takeWriterRole(2, Future.succeededFuture()));
        int newId = await(successor.register("addresses-value", SchemaRequest.avro(ADDRESS))).id();

        assertThat(newId).as("ids are never reused").isGreaterThan(oldId);
        assertThat(await(successor.schemaById(oldId)).schema()).contains("User");
    }

    @Test
    void changesWaitUntilTheLogIsCommittedAndApplied(Vertx vertx) throws Exception {
        Leadership first = new Leadership();
        SchemaRegistry old = writer(vertx, first, 1);
        int oldId = await(old.register("users-value", SchemaRequest.avro(USER_V1))).id();
        Leadership second = new Leadership();
        SchemaRegistry successor = follower(vertx, second);
        Promise<Void> committed = Promise.promise();

        first.epoch = -1;
        second.epoch = 2;
        Future<Void> writing = successor.takeWriterRole(2, committed.future());
        Future<SchemaRegistry.RegisteredSchema> registered = successor.register("users-value",
                SchemaRequest.avro(USER_V2));
        Thread.sleep(100);
        assertThat(registered.isComplete()).as("queued behind the take-over").isFalse();
        committed.complete();

        assertThat(await(registered).id()).isEqualTo(oldId + 1);
        assertThat(await(registered).version()).as("after the old writer's version 1").isEqualTo(2);
        assertThat(writing.isComplete()).isTrue();
    }

    @Test
    void aWriterWhoseTermEndedRefusesChanges(Vertx vertx) throws Exception {
        Leadership leadership = new Leadership();
        SchemaRegistry writer = writer(vertx, leadership, 1);

        leadership.epoch = 3;

        assertRefused(writer.register("users-value", SchemaRequest.avro(USER_V1)),
                RegistryErrorCodes.REQUEST_FORWARDING_FAILED);
    }

    @Test
    void theWriterAppliesItsOwnRecordsOnceAndItsTailDoesNotUndoLaterChanges(Vertx vertx) throws Exception {
        SchemaRegistry writer = writer(vertx, new Leadership(), 1);
        await(writer.register("users-value", SchemaRequest.avro(USER_V1)));
        await(writer.deleteVersion("users-value", 1, false));
        await(writer.setMode(RegistryMode.READONLY, false));

        await(writer.catchUp());

        assertRefused(writer.versions("users-value", false), RegistryErrorCodes.SUBJECT_NOT_FOUND);
        assertThat(await(writer.versions("users-value", true))).containsExactly(1);
        assertThat(await(writer.mode())).isEqualTo(RegistryMode.READONLY);
    }

    @Test
    void aWriteThatFailedButLandedIsAppliedInLogOrderBeforeTheNextOne(Vertx vertx) throws Exception {
        SchemaRegistry writer = writer(vertx, new Leadership(), 1);
        log.failNextAppends(1, true);
        assertRefused(writer.register("users-value", SchemaRequest.avro(USER_V1)), RegistryErrorCodes.STORE_ERROR);

        int next = await(writer.register("addresses-value", SchemaRequest.avro(ADDRESS))).id();
        SchemaRegistry follower = follower(vertx, new Leadership());

        assertThat(await(writer.subjects(false))).as("the landed write is in the log, so in the state")
                .containsExactly("addresses-value", "users-value");
        assertThat(await(follower.subjects(false))).containsExactly("addresses-value", "users-value");
        assertThat(next).as("the failed write burned id 1").isEqualTo(2);
    }
}

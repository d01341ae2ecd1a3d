package io.runnel.registry;

import static io.runnel.registry.SchemaRegistryTest.ADDRESS;
import static io.runnel.registry.SchemaRegistryTest.ORDER;
import static io.runnel.registry.SchemaRegistryTest.USER_V1;
import static io.runnel.registry.SchemaRegistryTest.USER_V2;
import static io.runnel.registry.SchemaRegistryTest.await;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.avro.Schema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.runnel.registry.SchemaRegistry.SchemaRequest;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Vertx;

/**
 * The registry's view for record validation ({@link SchemaRegistry#registeredSchema},
 * {@link SchemaRegistry#isLiveUnder}): read on any thread without waiting for the registry's
 * context, it shows every change before the change is answered, follows soft and hard deletes,
 * comes back from a replay, and never shows an id with another schema than its own.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SchemaRegistryValidationViewTest {

    final InMemorySchemaStore store = new InMemorySchemaStore();
    SchemaRegistry registry;

    @AfterEach
    void close() throws Exception {
        if (registry != null) {
            await(registry.close());
        }
    }

    int register(String subject, String schema) throws Exception {
        return await(registry.register(subject, SchemaRequest.avro(schema))).id();
    }

    /** Reads the view from a thread that is neither the test's nor a Vert.x one. */
    static <T> T onAnotherThread(java.util.function.Supplier<T> read) throws Exception {
        return CompletableFuture.supplyAsync(read).get(10, TimeUnit.SECONDS);
    }

    @Test
    void aRegistrationIsInTheViewOnAnyThreadOnceItIsAnswered(Vertx vertx) throws Exception {
        registry = await(SchemaRegistry.start(vertx, store));

        int id = register("users-value", USER_V1);

        Schema seen = onAnotherThread(() -> registry.registeredSchema(id));
        assertThat(seen).isNotNull();
        assertThat(seen.getFullName()).isEqualTo("com.acme.User");
        assertThat(onAnotherThread(() -> registry.isLiveUnder("users-value", id))).isTrue();
        assertThat(registry.isLiveUnder("orders-value", id)).as("another subject").isFalse();
        assertThat(registry.registeredSchema(id + 1)).as("an id never handed out").isNull();
    }

    @Test
    void aSchemaWithReferencesIsParsedWithThem(Vertx vertx) throws Exception {
        registry = await(SchemaRegistry.start(vertx, store));
        register("address", ADDRESS);

        int order = await(registry.register("orders-value", new SchemaRequest(null, ORDER,
                List.of(new SchemaReference("com.acme.Address", "address", 1)), null, null))).id();

        assertThat(registry.registeredSchema(order).getField("to").schema().getFullName()).isEqualTo("com.acme.Address");
    }

    @Test
    void aSoftDeleteEndsLivenessAndAHardDeleteForgetsTheSchema(Vertx vertx) throws Exception {
        registry = await(SchemaRegistry.start(vertx, store));
        int v1 = register("users-value", USER_V1);
        int v2 = register("users-value", USER_V2);
        register("archive-value", USER_V1);

        await(registry.deleteVersion("users-value", 1, false));
        assertThat(registry.isLiveUnder("users-value", v1)).isFalse();
        assertThat(registry.isLiveUnder("users-value", v2)).isTrue();
        assertThat(registry.isLiveUnder("archive-value", v1)).as("the same schema under another subject").isTrue();
        assertThat(registry.registeredSchema(v1)).as("consumers can still read old data").isNotNull();

        await(registry.deleteVersion("users-value", 1, true));
        await(registry.deleteSubject("archive-value", false));
        await(registry.deleteSubject("archive-value", true));
        assertThat(registry.registeredSchema(v1)).as("no version points to it any more").isNull();
        assertThat(registry.isLiveUnder("archive-value", v1)).isFalse();
        assertThat(registry.registeredSchema(v2)).isNotNull();
    }

    @Test
    void aReplayRebuildsTheView(Vertx vertx) throws Exception {
        registry = await(SchemaRegistry.start(vertx, store));
        int v1 = register("users-value", USER_V1);
        int v2 = register("users-value", USER_V2);
        await(registry.deleteVersion("users-value", 2, false));
        await(registry.close());

        registry = await(SchemaRegistry.start(vertx, store));

        assertThat(registry.isLiveUnder("users-value", v1)).isTrue();
        assertThat(registry.isLiveUnder("users-value", v2)).isFalse();
        assertThat(registry.registeredSchema(v2)).isNotNull();
    }

    @Test
    void readersRacingRegistrationsSeeEachIdWithItsOwnSchemaOnly(Vertx vertx) throws Exception {
        registry = await(SchemaRegistry.start(vertx, store));
        int count = 200;
        Map<Integer, String> seenNames = new ConcurrentHashMap<>();
        AtomicBoolean done = new AtomicBoolean();
        List<Thread> readers = new ArrayList<>();
        List<String> wrong = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < 2; t++) {
            Thread reader = new Thread(() -> {
                while (!done.get()) {
                    for (int id = 1; id <= count; id++) {
                        Schema s = registry.registeredSchema(id);
                        if (s != null && seenNames.putIfAbsent(id, s.getName()) != null
                                && !seenNames.get(id).equals(s.getName())) {
                            wrong.add(id + " was " + seenNames.get(id) + " then " + s.getName());
                        }
                    }
                }
            });
            reader.start();
            readers.add(reader);
        }
        Map<Integer, String> registered = new java.util.HashMap<>();
        for (int i = 0; i < count; i++) {
            String name = "R" + i;
            int id = register("s" + i, "{\"type\":\"record\",\"name\":\"" + name + "\",\"fields\":[]}");
            registered.put(id, name);
            assertThat(registry.registeredSchema(id).getName()).isEqualTo(name);
        }
        done.set(true);
        for (Thread r : readers) {
            r.join(10_000);
        }

        assertThat(wrong).isEmpty();
        seenNames.forEach((id, name) -> assertThat(name).as("id %d", id).isEqualTo(registered.get(id)));
    }
}

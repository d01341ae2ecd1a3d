package io.runnel.registry;

import static io.runnel.registry.RegistryFixture.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.broker.SchemasTopicStore;
import io.runnel.config.LogConfig;
import io.runnel.registry.SchemaRegistry.SchemaRequest;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;

/**
 * What the registry acknowledged is in {@code _schemas} and comes back when the broker's topics
 * and the registry are closed and opened again on the same directory: subjects, versions, soft
 * deletes, ids, levels, the mode; and ids are not handed out twice, even once compaction has
 * removed every record of an erased schema.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SchemaRegistryRestartTest {

    static final String USER_V1 = SchemaRegistryTest.USER_V1;
    static final String USER_V2 = SchemaRegistryTest.USER_V2;
    static final String ADDRESS = SchemaRegistryTest.ADDRESS;

    @TempDir
    Path dataDir;
    RegistryFixture fixture;

    @AfterEach
    void stop() throws Exception {
        if (fixture != null) {
            fixture.close();
        }
    }

    SchemaRegistry.RegisteredSchema register(String subject, String schema) throws Exception {
        return await(fixture.registry.register(subject, SchemaRequest.avro(schema)));
    }

    @Test
    void subjectsVersionsIdsLevelsAndModeSurviveARestart(Vertx vertx) throws Exception {
        fixture = RegistryFixture.start(vertx, dataDir);
        SchemaRegistry r = fixture.registry;
        assertThat(fixture.topics.topic(SchemasTopicStore.TOPIC).configOverrides())
                .containsEntry(LogConfig.CLEANUP_POLICY, "compact");
        register("users-value", USER_V1);
        register("users-value", USER_V2);
        register("archive-value", USER_V2);
        register("address", ADDRESS);
        SchemaReference ref = new SchemaReference("com.acme.Address", "address", 1);
        int order = await(r.register("orders-value", new SchemaRequest(null, SchemaRegistryTest.ORDER, List.of(ref),
                null, null))).id();
        await(r.deleteVersion("users-value", 1, false));
        await(r.setGlobalCompatibility(CompatibilityLevel.FORWARD_TRANSITIVE));
        await(r.setSubjectCompatibility("archive-value", CompatibilityLevel.NONE));
        await(r.setMode(RegistryMode.READONLY, false));

        fixture.restart();
        r = fixture.registry;

        assertThat(fixture.topics.topic(SchemasTopicStore.TOPIC).partitions()).hasSize(1);
        assertThat(await(r.subjects(false))).containsExactly("address", "archive-value", "orders-value", "users-value");
        assertThat(await(r.versions("users-value", false))).containsExactly(2);
        assertThat(await(r.versions("users-value", true))).containsExactly(1, 2);
        assertThat(await(r.version("users-value", 1, true)).deleted()).isTrue();
        assertThat(await(r.version("users-value", 2, false)).id()).isEqualTo(2);
        assertThat(await(r.version("archive-value", 1, false)).id()).isEqualTo(2);
        assertThat(await(r.version("orders-value", 1, false)).references()).containsExactly(ref);
        assertThat(await(r.referencedBy("address", 1))).containsExactly(order);
        assertThat(await(r.avroSchema(order)).getField("to").schema().getName()).isEqualTo("Address");
        assertThat(await(r.schemaById(1)).schema()).as("soft-deleted, still readable").contains("User");
        assertThat(await(r.globalCompatibility())).isEqualTo(CompatibilityLevel.FORWARD_TRANSITIVE);
        assertThat(await(r.subjectCompatibility("archive-value"))).contains(CompatibilityLevel.NONE);
        assertThat(await(r.subjectCompatibility("users-value"))).isEmpty();
        assertThat(await(r.mode())).isEqualTo(RegistryMode.READONLY);
        JsonObject overHttp = fixture.send(HttpMethod.GET, "/subjects/users-value/versions/latest", null, null)
                .bodyAsJsonObject();
        assertThat(overHttp.getInteger("id")).isEqualTo(2);

        await(r.setMode(RegistryMode.READWRITE, false));
        assertThat(register("next", "\"string\"").id()).as("ids carry on after the highest").isEqualTo(order + 1);
    }

    /** Every record of {@code store}, read the way a registry reads it: from 0 until a read finds nothing new. */
    static List<RegistryRecord> everything(SchemaStore store) throws Exception {
        List<RegistryRecord> all = new java.util.ArrayList<>();
        for (long offset = 0; ; ) {
            SchemaStore.Tail tail = await(store.readFrom(offset));
            all.addAll(tail.records());
            if (tail.nextOffset() <= offset) {
                return all;
            }
            offset = tail.nextOffset();
        }
    }

    @Test
    void idsAreNotReusedAfterAPermanentDeleteCompactionAndARestart(Vertx vertx) throws Exception {
        fixture = RegistryFixture.start(vertx, dataDir);
        // Small segments and no tombstone retention, so compaction can remove every trace of an erased schema.
        await(fixture.topics.alterConfigs(SchemasTopicStore.TOPIC, Map.of(LogConfig.SEGMENT_BYTES, "200",
                LogConfig.DELETE_RETENTION_MS, "0", LogConfig.MIN_COMPACTION_LAG_MS, "0"), Set.of()));
        assertThat(register("kept", USER_V1).id()).isEqualTo(1);
        assertThat(register("erased", ADDRESS).id()).isEqualTo(2);
        await(fixture.registry.deleteSubject("erased", false));
        await(fixture.registry.deleteSubject("erased", true));
        await(fixture.registry.setGlobalCompatibility(CompatibilityLevel.FULL));
        await(fixture.registry.setGlobalCompatibility(CompatibilityLevel.BACKWARD));
        await(fixture.topics.maintainAll());
        await(fixture.topics.maintainAll());
        List<RegistryRecord> left = everything(await(SchemasTopicStore.start(vertx, fixture.topics)));
        assertThat(left).as("compaction removed the erased subject's records")
                .noneMatch(rec -> rec instanceof RegistryRecord.SchemaVersion v && v.subject().equals("erased"))
                .contains(new RegistryRecord.IdCounter(2));

        fixture.restart();

        assertThatThrownBy(() -> await(fixture.registry.schemaById(2))).isInstanceOf(RegistryException.class);
        SchemaRegistry.RegisteredSchema reborn = register("erased", ADDRESS);
        assertThat(reborn.id()).as("id 2 is spent").isEqualTo(3);
        assertThat(reborn.version()).isEqualTo(1);
        assertThat(await(fixture.registry.version("kept", 1, false)).id()).isEqualTo(1);
    }
}

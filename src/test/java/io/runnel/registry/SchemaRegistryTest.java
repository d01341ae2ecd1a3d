package io.runnel.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.runnel.registry.SchemaRegistry.RegisteredSchema;
import io.runnel.registry.SchemaRegistry.SchemaRequest;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxTestContext;

/** The registry's model over an in-memory store: ids, versions, deletes, levels, modes, replay. */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SchemaRegistryTest {

    static final String USER_V1 = """
            {"type":"record","name":"User","namespace":"com.acme","fields":[{"name":"name","type":"string"}]}""";
    static final String USER_V1_RESPACED = """
            {  "namespace" : "com.acme", "name": "User",
               "fields": [ { "type": "string", "name": "name" } ], "type": "record" }""";
    static final String USER_V2 = """
            {"type":"record","name":"User","namespace":"com.acme","fields":[{"name":"name","type":"string"},
             {"name":"age","type":"int","default":0}]}""";
    static final String USER_V3_NO_DEFAULT = """
            {"type":"record","name":"User","namespace":"com.acme","fields":[{"name":"name","type":"string"},
             {"name":"age","type":"int","default":0},{"name":"email","type":"string"}]}""";
    static final String ADDRESS = """
            {"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}""";
    static final String ORDER = """
            {"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"to","type":"com.acme.Address"}]}""";

    final InMemorySchemaStore store = new InMemorySchemaStore();
    SchemaRegistry registry;

    @AfterEach
    void close() throws Exception {
        if (registry != null) {
            await(registry.close());
        }
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.await(10, TimeUnit.SECONDS);
    }

    SchemaRegistry open(Vertx vertx) throws Exception {
        if (registry != null) {
            await(registry.close());
        }
        registry = await(SchemaRegistry.start(vertx, store));
        return registry;
    }

    RegisteredSchema register(String subject, String schema) throws Exception {
        return await(registry.register(subject, SchemaRequest.avro(schema)));
    }

    static void assertRefused(Future<?> f, int errorCode) {
        assertThatThrownBy(() -> await(f)).isInstanceOfSatisfying(RegistryException.class,
                e -> assertThat(e.errorCode()).as(e.getMessage()).isEqualTo(errorCode));
    }

    @Test
    void theSameSchemaRegisteredTwiceGetsTheSameIdAndVersionWhateverItsSpacing(Vertx vertx) throws Exception {
        open(vertx);
        RegisteredSchema first = register("users-value", USER_V1);
        RegisteredSchema again = register("users-value", USER_V1_RESPACED);

        assertThat(first.id()).isEqualTo(1);
        assertThat(first.version()).isEqualTo(1);
        assertThat(again.id()).isEqualTo(first.id());
        assertThat(again.version()).isEqualTo(first.version());
        assertThat(await(registry.versions("users-value", false))).containsExactly(1);
        assertThat(first.schema()).as("canonical text: compact, Avro's key order").isEqualTo(
                "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"com.acme\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"}]}");
    }

    @Test
    void aSchemaKnownUnderAnotherSubjectKeepsItsGlobalId(Vertx vertx) throws Exception {
        open(vertx);
        register("users-value", USER_V1);
        RegisteredSchema v2 = register("users-value", USER_V2);

        RegisteredSchema elsewhere = register("archive-value", USER_V2);

        assertThat(v2.id()).isEqualTo(2);
        assertThat(elsewhere.id()).isEqualTo(2);
        assertThat(elsewhere.version()).isEqualTo(1);
        assertThat(await(registry.subjectsOf(2, false))).containsExactly("archive-value", "users-value");
        assertThat(await(registry.versionsOf(2, false))).containsExactly(
                new SchemaRegistry.SubjectVersion("archive-value", 1), new SchemaRegistry.SubjectVersion("users-value", 2));
    }

    @Test
    void anIncompatibleSchemaIsRefusedWith409AndChangesNothing(Vertx vertx) throws Exception {
        open(vertx);
        register("users-value", USER_V1);
        register("users-value", USER_V2);
        int records = store.size();

        assertRefused(registry.register("users-value", SchemaRequest.avro(USER_V3_NO_DEFAULT)),
                RegistryErrorCodes.INCOMPATIBLE_SCHEMA);

        assertThat(await(registry.versions("users-value", false))).containsExactly(1, 2);
        assertThat(store.size()).isEqualTo(records);
    }

    @Test
    void aSubjectsOwnLevelWinsOverTheGlobalOne(Vertx vertx) throws Exception {
        open(vertx);
        register("a", USER_V2);
        register("b", USER_V2);
        await(registry.setGlobalCompatibility(CompatibilityLevel.NONE));
        await(registry.setSubjectCompatibility("b", CompatibilityLevel.FORWARD));

        assertThat(register("a", USER_V3_NO_DEFAULT).version()).isEqualTo(2);
        assertThat(register("b", USER_V3_NO_DEFAULT).version()).as("old readers ignore the new field").isEqualTo(2);
        assertRefused(registry.register("b", SchemaRequest.avro(USER_V1)), RegistryErrorCodes.INCOMPATIBLE_SCHEMA);
        assertThat(await(registry.subjectCompatibility("a"))).isEmpty();
        assertThat(await(registry.deleteSubjectCompatibility("b"))).isEqualTo(CompatibilityLevel.FORWARD);
        assertRefused(registry.deleteSubjectCompatibility("b"), RegistryErrorCodes.SUBJECT_COMPATIBILITY_NOT_CONFIGURED);
        assertThat(await(registry.deleteGlobalCompatibility())).isEqualTo(CompatibilityLevel.NONE);
        assertThat(await(registry.globalCompatibility())).isEqualTo(CompatibilityLevel.BACKWARD);
    }

    @Test
    void aSchemaMayUseNamedTypesOfOtherSubjectsThroughReferences(Vertx vertx) throws Exception {
        open(vertx);
        RegisteredSchema address = register("address", ADDRESS);
        SchemaReference ref = new SchemaReference("com.acme.Address", "address", 1);
        SchemaRequest order = new SchemaRequest(null, ORDER, List.of(ref), null, null);

        RegisteredSchema registered = await(registry.register("orders-value", order));

        assertThat(registered.references()).containsExactly(ref);
        assertThat(registered.schema()).as("the referenced type stays a name").doesNotContain("city");
        assertThat(await(registry.avroSchema(registered.id())).getField("to").schema().getField("city")).isNotNull();
        assertThat(await(registry.lookup("orders-value", order, false)).id()).isEqualTo(registered.id());
        assertThat(await(registry.referencedBy("address", 1))).containsExactly(registered.id());
        assertRefused(registry.register("orders-value", SchemaRequest.avro(ORDER)), RegistryErrorCodes.INVALID_SCHEMA);
        assertRefused(registry.register("x", new SchemaRequest(null, ORDER,
                List.of(new SchemaReference("com.acme.Address", "address", 2)), null, null)), RegistryErrorCodes.INVALID_SCHEMA);
        assertRefused(registry.deleteVersion("address", 1, false), RegistryErrorCodes.REFERENCE_EXISTS);
        assertRefused(registry.deleteSubject("address", false), RegistryErrorCodes.REFERENCE_EXISTS);
        assertThat(address.id()).isNotEqualTo(registered.id());
    }

    @Test
    void deletesAreSoftFirstThenPermanent(Vertx vertx) throws Exception {
        open(vertx);
        register("s", USER_V1);
        register("s", USER_V2);

        assertRefused(registry.deleteVersion("s", 1, true), RegistryErrorCodes.VERSION_NOT_SOFT_DELETED);
        assertThat(await(registry.deleteVersion("s", 1, false))).isEqualTo(1);
        assertRefused(registry.deleteVersion("s", 1, false), RegistryErrorCodes.VERSION_SOFT_DELETED);
        assertThat(await(registry.versions("s", false))).containsExactly(2);
        assertThat(await(registry.versions("s", true))).containsExactly(1, 2);
        assertRefused(registry.version("s", 1, false), RegistryErrorCodes.VERSION_NOT_FOUND);
        assertThat(await(registry.version("s", 1, true)).deleted()).isTrue();
        assertThat(await(registry.schemaById(1)).schema()).as("a soft-deleted schema still decodes").contains("User");
        assertThat(await(registry.deleteVersion("s", 1, true))).isEqualTo(1);
        assertRefused(registry.schemaById(1), RegistryErrorCodes.SCHEMA_NOT_FOUND);

        assertRefused(registry.deleteSubject("s", true), RegistryErrorCodes.SUBJECT_NOT_SOFT_DELETED);
        assertThat(await(registry.deleteSubject("s", false))).containsExactly(2);
        assertRefused(registry.deleteSubject("s", false), RegistryErrorCodes.SUBJECT_SOFT_DELETED);
        assertThat(await(registry.subjects(false))).isEmpty();
        assertThat(await(registry.subjects(true))).containsExactly("s");
        assertRefused(registry.versions("s", false), RegistryErrorCodes.SUBJECT_NOT_FOUND);
        assertThat(await(registry.deleteSubject("s", true))).containsExactly(2);
        assertThat(await(registry.subjects(true))).isEmpty();
        assertRefused(registry.deleteSubject("s", false), RegistryErrorCodes.SUBJECT_NOT_FOUND);
    }

    @Test
    void aSoftDeletedSchemaRegisteredAgainGetsANewVersionWithItsOldId(Vertx vertx) throws Exception {
        open(vertx);
        RegisteredSchema first = register("s", USER_V1);
        await(registry.deleteSubject("s", false));

        RegisteredSchema again = register("s", USER_V1);

        assertThat(again.id()).isEqualTo(first.id());
        assertThat(again.version()).isEqualTo(2);
    }

    @Test
    void idsAreNeverReusedEvenAfterPermanentDeletesAndARestart(Vertx vertx) throws Exception {
        open(vertx);
        assertThat(register("s", USER_V1).id()).isEqualTo(1);
        assertThat(register("s", USER_V2).id()).isEqualTo(2);
        await(registry.deleteSubject("s", false));
        await(registry.deleteSubject("s", true));

        open(vertx);

        RegisteredSchema reborn = register("s", USER_V1);
        assertThat(reborn.id()).as("id 1 and 2 are spent").isEqualTo(3);
        assertThat(reborn.version()).as("an erased subject starts again").isEqualTo(1);
    }

    @Test
    void aFailedWriteIsAnswered50001AndItsIdIsNotHandedOutAgain(Vertx vertx) throws Exception {
        open(vertx);
        store.failNextAppends(1, true);
        assertRefused(registry.register("s", SchemaRequest.avro(USER_V1)), RegistryErrorCodes.STORE_ERROR);
        assertRefused(registry.versions("s", false), RegistryErrorCodes.SUBJECT_NOT_FOUND);

        RegisteredSchema next = register("s", USER_V2);
        assertThat(next.id()).isEqualTo(2);
        assertThat(next.version()).isEqualTo(2);

        open(vertx);
        assertThat(await(registry.versions("s", false))).as("the failed write had landed after all").containsExactly(1, 2);
        assertThat(await(registry.version("s", 1, false)).id()).isEqualTo(1);
        assertThat(await(registry.version("s", 2, false)).id()).isEqualTo(2);
    }

    @Test
    void replayingTheStoreGivesBackEverything(Vertx vertx) throws Exception {
        open(vertx);
        register("a", USER_V1);
        register("a", USER_V2);
        register("b", USER_V2);
        register("c", ADDRESS);
        await(registry.deleteVersion("a", 1, false));
        await(registry.deleteSubject("c", false));
        await(registry.deleteSubject("c", true));
        await(registry.setGlobalCompatibility(CompatibilityLevel.FULL));
        await(registry.setSubjectCompatibility("b", CompatibilityLevel.NONE));
        await(registry.setMode(RegistryMode.READONLY, false));

        open(vertx);

        assertThat(await(registry.subjects(true))).containsExactly("a", "b");
        assertThat(await(registry.versions("a", true))).containsExactly(1, 2);
        assertThat(await(registry.versions("a", false))).containsExactly(2);
        assertThat(await(registry.version("b", 1, false)).id()).isEqualTo(2);
        assertRefused(registry.schemaById(3), RegistryErrorCodes.SCHEMA_NOT_FOUND);
        assertThat(await(registry.globalCompatibility())).isEqualTo(CompatibilityLevel.FULL);
        assertThat(await(registry.subjectCompatibility("b"))).contains(CompatibilityLevel.NONE);
        assertThat(await(registry.mode())).isEqualTo(RegistryMode.READONLY);
    }

    @Test
    void readOnlyModeRefusesRegistrationsAndDeletesButNotConfig(Vertx vertx) throws Exception {
        open(vertx);
        register("s", USER_V1);
        await(registry.setMode(RegistryMode.READONLY, false));

        assertRefused(registry.register("s", SchemaRequest.avro(USER_V2)), RegistryErrorCodes.OPERATION_NOT_PERMITTED);
        assertRefused(registry.deleteSubject("s", false), RegistryErrorCodes.OPERATION_NOT_PERMITTED);
        assertRefused(registry.deleteVersion("s", 1, false), RegistryErrorCodes.OPERATION_NOT_PERMITTED);
        assertThat(await(registry.setSubjectCompatibility("s", CompatibilityLevel.FULL))).isEqualTo(CompatibilityLevel.FULL);

        await(registry.setMode(RegistryMode.READWRITE, false));
        assertThat(register("s", USER_V2).version()).isEqualTo(2);
    }

    @Test
    void importModeTakesIdsAndVersionsAndLaterIdsComeAfterThem(Vertx vertx) throws Exception {
        open(vertx);
        assertRefused(registry.register("s", new SchemaRequest(null, USER_V1, List.of(), 100, 5)),
                RegistryErrorCodes.OPERATION_NOT_PERMITTED);
        await(registry.setMode(RegistryMode.IMPORT, false));

        RegisteredSchema imported = await(registry.register("s", new SchemaRequest(null, USER_V1, List.of(), 100, 5)));
        assertThat(imported.id()).isEqualTo(100);
        assertThat(imported.version()).isEqualTo(5);
        assertRefused(registry.register("t", new SchemaRequest(null, USER_V2, List.of(), 100, 1)),
                RegistryErrorCodes.ID_DOES_NOT_MATCH);
        await(registry.setMode(RegistryMode.READWRITE, false));
        assertRefused(registry.setMode(RegistryMode.IMPORT, false), RegistryErrorCodes.OPERATION_NOT_PERMITTED);
        assertThat(await(registry.setMode(RegistryMode.IMPORT, true))).isEqualTo(RegistryMode.IMPORT);
        await(registry.setMode(RegistryMode.READWRITE, false));

        RegisteredSchema next = register("s", USER_V2);
        assertThat(next.id()).isEqualTo(101);
        assertThat(next.version()).isEqualTo(6);
    }

    @Test
    void schemasAvroRefusesAreInvalid(Vertx vertx) throws Exception {
        open(vertx);
        assertRefused(registry.register("s", SchemaRequest.avro("{\"type\":\"record\",\"name\":\"R\"")),
                RegistryErrorCodes.INVALID_SCHEMA);
        assertRefused(registry.register("s", SchemaRequest.avro("{\"type\":\"record\",\"name\":\"R\",\"fields\":"
                + "[{\"name\":\"a\",\"type\":\"int\",\"default\":\"not a number\"}]}")), RegistryErrorCodes.INVALID_SCHEMA);
        assertRefused(registry.register("s", SchemaRequest.avro("\"no.such.Type\"")), RegistryErrorCodes.INVALID_SCHEMA);
        assertRefused(registry.register("s", new SchemaRequest("PROTOBUF", "syntax = \"proto3\";", List.of(), null, null)),
                RegistryErrorCodes.INVALID_SCHEMA);
        assertRefused(registry.register("s", SchemaRequest.avro("")), RegistryErrorCodes.INVALID_SCHEMA);
        assertThat(await(registry.subjects(true))).isEmpty();
    }

    @Test
    void lookupsFindTheVersionHoldingASchema(Vertx vertx) throws Exception {
        open(vertx);
        register("s", USER_V1);
        register("s", USER_V2);

        assertThat(await(registry.lookup("s", SchemaRequest.avro(USER_V1_RESPACED), false)).version()).isEqualTo(1);
        assertRefused(registry.lookup("s", SchemaRequest.avro(ADDRESS), false), RegistryErrorCodes.SCHEMA_NOT_FOUND);
        assertRefused(registry.lookup("nope", SchemaRequest.avro(USER_V1), false), RegistryErrorCodes.SUBJECT_NOT_FOUND);
        await(registry.deleteVersion("s", 1, false));
        assertRefused(registry.lookup("s", SchemaRequest.avro(USER_V1), false), RegistryErrorCodes.SCHEMA_NOT_FOUND);
        assertThat(await(registry.lookup("s", SchemaRequest.avro(USER_V1), true)).deleted()).isTrue();
    }

    @Test
    void compatibilityChecksCompareWithTheVersionNamed(Vertx vertx) throws Exception {
        open(vertx);
        register("s", USER_V1);
        register("s", USER_V2);

        assertThat(await(registry.compatibilityProblems("s", SchemaRegistry.LATEST, SchemaRequest.avro(USER_V3_NO_DEFAULT))))
                .singleElement().asString().contains("version 2", "email");
        assertThat(await(registry.compatibilityProblems("s", 1, SchemaRequest.avro(USER_V2)))).isEmpty();
        assertRefused(registry.compatibilityProblems("s", 3, SchemaRequest.avro(USER_V2)), RegistryErrorCodes.VERSION_NOT_FOUND);
        assertRefused(registry.compatibilityProblems("t", SchemaRegistry.LATEST, SchemaRequest.avro(USER_V2)),
                RegistryErrorCodes.SUBJECT_NOT_FOUND);
    }

    @Test
    void aClosedRegistryRefusesCallsInsteadOfLeavingThemHanging(Vertx vertx) throws Exception {
        SchemaRegistry closed = open(vertx);
        register("s", USER_V1);
        await(closed.close());
        registry = null;

        assertRefused(closed.subjects(false), RegistryErrorCodes.STORE_ERROR);
        assertRefused(closed.register("s", SchemaRequest.avro(USER_V2)), RegistryErrorCodes.STORE_ERROR);
        assertThat(await(closed.close())).as("closing twice is harmless").isNull();
    }

    @Test
    void answersComeBackOnTheCallersContext(Vertx vertx, VertxTestContext ctx) throws Exception {
        open(vertx);
        Context caller = vertx.getOrCreateContext();
        caller.runOnContext(v -> registry.register("s", SchemaRequest.avro(USER_V1))
                .compose(r -> {
                    ctx.verify(() -> assertThat(Vertx.currentContext()).isSameAs(caller));
                    return registry.subjectCompatibility("s");
                })
                .onComplete(ctx.succeeding(level -> ctx.verify(() -> {
                    assertThat(Vertx.currentContext()).isSameAs(caller);
                    assertThat(level).isEqualTo(Optional.empty());
                    ctx.completeNow();
                }))));
    }
}

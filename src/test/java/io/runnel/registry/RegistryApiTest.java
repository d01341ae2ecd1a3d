package io.runnel.registry;

import static io.vertx.core.http.HttpMethod.DELETE;
import static io.vertx.core.http.HttpMethod.GET;
import static io.vertx.core.http.HttpMethod.POST;
import static io.vertx.core.http.HttpMethod.PUT;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;

/**
 * The registry's REST API, endpoint by endpoint, as a client of Confluent's registry sees it:
 * paths, bodies, content types, and every error code with its status.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RegistryApiTest {

    static final String V1 = RegistryFixture.V1_JSON;
    static final String USER_V1 = SchemaRegistryTest.USER_V1;
    static final String USER_V2 = SchemaRegistryTest.USER_V2;
    static final String USER_V3_NO_DEFAULT = SchemaRegistryTest.USER_V3_NO_DEFAULT;
    static final long BODY_LIMIT_BYTES = 64 * 1024;

    @TempDir
    Path dataDir;
    RegistryFixture fixture;

    @BeforeEach
    void start(Vertx vertx) throws Exception {
        fixture = RegistryFixture.start(vertx, dataDir, BODY_LIMIT_BYTES);
    }

    @AfterEach
    void stop() throws Exception {
        fixture.close();
    }

    HttpResponse<Buffer> call(HttpMethod method, String path, Object body) throws Exception {
        return fixture.send(method, path, body == null ? null : V1, body == null ? null : body.toString());
    }

    static JsonObject schema(String text) {
        return new JsonObject().put("schema", text);
    }

    HttpResponse<Buffer> ok(HttpMethod method, String path, Object body) throws Exception {
        HttpResponse<Buffer> r = call(method, path, body);
        assertThat(r.statusCode()).as(method + " " + path + ": " + r.bodyAsString()).isEqualTo(200);
        assertThat(r.getHeader("Content-Type")).isEqualTo(V1);
        return r;
    }

    JsonObject okObject(HttpMethod method, String path, Object body) throws Exception {
        return ok(method, path, body).bodyAsJsonObject();
    }

    JsonArray okArray(HttpMethod method, String path, Object body) throws Exception {
        return ok(method, path, body).bodyAsJsonArray();
    }

    int register(String subject, String schemaText) throws Exception {
        return okObject(POST, "/subjects/" + subject + "/versions", schema(schemaText)).getInteger("id");
    }

    /** Confluent's error body: the code, its status, a message, and nothing else (no stack trace). */
    static void assertError(HttpResponse<Buffer> r, int errorCode) {
        assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(RegistryErrorCodes.httpStatus(errorCode));
        assertThat(r.getHeader("Content-Type")).isEqualTo(V1);
        JsonObject body = r.bodyAsJsonObject();
        assertThat(body.fieldNames()).containsExactlyInAnyOrder("error_code", "message");
        assertThat(body.getInteger("error_code")).as(body.encode()).isEqualTo(errorCode);
        assertThat(body.getString("message")).isNotBlank().doesNotContain("\tat ", "Exception");
    }

    @Test
    void schemaTypesListsWhatIsServed() throws Exception {
        assertThat(okArray(GET, "/schemas/types", null)).containsExactly("AVRO");
    }

    @Test
    void registeringAnswersTheIdAndTheSameSchemaGetsTheSameIdUnderAnySubject() throws Exception {
        int id = register("users-value", USER_V1);

        assertThat(id).isEqualTo(1);
        assertThat(register("users-value", SchemaRegistryTest.USER_V1_RESPACED)).isEqualTo(1);
        assertThat(register("archive-value", USER_V1)).isEqualTo(1);
        assertThat(register("users-value", USER_V2)).isEqualTo(2);
        assertThat(okArray(GET, "/subjects/users-value/versions", null)).containsExactly(1, 2);
        assertThat(okArray(GET, "/subjects/archive-value/versions", null)).containsExactly(1);
    }

    @Test
    void registrationTakesTheThreeJsonContentTypesOrNoneAndRefusesOthersWith415() throws Exception {
        String body = schema(USER_V1).encode();
        for (String type : new String[] {V1, "application/vnd.schemaregistry+json", "application/json; charset=utf-8", null}) {
            HttpResponse<Buffer> r = fixture.send(POST, "/subjects/s/versions", type, body);
            assertThat(r.statusCode()).as(type + ": " + r.bodyAsString()).isEqualTo(200);
        }
        assertError(fixture.send(POST, "/subjects/s/versions", "text/plain", body),
                RegistryErrorCodes.UNSUPPORTED_MEDIA_TYPE);
    }

    @Test
    void registrationRefusesBadBodiesAndBadSchemas() throws Exception {
        assertError(call(POST, "/subjects/s/versions", "{not json"), RegistryErrorCodes.BAD_REQUEST);
        assertError(call(POST, "/subjects/s/versions", "[1]"), RegistryErrorCodes.BAD_REQUEST);
        assertError(call(POST, "/subjects/s/versions", new JsonObject()), RegistryErrorCodes.INVALID_SCHEMA);
        assertError(call(POST, "/subjects/s/versions", new JsonObject().put("schema", 7)),
                RegistryErrorCodes.UNPROCESSABLE_ENTITY);
        assertError(call(POST, "/subjects/s/versions", schema("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                + "\"a\",\"type\":\"nope\"}]}")), RegistryErrorCodes.INVALID_SCHEMA);
        assertError(call(POST, "/subjects/s/versions", schema(USER_V1).put("schemaType", "PROTOBUF")),
                RegistryErrorCodes.INVALID_SCHEMA);
        assertError(call(POST, "/subjects/s/versions", schema(USER_V1).put("references", "address")),
                RegistryErrorCodes.UNPROCESSABLE_ENTITY);
        assertError(call(POST, "/subjects/s/versions", schema(USER_V1).put("references",
                new JsonArray().add(new JsonObject().put("name", "x")))), RegistryErrorCodes.INVALID_SCHEMA);
        assertError(call(GET, "/subjects/s/versions", null), RegistryErrorCodes.SUBJECT_NOT_FOUND);
    }

    @Test
    void anIncompatibleSchemaIsRefusedWith409() throws Exception {
        register("s", USER_V1);
        register("s", USER_V2);

        HttpResponse<Buffer> r = call(POST, "/subjects/s/versions", schema(USER_V3_NO_DEFAULT));

        assertError(r, RegistryErrorCodes.INCOMPATIBLE_SCHEMA);
        assertThat(r.bodyAsJsonObject().getString("message")).contains("incompatible", "email");
    }

    @Test
    void subjectsAndVersionsAreListedAndFetched() throws Exception {
        register("b", USER_V1);
        register("a", USER_V1);
        register("a", USER_V2);

        assertThat(okArray(GET, "/subjects", null)).containsExactly("a", "b");
        JsonObject v1 = okObject(GET, "/subjects/a/versions/1", null);
        assertThat(v1.fieldNames()).containsExactlyInAnyOrder("subject", "version", "id", "schema");
        assertThat(v1.getString("subject")).isEqualTo("a");
        assertThat(v1.getInteger("version")).isEqualTo(1);
        assertThat(v1.getInteger("id")).isEqualTo(1);
        assertThat(new JsonObject(v1.getString("schema")).getString("name")).isEqualTo("User");
        assertThat(okObject(GET, "/subjects/a/versions/latest", null).getInteger("version")).isEqualTo(2);
        assertThat(okObject(GET, "/subjects/a/versions/-1", null).getInteger("id")).isEqualTo(2);
        assertThat(new JsonObject(ok(GET, "/subjects/a/versions/2/schema", null).bodyAsString())
                .getJsonArray("fields")).hasSize(2);

        assertError(call(GET, "/subjects/nope/versions", null), RegistryErrorCodes.SUBJECT_NOT_FOUND);
        assertError(call(GET, "/subjects/nope/versions/1", null), RegistryErrorCodes.SUBJECT_NOT_FOUND);
        assertError(call(GET, "/subjects/a/versions/3", null), RegistryErrorCodes.VERSION_NOT_FOUND);
        assertError(call(GET, "/subjects/a/versions/3/schema", null), RegistryErrorCodes.VERSION_NOT_FOUND);
        assertError(call(GET, "/subjects/a/versions/first", null), RegistryErrorCodes.INVALID_VERSION);
        assertError(call(GET, "/subjects/a/versions/0", null), RegistryErrorCodes.INVALID_VERSION);
        assertError(call(GET, "/subjects/a/versions/99999999999", null), RegistryErrorCodes.INVALID_VERSION);
    }

    @Test
    void lookupFindsTheVersionOfASchema() throws Exception {
        register("s", USER_V1);
        register("s", USER_V2);

        JsonObject found = okObject(POST, "/subjects/s", schema(SchemaRegistryTest.USER_V1_RESPACED));

        assertThat(found.getString("subject")).isEqualTo("s");
        assertThat(found.getInteger("version")).isEqualTo(1);
        assertThat(found.getInteger("id")).isEqualTo(1);
        assertError(call(POST, "/subjects/s", schema(SchemaRegistryTest.ADDRESS)), RegistryErrorCodes.SCHEMA_NOT_FOUND);
        assertError(call(POST, "/subjects/nope", schema(USER_V1)), RegistryErrorCodes.SUBJECT_NOT_FOUND);
        assertError(call(POST, "/subjects/s", schema("{")), RegistryErrorCodes.INVALID_SCHEMA);
    }

    @Test
    void versionsAreSoftDeletedThenPermanently() throws Exception {
        register("s", USER_V1);
        register("s", USER_V2);

        assertError(call(DELETE, "/subjects/s/versions/1?permanent=true", null), RegistryErrorCodes.VERSION_NOT_SOFT_DELETED);
        assertThat(ok(DELETE, "/subjects/s/versions/1", null).bodyAsString()).isEqualTo("1");
        assertError(call(DELETE, "/subjects/s/versions/1", null), RegistryErrorCodes.VERSION_SOFT_DELETED);
        assertThat(okArray(GET, "/subjects/s/versions", null)).containsExactly(2);
        assertThat(okArray(GET, "/subjects/s/versions?deleted=true", null)).containsExactly(1, 2);
        assertError(call(GET, "/subjects/s/versions/1", null), RegistryErrorCodes.VERSION_NOT_FOUND);
        assertThat(okObject(GET, "/subjects/s/versions/1?deleted=true", null).getInteger("id")).isEqualTo(1);
        assertThat(ok(DELETE, "/subjects/s/versions/1?permanent=true", null).bodyAsString()).isEqualTo("1");
        assertThat(okArray(GET, "/subjects/s/versions?deleted=true", null)).containsExactly(2);
        assertError(call(DELETE, "/subjects/s/versions/7", null), RegistryErrorCodes.VERSION_NOT_FOUND);
        assertError(call(DELETE, "/subjects/s/versions/x", null), RegistryErrorCodes.INVALID_VERSION);
        assertError(call(DELETE, "/subjects/nope/versions/1", null), RegistryErrorCodes.SUBJECT_NOT_FOUND);
        assertThat(ok(DELETE, "/subjects/s/versions/latest", null).bodyAsString()).isEqualTo("2");
    }

    @Test
    void subjectsAreSoftDeletedThenPermanently() throws Exception {
        register("s", USER_V1);
        register("s", USER_V2);

        assertError(call(DELETE, "/subjects/s?permanent=true", null), RegistryErrorCodes.SUBJECT_NOT_SOFT_DELETED);
        assertThat(okArray(DELETE, "/subjects/s", null)).containsExactly(1, 2);
        assertError(call(DELETE, "/subjects/s", null), RegistryErrorCodes.SUBJECT_SOFT_DELETED);
        assertThat(okArray(GET, "/subjects", null)).isEmpty();
        assertThat(okArray(GET, "/subjects?deleted=true", null)).containsExactly("s");
        assertThat(okArray(DELETE, "/subjects/s?permanent=true", null)).containsExactly(1, 2);
        assertThat(okArray(GET, "/subjects?deleted=true", null)).isEmpty();
        assertError(call(DELETE, "/subjects/s", null), RegistryErrorCodes.SUBJECT_NOT_FOUND);
        assertThat(register("s", USER_V1)).as("ids are not reused").isEqualTo(3);
    }

    @Test
    void schemasAreFetchedByIdWithWhereTheyAreRegistered() throws Exception {
        register("a", USER_V1);
        register("b", USER_V1);
        register("b", USER_V2);
        call(DELETE, "/subjects/a/versions/1", null);

        JsonObject byId = okObject(GET, "/schemas/ids/1", null);
        assertThat(byId.fieldNames()).containsExactly("schema");
        assertThat(new JsonObject(byId.getString("schema")).getString("name")).isEqualTo("User");
        assertThat(new JsonObject(ok(GET, "/schemas/ids/2/schema", null).bodyAsString()).getJsonArray("fields")).hasSize(2);
        assertThat(okArray(GET, "/schemas/ids/1/versions", null))
                .containsExactly(new JsonObject().put("subject", "b").put("version", 1));
        assertThat(okArray(GET, "/schemas/ids/1/versions?deleted=true", null)).hasSize(2);
        assertThat(okArray(GET, "/schemas/ids/1/subjects", null)).containsExactly("b");
        assertThat(okArray(GET, "/schemas/ids/1/subjects?deleted=true", null)).containsExactly("a", "b");

        assertError(call(GET, "/schemas/ids/9", null), RegistryErrorCodes.SCHEMA_NOT_FOUND);
        assertError(call(GET, "/schemas/ids/9/schema", null), RegistryErrorCodes.SCHEMA_NOT_FOUND);
        assertError(call(GET, "/schemas/ids/9/versions", null), RegistryErrorCodes.SCHEMA_NOT_FOUND);
        assertError(call(GET, "/schemas/ids/9/subjects", null), RegistryErrorCodes.SCHEMA_NOT_FOUND);
        assertError(call(GET, "/schemas/ids/one", null), RegistryErrorCodes.SCHEMA_NOT_FOUND);
    }

    @Test
    void referencesAreRegisteredShownAndProtectTheirTargets() throws Exception {
        int address = register("address", SchemaRegistryTest.ADDRESS);
        JsonArray refs = new JsonArray().add(new JsonObject().put("name", "com.acme.Address").put("subject", "address")
                .put("version", 1));

        int order = okObject(POST, "/subjects/orders-value/versions", schema(SchemaRegistryTest.ORDER).put("references", refs))
                .getInteger("id");

        assertThat(order).isNotEqualTo(address);
        assertThat(okObject(GET, "/subjects/orders-value/versions/1", null).getJsonArray("references")).isEqualTo(refs);
        assertThat(okObject(GET, "/schemas/ids/" + order, null).getJsonArray("references")).isEqualTo(refs);
        assertThat(okArray(GET, "/subjects/address/versions/1/referencedby", null)).containsExactly(order);
        assertThat(okArray(GET, "/subjects/orders-value/versions/1/referencedby", null)).isEmpty();
        assertError(call(GET, "/subjects/address/versions/2/referencedby", null), RegistryErrorCodes.VERSION_NOT_FOUND);
        assertError(call(DELETE, "/subjects/address/versions/1", null), RegistryErrorCodes.REFERENCE_EXISTS);
        assertError(call(DELETE, "/subjects/address", null), RegistryErrorCodes.REFERENCE_EXISTS);
        assertError(call(POST, "/subjects/x/versions", schema(SchemaRegistryTest.ORDER)), RegistryErrorCodes.INVALID_SCHEMA);
    }

    @Test
    void compatibilityIsCheckedAgainstAVersionWithReasonsOnRequest() throws Exception {
        register("s", USER_V1);
        register("s", USER_V2);

        assertThat(okObject(POST, "/compatibility/subjects/s/versions/latest", schema(USER_V2)))
                .isEqualTo(new JsonObject().put("is_compatible", true));
        assertThat(okObject(POST, "/compatibility/subjects/s/versions/latest", schema(USER_V3_NO_DEFAULT))
                .getBoolean("is_compatible")).isFalse();
        JsonObject verbose = okObject(POST, "/compatibility/subjects/s/versions/1?verbose=true", schema(USER_V3_NO_DEFAULT));
        assertThat(verbose.getBoolean("is_compatible")).isFalse();
        assertThat(verbose.getJsonArray("messages")).singleElement().asString().contains("email", "version 1");
        assertThat(okObject(POST, "/compatibility/subjects/s/versions/1?verbose=true", schema(USER_V2))
                .getJsonArray("messages")).isEmpty();

        assertError(call(POST, "/compatibility/subjects/nope/versions/latest", schema(USER_V2)),
                RegistryErrorCodes.SUBJECT_NOT_FOUND);
        assertError(call(POST, "/compatibility/subjects/s/versions/3", schema(USER_V2)), RegistryErrorCodes.VERSION_NOT_FOUND);
        assertError(call(POST, "/compatibility/subjects/s/versions/zero", schema(USER_V2)), RegistryErrorCodes.INVALID_VERSION);
        assertError(call(POST, "/compatibility/subjects/s/versions/latest", schema("[")), RegistryErrorCodes.INVALID_SCHEMA);
    }

    @Test
    void theGlobalLevelIsReadSetAndReset() throws Exception {
        assertThat(okObject(GET, "/config", null)).isEqualTo(new JsonObject().put("compatibilityLevel", "BACKWARD"));
        assertThat(okObject(PUT, "/config", new JsonObject().put("compatibility", "FULL_TRANSITIVE")))
                .isEqualTo(new JsonObject().put("compatibility", "FULL_TRANSITIVE"));
        assertThat(okObject(GET, "/config", null).getString("compatibilityLevel")).isEqualTo("FULL_TRANSITIVE");
        assertError(call(PUT, "/config", new JsonObject().put("compatibility", "SIDEWAYS")),
                RegistryErrorCodes.INVALID_COMPATIBILITY_LEVEL);
        assertError(call(PUT, "/config", new JsonObject()), RegistryErrorCodes.INVALID_COMPATIBILITY_LEVEL);
        assertThat(okObject(DELETE, "/config", null).getString("compatibilityLevel")).isEqualTo("FULL_TRANSITIVE");
        assertThat(okObject(GET, "/config", null).getString("compatibilityLevel")).isEqualTo("BACKWARD");
    }

    @Test
    void aSubjectsLevelIsItsOwnAndAbsentUnlessDefaultToGlobal() throws Exception {
        register("s", USER_V1);
        okObject(PUT, "/config", new JsonObject().put("compatibility", "NONE"));

        assertError(call(GET, "/config/s", null), RegistryErrorCodes.SUBJECT_COMPATIBILITY_NOT_CONFIGURED);
        assertThat(okObject(GET, "/config/s?defaultToGlobal=true", null).getString("compatibilityLevel")).isEqualTo("NONE");
        assertThat(okObject(PUT, "/config/s", new JsonObject().put("compatibility", "forward")).getString("compatibility"))
                .isEqualTo("FORWARD");
        assertThat(okObject(GET, "/config/s", null).getString("compatibilityLevel")).isEqualTo("FORWARD");
        assertError(call(POST, "/subjects/s/versions", schema(SchemaRegistryTest.ADDRESS)), RegistryErrorCodes.INCOMPATIBLE_SCHEMA);
        assertError(call(PUT, "/config/s", new JsonObject().put("compatibility", 3)), RegistryErrorCodes.UNPROCESSABLE_ENTITY);
        assertThat(okObject(DELETE, "/config/s", null).getString("compatibilityLevel")).isEqualTo("FORWARD");
        assertError(call(DELETE, "/config/s", null), RegistryErrorCodes.SUBJECT_COMPATIBILITY_NOT_CONFIGURED);
        assertThat(register("s", SchemaRegistryTest.ADDRESS)).as("the global NONE applies again").isEqualTo(2);
    }

    @Test
    void theModeIsReadSetAndEnforced() throws Exception {
        assertThat(okObject(GET, "/mode", null)).isEqualTo(new JsonObject().put("mode", "READWRITE"));
        register("s", USER_V1);

        assertThat(okObject(PUT, "/mode", new JsonObject().put("mode", "READONLY")))
                .isEqualTo(new JsonObject().put("mode", "READONLY"));
        assertError(call(POST, "/subjects/s/versions", schema(USER_V2)), RegistryErrorCodes.OPERATION_NOT_PERMITTED);
        assertError(call(DELETE, "/subjects/s", null), RegistryErrorCodes.OPERATION_NOT_PERMITTED);
        assertThat(okObject(GET, "/subjects/s/versions/1", null).getInteger("id")).as("reads go on").isEqualTo(1);
        assertError(call(PUT, "/mode", new JsonObject().put("mode", "SLEEPY")), RegistryErrorCodes.INVALID_MODE);
        assertError(call(PUT, "/mode", new JsonObject().put("mode", "IMPORT")), RegistryErrorCodes.OPERATION_NOT_PERMITTED);
        assertThat(okObject(PUT, "/mode?force=true", new JsonObject().put("mode", "IMPORT")).getString("mode"))
                .isEqualTo("IMPORT");
        assertThat(okObject(POST, "/subjects/t/versions", schema(USER_V2).put("id", 40).put("version", 3))
                .getInteger("id")).isEqualTo(40);
        assertThat(okObject(GET, "/subjects/t/versions/3", null).getInteger("id")).isEqualTo(40);
        assertThat(okObject(PUT, "/mode", new JsonObject().put("mode", "READWRITE")).getString("mode")).isEqualTo("READWRITE");
        assertError(call(POST, "/subjects/u/versions", schema(USER_V2).put("id", 41)), RegistryErrorCodes.OPERATION_NOT_PERMITTED);
    }

    @Test
    void unknownPathsWrongMethodsAndLargeBodiesGetErrorBodiesToo() throws Exception {
        assertError(call(GET, "/nothing/here", null), RegistryErrorCodes.NOT_FOUND);
        assertError(call(HttpMethod.PATCH, "/subjects", null), RegistryErrorCodes.METHOD_NOT_ALLOWED);
        assertError(call(PUT, "/subjects/s/versions", schema(USER_V1)), RegistryErrorCodes.METHOD_NOT_ALLOWED);
        String huge = schema("\"string\"").put("pad", "x".repeat((int) BODY_LIMIT_BYTES)).encode();
        assertError(call(POST, "/subjects/s/versions", huge), RegistryErrorCodes.PAYLOAD_TOO_LARGE);
    }

    @Test
    void aStorageFailureIsAnswered50001WithoutAStackTrace() throws Exception {
        register("s", USER_V1);
        fixture.closeTopicsUnderTheRegistry();

        assertError(call(POST, "/subjects/s/versions", schema(USER_V2)), RegistryErrorCodes.STORE_ERROR);
        assertThat(okArray(GET, "/subjects/s/versions", null)).as("nothing was applied").containsExactly(1);
    }
}

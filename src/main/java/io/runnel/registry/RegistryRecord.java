package io.runnel.registry;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * One record of the {@code _schemas} topic: what the registry writes for every change, and
 * replays, in log order, to rebuild its state. The latest value per key is the truth, so the
 * topic is compacted; a null value (tombstone) erases its key.
 *
 * <h2>Format (magic 1)</h2>
 * Key and value are UTF-8 JSON objects. Keys are written with a fixed field order, so the same key
 * is always the same bytes (compaction compares bytes).
 * <pre>
 *   key {"keytype":"SCHEMA","magic":1,"subject":s,"version":v}
 *     value {"subject":s,"version":v,"id":n,"schemaType":"AVRO","schema":canonical text,
 *            "references":[{"name","subject","version"}…],"deleted":false|true}
 *     null: the version was deleted permanently
 *   key {"keytype":"CONFIG","magic":1,"subject":s|null}           (null: the global level)
 *     value {"compatibilityLevel":"BACKWARD"…}; null: the level was removed
 *   key {"keytype":"MODE","magic":1,"subject":null}
 *     value {"mode":"READWRITE"|"READONLY"|"IMPORT"}; null: back to the default
 *   key {"keytype":"ID_COUNTER","magic":1}
 *     value {"highestId":n}: the highest id ever handed out; written with each new id, so that
 *     ids are not reused when the schema records holding them were erased and compacted away
 * </pre>
 * A soft delete rewrites a SCHEMA value with {@code "deleted":true}. A reader refuses a magic or
 * key type it does not know, and a value that breaks the rules below: it fails loudly rather than
 * lose schemas silently. A new format is a new magic number.
 *
 * <p>Invariants, checked when a record is made and when one is read back: versions and ids are
 * at least 1, subjects are not empty, a schema text is not blank.
 */
public sealed interface RegistryRecord {

    int MAGIC = 1;

    /** The record's key bytes. */
    byte[] key();

    /** The record's value bytes; null for a tombstone. */
    byte[] value();

    /** A version of a subject (live or soft-deleted). */
    record SchemaVersion(String subject, int version, int id, String schemaType, String schema,
                         List<SchemaReference> references, boolean deleted) implements RegistryRecord {
        public SchemaVersion {
            checkSubject(subject);
            checkPositive("version", version);
            checkPositive("id", id);
            Objects.requireNonNull(schemaType, "schemaType");
            if (schema == null || schema.isBlank()) {
                throw new IllegalArgumentException("A schema record needs a schema text");
            }
            references = List.copyOf(references);
        }

        /** The same schema as version {@code version} of {@code subject}, live or soft-deleted. */
        SchemaVersion withPlace(String subject, int version, boolean deleted) {
            return new SchemaVersion(subject, version, id, schemaType, schema, references, deleted);
        }

        @Override
        public byte[] key() {
            return schemaKey(subject, version);
        }

        @Override
        public byte[] value() {
            JsonArray refs = new JsonArray();
            references.forEach(r -> refs.add(new JsonObject().put("name", r.name()).put("subject", r.subject())
                    .put("version", r.version())));
            return bytes(new JsonObject().put("subject", subject).put("version", version).put("id", id)
                    .put("schemaType", schemaType).put("schema", schema).put("references", refs)
                    .put("deleted", deleted));
        }
    }

    /** A version deleted permanently. */
    record SchemaVersionErased(String subject, int version) implements RegistryRecord {
        public SchemaVersionErased {
            checkSubject(subject);
            checkPositive("version", version);
        }

        @Override
        public byte[] key() {
            return schemaKey(subject, version);
        }

        @Override
        public byte[] value() {
            return null;
        }
    }

    /** The compatibility level of a subject, or the global one when {@code subject} is null; {@code level} null removes it. */
    record Compatibility(String subject, CompatibilityLevel level) implements RegistryRecord {
        public Compatibility {
            if (subject != null) {
                checkSubject(subject);
            }
        }

        @Override
        public byte[] key() {
            return bytes(new JsonObject().put("keytype", "CONFIG").put("magic", MAGIC).put("subject", subject));
        }

        @Override
        public byte[] value() {
            return level == null ? null : bytes(new JsonObject().put("compatibilityLevel", level.name()));
        }
    }

    /** The registry's mode; null resets it to the default. */
    record Mode(RegistryMode mode) implements RegistryRecord {
        @Override
        public byte[] key() {
            return bytes(new JsonObject().put("keytype", "MODE").put("magic", MAGIC).putNull("subject"));
        }

        @Override
        public byte[] value() {
            return mode == null ? null : bytes(new JsonObject().put("mode", mode.name()));
        }
    }

    /** The highest schema id ever handed out. */
    record IdCounter(int highestId) implements RegistryRecord {
        public IdCounter {
            checkPositive("highestId", highestId);
        }

        @Override
        public byte[] key() {
            return bytes(new JsonObject().put("keytype", "ID_COUNTER").put("magic", MAGIC));
        }

        @Override
        public byte[] value() {
            return bytes(new JsonObject().put("highestId", highestId));
        }
    }

    /** Reads back a record written by {@link #key()} and {@link #value()}; refuses anything else. */
    static RegistryRecord read(byte[] keyBytes, byte[] valueBytes) {
        if (keyBytes == null) {
            throw new IllegalStateException("A _schemas record without a key: not written by this registry");
        }
        try {
            JsonObject key = new JsonObject(new String(keyBytes, StandardCharsets.UTF_8));
            JsonObject value = valueBytes == null ? null : new JsonObject(new String(valueBytes, StandardCharsets.UTF_8));
            if (!Objects.equals(key.getInteger("magic"), MAGIC)) {
                throw new IllegalStateException("Unknown _schemas record magic in key " + key.encode());
            }
            String type = key.getString("keytype", "");
            return switch (type) {
                case "SCHEMA" -> value == null
                        ? new SchemaVersionErased(key.getString("subject"), key.getInteger("version"))
                        : schemaVersion(key, value);
                case "CONFIG" -> new Compatibility(key.getString("subject"),
                        value == null ? null : CompatibilityLevel.valueOf(value.getString("compatibilityLevel")));
                case "MODE" -> new Mode(value == null ? null : RegistryMode.valueOf(value.getString("mode")));
                case "ID_COUNTER" -> new IdCounter(value.getInteger("highestId"));
                default -> throw new IllegalStateException("Unknown _schemas key type '" + type + "' in " + key.encode());
            };
        } catch (DecodeException | ClassCastException | NullPointerException | IllegalArgumentException e) {
            throw new IllegalStateException("A _schemas record does not follow the format (magic " + MAGIC + "): "
                    + e.getMessage(), e);
        }
    }

    private static SchemaVersion schemaVersion(JsonObject key, JsonObject value) {
        SchemaVersion v = new SchemaVersion(value.getString("subject"), value.getInteger("version"),
                value.getInteger("id"), value.getString("schemaType"), value.getString("schema"),
                references(value.getJsonArray("references")), value.getBoolean("deleted"));
        if (!v.subject().equals(key.getString("subject")) || v.version() != key.getInteger("version")) {
            throw new IllegalStateException("A _schemas record's key " + key.encode() + " names another version than"
                    + " its value (" + v.subject() + " " + v.version() + ")");
        }
        return v;
    }

    private static List<SchemaReference> references(JsonArray array) {
        List<SchemaReference> refs = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++) {
            JsonObject r = array.getJsonObject(i);
            refs.add(new SchemaReference(r.getString("name"), r.getString("subject"), r.getInteger("version")));
        }
        return refs;
    }

    private static byte[] schemaKey(String subject, int version) {
        return bytes(new JsonObject().put("keytype", "SCHEMA").put("magic", MAGIC).put("subject", subject)
                .put("version", version));
    }

    private static byte[] bytes(JsonObject json) {
        return json.encode().getBytes(StandardCharsets.UTF_8);
    }

    private static void checkSubject(String subject) {
        if (subject == null || subject.isEmpty()) {
            throw new IllegalArgumentException("A subject name is not empty");
        }
    }

    private static void checkPositive(String what, int n) {
        if (n < 1) {
            throw new IllegalArgumentException("A " + what + " is at least 1, not " + n);
        }
    }
}

package io.runnel.registry;

import java.util.Objects;

/**
 * A named type a schema uses that is defined in another registered schema: Confluent's
 * {@code {"name","subject","version"}}. {@code name} is the referenced type's full name as the
 * referencing schema spells it; {@code subject} and {@code version} say where it is registered.
 */
public record SchemaReference(String name, String subject, int version) {
    public SchemaReference {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(subject, "subject");
        if (version < 1) {
            throw new IllegalArgumentException("A reference names a version from 1, not " + version);
        }
    }
}

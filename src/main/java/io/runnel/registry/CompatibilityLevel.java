package io.runnel.registry;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;

/**
 * How a new version of a subject must relate to the versions before it: Confluent's seven
 * levels, judged by Avro's own schema-resolution rules ({@link SchemaCompatibility}), so a verdict
 * of "compatible" is exactly "an Avro reader with schema R can decode data written with schema W".
 *
 * <ul>
 *   <li>BACKWARD: the new schema reads data written with the latest live version (consumers
 *       upgrade first).</li>
 *   <li>FORWARD: the latest version reads data written with the new schema (producers upgrade first).</li>
 *   <li>FULL: both.</li>
 *   <li>The {@code _TRANSITIVE} forms: the same against every live version, not only the latest.</li>
 *   <li>NONE: anything goes.</li>
 * </ul>
 * BACKWARD is the default, as in Confluent's registry. Soft-deleted versions are not compared
 * against (the caller passes live versions only). Stateless and immutable.
 */
public enum CompatibilityLevel {
    NONE(false, false, false),
    BACKWARD(true, false, false),
    BACKWARD_TRANSITIVE(true, false, true),
    FORWARD(false, true, false),
    FORWARD_TRANSITIVE(false, true, true),
    FULL(true, true, false),
    FULL_TRANSITIVE(true, true, true);

    /** The level of a registry, or a subject, that was never given one (Confluent's default). */
    public static final CompatibilityLevel DEFAULT = BACKWARD;

    /** An earlier version to compare against. */
    public record Version(int version, Schema schema) {
    }

    private final boolean newReadsOld;
    private final boolean oldReadsNew;
    private final boolean transitive;

    CompatibilityLevel(boolean newReadsOld, boolean oldReadsNew, boolean transitive) {
        this.newReadsOld = newReadsOld;
        this.oldReadsNew = oldReadsNew;
        this.transitive = transitive;
    }

    /** The level named {@code name} (any case); {@link RegistryErrorCodes#INVALID_COMPATIBILITY_LEVEL} otherwise. */
    public static CompatibilityLevel parse(String name) {
        if (name != null) {
            try {
                return valueOf(name.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                // answered below, with the list of levels
            }
        }
        throw new RegistryException(RegistryErrorCodes.INVALID_COMPATIBILITY_LEVEL, "Invalid compatibility level '"
                + name + "': use one of " + List.of(values()));
    }

    /**
     * Why {@code candidate} may not follow {@code earlier} (oldest first, live versions only) at
     * this level: one line per broken rule, empty when it may.
     */
    public List<String> problems(Schema candidate, List<Version> earlier) {
        if (earlier.isEmpty() || this == NONE) {
            return List.of();
        }
        List<Version> compared = transitive ? earlier : earlier.subList(earlier.size() - 1, earlier.size());
        List<String> problems = new ArrayList<>();
        // Newest first, so the first line names the version a producer most likely meant.
        for (int i = compared.size() - 1; i >= 0; i--) {
            Version old = compared.get(i);
            if (newReadsOld) {
                problems.addAll(describe(SchemaCompatibility.checkReaderWriterCompatibility(candidate, old.schema()),
                        "the new schema cannot read data written with version " + old.version()));
            }
            if (oldReadsNew) {
                problems.addAll(describe(SchemaCompatibility.checkReaderWriterCompatibility(old.schema(), candidate),
                        "version " + old.version() + " cannot read data written with the new schema"));
            }
        }
        return problems;
    }

    private List<String> describe(SchemaCompatibility.SchemaPairCompatibility pair, String what) {
        List<String> lines = new ArrayList<>();
        for (SchemaCompatibility.Incompatibility i : pair.getResult().getIncompatibilities()) {
            lines.add(name() + ": " + what + ": " + i.getType() + " at '" + i.getLocation() + "': " + i.getMessage());
        }
        return lines;
    }
}

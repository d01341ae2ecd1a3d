package io.runnel.registry;

import java.util.List;
import java.util.Locale;

/**
 * What the registry lets clients change (Confluent's modes, global only here):
 * <ul>
 *   <li>READWRITE (default): registrations and deletes as usual, compatibility enforced.</li>
 *   <li>READONLY: no registration and no delete (42205); reads, config and mode changes still work,
 *       so an operator can freeze the schemas of a migration and thaw them again.</li>
 *   <li>IMPORT: a registration may name its own id and version (to copy another registry's
 *       schemas with their ids), and compatibility is not checked. Entering it needs an empty
 *       registry, unless forced, so imported ids cannot collide with ids handed out here.</li>
 * </ul>
 */
public enum RegistryMode {
    READWRITE, READONLY, IMPORT;

    public static final RegistryMode DEFAULT = READWRITE;

    /** The mode named {@code name} (any case); {@link RegistryErrorCodes#INVALID_MODE} otherwise. */
    public static RegistryMode parse(String name) {
        if (name != null) {
            try {
                return valueOf(name.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                // answered below, with the list of modes
            }
        }
        throw new RegistryException(RegistryErrorCodes.INVALID_MODE, "Invalid mode '" + name + "': use one of "
                + List.of(values()));
    }
}

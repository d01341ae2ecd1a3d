package io.runnel.config;

/** A configuration key with a bad or unknown value; the message names the key, the value and the rule. */
public final class ConfigException extends RuntimeException {

    private final String key;

    public ConfigException(String key, String value, String problem) {
        super("Invalid value " + (value == null ? "null" : "'" + value + "'") + " for configuration " + key + ": " + problem);
        this.key = key;
    }

    /** The configuration key at fault. */
    public String key() {
        return key;
    }
}

package io.runnel.client;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * A record a subscription delivered, with the exact bytes stored (the client asks the broker for
 * base64, so nothing is lost to text decoding). {@code key} and {@code value} may be null; a
 * header name that repeats in the stored record keeps its last value. Treat the arrays as
 * read-only: the record is shared with no one, but is not copied for you either.
 */
public record ConsumedRecord(String topic, int partition, long offset, long timestamp, byte[] key, byte[] value,
                             Map<String, byte[]> headers) {

    /** The key as UTF-8 text, or null. */
    public String keyAsString() {
        return key == null ? null : new String(key, StandardCharsets.UTF_8);
    }

    /** The value as UTF-8 text, or null. */
    public String valueAsString() {
        return value == null ? null : new String(value, StandardCharsets.UTF_8);
    }
}

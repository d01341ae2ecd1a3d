package io.runnel.cli;

import java.time.Instant;
import java.time.format.DateTimeParseException;

import io.vertx.core.json.JsonObject;

/**
 * A position in a partition as the commands take it ({@code consume --from},
 * {@code group reset-offsets --to}): {@code earliest}, {@code latest}, an offset (held within the
 * partition's offsets), or an ISO-8601 time (the first record at or after it, else the end).
 * Resolved against the broker's {@code …/offsets} answer. Stateless.
 */
final class PartitionPosition {

    /** A resolved position and the partition's end offset when it was resolved. */
    record Resolved(long offset, long end) {
    }

    private PartitionPosition() {
    }

    static boolean isNamed(String spec) {
        return spec.equals("earliest") || spec.equals("latest");
    }

    static boolean isTime(String spec) {
        try {
            Instant.parse(spec);
            return true;
        } catch (DateTimeParseException e) {
            return false;
        }
    }

    /** The offset {@code spec} names, or -1 when it names none. */
    static long offsetOf(String spec) {
        try {
            return Math.max(-1, Long.parseLong(spec));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    static boolean isValid(String spec) {
        return isNamed(spec) || isTime(spec) || offsetOf(spec) >= 0;
    }

    /** Where {@code spec} (valid) is in partition {@code partition} of the topic (its name URL-encoded). */
    static Resolved resolve(RestClient client, String encodedTopic, int partition, String spec) throws RestClient.ApiError {
        boolean time = isTime(spec);
        JsonObject offsets = (JsonObject) client.get("/topics/" + encodedTopic + "/partitions/" + partition + "/offsets"
                + (time ? "?timestamp=" + Instant.parse(spec).toEpochMilli() : ""));
        long beginning = offsets.getLong("beginning_offset");
        long end = offsets.getLong("end_offset");
        long at = switch (spec) {
            case "earliest" -> beginning;
            case "latest" -> end;
            default -> time ? (offsets.getValue("timestamp_offset") == null ? end : offsets.getLong("timestamp_offset"))
                    : Math.min(Math.max(offsetOf(spec), beginning), end);
        };
        return new Resolved(at, end);
    }
}

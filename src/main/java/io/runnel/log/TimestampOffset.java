package io.runnel.log;

/** A record's timestamp and offset, the answer to a lookup by time. */
public record TimestampOffset(long timestamp, long offset) {
}

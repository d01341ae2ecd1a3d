package io.runnel.log;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/**
 * A {@link Clock} that tests move by hand, so retention, compaction lag and LogAppendTime can be
 * exercised without sleeping. Time never goes backwards unless a test sets it so explicitly.
 *
 * <p>Not thread-safe: the log and its test run on one thread.
 */
public final class ManualClock extends Clock {

    private long nowMs;

    public ManualClock(long startMs) {
        this.nowMs = startMs;
    }

    /** Moves the clock forward by {@code deltaMs} (which must not be negative) and returns the new time. */
    public long advance(long deltaMs) {
        if (deltaMs < 0) {
            throw new IllegalArgumentException("A manual clock only moves forward, not by " + deltaMs + " ms");
        }
        nowMs += deltaMs;
        return nowMs;
    }

    @Override
    public long millis() {
        return nowMs;
    }

    @Override
    public Instant instant() {
        return Instant.ofEpochMilli(nowMs);
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        if (!ZoneOffset.UTC.equals(zone)) {
            throw new UnsupportedOperationException("A manual clock runs in UTC only");
        }
        return this;
    }

    @Override
    public String toString() {
        return "ManualClock(" + nowMs + ")";
    }
}

package io.runnel.log;

import org.apache.kafka.common.errors.ApiException;

/**
 * A follower's append does not start at its log end offset: it fetched from the wrong place (or
 * its log changed underneath the fetch). Nothing was written; the caller refetches from
 * {@link #logEndOffset()}. Kafka's broker has an exception of the same name for the same case.
 */
public final class UnexpectedAppendOffsetException extends ApiException {

    private final long firstOffset;
    private final long logEndOffset;

    public UnexpectedAppendOffsetException(String message, long firstOffset, long logEndOffset) {
        super(message);
        this.firstOffset = firstOffset;
        this.logEndOffset = logEndOffset;
    }

    /** The base offset of the first batch the follower tried to append. */
    public long firstOffset() {
        return firstOffset;
    }

    /** Where the log ended, so where the append had to start. */
    public long logEndOffset() {
        return logEndOffset;
    }
}

package io.runnel.log;

/**
 * An answer to OffsetForLeaderEpoch: for a requested epoch, the largest epoch at or below it
 * that the log knows ({@code epoch}) and the offset one past its last record ({@code endOffset}:
 * the start offset of the next larger epoch, or the log end offset when it is the latest).
 * {@link #UNDEFINED} ((-1, -1)) when the requested epoch is below every epoch the log knows.
 */
public record EpochEndOffset(int epoch, long endOffset) {

    /** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
    public static final EpochEndOffset UNDEFINED = new EpochEndOffset(-1, -1);

    public EpochEndOffset {
        if ((epoch < 0) != (endOffset < 0) || epoch < -1 || endOffset < -1) {
            throw new IllegalArgumentException("An epoch end offset is (-1, -1) or two non-negative numbers, got ("
                    + epoch + ", " + endOffset + ")");
        }
    }

    public boolean isUndefined() {
        return epoch < 0;
    }
}

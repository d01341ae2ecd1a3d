package io.runnel.log;

/**
 * One entry of a log's leader epoch cache: the leader of {@code epoch} wrote its first record at
 * {@code startOffset}, and every record from there up to the start offset of the next entry (or
 * the log end offset, for the latest) was written in that epoch. Both fields are non-negative.
 */
public record EpochEntry(int epoch, long startOffset) {

    public EpochEntry {
        if (epoch < 0 || startOffset < 0) {
            throw new IllegalArgumentException("A leader epoch entry needs a non-negative epoch and start offset, got "
                    + epoch + " at " + startOffset);
        }
    }
}

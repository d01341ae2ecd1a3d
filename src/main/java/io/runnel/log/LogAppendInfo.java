package io.runnel.log;

/**
 * What an append did.
 *
 * @param firstOffset offset of the first record written (or, for a duplicate, written earlier)
 * @param lastOffset offset of the last record
 * @param maxTimestamp largest record timestamp in the append
 * @param logAppendTimeMs the broker's time stamped on the batches, or -1 on CreateTime topics
 * @param recordCount records in the append
 * @param sizeBytes bytes appended (0 for a duplicate)
 * @param duplicate true when the batch was a producer retry already in the log: nothing was written
 */
public record LogAppendInfo(long firstOffset, long lastOffset, long maxTimestamp, long logAppendTimeMs,
                            int recordCount, int sizeBytes, boolean duplicate) {
}

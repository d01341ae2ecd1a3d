package io.runnel.log;

import java.nio.file.Path;

import org.apache.kafka.common.errors.KafkaStorageException;

/**
 * A log whose data cannot be trusted and cannot be repaired without losing records that were
 * durable: a corrupt batch below the recovery point, or a segment in the middle that does not
 * line up. The log refuses to open rather than drop such records silently; an operator decides.
 */
public final class CorruptLogException extends KafkaStorageException {

    public CorruptLogException(Path file, long position, String problem) {
        super("Corrupt log segment " + file + " at byte " + position + ": " + problem);
    }
}

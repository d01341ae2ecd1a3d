package io.runnel.client;

/** Where the broker wrote a produced record: its partition and offset. Immutable. */
public record RecordMetadata(String topic, int partition, long offset) {
}

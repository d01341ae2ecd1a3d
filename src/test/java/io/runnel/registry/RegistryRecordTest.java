package io.runnel.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The {@code _schemas} record format: every kind reads back as written, and foreign records are refused loudly. */
class RegistryRecordTest {

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void everyKindOfRecordReadsBackAsWritten() {
        List<RegistryRecord> all = List.of(
                new RegistryRecord.SchemaVersion("orders-value", 3, 17, "AVRO", "\"string\"",
                        List.of(new SchemaReference("com.acme.Address", "address", 1)), true),
                new RegistryRecord.SchemaVersionErased("orders-value", 3),
                new RegistryRecord.Compatibility(null, CompatibilityLevel.FULL),
                new RegistryRecord.Compatibility("orders-value", null),
                new RegistryRecord.Mode(RegistryMode.IMPORT),
                new RegistryRecord.Mode(null),
                new RegistryRecord.IdCounter(17));

        for (RegistryRecord r : all) {
            assertThat(RegistryRecord.read(r.key(), r.value())).isEqualTo(r);
        }
    }

    @Test
    void aVersionIsOneKeyWhetherLiveSoftDeletedOrErasedSoCompactionKeepsOnlyTheLast() {
        RegistryRecord.SchemaVersion live = new RegistryRecord.SchemaVersion("s", 1, 1, "AVRO", "\"int\"", List.of(), false);

        assertThat(live.withPlace("s", 1, true).key()).isEqualTo(live.key());
        assertThat(new RegistryRecord.SchemaVersionErased("s", 1).key()).isEqualTo(live.key());
        assertThat(new String(live.key(), StandardCharsets.UTF_8))
                .isEqualTo("{\"keytype\":\"SCHEMA\",\"magic\":1,\"subject\":\"s\",\"version\":1}");
    }

    @Test
    void recordsThisRegistryDidNotWriteAreRefused() {
        assertThatThrownBy(() -> RegistryRecord.read(utf8("{\"keytype\":\"NOOP\",\"magic\":1}"), null))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("NOOP");
        assertThatThrownBy(() -> RegistryRecord.read(utf8("{\"keytype\":\"SCHEMA\",\"magic\":0,\"subject\":\"s\"}"), null))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("magic");
        assertThatThrownBy(() -> RegistryRecord.read(utf8("not json"), null)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> RegistryRecord.read(null, utf8("{}"))).isInstanceOf(IllegalStateException.class);
        byte[] key = new RegistryRecord.SchemaVersionErased("s", 1).key();
        assertThatThrownBy(() -> RegistryRecord.read(key, utf8("{\"subject\":\"t\",\"version\":1,\"id\":1,"
                + "\"schemaType\":\"AVRO\",\"schema\":\"\\\"int\\\"\",\"references\":[],\"deleted\":false}")))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("another version");
        assertThatThrownBy(() -> RegistryRecord.read(key, utf8("{\"subject\":\"s\",\"version\":1,\"id\":0,"
                + "\"schemaType\":\"AVRO\",\"schema\":\"\\\"int\\\"\",\"references\":[],\"deleted\":false}")))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("id");
    }
}

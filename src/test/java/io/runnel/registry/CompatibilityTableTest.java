package io.runnel.registry;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The compatibility levels, case by case: every schema evolution in {@link #TABLE} against every
 * level, with the verdict Avro's schema-resolution rules give (worked out from the specification,
 * "Schema Resolution", not from running the code):
 * <ul>
 *   <li>a reader ignores writer fields it does not have, and fills fields the writer lacks from
 *       the reader field's default (no default: cannot read); fields match by name or by the
 *       reader field's aliases;</li>
 *   <li>int is promoted to long, float, double; long to float, double; float to double; string
 *       and bytes to each other; nothing narrows;</li>
 *   <li>named types (records, enums, fixed) match by full name or the reader's aliases;</li>
 *   <li>an enum reader must know every writer symbol, unless it has a default symbol;</li>
 *   <li>a union reader must be able to read every branch of a union writer; a non-union writer is
 *       read by the first matching branch; a non-union reader reads a union writer only if it can
 *       read every branch.</li>
 * </ul>
 * BACKWARD asks "does the new schema read data written with the old ones", FORWARD the
 * opposite, FULL both; non-transitive levels compare with the last version of the history only.
 */
class CompatibilityTableTest {

    /**
     * case | history (oldest first, ">>" between versions) | new schema |
     * BACKWARD BACKWARD_TRANSITIVE FORWARD FORWARD_TRANSITIVE FULL FULL_TRANSITIVE NONE.
     * A schema cell that starts with {"name" is the field list of a record named R.
     */
    static final String TABLE = """
            identical schema | {"name":"a","type":"int"} | {"name":"a","type":"int"} | yes yes yes yes yes yes yes
            doc added | {"name":"a","type":"int"} | {"name":"a","type":"int","doc":"the count"} | yes yes yes yes yes yes yes
            fields reordered | {"name":"a","type":"int"},{"name":"b","type":"string"} | {"name":"b","type":"string"},{"name":"a","type":"int"} | yes yes yes yes yes yes yes
            added field with default | {"name":"a","type":"int"} | {"name":"a","type":"int"},{"name":"b","type":"string","default":"x"} | yes yes yes yes yes yes yes
            added optional field, null default | {"name":"a","type":"int"} | {"name":"a","type":"int"},{"name":"b","type":["null","string"],"default":null} | yes yes yes yes yes yes yes
            added field without default | {"name":"a","type":"int"} | {"name":"a","type":"int"},{"name":"b","type":"string"} | no no yes yes no no yes
            removed field without default | {"name":"a","type":"int"},{"name":"b","type":"string"} | {"name":"a","type":"int"} | yes yes no no no no yes
            removed field with default | {"name":"a","type":"int"},{"name":"b","type":"string","default":"x"} | {"name":"a","type":"int"} | yes yes yes yes yes yes yes
            default added to a field | {"name":"a","type":"int"} | {"name":"a","type":"int","default":0} | yes yes yes yes yes yes yes
            int promoted to long | {"name":"a","type":"int"} | {"name":"a","type":"long"} | yes yes no no no no yes
            long narrowed to int | {"name":"a","type":"long"} | {"name":"a","type":"int"} | no no yes yes no no yes
            int promoted to float | {"name":"a","type":"int"} | {"name":"a","type":"float"} | yes yes no no no no yes
            int promoted to double | {"name":"a","type":"int"} | {"name":"a","type":"double"} | yes yes no no no no yes
            long promoted to double | {"name":"a","type":"long"} | {"name":"a","type":"double"} | yes yes no no no no yes
            float promoted to double | {"name":"a","type":"float"} | {"name":"a","type":"double"} | yes yes no no no no yes
            string to bytes, both ways | {"name":"a","type":"string"} | {"name":"a","type":"bytes"} | yes yes yes yes yes yes yes
            int to string | {"name":"a","type":"int"} | {"name":"a","type":"string"} | no no no no no no yes
            enum symbol added | {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}} | {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}} | yes yes no no no no yes
            enum symbol removed | {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}} | {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}} | no no yes yes no no yes
            enum symbol removed, reader has a default symbol | {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}} | {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}} | yes yes yes yes yes yes yes
            enum renamed | {"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}} | {"name":"e","type":{"type":"enum","name":"F","symbols":["A"]}} | no no no no no no yes
            enum renamed with alias | {"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}} | {"name":"e","type":{"type":"enum","name":"F","aliases":["E"],"symbols":["A"]}} | yes yes no no no no yes
            union widened | {"name":"a","type":["null","int"]} | {"name":"a","type":["null","int","string"]} | yes yes no no no no yes
            union narrowed | {"name":"a","type":["null","int","string"]} | {"name":"a","type":["null","int"]} | no no yes yes no no yes
            plain type made optional (union) | {"name":"a","type":"int"} | {"name":"a","type":["null","int"],"default":null} | yes yes no no no no yes
            optional made plain | {"name":"a","type":["null","int"],"default":null} | {"name":"a","type":"int"} | no no yes yes no no yes
            union branch promoted int to long | {"name":"a","type":["null","int"]} | {"name":"a","type":["null","long"]} | yes yes no no no no yes
            field renamed with alias | {"name":"a","type":"int"} | {"name":"b","type":"int","aliases":["a"]} | yes yes no no no no yes
            field renamed without alias | {"name":"a","type":"int"} | {"name":"b","type":"int"} | no no no no no no yes
            field renamed without alias, new one has a default | {"name":"a","type":"int"} | {"name":"b","type":"int","default":0} | yes yes no no no no yes
            nested record: field added with default | {"name":"n","type":{"type":"record","name":"N","fields":[{"name":"x","type":"int"}]}} | {"name":"n","type":{"type":"record","name":"N","fields":[{"name":"x","type":"int"},{"name":"y","type":"string","default":""}]}} | yes yes yes yes yes yes yes
            nested record: field added without default | {"name":"n","type":{"type":"record","name":"N","fields":[{"name":"x","type":"int"}]}} | {"name":"n","type":{"type":"record","name":"N","fields":[{"name":"x","type":"int"},{"name":"y","type":"string"}]}} | no no yes yes no no yes
            nested record: int promoted to long | {"name":"n","type":{"type":"record","name":"N","fields":[{"name":"x","type":"int"}]}} | {"name":"n","type":{"type":"record","name":"N","fields":[{"name":"x","type":"long"}]}} | yes yes no no no no yes
            nested record renamed | {"name":"n","type":{"type":"record","name":"N","fields":[{"name":"x","type":"int"}]}} | {"name":"n","type":{"type":"record","name":"M","fields":[{"name":"x","type":"int"}]}} | no no no no no no yes
            nested record renamed with alias | {"name":"n","type":{"type":"record","name":"N","fields":[{"name":"x","type":"int"}]}} | {"name":"n","type":{"type":"record","name":"M","aliases":["N"],"fields":[{"name":"x","type":"int"}]}} | yes yes no no no no yes
            array items promoted int to long | {"name":"a","type":{"type":"array","items":"int"}} | {"name":"a","type":{"type":"array","items":"long"}} | yes yes no no no no yes
            map values changed string to int | {"name":"m","type":{"type":"map","values":"string"}} | {"name":"m","type":{"type":"map","values":"int"}} | no no no no no no yes
            fixed size changed | {"name":"f","type":{"type":"fixed","name":"F","size":16}} | {"name":"f","type":{"type":"fixed","name":"F","size":8}} | no no no no no no yes
            top-level record renamed | {"type":"record","name":"R","fields":[{"name":"a","type":"int"}]} | {"type":"record","name":"S","fields":[{"name":"a","type":"int"}]} | no no no no no no yes
            top-level int promoted to long | "int" | "long" | yes yes no no no no yes
            top-level string to int | "string" | "int" | no no no no no no yes
            default dropped after a defaulted add | {"name":"a","type":"int"} >> {"name":"a","type":"int"},{"name":"b","type":"string","default":"x"} | {"name":"a","type":"int"},{"name":"b","type":"string"} | yes no yes yes yes no yes
            field removed after its default was added | {"name":"a","type":"int"},{"name":"b","type":"string"} >> {"name":"a","type":"int"},{"name":"b","type":"string","default":"x"} | {"name":"a","type":"int"} | yes yes yes no yes no yes
            promoted twice, int then long then double | {"name":"a","type":"int"} >> {"name":"a","type":"long"} | {"name":"a","type":"double"} | yes yes no no no no yes
            field swapped for a defaulted one, the oldest reader lacks a default | {"name":"a","type":"string"} >> {"name":"a","type":"string","default":""},{"name":"b","type":"int","default":1} | {"name":"b","type":"int","default":1} | yes yes yes no yes no yes
            """;

    static final List<CompatibilityLevel> COLUMNS = List.of(CompatibilityLevel.BACKWARD,
            CompatibilityLevel.BACKWARD_TRANSITIVE, CompatibilityLevel.FORWARD, CompatibilityLevel.FORWARD_TRANSITIVE,
            CompatibilityLevel.FULL, CompatibilityLevel.FULL_TRANSITIVE, CompatibilityLevel.NONE);

    record Case(String name, List<String> history, String candidate, List<Boolean> verdicts) {
    }

    static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        for (String line : TABLE.strip().split("\n")) {
            String[] cells = line.split("\\|");
            if (cells.length != 4) {
                throw new IllegalStateException("A table line has 4 cells: " + line);
            }
            List<String> history = Stream.of(cells[1].split(">>")).map(String::strip).toList();
            List<Boolean> verdicts = Stream.of(cells[3].strip().split("\\s+")).map(v -> switch (v) {
                case "yes" -> true;
                case "no" -> false;
                default -> throw new IllegalStateException("A verdict is yes or no, not " + v + " in: " + line);
            }).toList();
            if (verdicts.size() != COLUMNS.size()) {
                throw new IllegalStateException("A table line has a verdict per level: " + line);
            }
            cases.add(new Case(cells[0].strip(), history, cells[2].strip(), verdicts));
        }
        return cases;
    }

    static Stream<Arguments> verdicts() {
        return cases().stream().flatMap(c -> {
            List<Arguments> out = new ArrayList<>();
            for (int i = 0; i < COLUMNS.size(); i++) {
                out.add(Arguments.of(c.name(), COLUMNS.get(i), c.history(), c.candidate(), c.verdicts().get(i)));
            }
            return out.stream();
        });
    }

    @Test
    void theTableCoversAtLeastThirtyEvolutions() {
        assertThat(cases()).hasSizeGreaterThanOrEqualTo(30);
        assertThat(cases()).extracting(Case::name).doesNotHaveDuplicates();
    }

    @ParameterizedTest(name = "{0} at {1}: compatible = {4}")
    @MethodSource("verdicts")
    void eachEvolutionGetsTheVerdictOfAvrosResolutionRules(String name, CompatibilityLevel level,
                                                           List<String> history, String candidate, boolean compatible) {
        List<CompatibilityLevel.Version> earlier = new ArrayList<>();
        for (int v = 0; v < history.size(); v++) {
            earlier.add(new CompatibilityLevel.Version(v + 1, schema(history.get(v))));
        }

        List<String> problems = level.problems(schema(candidate), earlier);

        if (compatible) {
            assertThat(problems).as(name + " at " + level).isEmpty();
        } else {
            assertThat(problems).as(name + " at " + level).isNotEmpty()
                    .allSatisfy(p -> assertThat(p).startsWith(level.name() + ": "));
        }
    }

    @Test
    void aProblemSaysWhichVersionAndWhichRule() {
        Schema v1 = schema("{\"name\":\"a\",\"type\":\"int\"}");
        Schema v2 = schema("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\"}");

        List<String> problems = CompatibilityLevel.BACKWARD.problems(v2, List.of(new CompatibilityLevel.Version(1, v1)));

        assertThat(problems).singleElement().asString()
                .contains("cannot read data written with version 1", "READER_FIELD_MISSING_DEFAULT_VALUE", "b");
    }

    @Test
    void levelsParseInAnyCaseAndRefuseOthersWith42203() {
        assertThat(CompatibilityLevel.parse("full_transitive")).isEqualTo(CompatibilityLevel.FULL_TRANSITIVE);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> CompatibilityLevel.parse("SIDEWAYS"))
                .isInstanceOfSatisfying(RegistryException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(RegistryErrorCodes.INVALID_COMPATIBILITY_LEVEL));
    }

    static Schema schema(String cell) {
        String text = cell.startsWith("{\"name\"")
                ? "{\"type\":\"record\",\"name\":\"R\",\"fields\":[" + cell + "]}" : cell;
        return new Schema.Parser().parse(text);
    }
}

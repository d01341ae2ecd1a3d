package io.runnel.registry;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.statistics.Statistics;

/**
 * The promise behind BACKWARD: whenever the registry accepts a new schema as BACKWARD compatible
 * with the one before it, every record written with the old schema is readable with the new one
 * by Avro's {@link GenericDatumReader}, and fields that did not change keep their values.
 *
 * <p>Each try takes a seed (jqwik reports it on failure; rerun with it to replay): a random record
 * schema (primitives, enums, optional fields, arrays, a nested record), one to three random
 * evolutions of it or of its nested record (fields added with and without defaults, removed,
 * promoted, narrowed, retyped, renamed with and without aliases, made optional, unions widened,
 * enum symbols added and removed, defaults dropped), and random records of the old schema. Both
 * schemas go through the registry's own path: parsed by {@link AvroSchemas}, stored as canonical
 * text, parsed again, and judged by {@link CompatibilityLevel#BACKWARD}.
 */
class BackwardCompatibilityPropertyTest {

    static final List<String> PRIMITIVES = List.of("int", "long", "float", "double", "string", "bytes", "boolean");
    static final int RECORDS_PER_TRY = 5;

    @Property(tries = 400)
    void dataWrittenWithTheOldSchemaIsReadableWithABackwardCompatibleNewOne(@ForAll long seed) throws IOException {
        Random random = new Random(seed);
        RecordType oldType = RecordType.random("R", random, true);
        RecordType newType = oldType.copy();
        int evolutions = 1 + random.nextInt(3);
        List<String> applied = new ArrayList<>();
        for (int i = 0; i < evolutions; i++) {
            applied.add(newType.evolveSomewhere(random));
        }
        Schema oldSchema = asStored(oldType.json());
        Schema newSchema = asStored(newType.json());

        boolean compatible = CompatibilityLevel.BACKWARD.problems(newSchema,
                List.of(new CompatibilityLevel.Version(1, oldSchema))).isEmpty();
        Statistics.label("verdict").collect(compatible ? "compatible" : "incompatible");
        Statistics.label("verdict").coverage(c -> {
            c.check("compatible").percentage(p -> p > 15);
            c.check("incompatible").percentage(p -> p > 15);
        });
        if (!compatible) {
            return;
        }
        for (int i = 0; i < RECORDS_PER_TRY; i++) {
            GenericRecord written = (GenericRecord) randomValue(oldSchema, random);
            GenericRecord read = (GenericRecord) readBack(written, oldSchema, newSchema);
            for (Schema.Field f : newSchema.getFields()) {
                Schema.Field before = oldSchema.getField(f.name());
                if (before != null && before.schema().equals(f.schema())) {
                    assertThat(GenericData.get().compare(read.get(f.name()), written.get(f.name()), f.schema()))
                            .as("field %s after %s\nold: %s\nnew: %s", f.name(), applied, oldSchema, newSchema)
                            .isZero();
                }
            }
        }
    }

    /** What the registry compares: the canonical text it stored, parsed again. */
    static Schema asStored(String text) {
        String canonical = AvroSchemas.parse(text, List.of()).canonical();
        return AvroSchemas.parse(canonical, List.of()).schema();
    }

    static Object readBack(Object value, Schema writer, Schema reader) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<Object>(writer).write(value, encoder);
        encoder.flush();
        return new GenericDatumReader<Object>(writer, reader)
                .read(null, DecoderFactory.get().binaryDecoder(out.toByteArray(), null));
    }

    static Object randomValue(Schema schema, Random random) {
        return switch (schema.getType()) {
            case RECORD -> {
                GenericData.Record r = new GenericData.Record(schema);
                schema.getFields().forEach(f -> r.put(f.name(), randomValue(f.schema(), random)));
                yield r;
            }
            case ENUM -> new GenericData.EnumSymbol(schema,
                    schema.getEnumSymbols().get(random.nextInt(schema.getEnumSymbols().size())));
            case ARRAY -> {
                int n = random.nextInt(4);
                GenericData.Array<Object> a = new GenericData.Array<>(n, schema);
                for (int i = 0; i < n; i++) {
                    a.add(randomValue(schema.getElementType(), random));
                }
                yield a;
            }
            case UNION -> randomValue(schema.getTypes().get(random.nextInt(schema.getTypes().size())), random);
            case INT -> random.nextInt();
            case LONG -> random.nextLong();
            case FLOAT -> random.nextFloat();
            case DOUBLE -> random.nextDouble();
            case BOOLEAN -> random.nextBoolean();
            case STRING -> Long.toString(random.nextLong(), 36);
            case BYTES -> ByteBuffer.wrap(Long.toString(random.nextLong(), 36).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            case NULL -> null;
            default -> throw new IllegalStateException("Not generated: " + schema.getType());
        };
    }

    // ---------------------------------------------------------------- a small model of record schemas

    /** A field type, written as Avro JSON. */
    interface Type {
        String json();

        Type copy();
    }

    record Primitive(String name) implements Type {
        public String json() {
            return "\"" + name + "\"";
        }

        public Type copy() {
            return this;
        }

        String defaultJson() {
            return switch (name) {
                case "int", "long" -> "0";
                case "float", "double" -> "0.5";
                case "string", "bytes" -> "\"\"";
                case "boolean" -> "false";
                default -> throw new IllegalStateException(name);
            };
        }
    }

    static final class EnumType implements Type {
        final String name;
        final List<String> symbols;
        String defaultSymbol;

        EnumType(String name, List<String> symbols, String defaultSymbol) {
            this.name = name;
            this.symbols = new ArrayList<>(symbols);
            this.defaultSymbol = defaultSymbol;
        }

        public String json() {
            return "{\"type\":\"enum\",\"name\":\"" + name + "\",\"symbols\":["
                    + symbols.stream().map(s -> "\"" + s + "\"").collect(Collectors.joining(",")) + "]"
                    + (defaultSymbol == null ? "" : ",\"default\":\"" + defaultSymbol + "\"") + "}";
        }

        public Type copy() {
            return new EnumType(name, symbols, defaultSymbol);
        }
    }

    /** A union; an optional field is ["null", T]. */
    record Union(List<Type> branches) implements Type {
        public String json() {
            return "[" + branches.stream().map(Type::json).collect(Collectors.joining(",")) + "]";
        }

        public Type copy() {
            return new Union(branches.stream().map(Type::copy).toList());
        }
    }

    record ArrayType(Type items) implements Type {
        public String json() {
            return "{\"type\":\"array\",\"items\":" + items.json() + "}";
        }

        public Type copy() {
            return new ArrayType(items.copy());
        }
    }

    static final class Field {
        String name;
        Type type;
        String defaultJson;
        final List<String> aliases = new ArrayList<>();

        Field(String name, Type type, String defaultJson) {
            this.name = name;
            this.type = type;
            this.defaultJson = defaultJson;
        }

        String json() {
            return "{\"name\":\"" + name + "\",\"type\":" + type.json()
                    + (aliases.isEmpty() ? "" : ",\"aliases\":[" + aliases.stream().map(a -> "\"" + a + "\"")
                            .collect(Collectors.joining(",")) + "]")
                    + (defaultJson == null ? "" : ",\"default\":" + defaultJson) + "}";
        }

        Field copy() {
            Field f = new Field(name, type.copy(), defaultJson);
            f.aliases.addAll(aliases);
            return f;
        }
    }

    static final class RecordType implements Type {
        final String name;
        final List<Field> fields = new ArrayList<>();
        int nextName;

        RecordType(String name) {
            this.name = name;
        }

        static RecordType random(String name, Random random, boolean mayNest) {
            RecordType r = new RecordType(name);
            int n = 1 + random.nextInt(5);
            for (int i = 0; i < n; i++) {
                r.fields.add(r.randomField(random, random.nextBoolean()));
            }
            if (mayNest && random.nextInt(3) == 0) {
                r.fields.add(new Field(r.freshName(), random("N", random, false), null));
            }
            return r;
        }

        String freshName() {
            return name.toLowerCase() + "f" + nextName++;
        }

        Field randomField(Random random, boolean withDefault) {
            int kind = random.nextInt(10);
            Type type;
            String defaultJson;
            if (kind < 6) {
                Primitive p = new Primitive(PRIMITIVES.get(random.nextInt(PRIMITIVES.size())));
                type = p;
                defaultJson = p.defaultJson();
            } else if (kind < 8) {
                EnumType e = new EnumType(name + "E" + nextName, List.of("A", "B", "C").subList(0, 1 + random.nextInt(3)),
                        null);
                type = e;
                defaultJson = "\"A\"";
            } else if (kind < 9) {
                type = new Union(List.of(new Primitive("null"), new Primitive(PRIMITIVES.get(random.nextInt(PRIMITIVES.size())))));
                defaultJson = "null";
            } else {
                type = new ArrayType(new Primitive(PRIMITIVES.get(random.nextInt(PRIMITIVES.size()))));
                defaultJson = "[]";
            }
            return new Field(freshName(), type, withDefault ? defaultJson : null);
        }

        public String json() {
            return "{\"type\":\"record\",\"name\":\"" + name + "\",\"fields\":["
                    + fields.stream().map(Field::json).collect(Collectors.joining(",")) + "]}";
        }

        public RecordType copy() {
            RecordType r = new RecordType(name);
            r.nextName = nextName;
            fields.forEach(f -> r.fields.add(f.copy()));
            return r;
        }

        /** Evolves this record or a record nested in it; says what it did. */
        String evolveSomewhere(Random random) {
            for (Field f : fields) {
                if (f.type instanceof RecordType nested && random.nextBoolean()) {
                    return nested.name + ": " + nested.evolve(random);
                }
            }
            return name + ": " + evolve(random);
        }

        String evolve(Random random) {
            Field f = fields.isEmpty() ? null : fields.get(random.nextInt(fields.size()));
            int op = random.nextInt(12);
            if (f == null || op == 0) {
                Field added = randomField(random, true);
                fields.add(added);
                return "added " + added.name + " with default";
            }
            switch (op) {
                case 1 -> {
                    Field added = randomField(random, false);
                    fields.add(added);
                    return "added " + added.name + " without default";
                }
                case 2 -> {
                    fields.remove(f);
                    return "removed " + f.name;
                }
                case 3 -> {
                    if (f.type instanceof Primitive p && promotion(p.name()) != null) {
                        f.type = new Primitive(promotion(p.name()));
                        f.defaultJson = f.defaultJson == null ? null : ((Primitive) f.type).defaultJson();
                        return "promoted " + f.name + " from " + p.name();
                    }
                    return "nothing";
                }
                case 4 -> {
                    if (f.type instanceof Primitive p) {
                        Primitive other = new Primitive(PRIMITIVES.get(random.nextInt(PRIMITIVES.size())));
                        f.type = other;
                        f.defaultJson = f.defaultJson == null ? null : other.defaultJson();
                        return "retyped " + f.name + " from " + p.name() + " to " + other.name();
                    }
                    return "nothing";
                }
                case 5 -> {
                    if (f.type instanceof EnumType e) {
                        e.symbols.add("S" + e.symbols.size());
                        return "added a symbol to " + e.name;
                    }
                    return "nothing";
                }
                case 6 -> {
                    if (f.type instanceof EnumType e && e.symbols.size() > 1) {
                        e.symbols.remove(e.symbols.size() - 1);
                        if (random.nextBoolean()) {
                            e.defaultSymbol = "A";
                        }
                        return "removed a symbol from " + e.name + (e.defaultSymbol == null ? "" : ", default A");
                    }
                    return "nothing";
                }
                case 7 -> {
                    if (!(f.type instanceof Union)) {
                        f.type = new Union(List.of(new Primitive("null"), f.type));
                        f.defaultJson = "null";
                        return "made " + f.name + " optional";
                    }
                    return "nothing";
                }
                case 8 -> {
                    String old = f.name;
                    f.aliases.add(old);
                    f.name = freshName();
                    return "renamed " + old + " to " + f.name + " with alias";
                }
                case 9 -> {
                    String old = f.name;
                    f.name = freshName();
                    return "renamed " + old + " to " + f.name + " without alias";
                }
                case 10 -> {
                    if (f.type instanceof Union u && u.branches().stream().noneMatch(b -> b.json().equals("\"string\""))) {
                        List<Type> wider = new ArrayList<>(u.branches());
                        wider.add(new Primitive("string"));
                        f.type = new Union(wider);
                        return "widened the union of " + f.name;
                    }
                    return "nothing";
                }
                default -> {
                    String was = f.defaultJson;
                    f.defaultJson = null;
                    return was == null ? "nothing" : "dropped the default of " + f.name;
                }
            }
        }

        static String promotion(String primitive) {
            return switch (primitive) {
                case "int" -> "long";
                case "long" -> "double";
                case "float" -> "double";
                case "string" -> "bytes";
                case "bytes" -> "string";
                default -> null;
            };
        }
    }
}

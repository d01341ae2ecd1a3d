package io.runnel.registry;

import java.util.ArrayList;
import java.util.List;

import org.apache.avro.Schema;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;

/**
 * Avro schema text to {@link Schema}, with Apache Avro's own parser, and the canonical text the
 * registry stores and compares. Stateless.
 *
 * <p>Canonical text: {@link Schema#toString(java.util.Collection, boolean)} of the parsed schema,
 * compact, with the types defined by its references left as names (not inlined). It is what Avro
 * itself writes for the schema, so whitespace, key order and escaping of the submitted text do
 * not matter, while everything that changes meaning or resolution (defaults, aliases, docs,
 * logical types, order) is kept: two texts with the same canonical text get the same id.
 * (Avro's "parsing canonical form" would be wrong here: it drops defaults and aliases, which
 * decide compatibility.)
 */
final class AvroSchemas {

    /** The one schema type served so far (Confluent's name for it). */
    static final String AVRO = "AVRO";

    /** A parsed schema and its canonical text. */
    record Parsed(Schema schema, String canonical) {
    }

    private AvroSchemas() {
    }

    /**
     * Parses {@code text} after the texts it references (dependencies first, each once), so their
     * named types are known to it. Fails with {@link RegistryErrorCodes#INVALID_SCHEMA} and Avro's
     * reason for anything Avro refuses: bad JSON, an unknown type name, a default that does not
     * match its type, a name defined twice.
     */
    static Parsed parse(String text, List<String> referencedTexts) {
        if (text == null || text.isBlank()) {
            throw new RegistryException(RegistryErrorCodes.INVALID_SCHEMA, "Invalid schema: it is empty");
        }
        Schema.Parser parser = new Schema.Parser();
        List<Schema> referenced = new ArrayList<>(referencedTexts.size());
        try {
            for (String t : referencedTexts) {
                referenced.add(parser.parse(t));
            }
        } catch (RuntimeException e) {
            throw new RegistryException(RegistryErrorCodes.INVALID_SCHEMA,
                    "Invalid schema: a referenced schema does not parse with the others: " + reason(e));
        }
        Schema schema;
        try {
            schema = parser.parse(text);
        } catch (RuntimeException e) {
            throw new RegistryException(RegistryErrorCodes.INVALID_SCHEMA, "Invalid schema: " + reason(e));
        }
        return new Parsed(schema, schema.toString(referenced, false));
    }

    /**
     * Avro's message, or the failure's kind when it has none (never a stack trace). Avro wraps a
     * JSON syntax error with the parser exception's toString; the client wants the plain reason
     * and where it is.
     */
    private static String reason(RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof JsonProcessingException json) {
                JsonLocation at = json.getLocation();
                return "not JSON: " + json.getOriginalMessage()
                        + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")");
            }
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}

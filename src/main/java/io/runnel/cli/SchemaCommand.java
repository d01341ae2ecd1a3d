package io.runnel.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code runnel schema register|get|list|check}: the schema registry through its REST API
 * (Confluent Schema Registry's, port 8081), found by {@code --registry-url}, else
 * {@code RUNNEL_REGISTRY_URL}, else the local default. Refusals print the registry's
 * {@code error_code} and message on stderr and exit 1; an unusable URL exits 2; an incompatible
 * schema in {@code check} exits 1 with the reasons on stdout.
 */
@Command(name = "schema", mixinStandardHelpOptions = true,
        description = "Register, read, list and check Avro schemas in the schema registry.",
        subcommands = {SchemaCommand.Register.class, SchemaCommand.Get.class, SchemaCommand.ListSubjects.class,
            SchemaCommand.Check.class})
final class SchemaCommand implements Runnable {

    /** What the registry answers and takes (Confluent's media type). */
    static final String REGISTRY_JSON = "application/vnd.schemaregistry.v1+json";

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** A schema command: where the registry is ({@code --registry-url}); the rest is {@link RestCommand}'s. */
    abstract static class RegistryUrl extends RestCommand {

        @Option(names = "--registry-url", paramLabel = "URL",
                defaultValue = "${env:RUNNEL_REGISTRY_URL:-http://127.0.0.1:8081}",
                description = "The schema registry (default: $RUNNEL_REGISTRY_URL, else ${DEFAULT-VALUE}).")
        String registryUrl;

        @Override
        RestClient newClient() {
            return new RestClient(registryUrl, "--registry-url", "RUNNEL_REGISTRY_URL", "http://127.0.0.1:8081");
        }
    }

    /** A schema given on the command line or in a file, exactly one of them. */
    static final class SchemaText {
        @Option(names = "--schema", paramLabel = "JSON", required = true, description = "The Avro schema, as JSON text.")
        String text;

        @Option(names = "--file", paramLabel = "PATH", required = true, description = "A file holding the Avro schema.")
        Path file;

        String read() throws RestClient.ApiError {
            if (text != null) {
                return text;
            }
            try {
                return Files.readString(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new RestClient.ApiError(0, 0, "Cannot read the schema file " + file + ": " + e.getMessage());
            }
        }
    }

    static String subjectPath(String subject) {
        return "/subjects/" + RestClient.encode(subject);
    }

    @Command(name = "register", mixinStandardHelpOptions = true,
            description = "Register a schema under a subject (the same schema again keeps its version and id).")
    static final class Register extends RegistryUrl {
        @Parameters(paramLabel = "SUBJECT", description = "e.g. orders-value (TopicNameStrategy: {topic}-value)")
        String subject;

        @ArgGroup(exclusive = true, multiplicity = "1")
        SchemaText schema;

        @Override
        int execute(RestClient registry) throws RestClient.ApiError {
            JsonObject body = new JsonObject().put("schema", schema.read());
            int id = ((JsonObject) registry.post(subjectPath(subject) + "/versions", REGISTRY_JSON, body)).getInteger("id");
            int version = ((JsonObject) registry.post(subjectPath(subject), REGISTRY_JSON, body)).getInteger("version");
            out().printf("Registered under %s as version %d, schema id %d%n", subject, version, id);
            return 0;
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true,
            description = "Print a schema: a subject's version (latest by default), or the schema with an id.")
    static final class Get extends RegistryUrl {
        @Parameters(paramLabel = "SUBJECT", arity = "0..1", description = "The subject (omit with --id).")
        String subject;

        @Option(names = {"-v", "--version"}, paramLabel = "VERSION", defaultValue = "latest",
                description = "A version number or latest (default).")
        String version;

        @Option(names = "--id", paramLabel = "ID", description = "Print the schema with this global id instead.")
        Integer id;

        @Override
        int execute(RestClient registry) throws RestClient.ApiError {
            if ((id == null) == (subject == null)) {
                err().println("Give a SUBJECT or --id, one of them");
                err().flush();
                return 2;
            }
            JsonObject found = id != null ? (JsonObject) registry.get("/schemas/ids/" + id, REGISTRY_JSON)
                    : (JsonObject) registry.get(subjectPath(subject) + "/versions/" + RestClient.encode(version), REGISTRY_JSON);
            if (id == null) {
                err().printf("%s version %d, schema id %d%n", subject, found.getInteger("version"), found.getInteger("id"));
                err().flush();
            }
            out().println(found.getString("schema"));
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List subjects, one a line; with a SUBJECT, its versions.")
    static final class ListSubjects extends RegistryUrl {
        @Parameters(paramLabel = "SUBJECT", arity = "0..1", description = "List this subject's versions instead.")
        String subject;

        @Option(names = "--deleted", description = "Include soft-deleted subjects or versions.")
        boolean deleted;

        @Override
        int execute(RestClient registry) throws RestClient.ApiError {
            String path = (subject == null ? "/subjects" : subjectPath(subject) + "/versions")
                    + (deleted ? "?deleted=true" : "");
            for (Object entry : (JsonArray) registry.get(path, REGISTRY_JSON)) {
                out().println(entry);
            }
            return 0;
        }
    }

    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Check whether a schema could be registered after a subject's version (latest by default)"
                    + " at the subject's compatibility level; exit 0 if so, 1 with the reasons if not.")
    static final class Check extends RegistryUrl {
        @Parameters(paramLabel = "SUBJECT")
        String subject;

        @ArgGroup(exclusive = true, multiplicity = "1")
        SchemaText schema;

        @Option(names = {"-v", "--version"}, paramLabel = "VERSION", defaultValue = "latest",
                description = "Compare with this version, or latest (default).")
        String version;

        @Override
        int execute(RestClient registry) throws RestClient.ApiError {
            JsonObject answer = (JsonObject) registry.post("/compatibility" + subjectPath(subject) + "/versions/"
                    + RestClient.encode(version) + "?verbose=true", REGISTRY_JSON,
                    new JsonObject().put("schema", schema.read()));
            if (answer.getBoolean("is_compatible", false)) {
                out().printf("Compatible with %s version %s%n", subject, version);
                return 0;
            }
            out().printf("Incompatible with %s version %s:%n", subject, version);
            JsonArray reasons = answer.getJsonArray("messages", new JsonArray());
            reasons.forEach(m -> out().println("  " + m));
            return 1;
        }
    }
}

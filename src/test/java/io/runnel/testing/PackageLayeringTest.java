package io.runnel.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keeps the package layering of DESIGN.md: {@link #RULES} is the table, {@link ImportCheck} the
 * checker, and {@link #mainSourcesKeepTheLayering()} runs it over {@code src/main/java}.
 *
 * <p>The checker reads source, not bytecode: every {@code import} (single-type, on-demand, static)
 * and every fully qualified name in code (comments and string literals are blanked out first)
 * counts as a dependency of the file's package (taken from its {@code package} line). It is
 * conservative where source is ambiguous: an on-demand import of a package counts as using every
 * type of it, so {@code import java.net.*;} breaks a rule against {@code java.net.Socket}.
 * A missing or partial source tree passes: there is nothing to break a rule.
 */
class PackageLayeringTest {

    /** What a rule does with the dependencies of a subject package (and its subpackages). */
    enum Kind {
        /** Of {@code io.runnel}, the subject may use only itself and the targets. */
        ONLY_OURS,
        /** The subject must not use the targets (packages or types, subpackages included). */
        NEVER,
        /** Each direct subpackage of the subject must not use its siblings; targets unused. */
        SIBLINGS_APART,
    }

    /**
     * One line of the layering table.
     *
     * @param subject the package the rule constrains, subpackages included
     * @param why the reason, printed with every violation
     */
    record Rule(String subject, Kind kind, List<String> targets, String why) {

        static Rule onlyOurs(String subject, List<String> mayUse, String why) {
            return new Rule(subject, Kind.ONLY_OURS, mayUse, why);
        }

        static Rule never(String subject, List<String> mustNotUse, String why) {
            return new Rule(subject, Kind.NEVER, mustNotUse, why);
        }

        static Rule siblingsApart(String parent, String why) {
            return new Rule(parent, Kind.SIBLINGS_APART, List.of(), why);
        }
    }

    static final String OURS = "io.runnel";

    /** DESIGN.md's layering. A new rule is a new line here, with its reason. */
    static final List<Rule> RULES = List.of(
            Rule.onlyOurs("io.runnel.config", List.of(),
                    "config is the bottom layer: every package reads it, so it may read none of them"),
            Rule.onlyOurs("io.runnel.log", List.of("io.runnel.config"),
                    "the storage engine stands alone (tested, benchmarked, recovered without a broker);"
                            + " it sees only its configuration"),
            Rule.never("io.runnel.log", List.of(
                            "io.vertx.core.net", "io.vertx.core.http", "io.netty.channel",
                            "java.net.Socket", "java.net.ServerSocket", "java.net.DatagramSocket", "java.net.http",
                            "java.nio.channels.SocketChannel", "java.nio.channels.ServerSocketChannel"),
                    "the log knows nothing of networks: protocols and replication move its bytes,"
                            + " it only stores and reads them"),
            Rule.siblingsApart("io.runnel.api",
                    "each adapter translates one protocol into calls on the broker service;"
                            + " shared behaviour belongs in broker, so every way in behaves the same"),
            Rule.never("io.runnel.broker", List.of("io.runnel.api", "io.runnel.cli"),
                    "adapters and the command line use the broker, never the other way round"),
            Rule.never("io.runnel.group", List.of("io.runnel.broker", "io.runnel.api", "io.runnel.cli"),
                    "the broker uses the group coordinator, which persists through GroupStore, never the other way round"),
            Rule.never("io.runnel.registry", List.of("io.runnel.broker", "io.runnel.api", "io.runnel.cli"),
                    "the broker uses the registry (validation at the edge) and stores it through SchemaStore;"
                            + " adapters and the command line use it, never the other way round"),
            Rule.onlyOurs("io.runnel.client", List.of(),
                    "the event bus client is embedded in users' applications; it must not drag the broker in"));

    @Test
    void mainSourcesKeepTheLayering() {
        Path sources = Path.of(System.getProperty("basedir", "")).toAbsolutePath().resolve("src/main/java");

        List<String> violations = ImportCheck.checkTree(sources, RULES);

        assertThat(violations).as("package layering of DESIGN.md, checked in %s", sources).isEmpty();
    }

    // ---- the checker, proven on snippets --------------------------------------------------

    @Test
    void logMayUseConfigAndLibrariesButNotTheBroker() {
        String source = """
                package io.runnel.log;

                import io.runnel.config.LogConfig;
                import io.runnel.log.internal.Crc;
                import java.nio.channels.FileChannel;
                import java.net.SocketAddress;
                import org.apache.kafka.common.record.MemoryRecords;
                import io.vertx.core.Context;
                import io.runnel.broker.Partition;
                """;

        assertThat(ImportCheck.checkSource("Log.java", source, RULES))
                .singleElement().asString()
                .contains("Log.java:9", "io.runnel.broker.Partition", "the storage engine stands alone");
    }

    @Test
    void staticAndOnDemandImportsCount() {
        String source = """
                package io.runnel.log.cleaner;
                import static io.runnel.broker.Limits.MAX_FETCH;
                import static io.runnel.group.Offsets.*;
                import io.runnel.registry.*;
                import io.runnel.*;
                import static io.runnel.config.Defaults.*;
                """;

        assertThat(ImportCheck.checkSource("Cleaner.java", source, RULES))
                .hasSize(4)
                .anySatisfy(v -> assertThat(v).contains(":2", "io.runnel.broker.Limits.MAX_FETCH"))
                .anySatisfy(v -> assertThat(v).contains(":3", "io.runnel.group.Offsets.*"))
                .anySatisfy(v -> assertThat(v).contains(":4", "io.runnel.registry.*"))
                .anySatisfy(v -> assertThat(v).contains(":5", "io.runnel.*"));
    }

    @Test
    void logUsesNoNetworking() {
        String source = """
                package io.runnel.log;
                import io.vertx.core.net.NetSocket;
                import io.vertx.core.http.*;
                import java.net.*;
                import io.netty.channel.DefaultFileRegion;
                import io.vertx.core.*;
                import java.nio.channels.*;
                import java.nio.file.Path;
                import java.net.URI;
                """;

        // io.vertx.core.* does not import the io.vertx.core.net package; java.nio.channels.* does
        // import SocketChannel; java.net.URI is not on the list.
        assertThat(ImportCheck.checkSource("Segment.java", source, RULES))
                .extracting(v -> v.substring(0, v.indexOf(' ')))
                .containsExactly("Segment.java:2", "Segment.java:3", "Segment.java:4", "Segment.java:5",
                        "Segment.java:7");
    }

    @Test
    void fullyQualifiedNamesInCodeCount() {
        String source = """
                package io.runnel.log;

                final class Reader {
                    private java.net.Socket socket;
                    @io.runnel.broker.Edge
                    void read() { var b = new io.runnel.broker.Broker(); }
                    java.nio.file.Path path;
                }
                """;

        assertThat(ImportCheck.checkSource("Reader.java", source, RULES))
                .hasSize(3)
                .anySatisfy(v -> assertThat(v).contains("Reader.java:4", "java.net.Socket"))
                .anySatisfy(v -> assertThat(v).contains("Reader.java:5", "io.runnel.broker.Edge"))
                .anySatisfy(v -> assertThat(v).contains("Reader.java:6", "io.runnel.broker.Broker"));
    }

    @Test
    void commentsAndStringsAreNotDependencies() {
        String source = """
                package io.runnel.log; // not io.runnel.broker.Broker
                /* import io.runnel.broker.Broker; */
                /** See {@link io.runnel.broker.Broker} and java.net.Socket. */
                final class Names {
                    static final String LOGGER = "io.runnel.broker.Broker";
                    static final char QUOTE = '"';
                    static final String BLOCK = \"""
                            import io.runnel.broker.Broker;
                            \""";
                    static final String ESCAPED = "\\" io.runnel.broker.Broker";
                }
                """;

        assertThat(ImportCheck.checkSource("Names.java", source, RULES)).isEmpty();
    }

    @Test
    void adaptersStayApartButShareTheBroker() {
        String http = """
                package io.runnel.api.http.v3;
                import io.runnel.broker.BrokerService;
                import io.runnel.api.http.Errors;
                import io.runnel.api.kafka.ErrorCodes;
                """;
        String ws = """
                package io.runnel.api.ws;
                import static io.runnel.api.eventbus.Addresses.PRODUCE;
                """;

        assertThat(ImportCheck.checkSource("Records.java", http, RULES))
                .singleElement().asString().contains("Records.java:4", "io.runnel.api.kafka.ErrorCodes");
        assertThat(ImportCheck.checkSource("Frames.java", ws, RULES))
                .singleElement().asString().contains("Frames.java:2", "io.runnel.api.eventbus");
    }

    @Test
    void theClientAndConfigDependOnNothingOfOurs() {
        String client = """
                package io.runnel.client;
                import io.runnel.client.codec.RecordCodec;
                import io.vertx.core.eventbus.EventBus;
                import io.runnel.broker.ErrorCode;
                """;
        String config = """
                package io.runnel.config;
                import io.runnel.log.Log;
                """;

        assertThat(ImportCheck.checkSource("EventBusClient.java", client, RULES))
                .singleElement().asString().contains(":4", "io.runnel.broker.ErrorCode");
        assertThat(ImportCheck.checkSource("BrokerConfig.java", config, RULES))
                .singleElement().asString().contains(":2", "io.runnel.log.Log", "config is the bottom layer");
    }

    @Test
    void aForbiddenImportInATreeFailsAndAnEmptyTreePasses(@TempDir Path root) throws IOException {
        Path sources = root.resolve("src/main/java");
        assertThat(ImportCheck.checkTree(sources, RULES)).as("no tree").isEmpty();

        write(sources, "io/runnel/config/LogConfig.java", "package io.runnel.config;\nimport java.util.Map;\n");
        write(sources, "io/runnel/log/Log.java", "package io.runnel.log;\nimport io.runnel.config.LogConfig;\n");
        assertThat(ImportCheck.checkTree(sources, RULES)).as("a clean partial tree").isEmpty();

        write(sources, "io/runnel/log/Fetch.java", "package io.runnel.log;\n\nimport io.vertx.core.net.NetSocket;\n");
        assertThat(ImportCheck.checkTree(sources, RULES))
                .singleElement().asString()
                .contains("io/runnel/log/Fetch.java:3".replace('/', java.io.File.separatorChar),
                        "io.vertx.core.net.NetSocket", "knows nothing of networks");
    }

    private static void write(Path sources, String relative, String text) throws IOException {
        Path file = sources.resolve(relative);
        Files.createDirectories(file.getParent());
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }

    /**
     * Finds the dependencies of Java source files and checks them against layering rules.
     * Stateless; a violation is a line {@code file:line uses name — rule (why)}.
     */
    static final class ImportCheck {

        /** {@code import [static] a.b.C[.*];} over a blanked source; spaces allowed between tokens. */
        private static final Pattern IMPORT = Pattern.compile(
                "\\bimport\\s+(static\\s+)?([A-Za-z_$][\\w$]*(?:\\s*\\.\\s*[A-Za-z_$][\\w$]*)*)(\\s*\\.\\s*\\*)?\\s*;");
        private static final Pattern PACKAGE = Pattern.compile("\\bpackage\\s+([\\w$.\\s]+?)\\s*;");
        /** A dotted name not preceded by a dot or an identifier character (so not {@code x.io.y}). */
        private static final Pattern QUALIFIED = Pattern.compile(
                "(?<![\\w$.])([a-z_$][\\w$]*(?:\\s*\\.\\s*[A-Za-z_$][\\w$]*)+)");

        private ImportCheck() {
        }

        /** Checks every {@code .java} file under {@code sourceRoot}; none, or no root, passes. */
        static List<String> checkTree(Path sourceRoot, List<Rule> rules) {
            if (!Files.isDirectory(sourceRoot)) {
                return List.of();
            }
            List<String> violations = new ArrayList<>();
            try (Stream<Path> files = Files.walk(sourceRoot)) {
                for (Path file : files.filter(f -> f.toString().endsWith(".java")).sorted().toList()) {
                    String source = Files.readString(file, StandardCharsets.UTF_8);
                    violations.addAll(checkSource(sourceRoot.relativize(file).toString(), source, rules));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return violations;
        }

        /** Checks one source file; {@code fileName} only labels the violations. */
        static List<String> checkSource(String fileName, String source, List<Rule> rules) {
            String code = blankCommentsAndLiterals(source);
            Matcher pkg = PACKAGE.matcher(code);
            if (!pkg.find()) {
                return List.of(); // the default package is not ours
            }
            String filePackage = squeeze(pkg.group(1));
            int bodyStart = pkg.end();
            List<String> violations = new ArrayList<>();
            List<int[]> importSpans = new ArrayList<>();
            Matcher imports = IMPORT.matcher(code);
            while (imports.find()) {
                importSpans.add(new int[] {imports.start(), imports.end()});
                Reference ref = new Reference(squeeze(imports.group(2)), imports.group(3) != null);
                check(fileName, code, imports.start(), filePackage, ref, rules, violations);
            }
            Matcher names = QUALIFIED.matcher(code);
            while (names.find()) {
                if (names.start() < bodyStart || inside(importSpans, names.start())) {
                    continue;
                }
                Reference ref = new Reference(squeeze(names.group(1)), false);
                check(fileName, code, names.start(), filePackage, ref, rules, violations);
            }
            return violations;
        }

        private static void check(String fileName, String code, int position, String filePackage, Reference ref,
                List<Rule> rules, List<String> violations) {
            for (Rule rule : rules) {
                if (breaks(rule, filePackage, ref)) {
                    violations.add(fileName + ":" + lineOf(code, position) + " uses " + ref
                            + " — " + describe(rule, filePackage) + " (" + rule.why() + ")");
                }
            }
        }

        static boolean breaks(Rule rule, String filePackage, Reference ref) {
            if (!within(filePackage, rule.subject())) {
                return false;
            }
            return switch (rule.kind()) {
                case ONLY_OURS -> {
                    if (!within(ref.name(), OURS)) {
                        yield false;
                    }
                    String used = ref.packageName();
                    yield !within(used, rule.subject()) && rule.targets().stream().noneMatch(t -> within(used, t));
                }
                case NEVER -> rule.targets().stream().anyMatch(ref::mayUse);
                case SIBLINGS_APART -> {
                    String own = childOf(rule.subject(), filePackage);
                    String used = childOf(rule.subject(), ref.packageName());
                    yield own != null && used != null && !own.equals(used);
                }
            };
        }

        private static String describe(Rule rule, String filePackage) {
            return switch (rule.kind()) {
                case ONLY_OURS -> rule.subject() + " may use of " + OURS + " only "
                        + (rule.targets().isEmpty() ? "itself" : "itself and " + String.join(", ", rule.targets()));
                case NEVER -> rule.subject() + " must not use " + String.join(", ", rule.targets());
                case SIBLINGS_APART -> rule.subject() + "." + childOf(rule.subject(), filePackage)
                        + " must not use another " + rule.subject() + ".*";
            };
        }

        /** The package directly under {@code parent} that {@code pkg} is in, e.g. api, api.http.v3 → http. */
        private static String childOf(String parent, String pkg) {
            if (!pkg.startsWith(parent + ".")) {
                return null;
            }
            String rest = pkg.substring(parent.length() + 1);
            int dot = rest.indexOf('.');
            return dot < 0 ? rest : rest.substring(0, dot);
        }

        /** {@code name} is {@code scope} or lies inside it (a.b.C is within a.b and a.b.C). */
        static boolean within(String name, String scope) {
            return name.equals(scope) || name.startsWith(scope + ".");
        }

        private static boolean isTypeName(String segment) {
            return !segment.isEmpty() && Character.isUpperCase(segment.charAt(0));
        }

        /**
         * A name a file uses: a type, a member ({@code a.b.C.m}), or with {@code onDemand} every
         * type (or static member) directly inside it. Package and type are told apart by
         * Java's naming convention: a type's simple name starts with a capital.
         */
        record Reference(String name, boolean onDemand) {

            /** The package part: the segments before the first type name. */
            String packageName() {
                String[] segments = name.split("\\.");
                StringBuilder pkg = new StringBuilder();
                for (String segment : segments) {
                    if (isTypeName(segment)) {
                        break;
                    }
                    pkg.append(pkg.length() == 0 ? "" : ".").append(segment);
                }
                return pkg.toString();
            }

            /** Whether this reference may use {@code target}, a package or a type. */
            boolean mayUse(String target) {
                if (within(name, target)) {
                    return true;
                }
                // import p.*; brings in the type p.T, not the package p.sub.
                int dot = target.lastIndexOf('.');
                return onDemand && dot > 0 && target.substring(0, dot).equals(name)
                        && isTypeName(target.substring(dot + 1));
            }

            @Override
            public String toString() {
                return onDemand ? name + ".*" : name;
            }
        }

        /**
         * Replaces comments, string and char literals and text blocks with spaces, keeping line
         * breaks, so positions and line numbers still match the original.
         */
        static String blankCommentsAndLiterals(String source) {
            StringBuilder out = new StringBuilder(source.length());
            int i = 0;
            int n = source.length();
            while (i < n) {
                char c = source.charAt(i);
                if (source.startsWith("//", i)) {
                    int end = source.indexOf('\n', i);
                    i = blank(source, i, end < 0 ? n : end, out);
                } else if (source.startsWith("/*", i)) {
                    int end = source.indexOf("*/", i + 2);
                    i = blank(source, i, end < 0 ? n : end + 2, out);
                } else if (source.startsWith("\"\"\"", i)) {
                    i = blank(source, i, endOfTextBlock(source, i + 3), out);
                } else if (c == '"' || c == '\'') {
                    i = blank(source, i, endOfQuoted(source, i + 1, c), out);
                } else {
                    out.append(c);
                    i++;
                }
            }
            return out.toString();
        }

        private static int endOfTextBlock(String source, int from) {
            for (int i = from; i < source.length(); i++) {
                if (source.charAt(i) == '\\') {
                    i++;
                } else if (source.startsWith("\"\"\"", i)) {
                    return i + 3;
                }
            }
            return source.length();
        }

        private static int endOfQuoted(String source, int from, char quote) {
            for (int i = from; i < source.length(); i++) {
                char c = source.charAt(i);
                if (c == '\\') {
                    i++;
                } else if (c == quote || c == '\n') {
                    return i + 1;
                }
            }
            return source.length();
        }

        private static int blank(String source, int from, int to, StringBuilder out) {
            for (int i = from; i < to; i++) {
                out.append(source.charAt(i) == '\n' ? '\n' : ' ');
            }
            return to;
        }

        private static int lineOf(String code, int position) {
            int line = 1;
            for (int i = 0; i < position; i++) {
                if (code.charAt(i) == '\n') {
                    line++;
                }
            }
            return line;
        }

        private static boolean inside(List<int[]> spans, int position) {
            for (int[] span : spans) {
                if (position >= span[0] && position < span[1]) {
                    return true;
                }
            }
            return false;
        }

        private static String squeeze(String dottedName) {
            return dottedName.replaceAll("\\s+", "");
        }
    }
}

package io.runnel.docker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.runnel.config.BrokerConfig;
import io.vertx.core.json.JsonArray;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * {@code docker/Dockerfile} and {@code docker/docker-compose.yml}, checked without a Docker engine.
 *
 * <p>Each compose service is run through what Docker would do: its entry command is the service's
 * entrypoint and command over the image's ENTRYPOINT and CMD (a service entrypoint drops the image's
 * CMD, as Docker does), and its settings are {@link BrokerConfig#load} over the repository's
 * {@code conf/runnel.properties}, the image's ENV plus the service's environment, and the command's
 * arguments after {@code server}. So the checks see the broker.id, data.dir, listeners and cluster
 * members each broker would really start with, and an unknown or invalid key fails here too.
 *
 * <p>The Dockerfile parser understands what the file uses: comments, line continuations, stages
 * ({@code FROM image AS name}), exec-form (JSON) ENTRYPOINT and CMD, {@code ENV k=v ...}, COPY and
 * RUN. Anything it does not understand fails a check rather than passing one.
 */
class DockerFilesTest {

    static final Path DOCKER_DIR = Path.of("docker");
    static final Path DOCKERFILE = DOCKER_DIR.resolve("Dockerfile");
    static final Path COMPOSE_FILE = DOCKER_DIR.resolve("docker-compose.yml");
    static final List<String> SERVICES = List.of("runnel-1", "runnel-2", "runnel-3");
    static final List<String> ENTRY_COMMAND = List.of("runnel", "server", "--cluster");

    static List<Stage> stages;
    static Stage image;
    static Map<String, Object> compose;
    static Map<String, Object> services;

    /** One Dockerfile instruction: its keyword (upper case) and the rest of the line. */
    record Instruction(String keyword, String args) {
    }

    /** A build stage: its base image, its name (may be null) and its instructions in order. */
    record Stage(String from, String name, List<Instruction> instructions) {

        List<String> args(String keyword) {
            return instructions.stream().filter(i -> i.keyword().equals(keyword)).map(Instruction::args).toList();
        }

        /** The last exec-form value of ENTRYPOINT or CMD (the one Docker uses), or an empty list. */
        List<String> execForm(String keyword) {
            List<String> all = args(keyword);
            if (all.isEmpty()) {
                return List.of();
            }
            String last = all.get(all.size() - 1);
            assertThat(last).as("%s must be in exec form (a JSON array)", keyword).startsWith("[");
            return new JsonArray(last).stream().map(String.class::cast).toList();
        }

        Map<String, String> env() {
            Map<String, String> env = new LinkedHashMap<>();
            for (String args : args("ENV")) {
                for (String pair : words(args)) {
                    int eq = pair.indexOf('=');
                    assertThat(eq).as("ENV takes key=value pairs, not '%s'", pair).isPositive();
                    env.put(pair.substring(0, eq), pair.substring(eq + 1));
                }
            }
            return env;
        }

        String workdir() {
            List<String> all = args("WORKDIR");
            assertThat(all).as("the image sets a WORKDIR (conf/runnel.properties is found relative to it)").isNotEmpty();
            return all.get(all.size() - 1);
        }
    }

    @BeforeAll
    @SuppressWarnings("unchecked")
    static void parse() throws IOException {
        stages = parseDockerfile(Files.readString(DOCKERFILE, StandardCharsets.UTF_8));
        assertThat(stages).as("a build stage and the image stage").hasSizeGreaterThanOrEqualTo(2);
        image = stages.get(stages.size() - 1);
        compose = new Yaml().load(Files.readString(COMPOSE_FILE, StandardCharsets.UTF_8));
        services = (Map<String, Object>) compose.get("services");
        assertThat(services).as("docker-compose.yml has services").isNotNull();
    }

    // ---- Dockerfile ------------------------------------------------------------------------------

    @Test
    void buildStageRunsMavenPackageWithJdk17() {
        Stage build = stages.get(0);
        assertThat(build.from()).contains("maven").contains("17");
        assertThat(build.args("RUN")).as("the build stage runs mvn package")
                .anySatisfy(run -> assertThat(words(run)).contains("mvn", "package", "-DskipTests"));
    }

    @Test
    void imageIsAJre17RunningRunnelServerCluster() {
        assertThat(image.from()).contains("17").contains("jre");
        assertThat(resolvedCommand(image, image.execForm("ENTRYPOINT"), image.execForm("CMD")))
                .isEqualTo(ENTRY_COMMAND);
    }

    @Test
    void imageHoldsTheBuiltJarAndNoSourcesSoBinRunnelNeverBuilds() {
        String build = stages.get(0).name();
        assertThat(build).as("the build stage is named, so the image can copy from it").isNotNull();
        List<String> copies = image.args("COPY");
        assertThat(copies).anySatisfy(c -> assertThat(c).contains("--from=" + build).contains("target/runnel.jar"));
        assertThat(copies).anySatisfy(c -> assertThat(c).contains("--from=" + build).contains("target/lib"));
        assertThat(copies).anySatisfy(c -> assertThat(words(c)).startsWith("bin/"));
        assertThat(copies).anySatisfy(c -> assertThat(words(c)).startsWith("conf/"));
        // bin/runnel's needs_build runs mvn when pom.xml or src/main is newer than the jar.
        for (String copy : copies) {
            List<String> sources = words(copy).stream().filter(w -> !w.startsWith("--")).toList();
            assertThat(sources.subList(0, sources.size() - 1)).as("image COPY %s", copy)
                    .noneMatch(s -> s.startsWith("src") || s.contains("pom.xml") || s.equals(".") || s.equals("./"));
        }
        assertThat(image.args("RUN")).noneMatch(run -> words(run).contains("mvn"));
    }

    @Test
    void imageListensOnEveryInterfaceAndKeepsDataInAVolume() {
        Map<String, String> env = image.env();
        assertThat(env).containsEntry(BrokerConfig.envVariable(BrokerConfig.LISTENERS_HOST), "0.0.0.0");
        String dataDir = env.get(BrokerConfig.envVariable(BrokerConfig.DATA_DIR));
        assertThat(dataDir).isEqualTo("/var/lib/runnel");
        assertThat(image.args("VOLUME")).anySatisfy(v -> assertThat(v).contains(dataDir));
    }

    // ---- docker-compose.yml ----------------------------------------------------------------------

    @Test
    void threeBrokersBuiltFromTheDockerfile() {
        assertThat(services.keySet()).containsExactlyInAnyOrderElementsOf(SERVICES);
        for (String name : SERVICES) {
            Map<String, Object> build = map(service(name).get("build"), name + ".build");
            Path dockerfile = DOCKER_DIR.resolve(String.valueOf(build.get("context")))
                    .resolve(String.valueOf(build.getOrDefault("dockerfile", "Dockerfile"))).normalize();
            assertThat(dockerfile).as("%s builds docker/Dockerfile", name).isEqualTo(DOCKERFILE);
            assertThat(build.get("context")).isEqualTo("..");
        }
    }

    @Test
    void everyServiceRunsRunnelServerCluster() {
        for (String name : SERVICES) {
            assertThat(serviceCommand(name)).as(name).isEqualTo(ENTRY_COMMAND);
            BrokerConfig config = config(name);
            assertThat(config.clusterEnabled).as(name).isTrue();
            assertThat(config.listenersHost).as(name).isEqualTo("0.0.0.0");
        }
    }

    @Test
    void brokerIdsAreDistinct() {
        Set<Integer> ids = new HashSet<>();
        for (String name : SERVICES) {
            assertThat(ids.add(config(name).brokerId)).as("%s's broker.id %d is taken", name, config(name).brokerId)
                    .isTrue();
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void eachBrokerKeepsItsDataInItsOwnDeclaredVolume() {
        Map<String, Object> declared = (Map<String, Object>) compose.get("volumes");
        assertThat(declared).as("top-level volumes").isNotNull();
        Set<String> used = new HashSet<>();
        for (String name : SERVICES) {
            String dataDir = config(name).dataDir.toString();
            List<String> mounts = list(service(name).get("volumes"), name + ".volumes").stream()
                    .map(String::valueOf)
                    .filter(m -> m.split(":").length >= 2 && m.split(":")[1].equals(dataDir))
                    .toList();
            assertThat(mounts).as("%s mounts a volume at data.dir %s", name, dataDir).hasSize(1);
            String volume = mounts.get(0).split(":")[0];
            assertThat(declared).as("%s's volume %s is declared", name, volume).containsKey(volume);
            assertThat(used.add(volume)).as("%s's volume %s is shared", name, volume).isTrue();
        }
    }

    @Test
    void publishedHostPortsAreDistinctAndReachListeners() {
        Set<Integer> hostPorts = new HashSet<>();
        for (String name : SERVICES) {
            BrokerConfig config = config(name);
            Set<Integer> listeners = Set.of(config.kafkaPort, config.registryPort, config.httpPort, config.bridgePort);
            Set<Integer> published = new HashSet<>();
            for (Object port : list(service(name).get("ports"), name + ".ports")) {
                int[] hostAndContainer = parsePort(String.valueOf(port));
                assertThat(hostPorts.add(hostAndContainer[0])).as("host port %d (%s) is published twice",
                        hostAndContainer[0], name).isTrue();
                assertThat(listeners).as("%s publishes %s", name, port).contains(hostAndContainer[1]);
                published.add(hostAndContainer[1]);
            }
            assertThat(published).as("%s publishes every listener", name).isEqualTo(listeners);
        }
    }

    @Test
    void memberListNamesEveryBrokerOnItsClusterPort() {
        for (String name : SERVICES) {
            Set<String> expected = new HashSet<>();
            for (String member : SERVICES) {
                expected.add(member + ":" + config(member).clusterPort);
            }
            assertThat(config(name).clusterMembers).as(name).containsExactlyInAnyOrderElementsOf(expected);
        }
    }

    // ---- what Docker would do ---------------------------------------------------------------------

    static Map<String, Object> service(String name) {
        return map(services.get(name), "service " + name);
    }

    /** The service's entry command, resolved through the image as Docker does. */
    static List<String> serviceCommand(String name) {
        Map<String, Object> service = service(name);
        List<String> entrypoint = service.containsKey("entrypoint")
                ? commandList(service.get("entrypoint")) : image.execForm("ENTRYPOINT");
        List<String> cmd = service.containsKey("command") ? commandList(service.get("command"))
                : service.containsKey("entrypoint") ? List.of() : image.execForm("CMD");
        return resolvedCommand(image, entrypoint, cmd);
    }

    /**
     * ENTRYPOINT followed by CMD, with the executable resolved in the image and named by its file
     * name: a bare name must be on the image's PATH, and the file must be the repository's
     * {@code bin/runnel} copied to {@code WORKDIR/bin}.
     */
    static List<String> resolvedCommand(Stage stage, List<String> entrypoint, List<String> cmd) {
        List<String> command = new ArrayList<>(entrypoint);
        command.addAll(cmd);
        assertThat(command).as("an entry command").isNotEmpty();
        String executable = command.get(0);
        String workdir = stage.workdir();
        String resolved;
        if (executable.contains("/")) {
            resolved = Path.of(workdir).resolve(executable).normalize().toString();
        } else {
            String path = stage.env().getOrDefault("PATH", "");
            assertThat(path.split(":")).as("%s is on the image's PATH", executable).contains(workdir + "/bin");
            resolved = workdir + "/bin/" + executable;
        }
        assertThat(resolved).as("the entry command is bin/runnel in the WORKDIR").isEqualTo(workdir + "/bin/runnel");
        assertThat(Path.of("bin/runnel")).isExecutable();
        command.set(0, "runnel");
        return command;
    }

    /** The settings the service's broker starts with: file, image ENV + service environment, arguments. */
    static BrokerConfig config(String name) {
        List<String> command = serviceCommand(name);
        assertThat(command.subList(0, 2)).isEqualTo(List.of("runnel", "server"));
        Map<String, String> env = new LinkedHashMap<>(image.env());
        env.putAll(environment(service(name).get("environment"), name));
        return BrokerConfig.load(command.subList(2, command.size()), env, Path.of("conf/runnel.properties"));
    }

    static Map<String, String> environment(Object environment, String name) {
        Map<String, String> env = new LinkedHashMap<>();
        if (environment instanceof Map<?, ?> m) {
            m.forEach((k, v) -> env.put(String.valueOf(k), v == null ? "" : String.valueOf(v)));
        } else if (environment != null) {
            for (Object entry : list(environment, name + ".environment")) {
                String pair = String.valueOf(entry);
                int eq = pair.indexOf('=');
                assertThat(eq).as("%s environment entry %s", name, pair).isPositive();
                env.put(pair.substring(0, eq), pair.substring(eq + 1));
            }
        }
        return env;
    }

    static List<String> commandList(Object command) {
        if (command instanceof List<?> l) {
            return l.stream().map(String::valueOf).toList();
        }
        return words(String.valueOf(command));
    }

    /** Compose's short port syntax, [ip:]host:container[/protocol], as {host, container}. */
    static int[] parsePort(String spec) {
        Matcher m = Pattern.compile("(?:[0-9.]+:)?(\\d+):(\\d+)(?:/tcp)?").matcher(spec);
        assertThat(m.matches()).as("port %s names a fixed host port and a container port", spec).isTrue();
        return new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))};
    }

    // ---- parsing ---------------------------------------------------------------------------------

    static List<Stage> parseDockerfile(String text) {
        List<Stage> parsed = new ArrayList<>();
        List<Instruction> current = null;
        StringBuilder logical = new StringBuilder();
        List<String> lines = new ArrayList<>();
        for (String line : text.split("\n", -1)) {
            String trimmed = line.strip();
            if (trimmed.startsWith("#") || (trimmed.isEmpty() && logical.isEmpty())) {
                continue;
            }
            if (trimmed.endsWith("\\")) {
                logical.append(trimmed, 0, trimmed.length() - 1).append(' ');
                continue;
            }
            logical.append(trimmed);
            lines.add(logical.toString().strip());
            logical.setLength(0);
        }
        for (String line : lines) {
            if (line.isEmpty()) {
                continue;
            }
            String[] parts = line.split("\\s+", 2);
            Instruction instruction = new Instruction(parts[0].toUpperCase(), parts.length > 1 ? parts[1] : "");
            if (instruction.keyword().equals("FROM")) {
                List<String> from = words(instruction.args());
                String name = from.size() == 3 && from.get(1).equalsIgnoreCase("AS") ? from.get(2) : null;
                current = new ArrayList<>();
                parsed.add(new Stage(from.get(0), name, current));
            } else {
                assertThat(current).as("%s before any FROM", line).isNotNull();
                current.add(instruction);
            }
        }
        return parsed;
    }

    /** Splits on whitespace, keeping double-quoted text together (without its quotes). */
    static List<String> words(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        for (char c : text.toCharArray()) {
            if (c == '"') {
                quoted = !quoted;
                any = true;
            } else if (Character.isWhitespace(c) && !quoted) {
                if (any) {
                    words.add(word.toString());
                }
                word.setLength(0);
                any = false;
            } else {
                word.append(c);
                any = true;
            }
        }
        if (any) {
            words.add(word.toString());
        }
        return words;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object value, String what) {
        assertThat(value).as(what).isInstanceOf(Map.class);
        return (Map<String, Object>) value;
    }

    static List<Object> list(Object value, String what) {
        assertThat(value).as(what).isInstanceOf(List.class);
        return new ArrayList<>((List<?>) value);
    }
}

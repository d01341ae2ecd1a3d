package io.runnel.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.BrokerConfig;
import io.runnel.server.RunnelServer;
import io.runnel.testing.BlockedEventLoopExtension;
import io.vertx.core.Vertx;
import picocli.CommandLine;

/**
 * {@code runnel schema register|get|list|check} as a user types them, against a broker (and its
 * registry) started in this JVM; commands run on the test's thread with the JDK's blocking HTTP
 * client. One broker serves the class, so each test uses subjects of its own.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SchemaCommandTest {

    static final String USER = """
            {"type":"record","name":"User","namespace":"com.acme","fields":[{"name":"name","type":"string"}]}""";
    static final String USER_WITH_AGE = """
            {"type":"record","name":"User","namespace":"com.acme","fields":[{"name":"name","type":"string"},
             {"name":"age","type":"int","default":0}]}""";
    static final String USER_WITH_EMAIL_NO_DEFAULT = """
            {"type":"record","name":"User","namespace":"com.acme","fields":[{"name":"name","type":"string"},
             {"name":"email","type":"string"}]}""";

    @TempDir
    static Path dataDir;
    static RunnelServer server;
    static String registryUrl;

    @BeforeAll
    static void startBroker(Vertx vertx) throws Exception {
        warmUp();
        server = RunnelServer.start(vertx, config(dataDir.resolve("broker"))).await(30, TimeUnit.SECONDS);
        registryUrl = "--registry-url=http://127.0.0.1:" + server.registryPort();
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (server != null) {
            server.stop().await(30, TimeUnit.SECONDS);
        }
    }

    static BrokerConfig config(Path dir) {
        return BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0", "--data.dir=" + dir),
                Map.of(), dir.resolve("none.properties"));
    }

    /** A first broker and a few commands on a throwaway, unwatched Vertx: a JVM's first requests load classes on an event loop. */
    static void warmUp() throws Exception {
        Vertx throwaway = Vertx.vertx();
        try {
            RunnelServer warm = RunnelServer.start(throwaway, config(dataDir.resolve("warm-up"))).await(30, TimeUnit.SECONDS);
            registryUrl = "--registry-url=http://127.0.0.1:" + warm.registryPort();
            run("schema", "register", "warm", "--schema", USER);
            run("schema", "check", "warm", "--schema", USER_WITH_AGE);
            run("schema", "get", "warm");
            run("schema", "list");
            warm.stop().await(30, TimeUnit.SECONDS);
        } finally {
            throwaway.close().await(30, TimeUnit.SECONDS);
        }
    }

    record Run(int exit, String out, String err) {
        List<String> lines() {
            return out.isEmpty() ? List.of() : List.of(out.split("\\R"));
        }
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        List<String> all = new ArrayList<>(Arrays.asList(args));
        if (all.stream().noneMatch(a -> a.startsWith("--registry-url"))) {
            all.add(registryUrl);
        }
        int exit = cl.execute(all.toArray(String[]::new));
        return new Run(exit, out.toString(), err.toString());
    }

    static Run ok(String... args) {
        Run r = run(args);
        assertThat(r.exit()).as("runnel %s: %s", String.join(" ", args), r.err()).isZero();
        return r;
    }

    @Test
    void registerGivesVersionAndIdAndTheSameSchemaAgainKeepsThem() {
        Run first = ok("schema", "register", "cli-users-value", "--schema", USER);
        Run again = ok("schema", "register", "cli-users-value", "--schema", USER.replace("\"name\":", "\"name\" : "));
        Run second = ok("schema", "register", "cli-users-value", "--schema", USER_WITH_AGE);

        assertThat(first.out()).matches("Registered under cli-users-value as version 1, schema id \\d+\\R");
        assertThat(again.out()).isEqualTo(first.out());
        assertThat(second.out()).startsWith("Registered under cli-users-value as version 2, schema id ");
    }

    @Test
    void registerReadsASchemaFile() throws Exception {
        Path file = dataDir.resolve("user.avsc");
        Files.writeString(file, USER);

        assertThat(ok("schema", "register", "cli-file-value", "--file", file.toString()).out())
                .startsWith("Registered under cli-file-value as version 1");
    }

    @Test
    void getPrintsTheLatestOrAGivenVersionOrTheSchemaOfAnId() {
        ok("schema", "register", "cli-get-value", "--schema", USER);
        String id = ok("schema", "register", "cli-get-value", "--schema", USER_WITH_AGE).out().replaceAll("(?s).*schema id (\\d+).*", "$1");

        Run latest = ok("schema", "get", "cli-get-value");
        Run first = ok("schema", "get", "cli-get-value", "--version", "1");
        Run byId = ok("schema", "get", "--id", id);

        assertThat(latest.out()).contains("\"age\"");
        assertThat(latest.err()).contains("cli-get-value version 2, schema id " + id);
        assertThat(first.out()).doesNotContain("\"age\"").contains("com.acme");
        assertThat(byId.out()).isEqualTo(latest.out());
    }

    @Test
    void listShowsSubjectsAndASubjectsVersions() {
        ok("schema", "register", "cli-list-a", "--schema", USER);
        ok("schema", "register", "cli-list-b", "--schema", USER);
        ok("schema", "register", "cli-list-b", "--schema", USER_WITH_AGE);

        assertThat(ok("schema", "list").lines()).contains("cli-list-a", "cli-list-b");
        assertThat(ok("schema", "list", "cli-list-b").lines()).containsExactly("1", "2");
    }

    @Test
    void checkExitsZeroWhenCompatibleAndOneWithReasonsWhenNot() {
        ok("schema", "register", "cli-check-value", "--schema", USER);

        Run compatible = run("schema", "check", "cli-check-value", "--schema", USER_WITH_AGE);
        Run incompatible = run("schema", "check", "cli-check-value", "--schema", USER_WITH_EMAIL_NO_DEFAULT);

        assertThat(compatible.exit()).isZero();
        assertThat(compatible.out()).startsWith("Compatible with cli-check-value version latest");
        assertThat(incompatible.exit()).isEqualTo(1);
        assertThat(incompatible.out()).startsWith("Incompatible with cli-check-value version latest:").contains("email");
    }

    @Test
    void refusalsPrintTheRegistrysCodeAndUnusableUrlsExitTwo() {
        Run missing = run("schema", "get", "cli-no-such-subject");
        Run badSchema = run("schema", "register", "cli-bad-value", "--schema", "{\"type\":");
        Run badUrl = run("schema", "list", "--registry-url=ftp://example");
        Run nobody = run("schema", "list", "--registry-url=http://127.0.0.1:1");

        assertThat(missing.exit()).isEqualTo(1);
        assertThat(missing.err()).startsWith("Error 40401: ");
        assertThat(badSchema.exit()).isEqualTo(1);
        assertThat(badSchema.err()).startsWith("Error 42201: ");
        assertThat(badUrl.exit()).isEqualTo(2);
        assertThat(badUrl.err()).contains("--registry-url (or RUNNEL_REGISTRY_URL)");
        assertThat(nobody.exit()).isEqualTo(1);
        assertThat(nobody.err()).contains("--registry-url or RUNNEL_REGISTRY_URL");
    }
}

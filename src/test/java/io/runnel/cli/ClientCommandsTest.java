package io.runnel.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
 * The {@code topic}, {@code produce}, {@code consume} and {@code group} commands as a user types
 * them, against a broker started in this JVM. Commands run through picocli on the test's thread
 * (they speak HTTP with the JDK's blocking client, never on an event loop); stdin is what a test
 * gives {@link #produce}. One broker serves the whole class, so each test uses topics and groups
 * of its own.
 */
@ExtendWith(BlockedEventLoopExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ClientCommandsTest {

    @TempDir
    static Path dataDir;

    static RunnelServer server;
    static String url;

    @BeforeAll
    static void startBroker(Vertx vertx) throws Exception {
        warmUp();
        server = RunnelServer.start(vertx, config(dataDir.resolve("broker"))).await(30, TimeUnit.SECONDS);
        url = "--url=http://127.0.0.1:" + server.httpPort();
    }

    static BrokerConfig config(Path dir) {
        return BrokerConfig.load(List.of("--http.port=0", "--kafka.port=0", "--registry.port=0", "--bridge.port=0", "--data.dir=" + dir, "--group.initial.rebalance.delay.ms=0"),
                Map.of(), dir.resolve("none.properties"));
    }

    /**
     * Runs a broker and a few commands once on a throwaway, unwatched Vertx: a JVM's first server
     * and requests load hundreds of classes on an event loop (Netty's buffers, the router), which
     * can pass the blocked-loop limit; that limit is there to catch our blocking, not class loading.
     */
    static void warmUp() throws Exception {
        Vertx throwaway = Vertx.vertx();
        try {
            RunnelServer warm = RunnelServer.start(throwaway, config(dataDir.resolve("warm-up"))).await(30, TimeUnit.SECONDS);
            url = "--url=http://127.0.0.1:" + warm.httpPort();
            produce("warm", "k:v\n");
            consume("warm", "--group", "warm");
            ok("group", "describe", "warm");
            ok("topic", "list");
            warm.stop().await(30, TimeUnit.SECONDS);
        } finally {
            throwaway.close().await(30, TimeUnit.SECONDS);
        }
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (server != null) {
            server.stop().await(30, TimeUnit.SECONDS);
        }
    }

    /** What one command printed, and how it ended. */
    record Run(int exit, String out, String err) {
        List<String> lines() {
            return out.isEmpty() ? List.of() : List.of(out.split("\\R"));
        }
    }

    /** Runs {@code runnel ARGS --url=…} with {@code stdin}; {@code started} sees each command object made. */
    static Run runWithInput(String stdin, java.util.function.Consumer<Object> started, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine.IFactory defaults = CommandLine.defaultFactory();
        CommandLine cl = new CommandLine(new Main(), new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> type) throws Exception {
                K made = defaults.create(type);
                if (made instanceof ProduceCommand produce) {
                    produce.in = new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8));
                }
                started.accept(made);
                return made;
            }
        });
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        List<String> all = new ArrayList<>(Arrays.asList(args));
        if (!all.contains("--help") && all.stream().noneMatch(a -> a.startsWith("--url"))) {
            all.add(url);
        }
        int exit = cl.execute(all.toArray(String[]::new));
        return new Run(exit, out.toString(), err.toString());
    }

    static Run run(String... args) {
        return runWithInput("", made -> { }, args);
    }

    /** Runs a command that must succeed; returns its stdout. */
    static String ok(String... args) {
        Run r = run(args);
        assertThat(r.exit()).as("runnel %s\nstdout: %s\nstderr: %s", String.join(" ", args), r.out(), r.err())
                .isZero();
        return r.out();
    }

    static void produce(String topic, String stdin, String... options) {
        List<String> args = new ArrayList<>(List.of("produce", topic));
        args.addAll(List.of(options));
        Run r = runWithInput(stdin, made -> { }, args.toArray(String[]::new));
        assertThat(r.exit()).as("produce: %s", r.err()).isZero();
    }

    /** The printed records of {@code consume TOPIC OPTIONS}, one a line. */
    static List<String> consume(String topic, String... options) {
        List<String> args = new ArrayList<>(List.of("consume", topic));
        args.addAll(List.of(options));
        Run r = run(args.toArray(String[]::new));
        assertThat(r.exit()).as("consume: %s", r.err()).isZero();
        return r.lines();
    }

    /** The first row of a table whose first columns are {@code prefix}, split on blanks. */
    static List<String> row(String table, String prefix) {
        String columns = String.join("\\s+", Arrays.stream(prefix.split(" ")).map(Pattern::quote).toList());
        Matcher m = Pattern.compile("(?m)^" + columns + "\\s.*$").matcher(table);
        assertThat(m.find()).as("a row starting with '%s' in:\n%s", prefix, table).isTrue();
        return List.of(m.group().trim().split("\\s+"));
    }

    // ---------------------------------------------------------------- topic

    @Test
    void createListDescribeAlterAndDeleteATopic() {
        assertThat(ok("topic", "create", "t-admin", "-p", "3", "-c", "retention.ms=1000"))
                .contains("Created topic t-admin with 3 partition(s)");
        assertThat(ok("topic", "list").lines().toList()).contains("t-admin");

        produce("t-admin", "one\ntwo\n", "--partition", "1");
        String described = ok("topic", "describe", "t-admin");
        assertThat(described).contains("Topic: t-admin", "Partitions: 3", "retention.ms=1000");
        assertThat(row(described, "0")).as("partition 0: beginning and end offsets").endsWith("0", "0");
        assertThat(row(described, "1")).as("partition 1: beginning and end offsets").endsWith("0", "2");

        ok("topic", "alter", "t-admin", "-c", "retention.ms=5000", "-c", "cleanup.policy=compact");
        assertThat(ok("topic", "describe", "t-admin")).contains("retention.ms=5000", "cleanup.policy=compact");
        ok("topic", "alter", "t-admin", "--delete-config", "cleanup.policy", "-p", "5");
        described = ok("topic", "describe", "t-admin");
        assertThat(described).contains("Partitions: 5", "cleanup.policy=delete", "retention.ms=5000");
        assertThat(row(described, "4")).endsWith("0", "0");

        assertThat(ok("topic", "delete", "t-admin")).contains("Deleted topic t-admin");
        assertThat(ok("topic", "list").lines().toList()).doesNotContain("t-admin");
    }

    @Test
    void listHidesInternalTopicsUnlessAskedFor() {
        ok("topic", "create", "t-internal");
        consume("t-internal", "--group", "g-internal"); // a group's commit makes __consumer_offsets
        assertThat(ok("topic", "list").lines().toList()).doesNotContain("__consumer_offsets");
        assertThat(ok("topic", "list", "--internal").lines().toList()).contains("__consumer_offsets");
    }

    @Test
    void alterWithNothingToChangeIsAUsageError() {
        ok("topic", "create", "t-alter-nothing");
        Run r = run("topic", "alter", "t-alter-nothing");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--config", "--partitions");
    }

    // ---------------------------------------------------------------- produce and consume

    @Test
    void keyedAndUnkeyedLinesComeBackInOrder() {
        ok("topic", "create", "t-keys", "-p", "1");
        produce("t-keys", "alice:hello\nplain\nbob:x:y\n");
        assertThat(consume("t-keys", "--from", "earliest")).containsExactly("hello", "plain", "x:y");
        assertThat(consume("t-keys", "--print-key")).containsExactly("alice:hello", "null:plain", "bob:x:y");
    }

    @Test
    void noKeyKeepsTheWholeLineAsTheValue() {
        ok("topic", "create", "t-nokey", "-p", "1");
        produce("t-nokey", "alice:hello\n", "--no-key");
        assertThat(consume("t-nokey", "--print-key")).containsExactly("null:alice:hello");
    }

    @Test
    void partitionSendsEveryRecordThere() {
        ok("topic", "create", "t-part", "-p", "3");
        produce("t-part", "a:1\nb:2\nc:3\n", "--partition", "2");
        assertThat(row(ok("topic", "describe", "t-part"), "2")).endsWith("0", "3");
        assertThat(consume("t-part", "--partition", "2")).containsExactly("1", "2", "3");
        assertThat(consume("t-part", "--partition", "0")).isEmpty();
    }

    @Test
    void consumeReadsEveryPartitionAndStopsWhenCaughtUp() {
        ok("topic", "create", "t-all", "-p", "3");
        produce("t-all", "a:1\nb:2\nc:3\nd:4\ne:5\nf:6\n");
        assertThat(consume("t-all", "--from", "earliest")).containsExactlyInAnyOrder("1", "2", "3", "4", "5", "6");
    }

    @Test
    void fromLatestPrintsNothingThatIsAlreadyThere() {
        ok("topic", "create", "t-latest", "-p", "2");
        produce("t-latest", "a:1\nb:2\n");
        assertThat(consume("t-latest", "--from", "latest")).isEmpty();
    }

    @Test
    void fromAnOffsetStartsThereInEachPartition() {
        ok("topic", "create", "t-offset", "-p", "1");
        produce("t-offset", "r0\nr1\nr2\nr3\n");
        assertThat(consume("t-offset", "--from", "2")).containsExactly("r2", "r3");
        assertThat(consume("t-offset", "--from", "9")).isEmpty();
    }

    @Test
    void fromATimeStartsAtTheFirstRecordAtOrAfterIt() throws Exception {
        ok("topic", "create", "t-time", "-p", "1");
        produce("t-time", "before\n");
        Instant between = nextMillisecond();
        produce("t-time", "after1\nafter2\n");
        assertThat(consume("t-time", "--from", between.toString())).containsExactly("after1", "after2");
        assertThat(consume("t-time", "--from", "2000-01-01T00:00:00Z")).containsExactly("before", "after1", "after2");
        assertThat(consume("t-time", "--from", Instant.now().plusSeconds(3600).toString())).isEmpty();
    }

    /** The next millisecond of the wall clock the broker stamps records with (waits at most ~2 ms). */
    private static Instant nextMillisecond() throws InterruptedException {
        long now = System.currentTimeMillis();
        while (System.currentTimeMillis() <= now) {
            Thread.sleep(1);
        }
        Instant between = Instant.ofEpochMilli(System.currentTimeMillis());
        while (System.currentTimeMillis() <= between.toEpochMilli()) {
            Thread.sleep(1);
        }
        return between;
    }

    @Test
    void maxStopsAfterThatManyRecords() {
        ok("topic", "create", "t-max", "-p", "1");
        produce("t-max", "1\n2\n3\n4\n");
        assertThat(consume("t-max", "--max", "2")).containsExactly("1", "2");
    }

    @Test
    void followPrintsRecordsProducedAfterItStartedUntilStopped() throws Exception {
        ok("topic", "create", "t-follow", "-p", "1");
        produce("t-follow", "old\n");
        AtomicReference<ConsumeCommand> command = new AtomicReference<>();
        StringWriter out = new StringWriter();
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> {
            CommandLine cl = new CommandLine(new Main(), new CommandLine.IFactory() {
                @Override
                public <K> K create(Class<K> type) throws Exception {
                    K made = CommandLine.defaultFactory().create(type);
                    if (made instanceof ConsumeCommand c) {
                        command.set(c);
                    }
                    return made;
                }
            });
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(new StringWriter(), true));
            return cl.execute("consume", "t-follow", "--follow", url);
        });
        try {
            awaitOutput(out, "old");
            produce("t-follow", "new\n");
            awaitOutput(out, "new");
            assertThat(exit).as("still following").isNotDone();
        } finally {
            if (command.get() != null) {
                command.get().stop = true;
            }
        }
        assertThat(exit.get(10, TimeUnit.SECONDS)).isZero();
        assertThat(out.toString().lines().toList()).containsExactly("old", "new");
    }

    @Test
    void followEndsWhenItsOutputIsClosed() throws Exception {
        ok("topic", "create", "t-closed-out", "-p", "1");
        produce("t-closed-out", "first\n");
        java.io.Writer closedPipe = new java.io.Writer() { // as stdout is once '| head -1' has exited
            @Override
            public void write(char[] text, int offset, int length) throws java.io.IOException {
                throw new java.io.IOException("Broken pipe");
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> new CommandLine(new Main())
                .setOut(new PrintWriter(closedPipe, true)).setErr(new PrintWriter(new StringWriter(), true))
                .execute("consume", "t-closed-out", "--follow", url));
        assertThat(exit.get(20, TimeUnit.SECONDS)).isZero();
    }

    private static void awaitOutput(StringWriter out, String line) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 20_000;
        while (!out.toString().lines().toList().contains(line) && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        assertThat(out.toString().lines().toList()).contains(line);
    }

    // ---------------------------------------------------------------- groups

    @Test
    void aGroupReadsEverythingOnceAndAgainAfterAResetToEarliest() {
        ok("topic", "create", "t-group", "-p", "3");
        produce("t-group", "a:1\nb:2\nc:3\nd:4\n");
        assertThat(consume("t-group", "--group", "g1", "--from", "earliest"))
                .containsExactlyInAnyOrder("1", "2", "3", "4");
        assertThat(consume("t-group", "--group", "g1", "--from", "earliest")).as("committed: nothing new").isEmpty();

        assertThat(ok("group", "list")).containsPattern("(?m)^g1\\s");

        String reset = ok("group", "reset-offsets", "g1", "--topic", "t-group", "--to", "earliest", "--execute");
        assertThat(reset).contains("Committed");
        assertThat(consume("t-group", "--group", "g1")).containsExactlyInAnyOrder("1", "2", "3", "4");
    }

    @Test
    void aGroupWithMaxCommitsOnlyWhatItPrinted() {
        ok("topic", "create", "t-group-max", "-p", "1");
        produce("t-group-max", "1\n2\n3\n4\n");
        assertThat(consume("t-group-max", "--group", "g-max", "--max", "1")).containsExactly("1");
        assertThat(consume("t-group-max", "--group", "g-max", "--max", "2")).containsExactly("2", "3");
        assertThat(consume("t-group-max", "--group", "g-max")).containsExactly("4");
    }

    @Test
    void aGroupStartingAtLatestKeepsThatPlaceForItsNextRun() {
        ok("topic", "create", "t-group-latest", "-p", "2");
        produce("t-group-latest", "a:old1\nb:old2\n");
        assertThat(consume("t-group-latest", "--group", "g-latest", "--from", "latest")).isEmpty();
        produce("t-group-latest", "a:new\n");
        assertThat(consume("t-group-latest", "--group", "g-latest", "--from", "earliest")).containsExactly("new");
    }

    @Test
    void aGroupOnAnEmptyTopicEndsWithNothingPrinted() {
        ok("topic", "create", "t-group-empty", "-p", "2");
        assertThat(consume("t-group-empty", "--group", "g-empty")).isEmpty();
    }

    @Test
    void describeShowsEachPartitionsCommittedOffsetLogEndAndLag() {
        ok("topic", "create", "t-lag", "-p", "2");
        produce("t-lag", "x\ny\n", "--partition", "0");
        produce("t-lag", "z\n", "--partition", "1");
        consume("t-lag", "--group", "g-lag");
        String described = ok("group", "describe", "g-lag");
        assertThat(described).contains("Group: g-lag", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG");
        assertThat(row(described, "t-lag 0").subList(2, 5)).as("current, end, lag").containsExactly("2", "2", "0");
        assertThat(row(described, "t-lag 1").subList(2, 5)).containsExactly("1", "1", "0");

        produce("t-lag", "more1\nmore2\nmore3\n", "--partition", "1");
        described = ok("group", "describe", "g-lag");
        assertThat(row(described, "t-lag 1").subList(2, 5)).containsExactly("1", "4", "3");
    }

    @Test
    void resetOffsetsWithoutExecuteIsADryRun() {
        ok("topic", "create", "t-dry", "-p", "1");
        produce("t-dry", "1\n2\n");
        consume("t-dry", "--group", "g-dry");

        String plan = ok("group", "reset-offsets", "g-dry", "--topic", "t-dry", "--to", "earliest");
        assertThat(row(plan, "t-dry 0").subList(2, 4)).as("current, new").containsExactly("2", "0");
        assertThat(plan).contains("Dry run");
        assertThat(row(ok("group", "describe", "g-dry"), "t-dry 0").get(2)).as("still committed").isEqualTo("2");
        assertThat(consume("t-dry", "--group", "g-dry")).isEmpty();
    }

    @Test
    void resetOffsetsToAnOffsetMovesTheGroupThere() {
        ok("topic", "create", "t-reset-to", "-p", "1");
        produce("t-reset-to", "1\n2\n3\n");
        consume("t-reset-to", "--group", "g-reset-to");
        ok("group", "reset-offsets", "g-reset-to", "--topic", "t-reset-to", "--to", "1", "--execute");
        assertThat(consume("t-reset-to", "--group", "g-reset-to")).containsExactly("2", "3");
    }

    // ---------------------------------------------------------------- errors and help

    @Test
    void anUnknownTopicIsTheBrokersMessageAndExitCodeOne() {
        for (String[] args : List.of(new String[] {"consume", "no-such-topic"},
                new String[] {"topic", "describe", "no-such-topic"},
                new String[] {"topic", "delete", "no-such-topic"},
                new String[] {"group", "reset-offsets", "g", "--topic", "no-such-topic", "--to", "earliest"})) {
            Run r = run(args);
            assertThat(r.exit()).as(String.join(" ", args)).isEqualTo(1);
            assertThat(r.err()).as(String.join(" ", args)).contains("no-such-topic").doesNotContain("Exception", "\tat ");
            assertThat(r.out()).isEmpty();
        }
    }

    @Test
    void anUnknownPartitionIsTheBrokersMessageAndExitCodeOne() {
        ok("topic", "create", "t-one-partition", "-p", "1");
        Run r = runWithInput("x\n", made -> { }, "produce", "t-one-partition", "--partition", "7");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("7").doesNotContain("Exception");
        Run c = run("consume", "t-one-partition", "--partition", "7");
        assertThat(c.exit()).as("a usage error, found before asking for records").isEqualTo(2);
        assertThat(c.err()).contains("no partition 7");
    }

    @Test
    void anUnknownGroupIsTheBrokersMessageAndExitCodeOne() {
        Run r = run("group", "describe", "no-such-group");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("no-such-group").doesNotContain("Exception");
    }

    @Test
    void noBrokerAtTheUrlSaysHowToPointElsewhere() throws Exception {
        int freePort;
        try (ServerSocket socket = new ServerSocket(0)) {
            freePort = socket.getLocalPort();
        }
        Run r = run("topic", "list", "--url=http://127.0.0.1:" + freePort);
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("--url").doesNotContain("Exception");
    }

    @Test
    void aUrlThatIsNotHttpIsAUsageErrorNamingUrl() {
        for (String bad : List.of("127.0.0.1:8082", "localhost", "ftp://127.0.0.1:8082", "http://bad host")) {
            Run r = run("topic", "list", "--url=" + bad);
            assertThat(r.exit()).as(bad).isEqualTo(2);
            assertThat(r.err()).as(bad).contains("--url").doesNotContain("Exception", "\tat ");
        }
    }

    @Test
    void aBadFromIsAUsageError() {
        ok("topic", "create", "t-badfrom", "-p", "1");
        for (String from : List.of("yesterday", "-3", "2026-13-45")) {
            Run r = run("consume", "t-badfrom", "--from", from);
            assertThat(r.exit()).as(from).isEqualTo(2);
            assertThat(r.err()).as(from).contains("--from");
        }
        Run r = run("consume", "t-badfrom", "--group", "g-badfrom", "--from", "3");
        assertThat(r.exit()).isEqualTo(2);
    }

    @Test
    void aBadResetTargetIsAUsageError() {
        Run r = run("group", "reset-offsets", "g", "--topic", "t", "--to", "soon");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--to");
    }

    @Test
    void everySubcommandHasHelp() {
        for (String command : List.of("topic", "topic create", "topic list", "topic describe", "topic alter",
                "topic delete", "produce", "consume", "group", "group list", "group describe", "group reset-offsets")) {
            List<String> args = new ArrayList<>(List.of(command.split(" ")));
            args.add("--help");
            Run r = run(args.toArray(String[]::new));
            assertThat(r.exit()).as(command).isZero();
            assertThat(r.out()).as(command).contains("Usage: runnel " + command);
        }
    }
}

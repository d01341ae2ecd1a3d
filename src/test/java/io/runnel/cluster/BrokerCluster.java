package io.runnel.cluster;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TopicDescription;

/**
 * A cluster of real brokers for tests: each one a child JVM running {@code runnel server --cluster}
 * on loopback, with its own data directory and ports, all listed in {@code cluster.members}.
 * Brokers can be killed (SIGKILL), paused (SIGSTOP/SIGCONT) and restarted on the same data.
 *
 * <p>Every child is destroyed by {@link #close}; the output of each is kept in
 * {@code target/cluster-logs/<dir>-broker-<id>.log} for a failing test to show.
 */
final class BrokerCluster implements AutoCloseable {

    /** One broker: its ports (fixed for its life, so a restart is found at the same address) and its process. */
    static final class Broker {
        final int id;
        final int kafkaPort;
        final int httpPort;
        final int registryPort;
        final int clusterPort;
        final Path dataDir;
        Process process;

        Broker(int id, int kafkaPort, int httpPort, int registryPort, int clusterPort, Path dataDir) {
            this.id = id;
            this.kafkaPort = kafkaPort;
            this.httpPort = httpPort;
            this.registryPort = registryPort;
            this.clusterPort = clusterPort;
            this.dataDir = dataDir;
        }

        String bootstrap() {
            return "127.0.0.1:" + kafkaPort;
        }

        /** The base URL of its schema registry's REST API. */
        String registryUrl() {
            return "http://127.0.0.1:" + registryPort;
        }

        long pid() {
            return process.pid();
        }
    }

    private static final Pattern RUNNING = Pattern.compile("Runnel is running");

    private final Path root;
    private final List<Broker> brokers = new ArrayList<>();
    private final List<String> extraArgs;

    BrokerCluster(Path root, int size, String... extraArgs) throws IOException {
        this.root = root;
        this.extraArgs = List.of(extraArgs);
        for (int i = 1; i <= size; i++) {
            brokers.add(new Broker(i, freePort(), freePort(), freePort(), freePort(), root.resolve("broker-" + i)));
        }
    }

    /** Starts every broker together (each waits for its peers) and returns once all are running. */
    BrokerCluster start() throws Exception {
        List<CompletableFuture<Void>> starting = new ArrayList<>();
        for (Broker b : brokers) {
            starting.add(CompletableFuture.runAsync(() -> {
                try {
                    launch(b);
                } catch (Exception e) {
                    throw new IllegalStateException("Broker " + b.id + " did not start: " + e.getMessage(), e);
                }
            }));
        }
        CompletableFuture.allOf(starting.toArray(new CompletableFuture[0])).get(180, TimeUnit.SECONDS);
        return this;
    }

    Broker broker(int id) {
        return brokers.get(id - 1);
    }

    List<Broker> brokers() {
        return brokers;
    }

    String bootstrap() {
        return brokers.stream().map(Broker::bootstrap).collect(Collectors.joining(","));
    }

    String membersArg() {
        return "--cluster.members=" + brokers.stream().map(b -> "127.0.0.1:" + b.clusterPort)
                .collect(Collectors.joining(","));
    }

    /** Starts (or restarts) one broker on its data and ports, and waits until it is running. */
    void launch(Broker b) throws Exception {
        String javaBin = ProcessHandle.current().info().command().orElse("java");
        // bin/runnel's heap ceiling and JIT (C1 only), so the brokers under test run as shipped.
        List<String> command = new ArrayList<>(List.of(javaBin, "-Xmx256m", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"),
                "io.runnel.cli.Main", "server", "--cluster", "--broker.id=" + b.id, "--data.dir=" + b.dataDir,
                "--kafka.port=" + b.kafkaPort, "--http.port=" + b.httpPort, "--registry.port=" + b.registryPort, "--bridge.port=0",
                "--cluster.port=" + b.clusterPort, membersArg(), "--group.initial.rebalance.delay.ms=0"));
        command.addAll(extraArgs);
        Path logs = Path.of("target", "cluster-logs");
        java.nio.file.Files.createDirectories(logs);
        Path log = logs.resolve(root.getFileName() + "-broker-" + b.id + ".log");
        java.nio.file.Files.createDirectories(root);
        Process p = new ProcessBuilder(command).directory(root.toFile()).redirectErrorStream(true).start();
        b.process = p;
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<Void> running = new CompletableFuture<>();
        Thread pump = new Thread(() -> {
            try (var w = java.nio.file.Files.newBufferedWriter(log, StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND)) {
                for (String line; (line = out.readLine()) != null; ) {
                    w.write(line);
                    w.newLine();
                    w.flush();
                    Matcher m = RUNNING.matcher(line);
                    if (m.find()) {
                        running.complete(null);
                    }
                }
            } catch (IOException e) {
                // The process ended; the waiter below notices.
            }
            running.completeExceptionally(new IllegalStateException("Broker " + b.id + " exited; its last lines:\n"
                    + lastLines(log, 15)));
        }, "broker-" + b.id + "-output");
        pump.setDaemon(true);
        pump.start();
        try {
            running.get(180, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("Broker " + b.id + " not running after 180 s; its last lines:\n"
                    + lastLines(log, 15), e);
        }
    }

    void kill(Broker b) throws Exception {
        b.process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }

    void pause(Broker b) throws Exception {
        signal(b, "STOP");
    }

    void resume(Broker b) throws Exception {
        signal(b, "CONT");
    }

    private static void signal(Broker b, String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(b.pid())).inheritIO().start();
        if (kill.waitFor() != 0) {
            throw new IllegalStateException("kill -" + signal + " " + b.pid() + " failed");
        }
    }

    Admin admin() {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20_000);
        return Admin.create(props);
    }

    /** The topic as the cluster describes it, asked through {@code admin}. */
    static TopicDescription describe(Admin admin, String topic) throws Exception {
        return admin.describeTopics(List.of(topic)).allTopicNames().get(20, TimeUnit.SECONDS).get(topic);
    }

    @Override
    public void close() {
        for (Broker b : brokers) {
            if (b.process != null && b.process.isAlive()) {
                try {
                    resume(b);
                } catch (Exception e) {
                    // Not paused, or already gone.
                }
                b.process.destroyForcibly();
                try {
                    b.process.waitFor(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** The end of a broker's log, so a failed start explains itself in the test report. */
    private static String lastLines(Path log, int count) {
        try {
            List<String> lines = java.nio.file.Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - count), lines.size()));
        } catch (IOException e) {
            return "(" + log + " unreadable: " + e.getMessage() + ")";
        }
    }

    private static final java.util.Random PORTS = new java.util.Random();

    /** Ports already given to a broker in this JVM: a port free now is not reserved, so two brokers could draw it. */
    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * A port free now, chosen below Linux's ephemeral range (32768 and up): a port the kernel
     * handed out for an earlier bind(0) is soon reused for the outgoing connections brokers open to
     * each other, and a broker started on it later finds it taken. No port is handed out twice.
     */
    static int freePort() throws IOException {
        for (int attempt = 0; attempt < 1_000; attempt++) {
            int port = 20_000 + PORTS.nextInt(12_000);
            if (!HANDED_OUT.add(port)) {
                continue;
            }
            try (ServerSocket s = new ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
                return s.getLocalPort();
            } catch (IOException taken) {
                // Try another.
            }
        }
        throw new IOException("No free port found between 20000 and 32000");
    }
}

package io.runnel.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Failover benchmark: how long a producer goes without an acknowledgement when the leader of its
 * partition is killed.
 *
 * <p>It starts three brokers from a spec file (one line each, tab-separated: broker id, Kafka port,
 * log file, {@code log:<text>} or {@code port} for how to tell it is ready, and the shell command
 * that starts it), creates a one-partition topic with replication factor 3 (the clusters' default) and
 * {@code min.insync.replicas=2}, and runs Apache Kafka's Java producer (acks=all, idempotent,
 * client defaults otherwise, {@code delivery.timeout.ms} 300 s so nothing fails during a failover)
 * sending a 1 KiB record every {@code --interval-ms}. Then, {@code --iterations} times:
 * <ol>
 * <li>waits until the partition has a leader and all three replicas in its ISR (AdminClient
 * {@code describeTopics}) and acknowledgements flow;</li>
 * <li>kills the leader's process with SIGKILL ({@link Process#destroyForcibly}, on the PID it
 * started);</li>
 * <li>measures the time from just before the kill to the first acknowledgement of a record sent
 * after the kill (records sent before it and retried also reach the new leader, about as soon);</li>
 * <li>starts the killed broker again with the same command and data, and waits until the ISR holds
 * all three again (the time from the kill to that is reported as "rejoin").</li>
 * </ol>
 * It prints one line per iteration and the median and maximum, and appends them to {@code --out}
 * (tab-separated). The PIDs of the brokers it runs are kept in {@code --pids-file} so the calling
 * script can stop them if this JVM dies. Every broker is stopped (SIGTERM, SIGKILL after 30 s)
 * before it exits.
 *
 * <p>Run through {@code bench/cluster-compare/failover.sh}, which writes the spec files. Not a test:
 * surefire never runs it.
 */
public final class FailoverLoad {

    record Spec(int id, int port, Path log, String ready, String command) {
    }

    private final String label;
    private final List<Spec> specs;
    private final Map<Integer, Process> procs = new TreeMap<>();
    /** Where each broker's log ended when it was last started: readiness is looked for after it. */
    private final Map<Integer, Long> logStarts = new TreeMap<>();
    private final Path pidsFile;
    private final String bootstrap;

    private FailoverLoad(String label, List<Spec> specs, Path pidsFile) {
        this.label = label;
        this.specs = specs;
        this.pidsFile = pidsFile;
        List<String> hosts = new ArrayList<>();
        specs.forEach(s -> hosts.add("127.0.0.1:" + s.port()));
        this.bootstrap = String.join(",", hosts);
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new TreeMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --option value pairs, got " + args[i]);
            }
            opts.put(args[i].substring(2), args[i + 1]);
        }
        List<Spec> specs = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(opts.get("spec")))) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split("\t", 5);
            specs.add(new Spec(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Path.of(f[2]), f[3], f[4]));
        }
        FailoverLoad load = new FailoverLoad(opts.getOrDefault("label", "cluster"), specs,
                Path.of(opts.getOrDefault("pids-file", "failover-pids.txt")));
        Runtime.getRuntime().addShutdownHook(new Thread(load::stopAll, "stop-brokers"));
        try {
            load.run(Integer.parseInt(opts.getOrDefault("iterations", "10")),
                    Integer.parseInt(opts.getOrDefault("interval-ms", "2")),
                    Integer.parseInt(opts.getOrDefault("record-bytes", "1024")),
                    Path.of(opts.getOrDefault("out", "failover.tsv")));
        } finally {
            load.stopAll();
        }
        System.exit(0);
    }

    private void run(int iterations, int intervalMs, int recordBytes, Path out) throws Exception {
        log("starting " + specs.size() + " brokers");
        for (Spec s : specs) {
            start(s);
        }
        for (Spec s : specs) {
            awaitReady(s, 300);
        }
        String topic = "failover-" + System.currentTimeMillis();
        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        ap.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        ap.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        try (Admin admin = Admin.create(ap)) {
            createTopic(admin, topic);
            awaitFullIsr(admin, topic, 120);

            Properties pp = new Properties();
            pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            pp.put(ProducerConfig.ACKS_CONFIG, "all");
            pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
            pp.put(ProducerConfig.LINGER_MS_CONFIG, "0");
            pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "300000");
            pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "30000");
            pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
            pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());

            AtomicLong acked = new AtomicLong();
            AtomicLong failed = new AtomicLong();
            AtomicLong lastAckNanos = new AtomicLong();
            AtomicLong killNanos = new AtomicLong(Long.MAX_VALUE);
            AtomicLong firstAckAfterKill = new AtomicLong(0);
            AtomicLong sent = new AtomicLong();
            byte[] value = new byte[recordBytes];
            new java.util.Random(42).nextBytes(value);
            running = true;
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
                Thread sender = new Thread(() -> {
                    long next = System.nanoTime();
                    while (running) {
                        long sentAt = System.nanoTime();
                        producer.send(new ProducerRecord<>(topic, value), (md, e) -> {
                            long now = System.nanoTime();
                            if (e != null) {
                                if (failed.incrementAndGet() <= 5) {
                                    log("a record failed: " + e);
                                }
                                return;
                            }
                            acked.incrementAndGet();
                            lastAckNanos.set(now);
                            if (sentAt >= killNanos.get()) {
                                firstAckAfterKill.compareAndSet(0, now);
                            }
                        });
                        sent.incrementAndGet();
                        next += intervalMs * 1_000_000L;
                        long sleep = next - System.nanoTime();
                        if (sleep > 0) {
                            try {
                                TimeUnit.NANOSECONDS.sleep(sleep);
                            } catch (InterruptedException ie) {
                                return;
                            }
                        } else if (sleep < -1_000_000_000L) {
                            next = System.nanoTime(); // blocked in send (buffer full): do not burst afterwards
                        }
                    }
                }, "failover-sender");
                sender.setDaemon(true);
                sender.start();

                List<Double> failovers = new ArrayList<>();
                List<Double> rejoins = new ArrayList<>();
                for (int it = 1; it <= iterations; it++) {
                    awaitFullIsr(admin, topic, 300);
                    awaitAcksFlowing(lastAckNanos, 60);
                    TopicPartitionInfo p = describe(admin, topic).orElseThrow();
                    int leader = p.leader().id();
                    Process victim = procs.get(leader);
                    if (victim == null) {
                        throw new IllegalStateException("leader " + leader + " is not one of the brokers started here");
                    }
                    firstAckAfterKill.set(0);
                    long k = System.nanoTime();
                    killNanos.set(k);
                    victim.destroyForcibly(); // SIGKILL to the PID started here
                    victim.waitFor(30, TimeUnit.SECONDS);
                    long deadline = k + TimeUnit.SECONDS.toNanos(180);
                    while (firstAckAfterKill.get() == 0 && System.nanoTime() < deadline) {
                        Thread.sleep(1);
                    }
                    long ack = firstAckAfterKill.get();
                    // no acknowledgement within 180 s: counted as infinitely long (it sorts last in the median)
                    double failoverMs = ack == 0 ? Double.POSITIVE_INFINITY : (ack - k) / 1e6;
                    if (ack == 0) {
                        log("no acknowledgement within 180 s of the kill; the partition as described now: "
                                + describe(admin, topic));
                    }
                    killNanos.set(Long.MAX_VALUE);
                    Optional<TopicPartitionInfo> after = describe(admin, topic);
                    String newLeader = after.map(i -> i.leader() == null ? "none" : String.valueOf(i.leader().id()))
                            .orElse("?");
                    // the killed broker comes back with the same data; wait for the ISR to hold all three again
                    Spec spec = specs.stream().filter(s -> s.id() == leader).findFirst().orElseThrow();
                    appendLog(spec, "=== killed with SIGKILL by FailoverLoad (iteration " + it + "), restarting ===");
                    start(spec);
                    awaitReady(spec, 300);
                    awaitFullIsr(admin, topic, 300);
                    double rejoinMs = (System.nanoTime() - k) / 1e6;
                    failovers.add(failoverMs);
                    rejoins.add(rejoinMs);
                    log(String.format("iteration %d: killed broker %d (leader), first ack after %.0f ms, new leader %s,"
                                    + " ISR back to 3 after %.1f s; acked %d, failed %d so far", it, leader, failoverMs,
                            newLeader, rejoinMs / 1000, acked.get(), failed.get()));
                    appendOut(out, String.format("%s\t%d\t%d\t%s\t%.1f\t%.1f", label, it, leader, newLeader, failoverMs,
                            rejoinMs));
                }
                running = false;
                sender.join(5000);
                producer.flush();
                long stuck = failovers.stream().filter(f -> f.isInfinite()).count();
                String summary = String.format("%s: failover (kill -9 of the leader -> first acknowledged produce) over %d"
                                + " kills: median %.0f ms, max %.0f ms, min %.0f ms (Infinity: no acknowledgement within"
                                + " 180 s, %d kill(s)); ISR back to 3 after a restart: median %.1f s; records sent %d,"
                                + " acked %d, failed %d", label, iterations, median(failovers), max(failovers),
                        min(failovers), stuck, median(rejoins) / 1000, sent.get(), acked.get(), failed.get());
                log(summary);
                appendOut(out, "# " + summary);
            }
        }
    }

    private static volatile boolean running;

    private void createTopic(Admin admin, String topic) throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        while (true) {
            try {
                // The replication factor is the cluster's default (3 in both): a Runnel cluster rejects an
                // explicit one other than 1 in CreateTopics. awaitFullIsr checks there are three replicas.
                admin.createTopics(List.of(new NewTopic(topic, Optional.of(1), Optional.empty())
                        .configs(Map.of("min.insync.replicas", "2")))).all().get(30, TimeUnit.SECONDS);
                log("created " + topic + " (1 partition, RF=3, min.insync.replicas=2)");
                return;
            } catch (ExecutionException e) {
                if (e.getCause() instanceof TopicExistsException) {
                    return;
                }
                if (System.currentTimeMillis() > deadline) {
                    throw e;
                }
                log("create topic: " + e.getCause() + "; retrying");
                Thread.sleep(1000);
            }
        }
    }

    private Optional<TopicPartitionInfo> describe(Admin admin, String topic) {
        try {
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic);
            return d.partitions().isEmpty() ? Optional.empty() : Optional.of(d.partitions().get(0));
        } catch (Exception e) {
            return Optional.empty();
        }
    }

    private void awaitFullIsr(Admin admin, String topic, int seconds) throws InterruptedException {
        long deadline = System.currentTimeMillis() + seconds * 1000L;
        while (System.currentTimeMillis() < deadline) {
            Optional<TopicPartitionInfo> p = describe(admin, topic);
            if (p.isPresent() && p.get().leader() != null && p.get().leader().id() >= 0 && p.get().isr().size() == 3
                    && p.get().replicas().size() == 3) {
                return;
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("the ISR of " + topic + " did not reach 3 within " + seconds + " s: "
                + describe(admin, topic));
    }

    private static void awaitAcksFlowing(AtomicLong lastAckNanos, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        Thread.sleep(500);
        while (System.nanoTime() < deadline) {
            if (System.nanoTime() - lastAckNanos.get() < 100_000_000L) {
                return;
            }
            Thread.sleep(10);
        }
        throw new IllegalStateException("no acknowledgement in the last " + seconds + " s");
    }

    private void start(Spec s) throws IOException {
        logStarts.put(s.id(), Files.exists(s.log()) ? Files.size(s.log()) : 0L);
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", "exec " + s.command());
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(s.log().toFile()));
        Process p = pb.start();
        procs.put(s.id(), p);
        writePids();
    }

    private void awaitReady(Spec s, int seconds) throws Exception {
        long deadline = System.currentTimeMillis() + seconds * 1000L;
        int restarts = 0;
        while (System.currentTimeMillis() < deadline) {
            if (isReady(s, logStarts.get(s.id()))) {
                return;
            }
            Process p = procs.get(s.id());
            if (!p.isAlive()) {
                if (restarts++ >= 2) {
                    break;
                }
                log("broker " + s.id() + " exited (" + p.exitValue() + ") before it was ready; starting it again");
                appendLog(s, "=== restarted by FailoverLoad after an exit before ready ===");
                start(s);
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("broker " + s.id() + " did not become ready; see " + s.log());
    }

    private static boolean isReady(Spec s, long logStart) throws IOException {
        if (s.ready().startsWith("log:")) {
            if (!Files.exists(s.log())) {
                return false;
            }
            byte[] all = Files.readAllBytes(s.log());
            String tail = new String(all, (int) Math.min(logStart, all.length), (int) (all.length - Math.min(logStart,
                    all.length)), StandardCharsets.UTF_8);
            return tail.contains(s.ready().substring(4));
        }
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", s.port()), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private synchronized void stopAll() {
        for (Process p : procs.values()) {
            if (p.isAlive()) {
                p.destroy();
            }
        }
        for (Process p : procs.values()) {
            try {
                if (!p.waitFor(30, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
            }
        }
    }

    private void writePids() throws IOException {
        StringBuilder sb = new StringBuilder();
        procs.values().forEach(p -> sb.append(p.pid()).append('\n'));
        Files.writeString(pidsFile, sb.toString());
    }

    private static void appendLog(Spec s, String line) throws IOException {
        Files.writeString(s.log(), line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private static void appendOut(Path out, String line) throws IOException {
        Files.writeString(out, line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private void log(String msg) {
        System.out.printf("[%tT %s] %s%n", System.currentTimeMillis(), label, msg);
        System.out.flush();
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        int n = s.size();
        return n == 0 ? Double.NaN : n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    private static double max(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    }

    private static double min(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }
}

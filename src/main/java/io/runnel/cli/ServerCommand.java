package io.runnel.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.runnel.config.BrokerConfig;
import io.runnel.config.ConfigException;
import io.runnel.server.RunnelServer;
import io.vertx.core.Vertx;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;
import picocli.CommandLine.Spec;

/**
 * {@code runnel server}: one broker in this process until Ctrl-C (SIGINT/SIGTERM), which closes
 * every log cleanly. Settings come from conf/runnel.properties, RUNNEL_* variables and
 * {@code --key=value} arguments, in that order of precedence.
 */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = "Start a broker (single node, or a cluster member with --cluster). Settings: conf/runnel.properties, then RUNNEL_KEY variables, "
                + "then --key=value arguments, e.g. --http.port=8082 --data.dir=./data.")
final class ServerCommand implements Callable<Integer> {

    /** Every --key=value (and --cluster); BrokerConfig validates them, naming any unknown key. */
    @Unmatched
    List<String> settings = new ArrayList<>();

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        BrokerConfig config;
        try {
            config = BrokerConfig.load(settings, System.getenv(), BrokerConfig.DEFAULT_CONFIG_FILE);
        } catch (ConfigException e) {
            spec.commandLine().getErr().println(e.getMessage());
            return 2;
        }
        PrometheusMeterRegistry registry = RunnelServer.newRegistry();
        Vertx vertx;
        if (config.clusterEnabled) {
            try {
                vertx = RunnelServer.clusteredVertxWithMetrics(registry, config).await(5, TimeUnit.MINUTES);
            } catch (Exception e) {
                spec.commandLine().getErr().println("Runnel could not join the cluster: " + e.getMessage());
                return 1;
            }
        } else {
            vertx = RunnelServer.vertxWithMetrics(registry);
        }
        RunnelServer server;
        try {
            server = RunnelServer.start(vertx, config, registry).await(5, TimeUnit.MINUTES);
        } catch (Exception e) {
            spec.commandLine().getErr().println("Runnel could not start: " + e.getMessage());
            vertx.close().await(30, TimeUnit.SECONDS);
            return 1;
        }
        spec.commandLine().getOut().printf("Runnel is running: HTTP API on http://%s:%d, Kafka protocol on %s:%d,"
                        + " schema registry on http://%s:%d, data in %s (Ctrl-C to stop)%n", config.listenersHost,
                server.httpPort(), config.listenersHost, server.kafkaPort(), config.listenersHost, server.registryPort(),
                config.dataDir.toAbsolutePath());
        spec.commandLine().getOut().flush();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                server.stop().await(60, TimeUnit.SECONDS);
                vertx.close().await(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                System.err.println("Runnel stopped uncleanly: " + e.getMessage());
            } finally {
                stopped.countDown();
            }
        }, "runnel-shutdown"));
        stopped.await();
        return 0;
    }
}

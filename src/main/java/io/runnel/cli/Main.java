package io.runnel.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code runnel} command. Subcommands appear here as their features land; help lists only
 * what works.
 */
@Command(name = "runnel", mixinStandardHelpOptions = true, version = "runnel 0.1.0",
        description = "Runnel: a small event streaming broker in the spirit of Apache Kafka.",
        subcommands = {ServerCommand.class, TopicCommand.class, ProduceCommand.class, ConsumeCommand.class,
            GroupCommand.class, LogCommand.class, SchemaCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // Netty registers JFR events on its first buffer allocation, stalling that event loop for
        // hundreds of milliseconds; a broker's first request should not pay for it.
        if (System.getProperty("io.netty.jfr.enabled") == null) {
            System.setProperty("io.netty.jfr.enabled", "false");
        }
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (for tests). */
    public static int run(String... args) {
        return new CommandLine(new Main()).execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}

package io.runnel.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * What every client command shares: where the broker's HTTP API is ({@code --url}, else
 * {@code RUNNEL_URL}, else the local default), and how a refusal is reported (the broker's
 * {@code error_code} and message on stderr, exit code 1; a URL that is not http(s), exit code 2).
 * Subclasses do their work in {@link #execute}.
 */
abstract class BrokerUrl implements Callable<Integer> {

    @Option(names = "--url", paramLabel = "URL", defaultValue = "${env:RUNNEL_URL:-http://127.0.0.1:8082}",
            description = "The broker's HTTP API (default: $RUNNEL_URL, else ${DEFAULT-VALUE}).")
    String url;

    @Spec
    CommandSpec spec;

    abstract int execute(RestClient client) throws RestClient.ApiError;

    @Override
    public final Integer call() {
        RestClient client;
        try {
            client = new RestClient(url);
        } catch (IllegalArgumentException e) {
            err().println(e.getMessage());
            err().flush();
            return 2;
        }
        try {
            return execute(client);
        } catch (RestClient.ApiError e) {
            err().println(e.errorCode > 0 ? "Error " + e.errorCode + ": " + e.getMessage() : "Error: " + e.getMessage());
            err().flush();
            return 1;
        }
    }

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }
}

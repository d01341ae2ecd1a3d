package io.runnel.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * What every command that talks to a running broker over HTTP shares: the client is made from
 * the command's URL option ({@link #newClient}), a URL that is not http(s) is a usage error (exit
 * code 2), and a refusal is reported with the server's {@code error_code} and message on stderr
 * (exit code 1). Subclasses do their work in {@link #execute}.
 */
abstract class RestCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    /** The client for the URL the command was given. @throws IllegalArgumentException for an unusable URL */
    abstract RestClient newClient();

    abstract int execute(RestClient client) throws RestClient.ApiError;

    @Override
    public final Integer call() {
        RestClient client;
        try {
            client = newClient();
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
